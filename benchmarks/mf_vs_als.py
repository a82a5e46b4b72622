"""The MF baseline next to implicit's ALS, on every shop of the accuracy matrix or on one folder.

    .venv/bin/python benchmarks/mf_vs_als.py                      # the matrix's shops (small)
    .venv/bin/python benchmarks/mf_vs_als.py --data DIR --weeks 1  # one folder (full size: each
                                                                   # model in its own process)

Three models on the same history, holdout week and candidate articles (those sold in the last 12
weeks before the cutoff), fitted on the weeks before the holdout and scored on its buyers:

* ``mf``: ``--model mf`` as it runs by default: settings chosen on the week before the holdout
  (``recommenders/mf/choice.py``), then a refit on the whole history;
* ``mf fixed``: ``--model mf --no-tune``: the fixed settings, epochs early-stopped on that week;
* ``als``: implicit's ``AlternatingLeastSquares``, 64 factors, 15 iterations, regularisation 0.05,
  confidence ``1 + 40 x w`` with ``w`` the pair's recency weight (``exp(-0.01 x days)`` summed over
  its units, ``weights.py``), bought articles allowed, the best sellers of the last week as fill.

MAP@12, recall@100 and the seconds of each fit (building its pairs included), per shop the mean
over its runs (profiles x ``--seeds`` x ``--weeks``, and the real shop's ``--real-weeks``) and the
ratio of ``mf`` to ``als`` with its standard error; ``--csv`` keeps every run. Needs the ``bench``
extra: ``.venv/bin/pip install -c constraints.txt -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl

from hmrec import shop
from hmrec.data.dataset import prepare as prepare_dataset
from hmrec.data.split import Split
from hmrec.data.week import WeekInput
from hmrec.metrics import map_at_k, recall_at_k
from hmrec.recommenders.base import fill_with
from hmrec.recommenders.mf.config import MFConfig
from hmrec.recommenders.mf.recommender import MFRecommender
from hmrec.recommenders.mf.scoring import build_interactions
from hmrec.recommenders.mf.weights import Weighting
from hmrec.schema import Col

try:
    from benchmarks.worlds import completejourney
except ModuleNotFoundError:  # run as a script: its own folder is on the path, not the repository's
    from worlds import completejourney

MODELS = ("mf", "mf_fixed", "als")
ALS_SETTINGS = {"factors": 64, "iterations": 15, "regularization": 0.05, "confidence": 40.0, "decay": 0.01}


def run_mf(split: Split, buyers: pl.Series, choose: bool) -> tuple[float, pl.DataFrame, pl.DataFrame, str]:
    start = time.perf_counter()
    model = MFRecommender(choose=choose).fit(WeekInput.before(split.history, split.cutoff))
    seconds = time.perf_counter() - start
    cfg = model.config
    repeat = model.filter if model.filter != "none" else f"boost {model.boost:g}"
    chosen = f"{cfg.alpha:g}/{cfg.reg:g}, {cfg.dim}, {cfg.epochs} ep, {repeat}"
    return seconds, model.recommend(buyers), model.top_n(buyers, 100), chosen


def run_als(split: Split, buyers: pl.Series) -> tuple[float, pl.DataFrame, pl.DataFrame, str]:
    import scipy.sparse as sp
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    s = ALS_SETTINGS
    helper = MFRecommender()  # the same candidates and popular list as MF
    start = time.perf_counter()
    data = build_interactions(
        split.history, split.cutoff, replace(MFConfig(), weighting=Weighting(t_decay=s["decay"], price_weight=0.0))
    )
    confidence = 1.0 + s["confidence"] * data.weights.numpy()  # implicit uses the values as the confidence
    matrix = sp.csr_matrix(
        (confidence, (data.customers.numpy(), data.articles.numpy())), shape=(data.n_customers, data.n_articles)
    )
    als = AlternatingLeastSquares(
        factors=s["factors"], regularization=s["regularization"], iterations=s["iterations"], random_state=0
    )
    with threadpool_limits(1, "blas"):  # implicit's advice: its own threads, one BLAS thread each
        als.fit(matrix, show_progress=False)
    seconds = time.perf_counter() - start
    helper.prepare_scoring(split.history, split.cutoff)
    asked = buyers.to_numpy()
    seen = asked[np.isin(asked, helper.known)]
    ids, _ = als.recommend(seen, matrix[seen], N=100, filter_already_liked_items=False, items=helper.candidates)
    top100 = pl.DataFrame(
        {
            Col.CUSTOMER: pl.Series(np.repeat(seen, ids.shape[1]), dtype=pl.UInt32),
            Col.ARTICLE: pl.Series(ids.ravel(), dtype=pl.UInt32),
            Col.RANK: pl.Series(np.tile(np.arange(1, ids.shape[1] + 1), len(seen)), dtype=pl.UInt16),
        }
    )
    recs = fill_with(top100.filter(pl.col(Col.RANK) <= 12).lazy(), buyers, helper.fill)
    return seconds, recs, top100, ""


def score(name: str, split: Split) -> dict[str, object]:
    truth = split.truth.collect()
    buyers = truth[Col.CUSTOMER].unique().sort()
    if name == "als":
        seconds, recs, top100, chosen = run_als(split, buyers)
    else:
        seconds, recs, top100, chosen = run_mf(split, buyers, choose=name == "mf")
    return {
        "seconds": round(seconds, 2),
        "map12": map_at_k(recs, truth),
        "recall100": recall_at_k(top100, truth, 100),
        "chosen": chosen,
    }


def one_folder(opts: argparse.Namespace) -> None:
    """Each model in its own process under ``/usr/bin/time -v`` (peak memory its own)."""
    data = prepare_dataset(opts.data).dataset
    last = Split.at(data.transactions()).cutoff
    print("| model | week | fit s | peak RSS GB | MAP@12 | recall@100 | chosen |\n|---|---|---:|---:|---:|---:|---|")
    for k in range(opts.weeks):
        cutoff = last - timedelta(days=7 * k)
        for name in MODELS:
            args = [sys.executable, __file__, "--data", str(opts.data), "--run", name, "--cutoff", str(cutoff)]
            done = subprocess.run(["/usr/bin/time", "-v", *args], capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"{name} failed:\n{done.stdout}\n{done.stderr}")
            r = json.loads(done.stdout.strip().splitlines()[-1])
            rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1)) / 1024**2
            print(
                f"| {name} | {cutoff} | {r['seconds']:.1f} | {rss:.2f} | {r['map12']:.5f} | {r['recall100']:.4f} "
                f"| {r['chosen']} |",
                flush=True,
            )


def matrix(opts: argparse.Namespace) -> None:
    """Every profile's small shop per seed and each real shop, several holdout weeks each."""
    opts.work.mkdir(parents=True, exist_ok=True)
    shops = []
    for profile in opts.profiles:
        for seed in opts.seeds:
            folder = opts.work / f"{profile}-small-seed{seed}"
            shop.generate(shop.config_for("small", profile), folder, seed)
            shops.append((profile, seed, folder, opts.weeks))
    if opts.real:
        shops.append(("completejourney", 0, completejourney.convert(opts.work / "completejourney"), opts.real_weeks))
    runs: list[dict[str, object]] = []
    began = time.perf_counter()
    for label, seed, folder, weeks in shops:
        data = prepare_dataset(folder).dataset
        last = Split.at(data.transactions()).cutoff
        for k in range(weeks):
            split = Split.at(data.transactions(), last - timedelta(days=7 * k))
            row: dict[str, object] = {"shop": label, "seed": seed, "week": str(split.cutoff)}
            for name in MODELS:
                for key, value in score(name, split).items():
                    row[f"{name}_{key}"] = value
            runs.append(row)
            if opts.csv:
                _write_csv(opts.csv, runs)
            print(
                f"[{time.perf_counter() - began:6.0f} s] {label} seed {seed} {split.cutoff}: "
                + " ".join(f"{n} {row[f'{n}_map12']:.5f}" for n in MODELS)
                + f" (mf chose {row['mf_chosen']})",
                flush=True,
            )
    print(table(runs))
    print(f"{len(runs)} runs in {time.perf_counter() - began:.0f} s.")


