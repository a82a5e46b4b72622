"""The LightGBM ranker: fitted on labelled weeks, early-stopped on the week after them, saved
with its feature list and importance."""

from __future__ import annotations

import errno
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl

from hmrec.data.atomic import write_folder_atomic
from hmrec.ranking import compiled
from hmrec.ranking.config import RankerConfig
from hmrec.ranking.data import LABEL
from hmrec.schema import Col, K

lgb.register_logger(logging.getLogger("hmrec.lightgbm"))  # LightGBM's native lines go to logging, not stderr:
# its errors come back as exceptions, which hmrec words as one message


@dataclass(frozen=True)
class Rows:
    """A labelled week as LightGBM reads it: its features as one float32 matrix (nulls as NaN),
    its labels, its query sizes (one query per customer, rows contiguous) and each query's
    customer. Held instead of the week's frame once the features are known, so the fit never
    holds both."""

    features: np.ndarray
    labels: np.ndarray
    sizes: np.ndarray
    customers: np.ndarray

    @classmethod
    def of(cls, frame: pl.DataFrame, features: Sequence[str]) -> Rows:
        """The rows of a labelled frame (sorted by customer), its ``features`` in order."""
        if frame.height == 0:
            empty = np.empty(0, np.int64)
            return cls(np.empty((0, len(features)), np.float32), np.empty(0, np.uint8), empty, empty)
        runs = frame[Col.CUSTOMER].rle()
        sizes, customers = runs.struct.field("len").to_numpy(), runs.struct.field("value").to_numpy()
        return cls(matrix(frame, features), frame[LABEL].to_numpy(), sizes, customers)

    @property
    def height(self) -> int:
        return len(self.labels)


def feature_frame(frame: pl.DataFrame, features: Sequence[str]) -> pl.DataFrame:
    """The feature columns, in order, as float32 (a column ``frame`` lacks: all null)."""
    missing = [f for f in features if f not in frame.columns]
    if missing:
        frame = frame.with_columns(pl.lit(None, pl.Float32).alias(f) for f in missing)
    return frame.select(pl.col(features).cast(pl.Float32))


def matrix(frame: pl.DataFrame, features: Sequence[str]) -> np.ndarray:
    """The feature columns as a float32 matrix (nulls as NaN, LightGBM's missing value)."""
    return feature_frame(frame, features).to_numpy()


class FitDataset(lgb.Dataset):
    """A LightGBM dataset that hands every fit parameter to LightGBM's C calls. Built from
    ``Sequence`` objects (``ranking/stored.py``), LightGBM's Python side passes only its dataset
    parameters when it draws the rows the bins are found from and finds them, where a matrix
    passes all of them: the ``seed`` (which draws the rows) and ``min_data_in_leaf`` (which drops
    features no split can use) are then lost, and the bins differ. Used for every dataset of a
    fit, so that a validation set and its reference agree on their parameters."""

    def get_params(self) -> dict[str, Any]:
        return dict(self.params or {})


def _dataset(
    weeks: Sequence[Rows],
    features: Sequence[str],
    params: dict[str, Any],
    reference: lgb.Dataset | None = None,
) -> lgb.Dataset:
    """LightGBM's binned dataset of labelled weeks under the fit's ``params``, built from each
    week's matrix as it is (the bins and so the trees are those of the weeks stacked into one
    matrix, which is never made) and constructed here."""
    filled = [w for w in weeks if w.height]
    if not filled:
        raise ValueError("no training rows: no week had a buyer whose candidates include an article they bought")
    data = FitDataset(
        [w.features for w in filled],
        label=np.concatenate([w.labels for w in filled]),
        group=np.concatenate([w.sizes for w in filled]),
        feature_name=list(features),
        reference=reference,
        params=params,
        free_raw_data=True,
    )
    return data.construct()


@dataclass(frozen=True)
class TrainingSet:
    """The weeks the trees learn from, binned into LightGBM's dataset under ``config``'s
    parameters: once it is built, the weeks' matrices may go (a byte per value instead of four)."""

    dataset: lgb.Dataset
    height: int
    config: RankerConfig

    @classmethod
    def of(cls, weeks: Sequence[Rows], features: Sequence[str], config: RankerConfig) -> TrainingSet:
        return cls(_dataset(weeks, features, config.params()), sum(w.height for w in weeks), config)


@dataclass(frozen=True)
class ValidationSet:
    """The week that picks the rounds, binned under a ``TrainingSet``'s bins (LightGBM's
    reference; ``StoredWeeks.validation`` builds it from the week's parts on disk). No dataset:
    no rows."""

    dataset: lgb.Dataset | None
    height: int


EXPLAIN = Col.EXPLAIN
"""The column of a recommendation's reasons (``FittedRanker.reasons``)."""
REASONS = 3
"""Features named per explained recommendation."""


