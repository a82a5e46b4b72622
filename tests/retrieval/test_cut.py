"""The learned cut: the pool's best rows by the shop's own last week, never worse than a source."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from hmrec import shop
from hmrec.data.dataset import Dataset
from hmrec.data.dataset import prepare as prepare_dataset
from hmrec.data.split import Split
from hmrec.data.week import WeekInput
from hmrec.ranking.data import CandidateConfig
from hmrec.retrieval import pipeline
from hmrec.retrieval.cut import BUCKETS, MAX_STEP, NEWTON_STEPS, RIDGE, Cut, band, band_counts, fit_counts
from hmrec.retrieval.measure import measure
from hmrec.retrieval.pipeline import learned_cut, run_sources, union_at
from hmrec.retrieval.union import union
from hmrec.schema import Col
from tests.retrieval.test_union import source

N_CUSTOMERS = 200


def built_case() -> tuple[dict[str, pl.LazyFrame], pl.DataFrame]:
    """Two sources of ten articles each for every customer: ``first`` (articles 0-9) comes first
    in the fixed order, but its articles are bought only at rank 1 and by every fifth customer;
    ``second`` (articles 10-19) is bought at ranks 1-3 by every customer, and at rank 7 (a
    rank band that ranks 6 and 7 share) by every second one."""
    first = source([(c, a, a + 1) for c in range(N_CUSTOMERS) for a in range(10)])
    second = source([(c, 10 + a, a + 1) for c in range(N_CUSTOMERS) for a in range(10)])
    bought = [(c, 0) for c in range(0, N_CUSTOMERS, 5)]
    bought += [(c, a) for c in range(N_CUSTOMERS) for a in (10, 11, 12)]
    bought += [(c, 16) for c in range(0, N_CUSTOMERS, 2)]
    truth = pl.DataFrame(bought, schema={Col.CUSTOMER: pl.UInt32, Col.ARTICLE: pl.UInt32}, orient="row")
    return {"first": first, "second": second}, truth


def fit_cut(pool: pl.DataFrame, sources: tuple[str, ...], rank_columns: dict[str, str], label: str) -> Cut | None:
    return fit_counts(band_counts(pool, sources, rank_columns, label), sources)


def labelled_pool(results: dict[str, pl.LazyFrame], truth: pl.DataFrame) -> pl.DataFrame:
    pool = union(results, cap=100).collect()
    bought = truth.with_columns(pl.lit(1, pl.UInt8).alias("label"))
    return pool.join(bought, on=[Col.CUSTOMER, Col.ARTICLE], how="left").with_columns(pl.col("label").fill_null(0))


def test_the_bands_have_no_gap() -> None:
    ranks = pl.DataFrame({"r": list(range(1, 10_001))})
    bands = ranks.select(band(pl.col("r")))["r"]
    assert bands.head(8).to_list() == [0, 1, 2, 3, 3, 4, 4, 5]
    assert bands.unique().sort().to_list() == list(range(bands.max() + 1))  # every band up to the last is used
    assert bands.max() == BUCKETS - 1  # ranks up to 10,000 fill them exactly


def test_a_cut_score_adds_the_weight_of_each_offering_sources_band() -> None:
    weights = (tuple(-0.1 * b for b in range(BUCKETS)), tuple(-0.5 - 0.2 * b for b in range(BUCKETS)))
    cut = Cut(("a", "b"), 0.25, weights)
    ranks = {"a": [1, 3, 7, None, 9_000, 70_000], "b": [None, 12, 1, 2, None, 4]}
    frame = pl.DataFrame(ranks, schema={"a": pl.Int64, "b": pl.UInt16})
    got = frame.select(cut.score({"a": "a", "b": "b"})).to_series().to_list()
    # bands: 1 -> 0, 3 -> 2, 7 -> 4, 9,000 and 70,000 -> the last; 12 -> 6, 2 -> 1, 4 -> 3
    want = [0.25 + 0.0, 0.25 - 0.2 - 1.7, 0.25 - 0.4 - 0.5, 0.25 - 0.7, 0.25 - 2.5, 0.25 - 2.5 - 1.1]
    assert got == pytest.approx(want)


def test_the_cut_keeps_what_the_week_before_bought_from_either_source() -> None:
    results, truth = built_case()
    cut = fit_cut(
        labelled_pool(results, truth), ("first", "second"), {"first": "first_rank", "second": "second_rank"}, "label"
    )
    assert cut is not None
    fixed = measure(union(results, cap=4).collect(), truth).recall
    learned = union(results, cap=4, cut=cut).collect()
    by_source = {
        name: measure(frame.filter(pl.col(Col.RANK) <= 4).collect(), truth).recall for name, frame in results.items()
    }
    # the fixed order keeps first's four (one bought by every fifth customer); the cut keeps
    # second's top three and first's rank 1: every purchase but the one at rank 7
    assert measure(learned, truth).recall == pytest.approx(1 - 100 / truth.height)
    assert measure(learned, truth).recall > max(by_source.values()) > fixed
    top = learned.filter(pl.col(Col.CUSTOMER) == 1).sort(Col.ARTICLE)[Col.ARTICLE].to_list()
    assert top == [0, 10, 11, 12]


def test_a_sources_weights_never_rise_with_its_rank() -> None:
    results, truth = built_case()  # second's rank 7 sells better than its ranks 4-6
    cut = fit_cut(
        labelled_pool(results, truth), ("first", "second"), {"first": "first_rank", "second": "second_rank"}, "label"
    )
    assert cut is not None
    for weights in cut.weights:
        assert all(a >= b for a, b in zip(weights, weights[1:], strict=False))
    second = cut.weights[1]
    assert second[2] > second[4]  # rank 3 above ranks 6-7 (raw rates: 1.0 against 0.25)


def _dense_newton(counts: pl.DataFrame, sources: tuple[str, ...]) -> tuple[float, np.ndarray]:
    """The cut's fit written out on the whole design matrix (one 0/1 column per source and band)."""
    counts = counts.group_by(list(sources)).agg(pl.col("n").sum(), pl.col("y").sum())
    design = np.zeros((counts.height, 1 + len(sources) * BUCKETS))
    design[:, 0] = 1.0
    for i, s in enumerate(sources):
        for row, value in enumerate(counts[s].to_list()):
            if value is not None:
                design[row, 1 + i * BUCKETS + value] = 1.0
    n, y = counts["n"].to_numpy().astype(np.float64), counts["y"].to_numpy()
    theta = np.zeros(design.shape[1])
    theta[0] = math.log(y.sum() / (n.sum() - y.sum()))
    penalty = np.r_[0.0, np.full(design.shape[1] - 1, RIDGE)]
    for _ in range(NEWTON_STEPS):
        p = 1 / (1 + np.exp(-(design @ theta)))
        gradient = design.T @ (n * p - y) + penalty * theta
        hessian = (design.T * (n * p * (1 - p))) @ design + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        step *= min(1.0, MAX_STEP / np.abs(step).max())
        theta -= step
        if np.abs(step).max() < 1e-7:
            break
    weights = np.minimum.accumulate(theta[1:].reshape(len(sources), BUCKETS), axis=1)
    return float(theta[0]), weights


