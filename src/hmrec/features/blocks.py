"""The feature blocks: which columns of a candidate frame each block owns (the ablation and
``RankerConfig.drop_blocks`` name blocks)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from hmrec.features.pair import TASTE
from hmrec.retrieval.union import BEST_RANK, N_SOURCES

FEATURE_BLOCKS: dict[str, Callable[[str], bool]] = {
    "customer": lambda c: c.startswith("c_"),
    "article": lambda c: c.startswith("a_"),
    "pair": lambda c: c.startswith(("p_", "pp_", "x_", *(f"{prefix}_" for prefix in TASTE.values()))),
    "retrieval": lambda c: c.endswith(("_score", "_rank")) or c in (N_SOURCES, BEST_RANK),
    "trend": lambda c: c.startswith("t_"),
    "cohort": lambda c: c.startswith("k_"),
    "price": lambda c: c.startswith("b_"),
    "estimate": lambda c: c.startswith("e_"),
    "embedding": lambda c: c.startswith("m_"),
    "taste": lambda c: c.startswith("u_"),
}
"""Which columns each feature block owns (the ablation drops one block at a time)."""


def check_blocks(names: Iterable[str]) -> None:
    """Raise on a name that is not a feature block."""
    unknown = set(names) - set(FEATURE_BLOCKS)
    if unknown:
        raise ValueError(f"unknown feature block(s) {sorted(unknown)}; choose from {', '.join(FEATURE_BLOCKS)}")


GLOSSARY: tuple[tuple[str, str, str], ...] = (
    (
        "c_",
        "customer",
        "the customer: age, units over 1/4/12 weeks and all time, days since the last purchase, "
        "online share, mean and spread of the prices paid",
    ),
    (
        "a_",
        "article",
        "the article: units over 1/2/4 weeks, trend, days since the first sale, markdown (last "
        "week's price over its usual one), mean buyer age, repurchase rate, the catalogue's codes",
    ),
    ("p_", "pair", "this customer and this article: units bought, days since the last"),
    ("pp_", "pair", "this customer and the article's product (any colour): units bought, days since the last"),
    ("x_", "pair", "customer against article: age gap (customer minus the article's mean buyer age), price ratio"),
    (
        "pd_ ps_ pg_ pc_ pt_",
        "pair",
        "the customer's taste for the article's department, section, garment group, "
        "colour group and product type: units with that value, days since the last, share of their units",
    ),
    (
        "<source>_score, <source>_rank",
        "retrieval",
        "what each candidate source said of the pair (null: it did not "
        "offer it); n_sources: how many offered it; best_rank: its best rank in any",
    ),
    (
        "t_",
        "trend",
        "the article's sales momentum: units in 3 days, its share of all units in 1 week and 3 days, "
        "velocity, acceleration, daily slope",
    ),
    (
        "k_",
        "cohort",
        "the article's units and share among customers of the customer's age bucket (last week) and "
        "postal code (last 4 weeks)",
    ),
    ("b_", "price", "the article's price in standard deviations of the customer's own prices from their mean"),
    (
        "e_",
        "estimate",
        "direct estimates of the chance of a purchase: the article's share of the customer's latest "
        "10 and 30 units, of its section's units last week, the fresh-pick estimates (e_fresh, e_fresh_prior)",
    ),
    (
        "m_",
        "embedding",
        "the MF model's view (--mf-features): m_score the factors' dot product, m_last5 the cosine "
        "to the customer's last 5 articles",
    ),
    (
        "u_",
        "taste",
        "the customer's share of units with the article's value of each catalogue attribute, over "
        "1/4/12 weeks (CandidateConfig(units=True))",
    ),
)
"""Every feature prefix, its block and what its columns say (the report's glossary, docs/features.md)."""


def glossary_entry(feature: str) -> tuple[str, str, str] | None:
    """The glossary row that explains ``feature`` (its block owns it and the prefix matches)."""
    for prefixes, block, meaning in GLOSSARY:
        owns = FEATURE_BLOCKS[block]
        if not owns(feature):
            continue
        if block == "retrieval" or any(feature.startswith(p) for p in prefixes.split()):
            return prefixes, block, meaning
    return None