@dataclass
class FittedRanker:
    """A booster with the features it reads, in order, and how it was chosen."""

    booster: lgb.Booster
    features: list[str]
    best_round: int
    valid_map: float | None
    forest: compiled.CompiledForest | None = field(default=None, repr=False, compare=False)
    """The trees compiled (``prepare``), which score the same as the booster, faster."""

    def prepare(self, rows: int) -> None:
        """Compile the trees when ``rows`` rows are about to be scored and that is worth it
        (``compiled.COMPILE_ROWS``); the scores stay the same either way."""
        if self.forest is None and rows >= compiled.COMPILE_ROWS:
            self.forest = compiled.compile_forest(self.booster)

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        """Scores for the rows of ``frame`` (higher: more likely bought)."""
        if frame.height == 0:
            return np.empty(0, dtype=np.float64)
        if self.forest is not None:
            return self.forest.predict(feature_frame(frame, self.features))
        return self.booster.predict(matrix(frame, self.features), num_threads=0)

    def reasons(self, frame: pl.DataFrame, n: int = REASONS) -> pl.Series:
        """For each row of ``frame``, the ``n`` features that moved its score most (LightGBM's
        per-row contributions, SHAP values: largest magnitude first): ``explain``, a list of
        ``{feature, contribution}``. About 40 us a row on 2 cores: for the rows served, not the
        candidates."""
        dtype = pl.List(pl.Struct({"feature": pl.String, "contribution": pl.Float64}))
        if frame.height == 0:
            return pl.Series(EXPLAIN, [], dtype=dtype)
        contributions = self.booster.predict(matrix(frame, self.features), pred_contrib=True, num_threads=0)
        values = np.asarray(contributions)[:, : len(self.features)]  # the last column is the expected value
        order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :n]
        top = np.take_along_axis(values, order, axis=1)
        names = np.asarray(self.features, dtype=object)[order]
        rows = [
            [{"feature": f, "contribution": float(c)} for f, c in zip(fs, cs, strict=True)]
            for fs, cs in zip(names.tolist(), top.tolist(), strict=True)
        ]
        return pl.Series(EXPLAIN, rows, dtype=dtype)

    def __getstate__(self) -> dict[str, object]:
        # a compiled forest is native code of this process: another process (a Ray worker)
        # compiles its own
        return {**self.__dict__, "forest": None}

    def importance(self) -> pl.DataFrame:
        """``feature, gain, splits``, largest gain first."""
        return pl.DataFrame(
            {
                "feature": self.features,
                "gain": self.booster.feature_importance("gain").astype(np.float64),
                "splits": self.booster.feature_importance("split").astype(np.int64),
            }
        ).sort("gain", descending=True)

    def save(self, folder: Path, meta: dict[str, object]) -> Path:
        """Write ``model.txt``, ``features.json`` (the features and ``meta``) and ``importance.csv``
        to ``folder``, all or nothing."""

        def write(tmp: Path) -> None:
            try:
                self.booster.save_model(str(tmp / "model.txt"))
            except lgb.basic.LightGBMError as exc:  # a system error naming the file (a full disk, most likely)
                full = "cannot write" in str(exc).lower()
                code, why = (
                    (errno.ENOSPC, "No space left on device") if full else (errno.EIO, "LightGBM could not write it")
                )
                raise OSError(code, why, str(folder / "model.txt")) from None
            info = {
                "features": self.features,
                "best_round": self.best_round,
                "valid_map": _stable(self.valid_map),
                **meta,
            }
            (tmp / "features.json").write_text(json.dumps(info, indent=2, default=str))
            self.importance().write_csv(tmp / "importance.csv")

        return write_folder_atomic(folder, write)

    @classmethod
    def load(cls, folder: Path) -> FittedRanker:
        """The ranker ``save`` wrote to ``folder``."""
        if not (folder / "model.txt").exists():
            raise FileNotFoundError(f"no ranker in {folder}: model.txt is missing")
        names = folder / "features.json"
        try:
            info = json.loads(names.read_text())
            features, best_round, valid_map = info["features"], int(info["best_round"]), info.get("valid_map")
            if valid_map is not None:
                valid_map = float(valid_map)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # UnicodeDecodeError is a ValueError
            raise ValueError(
                f"{names}: not the feature list hmrec writes ({type(exc).__name__}: {str(exc)[:80]})"
            ) from None
        if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
            raise ValueError(f"{names}: features must be a list of names")
        try:
            text = (folder / "model.txt").read_text()
        except UnicodeDecodeError:
            raise ValueError(f"{folder / 'model.txt'}: not text (a LightGBM model file is)") from None
        problem = model_text_problem(text)
        if problem:  # LightGBM's own parser can crash the process on a damaged file: never let it see one
            raise ValueError(f"{folder / 'model.txt'}: not a whole LightGBM model ({problem})")
        try:
            booster = lgb.Booster(model_str=text)  # the text just checked: one read, nothing changed in between
        except lgb.basic.LightGBMError as exc:
            raise ValueError(f"{folder / 'model.txt'}: LightGBM cannot read it ({str(exc)[:120]})") from None
        if booster.feature_name() != features:  # checked before any predict: other columns would score silently
            raise ValueError(
                f"{folder / 'features.json'}: its {len(features)} features are not the {booster.num_feature()} "
                "the trees of model.txt read, in that order"
            )
        return cls(booster, features, best_round, valid_map)


