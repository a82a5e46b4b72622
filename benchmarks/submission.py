"""The submission's write alone: peak memory and seconds of ``write_submission`` handed a
shop's recommendations as ``--parts`` frames of disjoint customers (``customer % parts``), as
``submit`` hands them over, in a process of its own (its peak is the write's alone). The recommendations are read back from a submission CSV of the same
prepared shop (any run's ``submission.csv``), so the lines written must be its bytes.

    .venv/bin/python benchmarks/submission.py --data /tmp/xl --submission /tmp/xl/submission.csv
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from hmrec.data.dataset import prepare as prepare_dataset
from hmrec.data.submission import write_submission
from hmrec.schema import Col


def peak_gib() -> float:
    """This process's peak resident memory (``VmHWM``: unlike ``ru_maxrss``, not inherited from
    the process that started it)."""
    status = Path("/proc/self/status").read_text().splitlines()
    return int(next(line for line in status if line.startswith("VmHWM:")).split()[1]) / 2**20


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write(data: Path, folder: Path, parts: int) -> None:
    """Write ``folder``'s parts as the submission of ``data``; print seconds and peak."""
    dataset = prepare_dataset(data).dataset
    before = peak_gib()
    start = time.perf_counter()
    frames = (pl.read_parquet(folder / f"{part:05d}.parquet") for part in range(parts))
    write_submission(dataset, frames, folder / "submission.csv")
    print(f"{time.perf_counter() - start:.1f} {peak_gib():.2f} {before:.2f}")


def main() -> None:
    if sys.argv[1:2] == ["--write"]:
        write(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--submission", type=Path, required=True)
    parser.add_argument("--parts", type=int, default=24)
    args = parser.parse_args()
    dataset = prepare_dataset(args.data).dataset
    with tempfile.TemporaryDirectory(prefix="hmrec-bench-") as scratch:
        folder = Path(scratch)
        long = (
            pl.read_csv(args.submission, infer_schema=False)
            .with_columns(pl.col(Col.PREDICTION).str.split(" ").alias(Col.ARTICLE_ID))
            .explode(Col.ARTICLE_ID)
            .with_columns((pl.int_range(pl.len()).over(Col.CUSTOMER_ID) + 1).cast(pl.UInt16).alias(Col.RANK))
        )
        long = long.select(
            dataset.ids.to_index(long[Col.CUSTOMER_ID]), dataset.ids.to_index(long[Col.ARTICLE_ID]), Col.RANK
        )
        for part in range(args.parts):
            long.filter(pl.col(Col.CUSTOMER) % args.parts == part).write_parquet(folder / f"{part:05d}.parquet")
        rows = long.height
        del long
        child = [sys.executable, __file__, "--write", str(args.data), str(folder), str(args.parts)]
        seconds, peak, before = subprocess.run(child, check=True, capture_output=True, text=True).stdout.split()
        same = _md5(folder / "submission.csv") == _md5(args.submission)
    print(
        f"{rows:,} recommendations in {args.parts} parts: written in {seconds} s, "
        f"peak {peak} GiB (before the write: {before}); the same bytes: {same}"
    )


if __name__ == "__main__":
    main()
