"""The ``hmrec`` command: typer commands, one module per group (``data``: generate, prepare,
check; ``models``: evaluate, submit, fit, recommend; ``baseline``: train-baseline, candidates;
``demo``: demo, report, serve). They parse, call ``hmrec.api``, and print (``console``,
``tables``); the options they share are declared once (``options``)."""

from __future__ import annotations

from typing import Annotated

import typer

from hmrec.cli.baseline import candidates, train_baseline
from hmrec.cli.console import console, memory_limit, warn
from hmrec.cli.data import check, generate, prepare
from hmrec.cli.demo import demo, report, serve
from hmrec.cli.models import evaluate, fit, recommend, submit
from hmrec.version import __version__

app = typer.Typer(
    help="hmrec: recommend the 12 articles each customer will buy next week (H&M Kaggle format).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        console.print(f"hmrec {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _start(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print hmrec's version and exit.")
    ] = False,
) -> None:
    warn(memory_limit())


for command in (generate, prepare, check, evaluate, submit, fit, recommend):
    app.command()(command)
app.command("train-baseline")(train_baseline)
for command in (candidates, demo, report, serve):
    app.command()(command)

__all__ = ["app"]
