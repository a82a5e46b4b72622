"""Fitting a model on all of a dataset, to score the week after its last day: ``everything``
(the dataset as one week's input, its cutoff the day after the last transaction) and
``fit_model``. ``hmrec.api.fit`` wraps the fitted recommender in a ``model.Model``."""

from __future__ import annotations

from datetime import date, timedelta

from hmrec.data.dataset import Dataset
from hmrec.data.week import WeekInput
from hmrec.recommenders.base import Recommender
from hmrec.recommenders.options import ModelOptions
from hmrec.registry import make_model
from hmrec.schema import Col


def fit_model(dataset: Dataset, name: str, options: ModelOptions | None = None) -> Recommender:
    """``name`` fitted on all of ``dataset`` (its cutoff the day after the last transaction)."""
    return make_model(name, dataset, options).fit(everything(dataset))


def scoring_cutoff(dataset: Dataset) -> date:
    """The day after the data's last transaction: a model fitted or scoring there sees it all."""
    return dataset.date_range()[1] + timedelta(days=1)


def everything(dataset: Dataset) -> WeekInput:
    """All of ``dataset`` as one week's input: every transaction, the submission's customers,
    the catalogue; its cutoff the day after the last transaction (the week to predict)."""
    customers = dataset.submission_customers().collect()[Col.CUSTOMER]
    return WeekInput.before(
        dataset.transactions(), scoring_cutoff(dataset), customers, dataset.articles(), dataset.customers()
    )