def _stable(value: float | None) -> float | None:
    """``value`` to 12 decimals: LightGBM sums its metric across threads in no fixed order, and
    its last digits vary between identical runs (the saved file should not)."""
    return None if value is None else round(value, 12)


_TREE_ARRAYS = ("split_feature", "split_gain", "threshold", "decision_type", "left_child", "right_child")


def model_text_problem(text: str) -> str | None:
    """What makes ``text`` not a whole LightGBM model file as ``save_model`` writes it (None: it
    is one): its end cut off, a tree whose arrays disagree with its ``num_leaves``, a child or a
    feature out of range. LightGBM's parser trusts these and can abort or crash on them."""
    lines = text.rstrip("\n").split("\n")
    if "end of trees" not in lines or not lines[-1].startswith("pandas_categorical:"):
        return "its end is missing: cut short?"
    header = dict(line.split("=", 1) for line in lines[: lines.index("") if "" in lines else 0] if "=" in line)
    try:
        n_features = int(header["max_feature_idx"]) + 1
        sizes = header.get("tree_sizes", "").split()
        blocks = text.split("\nTree=")[1:]
        blocks[-1] = blocks[-1].split("\nend of trees")[0]
        if len(blocks) != len(sizes):
            return f"{len(blocks)} trees where its header lists {len(sizes)}"
        for number, block in enumerate(blocks):
            tree = dict(line.split("=", 1) for line in block.split("\n")[1:] if "=" in line)
            leaves = int(tree["num_leaves"])
            if not 1 <= leaves <= 1 << 17 or len(tree["leaf_value"].split()) != leaves:
                return f"tree {number}: {leaves} leaves and {len(tree['leaf_value'].split())} leaf values"
            if leaves == 1:
                continue
            arrays = {key: tree[key].split() for key in _TREE_ARRAYS}
            if any(len(values) != leaves - 1 for values in arrays.values()):
                return f"tree {number}: its split arrays do not have num_leaves - 1 = {leaves - 1} values"
            children = [int(c) for key in ("left_child", "right_child") for c in arrays[key]]
            if any(not -leaves <= c < leaves - 1 for c in children):
                return f"tree {number}: a child out of range"
            if any(not 0 <= int(f) < n_features for f in arrays["split_feature"]):
                return f"tree {number}: a split on a feature it does not have"
    except (KeyError, ValueError, IndexError) as exc:
        return f"a malformed header or tree ({type(exc).__name__}: {str(exc)[:80]})"
    return None


ROUND_REPORT = 25
"""Boosting rounds between two reports of a fit's progress."""


def _round_reporter(on_round: Callable[[int, int], None]) -> Callable[[lgb.callback.CallbackEnv], None]:
    def report(env: lgb.callback.CallbackEnv) -> None:
        done = env.iteration + 1
        if done % ROUND_REPORT == 0 or done == env.end_iteration:
            on_round(done, env.end_iteration)

    return report


def fit_ranker(
    train: Sequence[Rows] | TrainingSet,
    valid: Rows | ValidationSet | None,
    features: Sequence[str],
    config: RankerConfig,
    rounds: int | None = None,
    on_round: Callable[[int, int], None] | None = None,
) -> FittedRanker:
    """Fit on the labelled weeks ``train`` (their ``Rows``, whose columns are ``features``, or
    their ``TrainingSet`` under the same ``config``). With ``valid`` (its ``Rows``, or its
    ``ValidationSet`` binned under that ``TrainingSet``), stop when its MAP@12 has not risen for
    ``config.early_stopping`` rounds and keep the best round; else run ``rounds`` rounds. ``on_round(done, most)`` hears of the boosting
    rounds, every ``ROUND_REPORT`` of them."""
    if not features:
        raise ValueError("the ranker has no features left to learn from")
    params = config.params()
    if isinstance(train, TrainingSet):
        if train.config.params() != params:
            raise ValueError("the training set was binned under other LightGBM parameters than the fit's")
        train_set = train.dataset
    else:
        train_set = _dataset(train, features, params)
    reporting = [_round_reporter(on_round)] if on_round else []
    if valid is None or valid.height == 0:
        n = rounds or config.max_rounds
        booster = lgb.train(params, train_set, num_boost_round=n, callbacks=reporting)
        return FittedRanker(booster, list(features), n, None)
    if isinstance(valid, ValidationSet):
        if valid.dataset is None or valid.dataset.reference is not train_set:
            raise ValueError("the validation set was binned under another training set than the fit's")
        valid_set = valid.dataset
    else:
        valid_set = _dataset([valid], features, params, reference=train_set)
    booster = lgb.train(
        params,
        train_set,
        num_boost_round=config.max_rounds,
        valid_sets=[valid_set],
        valid_names=["next_week"],
        # ties are not progress
        callbacks=[*reporting, lgb.early_stopping(config.early_stopping, verbose=False, min_delta=1e-9)],
    )
    best = booster.best_iteration or config.max_rounds
    score = booster.best_score["next_week"].get(f"map@{K}")
    return FittedRanker(booster, list(features), best, None if score is None else float(score))
