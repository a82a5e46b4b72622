"""The accuracy matrix: every shop profile x seeds x holdout weeks, every model, one table.

    .venv/bin/python benchmarks/accuracy.py --markdown docs/accuracy-matrix.md

generates each profile's small shop per seed (under ``--work``), converts each real shop of
``--real`` (``benchmarks/worlds/``: The Complete Journey, cut at 2017-10-31) beside them, and
scores popular, repurchase, mf and the ranker on the last ``--weeks`` holdout weeks, and prints
(and with ``--markdown`` writes) per profile the mean MAP@12 and recall@12 of each model and the
ranker's ratio to the best of popular and repurchase (mean over runs, and the worst single run).
Every run's figures go to ``--csv`` as well.

Ranker variants (the ablation) are extra columns: ``--ranker NAME=SPEC`` where SPEC is a
``;``-separated list of ``field=value`` over RankerConfig and CandidateConfig fields, for example
``--ranker "no_trend=drop_blocks=('trend',)"`` or ``--ranker "binary=objective='binary'"``.
Labelled weeks are shared between the holdout weeks and between variants with the same candidates.
MF variants are extra model columns: ``--mf NAME=SPEC`` over MFConfig fields, for example
``--mf "mf_r100=alpha=10.0;reg=100.0"``. ``--tuned SECONDS`` adds the ranker as ``--tune`` fits it
(its settings chosen on the two weeks before each cutoff within that budget), with its seconds.
"""

from __future__ import annotations

import argparse
import ast
import csv
import statistics
import time
from collections import defaultdict
from dataclasses import fields, replace
from datetime import timedelta
from pathlib import Path

from hmrec import shop
from hmrec.data.dataset import prepare as prepare_dataset

try:
    from benchmarks.worlds import completejourney
except ModuleNotFoundError:  # run as a script: its own folder is on the path, not the repository's
    from worlds import completejourney
from hmrec.data.split import Split
from hmrec.data.week import WeekInput
from hmrec.evaluation import score_model
from hmrec.metrics import map_at_k, recall_at_k
from hmrec.ranking.config import RankerConfig
from hmrec.ranking.data import CandidateConfig, WeekCache
from hmrec.recommenders.mf.config import MFConfig
from hmrec.recommenders.options import ModelOptions
from hmrec.schema import Col

RANKER_FIELDS = {f.name for f in fields(RankerConfig)}
CANDIDATE_FIELDS = {f.name for f in fields(CandidateConfig)}
BASELINES = ("popular", "repurchase")


def parse_variant(text: str) -> tuple[str, RankerConfig, CandidateConfig]:
    """``NAME=field=value;field=value`` -> the name and its ranker and candidate settings."""
    name, _, spec = text.partition("=")
    ranker: dict[str, object] = {}
    candidates: dict[str, object] = {}
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        key, value = (s.strip() for s in part.split("=", 1))
        parsed = ast.literal_eval(value)
        if key in RANKER_FIELDS:
            ranker[key] = parsed
        elif key in CANDIDATE_FIELDS:
            candidates[key] = tuple(parsed) if isinstance(parsed, list) else parsed
        else:
            raise SystemExit(f"unknown setting {key!r}: not a RankerConfig or CandidateConfig field")
    return name, RankerConfig(**ranker), CandidateConfig(**candidates)


def parse_mf_variant(text: str) -> tuple[str, MFConfig]:
    """``NAME=field=value;field=value`` over MFConfig fields -> the name and its settings."""
    name, _, spec = text.partition("=")
    fields_ = {f.name for f in fields(MFConfig)}
    changes: dict[str, object] = {}
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        key, value = (s.strip() for s in part.split("=", 1))
        if key not in fields_:
            raise SystemExit(f"unknown setting {key!r}: not an MFConfig field")
        changes[key] = ast.literal_eval(value)
    return name, replace(MFConfig(), **changes)


def score_mf(split: Split, cfg: MFConfig) -> tuple[float, float]:
    """MAP@12 and recall@12 of the MF baseline with ``cfg`` fixed, fitted as ``--model mf --no-tune`` is."""
    from hmrec.recommenders.mf.recommender import MFRecommender

    truth = split.truth.collect()
    recs = (
        MFRecommender(cfg, choose=False)
        .fit(WeekInput.before(split.history, split.cutoff))
        .recommend(truth[Col.CUSTOMER].unique().sort())
    )
    return map_at_k(recs, truth), recall_at_k(recs, truth)


def shop_folder(work: Path, profile: str, seed: int, scale: str) -> Path:
    """The profile's shop, generated afresh (a few seconds at small scale) so it is never stale."""
    folder = work / f"{profile}-{scale}-seed{seed}"
    shop.generate(shop.config_for(scale, profile), folder, seed)
    return folder


