"""Interaction weights: recent, full-price purchases say more about taste.

For a purchase ``d`` days before the cutoff at price ``p`` of an article whose highest price
in the history is ``p_max``::

    weight = exp(-t_decay * d) * ((1 - price_weight) + price_weight * p / p_max)

and a pair's weight is the sum over its purchases (one row per unit). ``t_decay = 0`` and
``price_weight = 0`` turn each part off.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from hmrec.data.split import days_before
from hmrec.data.split import history as before
from hmrec.schema import Col

WEIGHT = "weight"


@dataclass(frozen=True)
class Weighting:
    """How much recency (``t_decay`` per day) and markdowns (``price_weight`` in [0, 1]) count."""

    t_decay: float = 0.01
    price_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.t_decay < 0:
            raise ValueError(f"t_decay must be >= 0, got {self.t_decay}")
        if not 0 <= self.price_weight <= 1:
            raise ValueError(f"price_weight must be in [0, 1], got {self.price_weight}")


PRESETS: dict[str, Weighting] = {
    "decay0.01-price0": Weighting(0.01, 0.0),
    "decay0.01-price1": Weighting(0.01, 1.0),
    "decay0.001-price0": Weighting(0.001, 0.0),
    "decay0.001-price1": Weighting(0.001, 1.0),
}
"""The original project's four experiments: time decay crossed with price weighting."""


def interaction_weights(history: pl.LazyFrame, cutoff: date, weighting: Weighting) -> pl.LazyFrame:
    """``customer, article, weight``: one row per pair bought before ``cutoff``, in one query."""
    rows = before(history, cutoff)
    p = weighting.price_weight
    discount = (1 - p) + p * pl.col(Col.PRICE) / pl.col(Col.PRICE).max().over(Col.ARTICLE)
    recency = (-weighting.t_decay * days_before(cutoff)).exp()
    return (
        rows.with_columns((recency * discount.fill_nan(1.0)).alias(WEIGHT))
        .group_by(Col.CUSTOMER, Col.ARTICLE)
        .agg(pl.col(WEIGHT).sum().cast(pl.Float32))
    )
