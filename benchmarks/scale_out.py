"""Time an ``hmrec`` command and measure the peak memory of each of its processes: the driver,
each Ray worker (``ray::`` processes) and Ray's own services, sampled from /proc twice a second.

    .venv/bin/python benchmarks/scale_out.py -- submit --data DIR --output local.csv
    .venv/bin/python benchmarks/scale_out.py -- submit --data DIR --output ray.csv --engine ray --workers 2

Prints one line per process kind: how many processes, the largest peak RSS of one of them, and
the peak of their sum; then the wall time and the command's exit status.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

HMREC = [sys.executable, "-c", "from hmrec.cli import app; app()"]


def rss_gb(pid: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return 0.0


def kind_of(pid: str, driver: int) -> str | None:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    if int(pid) == driver:
        return "driver"
    if cmd.startswith("ray::"):
        return "ray worker"
    if "ray" in cmd and ("gcs_server" in cmd or "raylet" in cmd or "dashboard" in cmd or "log_monitor" in cmd):
        return "ray services"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the hmrec command, after --")
    args = parser.parse_args()
    command = [a for a in args.args if a != "--"]
    start = time.perf_counter()
    proc = subprocess.Popen([*HMREC, *command])
    peak: dict[str, float] = defaultdict(float)  # pid -> peak RSS
    kinds: dict[str, str] = {}
    sums: dict[str, float] = defaultdict(float)
    while proc.poll() is None:
        now: dict[str, float] = defaultdict(float)
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            kind = kinds.get(entry.name) or kind_of(entry.name, proc.pid)
            if kind is None:
                continue
            kinds[entry.name] = kind
            rss = rss_gb(entry.name)
            peak[entry.name] = max(peak[entry.name], rss)
            now[kind] += rss
        for kind, total in now.items():
            sums[kind] = max(sums[kind], total)
        time.sleep(0.5)
    wall = time.perf_counter() - start
    for kind in ("driver", "ray worker", "ray services"):
        pids = [p for p, k in kinds.items() if k == kind]
        if pids:
            largest = max(peak[p] for p in pids)
            print(
                f"{kind}: {len(pids)} process(es), largest peak {largest:.2f} GB, peak of the sum {sums[kind]:.2f} GB"
            )
    print(f"wall {wall:.1f} s, exit status {proc.returncode}")


if __name__ == "__main__":
    main()
