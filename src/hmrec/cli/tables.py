"""The tables the commands print: scores, the weeks' means, the ablation, what tuning and the
MF model tried, the candidate sources' quality."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from hmrec.api import (
    AblationRow,
    Evaluation,
    Score,
)
from hmrec.cli.console import err

if TYPE_CHECKING:
    from hmrec.api import Choice
    from hmrec.tuning import TuneResult


def print_tuning(result: TuneResult) -> None:
    """The trials of ``--tune`` and what was chosen, on stderr (stdout keeps the scores)."""
    weeks = [str(w) for w in result.validation_weeks]
    table = Table(title=f"tuning: validation MAP@12 on the weeks from {', '.join(weeks)}")
    for column in ("setting", *weeks, "mean", "gain +- se", "seconds", "kept"):
        table.add_column(column, justify="left" if column == "setting" else "right")
    for t in result.trials:
        gain = "" if t.gain is None or t.se is None else f"{t.gain:+.5f} +- {t.se:.5f}"
        table.add_row(
            t.label, *(f"{m:.5f}" for m in t.maps), f"{t.mean:.5f}", gain, f"{t.seconds:.0f}", "yes" if t.kept else ""
        )
    err.print(table)
    err.print(f"tuning chose: {result.reason()}", highlight=False)


def print_mf_choice(choice: Choice) -> None:
    """What the MF model tried on the week before the cutoff and what it chose, on stderr."""
    table = Table(title=f"mf: validation MAP@12 on {choice.validation_buyers:,} buyers of the week before the cutoff")
    for column in ("setting", "MAP@12", "seconds"):
        table.add_column(column, justify="left" if column == "setting" else "right")
    for t in choice.trials:
        table.add_row(t.label(), f"{t.score:.5f}", f"{t.seconds:.1f}")
    err.print(table)
    sample = f" (fitted on {choice.customers:,} customers, {choice.share:.0%} of the pairs)" if choice.share < 1 else ""
    if choice.skipped:
        err.print(f"mf: skipped for time: {'; '.join(choice.skipped)}", highlight=False)
    err.print(f"mf chose: {choice.chosen.label()}{sample}", highlight=False)


def scores_table(scores: list[Score], title: str) -> Table:
    table = Table(title=title)
    for column in ("model", "MAP@12", "recall@12", "customers scored", "seconds"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for s in scores:
        table.add_row(s.model, f"{s.map_at_12:.5f}", f"{s.recall_at_12:.5f}", f"{s.customers:,}", f"{s.seconds:.1f}")
    return table


def summary_table(result: Evaluation) -> Table:
    first, last = result.weekly[0][0], result.weekly[-1][0]
    table = Table(title=f"mean of {result.weeks} holdout weeks from {first} to {last} (+- standard error)")
    for column in ("model", "MAP@12", "+-", "recall@12"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for row in result.summary().iter_rows(named=True):
        table.add_row(row["model"], f"{row['map_at_12']:.5f}", f"{row['map_se']:.5f}", f"{row['recall_at_12']:.5f}")
    return table


def ablation_table(base: Score, rows: list[AblationRow]) -> Table:
    weeks = rows[0].weeks if rows else 1
    over = f"mean of {weeks} weeks" if weeks > 1 else "one week"
    table = Table(
        title=f"ablation ({over}): ranker MAP@12 {base.map_at_12:.5f} with everything; each row removes one part; "
        "+- is the change's standard error over the buyers (within twice it: noise)"
    )
    for column in ("removed", "kind", "MAP@12", "change", "+-", "beyond noise"):
        table.add_column(column, justify="left" if column in ("removed", "kind") else "right")
    for row in rows:
        beyond = "yes" if abs(row.change) > 2 * row.se else "no"
        table.add_row(row.removed, row.kind, f"{row.map_at_12:.5f}", f"{row.change:+.5f}", f"{row.se:.5f}", beyond)
    return table
