"""Time the feature blocks joined onto a week's candidates (the union of the rule sources).

.venv/bin/python benchmarks/features.py --data bench-out/full
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from hmrec.data.dataset import prepare as prepare_dataset
from hmrec.data.split import Split
from hmrec.data.week import WeekInput
from hmrec.features.join import join_features
from hmrec.retrieval import pipeline
from hmrec.schema import Col

RULES = ["repurchase", "same_product", "bought_together", "popular_age", "popular", "trending"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--n", type=int, default=50)
    opts = parser.parse_args()
    dataset = prepare_dataset(opts.data).dataset
    split = Split.at(dataset.transactions())
    buyers = split.truth.collect()[Col.CUSTOMER].unique().sort()
    data = WeekInput.of(dataset, split, buyers)
    runs = pipeline.run_sources(data, RULES, opts.n)
    candidates = pipeline.union_of(runs, opts.n).collect()
    start = time.perf_counter()
    features = join_features(candidates, data)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(
        f"{buyers.len():,} buyers, {features.height:,} candidate rows, {features.width} columns: "
        f"features joined in {seconds:.1f} s, {features.estimated_size() / 1024**3:.2f} GB in memory, "
        f"process peak RSS {peak:.2f} GB"
    )


if __name__ == "__main__":
    main()
