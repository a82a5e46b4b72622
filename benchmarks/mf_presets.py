"""MF settings compared on one holdout week: the solvers, the four weighting presets (ALS), the
gradient trainer's losses, and the three repurchase filters.

Every run uses ``MFRecommender.fit`` (epochs chosen by early stopping on the week before the
holdout, then a refit), so no score here has seen its own holdout week.

    .venv/bin/python benchmarks/mf_presets.py --data bench-out/small
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

from hmrec.data.dataset import prepare as prepare_dataset
from hmrec.data.split import Split
from hmrec.data.week import WeekInput
from hmrec.metrics import map_at_k, recall_at_k
from hmrec.recommenders.mf.config import MFConfig
from hmrec.recommenders.mf.recommender import MFRecommender
from hmrec.recommenders.mf.weights import PRESETS
from hmrec.schema import Col


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--only", nargs="*", help="run only the rows whose label contains one of these")
    opts = parser.parse_args()
    split = Split.at(prepare_dataset(opts.data).dataset.transactions())
    truth = split.truth.collect()
    buyers = truth[Col.CUSTOMER].unique().sort()
    sgd = replace(MFConfig(), solver="sgd")
    runs = {f"als, preset {name}": (replace(MFConfig(), weighting=w), "none") for name, w in PRESETS.items()}
    runs |= {f"sgd, default preset, {loss}": (replace(sgd, loss=loss), "none") for loss in ("bpr", "bce", "observed")}
    runs["sgd, default preset, bpr, popular negatives"] = (replace(sgd, negatives="popular"), "none")
    runs |= {f"als, default preset, filter {f}": (MFConfig(), f) for f in ("bought", "interval")}
    runs |= {f"sgd, default preset, bpr, filter {f}": (sgd, f) for f in ("bought", "interval")}
    if opts.only:
        runs = {label: run for label, run in runs.items() if any(word in label for word in opts.only)}
    print(
        f"| MF run ({opts.data}) | epochs | fit s | MAP@12 | recall@12 | recall@100 |\n|---|---:|---:|---:|---:|---:|"
    )
    for label, (cfg, bought_filter) in runs.items():
        start = time.perf_counter()
        model = MFRecommender(cfg, filter=bought_filter).fit(WeekInput.before(split.history, split.cutoff))
        seconds = time.perf_counter() - start
        recs = model.recommend(buyers)
        top100 = model.top_n(buyers, 100)
        print(
            f"| {label} | {len(model.result.losses)} | {seconds:.1f} | {map_at_k(recs, truth):.5f} "
            f"| {recall_at_k(recs, truth):.4f} | {recall_at_k(top100, truth, 100):.4f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
