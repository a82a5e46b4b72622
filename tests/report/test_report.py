"""The HTML report: it holds its plots, and its segment figures add up to the overall MAP@12."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import polars as pl
import pytest

from hmrec.data.dataset import Dataset
from hmrec.data.split import Split
from hmrec.evaluation import evaluate_model
from hmrec.report.build import ModelResult, ReportInput, segment_maps, write_report


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
