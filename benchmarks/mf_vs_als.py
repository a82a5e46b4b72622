"""The MF baseline next to implicit's ALS: same history, same holdout week, same candidates.

The MF baseline runs with its defaults (the ALS solver of ``recommenders/mf/als.py``) for
``--mf-epochs`` epochs, or ``--mf-solver sgd`` for the gradient trainer.

Each model runs in its own process under GNU ``/usr/bin/time -v`` (so peak memory is its
own); the table gives training time, peak RSS, MAP@12 and recall@100 on the last week.
Needs the ``bench`` extra: ``.venv/bin/pip install -c constraints.txt -e '.[bench]'``.

    .venv/bin/python benchmarks/mf_vs_als.py --data bench-out/small
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl

from hmrec.data import ingest
from hmrec.data.split import Split
from hmrec.data.week import WeekInput
from hmrec.metrics import map_at_k, recall_at_k
from hmrec.recommenders.base import fill_with
from hmrec.recommenders.mf.config import MFConfig
from hmrec.recommenders.mf.recommender import MFRecommender, build_interactions
from hmrec.schema import Col


def run_mf(split: Split, buyers: pl.Series, epochs: int, solver: str) -> tuple[float, pl.DataFrame, pl.DataFrame]:
    start = time.perf_counter()
    cfg = replace(MFConfig(), epochs=epochs, solver=solver)
    model = MFRecommender(cfg, tune_epochs=False).fit(WeekInput.before(split.history, split.cutoff))
    seconds = time.perf_counter() - start
    return seconds, model.recommend(buyers), model.top_n(buyers, 100)


def run_als(split: Split, buyers: pl.Series, iterations: int, alpha: float) -> tuple[float, pl.DataFrame, pl.DataFrame]:
    import scipy.sparse as sp
    from implicit.cpu.als import AlternatingLeastSquares

    helper = MFRecommender()  # the same candidates, popular list and weights as MF
    start = time.perf_counter()
    data = build_interactions(split.history, split.cutoff, MFConfig())
    matrix = sp.csr_matrix(
        (alpha * data.weights.numpy(), (data.customers.numpy(), data.articles.numpy())),
        shape=(data.n_customers, data.n_articles),
    )
    als = AlternatingLeastSquares(factors=64, regularization=0.01, iterations=iterations, random_state=0)
    als.fit(matrix, show_progress=False)
    seconds = time.perf_counter() - start
    helper.prepare_scoring(split.history, split.cutoff)
    asked = buyers.to_numpy()
    seen = asked[np.isin(asked, helper.known)]
    ids, scores = als.recommend(seen, matrix[seen], N=100, filter_already_liked_items=False, items=helper.candidates)
    top100 = pl.DataFrame(
        {
            Col.CUSTOMER: pl.Series(np.repeat(seen, ids.shape[1]), dtype=pl.UInt32),
            Col.ARTICLE: pl.Series(ids.ravel(), dtype=pl.UInt32),
            Col.RANK: pl.Series(np.tile(np.arange(1, ids.shape[1] + 1), len(seen)), dtype=pl.UInt16),
        }
    )
    recs = fill_with(top100.filter(pl.col(Col.RANK) <= 12).lazy(), buyers, helper.popular)
    return seconds, recs, top100


def child(opts: argparse.Namespace) -> None:
    split = Split.at(ingest.load(opts.data).dataset.transactions())
    truth = split.truth.collect()
    buyers = truth[Col.CUSTOMER].unique().sort()
    if opts.run == "mf":
        seconds, recs, top100 = run_mf(split, buyers, opts.mf_epochs, opts.mf_solver)
    else:
        seconds, recs, top100 = run_als(split, buyers, opts.als_iterations, opts.alpha)
    print(
        json.dumps({"train_s": seconds, "map12": map_at_k(recs, truth), "recall100": recall_at_k(top100, truth, 100)})
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--mf-epochs", type=int, default=5)
    parser.add_argument("--mf-solver", choices=["als", "sgd"], default="als")
    parser.add_argument("--als-iterations", type=int, default=15)
    parser.add_argument("--alpha", type=float, default=10.0, help="ALS confidence per unit of weight")
    parser.add_argument("--run", choices=["mf", "als"], help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.run:
        child(opts)
        return
    print(f"| model ({opts.data}) | train s | peak RSS GB | MAP@12 | recall@100 |\n|---|---:|---:|---:|---:|")
    for name in ("mf", "als"):
        args = [
            sys.executable,
            __file__,
            "--data",
            str(opts.data),
            "--run",
            name,
            "--mf-epochs",
            str(opts.mf_epochs),
            "--mf-solver",
            opts.mf_solver,
            "--als-iterations",
            str(opts.als_iterations),
            "--alpha",
            str(opts.alpha),
        ]
        done = subprocess.run(["/usr/bin/time", "-v", *args], capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{name} failed:\n{done.stdout}\n{done.stderr}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1)) / 1024**2
        label = (
            f"mf ({opts.mf_solver}, {opts.mf_epochs} epochs)"
            if name == "mf"
            else f"implicit ALS ({opts.als_iterations} iterations)"
        )
        print(
            f"| {label} | {result['train_s']:.1f} | {rss:.2f} | {result['map12']:.5f} | {result['recall100']:.4f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
