"""MF factors as ranker features (``m_``): how well an article fits the customer's learned taste.

Per cutoff, article factors come from the ALS solver (``recommenders/mf/als.py``) fitted on
the weighted purchases before the cutoff: of every customer, or of a seeded sample of at most
``max_customers`` of them on large shops (the article factors need many customers, not all of
them). Each chunk of served customers then gets its own factors by fold-in (the least-squares
solve of an ALS customer pass) from its rows before the cutoff, so a customer the fit never saw
is scored as well as one it did. Two columns per candidate:

- ``m_score``: the customer's factors dotted with the article's (the MF model's own score);
- ``m_last5``: the cosine similarity of the article to the mean direction of the customer's
  last 5 distinct articles bought.

Both are null for an article nobody bought before the cutoff (it has no factors).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from functools import cached_property

import numpy as np
import polars as pl

from hmrec.data.split import history as before
from hmrec.data.week import WeekInput
from hmrec.recommenders.mf.config import MFConfig
from hmrec.recommenders.mf.weights import WEIGHT, interaction_weights
from hmrec.schema import Col

LAST_N = 5
FOLD_IN_STEPS = 12
"""Conjugate-gradient steps of the fold-in (from zero; 12 of 32 dimensions: the score's order
settles long before the exact solution)."""

FEATURE_MF = MFConfig(solver="als", dim=32, epochs=6, alpha=30.0, reg=300.0)
"""The model behind the features: smaller and shorter than the MF baseline's, fitted per week
(with the settings the accuracy matrix measured it with, docs/accuracy.md)."""
WARM_EPOCHS = 2
"""Epochs of a fit that starts from an earlier cutoff's article factors (``ArticleFactors.fit``'s
``start``): ALS from a good start needs a few passes, not the cold fit's 6."""


