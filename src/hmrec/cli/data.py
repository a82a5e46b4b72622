"""``hmrec generate``, ``prepare`` and ``check``: the data before any model."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from hmrec import api
from hmrec.cli.common import load_data
from hmrec.cli.console import console, err, fail, guard, prepared_dir, progress, warn
from hmrec.cli.options import DataOpt, Profile, Scale


def generate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the four Kaggle CSV files into.")],
    scale: Annotated[
        Scale,
        typer.Option("--scale", help="tiny (tests), small (demo), full (H&M size), xl (3x the customers of full)."),
    ] = "small",
    seed: Annotated[
        int, typer.Option("--seed", help="Same seed, scale and profile, same bytes.", min=0, max=2**32 - 1)
    ] = 0,
    profile: Annotated[
        Profile,
        typer.Option(
            "--profile",
            help="The shop's habits: fashion (life cycles, seasons, repeats), trendy (short bursts, "
            "regional tastes), loyal (long memory, lasting type and colour taste), grocery (staples, "
            "large baskets).",
        ),
    ] = "fashion",
    stats: Annotated[bool, typer.Option("--stats/--no-stats", help="Print the shop's statistics table.")] = True,
) -> None:
    """Write a synthetic shop in the exact Kaggle format.

    Example: hmrec generate --scale small --profile trendy --out data/trendy
    """
    name, size = Profile(profile).value, Scale(scale).value
    start = time.perf_counter()
    with progress() as bar:
        task = bar.add_task(f"generating the {size} {name} shop", total=None)
        paths = guard(
            lambda: api.generate(
                out, size, name, seed, on_week=lambda done, total: bar.update(task, completed=done, total=total)
            )
        )
    console.print(f"wrote {len(paths)} files to {out} in {time.perf_counter() - start:.1f} s")
    if stats:
        dataset = load_data(out)
        table = Table(title=f"synthetic shop '{size}', profile {name} (seed {seed})")
        table.add_column("statistic")
        table.add_column("value", justify="right")
        for key, value in guard(lambda: api.shop_statistics(dataset)).items():
            shown = f"{value:,}" if isinstance(value, int) else f"{value:.4g}" if isinstance(value, float) else value
            table.add_row(key, shown)
        console.print(table)


def prepare(
    data: DataOpt,
    shards: Annotated[
        int | None,
        typer.Option(
            "--shards",
            help="Also write the transactions split into N shards by customer (DIR/prepared/shards-N), "
            "which --engine ray workers read instead of the whole log.",
        ),
    ] = None,
) -> None:
    """Validate the Kaggle files and write typed parquet with integer ids (DIR/prepared/).

    Later commands reuse the result until an input file changes. Dates far after the rest of
    the log, and a last week with far fewer buyers than the weeks before, are warned about here.

    Example: hmrec prepare --data data/hm --shards 8
    """
    if shards is not None and shards < 1:
        raise fail(f"--shards must be at least 1, got {shards}")
    start = time.perf_counter()
    with progress() as bar:
        task = bar.add_task("prepare", total=None)
        result = guard(
            lambda: api.prepare(
                data,
                prepared_dir(),
                on_step=lambda step: bar.update(task, description=f"prepare: {step}"),
                rebuild=True,
                shards=shards,
            )
        )
    warn(result.warnings)
    console.print(f"prepared {data} -> {result.dataset.root} in {time.perf_counter() - start:.1f} s")
    if shards is not None:
        console.print(f"shards: {api.shard_folder(result.dataset, shards)}")


def check(data: DataOpt) -> None:
    """Check the Kaggle files as they are (nothing is written): date range and rows per week,
    null counts per column, unknown and duplicate ids, duplicate rows, prices. Exits 1 when a
    problem would make a run wrong.

    Example: hmrec check --data data/hm
    """
    with progress() as bar:
        task = bar.add_task("checking", total=None)
        report = api.check(data, on_step=lambda text: bar.update(task, description=f"check: {text}"))
    files = Table(title=f"{data}: files")
    for column in ("file", "rows", "nulls per column", "duplicate rows", "duplicate ids"):
        files.add_column(  # at 80 columns the null counts wrap; a file name is never cut
            column,
            justify="left" if column in ("file", "nulls per column") else "right",
            no_wrap=column == "file",
            overflow="fold",
        )
    for f in report.files:
        nulls = ", ".join(f"{c} {n:,}" for c, n in f.nulls.items() if n) or "none"
        dupes = report.duplicate_ids.get(f.name)
        files.add_row(
            f.path.name,
            f"{f.rows:,}",
            nulls,
            f"{report.duplicate_rows.get(f.name, 0):,}",
            "" if dupes is None else f"{dupes:,}",
        )
    console.print(files)
    if report.weeks is not None and report.first is not None:
        weeks = Table(
            title=f"transactions from {report.first} to {report.last}: {report.weeks.height} weeks "
            f"(the last {min(12, report.weeks.height)} shown)"
        )
        for column in ("week from", "rows", "buyers"):
            weeks.add_column(column, justify="right")
        for start, rows, buyers in report.weeks.tail(12).iter_rows():
            weeks.add_row(str(start), f"{rows:,}", f"{buyers:,}")
        console.print(weeks)
        shown = {
            k: "unreadable" if report.prices.get(k) is None else f"{report.prices[k]:.6g}"
            for k in ("min", "median", "max")
        }
        console.print(
            f"prices: min {shown['min']}, median {shown['median']}, max {shown['max']}; "
            + "; ".join(f"{name}: {n:,} unknown" for name, n in report.unknown.items()),
            highlight=False,
        )
    warn(report.warnings)
    for error in report.errors:
        err.print(f"[bold red]error:[/] {escape(error)}", highlight=False)
    if not report.ok:
        raise typer.Exit(code=1)
    console.print("no errors")