def test_the_fit_is_newtons_method_on_the_whole_design() -> None:
    # three sources, each offering a pair in one of 8 bands or not at all; buying odds that fall
    # with the band, more for one source than another
    rng = np.random.default_rng(7)
    sources, rows = ("a", "b", "c"), 3_000
    bands = {s: [None if rng.random() < 0.3 else int(rng.integers(0, 8)) for _ in range(rows)] for s in sources}
    n = rng.integers(1, 50, rows)
    logit = -2.0 - sum(
        np.array([0.0 if v is None else (i + 1) * v / 8 for v in bands[s]]) for i, s in enumerate(sources)
    )
    y = rng.binomial(n, 1 / (1 + np.exp(-logit))).astype(np.float64)
    counts = pl.DataFrame({**{s: pl.Series(s, v, dtype=pl.Int64) for s, v in bands.items()}, "n": n, "y": y})
    cut = fit_counts(counts, sources)
    assert cut is not None
    bias, weights = _dense_newton(counts, sources)
    assert cut.bias == pytest.approx(bias, abs=1e-9)
    assert np.asarray(cut.weights) == pytest.approx(weights, abs=1e-9)
    assert cut.weights[2][7] < cut.weights[0][7] < cut.weights[0][0]  # the odds fall as built


def test_a_week_without_a_bought_candidate_gives_no_cut() -> None:
    results, _ = built_case()
    nothing = pl.DataFrame(schema={Col.CUSTOMER: pl.UInt32, Col.ARTICLE: pl.UInt32})
    assert fit_cut(labelled_pool(results, nothing), ("first",), {"first": "first_rank"}, "label") is None


