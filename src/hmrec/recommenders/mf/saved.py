"""A fitted MF model as a saved model keeps it (``MFState``): its factor tables by Kaggle id
(the customers' and articles' ids of the data it was fitted on, in factor-row order), written
as tensors (``mf.pt``, read with ``torch.load(weights_only=True)``) and parquet, and bound to
another dataset's ids by moving each id's factors to its new row."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import torch

from hmrec.data.dataset import Dataset
from hmrec.recommenders.mf.config import MFConfig
from hmrec.recommenders.mf.model import MatrixFactorization
from hmrec.recommenders.saving import CUSTOMERS_FILE, MF_FILE, ModelError, id_column, reading
from hmrec.schema import INDEX_DTYPE, Col

if TYPE_CHECKING:
    from hmrec.recommenders.mf.recommender import MFRecommender


@dataclass
class MFState:
    """What the MF model learned, by Kaggle id: its factor tables (rows in the order of the
    ``customers`` and ``articles`` ids of the data it was fitted on) and who had factors."""

    recommender: MFRecommender  # the fitted one
    customers: pl.Series
    articles: pl.Series

    @classmethod
    def of(cls, recommender: Any, dataset: Dataset) -> MFState:
        return cls(recommender, dataset.ids.ids(Col.CUSTOMER_ID), dataset.ids.ids(Col.ARTICLE_ID))

    def save(self, folder: Path) -> None:
        rec = self.recommender
        state = {  # tensors and plain values only: read back with weights_only=True, never unpickled code
            "model": rec.model.state_dict(),
            "trained": torch.from_numpy(rec.trained.astype("int64")),  # prepared indices (INDEX_DTYPE)
            "config": rec.config.to_dict(),
            "candidate_weeks": int(rec.candidate_weeks),
            "filter": str(rec.filter),
            "boost": float(rec.boost),
        }
        torch.save(state, folder / MF_FILE)
        pl.DataFrame({Col.CUSTOMER_ID: self.customers}).write_parquet(folder / CUSTOMERS_FILE)

    @classmethod
    def load(cls, folder: Path, articles: pl.Series, kind: type[MFRecommender]) -> MFState:
        """What ``save`` wrote to ``folder``, its recommender made as a ``kind``."""
        path = folder / MF_FILE
        with reading(path):
            saved = torch.load(path, weights_only=True)  # tensors and plain values: a pickle of code is refused
            weights = saved["model"]
            n_customers, dim = weights["customer.weight"].shape
            model = MatrixFactorization(n_customers, weights["article.weight"].shape[0], dim)
            model.load_state_dict(weights)
            config = MFConfig.from_dict(saved["config"])
            rec = kind(
                config,
                candidate_weeks=int(saved["candidate_weeks"]),
                filter=str(saved["filter"]),
                boost=float(saved.get("boost", 0.0)),  # a model saved before boosts has none
            )
            rec.model, rec.trained = model, pl.Series(saved["trained"].numpy()).cast(INDEX_DTYPE).to_numpy()
        customers = id_column(folder / CUSTOMERS_FILE, Col.CUSTOMER_ID)
        if customers.len() < n_customers:
            raise ModelError(
                f"{folder / CUSTOMERS_FILE}: {customers.len():,} customers for {n_customers:,} factor rows"
            )
        return cls(rec, customers, articles)

    def bind(self, dataset: Dataset, fill: list[int]) -> MFRecommender:
        """A copy of the fitted recommender re-indexed to ``dataset``'s ids, with the fill list."""
        old = self.recommender
        rec = replace(old, fill=fill, on_epoch=None, checkpoint_dir=None)
        cmap, amap = dataset.ids.ids(Col.CUSTOMER_ID), dataset.ids.ids(Col.ARTICLE_ID)
        if cmap.equals(self.customers) and amap.equals(self.articles):
            return rec
        c_new, c_old = _positions(cmap, self.customers)
        a_new, a_old = _positions(amap, self.articles)
        model = MatrixFactorization(cmap.len(), amap.len(), old.model.customer.embedding_dim)
        with torch.no_grad():
            for table, new, was in (("customer", c_new, c_old), ("article", a_new, a_old)):
                rows = was < getattr(old.model, table).num_embeddings  # ids past the fitted table have no factors
                to, fro = torch.as_tensor(np.array(new[rows])), torch.as_tensor(np.array(was[rows]))
                for name in (table, f"{table}_bias"):
                    target = getattr(model, name).weight
                    target.zero_()
                    target[to] = getattr(old.model, name).weight[fro]
        index = dict(zip(c_old.tolist(), c_new.tolist(), strict=True))
        trained = np.array(sorted(index[c] for c in old.trained.tolist() if c in index), dtype=old.trained.dtype)
        rec.model, rec.trained = model, trained
        return rec


def _positions(new: pl.Series, old: pl.Series) -> tuple[Any, Any]:
    """Index arrays ``(in new, in old)`` of the ids both hold."""
    left = pl.DataFrame({"id": new}).with_row_index("__new")
    right = pl.DataFrame({"id": old}).with_row_index("__old")
    both = left.join(right, on="id", how="inner")
    return both["__new"].cast(pl.Int64).to_numpy(), both["__old"].cast(pl.Int64).to_numpy()
