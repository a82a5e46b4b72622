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

from hmrec.data.week import WeekInput
from hmrec.recommenders.mf import losses
from hmrec.recommenders.mf.config import MFConfig
from hmrec.recommenders.mf.epochs import interactions_from
from hmrec.recommenders.mf.model import MatrixFactorization
from hmrec.recommenders.mf.recommender import MFRecommender
from hmrec.recommenders.mf.scoring import BONUS, top_n_scores
from hmrec.recommenders.mf.train import train
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


CFG = MFConfig(dim=8, epochs=30, batch_size=64, lr=0.05, l2=0.0, patience=100, solver="sgd")


ALS = MFConfig(dim=8, epochs=8, solver="als", alpha=5.0, reg=0.1, patience=100)
SOLVERS = pytest.mark.parametrize(("cfg", "atol"), [(CFG, 1e-8), (ALS, 1e-6)], ids=["sgd", "als"])
"""Both trainers, and how close a resumed run must come (ALS's sparse sums round a little)."""


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


@SOLVERS
def test_checkpoint_and_resume_match_one_run(tmp_path: Path, cfg: MFConfig, atol: float) -> None:
    straight, _ = fitted(replace(cfg, epochs=4))
    fitted(replace(cfg, epochs=2), checkpoint_dir=tmp_path)
    c, a = two_tastes()
    resumed = MatrixFactorization(60, 20, cfg.dim)
    result = train(
        resumed,
        interactions_from(c, a, np.ones(len(c)), 60, 20),
        replace(cfg, epochs=4),
        checkpoint_dir=tmp_path,
        resume=True,
    )
    assert len(result.losses) == 4 and (tmp_path / "best.pt").is_file()
    for x, y in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.allclose(x, y, atol=atol)


def test_resume_without_checkpoint_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        fitted(checkpoint_dir=tmp_path, resume=True)


@SOLVERS
def test_early_stopping_keeps_the_best_epoch(cfg: MFConfig, atol: float) -> None:
    scores = iter([0.1, 0.3, 0.2, 0.1, 0.05, 0.0])
    snapshots: list[dict[str, torch.Tensor]] = []

    def validate(model: MatrixFactorization) -> float:
        snapshots.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return next(scores)

    model, result = fitted(replace(cfg, epochs=6, patience=2), validate=validate)
    assert result.best_epoch == 1 and len(result.scores) == 4  # stopped 2 epochs after the best
    for name in ("article.weight", "customer.weight"):
        assert torch.equal(model.state_dict()[name], snapshots[1][name])


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
    banned = top.select(Col.CUSTOMER, Col.ARTICLE, pl.lit(-np.inf, dtype=pl.Float32).alias(BONUS)).head(2)
    again = top_n_scores(model, np.array([0]), np.arange(20), 3, adjust=banned)
    assert not set(again[Col.ARTICLE]) & set(banned[Col.ARTICLE])
    assert again.height == 3


def shop_history(n_weeks: int = 6) -> pl.LazyFrame:
    c, a = two_tastes()
    days = [f"2020-09-{1 + (i % 20):02d}" for i in range(len(c))]
    return rows([(d, int(ci), int(ai), 0.05) for d, ci, ai in zip(days, c, a, strict=True)])


def test_recommender_serves_unseen_customers_the_popular_list() -> None:
    history = shop_history()
    model = MFRecommender(replace(CFG, epochs=3), tune_epochs=False).fit(WeekInput.before(history, CUTOFF))
    stranger = model.recommend(pl.Series([10_000], dtype=pl.UInt32))
    assert stranger[Col.ARTICLE].to_list() == model.fill[:12]
    known = model.recommend(pl.Series([0, 1], dtype=pl.UInt32))
    assert known.group_by(Col.CUSTOMER).agg(pl.col(Col.ARTICLE).n_unique())[Col.ARTICLE].to_list() == [12, 12]


