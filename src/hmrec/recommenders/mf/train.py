"""The training loop: index batches cut from arrays, sampled negatives, checkpoints, early stop."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from hmrec.recommenders.mf import losses
from hmrec.recommenders.mf.als import train_als
from hmrec.recommenders.mf.config import LIKE_BOUGHT, MFConfig
from hmrec.recommenders.mf.epochs import EpochLog, Interactions, TrainResult
from hmrec.recommenders.mf.model import MatrixFactorization


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
    The ``als`` solver is ``als.train_als`` (same contract; it alone takes ``article_reg_scale``).
    """
    if cfg.solver == "als":
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
    progress = EpochLog(model, cfg, result, checkpoint_dir, validate, on_epoch)
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
            loss = _batch_loss(model, data, idx, cfg, gen, device, loss_fn)
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


def _batch_loss(
    model: MatrixFactorization,
    data: Interactions,
    idx: torch.Tensor,
    cfg: MFConfig,
    gen: torch.Generator,
    device: torch.device,
    loss_fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
) -> torch.Tensor:
    """The loss of the pairs ``idx`` against one sampled negative each (drawn from ``gen``), with
    the L2 penalty of the rows they touch."""
    users, items, w = data.customers[idx], data.articles[idx], data.weights[idx]
    if cfg.negatives == LIKE_BOUGHT:
        neg = data.articles[torch.randint(0, len(data.customers), (len(idx),), generator=gen)]
    else:
        neg = torch.randint(0, data.n_articles, (len(idx),), generator=gen)
    users, items, neg, w = users.to(device), items.to(device), neg.to(device), w.to(device)
    pos_score, neg_score = model(users, items), model(users, neg)
    reg = (
        cfg.l2
        * (model.customer(users).pow(2).sum() + model.article(items).pow(2).sum() + model.article(neg).pow(2).sum())
        / len(idx)
    )
    return loss_fn(pos_score, neg_score, w) + reg
