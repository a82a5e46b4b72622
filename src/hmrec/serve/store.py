"""The artifacts in memory (``Store``): read once when the app starts, checked to be one run's
whole set, answered from arrays indexed by customer and article id."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from hmrec.schema import Col
from hmrec.serve.artifacts import (
    ARTICLE_FIELDS,
    ARTICLES,
    HISTORY,
    META,
    RECOMMENDATIONS,
    SIMILAR,
    TRUTH,
    digest,
)
from hmrec.serve.colours import swatch
from hmrec.serve.schemas import Article


def _ranges(frame: pl.DataFrame, key: str = Col.CUSTOMER_ID) -> dict[str, tuple[int, int]]:
    """``key -> (first row, end row)`` of a frame sorted by ``key`` (customer_id)."""
    spans = (
        frame.with_row_index("__row")
        .group_by(key, maintain_order=True)
        .agg(pl.col("__row").min().alias("lo"), pl.len().alias("n"))
    )
    return {c: (lo, lo + n) for c, lo, n in spans.iter_rows()}


def _article_json(row: dict[str, Any]) -> dict[str, Any]:
    return Article(
        article_id=row[Col.ARTICLE_ID],
        name=row[Col.PROD_NAME],
        product_type=row["product_type_name"],
        product_group=row[Col.PRODUCT_GROUP],
        colour=row[Col.COLOUR_GROUP],
        colour_hex=swatch(row[Col.COLOUR_GROUP]),
        department=row["department_name"],
        description=row["detail_desc"],
    ).model_dump()


def _unknown_article(article_id: str) -> dict[str, Any]:
    return _article_json(dict.fromkeys(ARTICLE_FIELDS) | {Col.ARTICLE_ID: article_id})


@dataclass
class Store:
    """The artifacts in memory as arrays, indexed by customer id; article payloads built once."""

    meta: dict[str, Any]
    articles: list[dict[str, Any]]  # by article position
    article_pos: dict[str, int]
    rec_rows: dict[str, tuple[int, int]]
    rec_article: np.ndarray
    rec_rank: np.ndarray
    rec_score: np.ndarray  # NaN: no score
    rec_sources: np.ndarray  # position in source_lists
    source_lists: list[list[str]]
    history_rows: dict[str, tuple[int, int]]
    history_article: np.ndarray
    history_date: np.ndarray  # datetime64[D]
    history_price: np.ndarray
    history_channel: np.ndarray
    truth: dict[str, set[str]] | None
    rec_explain: list[Any] | None = None
    """Each recommendation row's reasons, when the run kept them (``--explain``)."""
    similar_rows: dict[str, tuple[int, int]] | None = None
    """``article_id -> (first row, end row)`` of the similar articles, when written."""
    similar_article: np.ndarray | None = None
    similar_sources: list[list[str]] | None = None

    @classmethod
    def load(cls, folder: Path) -> Store:
        """The artifacts of ``folder`` read whole; refused (naming what is wrong and how to write
        them again) when a file is missing or belongs to another run."""
        missing = [name for name in (META, RECOMMENDATIONS, ARTICLES, HISTORY) if not (folder / name).exists()]
        if missing:
            raise FileNotFoundError(
                f"{folder} holds no serving artifacts (missing {', '.join(missing)}); {write_again(folder)}"
            )
        meta = _read_meta(folder / META)
        _check_set(folder, meta["files"])
        catalogue = _Catalogue.read(folder / ARTICLES)
        # read in this order: articles a file names that the catalogue lacks get places in it
        recs = catalogue.with_positions(pl.read_parquet(folder / RECOMMENDATIONS, glob=False))
        names = recs[Col.SOURCES].fill_null("")
        distinct = names.unique().sort().to_list()
        codes = names.cast(pl.Enum(distinct))
        explain = recs[Col.EXPLAIN].to_list() if Col.EXPLAIN in recs.columns else None
        similar_rows, similar_article, similar_sources = _similar(folder, meta, catalogue)
        history = catalogue.with_positions(pl.read_parquet(folder / HISTORY, glob=False))
        articles, article_pos = catalogue.articles, catalogue.article_pos
        source_lists = [s.split(",") if s else [] for s in distinct]
        return cls(
            meta=meta,
            articles=articles,
            article_pos=article_pos,
            rec_rows=_ranges(recs),
            rec_article=recs["__pos"].to_numpy(),
            rec_rank=recs[Col.RANK].to_numpy(),
            rec_score=recs[Col.SCORE].cast(pl.Float64).fill_null(float("nan")).to_numpy(),
            rec_sources=codes.to_physical().to_numpy(),
            source_lists=source_lists,
            history_rows=_ranges(history),
            history_article=history["__pos"].to_numpy(),
            history_date=history[Col.DATE].to_numpy().astype("datetime64[D]"),
            history_price=history[Col.PRICE].cast(pl.Float64).to_numpy(),
            history_channel=history[Col.CHANNEL].to_numpy(),
            truth=_truth(folder, meta),
            rec_explain=explain,
            similar_rows=similar_rows,
            similar_article=similar_article,
            similar_sources=similar_sources,
        )

    def article(self, article_id: str) -> dict[str, Any]:
        """The article's payload (a bare one for an id the catalogue lacks)."""
        pos = self.article_pos.get(article_id)
        return _unknown_article(article_id) if pos is None else self.articles[pos]

    def recommendations(self, customer_id: str, k: int, explain: bool) -> dict[str, Any]:
        """The customer's ``k`` recommendations, best first (the popular list for an unknown
        customer, ``known`` false); ``bought`` from the holdout week when known; with ``explain``
        each item's reasons (null for the fill)."""
        span = self.rec_rows.get(customer_id)
        bought = self.truth.get(customer_id, set()) if self.truth is not None else None
        if span is None:
            items = [
                {"rank": i + 1, "article": self.article(a), "score": None, "sources": ["popular"], "bought": None}
                | ({"explain": None} if explain else {})
                for i, a in enumerate(self.meta["popular"][:k])
            ]
        else:
            lo, hi = span
            items = [self._recommendation(row, bought, explain) for row in range(lo, min(hi, lo + k))]
        return {
            "customer_id": customer_id,
            "known": span is not None,
            "model": self.meta["model"],
            "cutoff": self.meta["cutoff"],
            "recommendations": items,
        }

    def _recommendation(self, row: int, bought: set[str] | None, explain: bool) -> dict[str, Any]:
        article = self.articles[self.rec_article[row]]
        score = float(self.rec_score[row])
        return {
            "rank": int(self.rec_rank[row]),
            "article": article,
            "score": None if math.isnan(score) else score,
            "sources": self.source_lists[self.rec_sources[row]],
            "bought": None if bought is None else article["article_id"] in bought,
        } | ({"explain": self.rec_explain[row]} if explain else {})  # type: ignore[index]

    def history(self, customer_id: str) -> dict[str, Any]:
        """The customer's most recent purchases before the cutoff, newest first, and (when the
        holdout week is known) what they bought in it."""
        span = self.history_rows.get(customer_id)
        purchases = []
        if span is not None:
            purchases = [
                {
                    "date": str(self.history_date[row]),
                    "article": self.articles[self.history_article[row]],
                    "price": float(self.history_price[row]),
                    "channel": "online" if self.history_channel[row] == 2 else "store",
                }
                for row in range(*span)
            ]
        truth = None
        if self.truth is not None:
            truth = [self.article(a) for a in sorted(self.truth.get(customer_id, set()))]
        return {
            "customer_id": customer_id,
            "known": customer_id in self.rec_rows or span is not None,
            "purchases": purchases,
            "bought_in_holdout": truth,
        }

    def similar(self, article_id: str, k: int) -> dict[str, Any]:
        """At most ``k`` articles like this one, most similar first, with the signals that found each."""
        assert self.similar_rows is not None and self.similar_article is not None and self.similar_sources is not None
        lo, hi = self.similar_rows.get(article_id, (0, 0))
        items = [
            {
                "rank": row - lo + 1,
                "article": self.articles[self.similar_article[row]],
                "sources": self.similar_sources[row],
            }
            for row in range(lo, min(hi, lo + k))
        ]
        return {"article": self.article(article_id), "similar": items}


