"""``hmrec evaluate``, ``submit``, ``fit``, ``recommend`` and ``report``: the commands that fit and
score models. Each parses its options, calls ``hmrec.api`` and prints what comes back."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import Progress, TaskID

from hmrec import api
from hmrec.api import (
    MODEL_NAMES,
    Dataset,
    Engine,
    Evaluation,
    Model,
    Settings,
)
from hmrec.cli.common import engine_for, given, holding, load_data, refuse_unsafe
from hmrec.cli.console import console, fail, guard, progress, warn
from hmrec.cli.options import (
    ENGINE_FLAGS,
    ArtifactsOpt,
    CutoffOpt,
    DataOpt,
    ExplainOpt,
    Flags,
    ModelName,
    ModelOpt,
    shared,
    value_of,
)
from hmrec.cli.tables import ablation_table, print_mf_choice, print_tuning, scores_table, summary_table

CURVE_SIZES = (10, 20, 50, 100)
"""Candidates per customer at which the report draws each source's recall."""

LegacyOutputOpt = Annotated[Path | None, typer.Option("--output", hidden=True, help="The old name of --out.")]


def out_path(out: Path | None, legacy: Path | None) -> Path:
    """``--out``, or the ``--output`` of earlier versions (one of them, not both)."""
    if out is not None and legacy is not None:
        raise fail("give --out once (--output is its old name)")
    if out is None and legacy is None:
        raise fail("missing option --out: where to write the file")
    return out if out is not None else legacy  # type: ignore[return-value]


def told(bar: Progress, task: TaskID, runner: Engine) -> dict[str, object]:
    """What a fitting call is given to tell of its work: its steps on the progress display,
    what tuning and the MF model tried and chose printed, and the engine it runs on."""
    return {
        "on_step": lambda text: bar.update(task, description=text),
        "on_tuned": print_tuning,
        "on_mf_choice": print_mf_choice,
        "engine": runner,
    }


def evaluate_and_save(
    dataset: Dataset,
    names: list[str],
    settings: Settings,
    folder: Path,
    quiet: bool = False,
    ablation: bool = False,
    weeks: int = 1,
    explain: bool = False,
) -> tuple[Evaluation, Path]:
    """``api.evaluate`` with its artifacts and report in ``folder`` (published whole, under its
    lock), the scores printed unless ``quiet``. Returns the report's path too."""
    with engine_for(settings, dataset) as runner, progress() as bar:
        task = bar.add_task("evaluating", total=None)
        result = guard(
            lambda: api.evaluate(
                dataset,
                names,
                settings,
                **told(bar, task, runner),
                curve_sizes=CURVE_SIZES,
                ablation=ablation,
                artifacts=folder,
                weeks=weeks,
                explain=explain,
            )
        )
    assert result.report is not None
    if not quiet:
        console.print(scores_table(result.scores, f"holdout week from {result.cutoff}"))
        if result.weeks > 1:
            console.print(summary_table(result))
        console.print(f"artifacts: {folder}  report: {result.report}")
    return result, result.report


@shared()
def evaluate(
    data: DataOpt,
    flags: Flags,
    model: Annotated[
        list[ModelName] | None,
        typer.Option("--model", help="Model(s) to score; repeat the flag. Default: all (the ranker is the main one)."),
    ] = None,
    cutoff: CutoffOpt = None,
    artifacts: ArtifactsOpt = None,
    run_ablation: Annotated[
        bool,
        typer.Option("--ablation", help="Also retrain the ranker without each feature block and each source."),
    ] = False,
    weeks: Annotated[
        int,
        typer.Option(
            "--weeks",
            min=1,
            help="Hold out each of the last N weeks in turn (ending with --cutoff's) and report each model's "
            "mean MAP@12 with its standard error; the ablation too.",
        ),
    ] = 1,
    explain: ExplainOpt = False,
) -> None:
    """Hold out the last week of DIR, fit on the weeks before, print MAP@12 and recall@12 of
    every model in one table, and write the HTML report. The main model's holdout
    recommendations (with what was bought, for hmrec serve), the ranker's model, feature list
    and importance, and report.html go to --artifacts (default DIR/artifacts/evaluate).

    Example: hmrec evaluate --data data/small --model ranker --model repurchase --ablation
    Over four weeks: hmrec evaluate --data data/small --weeks 4
    """
    settings = flags.settings(cutoff=cutoff)
    folder = artifacts or data / "artifacts" / "evaluate"
    refuse_unsafe(data, folders={"--artifacts": folder}, inputs=given(flags.config))
    dataset = load_data(data)
    names = [ModelName(m).value for m in model] if model else list(MODEL_NAMES)
    result, _ = evaluate_and_save(dataset, names, settings, folder, ablation=run_ablation, weeks=weeks, explain=explain)
    if result.ablation is not None:
        console.print(ablation_table(*result.ablation))


def fit_with_progress(dataset: Dataset, settings: Settings, runner: Engine, doing: str) -> Model:
    """``api.fit`` with a progress display, and what tuning and the MF model chose printed."""
    with progress() as bar:
        task = bar.add_task(doing, total=None)
        return guard(
            lambda: api.fit(
                dataset,
                settings,
                **told(bar, task, runner),
            )
        )


