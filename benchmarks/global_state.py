"""Time the global state of the weeks a fit computes, table by table: ``Tables.prime`` at the
last cutoff, then ``Tables.week`` at it and at each of the ``--weeks`` - 1 cutoffs before it,
newest first, in one ``Tables`` (as a fit labels its weeks). Prints each cutoff's seconds, then
every global table's seconds summed over the cutoffs and how many it built, indented under the
table that asked for it (the learned cut asks for its pool weeks, a pool week for the sources'
tables at its start).

    .venv/bin/python benchmarks/global_state.py --data DIR --weeks 6
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Callable, Hashable
from datetime import timedelta
from pathlib import Path
from typing import Any

from hmrec.data import week as week_module
from hmrec.data.dataset import prepare as prepare_dataset
from hmrec.data.split import Split
from hmrec.ranking.data import CandidateConfig, Tables


def name_of(key: Hashable) -> str:
    """A global table's name: a ``once_per_week`` key's function, else the key's first part."""
    if isinstance(key, tuple):
        return key[1] if len(key) > 1 and isinstance(key[1], str) and "." in str(key[0]) else str(key[0])
    return str(key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--weeks", type=int, default=6, help="cutoffs, the last first, a week apart")
    args = parser.parse_args()
    dataset = prepare_dataset(args.data).dataset
    transactions = dataset.transactions()
    last = Split.at(transactions).cutoff
    seconds: dict[tuple[int, str], float] = defaultdict(float)
    built: dict[tuple[int, str], int] = defaultdict(int)
    depth = [0]
    get = week_module.Shared.get

    def timed(self: week_module.Shared, key: Hashable, build: Callable[[], Any], *rest: Any) -> Any:
        if key in self.values:
            return get(self, key, build, *rest)
        began, at = time.perf_counter(), (depth[0], name_of(key))
        depth[0] += 1
        try:
            return get(self, key, build, *rest)
        finally:
            depth[0] -= 1
            seconds[at] += time.perf_counter() - began
            built[at] += 1

    week_module.Shared.get = timed  # type: ignore[method-assign]
    tables = Tables(dataset.articles(), dataset.customers())
    start = time.perf_counter()
    tables.prime(transactions, last)
    for k in range(args.weeks):
        began = time.perf_counter()
        tables.week(transactions, last - timedelta(days=7 * k), CandidateConfig())
        print(f"cutoff {last - timedelta(days=7 * k)}: {time.perf_counter() - began:6.2f} s", flush=True)
    print(f"all {args.weeks} cutoffs, the prime included: {time.perf_counter() - start:.1f} s")
    for (level, name), spent in sorted(seconds.items(), key=lambda item: -item[1]):
        print(f"{'  ' * level}{name:<40} {spent:7.2f} s  {built[level, name]} built")


if __name__ == "__main__":
    main()
