"""The recommender contract and the helpers every recommender shares."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import polars as pl

from hmrec.data.dataset import Dataset
from hmrec.data.lists import FILL_RANK, fill_with, top_per_customer
from hmrec.data.week import WeekInput
from hmrec.features.lookup import packed
from hmrec.schema import Col, K

if TYPE_CHECKING:
    from hmrec.engine import Engine
    from hmrec.recommenders.options import ModelOptions
    from hmrec.settings import Settings

__all__ = ["FILL_RANK", "FILL_SOURCE", "Persisted", "Recommender", "fill_with", "top_per_customer", "with_details"]


PAIR = "__pair"
FILL_SOURCE = "popular fill"
"""The ``sources`` of an article the popular fill added to a ranked list."""


@runtime_checkable
class Recommender(Protocol):
    """What the ``--model`` choices are.

    ``fit`` is given all a model may see of a week (``WeekInput``: the history before its cutoff,
    the customers it will serve, the catalogue); ``refresh`` takes a newer week to score from
    without fitting again (what a saved model does with new data);
    ``recommend`` returns, for each given customer, ``k`` distinct articles as ``customer,
    article, rank`` (see ``schema.RECOMMENDATION_SCHEMA``), rank 1 the most likely, and with
    ``details`` also ``score`` and ``sources`` (``with_details``). ``fill`` is the fill list:
    what a customer with too few articles of their own gets. The rest is ``Persisted``'s: what a
    saved model keeps of it and what it can tell.
    """

    name: str
    fill: list[int]

    def fit(self, week: WeekInput) -> Recommender: ...

    def refresh(self, week: WeekInput) -> Recommender: ...

    def recommend(self, customers: pl.Series, k: int = K, details: bool = False) -> pl.DataFrame: ...

    def recommend_parts(self, customers: pl.Series, k: int = K, details: bool = False) -> Iterator[pl.DataFrame]: ...

    def learned(self, dataset: Dataset) -> Any: ...

    def tuning_meta(self) -> dict[str, Any] | None: ...

    def use(self, engine: Engine, on_step: Any) -> None: ...

    def importance(self) -> pl.DataFrame | None: ...

    def features(self) -> list[str]: ...

    def tuned(self) -> tuple[Any, Any] | None: ...

    def article_factors(self) -> Any: ...


class Persisted:
    """What a ``--model`` class is besides ``fit``/``recommend``: how it is built for a fit
    (``build``), what of it a saved model keeps (``learned``, ``save_learned``,
    ``load_learned``), how that is bound to a dataset to score it (``bind``), and what it can
    tell (``explains``, ``importance``, ``features``, ``article_factors``, ``tuning_meta``).
    These defaults are a model whose only learned state is its fill list (the rule baselines);
    ``registry.MODELS`` maps each ``--model`` name to its class."""

    explains: ClassVar[bool] = False
    """Its recommendations can carry the features behind each score (``explain=True``)."""
    has_factors: ClassVar[bool] = False
    """It learns article factors (``article_factors``: similar articles, the serving files)."""

    def recommend_parts(
        self, customers: pl.Series, k: int = K, details: bool = False, **more: bool
    ) -> Iterator[pl.DataFrame]:
        """``recommend``'s rows as frames of disjoint sets of customers, one at a time (what a
        submission is written from, never holding every list at once when the model can split
        them: the ranker); here, one frame."""
        yield self.recommend(customers, k, details, **more)  # type: ignore[attr-defined]

    @classmethod
    def build(cls, dataset: Dataset, options: ModelOptions) -> Any:
        """A new, unfitted model for ``dataset`` with ``options``."""
        return cls()

    def learned(self, dataset: Dataset) -> Any:
        """What a saved model keeps of this fitted one (fitted on ``dataset``), besides the fill
        list; None: nothing."""
        return None

    def tuning_meta(self) -> dict[str, Any] | None:
        """What the model tried and chose when it chose its own settings (saved in ``model.json``)."""
        return None

    @classmethod
    def save_learned(cls, learned: Any, folder: Path, cutoff: date) -> None:
        """Write ``learned`` into the model folder being saved (as data, never code)."""
        return None

    @classmethod
    def load_learned(cls, folder: Path, settings: Settings, articles: pl.Series) -> Any:
        """What ``save_learned`` wrote to ``folder``; ``hmrec.recommenders.saving.ModelError``
        naming the file when it cannot be read or does not fit ``settings``."""
        return None

    @classmethod
    def bind(
        cls,
        learned: Any,
        dataset: Dataset,
        fill: list[int],
        week: WeekInput,
        settings: Settings,
        engine: Engine,
        on_step: Any,
    ) -> Any:
        """A model that scores ``week`` of ``dataset`` with ``learned`` and the fill list (in
        ``dataset``'s indices), without fitting."""
        model = cls()
        model.fill = fill  # type: ignore[attr-defined]
        return model.refresh(week)  # type: ignore[attr-defined]

    def use(self, engine: Engine, on_step: Any) -> None:
        """Run later work on ``engine`` and tell ``on_step`` of it (models that have work to run)."""
        return None

    def importance(self) -> pl.DataFrame | None:
        """The learned model's feature importance (None: it has no features)."""
        return None

    def features(self) -> list[str]:
        """The features it was trained on (empty: none)."""
        return []

    def tuned(self) -> tuple[Any, Any] | None:
        """The ranker and candidate settings it was fitted with, when it has them (tuned or not)."""
        return None

    def article_factors(self) -> Any:
        """Its article factors (a matrix, one row per article index), when it has any."""
        return None


def with_details(recs: pl.DataFrame, scored: pl.DataFrame | None, name: str) -> pl.DataFrame:
    """``recs`` with ``score`` and ``sources``: those of ``scored`` (``customer, article, score,
    sources`` and any other column of it) where it holds the pair, ``popular fill`` for the rest; without ``scored``, no
    score and the model's ``name`` as the source."""
    if scored is None:
        return recs.with_columns(pl.lit(None, pl.Float64).alias(Col.SCORE), pl.lit(name).alias(Col.SOURCES))
    # joined on one integer per pair, the order of ``recs`` kept (a third of the time of a join
    # on the two columns at full size)
    pair = packed([Col.CUSTOMER, Col.ARTICLE]).alias(PAIR)
    details = scored.select(pair, pl.exclude(Col.CUSTOMER, Col.ARTICLE, Col.RANK, PAIR))  # score, sources, ...
    return (
        recs.with_columns(pair)
        .join(details, on=PAIR, how="left", maintain_order="left")
        .drop(PAIR)
        .with_columns(pl.col(Col.SOURCES).fill_null(FILL_SOURCE))
    )


def source_lists() -> pl.Expr:
    """The ``sources`` column as lists of names (inside, and in the serving files, it is the
    names joined by commas)."""
    return pl.col(Col.SOURCES).str.split(",").alias(Col.SOURCES)
