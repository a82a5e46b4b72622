"""What one shard's Ray tasks receive, read and write, and what the week's global state weighs:
the per-shard figures that docs/scale-out.md's projection to larger shops scales. Measured in
this process (no Ray; a cluster moves the same objects): on a prepared shop with its shards
(``hmrec prepare --shards N``) and a saved ranker, for the final week of ``submit``:

- the week's global state as the engine puts it once in the object store (pickled bytes: the
  whole, and its largest tables), and the fitted ranker's work, put once too;
- the shard files each task reads (parquet bytes);
- each partial-aggregate table: the counts one shard's task writes (parquet bytes, all its
  splits) and the finished table the driver receives;
- shard 0's ranking as its task runs it: seconds, its part's parquet bytes (what the driver
  reads back), and this process's peak memory over the week's state.

    .venv/bin/python benchmarks/shard_bytes.py --data /tmp/xl --model /tmp/xl/artifacts/submit/model/ranker
"""

from __future__ import annotations

import argparse
import pickle
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

import polars as pl

from hmrec.data.dataset import prepare as prepare_dataset
from hmrec.data.partial import Partial, one_pass
from hmrec.data.shards import shard_folder, shard_rows, written_shards
from hmrec.data.week import WeekInput
from hmrec.engine import LocalEngine
from hmrec.ranking.data import CandidateConfig, Tables
from hmrec.ranking.inference import RankWork
from hmrec.ranking.model import FittedRanker
from hmrec.schema import Col, K

try:  # run from the repository's root, or as a script (benchmarks/ on the path)
    from benchmarks.submission import peak_gib
except ImportError:
    from submission import peak_gib  # type: ignore[no-redef]

MB = 2**20


def _parquet_bytes(frame: pl.DataFrame, folder: Path) -> int:
    path = folder / "frame.parquet"
    frame.write_parquet(path)
    return path.stat().st_size


@dataclass
class Measuring(LocalEngine):
    """The local engine, measuring each partial table's shard-0 counts as a Ray task writes them."""

    rows: pl.LazyFrame = field(default_factory=pl.LazyFrame)
    shards: int = 1
    folder: Path = Path()
    tables: list[str] = field(default_factory=list)

    def aggregate(self, week: WeekInput, partial: Partial) -> pl.DataFrame:
        counts = partial.parts_of(week.for_part(self.rows))
        written = sum(_parquet_bytes(split, self.folder) for split in partial.split(counts, self.shards))
        table = one_pass(week, partial)
        name = partial.key if isinstance(partial.key, str) else "/".join(str(k) for k in partial.key)
        self.tables.append(
            f"  {name}: shard 0's counts {counts.height:,} rows, {written / MB:.1f} MB in {self.shards} split files; "
            f"the finished table {table.height:,} rows, {_parquet_bytes(table, self.folder) / MB:.1f} MB"
        )
        return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True, help="a saved ranker (submit's model/ranker)")
    args = parser.parse_args()
    dataset = prepare_dataset(args.data).dataset
    shards = (written_shards(dataset) or [0])[-1]
    if not shards:
        raise SystemExit(f"no shards in {args.data}: run hmrec prepare --data {args.data} --shards N first")
    files = sorted(shard_folder(dataset, shards).glob("shard-*.parquet"))
    sizes = [f.stat().st_size / MB for f in files]
    print(f"{shards} shards: files {min(sizes):.1f} to {max(sizes):.1f} MB, {sum(sizes):.0f} MB in all")
    cutoff = dataset.date_range()[1] + timedelta(days=1)
    config = CandidateConfig()
    ranker = FittedRanker.load(args.model)
    with tempfile.TemporaryDirectory(prefix="hmrec-bench-") as scratch:
        engine = Measuring(rows=shard_rows(dataset, shards, 0), shards=shards, folder=Path(scratch))
        start = time.perf_counter()
        week = Tables(dataset.articles(), dataset.customers()).week(dataset.transactions(), cutoff, config, engine)
        print(f"the week's global state: {time.perf_counter() - start:.1f} s; partial tables:")
        print("\n".join(engine.tables))
        values = week.shared.portable()
        sized = sorted(((len(pickle.dumps(v, protocol=5)), k) for k, v in values.items()), reverse=True)
        total = sum(size for size, _ in sized)
        print(f"put once per week: the global state {total / MB:.1f} MB pickled ({len(sized)} tables), largest:")
        for size, key in sized[:5]:
            print(f"  {size / MB:.1f} MB  {str(key)[:100]}")
        work = RankWork(ranker, config, K, 100_000)
        print(f"put once: the ranking's work (the fitted ranker) {len(pickle.dumps(work, protocol=5)) / MB:.1f} MB")
        rows = shard_rows(dataset, shards, 0)
        customers = dataset.submission_customers().collect()[Col.CUSTOMER]
        mine = customers.filter(customers % shards == 0)
        before = peak_gib()
        start = time.perf_counter()
        part = work(replace(week, history=rows), mine, None)
        seconds = time.perf_counter() - start
        written = _parquet_bytes(part, Path(scratch))
    print(
        f"shard 0's ranking: {mine.len():,} customers, {seconds:.1f} s, its part {part.height:,} rows, "
        f"{written / MB:.1f} MB parquet; peak {peak_gib():.2f} GiB (before it {before:.2f})"
    )


if __name__ == "__main__":
    main()