@dataclass(frozen=True)
class ArticleFactors:
    """One cutoff's article factors (``n_articles x dim``); ``bought`` marks the articles with
    purchases before the cutoff, the only ones whose factors were learned."""

    cutoff: date
    factors: np.ndarray
    bought: np.ndarray  # bool per article index: has factors
    config: MFConfig = field(default=FEATURE_MF)

    @classmethod
    def fit(
        cls,
        transactions: pl.LazyFrame,
        cutoff: date,
        config: MFConfig = FEATURE_MF,
        max_customers: int | None = 200_000,
        seed: int = 0,
        start: ArticleFactors | None = None,
    ) -> ArticleFactors:
        """ALS on the weighted purchases before ``cutoff`` (no later row is read). With ``start``
        (the factors of an earlier cutoff), its article factors are the starting point and the
        fit runs ``WARM_EPOCHS`` epochs instead of ``config.epochs``."""
        if start is not None and start.cutoff > cutoff:
            raise ValueError(f"a warm start from {start.cutoff} would read rows after the cutoff {cutoff}")
        import torch

        from hmrec.recommenders.mf.als import train_als
        from hmrec.recommenders.mf.epochs import interactions_from
        from hmrec.recommenders.mf.model import MatrixFactorization

        history = before(transactions, cutoff)
        who = history.select(pl.col(Col.CUSTOMER).unique().sort()).collect()[Col.CUSTOMER]
        if max_customers is not None and who.len() > max_customers:
            who = who.sample(max_customers, seed=seed).sort()
        local = pl.DataFrame({Col.CUSTOMER: who, "row": np.arange(who.len(), dtype=np.int64)})
        pairs = (
            interaction_weights(history.join(local.lazy(), on=Col.CUSTOMER, how="semi"), cutoff, config.weighting)
            .join(local.lazy(), on=Col.CUSTOMER)
            .collect()
        )
        if pairs.is_empty():
            raise ValueError(f"no purchases before {cutoff} to fit the MF features on")
        n_articles = int(pairs[Col.ARTICLE].max()) + 1
        data = interactions_from(
            pairs["row"].to_numpy(), pairs[Col.ARTICLE].to_numpy(), pairs[WEIGHT].to_numpy(), who.len(), n_articles
        )
        torch.manual_seed(config.seed)
        model = MatrixFactorization(who.len(), n_articles, config.dim)
        warm = None if start is None else torch.from_numpy(start.factors)
        epochs = config.epochs if start is None else min(WARM_EPOCHS, config.epochs)
        train_als(model, data, replace(config, seed=seed, epochs=epochs), articles_from=warm)
        bought = np.zeros(n_articles, dtype=bool)
        bought[pairs[Col.ARTICLE].unique().to_numpy()] = True
        return cls(cutoff, model.article.weight.detach().numpy().copy(), bought, config)

    def _past(self, data: WeekInput) -> pl.LazyFrame:
        """The served customers' rows before the cutoff, of articles with factors, read once."""
        rows = data.served().filter(pl.col(Col.ARTICLE) < len(self.factors))
        return rows.select(Col.DATE, Col.CUSTOMER, Col.ARTICLE, Col.PRICE).collect().lazy()

    def customer_factors(self, data: WeekInput, past: pl.LazyFrame) -> tuple[np.ndarray, np.ndarray]:
        """The served customers (sorted) and their folded-in factors, from their ``past`` rows."""
        import torch

        from hmrec.recommenders.mf.als import fold_in_history

        who, factors = fold_in_history(
            torch.from_numpy(self.factors), past, data.cutoff, self.config, steps=FOLD_IN_STEPS
        )
        return who, factors.numpy()

    def last_bought(self, past: pl.LazyFrame) -> tuple[np.ndarray, np.ndarray]:
        """The served customers (sorted) and the mean unit direction of their last 5 articles."""
        last = (
            past.group_by(Col.CUSTOMER, Col.ARTICLE)
            .agg(pl.col(Col.DATE).max())
            .sort([Col.CUSTOMER, Col.DATE, Col.ARTICLE], descending=[False, True, False])
            .group_by(Col.CUSTOMER, maintain_order=True)
            .head(LAST_N)
            .collect()
        )
        who = last[Col.CUSTOMER].unique().sort().to_numpy()
        local = np.searchsorted(who, last[Col.CUSTOMER].to_numpy())
        profile = np.zeros((len(who), self.factors.shape[1]), dtype=np.float32)
        np.add.at(profile, local, self.unit[last[Col.ARTICLE].to_numpy()])
        size = np.linalg.norm(profile, axis=1, keepdims=True)
        profile = np.divide(profile, size, out=np.zeros_like(profile), where=size > 0)
        return who, profile

    @cached_property
    def unit(self) -> np.ndarray:
        """The article factors scaled to length 1 (zero rows stay zero)."""
        norms = np.linalg.norm(self.factors, axis=1, keepdims=True)
        return np.divide(self.factors, norms, out=np.zeros_like(self.factors), where=norms > 0)

    def features(self, data: WeekInput, frame: pl.DataFrame) -> list[pl.Series]:
        """``m_score`` and ``m_last5`` for the rows of ``frame`` (``customer, article``), in its order."""
        customers = frame[Col.CUSTOMER].to_numpy()
        articles = frame[Col.ARTICLE].to_numpy().astype(np.int64)
        known = articles < len(self.factors)
        known[known] &= self.bought[articles[known]]
        safe = np.where(known, articles, 0)
        past = self._past(data)
        out = []
        for name, (who, table), by in (
            ("m_score", self.customer_factors(data, past), self.factors),
            ("m_last5", self.last_bought(past), self.unit),
        ):
            at, found = _positions(who, customers)
            has = known & found
            value = np.full(len(frame), np.nan, dtype=np.float32)
            value[has] = np.einsum("ij,ij->i", table[at[has]], by[safe[has]])
            out.append(pl.Series(name, value).fill_nan(None))
        return out


def _positions(who: np.ndarray, customers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each customer's row in the sorted ``who``, and whether it is there at all."""
    if len(who) == 0:
        return np.zeros(len(customers), dtype=np.int64), np.zeros(len(customers), dtype=bool)
    at = np.searchsorted(who, customers).clip(max=len(who) - 1)
    return at, who[at] == customers
