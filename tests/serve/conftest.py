"""The artifacts the API and page tests serve: the tiny shop's holdout week, ranked."""

from __future__ import annotations

from pathlib import Path

import pytest

from hmrec.data.dataset import Dataset
from hmrec.data.split import Split
from hmrec.evaluation import evaluate_model
from hmrec.recommenders.baselines import popular_articles
from hmrec.recommenders.options import ModelOptions
from hmrec.serve.artifacts import write_artifacts


@pytest.fixture(scope="session")
def holdout(tiny_dataset: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Artifacts of the ranker's holdout week (what was bought is known), explained."""
    split = Split.at(tiny_dataset.transactions())
    _, recs = evaluate_model("ranker", split, tiny_dataset, ModelOptions(explain=True))
    folder = tmp_path_factory.mktemp("holdout")
    popular = popular_articles(split.history, split.cutoff)
    return write_artifacts(folder, tiny_dataset, recs, "ranker", split.cutoff, popular, split.truth.collect())
