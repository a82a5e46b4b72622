"""The MF model's top articles per customer."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from hmrec.data.week import WeekInput
from hmrec.recommenders.mf.config import MFConfig
from hmrec.retrieval.base import CANDIDATE_SCHEMA


@dataclass(frozen=True)
class MFSource:
    """Fits the MF baseline on the history (``epochs`` epochs, no inner early stopping) and
    returns each known customer's ``n`` best-scored recent articles."""

    n: int = 50
    config: MFConfig = field(default_factory=lambda: MFConfig(epochs=8))
    name: str = "mf"

    def candidates(self, data: WeekInput) -> pl.LazyFrame:
        from hmrec.recommenders.mf.recommender import MFRecommender  # torch loads only when needed

        key = (__name__, self.config)
        model = data.global_table(key, lambda: MFRecommender(self.config, tune_epochs=False).fit(data))
        customers = data.customers.collect().to_series()
        return model.top_n(customers, self.n).lazy().cast(CANDIDATE_SCHEMA)
