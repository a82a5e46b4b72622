"""How long ``import hmrec`` takes in a fresh interpreter, and the first use of the API (which
loads polars and the modules ``hmrec.fit`` needs; LightGBM and torch load later still).

    .venv/bin/python benchmarks/import_time.py [--runs 7]

Prints the median and the slowest of ``--runs`` fresh processes for each.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

IMPORT = "import time; t = time.perf_counter(); import hmrec; print(time.perf_counter() - t)"
FIRST_USE = (
    "import time; import hmrec; t = time.perf_counter(); hmrec.fit; print(time.perf_counter() - t); "
    "import sys; assert 'lightgbm' not in sys.modules and 'torch' not in sys.modules"
)


def timed(code: str, runs: int) -> list[float]:
    return [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
            for _ in range(runs)]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    for label, code in (("import hmrec", IMPORT), ("first use of hmrec.fit", FIRST_USE)):
        seconds = timed(code, args.runs)
        print(f"{label:<24} median {statistics.median(seconds):.3f} s, slowest {max(seconds):.3f} s ({args.runs} runs)")


if __name__ == "__main__":
    main()
