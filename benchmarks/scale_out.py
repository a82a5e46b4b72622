"""Time an ``hmrec`` command and measure the peak memory of each of its processes: the driver,
each Ray worker (``ray::`` processes) and Ray's own services, sampled from /proc twice a second.

    .venv/bin/python benchmarks/scale_out.py -- submit --data DIR --out local.csv
    .venv/bin/python benchmarks/scale_out.py -- submit --data DIR --out ray.csv --engine ray --workers 2

Prints one line per process kind: how many processes, the largest peak RSS of one of them, and
the peak of their sum; then the wall time and the command's exit status. A Ray worker counts as
"ray worker" while it runs a task and "ray worker (idle)" otherwise. RSS counts the pages of Ray's
shared-memory object store a process has touched, so sums over processes overcount them.
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
    if cmd.startswith("ray::") and not cmd.startswith(("ray::IDLE", "ray::DashboardAgent", "ray::RuntimeEnvAgent")):
        return "ray worker"  # a worker process running a task (its title names the task)
    if cmd.startswith("ray::") or "default_worker.py" in cmd:
        return "ray worker (idle)"
    program = cmd.split(" ", 1)[0]
    if program.endswith(("raylet", "gcs_server")) or "ray/dashboard" in cmd or "log_monitor" in cmd:
        return "ray services"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the hmrec command, after --")
    args = parser.parse_args()
    command = [a for a in args.args if a != "--"]
    start = time.perf_counter()
    proc = subprocess.Popen([*HMREC, *command])
    peak: dict[tuple[str, str], float] = defaultdict(float)  # (pid, kind) -> peak RSS
    sums: dict[str, float] = defaultdict(float)
    while proc.poll() is None:
        now: dict[str, float] = defaultdict(float)
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            kind = kind_of(entry.name, proc.pid)  # read each time: a worker's title changes with its task
            if kind is None:
                continue
            rss = rss_gb(entry.name)
            peak[entry.name, kind] = max(peak[entry.name, kind], rss)
            now[kind] += rss
        for kind, total in now.items():
            sums[kind] = max(sums[kind], total)
        time.sleep(0.5)
    wall = time.perf_counter() - start
    for kind in ("driver", "ray worker", "ray worker (idle)", "ray services"):
        peaks = [gb for (_, k), gb in peak.items() if k == kind]
        if peaks:
            print(
                f"{kind}: {len(peaks)} process(es), largest peak {max(peaks):.2f} GB, peak of the sum {sums[kind]:.2f} GB"
            )
    print(f"wall {wall:.1f} s, exit status {proc.returncode}")


if __name__ == "__main__":
    main()
