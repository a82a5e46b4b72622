"""The LightGBM ranker: fitted on labelled weeks, early-stopped on the week after them, saved
with its feature list and importance."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import lightgbm as lgb
import numpy as np
import polars as pl

from hmrec.data.atomic import write_folder_atomic
from hmrec.ranking.config import RankerConfig
from hmrec.ranking.data import LABEL
from hmrec.schema import Col, K

GROUP = "__group"
"""A training frame's query id: one per (week, customer)."""


def stack_weeks(weeks: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """Labelled weeks (each sorted by customer) as one frame with a ``__group`` id per
    (week, customer), rows of a group contiguous."""
    parts = [w.with_columns(pl.lit(i, pl.UInt64).alias(GROUP)) for i, w in enumerate(weeks) if w.height]
    if not parts:
        raise ValueError("no training rows: no week had a buyer whose candidates include an article they bought")
    frame = pl.concat(parts, how="diagonal_relaxed")
    return frame.with_columns((pl.col(GROUP) * (1 << 32) + pl.col(Col.CUSTOMER).cast(pl.UInt64)).alias(GROUP))


def matrix(frame: pl.DataFrame, features: Sequence[str]) -> np.ndarray:
    """The feature columns as a float32 matrix (nulls as NaN, LightGBM's missing value)."""
    missing = [f for f in features if f not in frame.columns]
    if missing:
        frame = frame.with_columns(pl.lit(None, pl.Float32).alias(f) for f in missing)
    return frame.select(pl.col(features).cast(pl.Float32)).to_numpy()


def _dataset(frame: pl.DataFrame, features: Sequence[str], reference: lgb.Dataset | None = None) -> lgb.Dataset:
    sizes = frame[GROUP].rle().struct.field("len").to_numpy()
    return lgb.Dataset(
        matrix(frame, features),
        label=frame[LABEL].to_numpy(),
        group=sizes,
        feature_name=list(features),
        reference=reference,
        free_raw_data=True,
    )


@dataclass
class FittedRanker:
    """A booster with the features it reads, in order, and how it was chosen."""

    booster: lgb.Booster
    features: list[str]
    best_round: int
    valid_map: float | None

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        """Scores for the rows of ``frame`` (higher: more likely bought)."""
        if frame.height == 0:
            return np.empty(0, dtype=np.float64)
        return self.booster.predict(matrix(frame, self.features), num_threads=0)

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
            self.booster.save_model(str(tmp / "model.txt"))
            info = {"features": self.features, "best_round": self.best_round, "valid_map": self.valid_map, **meta}
            (tmp / "features.json").write_text(json.dumps(info, indent=2, default=str))
            self.importance().write_csv(tmp / "importance.csv")

        return write_folder_atomic(folder, write)

    @classmethod
    def load(cls, folder: Path) -> FittedRanker:
        """The ranker ``save`` wrote to ``folder``."""
        if not (folder / "model.txt").exists():
            raise FileNotFoundError(f"no ranker in {folder}: model.txt is missing")
        info = json.loads((folder / "features.json").read_text())
        features = info["features"]
        if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
            raise ValueError(f"{folder / 'features.json'}: features must be a list of names")
        booster = lgb.Booster(model_file=str(folder / "model.txt"))
        if booster.feature_name() != features:  # checked before any predict: other columns would score silently
            raise ValueError(
                f"{folder / 'features.json'}: its {len(features)} features are not the {booster.num_feature()} "
                "the trees of model.txt read, in that order"
            )
        return cls(booster, features, int(info["best_round"]), info.get("valid_map"))


def fit_ranker(
    train: pl.DataFrame,
    valid: pl.DataFrame | None,
    features: Sequence[str],
    config: RankerConfig,
    rounds: int | None = None,
) -> FittedRanker:
    """Fit on ``train`` (from ``stack_weeks``). With ``valid``, stop when its MAP@12 has not risen
    for ``config.early_stopping`` rounds and keep the best round; else run ``rounds`` rounds."""
    if not features:
        raise ValueError("the ranker has no features left to learn from")
    params = config.params()
    train_set = _dataset(train, features)
    if valid is None or valid.height == 0:
        n = rounds or config.max_rounds
        booster = lgb.train(params, train_set, num_boost_round=n)
        return FittedRanker(booster, list(features), n, None)
    valid_set = _dataset(valid, features, reference=train_set)
    booster = lgb.train(
        params,
        train_set,
        num_boost_round=config.max_rounds,
        valid_sets=[valid_set],
        valid_names=["next_week"],
        callbacks=[lgb.early_stopping(config.early_stopping, verbose=False, min_delta=1e-9)],  # ties: not progress
    )
    best = booster.best_iteration or config.max_rounds
    score = booster.best_score["next_week"].get(f"map@{K}")
    return FittedRanker(booster, list(features), best, None if score is None else float(score))
