"""``hmrec recommend`` with a saved model against ``hmrec submit`` on the same data: wall time and
peak memory of each command, and whether the two submissions are the same bytes.

    .venv/bin/python benchmarks/recommend.py --data /tmp/full --work /tmp/bench-recommend

Runs, one after the other (each a fresh process; nothing else should run meanwhile):
``submit --data DIR --out WORK/submit.csv``, ``fit --data DIR --out WORK/model``, and
``recommend --model-dir WORK/model --data DIR --out WORK/recommend.csv``. The data is prepared
first (not timed). Extra flags after ``--`` go to submit and fit (for example ``-- --train-weeks 2``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HMREC = [sys.executable, "-c", "from hmrec.cli import app; app()"]


def run(args: list[str]) -> tuple[float, float]:
    """Run an hmrec command; its wall seconds and peak RSS in GB (``wait4``'s, of that process)."""
    start = time.perf_counter()
    proc = subprocess.Popen([*HMREC, *args])
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"hmrec {' '.join(args)} failed")
    return seconds, usage.ru_maxrss / 1024**2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("extra", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    extra = [a for a in args.extra if a != "--"]
    args.work.mkdir(parents=True, exist_ok=True)
    run(["prepare", "--data", str(args.data)]) if not (args.data / "prepared").exists() else None
    results = {
        "submit": run(
            [
                "submit",
                "--data",
                str(args.data),
                "--out",
                str(args.work / "submit.csv"),
                "--artifacts",
                str(args.work / "submit-artifacts"),
                *extra,
            ]
        ),  # fmt: skip
        "fit": run(["fit", "--data", str(args.data), "--out", str(args.work / "model"), *extra]),
        "recommend": run(
            [
                "recommend",
                "--model-dir",
                str(args.work / "model"),
                "--data",
                str(args.data),
                "--out",
                str(args.work / "recommend.csv"),
            ]
        ),  # fmt: skip
    }
    same = (args.work / "submit.csv").read_bytes() == (args.work / "recommend.csv").read_bytes()
    print(f"{'command':<10} {'seconds':>9} {'peak RSS GB':>12}")
    for name, (seconds, gb) in results.items():
        print(f"{name:<10} {seconds:>9.1f} {gb:>12.2f}")
    ratio = results["recommend"][0] / results["submit"][0]
    print(f"recommend / submit time: {ratio:.2f}; same submission bytes: {same}")


if __name__ == "__main__":
    main()
