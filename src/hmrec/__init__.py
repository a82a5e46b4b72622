"""hmrec: a two-stage recommender for the H&M Kaggle data format.

The Python API (docs/python-api.md)::

    import hmrec

    data = hmrec.load("data/hm")
    result = hmrec.evaluate(data)
    model = hmrec.fit(data)
    model.write_submission(data, "submission.csv")

Names load on first use (``hmrec.api``), so ``import hmrec`` stays fast: polars, LightGBM and
torch are imported only when a function needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hmrec.version import __version__

_API = (
    "MODEL_NAMES",
    "CheckReport",
    "Dataset",
    "Evaluation",
    "Model",
    "ModelError",
    "Score",
    "Settings",
    "check",
    "evaluate",
    "fit",
    "holdout",
    "load",
    "load_model",
    "prepare",
    "running",
    "submit",
    "Submission",
    "write_report",
)
__all__ = ["__version__", *_API]

if TYPE_CHECKING:
    from hmrec.api import (  # noqa: F401
        MODEL_NAMES,
        CheckReport,
        Dataset,
        Evaluation,
        Model,
        ModelError,
        Score,
        Settings,
        Submission,
        check,
        evaluate,
        fit,
        holdout,
        load,
        load_model,
        prepare,
        running,
        submit,
        write_report,
    )


def __getattr__(name: str) -> Any:
    if name in _API:
        from hmrec import api

        return getattr(api, name)
    raise AttributeError(f"module 'hmrec' has no attribute {name!r}")
