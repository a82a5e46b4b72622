"""Time the two-stage ranker stage by stage on a prepared shop, as ``hmrec evaluate --model
ranker`` and ``hmrec submit`` run it (the same functions), with each stage's peak memory.

Each stage's peak RSS is read from /proc/self/status (VmHWM), which is reset between stages
(``echo 5 > /proc/self/clear_refs``), so a row shows that stage's own peak.

    .venv/bin/python benchmarks/ranking.py --data bench-out/full --mode evaluate
    .venv/bin/python benchmarks/ranking.py --data bench-out/full --mode submit
    .venv/bin/python benchmarks/ranking.py --data bench-out/xl --mode submit --engine ray --workers 2

``--mode submit`` runs ``hmrec submit``'s own function (``hmrec.api.runs.submit``; with
``--artifacts`` the serving files too, in a temporary folder). With ``--engine ray`` the peaks
are the driver's (this process's) only.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

from hmrec.api.runs import submit
from hmrec.data.dataset import prepare as prepare_dataset
from hmrec.data.split import Split
from hmrec.engine import ENGINES, make_engine
from hmrec.evaluation import score_model
from hmrec.ranking.config import RankerConfig
from hmrec.ranking.data import CandidateConfig
from hmrec.recommenders.options import ModelOptions
from hmrec.settings import Settings


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
    parser.add_argument("--artifacts", action="store_true", help="with --mode submit: write the serving files too")
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
        else:  # what `hmrec submit` runs: the lists part by part, the files from the parts
            settings = Settings(ranker=options.ranker, candidates=options.candidates)
            folder = Path(tmp) / "artifacts" if args.artifacts else None
            out = args.out or Path(tmp) / "submission.csv"
            done = submit(dataset, out, settings, artifacts=folder, on_step=options.on_step, engine=engine)
            stages.mark(None)
            print(f"\n{done.customers:,} customers")
    print(stages.table())


if __name__ == "__main__":
    main()