def test_filter_bought_drops_own_purchases() -> None:
    history = shop_history()
    model = MFRecommender(replace(CFG, epochs=3), tune_epochs=False, filter="bought").fit(
        WeekInput.before(history, CUTOFF)
    )
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
    banned = plain.filter(pl.col(Col.RANK) == 1).select(
        Col.CUSTOMER, Col.ARTICLE, pl.lit(-np.inf, dtype=pl.Float32).alias(BONUS)
    )
    masked = top_n_scores(model, customers, np.arange(20), 4, adjust=banned)
    assert masked.join(banned, on=[Col.CUSTOMER, Col.ARTICLE], how="semi").is_empty()
    # each customer's second-best becomes their best
    second = plain.filter(pl.col(Col.RANK) == 2).sort(Col.CUSTOMER)[Col.ARTICLE].to_list()
    assert masked.filter(pl.col(Col.RANK) == 1).sort(Col.CUSTOMER)[Col.ARTICLE].to_list() == second


def als_fitted(cfg: MFConfig = ALS, **kwargs: object) -> tuple[MatrixFactorization, object]:
    return fitted(cfg, **kwargs)


def test_als_learns_each_customers_taste() -> None:
    model, result = als_fitted()
    scores = model.score_matrix(torch.arange(60), torch.arange(20))
    top = torch.topk(scores, 5, dim=1).indices
    assert bool(((top % 2) == (torch.arange(60) % 2)[:, None]).all())
    # each epoch solves a least-squares problem from the last solution: the loss never rises
    assert all(b <= a + 1e-6 for a, b in zip(result.losses, result.losses[1:], strict=False))
    assert result.losses[-1] < result.losses[0]


def test_als_rows_are_the_least_squares_solution() -> None:
    """Enough conjugate-gradient steps give each row's exact ridge regression."""
    from hmrec.recommenders.mf.als import Side, solve

    gen = torch.Generator().manual_seed(1)
    c, a = two_tastes()
    weights = torch.rand(len(c), generator=gen)
    fixed = torch.randn(20, 8, generator=gen)
    side = Side.build(torch.from_numpy(c), torch.from_numpy(a), 5.0 * weights, 60, 20)
    rows = torch.randn(60, 8, generator=gen)  # any start
    solve(rows, fixed, side, 0.1, 30)
    conf, target = torch.ones(60, 20), torch.zeros(60, 20)
    conf[c, a] = 1 + 5.0 * weights
    target[c, a] = 1.0
    for u in (0, 1, 33):
        lhs = fixed.T @ torch.diag(conf[u]) @ fixed + 0.1 * torch.eye(8)
        exact = torch.linalg.solve(lhs, fixed.T @ (conf[u] * target[u]))
        assert torch.allclose(rows[u], exact, atol=1e-4)


def test_bad_solver_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="solver"):
        MFConfig(solver="adam")
    with pytest.raises(ValueError, match="alpha"):
        MFConfig(solver="als", alpha=0.0)


@pytest.mark.parametrize("cfg", [ALS, replace(CFG, epochs=10)], ids=["als", "sgd"])
def test_fold_in_gives_a_new_customer_their_taste(cfg: MFConfig) -> None:
    """Fitted without customer 60, then refreshed with their odd-article purchases."""
    history = shop_history()
    model = MFRecommender(cfg, tune_epochs=False).fit(WeekInput.before(history, CUTOFF))
    newcomer = rows([("2020-09-20", 60, 1, 0.05), ("2020-09-20", 60, 3, 0.05), ("2020-09-21", 60, 5, 0.05)])
    before = model.recommend(pl.Series([60], dtype=pl.UInt32))
    assert before[Col.ARTICLE].to_list() == model.fill[:12]  # unseen: the popular list
    model.refresh(WeekInput.before(pl.concat([history, newcomer]), CUTOFF))
    picks = model.top_n(pl.Series([60], dtype=pl.UInt32), 5)[Col.ARTICLE].to_list()
    assert len(picks) == 5 and all(a % 2 == 1 for a in picks)
    # the factors of the customers the model was fitted on are untouched
    assert model.model is not None and model.model.customer.num_embeddings == 61


