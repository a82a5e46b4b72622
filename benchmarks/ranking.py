"""Time the two-stage ranker stage by stage on a prepared shop, as ``hmrec evaluate --model
ranker`` and ``hmrec submit`` run it (the same functions), with each stage's peak memory.

Each stage's peak RSS is read from /proc/self/status (VmHWM), which is reset between stages
(``echo 5 > /proc/self/clear_refs``), so a row shows that stage's own peak.

    .venv/bin/python benchmarks/ranking.py --data bench-out/full --mode evaluate
    .venv/bin/python benchmarks/ranking.py --data bench-out/full --mode submit
    .venv/bin/python benchmarks/ranking.py --data bench-out/xl --mode submit --engine ray --workers 2

With ``--engine ray`` the peaks are the driver's (this process's) only.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from hmrec.data.dataset import prepare as prepare_dataset
from hmrec.data.split import Split
from hmrec.data.submission import write_submission
from hmrec.engine import ENGINES, make_engine
from hmrec.evaluation import score_model
from hmrec.fitting import fit_model
from hmrec.ranking.config import RankerConfig
from hmrec.ranking.data import CandidateConfig
from hmrec.recommenders.options import ModelOptions
from hmrec.schema import Col, K


def vm_hwm_gb() -> float:
    text = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", text).group(1)) / 1024**2


def reset_hwm() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:  # not Linux, or not allowed: peaks then accumulate
        pass


class Stages:
    """Wall time and peak RSS of each stage, a stage ending when the next one starts."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float]] = []
        self.name: str | None = None
        self.start = self.begin = time.perf_counter()
        self.overall_peak = 0.0

    def mark(self, name: str | None) -> None:
        if name is not None and name == self.name:
            return
        now = time.perf_counter()
        if self.name is not None:
            peak = vm_hwm_gb()
            self.overall_peak = max(self.overall_peak, peak)
            self.rows.append((self.name, now - self.start, peak))
            print(f"  {self.name}: {now - self.start:.1f} s, peak {peak:.2f} GB", flush=True)
        reset_hwm()
        self.name, self.start = name, now

    def table(self) -> str:
        lines = ["| stage | seconds | peak RSS (GB) |", "|---|---:|---:|"]
        lines += [f"| {name} | {seconds:.1f} | {peak:.2f} |" for name, seconds, peak in self.rows]
        total = time.perf_counter() - self.begin
        lines.append(f"| **total** | **{total:.1f}** | **{self.overall_peak:.2f}** |")
        return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--mode", choices=["evaluate", "submit"], default="evaluate")
    parser.add_argument("--objective", default=RankerConfig.objective)
    parser.add_argument("--train-weeks", type=int, default=RankerConfig.train_weeks)
    parser.add_argument("--candidates", type=int, default=CandidateConfig.cap)
    parser.add_argument("--engine", choices=ENGINES, default="local")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, help="with --mode submit: keep the submission here (to compare its bytes)")
    args = parser.parse_args()

    stages = Stages()
    stages.mark("load prepared data")
    dataset = prepare_dataset(args.data).dataset
    with tempfile.TemporaryDirectory() as tmp, make_engine(args.engine, dataset, workers=args.workers) as engine:
        options = ModelOptions(
            engine=engine,
            ranker=RankerConfig(train_weeks=args.train_weeks, objective=args.objective),
            candidates=CandidateConfig(per_source=args.candidates, cap=args.candidates),
            artifacts=Path(tmp) / "model",
            on_step=lambda text: stages.mark(re.sub(r" on [\d,]+ rows| \(from .*\)|, part \d+/\d+ done", "", text)),
        )
        if args.mode == "evaluate":
            split = Split.at(dataset.transactions())
            score = score_model("ranker", split, dataset, options)
            stages.mark(None)
            print(
                f"\nranker MAP@12 {score.map_at_12:.5f}, recall@12 {score.recall_at_12:.5f}, "
                f"{score.customers:,} buyers of the week from {split.cutoff}"
            )
        else:
            customers = dataset.submission_customers().collect()[Col.CUSTOMER]
            recs = fit_model(dataset, "ranker", replace(options)).recommend(customers, K, details=True)
            stages.mark("write the submission")
            write_submission(dataset, recs, args.out or Path(tmp) / "submission.csv")
            stages.mark(None)
            print(f"\n{recs[recs.columns[0]].n_unique():,} customers")
    print(stages.table())


if __name__ == "__main__":
    main()
