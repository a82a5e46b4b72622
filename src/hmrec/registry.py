"""The ``--model`` choices: the one place that maps a model's name to its class. No other module
compares a model's name (a test reads every module's source to hold that); they ask the class
(``model_class(name)``) what it can do instead (``explains``, ``learned``, ``bind``, ...:
``recommenders.base.Persisted``).

The classes load on first use, so that naming a model never imports what another needs
(torch for ``mf``, LightGBM for ``ranker``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hmrec.data.dataset import Dataset
    from hmrec.recommenders.options import ModelOptions


def _popular() -> type:
    from hmrec.recommenders.baselines import PopularRecommender

    return PopularRecommender


def _repurchase() -> type:
    from hmrec.recommenders.baselines import RepurchaseRecommender

    return RepurchaseRecommender


def _mf() -> type:
    from hmrec.recommenders.mf.recommender import MFRecommender  # torch loads only here

    return MFRecommender


def _ranker() -> type:
    from hmrec.two_stage import TwoStageRecommender  # LightGBM loads only here

    return TwoStageRecommender


MODELS: dict[str, Callable[[], type]] = {
    "popular": _popular,
    "repurchase": _repurchase,
    "mf": _mf,
    "ranker": _ranker,
}
"""Each ``--model`` name and how to get its class, in the order ``evaluate`` reports them."""
MODEL_NAMES = tuple(MODELS)
DEFAULT_MODEL = "ranker"
"""What ``submit``, ``fit`` and ``evaluate``'s report are about unless told otherwise."""
RULE_BASELINES = ("popular", "repurchase")
"""The models without learned parameters: what the shop statistics score."""


def model_class(name: str) -> Any:
    """The class of the model ``name`` (a ``recommenders.base.Persisted`` with ``fit`` and
    ``recommend``); ``ValueError`` naming the choices for an unknown name."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name]()


def make_model(name: str, dataset: Dataset, options: ModelOptions | None = None) -> Any:
    """The model ``name``, built for ``dataset`` with ``options`` (not fitted)."""
    from hmrec.recommenders.options import ModelOptions

    return model_class(name).build(dataset, options or ModelOptions())
