"""The HTML report: it holds its plots, and its segment figures add up to the overall MAP@12."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from markupsafe import escape
from matplotlib.figure import Figure

from hmrec.data.dataset import Dataset
from hmrec.data.split import Split
from hmrec.evaluation import _fit_and_score, evaluate_model
from hmrec.features.blocks import glossary_entry
from hmrec.ranking.config import RankerConfig
from hmrec.recommenders.options import ModelOptions
from hmrec.report.build import (
    ModelResult,
    ReportInput,
    _bar_models,
    _segment_plot,
    glossary,
    render,
    segment_maps,
    write_report,
)
from tests.browser import headless, needs_browser, wait_for


@pytest.fixture(scope="module")
def report_input(tiny_dataset: Dataset) -> ReportInput:
    split = Split.at(tiny_dataset.transactions())
    results = []
    for name in ("popular", "ranker"):
        score, recs = evaluate_model(name, split, tiny_dataset)
        results.append(ModelResult(name, score.map_at_12, score.recall_at_12, recs))
    return ReportInput(
        cutoff=split.cutoff,
        results=results,
        truth=split.truth.collect(),
        history=split.history,
        customers=tiny_dataset.customers(),
        recall_curve={"repurchase": [0.1, 0.2], "union": [0.2, 0.3]},
        curve_sizes=[10, 20],
        importance=pl.DataFrame({"feature": ["a", "b"], "gain": [2.0, 1.0], "splits": [3, 1]}),
    )


def test_the_report_is_one_file_with_its_plots(report_input: ReportInput, tmp_path: Path) -> None:
    path = write_report(report_input, tmp_path / "report.html")
    text = path.read_text()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    # models, recall, three segment kinds, importance, score distribution
    assert len(images) == 7
    assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    for heading in (
        "MAP@12 per model",
        "Candidate recall",
        "customer segment",
        "Feature importance",
        "Score distribution",
    ):
        assert heading in text
    assert "http" not in text.replace("http-equiv", "")  # nothing fetched from elsewhere
    assert not list(tmp_path.glob(".*tmp"))


def test_segments_add_up_to_the_overall_map(report_input: ReportInput) -> None:
    buyers = report_input.truth["customer"].n_unique()
    for table in segment_maps(report_input).values():
        assert table["buyers"].sum() == buyers
        for result in report_input.results:
            weighted = (table["buyers"] * table[result.name].fill_null(0)).sum() / buyers
            assert weighted == pytest.approx(result.map_at_12)


def _display_boxes(fig: Figure) -> Any:
    fig.canvas.draw()
    return fig.canvas.get_renderer()  # type: ignore[attr-defined]


def test_the_tallest_bars_label_lies_inside_its_chart(report_input: ReportInput) -> None:
    fig = _bar_models(report_input)
    renderer = _display_boxes(fig)
    ax = fig.axes[0]
    inside = ax.get_window_extent(renderer)
    labels = [t for t in ax.texts if t.get_text()]
    assert len(labels) == len(report_input.results)
    for label in labels:
        box = label.get_window_extent(renderer)
        assert inside.y0 <= box.y0 and box.y1 <= inside.y1, label.get_text()  # not clipped at the top


def test_legends_cover_no_bar(report_input: ReportInput) -> None:
    models = [r.name for r in report_input.results]
    full = pl.DataFrame({"segment": ["a", "b", "c", "d"], "buyers": [1, 1, 1, 1]}).with_columns(
        pl.lit(0.3).alias(name) for name in models
    )  # every bar as tall as the tallest: a legend inside the chart must cover one
    for kind, table in [*segment_maps(report_input).items(), ("full", full)]:
        fig = _segment_plot(kind, table, models)
        renderer = _display_boxes(fig)
        ax = fig.axes[0]
        legend = ax.get_legend().get_window_extent(renderer)
        bars = [p.get_window_extent(renderer) for p in ax.patches if p.get_height() > 0]
        assert bars and not any(legend.overlaps(bar) for bar in bars), kind


def test_the_report_tells_the_run_its_weeks_ablation_and_features(report_input: ReportInput, tmp_path: Path) -> None:
    from hmrec.evaluation import AblationRow

    weekly = pl.DataFrame(
        {"model": ["popular", "ranker"], "weeks": [2, 2], "map_at_12": [0.1, 0.2], "map_se": [0.01, 0.02]}
    ).with_columns(recall_at_12=pl.lit(0.3))
    rows = [
        AblationRow("pair", "feature block", 0.15, -0.05, 0.01, 2),
        AblationRow("popular", "source", 0.2, 0.001, 0.004, 2),
    ]
    data = replace(
        report_input,
        run={"hmrec": "9.9.9", "data": "/data/my-shop", "written": "2026-12-03 10:00 UTC"},
        settings='model = "ranker"\n\n[ranker]\ntrain_weeks = 2\n',
        weekly=weekly,
        weeks=[report_input.cutoff, report_input.cutoff],
        ablation=(0.2, rows),
        importance=pl.DataFrame({"feature": ["c_age", "p_n", "pd_share", "popular_score"], "gain": [4.0, 3, 2, 1]}),
    )
    text = render(data)
    for shown in ("9.9.9", "/data/my-shop", "2026-12-03 10:00 UTC", "train_weeks = 2", "Over 2 holdout weeks"):
        assert shown in text
    ablation = text[text.index('id="ablation"') : text.index('id="recall"')]
    assert "-0.05000" in ablation and "+0.00100" in ablation
    assert ablation.count("noise") == 2  # the noise class once in the note's legend... and on the one small change
    glossary_part = text[text.index('id="glossary"') :]
    for prefix, _, meaning, _ in glossary(["c_age"]):
        assert escape(meaning) in glossary_part and escape(prefix) in glossary_part
    assert "<td>&lt;b&gt;" not in text  # escaped by the template
    escaped = render(replace(data, run={"data": "<b>x</b>"}))
    assert "&lt;b&gt;x&lt;/b&gt;" in escaped and "<b>x</b>" not in escaped


def test_the_glossary_explains_every_feature_of_a_fitted_ranker(tiny_dataset: Dataset) -> None:
    from hmrec.ranking.data import CandidateConfig

    split = Split.at(tiny_dataset.transactions())
    options = ModelOptions(ranker=RankerConfig(train_weeks=2), candidates=CandidateConfig(embedding=True, units=True))
    _, _, model = _fit_and_score("ranker", split, tiny_dataset, options)
    features = model.ranker.features  # type: ignore[attr-defined]
    assert any(f.startswith("m_") for f in features) and any(f.startswith("u_") for f in features)
    assert [f for f in features if glossary_entry(f) is None] == []
    counted = glossary(features)
    assert sum(count for *_, count in counted) == len(features)


@pytest.fixture
def browser() -> Iterator[Any]:
    yield from headless(1000, 900)


@needs_browser
def test_the_report_renders_whole_in_a_browser(report_input: ReportInput, tmp_path: Path, browser: Any) -> None:
    path = write_report(report_input, tmp_path / "report.html")
    browser.get(path.as_uri())
    wait_for(lambda: browser.execute_script("return document.readyState") == "complete")
    images = browser.execute_script(
        "return [...document.images].map(i => [i.alt, i.complete && i.naturalWidth > 0, "
        "i.getBoundingClientRect().right])"
    )
    assert len(images) == 7 and all(loaded for _, loaded, _ in images), images
    width = browser.execute_script("return document.documentElement.clientWidth")
    assert all(right <= width for *_, right in images)  # no plot runs off the page
    assert browser.execute_script("return document.documentElement.scrollWidth") <= width
    for heading in ("The run", "MAP@12 per model", "Glossary of the features"):
        assert heading in browser.find_element("tag name", "body").text
    pixels = np.frombuffer(screenshot_pixels(browser.get_screenshot_as_png()), dtype=np.uint8)
    assert pixels.std() > 10  # something drawn, not a blank page


def screenshot_pixels(png: bytes) -> bytes:
    """The pixels of a PNG screenshot (matplotlib reads it)."""
    import io

    import matplotlib.image as mpimg

    return (mpimg.imread(io.BytesIO(png), format="png") * 255).astype(np.uint8).tobytes()
