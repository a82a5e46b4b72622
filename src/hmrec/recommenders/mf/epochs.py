"""What every MF trainer shares (``train.py``'s SGD and ``als.py``'s ALS): the weighted pairs it
trains on (``Interactions``), the result per epoch (``TrainResult``) and the bookkeeping around
epochs (``EpochLog``: scores, best weights, checkpoints, resume, early stopping)."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from hmrec.data.atomic import write_atomic
from hmrec.recommenders.mf.config import MFConfig
from hmrec.recommenders.mf.model import MatrixFactorization

LAST = "last.pt"
BEST = "best.pt"


@dataclass(frozen=True)
class Interactions:
    """Weighted ``(customer, article)`` pairs as aligned tensors, plus the index ranges."""

    customers: torch.Tensor  # int64
    articles: torch.Tensor  # int64
    weights: torch.Tensor  # float32
    n_customers: int
    n_articles: int

    def __post_init__(self) -> None:
        if len(self.customers) == 0:
            raise ValueError("no interactions to train on: the history before the cutoff is empty")


@dataclass
class TrainResult:
    """Per-epoch mean loss and validation score (NaN when not validated)."""

    losses: list[float] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    best_epoch: int = 0
    warnings: list[str] = field(default_factory=list)


def save_checkpoint(path: Path, state: dict) -> None:
    write_atomic(path, lambda tmp: torch.save(state, tmp))


class EpochLog:
    """What every trainer does around its epochs: scores, the best epoch's weights, a checkpoint
    per epoch (with the trainer's own ``extra`` state), resume, early stopping, ``best.pt``."""

    def __init__(
        self,
        model: MatrixFactorization,
        cfg: MFConfig,
        result: TrainResult,
        checkpoint_dir: Path | None,
        validate: Callable[[MatrixFactorization], float] | None,
        on_epoch: Callable[[int, float, float], None] | None,
    ) -> None:
        self.model, self.cfg, self.result = model, cfg, result
        self.checkpoint_dir, self.validate, self.on_epoch = checkpoint_dir, validate, on_epoch
        self.best_state: dict | None = None
        self.best_score = -math.inf

    def resume(self) -> dict:
        """Load ``last.pt`` into the model and the bookkeeping; the whole checkpoint, for the rest."""
        if self.checkpoint_dir is None or not (self.checkpoint_dir / LAST).is_file():
            raise FileNotFoundError(f"no checkpoint to resume from in {self.checkpoint_dir}")
        saved = torch.load(self.checkpoint_dir / LAST, weights_only=True)
        self.model.load_state_dict(saved["model"])
        self.result.losses, self.result.scores = saved["losses"], saved["scores"]
        self.result.best_epoch, self.best_score = saved["best_epoch"], saved["best_score"]
        self.best_state = saved.get("best_model")
        return saved

    def end_epoch(self, epoch: int, loss: float, extra: dict) -> bool:
        """Record the epoch (validating, checkpointing); True when early stopping says stop."""
        result = self.result
        result.losses.append(loss)
        score = self.validate(self.model) if self.validate else math.nan
        result.scores.append(score)
        if self.validate and score > self.best_score:
            self.best_score, result.best_epoch = score, epoch
            self.best_state = copy.deepcopy(self.model.state_dict())
        elif not self.validate:
            result.best_epoch = epoch
        if self.checkpoint_dir is not None:
            self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
            state = {
                "model": self.model.state_dict(),
                **extra,
                "epoch": epoch,
                "losses": result.losses,
                "scores": result.scores,
                "best_epoch": result.best_epoch,
                "best_score": self.best_score,
                "best_model": self.best_state,
                "config": asdict(self.cfg),
            }
            save_checkpoint(self.checkpoint_dir / LAST, state)
        if self.on_epoch:
            self.on_epoch(epoch, loss, score)
        return bool(self.validate) and epoch - result.best_epoch >= self.cfg.patience

    def finish(self) -> None:
        """Keep the best epoch's weights (when validated) and write ``best.pt``."""
        if self.validate and self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        _save_best(self.model, self.cfg, self.result, self.checkpoint_dir)


def _save_best(model: MatrixFactorization, cfg: MFConfig, result: TrainResult, checkpoint_dir: Path | None) -> None:
    if checkpoint_dir is not None:
        save_checkpoint(
            checkpoint_dir / BEST, {"model": model.state_dict(), "config": asdict(cfg), "best_epoch": result.best_epoch}
        )


def interactions_from(
    customers: np.ndarray, articles: np.ndarray, weights: np.ndarray, n_customers: int, n_articles: int
) -> Interactions:
    return Interactions(
        torch.from_numpy(customers.astype(np.int64)),
        torch.from_numpy(articles.astype(np.int64)),
        torch.from_numpy(weights.astype(np.float32)),
        n_customers,
        n_articles,
    )
