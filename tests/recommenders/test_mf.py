"""The MF baseline: weights per preset, learning, determinism, checkpoints, prediction."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch
from polars.testing import assert_frame_equal

from hmrec.recommenders.mf import losses
from hmrec.recommenders.mf.config import MFConfig
from hmrec.recommenders.mf.model import MatrixFactorization
from hmrec.recommenders.mf.recommender import MFRecommender, top_n_scores
from hmrec.recommenders.mf.train import interactions_from, train
from hmrec.recommenders.mf.weights import PRESETS, WEIGHT, Weighting, interaction_weights
from hmrec.schema import Col

CUTOFF = date(2020, 9, 22)


def rows(data: list[tuple[str, int, int, float]]) -> pl.LazyFrame:
    """(date, customer, article, price) as prepared transactions."""
    return pl.LazyFrame(
        {
            Col.DATE: [date.fromisoformat(r[0]) for r in data],
            Col.CUSTOMER: pl.Series([r[1] for r in data], dtype=pl.UInt32),
            Col.ARTICLE: pl.Series([r[2] for r in data], dtype=pl.UInt32),
            Col.PRICE: pl.Series([r[3] for r in data], dtype=pl.Float32),
        }
    )


WEIGHT_CASE = rows(
    [
        ("2020-09-21", 0, 1, 0.10),  # 1 day before the cutoff, full price (0.10 is the max)
        ("2020-09-12", 0, 1, 0.05),  # 10 days before, half price: same pair, summed
        ("2020-06-24", 1, 2, 0.02),  # 90 days before, the only price of article 2
    ]
)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_weights_by_hand(preset: str) -> None:
    w = PRESETS[preset]
    got = interaction_weights(WEIGHT_CASE, CUTOFF, w).collect().sort(Col.CUSTOMER)
    discount_half = (1 - w.price_weight) + w.price_weight * 0.5
    expected_pair0 = math.exp(-w.t_decay * 1) + math.exp(-w.t_decay * 10) * discount_half
    expected_pair1 = math.exp(-w.t_decay * 90)
    assert got[WEIGHT].to_list() == pytest.approx([expected_pair0, expected_pair1], rel=1e-6)


def test_zero_strengths_turn_weighting_off() -> None:
    got = interaction_weights(WEIGHT_CASE, CUTOFF, Weighting(0.0, 0.0)).collect().sort(Col.CUSTOMER)
    assert got[WEIGHT].to_list() == [2.0, 1.0]  # plain purchase counts


def test_weights_ignore_rows_from_the_cutoff_on() -> None:
    future = pl.concat([WEIGHT_CASE, rows([("2020-09-22", 0, 1, 0.5)])])
    assert_frame_equal(
        interaction_weights(future, CUTOFF, PRESETS["decay0.01-price1"]).collect().sort(Col.CUSTOMER),
        interaction_weights(WEIGHT_CASE, CUTOFF, PRESETS["decay0.01-price1"]).collect().sort(Col.CUSTOMER),
    )


def test_bad_weighting_is_refused() -> None:
    with pytest.raises(ValueError, match="price_weight"):
        Weighting(0.01, 2.0)


def two_tastes(n_customers: int = 60, n_articles: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Even customers buy even articles, odd customers odd ones (a known right answer)."""
    rng = np.random.default_rng(seed)
    customers, articles = [], []
    for c in range(n_customers):
        own = np.arange(c % 2, n_articles, 2)
        for a in rng.choice(own, size=6, replace=False):
            customers.append(c)
            articles.append(a)
    return np.array(customers), np.array(articles)


CFG = MFConfig(dim=8, epochs=30, batch_size=64, lr=0.05, l2=0.0, patience=100)


def fitted(cfg: MFConfig = CFG, **kwargs: object) -> tuple[MatrixFactorization, object]:
    c, a = two_tastes()
    data = interactions_from(c, a, np.ones(len(c)), 60, 20)
    torch.manual_seed(cfg.seed)
    model = MatrixFactorization(60, 20, cfg.dim)
    return model, train(model, data, cfg, **kwargs)


@pytest.mark.parametrize("loss", ["bpr", "bce"])
def test_learns_each_customers_taste(loss: str) -> None:
    model, _ = fitted(replace(CFG, loss=loss))
    scores = model.score_matrix(torch.arange(60), torch.arange(20))
    same = scores[0::2, 0::2].mean() - scores[0::2, 1::2].mean()
    other = scores[1::2, 1::2].mean() - scores[1::2, 0::2].mean()
    assert same > 0.5 and other > 0.5
    top = torch.topk(scores, 5, dim=1).indices
    assert bool(((top % 2) == (torch.arange(60) % 2)[:, None]).float().mean() > 0.9)


def test_same_seed_same_model() -> None:
    first, _ = fitted(replace(CFG, epochs=3))
    second, _ = fitted(replace(CFG, epochs=3))
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_checkpoint_and_resume_match_one_run(tmp_path: Path) -> None:
    straight, _ = fitted(replace(CFG, epochs=4))
    fitted(replace(CFG, epochs=2), checkpoint_dir=tmp_path)
    c, a = two_tastes()
    resumed = MatrixFactorization(60, 20, CFG.dim)
    result = train(
        resumed,
        interactions_from(c, a, np.ones(len(c)), 60, 20),
        replace(CFG, epochs=4),
        checkpoint_dir=tmp_path,
        resume=True,
    )
    assert len(result.losses) == 4
    for x, y in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.allclose(x, y)


def test_resume_without_checkpoint_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        fitted(checkpoint_dir=tmp_path, resume=True)


