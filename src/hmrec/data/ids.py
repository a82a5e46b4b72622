"""Kaggle ids <-> the pipeline's indices, for one prepared dataset (RecTools' ``IdMap`` is the
model): ``prepare`` gives every customer and article a dense ``INDEX_DTYPE`` index once and
writes the two maps; the pipeline works on indices only, and this module is where ids cross
(reading what a user asks for, writing what they get back).

    ids = dataset.ids
    ids.to_index(pl.Series(Col.ARTICLE_ID, ["0108775015"]))   # -> article: [0]
    ids.to_kaggle(recommendations)                            # customer, article -> customer_id, article_id
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

import polars as pl

from hmrec.schema import INDEX_DTYPE, Col

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)
Unknown = Literal["null", "raise", "extend"]
KINDS = {Col.CUSTOMER_ID: Col.CUSTOMER, Col.ARTICLE_ID: Col.ARTICLE}
"""Each id column and the index column it maps to."""


class UnknownIds(ValueError):
    """Ids the dataset does not know, asked for with ``unknown="raise"``; the message names them."""


@dataclass(frozen=True)
class IdMap:
    """The id maps of one prepared dataset: ``customers`` (``customer, customer_id``) and
    ``articles`` (``article, article_id``, 10 digits), as lazy frames over its files."""

    customers: Callable[[], pl.LazyFrame]
    articles: Callable[[], pl.LazyFrame]

    def _map(self, id_column: str) -> pl.LazyFrame:
        if id_column not in KINDS:
            raise ValueError(f"ids must be a {' or '.join(KINDS)} series, not {id_column!r}")
        return self.customers() if id_column == Col.CUSTOMER_ID else self.articles()

    def ids(self, id_column: str) -> pl.Series:
        """Every id of that kind (``customer_id`` or ``article_id``), in index order: the id of
        index ``i`` at position ``i``."""
        return self._map(id_column).sort(KINDS[id_column]).collect()[id_column]

    def size(self, id_column: str) -> int:
        """How many ids of that kind the dataset knows."""
        return self._map(id_column).select(pl.len()).collect().item()

    def to_index(self, kaggle_ids: pl.Series, unknown: Unknown = "null") -> pl.Series:
        """The indices of ``kaggle_ids`` (a series named ``customer_id`` or ``article_id``), in its
        order, named ``customer`` or ``article``. An id the dataset does not know becomes null
        (``unknown="null"``), raises :class:`UnknownIds` naming it (``"raise"``), or gets a new
        index past the dataset's own, one per distinct unknown id in order of appearance
        (``"extend"``: a customer without purchases, who gets the fill list)."""
        column = kaggle_ids.name
        index = KINDS.get(column)
        mapping = self._map(column).collect()
        asked = pl.DataFrame({column: kaggle_ids.cast(pl.String)})
        found = asked.join(mapping, on=column, how="left", maintain_order="left")
        missing = found[index].is_null()
        if unknown == "raise" and missing.any():
            names = found.filter(missing)[column].unique(maintain_order=True)
            shown = ", ".join(str(n) for n in names.head(5))
            raise UnknownIds(f"{column}(s) not in the data: {shown}{' ...' if names.len() > 5 else ''}")
        if unknown == "extend" and missing.any():
            new = found.filter(missing).select(column).unique(maintain_order=True)
            new = new.with_row_index("__new").with_columns((pl.col("__new") + mapping.height).cast(INDEX_DTYPE))
            found = found.join(new, on=column, how="left", maintain_order="left").with_columns(
                pl.coalesce(index, "__new").alias(index)
            )
        return found[index].cast(INDEX_DTYPE)

    def to_kaggle(
        self, frame: Frame, keep: bool = False, articles: dict[str, str] | None = None, in_order: bool = True
    ) -> Frame:
        """``frame`` with a ``customer_id`` for its ``customer`` column and an ``article_id`` for
        its ``article`` column (whichever it has; row order kept), the indices dropped unless
        ``keep``; ``articles`` names other columns of article indices and the id column each
        becomes (``{"other": "similar_article_id"}``). ``in_order=False`` lets the rows come in any
        order (cheaper for a frame sorted afterwards: 0.5-0.7 s less for 16.5M rows)."""
        names = frame.collect_schema().names()
        wanted = [(index, index, id_column) for id_column, index in KINDS.items() if index in names]
        wanted += [(column, Col.ARTICLE, id_name) for column, id_name in (articles or {}).items()]
        out = frame
        for column, index, id_name in wanted:
            id_column = next(c for c, i in KINDS.items() if i == index)
            mapping = self._map(id_column).rename({index: column, id_column: id_name})
            mapping = mapping.collect() if isinstance(frame, pl.DataFrame) else mapping
            order = {"maintain_order": "left"} if in_order else {}
            out = out.join(mapping, on=column, how="left", **order)  # type: ignore[arg-type]
            if not keep:
                out = out.drop(column)
        return out

    def id_order(self, id_column: str, name: str) -> pl.LazyFrame:
        """``index, id, name``: each index with its id and the id's place among the ids sorted as
        text, so that sorting by ``name`` (an integer) sorts by the id."""
        return self._map(id_column).sort(id_column).with_row_index(name)
