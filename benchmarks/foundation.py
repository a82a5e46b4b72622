"""Time and measure the foundation's commands on a synthetic shop.

Runs ``hmrec generate``, ``prepare``, ``evaluate`` (both baselines) and ``submit`` one after
another, each in its own process under GNU ``/usr/bin/time -v``, and prints a markdown table of
wall time and peak resident memory, ready for docs/benchmarks.md.

    .venv/bin/python benchmarks/foundation.py --scale full --out bench-out/full
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

HMREC = str(Path(sys.executable).with_name("hmrec"))


def measure(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (GB) of one command; raises if it fails."""
    done = subprocess.run(["/usr/bin/time", "-v", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", done.stderr).group(1)
    seconds = sum(float(part) * 60**i for i, part in enumerate(reversed(wall.split(":"))))
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    return seconds, rss_kb / 1024**2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="small", choices=["tiny", "small", "full"])
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    parser.add_argument("--seed", type=int, default=0)
    opts = parser.parse_args()
    if shutil.which("/usr/bin/time") is None:
        raise SystemExit("needs GNU time at /usr/bin/time (apt-get install time)")
    data = str(opts.out)
    steps = {
        "generate": [HMREC, "generate", "--scale", opts.scale, "--out", data, "--seed", str(opts.seed), "--no-stats"],
        "prepare": [HMREC, "prepare", "--data", data],
        "evaluate (popular + repurchase)": [
            *[HMREC, "evaluate", "--data", data],
            *["--model", "popular", "--model", "repurchase"],
        ],
        "submit (repurchase, every customer)": [
            *[HMREC, "submit", "--data", data, "--out", f"{data}/submission.csv", "--model", "repurchase"]
        ],
    }
    print(f"| step ({opts.scale}) | wall s | peak RSS GB |\n|---|---:|---:|")
    for name, args in steps.items():
        seconds, gb = measure(args)
        print(f"| {name} | {seconds:.1f} | {gb:.2f} |", flush=True)


if __name__ == "__main__":
    main()
