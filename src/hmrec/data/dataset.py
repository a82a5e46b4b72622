"""A prepared dataset: typed parquet files read back as lazy frames."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from hmrec.data import ingest
from hmrec.data.ids import IdMap
from hmrec.data.layout import PREPARED_DIRNAME, PREPARED_FILES
from hmrec.schema import Col


@dataclass(frozen=True)
class Dataset:
    """The folder ``prepare`` wrote. Every accessor returns a fresh LazyFrame."""

    root: Path
    source: Path | None = field(default=None, compare=False)
    """The folder of the Kaggle files it was prepared from (None: not known), which writers keep
    out of (``submission.refuse_submission_path``)."""

    @classmethod
    def from_frames(
        cls,
        transactions: Any,
        articles: Any,
        customers: Any,
        sample_submission: Any | None = None,
        *,
        folder: Path | str | None = None,
    ) -> Dataset:
        """The dataset of Kaggle-format frames in memory (polars or pandas; the columns of the
        Kaggle files), validated and prepared as files are. They are written to ``folder``
        (``raw/`` and ``prepared/``; refused when it holds files hmrec did not write) or, by
        default, to a temporary folder removed when Python exits. What the check found worth a
        word comes as Python warnings; what would make a run wrong raises ``DataError``."""
        import warnings

        from hmrec.data import frames

        where = frames.frames_folder(folder)
        raw = frames.write_frames(where, transactions, articles, customers, sample_submission)
        with frames.named_as_frames(raw):
            result = prepare(raw, where / PREPARED_DIRNAME, rebuild=True)
        for message in result.warnings:
            warnings.warn(message, stacklevel=2)
        return result.dataset

    def _scan(self, key: str) -> pl.LazyFrame:
        return pl.scan_parquet(self.root / PREPARED_FILES[key], glob=False)

    def transactions(self) -> pl.LazyFrame:
        """``t_dat, customer, article, price, sales_channel_id``."""
        return self._scan("transactions")

    def customers(self) -> pl.LazyFrame:
        """``customer, FN, Active, club_member_status, fashion_news_frequency, age, postal``."""
        return self._scan("customers")

    def articles(self) -> pl.LazyFrame:
        """``article`` and the catalogue's columns but ``article_id``."""
        return self._scan("articles")

    def customer_map(self) -> pl.LazyFrame:
        """``customer, customer_id``: every customer seen in any input file."""
        return self._scan("customer_map")

    def article_map(self) -> pl.LazyFrame:
        """``article, article_id`` (10 digits)."""
        return self._scan("article_map")

    def submission_customers(self) -> pl.LazyFrame:
        """``customer``, in the order a submission lists them."""
        return self._scan("submission_order")

    @property
    def ids(self) -> IdMap:
        """Kaggle ids <-> indices (``data/ids.py``): ``to_index`` for what a user asks for,
        ``to_kaggle`` for what goes back."""
        return IdMap(self.customer_map, self.article_map)

    def date_range(self) -> tuple[date, date]:
        """First and last transaction date."""
        row = (
            self.transactions().select(pl.col(Col.DATE).min().alias("lo"), pl.col(Col.DATE).max().alias("hi")).collect()
        )
        return row["lo"][0], row["hi"][0]

    def n_articles(self) -> int:
        """How many articles the catalogue holds (indices 0 to this, less one)."""
        return self.ids.size(Col.ARTICLE_ID)


@dataclass
class PrepareResult:
    """What ``prepare`` did: the dataset, whether it was rebuilt, and warnings for the user."""

    dataset: Dataset
    rebuilt: bool
    warnings: list[str] = field(default_factory=list)


def prepare(
    data: Path | str,
    prepared: Path | str | None = None,
    on_step: ingest.Step | None = None,
    rebuild: bool = False,
) -> PrepareResult:
    """The prepared dataset of the Kaggle files in ``data`` (``ingest.load``: prepared only when
    missing or stale; with ``rebuild``, ``ingest.prepare``: always)."""
    done = (ingest.prepare if rebuild else ingest.load)(data, prepared, on_step)
    return PrepareResult(Dataset(done.root, Path(data)), done.rebuilt, done.warnings)
