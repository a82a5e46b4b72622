"""How good a candidate set is for a week: recall, customers with a hit, and the oracle's MAP@12."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from hmrec.schema import Col, K


@dataclass(frozen=True)
class CandidateQuality:
    """One candidate set on one week, over the customers who bought that week."""

    per_customer: float
    recall: float
    customers_with_hit: float
    oracle_map: float


def measure(candidates: pl.DataFrame, truth: pl.DataFrame, k: int = K) -> CandidateQuality:
    """Score ``candidates`` (``customer, article``) against ``truth`` (the week's distinct purchases).

    The oracle ranker puts every bought candidate first, so a buyer's AP@k is
    ``min(hits, k) / min(bought, k)``.
    """
    truth = truth.select(Col.CUSTOMER, Col.ARTICLE).unique()
    buyers = truth.group_by(Col.CUSTOMER).agg(bought=pl.len())
    cands = candidates.select(Col.CUSTOMER, Col.ARTICLE).join(buyers.select(Col.CUSTOMER), on=Col.CUSTOMER, how="semi")
    hits = cands.join(truth, on=[Col.CUSTOMER, Col.ARTICLE], how="semi").group_by(Col.CUSTOMER).agg(hits=pl.len())
    per = buyers.join(hits, on=Col.CUSTOMER, how="left").with_columns(pl.col("hits").fill_null(0))
    n_buyers = per.height
    if n_buyers == 0:
        raise ValueError("nobody bought anything in the week: candidates cannot be measured")
    return CandidateQuality(
        per_customer=cands.height / n_buyers,
        recall=per["hits"].sum() / per["bought"].sum(),
        customers_with_hit=(per["hits"] > 0).mean(),
        oracle_map=float((per["hits"].clip(upper_bound=k) / per["bought"].clip(upper_bound=k)).mean()),
    )
