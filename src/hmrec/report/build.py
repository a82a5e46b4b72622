"""The evaluation report: one self-contained HTML file with PNG plots (matplotlib) and tables."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no screen: draw into memory
import jinja2  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402

from hmrec.data.atomic import write_atomic  # noqa: E402
from hmrec.data.split import history as before  # noqa: E402
from hmrec.features.blocks import GLOSSARY, glossary_entry  # noqa: E402
from hmrec.metrics import average_precisions  # noqa: E402
from hmrec.registry import DEFAULT_MODEL  # noqa: E402
from hmrec.schema import Col, K  # noqa: E402

AGE_BINS = [25, 35, 45, 55]
AGE_LABELS = ["under 25", "25-34", "35-44", "45-54", "55 and over"]
ACTIVITY_BINS = [2, 5, 10, 25]
ACTIVITY_LABELS = ["0-1", "2-4", "5-9", "10-24", "25 and more"]
SEGMENT_ORDER = {
    "age group": [*AGE_LABELS, "unknown"],
    "purchases in 12 weeks": ACTIVITY_LABELS,
    "new or returning": ["new", "returning"],
}


@dataclass(frozen=True)
class ModelResult:
    """One model's holdout result: its scores and its recommendations (``customer, article,
    rank`` and, for the ranker, ``score, sources``)."""

    name: str
    map_at_12: float
    recall_at_12: float
    recs: pl.DataFrame


@dataclass(frozen=True)
class ReportInput:
    """Everything the report shows; the CLI gathers it from one ``evaluate`` run."""

    cutoff: date
    results: Sequence[ModelResult]
    truth: pl.DataFrame
    history: pl.LazyFrame
    customers: pl.LazyFrame
    recall_curve: dict[str, list[float]] | None = None
    curve_sizes: Sequence[int] = ()
    importance: pl.DataFrame | None = None
    run: dict[str, str] = field(default_factory=dict)
    """What the run was: hmrec's version, the date, the data folder, the models (shown as given)."""
    settings: str = ""
    """The settings the run used, as TOML (``settings.toml``)."""
    weekly: pl.DataFrame | None = None
    """``Evaluation.summary()`` when there were several holdout weeks."""
    weeks: Sequence[date] = ()
    """The holdout weeks' cutoffs, oldest first, when there were several."""
    ablation: tuple[float, Sequence[Any]] | None = None
    """The full ranker's MAP@12 and the ablation's rows (``evaluation.AblationRow``)."""


