"""Score the ranker on a shop's holdout week under several settings (labelled weeks are shared
between settings with the same candidates).

    .venv/bin/python benchmarks/ranker_settings.py --data data/small \\
        --setting "objective=binary" --setting "refit=True" --candidates 100 --setting "objective=binary"

``--weeks N`` scores each setting on the last N holdout weeks and their mean (one week is noisy
on a small shop). Each ``--setting`` is a comma-separated list of RankerConfig fields (``name=value``);
``--candidates N`` switches the candidates per source and per customer for the settings after it,
``--sources a,b,c`` the candidate sources (in the union's priority order).
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
from dataclasses import fields, replace
from datetime import timedelta
from pathlib import Path

from hmrec.data.dataset import prepare as prepare_dataset
from hmrec.data.split import Split
from hmrec.evaluation import score_model
from hmrec.ranking.config import RankerConfig
from hmrec.ranking.data import CandidateConfig, WeekCache
from hmrec.recommenders.options import ModelOptions

FIELDS = {f.name for f in fields(RankerConfig)}


def parse(setting: str) -> dict[str, object]:
    out: dict[str, object] = {}
    for part in filter(None, setting.split(",")):
        name, value = part.split("=", 1)
        if name.strip() not in FIELDS:
            raise SystemExit(f"unknown RankerConfig field {name!r}")
        out[name.strip()] = ast.literal_eval(value.strip())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--weeks", type=int, default=1, help="score on this many holdout weeks, the last first")
    args, rest = parser.parse_known_args()
    dataset = prepare_dataset(args.data).dataset
    last = Split.at(dataset.transactions()).cutoff
    # a labelled week reads only rows before its own end, so the weeks are shared between holdouts
    splits = [Split.at(dataset.transactions(), last - timedelta(days=7 * k)) for k in range(args.weeks)]
    candidates, cache = CandidateConfig(), WeekCache()
    weeks = " | ".join(str(s.cutoff) for s in splits)
    print(
        f"| candidates | sources | setting | {weeks} | mean MAP@12 | seconds |\n|---:|---|---|"
        + "---:|" * (len(splits) + 2)
    )
    items = iter(rest or ["--setting", ""])
    for flag in items:
        value = next(items)
        if flag == "--candidates":
            candidates, cache = replace(candidates, per_source=int(value), cap=int(value)), WeekCache()
            continue
        if flag == "--sources":
            candidates, cache = replace(candidates, sources=tuple(value.split(","))), WeekCache()
            continue
        if flag != "--setting":
            raise SystemExit(f"unknown flag {flag}")
        start = time.perf_counter()
        options = ModelOptions(ranker=RankerConfig(**parse(value)), candidates=candidates, cache=cache)
        maps = [score_model("ranker", split, dataset, options).map_at_12 for split in splits]
        print(
            f"| {candidates.cap} | {','.join(candidates.sources)} | {value or 'defaults'} | "
            + " | ".join(f"{m:.5f}" for m in maps)
            + f" | {sum(maps) / len(maps):.5f} | {time.perf_counter() - start:.1f} |",
            flush=True,
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
