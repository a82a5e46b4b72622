"""The training loop: index batches cut from arrays, sampled negatives, checkpoints, early stop."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from hmrec.data.atomic import write_atomic
from hmrec.recommenders.mf import losses
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


class RowAdagrad(torch.optim.Optimizer):
    """Adagrad with one accumulator per embedding row, applied to sparse gradients as they come.

    ``torch.optim.SparseAdam`` coalesces each sparse gradient first, which costs more than the
    forward and backward passes together at full H&M size; scattering the uncoalesced rows with
    ``index_add_`` does not (benchmarks/mf_speed.py).
    """

    def __init__(self, params: list[torch.nn.Parameter], lr: float, eps: float = 1e-8) -> None:
        super().__init__(params, {"lr": lr, "eps": eps})
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["sum"] = torch.zeros(p.shape[0], dtype=p.dtype, device=p.device)

    @torch.no_grad()
    def step(self, closure: None = None) -> None:  # type: ignore[override]
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if grad.is_sparse:
                    rows, values = grad._indices()[0], grad._values()
                else:
                    rows, values = torch.arange(p.shape[0], device=p.device), grad
                acc = self.state[p]["sum"]
                acc.index_add_(0, rows, values.pow(2).mean(1))
                scale = group["lr"] / (acc[rows].sqrt() + group["eps"])
                p.index_add_(0, rows, -values * scale[:, None])


def resolve_device(name: str) -> tuple[torch.device, str | None]:
    """The device to use, falling back to the CPU (with a warning) when CUDA is absent."""
    if name.startswith("cuda") and not torch.cuda.is_available():
        return torch.device("cpu"), f"--device {name} asked for, but no CUDA GPU is present: training on the CPU"
    return torch.device(name), None


def save_checkpoint(path: Path, state: dict) -> None:
    write_atomic(path, lambda tmp: torch.save(state, tmp))


def train(
    model: MatrixFactorization,
    data: Interactions,
    cfg: MFConfig,
    *,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    validate: Callable[[MatrixFactorization], float] | None = None,
    on_epoch: Callable[[int, float, float], None] | None = None,
    article_reg_scale: float = 1.0,
) -> TrainResult:
    """Train ``model`` in place; with ``validate``, stop early and keep the best epoch's weights.

    A checkpoint (model, optimiser, random state, scores) is written to ``checkpoint_dir`` after
    every epoch; ``resume`` continues from it. Raises ``losses.DegenerateLoss`` on a NaN loss.
    ``cfg.solver == "als"`` hands the work to ``als.train_als`` (same contract; it alone takes
    ``article_reg_scale``).
    """
    if cfg.solver == "als":
        from hmrec.recommenders.mf.als import train_als

        return train_als(
            model,
            data,
            cfg,
            checkpoint_dir=checkpoint_dir,
            resume=resume,
            validate=validate,
            on_epoch=on_epoch,
            article_reg_scale=article_reg_scale,
        )
    if article_reg_scale != 1.0:
        raise ValueError("article_reg_scale is a setting of the als solver")
    device, warning = resolve_device(cfg.device)
    model.to(device)
    optimizer = RowAdagrad(list(model.parameters()), lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    result = TrainResult(warnings=[warning] if warning else [])
    progress = Progress(model, cfg, result, checkpoint_dir, validate, on_epoch)
    start = 0
    if resume:
        saved = progress.resume()
        optimizer.load_state_dict(saved["optimizer"])
        gen.set_state(saved["generator"])
        start = saved["epoch"] + 1
    loss_fn = losses.LOSSES[cfg.loss]
    n = len(data.customers)
    for epoch in range(start, cfg.epochs):
        order = torch.randperm(n, generator=gen)
        total = 0.0
        for step, lo in enumerate(range(0, n, cfg.batch_size)):
            idx = order[lo : lo + cfg.batch_size]
            users, items, w = data.customers[idx], data.articles[idx], data.weights[idx]
            if cfg.negatives == "popular":
                neg = data.articles[torch.randint(0, n, (len(idx),), generator=gen)]
            else:
                neg = torch.randint(0, data.n_articles, (len(idx),), generator=gen)
            users, items, neg, w = users.to(device), items.to(device), neg.to(device), w.to(device)
            pos_score, neg_score = model(users, items), model(users, neg)
            reg = (
                cfg.l2
                * (
                    model.customer(users).pow(2).sum()
                    + model.article(items).pow(2).sum()
                    + model.article(neg).pow(2).sum()
                )
                / len(idx)
            )
            loss = loss_fn(pos_score, neg_score, w) + reg
            losses.check(loss, epoch, step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        extra = {"optimizer": optimizer.state_dict(), "generator": gen.get_state()}
        if progress.end_epoch(epoch, total / n, extra):
            break
    progress.finish()
    return result


class Progress:
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