def _png(fig: plt.Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _bucket(expr: pl.Expr, bins: Sequence[int], labels: Sequence[str]) -> pl.Expr:
    """``labels[i]`` for values in ``[bins[i-1], bins[i])``; the last label from ``bins[-1]`` on."""
    out = pl.lit(labels[-1])
    for edge, label in zip(reversed(bins), reversed(labels[:-1]), strict=True):
        out = pl.when(expr < edge).then(pl.lit(label)).otherwise(out)
    return out


def segments(data: ReportInput) -> pl.DataFrame:
    """``customer, age group, activity, new or returning`` for the holdout week's buyers."""
    buyers = data.truth.select(Col.CUSTOMER).unique()
    since = data.cutoff - timedelta(weeks=12)
    counts = (
        before(data.history, data.cutoff)
        .join(buyers.lazy(), on=Col.CUSTOMER, how="semi")
        .group_by(Col.CUSTOMER)
        .agg(all=pl.len(), recent=(pl.col(Col.DATE) >= since).sum())
        .collect()
    )
    ages = data.customers.select(Col.CUSTOMER, Col.AGE).join(buyers.lazy(), on=Col.CUSTOMER, how="semi").collect()
    return (
        buyers.join(counts, on=Col.CUSTOMER, how="left")
        .join(ages, on=Col.CUSTOMER, how="left")
        .with_columns(pl.col("all", "recent").fill_null(0))
        .select(
            Col.CUSTOMER,
            pl.when(pl.col(Col.AGE).is_null())
            .then(pl.lit("unknown"))
            .otherwise(_bucket(pl.col(Col.AGE), AGE_BINS, AGE_LABELS))
            .alias("age group"),
            _bucket(pl.col("recent"), ACTIVITY_BINS, ACTIVITY_LABELS).alias("purchases in 12 weeks"),
            pl.when(pl.col("all") > 0).then(pl.lit("returning")).otherwise(pl.lit("new")).alias("new or returning"),
        )
    )


def segment_maps(data: ReportInput) -> dict[str, pl.DataFrame]:
    """Per segment kind: ``segment, buyers`` and one MAP@12 column per model."""
    seg = segments(data)
    per_model = {
        r.name: average_precisions(r.recs, data.truth, K).join(seg, on=Col.CUSTOMER, how="left") for r in data.results
    }
    out = {}
    for kind, order in SEGMENT_ORDER.items():
        table = seg.group_by(kind).agg(pl.len().alias("buyers"))
        for name, ap in per_model.items():
            table = table.join(ap.group_by(kind).agg(pl.col("ap").mean().alias(name)), on=kind, how="left")
        out[kind] = table.sort(pl.col(kind).cast(pl.Enum(order))).rename({kind: "segment"})
    return out


LABEL_ROOM = 1.15
"""The value axis of a bar chart reaches this many times its tallest bar (room for the label)."""


def _legend_outside(ax: plt.Axes) -> None:
    """The legend to the right of the axes, where it covers nothing (the saved figure grows to
    hold it)."""
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


def _bar_models(data: ReportInput) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6, 3))
    names = [r.name for r in data.results]
    values = [r.map_at_12 for r in data.results]
    ax.bar(names, values, color=["#c0282d" if n == DEFAULT_MODEL else "#8e8e8e" for n in names])
    for i, v in enumerate(values):
        ax.text(i, v, f"{v:.4f}", ha="center", va="bottom", fontsize=8)
    ax.set_ylim(0, max([*values, 1e-9]) * LABEL_ROOM)  # room above the tallest bar for its label
    ax.set_ylabel("MAP@12")
    ax.set_title(f"MAP@12 per model, holdout week from {data.cutoff}")
    return fig


def _recall_plot(data: ReportInput) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, values in (data.recall_curve or {}).items():
        style = {"linewidth": 2.5, "color": "black"} if name == "union" else {"linewidth": 1.2}
        ax.plot(list(data.curve_sizes), values, marker="o", label=name, **style)
    ax.set_xlabel("candidates per customer")
    ax.set_ylabel("recall")
    ax.set_title("recall against the number of candidates")
    _legend_outside(ax)
    return fig


def _segment_plot(kind: str, table: pl.DataFrame, models: list[str]) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6, 3))
    width = 0.8 / max(len(models), 1)
    for i, name in enumerate(models):
        xs = [j + i * width for j in range(table.height)]
        ax.bar(xs, table[name].fill_null(0).to_list(), width=width, label=name)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(table.height)], table["segment"].to_list(), fontsize=8)
    ax.set_ylabel("MAP@12")
    ax.set_title(f"MAP@12 by {kind}")
    _legend_outside(ax)
    return fig


def _importance_plot(importance: pl.DataFrame, top: int = 20) -> plt.Figure:
    head = importance.sort("gain", descending=True).head(top).reverse()
    fig, ax = plt.subplots(figsize=(6, 0.25 * head.height + 1))
    ax.barh(head["feature"].to_list(), head["gain"].to_list(), color="#2f5fb3")
    ax.set_xlabel("total gain")
    ax.set_title(f"ranker feature importance (top {head.height})")
    ax.tick_params(axis="y", labelsize=7)
    return fig


