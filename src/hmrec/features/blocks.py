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