def test_fold_in_equals_an_als_customer_pass() -> None:
    """A folded-in row is what a customer pass of ALS gives against the same article factors."""
    from hmrec.recommenders.mf.als import Side, fold_in, solve

    model, _ = als_fitted()
    articles = model.article.weight.detach()
    c = torch.tensor([0, 0, 1, 1, 1])
    a = torch.tensor([2, 4, 1, 3, 9])
    w = torch.tensor([1.0, 0.5, 1.0, 1.0, 0.2])
    got = fold_in(articles, c, a, w, 2, ALS)
    rows = torch.zeros(2, 8)
    solve(rows, articles, Side.build(c, a, ALS.alpha * w, 2, 20), ALS.reg, 50)
    assert torch.allclose(got, rows, atol=1e-5)
    assert got[0] @ articles[2] > got[0] @ articles[1]


def test_refresh_before_fit_is_refused() -> None:
    with pytest.raises(RuntimeError, match="fit"):
        MFRecommender(ALS).refresh(WeekInput.before(shop_history(), CUTOFF))


def test_repeat_intervals_by_hand() -> None:
    from hmrec.recommenders.mf.scoring import repeat_intervals, too_recent

    history = rows(
        [
            ("2020-09-01", 0, 1, 0.1),
            ("2020-09-11", 0, 1, 0.1),  # gap 10
            ("2020-09-11", 0, 1, 0.1),  # same day: not a repeat
            ("2020-09-05", 1, 1, 0.1),
            ("2020-09-09", 1, 1, 0.1),  # gap 4
            ("2020-09-19", 1, 1, 0.1),  # gap 10 -> median of (10, 4, 10) = 10
            ("2020-09-20", 2, 2, 0.1),  # article 2: never bought again
            ("2020-09-01", 3, 1, 0.1),  # customer 3 last bought article 1 21 days before the cutoff
        ]
    )
    intervals = repeat_intervals(history).collect()
    assert intervals.to_dicts() == [{Col.ARTICLE: 1, "interval": 10.0}]
    out = too_recent(history, CUTOFF).collect().sort(Col.CUSTOMER)
    # customer 0: 11 days since (>= 10, may buy again); 1: 3 days (< 10); 2: no repeats ever
    assert out.rows() == [(1, 1), (2, 2)]


def test_interval_filter_keeps_what_is_due_again() -> None:
    history = shop_history()
    bought = MFRecommender(replace(CFG, epochs=3), tune_epochs=False, filter="bought").fit(
        WeekInput.before(history, CUTOFF)
    )
    interval = MFRecommender(replace(CFG, epochs=3), tune_epochs=False, filter="interval").fit(
        WeekInput.before(history, CUTOFF)
    )
    assert interval.adjust is not None and bought.adjust is not None
    assert interval.adjust.height <= bought.adjust.height
    assert interval.adjust.join(bought.adjust, on=[Col.CUSTOMER, Col.ARTICLE], how="anti").is_empty()
    assert set(bought.adjust[BONUS]) == {-np.inf}  # a filter leaves pairs out, it does not weigh them
    with pytest.raises(ValueError, match="filter"):
        MFRecommender(filter="recent")


def test_als_blocks_of_rows_solve_as_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from hmrec.recommenders.mf import als

    whole, _ = als_fitted(replace(ALS, epochs=3))
    monkeypatch.setattr(als, "BLOCK_ROWS", 7)  # 60 customers in 9 blocks, 20 articles in 3
    blocked, _ = als_fitted(replace(ALS, epochs=3))
    for x, y in zip(whole.state_dict().values(), blocked.state_dict().values(), strict=True):
        assert torch.allclose(x, y, atol=1e-6)
