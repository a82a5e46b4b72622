"""hmrec's Python API: what the ``hmrec`` command does, as functions (docs/python-api.md).

    import hmrec

    data = hmrec.load("data/hm")                   # prepared on first use, reused after
    result = hmrec.evaluate(data)                  # the default model, last week held out
    model = hmrec.fit(data)                        # fitted on everything
    model.write_submission(data, "submission.csv")

Results carry Kaggle ids (``customer_id``, ``article_id``) as polars frames; the prepared integer
ids stay inside. Settings come as a :class:`Settings` (or a TOML file, ``Settings.load``).
The CLI is a thin layer over this module: it calls these functions and prints what they return.
The calls live in ``api/data.py`` (datasets), ``api/runs.py`` (evaluate, fit, submit) and
``api/tools.py`` (the shop, candidates, the MF baseline, the report, serving); this module names
what the package offers.
"""

from __future__ import annotations

from hmrec import faults
from hmrec.api.data import (
    check,
    holdout,
    load,
    prepare,
    read_customers,
    refuse_stray,
)
from hmrec.api.runs import (
    Submission,
    evaluate,
    fit,
    holdout_weeks,
    load_model,
    publishing,
    refuse_outputs,
    running,
    save_evaluation,
    submit,
    write_serving_files,
)
from hmrec.api.tools import (
    generate,
    measure_candidates,
    serve_app,
    shop_statistics,
    train_baseline,
    write_report,
)
from hmrec.data import outputs
from hmrec.data.atomic import Busy, locked, staged
from hmrec.data.check import CheckReport
from hmrec.data.dataset import Dataset
from hmrec.data.ingest import prepared_folder
from hmrec.data.shards import shard_folder
from hmrec.data.split import Split, parse_cutoff
from hmrec.data.validate import DataError
from hmrec.engine import ENGINES, Engine, EngineError, LocalEngine
from hmrec.evaluation import AblationRow, Evaluation, Score
from hmrec.model import Model, ModelError
from hmrec.ranking.config import OBJECTIVES, RankerConfig
from hmrec.ranking.data import CandidateConfig
from hmrec.recommenders.mf.config import FILTERS, LOSS_NAMES, SOLVERS, MFConfig
from hmrec.recommenders.mf.weights import PRESETS, Weighting
from hmrec.registry import DEFAULT_MODEL, MODEL_NAMES, RULE_BASELINES, model_class
from hmrec.retrieval.pipeline import SOURCES
from hmrec.settings import Settings
from hmrec.shop import PROFILES, SCALES

__all__ = [
    "DEFAULT_MODEL",
    "RULE_BASELINES",
    "model_class",
    "ENGINES",
    "FILTERS",
    "LOSS_NAMES",
    "MODEL_NAMES",
    "OBJECTIVES",
    "PRESETS",
    "PROFILES",
    "SCALES",
    "SOLVERS",
    "SOURCES",
    "AblationRow",
    "Busy",
    "CandidateConfig",
    "DataError",
    "EngineError",
    "LocalEngine",
    "MFConfig",
    "RankerConfig",
    "Split",
    "Weighting",
    "faults",
    "generate",
    "locked",
    "outputs",
    "measure_candidates",
    "parse_cutoff",
    "prepared_folder",
    "save_evaluation",
    "serve_app",
    "shard_folder",
    "shop_statistics",
    "staged",
    "train_baseline",
    "write_serving_files",
    "write_report",
    "CheckReport",
    "Dataset",
    "Engine",
    "Evaluation",
    "Model",
    "ModelError",
    "Score",
    "Settings",
    "check",
    "evaluate",
    "fit",
    "holdout",
    "holdout_weeks",
    "load",
    "load_model",
    "prepare",
    "read_customers",
    "refuse_stray",
    "running",
    "submit",
    "Submission",
    "refuse_outputs",
    "publishing",
]
