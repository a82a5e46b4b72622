"""The ranker's lists a part of the customers at a time (issue 25, "results that never come back
whole"): the parts are disjoint, and together they are ``recommend``'s lists; the submission and
the serving files written from them are the ones written from the whole frame."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from hmrec.data.dataset import Dataset
from hmrec.data.split import Split
from hmrec.data.submission import write_submission
from hmrec.data.week import WeekInput
from hmrec.engine.base import LocalEngine
from hmrec.ranking.config import RankerConfig
from hmrec.ranking.data import Tables
from hmrec.recommenders.base import FILL_SOURCE
from hmrec.schema import INDEX_DTYPE, Col
from hmrec.serve import artifacts
from hmrec.serve.artifacts import RECOMMENDATIONS, write_artifacts
from hmrec.two_stage import TwoStageRecommender
from tests.shards import SHARDS, Shards


@pytest.fixture(scope="module")
def fitted(tiny_dataset: Dataset) -> TwoStageRecommender:
    split = Split.at(tiny_dataset.transactions())
    model = TwoStageRecommender(
        Tables(tiny_dataset.articles(), tiny_dataset.customers()),
        config=RankerConfig(train_weeks=1, min_data_in_leaf=5),
    )
    return model.fit(WeekInput.before(split.history, split.cutoff))


def customers_of(dataset: Dataset) -> pl.Series:
    """The submission's customers and one the data does not know (no candidates: the fill)."""
    known = dataset.submission_customers().collect()[Col.CUSTOMER].cast(INDEX_DTYPE)
    return pl.concat([known, pl.Series(Col.CUSTOMER, [10**6], dtype=INDEX_DTYPE)])


def test_the_parts_are_disjoint_and_together_the_whole_lists(
    fitted: TwoStageRecommender, tiny_dataset: Dataset
) -> None:
    customers = customers_of(tiny_dataset)
    fitted.use(LocalEngine(), None)
    whole = fitted.recommend(customers, details=True, explain=True)
    engine = Shards()
    fitted.use(engine, None)
    fitted.tables.states.pop(fitted.cutoff)  # the week's global state built again, from the shards' counts
    parts = list(fitted.recommend_parts(customers, details=True, explain=True))
    assert (
        engine.handed.count("RankWork") == len(SHARDS) and len(parts) == len(SHARDS) + 1
    )  # then the customers no part held
    assert engine.aggregated > 0
    who = [set(p[Col.CUSTOMER].to_list()) for p in parts]
    assert sum(len(w) for w in who) == len(set().union(*who)) == customers.n_unique()  # disjoint, every one
    assert who[-1] >= {10**6} and (parts[-1][Col.SOURCES] == FILL_SOURCE).all()  # without candidates: the fill
    assert_frame_equal(pl.concat(parts).sort(Col.CUSTOMER, Col.RANK), whole)
    assert_frame_equal(fitted.recommend(customers, details=True, explain=True), whole)
    assert whole[Col.SOURCES].ne(FILL_SOURCE).sum() > 0  # ranked articles among them, not only the fill


def test_the_customers_without_candidates_come_a_chunk_at_a_time(
    fitted: TwoStageRecommender, tiny_dataset: Dataset
) -> None:
    customers = customers_of(tiny_dataset)
    fitted.use(LocalEngine(), None)
    whole = fitted.recommend(customers)
    unranked = (
        customers.n_unique()
        - fitted.recommend(customers, details=True).filter(pl.col(Col.SOURCES) != FILL_SOURCE)[Col.CUSTOMER].n_unique()
    )
    try:
        fitted.chunk_size = 7
        parts = list(fitted.recommend_parts(customers))
    finally:
        fitted.chunk_size = TwoStageRecommender.chunk_size
    assert unranked > 2 * 7 and len(parts) == 1 + -(-unranked // 7)  # the ranked part, then chunks of 7
    assert max(p[Col.CUSTOMER].n_unique() for p in parts[1:]) == 7
    assert_frame_equal(pl.concat(parts).sort(Col.CUSTOMER, Col.RANK), whole)
    assert pl.concat(parts)[Col.CUSTOMER].n_unique() == customers.n_unique()


def test_a_submission_and_serving_files_from_parts_are_those_of_the_whole(
    fitted: TwoStageRecommender, tiny_dataset: Dataset, tmp_path: Path
) -> None:
    customers = tiny_dataset.submission_customers().collect()[Col.CUSTOMER].cast(INDEX_DTYPE)
    fitted.use(LocalEngine(), None)
    whole = fitted.recommend(customers, details=True)
    fitted.use(Shards(), None)
    parts = [p.sample(fraction=1.0, shuffle=True, seed=1) for p in fitted.recommend_parts(customers, details=True)]
    read: list[int] = []

    def one_at_a_time() -> Iterator[pl.DataFrame]:
        for i, part in enumerate(parts):
            read.append(i)
            yield part

    one, many = tmp_path / "whole.csv", tmp_path / "parts.csv"
    write_submission(tiny_dataset, whole, one)
    write_submission(tiny_dataset, one_at_a_time(), many)
    assert read == list(range(len(parts))) and many.read_bytes() == one.read_bytes()
    files = []
    for name, recs in (("whole", whole), ("parts", pl.concat([p.lazy() for p in parts]))):
        write_artifacts(tmp_path / name, tiny_dataset, recs, "ranker", fitted.cutoff, fitted.fill)
        files.append((tmp_path / name / RECOMMENDATIONS).read_bytes())
    assert files[0] == files[1]
    short = [p.filter(pl.col(Col.RANK) <= 11) if i == 1 else p for i, p in enumerate(parts)]
    with pytest.raises(ValueError, match="fewer than 12"):
        write_submission(tiny_dataset, iter(short), tmp_path / "short.csv")
    assert not (tmp_path / "short.csv").exists()


def test_the_serving_files_written_in_blocks_are_the_files_of_one_block(
    fitted: TwoStageRecommender, tiny_dataset: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    customers = tiny_dataset.submission_customers().collect()[Col.CUSTOMER].cast(INDEX_DTYPE)
    fitted.use(LocalEngine(), None)
    recs = fitted.recommend(customers, details=True)
    assert fitted.cutoff is not None
    order = tiny_dataset.ids.id_order(Col.CUSTOMER_ID, artifacts.CUSTOMER_ORDER).collect()
    whole = {  # one block of every customer, as the files were written before the blocks
        RECOMMENDATIONS: artifacts._ranked(tiny_dataset, recs.lazy(), order).collect(),
        artifacts.HISTORY: artifacts._history(tiny_dataset, recs.lazy(), fitted.cutoff, order).collect(),
    }
    monkeypatch.setattr(artifacts, "BLOCK", 97)  # customers per block: several blocks
    monkeypatch.setattr(artifacts, "ROW_GROUP", 1000)  # and several row groups
    written = []
    folders = [tmp_path / "first [1]*?", tmp_path / "second ?[x]"]  # read literally, never as patterns
    for folder in folders:
        write_artifacts(folder, tiny_dataset, recs, "ranker", fitted.cutoff, fitted.fill)
        written.append({f: (folder / f).read_bytes() for f in whole})
    assert written[0] == written[1]  # the same bytes every time
    assert not [p.name for p in folders[0].iterdir() if p.name.startswith(".")]  # the blocks' files are gone
    for file, frame in whole.items():
        assert frame.height > 1000 and frame[Col.CUSTOMER_ID].n_unique() > 97
        assert_frame_equal(pl.read_parquet(folders[0] / file, glob=False), frame)
