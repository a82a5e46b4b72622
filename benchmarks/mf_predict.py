"""Time MF prediction for every customer of a submission, from a saved checkpoint.

Train first with ``hmrec train-baseline --data DIR`` (it writes DIR/models/mf/best.pt), then:

    .venv/bin/python benchmarks/mf_predict.py --data DIR
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from hmrec.data.dataset import prepare as prepare_dataset
from hmrec.data.split import Split
from hmrec.recommenders.mf.recommender import MFRecommender
from hmrec.schema import Col


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--checkpoint", type=Path, help="default: DIR/models/mf/best.pt")
    opts = parser.parse_args()
    dataset = prepare_dataset(opts.data).dataset
    split = Split.at(dataset.transactions())
    model = MFRecommender().load(
        opts.checkpoint or opts.data / "models" / "mf" / "best.pt", split.history, split.cutoff
    )
    customers = dataset.submission_customers().collect()[Col.CUSTOMER]
    start = time.perf_counter()
    recs = model.recommend(customers)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print("| customers | candidates | predict s | peak RSS GB |\n|---:|---:|---:|---:|")
    print(f"| {recs[Col.CUSTOMER].n_unique():,} | {len(model.candidates):,} | {seconds:.1f} | {peak:.2f} |")


if __name__ == "__main__":
    main()
