"""Weeks on disk until LightGBM bins them give the dataset, so the trees, of the weeks held as
matrices, also when LightGBM finds its bins from a sample of the rows."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from hmrec.data.dataset import Dataset
from hmrec.data.split import Split
from hmrec.ranking import stored
from hmrec.ranking.config import RankerConfig
from hmrec.ranking.data import CandidateConfig, Tables, feature_columns, labelled_week, sample_negatives
from hmrec.ranking.model import Rows, TrainingSet, fit_ranker
from hmrec.ranking.stored import StoredWeeks
from hmrec.schema import Col


def test_weeks_binned_from_disk_are_the_weeks_binned_from_memory(
    tiny_dataset: Dataset, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    tables = Tables(tiny_dataset.articles(), tiny_dataset.customers())
    tx = tiny_dataset.transactions()
    last = Split.at(tx).cutoff
    weeks = [labelled_week(tx, last - timedelta(days=7 * k), tables, CandidateConfig()) for k in (1, 2, 3, 4)]
    features = feature_columns(weeks[0].columns)
    valid = Rows.of(weeks[0], features)
    older = [Rows.of(sample_negatives(w, 20), features) for w in weeks[1:]]
    rows = sum(w.height for w in older)
    config = RankerConfig(min_data_in_leaf=5, max_rounds=15, early_stopping=5, seed=3)
    plain = config.params
    # bins found from 200 rows drawn among them all (LightGBM's own draw, seeded by the fit's
    # seed), and each file read in several batches
    monkeypatch.setattr(RankerConfig, "params", lambda self: {**plain(), "bin_construct_sample_cnt": 200})
    monkeypatch.setattr(stored._WeekFile, "batch_size", 64)
    assert rows > 5 * 200 and min(w.height for w in older) > 64

    held = fit_ranker(TrainingSet.of(older, features, config), valid, features, config)
    caplog.set_level(logging.WARNING, logger="hmrec.lightgbm")
    with StoredWeeks() as on_disk:
        for week in older:
            on_disk.add(week)
        on_disk.add(Rows.of(weeks[1].clear(), features))  # a week without rows adds nothing
        files = list(Path(on_disk._folder.name).iterdir())
        binned = on_disk.binned(features, config)
    assert binned.height == rows
    with StoredWeeks() as newest:  # the week that picks the rounds, in two parts, binned as the reference's
        middle = weeks[0][Col.CUSTOMER].unique().sort()[weeks[0][Col.CUSTOMER].n_unique() // 2]
        newest.add(Rows.of(weeks[0].filter(pl.col(Col.CUSTOMER) < middle), features))
        newest.add(Rows.of(weeks[0].filter(pl.col(Col.CUSTOMER) >= middle), features))
        checked = newest.validation(features, binned)
    assert checked.height == valid.height
    from_disk = fit_ranker(binned, checked, features, config)
    assert from_disk.booster.model_to_string() == held.booster.model_to_string()
    assert from_disk.valid_map == held.valid_map
    assert not caplog.records  # nothing to warn of: the sets agree on their parameters
    assert len(files) == len(older) and not any(f.exists() for f in files)  # one file a week, gone with them
    with StoredWeeks() as empty, pytest.raises(ValueError, match="no training rows"):
        empty.binned(features, config)


def test_a_week_added_in_parts_is_the_week_added_whole(tiny_dataset: Dataset) -> None:
    """Parts of other customers, out of customer order (as Ray hands them over), give the file,
    labels and query sizes of the week sorted whole, so the same bins and trees."""
    tables = Tables(tiny_dataset.articles(), tiny_dataset.customers())
    tx = tiny_dataset.transactions()
    week = labelled_week(tx, Split.at(tx).cutoff - timedelta(days=7), tables, CandidateConfig())
    features = feature_columns(week.columns)
    shard = pl.col(Col.CUSTOMER) % 3
    parts = [Rows.of(week.filter(shard == s), features) for s in (2, 0, 1)]
    parts.insert(1, Rows.of(week.clear(), features))  # a part without rows adds nothing
    assert all(p.height for i, p in enumerate(parts) if i != 1)
    with StoredWeeks() as whole, StoredWeeks() as in_parts:
        whole.add(Rows.of(week, features))
        in_parts.add_parts(iter(parts))
        assert [p.read_bytes() for p, _, _ in in_parts._files] == [p.read_bytes() for p, _, _ in whole._files]
        assert [f.name for f in Path(in_parts._folder.name).iterdir()] == ["week-000.f32"]  # the raw parts' file went
        for mine, theirs in ((in_parts._labels, whole._labels), (in_parts._sizes, whole._sizes)):
            assert len(mine) == len(theirs) == 1 and (mine[0] == theirs[0]).all()
        in_parts.add_parts(iter([Rows.of(week.clear(), features)]))  # a week without rows adds nothing
        assert in_parts.height == whole.height == week.height