def test_early_stopping_keeps_the_best_epoch() -> None:
    scores = iter([0.1, 0.3, 0.2, 0.1, 0.05, 0.0])
    snapshots: list[torch.Tensor] = []

    def validate(model: MatrixFactorization) -> float:
        snapshots.append(model.article.weight.detach().clone())
        return next(scores)

    model, result = fitted(replace(CFG, epochs=6, patience=2), validate=validate)
    assert result.best_epoch == 1 and len(result.scores) == 4  # stopped 2 epochs after the best
    assert torch.equal(model.article.weight, snapshots[1])


def test_nan_loss_raises() -> None:
    c, a = two_tastes()
    data = interactions_from(c, a, np.full(len(c), np.nan), 60, 20)
    with pytest.raises(losses.DegenerateLoss, match="epoch 0"):
        train(MatrixFactorization(60, 20, 4), data, CFG)


def test_observed_only_loss_cannot_rank() -> None:
    """Without negatives every score drifts up together: the other taste is not pushed down."""
    model, _ = fitted(replace(CFG, loss="observed"))
    scores = model.score_matrix(torch.arange(60), torch.arange(20))
    bpr_model, _ = fitted(CFG)
    bpr_scores = bpr_model.score_matrix(torch.arange(60), torch.arange(20))

    def gap(s: torch.Tensor) -> float:
        return float((s[0::2, 0::2].mean() - s[0::2, 1::2].mean()) / s.std())

    assert gap(scores) < gap(bpr_scores)


def test_chunked_scoring_equals_one_shot() -> None:
    model, _ = fitted(replace(CFG, epochs=3))
    customers = np.arange(60)
    candidates = np.arange(3, 20)
    one = top_n_scores(model, customers, candidates, 7, chunk_size=1000)
    chunked = top_n_scores(model, customers, candidates, 7, chunk_size=7)
    assert_frame_equal(one, chunked)
    assert set(one[Col.ARTICLE]) <= set(candidates.tolist())


def test_excluded_pairs_are_not_returned() -> None:
    model, _ = fitted(replace(CFG, epochs=3))
    top = top_n_scores(model, np.array([0]), np.arange(20), 3)
    banned = top.select(Col.CUSTOMER, Col.ARTICLE).head(2)
    again = top_n_scores(model, np.array([0]), np.arange(20), 3, exclude=banned)
    assert not set(again[Col.ARTICLE]) & set(banned[Col.ARTICLE])
    assert again.height == 3


def shop_history(n_weeks: int = 6) -> pl.LazyFrame:
    c, a = two_tastes()
    days = [f"2020-09-{1 + (i % 20):02d}" for i in range(len(c))]
    return rows([(d, int(ci), int(ai), 0.05) for d, ci, ai in zip(days, c, a, strict=True)])


def test_recommender_serves_unseen_customers_the_popular_list() -> None:
    history = shop_history()
    model = MFRecommender(replace(CFG, epochs=3), tune_epochs=False).fit(history, CUTOFF)
    stranger = model.recommend(pl.Series([10_000], dtype=pl.UInt32))
    assert stranger[Col.ARTICLE].to_list() == model.popular[:12]
    known = model.recommend(pl.Series([0, 1], dtype=pl.UInt32))
    assert known.group_by(Col.CUSTOMER).agg(pl.col(Col.ARTICLE).n_unique())[Col.ARTICLE].to_list() == [12, 12]


def test_filter_bought_drops_own_purchases() -> None:
    history = shop_history()
    model = MFRecommender(replace(CFG, epochs=3), tune_epochs=False, filter_bought=True).fit(history, CUTOFF)
    bought = set(history.filter(pl.col(Col.CUSTOMER) == 0).collect()[Col.ARTICLE])
    picks = model.top_n(pl.Series([0], dtype=pl.UInt32), 5)[Col.ARTICLE].to_list()
    assert picks and not set(picks) & bought


def test_cuda_without_a_gpu_falls_back_to_the_cpu_with_a_warning() -> None:
    from hmrec.recommenders.mf.train import resolve_device

    device, warning = resolve_device("cuda")
    if torch.cuda.is_available():
        assert device.type == "cuda" and warning is None
    else:
        assert device.type == "cpu" and "no CUDA GPU" in warning
    assert resolve_device("cpu") == (torch.device("cpu"), None)


def test_every_loss_name_has_a_loss() -> None:
    from hmrec.recommenders.mf.config import LOSS_NAMES

    assert set(LOSS_NAMES) == set(losses.LOSSES)


def test_the_cli_starts_without_torch() -> None:
    import subprocess
    import sys

    code = "import sys, hmrec.cli; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_exclusion_works_for_customers_in_any_order() -> None:
    model, _ = fitted(replace(CFG, epochs=3))
    customers = np.array([7, 2, 5])
    plain = top_n_scores(model, customers, np.arange(20), 4)
    banned = plain.filter(pl.col(Col.RANK) == 1).select(Col.CUSTOMER, Col.ARTICLE)
    masked = top_n_scores(model, customers, np.arange(20), 4, exclude=banned)
    assert masked.join(banned, on=[Col.CUSTOMER, Col.ARTICLE], how="semi").is_empty()
    # each customer's second-best becomes their best
    second = plain.filter(pl.col(Col.RANK) == 2).sort(Col.CUSTOMER)[Col.ARTICLE].to_list()
    assert masked.filter(pl.col(Col.RANK) == 1).sort(Col.CUSTOMER)[Col.ARTICLE].to_list() == second