@dataclass
class _Catalogue:
    """The article payloads by position while the files are read: an id a file names that the
    catalogue lacks gets a bare payload at the next position."""

    articles: list[dict[str, Any]]
    article_pos: dict[str, int]
    positions: pl.DataFrame

    @classmethod
    def read(cls, path: Path) -> _Catalogue:
        catalogue = pl.read_parquet(path, columns=[Col.ARTICLE_ID, *ARTICLE_FIELDS], glob=False)
        articles = [_article_json(row) for row in catalogue.iter_rows(named=True)]
        article_pos = {a["article_id"]: i for i, a in enumerate(articles)}
        positions = pl.DataFrame({Col.ARTICLE_ID: list(article_pos), "__pos": list(article_pos.values())})
        return cls(articles, article_pos, positions)

    def with_positions(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``frame`` with each ``article_id``'s position (``__pos``), row order kept."""
        missing = frame.join(self.positions, on=Col.ARTICLE_ID, how="anti")[Col.ARTICLE_ID].unique().to_list()
        for article_id in missing:  # ids absent from the catalogue still get a payload
            self.article_pos[article_id] = len(self.articles)
            self.articles.append(_unknown_article(article_id))
        extra = pl.DataFrame({Col.ARTICLE_ID: missing, "__pos": [self.article_pos[a] for a in missing]})
        lookup = pl.concat([self.positions, extra], how="vertical_relaxed") if missing else self.positions
        return frame.join(lookup, on=Col.ARTICLE_ID, how="left", maintain_order="left")


def _similar(
    folder: Path, meta: dict[str, Any], catalogue: _Catalogue
) -> tuple[dict[str, tuple[int, int]] | None, np.ndarray | None, list[list[str]] | None]:
    """The similar articles' row ranges by article id, their positions and sources (None: not written)."""
    if SIMILAR not in meta["files"]:
        return None, None, None
    similar = pl.read_parquet(folder / SIMILAR, glob=False)
    rows = _ranges(similar, Col.ARTICLE_ID)
    similar = catalogue.with_positions(similar.drop(Col.ARTICLE_ID).rename({"similar_article_id": Col.ARTICLE_ID}))
    return rows, similar["__pos"].to_numpy(), [s.split(",") for s in similar[Col.SOURCES].to_list()]


def _truth(folder: Path, meta: dict[str, Any]) -> dict[str, set[str]] | None:
    """What each customer bought in the holdout week, when this run wrote it."""
    if TRUTH not in meta["files"]:  # a truth file of an earlier run is not this run's
        return None
    bought = pl.read_parquet(folder / TRUTH, glob=False).group_by(Col.CUSTOMER_ID).agg(pl.col(Col.ARTICLE_ID))
    return {c: set(a) for c, a in bought.iter_rows()}


def write_again(folder: Path) -> str:
    """How to write the artifacts of ``folder`` again (the end of every refusal)."""
    return f"write them with: hmrec submit --data DIR --out sub.csv --artifacts {folder}"


META_KEYS = {"model": str, "cutoff": str, "popular": list, "files": dict}
"""What ``meta.json`` must hold for every request to be answerable."""


def _read_meta(path: Path) -> dict[str, Any]:
    """``meta.json``, refused at start (not at the first request) when it lacks what serving reads."""
    again = write_again(path.parent)
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); {again}") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path} must hold a JSON object; {again}")
    wrong = [key for key, kind in META_KEYS.items() if not isinstance(meta.get(key), kind)]
    if wrong:
        raise ValueError(f"{path} lacks or mistypes key(s) {', '.join(wrong)}; {again}")
    return meta