@shared()
def submit(
    data: DataOpt,
    flags: Flags,
    out: Annotated[Path | None, typer.Option("--out", help="Where to write the submission CSV.")] = None,
    model: ModelOpt = None,
    artifacts: ArtifactsOpt = None,
    explain: ExplainOpt = False,
    output: LegacyOutputOpt = None,
) -> None:
    """Fit on all of DIR and write a Kaggle submission (customer_id,prediction).

    One row per customer of sample_submission.csv (else customers.csv), in that order. What
    hmrec serve reads (the recommendations with scores and sources, the articles, recent
    purchases) goes to --artifacts (default DIR/artifacts/submit), and the fitted model to its
    model/ folder (hmrec recommend --model-dir reads it). The same as hmrec fit, then hmrec recommend.

    Example: hmrec submit --data data/small --out submission.csv --engine ray --workers 2
    """
    target = out_path(out, output)
    folder = artifacts or data / "artifacts" / "submit"
    refuse_unsafe(data, files={"--out": target}, folders={"--artifacts": folder}, inputs=given(flags.config))
    settings = flags.settings(model=model)
    if explain and not api.model_class(settings.model).explains:
        raise fail(f"--explain explains the ranker's scores; the {settings.model} model has none")
    dataset = load_data(data)
    with engine_for(settings, dataset) as runner, progress() as bar:
        task = bar.add_task(f"fitting {settings.model}", total=None)
        done = guard(
            lambda: api.submit(
                dataset,
                target,
                settings,
                artifacts=folder,
                explain=explain,
                **told(bar, task, runner),
            )
        )
    console.print(f"wrote {target} ({done.customers:,} customers, model {done.model.name}); artifacts: {folder}")


@shared()
def fit(
    data: DataOpt,
    flags: Flags,
    out: Annotated[Path, typer.Option("--out", help="Folder to save the fitted model in (replaced whole).")],
    model: ModelOpt = None,
) -> None:
    """Fit a model on all of DIR and save it, to score data later without fitting again
    (hmrec recommend). Prints the settings used; they are saved beside the model
    (OUT/settings.toml), and --config OUT/settings.toml fits the same model again.

    Example: hmrec fit --data data/hm --out models/ranker --config ranker.toml
    """
    refuse_unsafe(data, folders={"--out": out})
    settings = flags.settings(model=model)
    dataset = load_data(data)
    with holding(out), engine_for(settings, dataset) as runner:
        fitted = fit_with_progress(dataset, settings, runner, f"fitting {settings.model}")
        guard(lambda: fitted.save(out))
    console.print(f"# settings used (saved as {out / 'settings.toml'})", highlight=False)
    console.print(escape(fitted.settings.to_toml()), highlight=False, end="")
    console.print(f"saved the {fitted.name} model fitted on {data} (to score the week from {fitted.cutoff}) to {out}")


@shared(*ENGINE_FLAGS)
def recommend(
    model_dir: Annotated[
        Path, typer.Option("--model-dir", help="Folder of a model saved by hmrec fit (or submit's model/).")
    ],
    data: DataOpt,
    flags: Flags,
    out: Annotated[
        Path | None, typer.Option("--out", help="Where to write the recommendations (submission CSV).")
    ] = None,
    customers: Annotated[
        Path | None,
        typer.Option(
            "--customers",
            help="A CSV or parquet file with a customer_id column: recommend for those customers, in that order "
            "(default: every customer of the submission). Ids the data does not know get the fill list (last week's best sellers at fit time).",
        ),
    ] = None,
    output: LegacyOutputOpt = None,
) -> None:
    """Score DIR with a saved model, without fitting again: candidates and features are read
    from DIR (for example the same log with a newer week appended) at the day after its last
    transaction. Writes customer_id,prediction like hmrec submit: on the data the model was
    fitted on, the same file.

    Example: hmrec recommend --model-dir models/ranker --data data/hm --out submission.csv
    """
    target = out_path(out, output)
    refuse_unsafe(data, files={"--out": target}, inputs=given(customers), read_from=[model_dir])
    saved = guard(lambda: api.load_model(model_dir))
    settings = guard(
        lambda: replace(saved.settings, engine="local", address=None).with_flags(
            engine=value_of(flags.engine), workers=flags.workers, address=flags.address
        )
    )
    who = guard(lambda: api.read_customers(customers)) if customers is not None else None
    dataset = load_data(data)
    guard(lambda: api.refuse_stray(dataset, "the model would score the week after them"))
    stale = guard(lambda: saved.staleness(dataset))
    if stale:
        warn([stale])
    with holding(target), engine_for(settings, dataset) as runner, progress() as bar:
        task = bar.add_task(f"scoring {data} with the {saved.name} model", total=None)
        saved.engine, saved.on_step = runner, lambda text: bar.update(task, description=text)
        # the submission's lists a part of the engine's work at a time, never all at once
        parts = saved.submission_parts(dataset) if who is None else None
        guard(lambda: saved.write_submission(dataset, target, who, recommendations=parts))
    shown = "every customer of the submission" if who is None else f"{who.len():,} customers of {customers}"
    console.print(f"wrote {target} ({shown}, model {saved.name} from {model_dir})")
