"""Global tables from partial aggregates (``data/partial.py``): the counts of any split of the
customers, summed and finished over any split of the keys, give the one-pass table; a part whose
columns cannot be summed exactly is refused."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from hmrec.data.dataset import Dataset
from hmrec.data.partial import Partial, PartialError, one_pass
from hmrec.data.split import Split
from hmrec.data.week import WeekInput
from hmrec.engine import LocalEngine
from hmrec.ranking.data import CandidateConfig, Tables
from hmrec.retrieval.pipeline import SOURCES
from hmrec.schema import Col
from tests.shards import in_splits

EVERY_RULE = CandidateConfig(sources=tuple(name for name in SOURCES if name != "mf"), per_source=20, cap=30)


@dataclass
class Recording(LocalEngine):
    """The local engine, keeping each partial-aggregate table it builds with its week."""

    name: str = "recording"
    built: list[tuple[WeekInput, Partial]] = field(default_factory=list)

    def aggregate(self, week: WeekInput, partial: Partial) -> pl.DataFrame:
        self.built.append((week, partial))
        return super().aggregate(week, partial)


def customers_in(rows: pl.LazyFrame, n: int, seed: int) -> list[pl.LazyFrame]:
    """``rows`` in ``n`` sets of whole customers, drawn by a seeded hash (not by id order)."""
    which = pl.col(Col.CUSTOMER).hash(seed) % n
    return [rows.filter(which == i) for i in range(n)]


@pytest.mark.parametrize("config", [CandidateConfig(), EVERY_RULE], ids=["defaults", "every-rule"])
def test_every_partial_table_is_its_one_pass_table_from_any_split(
    tiny_dataset: Dataset, config: CandidateConfig
) -> None:
    split = Split.at(tiny_dataset.transactions())
    engine = Recording()
    tables = Tables(tiny_dataset.articles(), tiny_dataset.customers())
    tables.prime(split.history, split.cutoff, engine)
    tables.week(split.history, split.cutoff, config, engine)
    names = {str(partial.key) for _, partial in engine.built}
    assert any("buyer_days" in n for n in names) and any("co_occurrence" in n for n in names)
    for week, partial in engine.built:
        whole = one_pass(week, partial)
        assert whole.height > 0, partial.key
        for customers, keys in ((1, 1), (3, 2), (5, 7)):
            splits = in_splits(week, partial, customers_in(week.history, customers, seed=customers), keys)
            assert_frame_equal(splits, whole, check_exact=True)


def test_a_part_that_cannot_be_summed_exactly_is_refused(tiny_dataset: Dataset) -> None:
    split = Split.at(tiny_dataset.transactions())
    week = WeekInput.of(tiny_dataset, split, pl.Series(Col.CUSTOMER, [], dtype=pl.UInt32))

    def mean_price(data: WeekInput) -> pl.LazyFrame:
        return data.past().group_by(Col.ARTICLE).agg(pl.col(Col.PRICE).mean())

    with pytest.raises(PartialError, match="integer counts"):
        one_pass(week, Partial(("mean price",), mean_price, (Col.ARTICLE,)))
    with pytest.raises(PartialError, match="missing"):
        one_pass(week, Partial(("units",), lambda d: d.past().group_by(Col.ARTICLE).len(), (Col.DATE,)))


def test_a_part_reads_no_global_table(tiny_dataset: Dataset) -> None:
    """A part sees some customers' rows only: a global table computed from them would be wrong, so
    asking for one fails instead."""
    from hmrec.data.week import NotShared
    from hmrec.features.article import article_features

    split = Split.at(tiny_dataset.transactions())
    week = WeekInput.of(tiny_dataset, split, pl.Series(Col.CUSTOMER, [], dtype=pl.UInt32))

    def reading(data: WeekInput) -> pl.LazyFrame:
        return article_features(data).select(Col.ARTICLE, pl.col("a_n_1w").alias("n"))

    with pytest.raises(NotShared):
        one_pass(week, Partial(("reads",), reading, (Col.ARTICLE,)))
