"""Losses for implicit feedback; each a small pure function of scores and weights.

* ``bpr``: Bayesian personalised ranking (Rendle et al., 2009), a bought article should
  outscore a sampled one: ``-w * log sigmoid(s_pos - s_neg)``.
* ``bce``: weighted binary cross-entropy, bought pairs are 1 (weighted), sampled ones 0.
* ``observed``: squared error on bought pairs only, no negatives. It cannot rank unbought
  articles (every score can grow without penalty); kept to show that next to the others.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bpr(pos: torch.Tensor, neg: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return -(weight * F.logsigmoid(pos - neg)).sum() / weight.sum()


def bce(pos: torch.Tensor, neg: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    positive = weight * F.softplus(-pos)
    negative = F.softplus(neg)
    return (positive.sum() + negative.sum()) / (weight.sum() + len(neg))


def observed(pos: torch.Tensor, neg: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    del neg  # no negatives: the point of this loss is that it ignores them
    return (weight * (1.0 - pos) ** 2).sum() / weight.sum()


LOSSES = {"bpr": bpr, "bce": bce, "observed": observed}


class DegenerateLoss(RuntimeError):
    """Training produced a NaN or infinite loss: stop rather than train on garbage."""


def check(loss: torch.Tensor, epoch: int, step: int) -> None:
    if not torch.isfinite(loss):
        raise DegenerateLoss(
            f"loss became {loss.item()} at epoch {epoch}, step {step}; lower the learning rate or check the weights"
        )