def _score_plot(recs: pl.DataFrame, truth: pl.DataFrame) -> plt.Figure:
    labelled = recs.filter(pl.col(Col.SCORE).is_not_null()).join(
        truth.select(Col.CUSTOMER, Col.ARTICLE).unique().with_columns(pl.lit(True).alias("hit")),
        on=[Col.CUSTOMER, Col.ARTICLE],
        how="left",
    )
    fig, ax = plt.subplots(figsize=(6, 3))
    bought = labelled.filter(pl.col("hit").is_not_null())[Col.SCORE].to_list()
    missed = labelled.filter(pl.col("hit").is_null())[Col.SCORE].to_list()
    ax.hist(missed, bins=50, alpha=0.6, density=True, label=f"not bought ({len(missed):,})")
    if bought:
        ax.hist(bought, bins=50, alpha=0.6, density=True, label=f"bought ({len(bought):,})")
    ax.set_xlabel("ranker score of a recommended article")
    ax.set_ylabel("density")
    ax.set_title("score distribution of the recommendations")
    _legend_outside(ax)
    return fig


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("hmrec.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def glossary(features: Sequence[str]) -> list[tuple[str, str, str, int]]:
    """``prefix, block, meaning, count`` for every prefix of ``GLOSSARY``: how many of
    ``features`` (the ranker's) it explains."""
    counts: dict[str, int] = {}
    for feature in features:
        entry = glossary_entry(feature)
        if entry is not None:
            counts[entry[0]] = counts.get(entry[0], 0) + 1
    return [(prefix, block, meaning, counts.get(prefix, 0)) for prefix, block, meaning in GLOSSARY]


def render(data: ReportInput) -> str:
    """The report as one HTML string (plots embedded as base64 PNG), from ``templates/report.html.j2``."""
    models = [r.name for r in data.results]
    scores = pl.DataFrame(
        {
            "model": models,
            "MAP@12": [r.map_at_12 for r in data.results],
            "recall@12": [r.recall_at_12 for r in data.results],
        }
    )
    curve = None
    if data.recall_curve:
        curve = pl.DataFrame(
            {"source": list(data.recall_curve)}
            | {f"@{s}": [v[i] for v in data.recall_curve.values()] for i, s in enumerate(data.curve_sizes)}
        )
    by_segment = segment_maps(data)
    ranker = next(
        (r for r in data.results if Col.SCORE in r.recs.columns and r.recs[Col.SCORE].is_not_null().any()), None
    )
    importance = data.importance if data.importance is not None and data.importance.height else None
    plots = {
        "models": _png(_bar_models(data)),
        "recall": _png(_recall_plot(data)) if curve is not None else None,
        "segments": {kind: _png(_segment_plot(kind, table, models)) for kind, table in by_segment.items()},
        "importance": _png(_importance_plot(importance)) if importance is not None else None,
        "scores": _png(_score_plot(ranker.recs, data.truth)) if ranker is not None else None,
    }
    weekly = _weekly(data)
    base, rows = data.ablation if data.ablation is not None else (None, [])
    features = importance["feature"].to_list() if importance is not None else []
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            cutoff=data.cutoff,
            buyers=data.truth[Col.CUSTOMER].n_unique(),
            purchases=data.truth.height,
            run=list(data.run.items()),
            settings=data.settings,
            scores=scores,
            plots=plots,
            weekly=weekly,
            n_weeks=int(data.weekly["weeks"].max()) if weekly is not None else 1,  # type: ignore[index, arg-type]
            weeks_from=data.weeks[0] if data.weeks else data.cutoff,
            weeks_to=data.weeks[-1] if data.weeks else data.cutoff,
            ablation=rows,
            ablation_base=base,
            ablation_weeks=rows[0].weeks if rows else 1,
            curve=curve,
            segments=list(by_segment.items()),
            glossary=glossary(features) if features else [],
        )
    )


def write_report(data: ReportInput, path: Path) -> Path:
    """Write the report to ``path`` (atomically)."""
    text = render(data)
    return write_atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def _weekly(data: ReportInput) -> pl.DataFrame | None:
    """The weeks' means with their standard errors, as the report's table shows them (None: one week)."""
    if data.weekly is None or not data.weekly.height:
        return None
    return data.weekly.select(
        "model",
        pl.col("map_at_12").alias("mean MAP@12"),
        pl.col("map_se").alias("+-"),
        pl.col("recall_at_12").alias("mean recall@12"),
    )