def _check_set(folder: Path, files: dict[str, str]) -> None:
    """Refuse a folder whose files are not the exact ones its ``meta.json`` was written with."""
    again = write_again(folder)
    for name in (RECOMMENDATIONS, HISTORY, ARTICLES):
        if name not in files:
            raise ValueError(f"{folder / META} does not list {name}; {again}")
    for name, expected in files.items():
        path = folder / name
        if not path.is_file() or digest(path) != expected:
            raise ValueError(
                f"{path} does not belong to the run that wrote {folder / META} "
                f"(another run's file, or a run interrupted while writing); {again}"
            )


PICKS = 3
"""Customers the explorer offers of each kind."""


def picks(store: Store) -> list[dict[str, str]]:
    """``customer_id, why``: customers whose recommendations held a purchase of the holdout week
    (most hits first), those with the longest histories shown, and a newcomer with none."""
    picks: list[dict[str, str]] = []
    seen: set[str] = set()

    def add(customer: str, why: str) -> None:
        if customer not in seen:
            seen.add(customer)
            picks.append({"customer_id": customer, "why": why})

    if store.truth is not None:
        hits = []
        for customer, bought in store.truth.items():
            span = store.rec_rows.get(customer)
            if span is not None:
                found = sum(store.articles[store.rec_article[row]]["article_id"] in bought for row in range(*span))
                if found:
                    hits.append((-found, customer))
        for negative, customer in sorted(hits)[:PICKS]:
            add(customer, f"{-negative} of the week's purchases recommended")
    longest = sorted(store.history_rows.items(), key=lambda item: (-(item[1][1] - item[1][0]), item[0]))
    for customer, (lo, hi) in longest[:PICKS]:
        add(customer, f"{hi - lo} recent purchases shown")
    newcomer = next((c for c in sorted(store.rec_rows) if c not in store.history_rows), None)
    if newcomer is not None:
        add(newcomer, "no purchases before the cutoff: the popular list")
    return picks