def _write_csv(path: Path, runs: list[dict[str, object]]) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(runs[0]))
        writer.writeheader()
        writer.writerows(runs)


def _ratio(runs: list[dict[str, object]]) -> str:
    ratios = [float(r["mf_map12"]) / float(r["als_map12"]) for r in runs if float(r["als_map12"]) > 0]  # type: ignore[arg-type]
    err = statistics.stdev(ratios) / len(ratios) ** 0.5 if len(ratios) > 1 else 0.0
    return f"{statistics.mean(ratios):.2f} +- {err:.2f} (worst {min(ratios):.2f})"


def table(runs: list[dict[str, object]]) -> str:
    """Per shop: mean MAP@12 / recall@100 / fit seconds of each model, mf over als, what mf chose."""
    lines = [
        "| shop | runs | mf MAP@12 | mf fixed | als | mf / als | mf recall@100 | als recall@100 | mf s | mf fixed s "
        "| als s | mf chose (most often) |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for label in dict.fromkeys(str(r["shop"]) for r in runs):
        mine = [r for r in runs if r["shop"] == label]

        def mean(key: str, rows: list[dict[str, object]] = mine) -> float:
            return statistics.mean(float(r[key]) for r in rows)  # type: ignore[arg-type]

        common = Counter(str(r["mf_chosen"]).split(", ")[0] + ", " + str(r["mf_chosen"]).split(", ")[-1] for r in mine)
        top = ", ".join(f"{k} x{n}" for k, n in common.most_common(2))
        lines.append(
            f"| {label} | {len(mine)} | {mean('mf_map12'):.5f} | {mean('mf_fixed_map12'):.5f} | "
            f"{mean('als_map12'):.5f} | {_ratio(mine)} | {mean('mf_recall100'):.4f} | {mean('als_recall100'):.4f} | "
            f"{mean('mf_seconds'):.1f} | {mean('mf_fixed_seconds'):.1f} | {mean('als_seconds'):.1f} | {top} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None, help="one prepared folder instead of the matrix's shops")
    parser.add_argument("--work", type=Path, default=Path("/tmp/hmrec-mf-vs-als"), help="where the shops are written")
    parser.add_argument("--profiles", nargs="*", default=list(shop.PROFILES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--weeks", type=int, default=4, help="holdout weeks per shop, the last first")
    parser.add_argument("--real", action=argparse.BooleanOptionalAction, default=True, help="the real shop too")
    parser.add_argument("--real-weeks", type=int, default=8)
    parser.add_argument("--csv", type=Path, default=None, help="every run's figures")
    parser.add_argument("--run", choices=MODELS, help=argparse.SUPPRESS)
    parser.add_argument("--cutoff", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.run:
        data = prepare_dataset(opts.data).dataset
        from datetime import date

        split = Split.at(data.transactions(), date.fromisoformat(opts.cutoff))
        print(json.dumps(score(opts.run, split)))
    elif opts.data:
        one_folder(opts)
    else:
        matrix(opts)


if __name__ == "__main__":
    main()