def test_the_cut_is_the_same_whatever_the_chunks_its_pools_are_built_in(
    tiny_dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    split = Split.at(tiny_dataset.transactions())
    data = WeekInput.of(tiny_dataset, split, pl.Series(Col.CUSTOMER, [], dtype=pl.UInt32))
    sources = ("repurchase", "bought_together", "popular")
    whole = learned_cut(data, sources, 20, 1_000, 2)
    monkeypatch.setattr(pipeline, "POOL_CHUNK", 7)  # many chunks, the last a short one
    fresh = WeekInput.of(tiny_dataset, split, pl.Series(Col.CUSTOMER, [], dtype=pl.UInt32))
    assert whole is not None and learned_cut(fresh, sources, 20, 1_000, 2) == whole


def test_the_cut_reads_no_row_after_the_cutoff(tiny_dataset: Dataset) -> None:
    split = Split.at(tiny_dataset.transactions())
    buyers = split.truth.collect()[Col.CUSTOMER].unique().sort()
    data = WeekInput.of(tiny_dataset, split, buyers)
    leaky = replace(data, history=tiny_dataset.transactions())  # the holdout week too
    sources = ("repurchase", "popular")
    cut = learned_cut(data, sources, 20, 1_000, 2)
    assert cut is not None
    assert learned_cut(leaky, sources, 20, 1_000, 2) == cut


@pytest.mark.parametrize("world", [*shop.PROFILES, "completejourney"])
def test_the_cut_union_recalls_at_least_its_best_source(
    world: str, real_shop: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """On each profile of the matrix (a smaller shop of it) and on the real one: the union at n
    by the cut recalls at least as much of the week's purchases as any one source at n."""
    if world == "completejourney":
        folder = real_shop
    else:
        folder = tmp_path_factory.mktemp(world)
        shop.generate(shop.config_for("small", world, n_customers=8_000, n_weeks=20), folder, seed=0)
    dataset = prepare_dataset(folder).dataset
    split = Split.at(dataset.transactions())
    truth = split.truth.collect()
    data = WeekInput.of(dataset, split, truth[Col.CUSTOMER].unique().sort())
    config, n = CandidateConfig(), 50
    runs = run_sources(data, config.sources, n)
    cut = learned_cut(data, config.sources, n, config.cut_buyers, config.cut_weeks)
    best = max(measure(run.candidates.filter(pl.col(Col.RANK) <= n), truth).recall for run in runs)
    assert measure(union_at(runs, n, cut), truth).recall >= best


def test_candidates_measures_the_union_the_cut_and_the_pool(tiny_dataset: Dataset) -> None:
    from hmrec import api

    split = Split.at(tiny_dataset.transactions())
    tables, curve = api.measure_candidates(tiny_dataset, split, ["repurchase", "popular"], [5, 10])
    rows = {row.name: row.quality for row in tables[5]}
    assert list(rows) == ["repurchase", "popular", "union", "cut", "pool"]
    assert rows["union"].per_customer <= 5 and rows["cut"].per_customer <= 5
    assert rows["pool"].per_customer > 5  # every source's 5, uncapped
    assert rows["pool"].recall >= max(rows["union"].recall, rows["cut"].recall)  # both are taken from it
    assert set(curve) == set(rows)
