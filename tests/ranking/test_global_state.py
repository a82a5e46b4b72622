"""Global state once per week: one-shot, chunked and sharded runs give the same candidates and
features, and a chunk never computes a global table from its own customers' rows."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from hmrec.data.dataset import Dataset
from hmrec.data.split import Split
from hmrec.data.week import NotShared, WeekInput
from hmrec.features.article import article_features
from hmrec.ranking.data import CandidateConfig, Tables, candidate_features
from hmrec.retrieval.pipeline import SOURCES
from hmrec.schema import Col
from tests.shards import SHARDS, Shards, shard_rows

EVERY_RULE = tuple(name for name in SOURCES if name != "mf")  # mf: its own test below
CONFIGS = [
    pytest.param(CandidateConfig(), id="defaults"),
    pytest.param(
        CandidateConfig(sources=EVERY_RULE, per_source=20, cap=30, embedding=True), id="every-rule+mf-features"
    ),
    pytest.param(CandidateConfig(sources=("repurchase", "mf"), per_source=10, cap=10), id="mf-source"),
    pytest.param(CandidateConfig(per_source=30, cap=20, cut=False), id="fixed-order"),
]


def one_shot(dataset: Dataset, split: Split, customers: pl.Series, config: CandidateConfig) -> pl.DataFrame:
    """Every customer at once, each table computed on the spot from the whole history."""
    return candidate_features(WeekInput.of(dataset, split, customers), config)


@pytest.mark.parametrize("config", CONFIGS)
def test_one_shot_chunked_and_sharded_agree(tiny_dataset: Dataset, config: CandidateConfig) -> None:
    split = Split.at(tiny_dataset.transactions())
    customers = split.history.select(Col.CUSTOMER).unique().sort(Col.CUSTOMER).collect()[Col.CUSTOMER]
    whole = one_shot(tiny_dataset, split, customers, config)
    assert whole[Col.CUSTOMER].n_unique() > 100

    week = Tables(tiny_dataset.articles(), tiny_dataset.customers()).week(split.history, split.cutoff, config)
    chunked = pl.concat(candidate_features(week.chunk(customers.slice(lo, 45)), config) for lo in range(0, 300, 45))
    assert_frame_equal(chunked, whole)

    # each shard sees only its customers' rows, as a Ray task does, and the week's partial-aggregate
    # tables are summed from the shards' counts
    engine = Shards()
    sharded = Tables(tiny_dataset.articles(), tiny_dataset.customers()).week(
        split.history, split.cutoff, config, engine
    )
    assert engine.aggregated > 0
    parts = []
    for shard in SHARDS:
        mine = customers.filter(customers % len(SHARDS) == shard)
        parts.append(candidate_features(sharded.chunk(mine, rows=shard_rows(split.history, shard)), config))
    assert_frame_equal(pl.concat(parts).sort(Col.CUSTOMER, Col.ARTICLE), whole)


def test_a_chunk_may_not_compute_a_global_table(tiny_dataset: Dataset) -> None:
    split = Split.at(tiny_dataset.transactions())
    config = CandidateConfig(sources=("repurchase",))
    week = Tables(tiny_dataset.articles(), tiny_dataset.customers()).week(split.history, split.cutoff, config)
    chunk = week.chunk(pl.Series([0, 1], dtype=pl.UInt32))
    article_features(chunk)  # computed for the week: read, not recomputed
    with pytest.raises(NotShared, match="co_occurrence"):
        candidate_features(chunk, CandidateConfig(sources=("bought_together",), cut=False))


def test_global_tables_do_not_depend_on_the_served_customers(tiny_dataset: Dataset) -> None:
    split = Split.at(tiny_dataset.transactions())
    few = one_shot(tiny_dataset, split, pl.Series([3], dtype=pl.UInt32), CandidateConfig())
    assert few.height > 0
    week = Tables(tiny_dataset.articles(), tiny_dataset.customers()).week(
        split.history, split.cutoff, CandidateConfig()
    )
    assert_frame_equal(candidate_features(week.chunk(pl.Series([3], dtype=pl.UInt32)), CandidateConfig()), few)


def test_fits_through_one_cache_share_each_cutoffs_global_state(
    tiny_dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The accuracy matrix's holdout weeks, newest first, through one ``WeekCache``: the fit a
    week earlier finds the learned cut's pool weeks the first fit computed (each a global table
    of its cutoff) instead of computing them again, and recommends as a fit alone does."""
    from hmrec.data import week as week_module
    from hmrec.evaluation import evaluate_model
    from hmrec.ranking.data import WeekCache
    from hmrec.recommenders.options import ModelOptions
    from hmrec.retrieval.pipeline import POOL_KEY

    pools: list[object] = []  # the start of each pool week computed
    get = week_module.Shared.get

    def counting(self: week_module.Shared, key: object, build: object, *args: object) -> object:
        if key not in self.values and isinstance(key, tuple) and key[0] == POOL_KEY:
            pools.append(key[1])
        return get(self, key, build, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(week_module.Shared, "get", counting)
    last = Split.at(tiny_dataset.transactions()).cutoff
    newest, earlier = (Split.at(tiny_dataset.transactions(), last - timedelta(days=7 * k)) for k in (0, 1))
    cache = WeekCache()
    evaluate_model("ranker", newest, tiny_dataset, ModelOptions(cache=cache))
    first = set(pools)
    pools.clear()
    _, shared = evaluate_model("ranker", earlier, tiny_dataset, ModelOptions(cache=cache))
    again = set(pools)
    pools.clear()
    _, alone = evaluate_model("ranker", earlier, tiny_dataset, ModelOptions())
    assert first & set(pools), "the earlier week alone needs pool weeks the first fit computed"
    assert not first & again
    assert_frame_equal(shared, alone)
