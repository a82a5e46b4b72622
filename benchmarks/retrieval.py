"""Time the candidate sources on a prepared shop: for one week's buyers, then for every customer.

1. Each source, then the union, for the customers who bought in the holdout week (the
   "active in a week" case), with the quality of each (as ``hmrec candidates`` prints).
2. The union for every customer of the submission, written in customer chunks to parquet.
Peak memory is this process's maximum RSS after each part; run the parts in separate
processes (``--skip-all``, ``--skip-week``) to see each one's own peak.

    .venv/bin/python benchmarks/retrieval.py --data bench-out/full --source repurchase ...
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import polars as pl

from hmrec.data.dataset import prepare as prepare_dataset
from hmrec.data.split import Split
from hmrec.data.week import WeekInput
from hmrec.retrieval import pipeline
from hmrec.schema import Col

RULES = ["repurchase", "same_product", "bought_together", "popular_age", "popular", "trending"]


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def week(data: WeekInput, names: list[str], n: int, truth: pl.DataFrame, cutoff: object) -> None:
    """The quality table and the recall curve for the week's buyers."""
    runs = pipeline.run_sources(data, names, n)
    rows = pipeline.quality_table(runs, truth, n)
    print(f"### {truth[Col.CUSTOMER].n_unique():,} buyers of the week from {cutoff}, {n} per source\n")
    print(
        "| source | per customer | recall | buyers with a hit | oracle MAP@12 | seconds |\n|---|---:|---:|---:|---:|---:|"
    )
    for row in rows:
        q = row.quality
        print(
            f"| {row.name} | {q.per_customer:.1f} | {q.recall:.4f} | {q.customers_with_hit:.4f} | {q.oracle_map:.4f} | {row.seconds:.1f} |"
        )
    sizes = [20, 50, 100, 200]
    # the sources once more at the largest size (the table above times them at ``n``)
    wide = pipeline.run_sources(data, names, max(sizes))
    curve = pipeline.recall_curve(pipeline.quality_tables(wide, truth, sizes))
    print("\n| recall at | " + " | ".join(f"@{s}" for s in sizes) + " |\n|---|" + "---:|" * len(sizes))
    for name, values in curve.items():
        print(f"| {name} | " + " | ".join(f"{v:.4f}" for v in values) + " |")
    print(f"\npeak RSS after the week's buyers: {peak_gb():.2f} GB", flush=True)


def everyone(data: WeekInput, names: list[str], n: int, chunk_size: int) -> None:
    """The union for every customer, in chunks, written to a temporary folder."""
    out = Path(tempfile.mkdtemp()) / "candidates"
    start = time.perf_counter()
    pipeline.write_candidates(data, names, n, n, out, chunk_size)
    seconds = time.perf_counter() - start
    rows_written = pipeline.read_candidates(out).select(pl.len()).collect().item()
    customers = data.customers.select(pl.len()).collect().item()
    print(
        f"\nall {customers:,} customers, chunks of {chunk_size:,}: {seconds:.1f} s, "
        f"{rows_written:,} candidate rows, peak RSS {peak_gb():.2f} GB"
    )
    shutil.rmtree(out.parent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--source", action="append", help=f"default: {', '.join(RULES)}")
    parser.add_argument("--n", type=int, default=50, help="candidates per source and the union's cap")
    parser.add_argument("--chunk-size", type=int, default=250_000)
    parser.add_argument("--skip-all", action="store_true", help="only the week's buyers")
    parser.add_argument("--skip-week", action="store_true", help="only every customer (its own peak RSS)")
    opts = parser.parse_args()
    names = opts.source or RULES
    dataset = prepare_dataset(opts.data).dataset
    split = Split.at(dataset.transactions())
    truth = split.truth.collect()
    if not opts.skip_week:
        buyers = truth[Col.CUSTOMER].unique().sort()
        week(WeekInput.of(dataset, split, buyers), names, opts.n, truth, split.cutoff)
    if not opts.skip_all:
        customers = dataset.submission_customers().collect()[Col.CUSTOMER]
        everyone(WeekInput.of(dataset, split, customers), names, opts.n, opts.chunk_size)


if __name__ == "__main__":
    main()
