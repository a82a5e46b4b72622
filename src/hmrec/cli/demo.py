"""``hmrec demo``, ``report`` and ``serve``: the small shop end to end, the HTML report, the
HTTP API with its page."""

from __future__ import annotations

import shlex
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from hmrec import api
from hmrec.api import (
    MODEL_NAMES,
    SOURCES,
    Settings,
    Split,
)
from hmrec.cli.baseline import candidate_tables
from hmrec.cli.common import load_data, refuse_unsafe
from hmrec.cli.console import console, err, guard, progress
from hmrec.cli.models import evaluate_and_save, fit_with_progress
from hmrec.cli.options import ArtifactsOpt, CutoffOpt, DataOpt, ModelName, settings_from
from hmrec.cli.tables import scores_table


def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the demo shop and its submission.")] = Path(
        "demo-data"
    ),
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Generate the small synthetic shop, prepare it, evaluate the models, measure the
    candidate sources, write a submission.

    Example: hmrec demo --out demo-data
    """
    start = time.perf_counter()
    with progress() as bar:
        task = bar.add_task("generating the small shop", total=None)
        guard(
            lambda: api.generate(
                out, "small", seed=seed, on_week=lambda done, total: bar.update(task, completed=done, total=total)
            )
        )
    dataset = load_data(out)
    settings = Settings()
    result, report = evaluate_and_save(
        dataset, list(MODEL_NAMES), settings, out / "artifacts" / "evaluate", quiet=True, explain=True
    )
    best = max(result.scores, key=lambda s: s.map_at_12).model
    submission = out / "submission.csv"
    chosen = replace(settings, model=best)
    fitted = fit_with_progress(dataset, chosen, api.LocalEngine(), f"fitting {best} on everything")
    with progress() as bar:
        bar.add_task(f"writing a submission with {best}", total=None)
        guard(lambda: fitted.write_submission(dataset, submission))
    split = Split.at(dataset.transactions(), result.cutoff)  # the week evaluate held out
    candidate_tables(dataset, split, list(SOURCES), 50, [20, 50, 100], api.LocalEngine())
    console.print(scores_table(result.scores, f"small synthetic shop, holdout week from {result.cutoff}"))
    console.print(f"submission ({best}): {submission}")
    console.print(f"report: {report}")
    console.print(f"demo finished in {time.perf_counter() - start:.0f} s")
    console.print("explore the holdout week (recommendations, why, similar articles) with:")
    console.print(f"  {this_command()} serve --artifacts {report.parent}", highlight=False)
    console.print(
        "  then open http://127.0.0.1:8000/ (the API's own page: http://127.0.0.1:8000/docs)", highlight=False
    )


def this_command() -> str:
    """How to run this hmrec again from the current folder, venv activated or not: the script
    that is running (``.venv/bin/hmrec``, as typed), or ``python -m hmrec`` with this Python."""
    given = sys.argv[0]
    if Path(given).name == "hmrec":
        found = given if "/" in given else shutil.which(given)  # a bare name: where PATH found it
        if found:
            return shlex.quote(found)
    return f"{shlex.quote(sys.executable)} -m hmrec"


def report(
    data: DataOpt,
    model: Annotated[
        list[ModelName] | None,
        typer.Option("--model", help="Model(s) to compare; repeat the flag. Default: popular, repurchase, ranker."),
    ] = None,
    cutoff: CutoffOpt = None,
    artifacts: ArtifactsOpt = None,
) -> None:
    """Evaluate on the holdout week and write one self-contained HTML report with plots: MAP@12
    per model, candidate recall per source, MAP@12 by customer segment, feature importance,
    score distribution (to --artifacts, default DIR/artifacts/evaluate/report.html).

    Example: hmrec report --data data/small
    """
    folder = artifacts or data / "artifacts" / "evaluate"
    refuse_unsafe(data, folders={"--artifacts": folder})
    dataset = load_data(data)
    names = [ModelName(m).value for m in model] if model else [*api.RULE_BASELINES, api.DEFAULT_MODEL]
    evaluate_and_save(dataset, names, settings_from(None, cutoff=cutoff), folder)


def serve(
    artifacts: Annotated[
        Path, typer.Option("--artifacts", help="Folder written by hmrec submit (or evaluate) --artifacts.")
    ],
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)] = 8000,
) -> None:
    """Serve the recommendations over HTTP, with the customer explorer page at / and the
    OpenAPI page at /docs. Everything loads once at start-up.

    Example: hmrec serve --artifacts data/small/artifacts/submit --port 8000
    """
    import uvicorn

    start = time.perf_counter()
    application = guard(lambda: api.serve_app(artifacts))
    err.print(f"loaded {artifacts} in {time.perf_counter() - start:.1f} s; open http://{host}:{port}/", highlight=False)
    uvicorn.run(application, host=host, port=port, log_level="warning")
