"""``hmrec train-baseline`` (the MF model with its checkpoints) and ``hmrec candidates`` (the
candidate sources measured)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from hmrec import api
from hmrec.api import (
    PRESETS,
    SOURCES,
    Dataset,
    Engine,
    MFConfig,
    Score,
    Split,
    Weighting,
)
from hmrec.cli.common import engine_for, load_data, refuse_unsafe, split_at
from hmrec.cli.console import console, guard, progress, warn
from hmrec.cli.options import ENGINE_FLAGS, CutoffOpt, DataOpt, Flags, Loss, MFFilter, Preset, Solver, shared
from hmrec.cli.tables import scores_table

PresetOpt = Annotated[Preset, typer.Option("--preset", help="Interaction weights: time decay x price weighting.")]
TDecayOpt = Annotated[float | None, typer.Option("--t-decay", help="Override the preset's decay per day (0: off).")]
PriceWeightOpt = Annotated[
    float | None, typer.Option("--price-weight", help="Override the preset's markdown weighting in [0, 1] (0: off).")
]
SolverOpt = Annotated[
    Solver, typer.Option("--solver", help="als (weighted least squares) or sgd (sampled negatives, --loss).")
]
LossOpt = Annotated[Loss, typer.Option("--loss", help="sgd: bpr (default), bce, or observed (no negatives).")]
FilterOpt = Annotated[
    MFFilter,
    typer.Option(
        "--filter",
        help="Leave out what the customer bought: none, bought (all of it), or interval (bought more "
        "recently than the article's median interval between repeat purchases).",
    ),
]


def train_baseline(
    data: DataOpt,
    preset: PresetOpt = "decay0.01-price0",  # type: ignore[assignment]
    t_decay: TDecayOpt = None,
    price_weight: PriceWeightOpt = None,
    solver: SolverOpt = MFConfig.solver,  # type: ignore[assignment]
    loss: LossOpt = "bpr",  # type: ignore[assignment]
    alpha: Annotated[float, typer.Option("--alpha", help="als: confidence per unit of weight.")] = MFConfig.alpha,
    reg: Annotated[float, typer.Option("--reg", help="als: ridge penalty per row.")] = MFConfig.reg,
    cg_steps: Annotated[
        int, typer.Option("--cg-steps", help="als: conjugate-gradient steps per row and epoch.")
    ] = MFConfig.cg_steps,
    dim: Annotated[int, typer.Option("--dim", help="Embedding size.")] = MFConfig.dim,
    epochs: Annotated[int, typer.Option("--epochs", help="At most this many epochs.")] = MFConfig.epochs,
    lr: Annotated[float, typer.Option("--lr", help="sgd: learning rate (row-wise Adagrad).")] = MFConfig.lr,
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**31 - 1)] = 0,
    device: Annotated[str, typer.Option("--device", help="cpu, or cuda when a GPU is present.")] = "cpu",
    out: Annotated[Path | None, typer.Option("--out", help="Checkpoint folder (default DIR/models/mf).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint in --out.")] = False,
    bought_filter: FilterOpt = "none",  # type: ignore[assignment]
    cutoff: CutoffOpt = None,
) -> None:
    """Train the matrix factorisation baseline on the history before the cutoff and save it.

    Each epoch is checkpointed; training stops early when the holdout week's MAP@12 has not
    improved for a few epochs, and the best epoch's model is kept (best.pt).

    Example: hmrec train-baseline --data data/small --preset decay0.001-price1 --epochs 10
    """
    folder = out or data / "models" / "mf"
    refuse_unsafe(data, folders={"--out": folder})
    dataset = load_data(data)
    split = split_at(dataset, cutoff)
    base = PRESETS[Preset(preset).value]
    weighting = guard(
        lambda: Weighting(
            base.t_decay if t_decay is None else t_decay, base.price_weight if price_weight is None else price_weight
        )
    )
    numbers = {"dim": dim, "epochs": epochs, "lr": lr, "seed": seed, "alpha": alpha, "reg": reg, "cg_steps": cg_steps}
    cfg = guard(
        lambda: replace(
            MFConfig(),
            **numbers,
            loss=Loss(loss).value,
            solver=Solver(solver).value,
            weighting=weighting,
            device=device,
        )
    )
    trained, score = _train(dataset, split, cfg, MFFilter(bought_filter).value, folder, resume)
    assert trained.result is not None
    warn(trained.result.warnings)
    title = f"mf ({Preset(preset).value}, best epoch {trained.result.best_epoch + 1}), holdout week from {split.cutoff}"
    console.print(scores_table([score], title))
    console.print(f"saved {folder / 'best.pt'} (checkpoint of the last epoch: {folder / 'last.pt'})")


def _train(
    dataset: Dataset, split: Split, cfg: MFConfig, bought_filter: str, folder: Path, resume: bool
) -> tuple[Any, Score]:
    """``api.train_baseline`` with a bar over the epochs and a line per epoch."""
    with progress() as bar:
        task = bar.add_task("training mf", total=cfg.epochs)

        def on_epoch(epoch: int, epoch_loss: float, score: float) -> None:
            bar.update(
                task, completed=epoch + 1, description=f"epoch {epoch + 1}: loss {epoch_loss:.4f}, MAP@12 {score:.5f}"
            )
            bar.console.print(
                f"epoch {epoch + 1:3d}  loss {epoch_loss:.4f}  holdout MAP@12 {score:.5f}", highlight=False
            )

        return guard(lambda: api.train_baseline(dataset, split, cfg, bought_filter, folder, resume, on_epoch))


@shared(*ENGINE_FLAGS)
def candidates(
    data: DataOpt,
    flags: Flags,
    n: Annotated[
        int, typer.Option("--n", help="Candidates per customer for the quality table.", min=1, max=10_000)
    ] = 50,
    sizes: Annotated[
        str, typer.Option("--sizes", help="Comma-separated sizes for the recall curve.")
    ] = "20,50,100,200",
    source: Annotated[
        list[str] | None,
        typer.Option("--source", help=f"Source(s) to run; repeat the flag. Default: all ({', '.join(SOURCES)})."),
    ] = None,
    cutoff: CutoffOpt = None,
) -> None:
    """Measure each candidate source and their union on the holdout week's buyers.

    The union at --n per customer comes twice: in the sources' fixed order ("union") and by the
    cut learned on the week before ("cut"); "pool" is every source's --n together, uncapped.
    Prints candidates per customer, recall, the share of buyers with at least one hit, the
    MAP@12 a perfect ranker would reach on those candidates, and the time each source took;
    then recall against the number of candidates per customer.

    Example: hmrec candidates --data data/small --source repurchase --source bought_together --engine ray
    """
    settings = flags.settings()
    dataset = load_data(data)
    names = source or list(SOURCES)
    curve_sizes = guard(lambda: sorted({int(x) for x in sizes.split(",") if x.strip()} | {n}))
    split = split_at(dataset, cutoff)
    with engine_for(settings, dataset) as runner:
        candidate_tables(dataset, split, names, n, curve_sizes, runner)


def candidate_tables(
    dataset: Dataset, split: Split, names: list[str], n: int, curve_sizes: list[int], engine: Engine
) -> None:
    """Run the sources for the week's buyers; print the quality table and the recall curve."""
    with progress() as bar:
        bar.add_task(f"running and measuring candidate sources ({engine.name} engine)", total=None)
        tables, curve = guard(lambda: api.measure_candidates(dataset, split, names, curve_sizes, engine))
    rows = tables[n]
    buyers = split.truth.select("customer").unique().collect().height
    table = Table(title=f"candidates for {buyers:,} buyers of the week from {split.cutoff}, at most {n} per source")
    for column in ("source", "per customer", "recall", "buyers with a hit", "oracle MAP@12", "seconds"):
        table.add_column(column, justify="left" if column == "source" else "right")
    for row in rows:
        q = row.quality
        table.add_row(
            row.name,
            f"{q.per_customer:.1f}",
            f"{q.recall:.4f}",
            f"{q.customers_with_hit:.4f}",
            f"{q.oracle_map:.4f}",
            f"{row.seconds:.1f}",
        )
    console.print(table)
    recall = Table(title="recall against candidates per customer")
    recall.add_column("source")
    for size in curve_sizes:
        recall.add_column(f"@{size}", justify="right")
    for name, values in curve.items():
        recall.add_row(name, *(f"{v:.4f}" for v in values))
    console.print(recall)