REAL_SHOPS = {"completejourney": completejourney.convert}
"""Real purchase logs by name, each a function writing its Kaggle files into a folder."""


def shops(args: argparse.Namespace) -> list[tuple[str, int, Path, int]]:
    """``(label, seed, folder, holdout weeks)`` of every shop of the run: each profile per seed,
    then each real shop (written afresh under ``--work``)."""
    made = [
        (p, seed, shop_folder(args.work, p, seed, args.scale), args.weeks) for p in args.profiles for seed in args.seeds
    ]
    return made + [(name, 0, REAL_SHOPS[name](args.work / name), args.real_weeks) for name in args.real]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("/tmp/hmrec-accuracy"), help="where the shops are written")
    parser.add_argument("--profiles", nargs="*", default=list(shop.PROFILES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--weeks", type=int, default=4, help="holdout weeks per shop, the last first")
    parser.add_argument("--scale", default="small")
    parser.add_argument("--real", nargs="*", default=list(REAL_SHOPS), choices=list(REAL_SHOPS), help="real shops")
    parser.add_argument("--real-weeks", type=int, default=8, help="holdout weeks of each real shop")
    parser.add_argument("--models", nargs="+", default=["popular", "repurchase", "mf", "ranker"])
    parser.add_argument("--ranker", action="append", default=[], help="a ranker variant NAME=SPEC (repeatable)")
    parser.add_argument("--mf", action="append", default=[], help="an MF variant NAME=SPEC (repeatable)")
    parser.add_argument(
        "--tuned", type=float, default=None, metavar="SECONDS", help="add the ranker with --tune at this budget"
    )
    parser.add_argument("--csv", type=Path, default=None, help="every run's figures (default WORK/runs.csv)")
    parser.add_argument("--markdown", type=Path, default=None, help="write the tables to this file too")
    parser.add_argument("--from-csv", type=Path, default=None, help="only print the tables of a --csv written before")
    args = parser.parse_args()
    if args.from_csv:
        with open(args.from_csv, newline="") as fh:
            runs = list(csv.DictReader(fh))
        names = [c[: -len("_map")] for c in runs[0] if c.endswith("_map")]
        found = [n for n in names if n in ("popular", "repurchase") or n.startswith("mf")]
        real = [r for r in runs if r["profile"] in REAL_SHOPS]
        made = [r for r in runs if r["profile"] not in REAL_SHOPS]
        args.seeds = sorted({int(str(r["seed"])) for r in made})
        args.weeks = len({r["week"] for r in made})
        args.real = sorted({str(r["profile"]) for r in real})
        args.real_weeks = len({r["week"] for r in real})
        text = tables(runs, found, [n for n in names if n not in found], args)
        print(text)
        if args.markdown:
            args.markdown.write_text(text)
        return

    variants = [parse_variant(v) for v in args.ranker]
    taken = {name for name, _, _ in variants} & {*args.models, "ranker"}
    if taken or len({name for name, _, _ in variants}) < len(variants):
        raise SystemExit(f"ranker variant names must differ from each other and from the models: {sorted(taken)}")
    mf_variants = dict(parse_mf_variant(v) for v in args.mf)
    models = [m for m in args.models if m != "ranker"]
    rankers = ([("ranker", RankerConfig(), CandidateConfig())] if "ranker" in args.models else []) + variants
    runs: list[dict[str, object]] = []
    out_csv = args.csv or args.work / "runs.csv"
    args.work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for profile, seed, folder, n_weeks in shops(args):
        dataset = prepare_dataset(folder).dataset
        last = Split.at(dataset.transactions()).cutoff
        splits = [Split.at(dataset.transactions(), last - timedelta(days=7 * k)) for k in range(n_weeks)]
        caches: dict[CandidateConfig, WeekCache] = defaultdict(WeekCache)
        for split in splits:
            row: dict[str, object] = {"profile": profile, "seed": seed, "week": str(split.cutoff)}
            for name in models:
                score = score_model(name, split, dataset)
                row[f"{name}_map"], row[f"{name}_recall"] = score.map_at_12, score.recall_at_12
            for name, cfg in mf_variants.items():
                row[f"{name}_map"], row[f"{name}_recall"] = score_mf(split, cfg)
            for label, ranker, candidates in rankers:
                options = ModelOptions(ranker=ranker, candidates=candidates, cache=caches[candidates])
                score = score_model("ranker", split, dataset, options)
                row[f"{label}_map"], row[f"{label}_recall"] = score.map_at_12, score.recall_at_12
            if args.tuned is not None:
                began = time.perf_counter()
                score = score_model("ranker", split, dataset, ModelOptions(tune_budget=args.tuned))
                row["tuned_map"], row["tuned_recall"] = score.map_at_12, score.recall_at_12
                row["tuned_seconds"] = round(time.perf_counter() - began, 1)
            runs.append(row)
            _write_csv(out_csv, runs)  # every run as it ends: a cut-short matrix keeps its rows
            shown = " ".join(f"{k[:-4]} {v:.5f}" for k, v in row.items() if k.endswith("_map"))
            print(f"[{time.perf_counter() - start:7.1f} s] {profile} seed {seed} {split.cutoff}: {shown}", flush=True)

    labels = [label for label, _, _ in rankers] + (["tuned"] if args.tuned is not None else [])
    text = tables(runs, [*models, *mf_variants], labels, args)
    if args.tuned is not None:
        spent = [float(r["tuned_seconds"]) for r in runs]  # type: ignore[arg-type]
        text += f"\nThe tuned ranker (--tune, budget {args.tuned:g} s): {sum(spent) / len(spent):.0f} s per run"
        text += f" (tuning and the final fit), at most {max(spent):.0f} s.\n"
    text += f"\n{len(runs)} runs in {time.perf_counter() - start:.0f} s.\n"
    print(text)
    if args.markdown:
        args.markdown.write_text(text)


def _write_csv(path: Path, runs: list[dict[str, object]]) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(runs[0]))
        writer.writeheader()
        writer.writerows(runs)


def tables(runs: list[dict[str, object]], models: list[str], rankers: list[str], args: argparse.Namespace) -> str:
    """Per profile: mean MAP@12 (recall@12) of every model; each ranker's mean and worst ratio to
    the best baseline of its run, and its change against ``ranker`` with the spread of that change."""
    by_profile: dict[str, list[dict[str, object]]] = defaultdict(list)
    for run in runs:
        by_profile[str(run["profile"])].append(run)
    names = models + rankers
    lines = [
        f"Scale {args.scale}, seeds {', '.join(map(str, args.seeds))}, the last {args.weeks} holdout weeks; "
        f"real shops ({', '.join(args.real) or 'none'}): the last {args.real_weeks} weeks before 2017-11-01; "
        "MAP@12 (recall@12) averaged over the runs.",
        "",
        "| profile | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for profile, rows in by_profile.items():
        cells = [
            f"{statistics.fmean(float(r[f'{n}_map']) for r in rows):.5f} "
            f"({statistics.fmean(float(r[f'{n}_recall']) for r in rows):.4f})"
            for n in names
        ]
        lines.append(f"| {profile} | " + " | ".join(cells) + " |")
    if not rankers or not all(f"{b}_map" in runs[0] for b in BASELINES):
        return "\n".join(lines) + "\n"
    lines += [
        "",
        "Ratio of each ranker to the best of popular and repurchase in the same run: mean over runs (the worst run).",
        "",
        "| profile | " + " | ".join(rankers) + " |",
        "|---|" + "---:|" * len(rankers),
    ]
    overall: dict[str, list[float]] = defaultdict(list)
    for profile, rows in by_profile.items():
        cells = []
        for n in rankers:
            ratios = [float(r[f"{n}_map"]) / max(float(r[f"{b}_map"]) for b in BASELINES) for r in rows]
            overall[n] += ratios
            cells.append(f"{statistics.fmean(ratios):.3f} ({min(ratios):.3f})")
        lines.append(f"| {profile} | " + " | ".join(cells) + " |")
    lines.append("| all | " + " | ".join(f"{statistics.fmean(v):.3f} ({min(v):.3f})" for v in overall.values()) + " |")
    if len(rankers) > 1 and "ranker" in rankers:
        lines += [
            "",
            "Change of each variant's MAP@12 against `ranker`, mean over runs +- its standard error "
            "(a change within twice the error is noise).",
            "",
            "| profile | " + " | ".join(rankers[1:]) + " |",
            "|---|" + "---:|" * (len(rankers) - 1),
        ]
        deltas: dict[str, list[float]] = defaultdict(list)
        for profile, rows in by_profile.items():
            cells = []
            for n in rankers[1:]:
                d = [float(r[f"{n}_map"]) - float(r["ranker_map"]) for r in rows]
                deltas[n] += d
                cells.append(_mean_err(d))
            lines.append(f"| {profile} | " + " | ".join(cells) + " |")
        lines.append("| all | " + " | ".join(_mean_err(v) for v in deltas.values()) + " |")
    return "\n".join(lines) + "\n"


def _mean_err(values: list[float]) -> str:
    err = statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else float("nan")
    return f"{statistics.fmean(values):+.5f} +- {err:.5f}"


if __name__ == "__main__":
    main()
