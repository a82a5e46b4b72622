"""The HTTP API and the customer explorer page over saved artifacts (``hmrec serve``).

Everything is loaded once when the app is created; a request reads from memory only.
"""

from __future__ import annotations

import gc
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel

from hmrec.schema import ARTICLE_ID_WIDTH, CUSTOMER_ID_PATTERN, Col
from hmrec.serve.artifacts import (
    ARTICLE_FIELDS,
    ARTICLES,
    HISTORY,
    META,
    RECOMMENDATIONS,
    SIMILAR,
    SIMILAR_K,
    TRUTH,
    digest,
)
from hmrec.serve.colours import swatch
from hmrec.text import quoted

PAGE = Path(__file__).with_name("explorer.html")
SERVED_ARTICLE_ID = rf"^[0-9]{{{ARTICLE_ID_WIDTH}}}$"
"""The API takes article ids as the files write them: exactly 10 digits (schema's pattern also
accepts the shorter ids of pandas-saved inputs)."""


class Article(BaseModel):
    article_id: str
    name: str | None
    product_type: str | None
    product_group: str | None
    colour: str | None
    colour_hex: str
    department: str | None
    description: str | None


class Recommendation(BaseModel):
    rank: int
    article: Article
    score: float | None
    sources: list[str]
    bought: bool | None  # None when the week is not known (a submission)


class Reason(BaseModel):
    feature: str
    contribution: float


class Explained(Recommendation):
    explain: list[Reason] | None  # None: the fill list, which the ranker did not score


class Recommendations(BaseModel):
    customer_id: str
    known: bool  # False: an unknown customer, given the popular list
    model: str
    cutoff: str
    recommendations: list[Recommendation]


class Similar(BaseModel):
    rank: int
    article: Article
    sources: list[str]  # bought_together, same_product, embedding


class SimilarArticles(BaseModel):
    article: Article
    similar: list[Similar]


class Pick(BaseModel):
    customer_id: str
    why: str


class Purchase(BaseModel):
    date: str
    article: Article
    price: float
    channel: str


class History(BaseModel):
    customer_id: str
    known: bool
    purchases: list[Purchase]
    bought_in_holdout: list[Article] | None


class Health(BaseModel):
    status: str
    model: str
    cutoff: str
    customers: int
    articles: int
    holdout_known: bool


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
        missing = [name for name in (META, RECOMMENDATIONS, ARTICLES, HISTORY) if not (folder / name).exists()]
        if missing:
            raise FileNotFoundError(
                f"{folder} holds no serving artifacts (missing {', '.join(missing)}); {_write_again(folder)}"
            )
        meta = _read_meta(folder / META)
        _check_set(folder, meta["files"])
        catalogue = pl.read_parquet(folder / ARTICLES, columns=[Col.ARTICLE_ID, *ARTICLE_FIELDS], glob=False)
        articles = [_article_json(row) for row in catalogue.iter_rows(named=True)]
        article_pos = {a["article_id"]: i for i, a in enumerate(articles)}
        positions = pl.DataFrame({Col.ARTICLE_ID: list(article_pos), "__pos": list(article_pos.values())})

        def with_positions(frame: pl.DataFrame) -> pl.DataFrame:
            missing = frame.join(positions, on=Col.ARTICLE_ID, how="anti")[Col.ARTICLE_ID].unique().to_list()
            for article_id in missing:  # ids absent from the catalogue still get a payload
                article_pos[article_id] = len(articles)
                articles.append(_unknown_article(article_id))
            extra = pl.DataFrame({Col.ARTICLE_ID: missing, "__pos": [article_pos[a] for a in missing]})
            lookup = pl.concat([positions, extra], how="vertical_relaxed") if missing else positions
            return frame.join(lookup, on=Col.ARTICLE_ID, how="left", maintain_order="left")

        recs = with_positions(pl.read_parquet(folder / RECOMMENDATIONS, glob=False))
        names = recs[Col.SOURCES].fill_null("")
        distinct = names.unique().sort().to_list()
        codes = names.cast(pl.Enum(distinct))
        source_lists = [s.split(",") if s else [] for s in distinct]
        explain = recs[Col.EXPLAIN].to_list() if Col.EXPLAIN in recs.columns else None
        similar_rows = similar_article = similar_sources = None
        if SIMILAR in meta["files"]:
            similar = pl.read_parquet(folder / SIMILAR, glob=False)
            similar_rows = _ranges(similar, Col.ARTICLE_ID)
            similar = with_positions(similar.drop(Col.ARTICLE_ID).rename({"similar_article_id": Col.ARTICLE_ID}))
            similar_article = similar["__pos"].to_numpy()
            similar_sources = [s.split(",") for s in similar[Col.SOURCES].to_list()]
        history = with_positions(pl.read_parquet(folder / HISTORY, glob=False))
        truth = None
        if TRUTH in meta["files"]:  # a truth file of an earlier run is not this run's
            bought = pl.read_parquet(folder / TRUTH, glob=False).group_by(Col.CUSTOMER_ID).agg(pl.col(Col.ARTICLE_ID))
            truth = {c: set(a) for c, a in bought.iter_rows()}
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
            truth=truth,
            rec_explain=explain,
            similar_rows=similar_rows,
            similar_article=similar_article,
            similar_sources=similar_sources,
        )

    def article(self, article_id: str) -> dict[str, Any]:
        pos = self.article_pos.get(article_id)
        return _unknown_article(article_id) if pos is None else self.articles[pos]


def _write_again(folder: Path) -> str:
    return f"write them with: hmrec submit --data DIR --out sub.csv --artifacts {folder}"


META_KEYS = {"model": str, "cutoff": str, "popular": list, "files": dict}
"""What ``meta.json`` must hold for every request to be answerable."""


def _read_meta(path: Path) -> dict[str, Any]:
    """``meta.json``, refused at start (not at the first request) when it lacks what serving reads."""
    again = _write_again(path.parent)
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
    again = _write_again(folder)
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


def _json(payload: object) -> Response:
    return Response(content=json.dumps(payload), media_type="application/json")


def _check_customer(customer_id: str) -> None:
    if not re.fullmatch(CUSTOMER_ID_PATTERN, customer_id):
        raise HTTPException(
            status_code=422,
            detail=f"customer_id must be 64 lowercase hexadecimal characters (as in customers.csv), got {quoted(customer_id)}",
        )


def create_app(folder: Path) -> FastAPI:
    """The app over the artifacts in ``folder`` (loaded now, once)."""
    store = Store.load(folder)
    # The store is millions of long-lived objects: keep them out of the garbage collector's
    # full passes, which otherwise pause every request queued behind them (p99 tails).
    gc.collect()
    gc.freeze()
    page = PAGE.read_text()
    app = FastAPIOffline(  # FastAPI with Swagger UI's files served from the package: /docs needs no network
        title="hmrec",
        description="Recommendations of the next week's 12 articles per customer, and the explorer page.",
        version="0.1.0",
        redoc_url=None,
    )
    picks = _picks(store)

    @app.exception_handler(RequestValidationError)
    async def short_422(request: Request, exc: RequestValidationError) -> JSONResponse:
        """FastAPI's 422 body, with every value it quotes cut to 80 characters (``text.quoted``):
        a query of 20,000 digits is answered in a few hundred bytes."""
        errors = []
        for error in exc.errors():
            error = {k: v for k, v in error.items() if k != "ctx"}
            if isinstance(error.get("input"), str) and len(error["input"]) > 80:
                error["input"] = quoted(error["input"])
            errors.append(error)
        return JSONResponse(status_code=422, content=jsonable_encoder({"detail": errors}))

    @app.api_route("/health", methods=["GET", "HEAD"], response_model=Health)
    def health() -> Response:
        return _json(
            {
                "status": "ok",
                "model": store.meta["model"],
                "cutoff": store.meta["cutoff"],
                "customers": len(store.rec_rows),
                "articles": len(store.article_pos),
                "holdout_known": store.truth is not None,
            }
        )

    @app.get("/customers/{customer_id}/recommendations", response_model=Recommendations)
    def recommendations(
        customer_id: str,
        k: int = Query(12, ge=1, le=100, description="How many articles to return."),
        explain: bool = Query(
            False, description="Add, per ranked article, the three features that moved its score most."
        ),
    ) -> Response:
        """The customer's recommendations, best first; an unknown customer gets the popular list
        with ``known`` false. ``bought`` says whether the holdout week held the purchase (null for
        a submission). With ``explain=true`` each item also has ``explain``: the features whose
        LightGBM contributions moved its score most (null for the popular fill); answered 409
        when the artifacts were written without them."""
        _check_customer(customer_id)
        if explain and store.rec_explain is None:
            raise HTTPException(
                status_code=409,
                detail="these artifacts hold no explanations; write them with hmrec evaluate --explain "
                "(or hmrec submit --explain) and serve that folder",
            )
        span = store.rec_rows.get(customer_id)
        bought = store.truth.get(customer_id, set()) if store.truth is not None else None
        if span is None:
            items = [
                {"rank": i + 1, "article": store.article(a), "score": None, "sources": ["popular"], "bought": None}
                | ({"explain": None} if explain else {})
                for i, a in enumerate(store.meta["popular"][:k])
            ]
        else:
            lo, hi = span
            items = []
            for row in range(lo, min(hi, lo + k)):
                article = store.articles[store.rec_article[row]]
                score = float(store.rec_score[row])
                items.append(
                    {
                        "rank": int(store.rec_rank[row]),
                        "article": article,
                        "score": None if math.isnan(score) else score,
                        "sources": store.source_lists[store.rec_sources[row]],
                        "bought": None if bought is None else article["article_id"] in bought,
                    }
                    | ({"explain": store.rec_explain[row]} if explain else {})  # type: ignore[index]
                )
        return _json(
            {
                "customer_id": customer_id,
                "known": span is not None,
                "model": store.meta["model"],
                "cutoff": store.meta["cutoff"],
                "recommendations": items,
            }
        )

    @app.get("/customers/{customer_id}/history", response_model=History)
    def history(customer_id: str) -> Response:
        """The customer's most recent purchases before the cutoff, newest first, and (when the
        holdout week is known) what they bought in it."""
        _check_customer(customer_id)
        span = store.history_rows.get(customer_id)
        purchases = []
        if span is not None:
            purchases = [
                {
                    "date": str(store.history_date[row]),
                    "article": store.articles[store.history_article[row]],
                    "price": float(store.history_price[row]),
                    "channel": "online" if store.history_channel[row] == 2 else "store",
                }
                for row in range(*span)
            ]
        truth = None
        if store.truth is not None:
            truth = [store.article(a) for a in sorted(store.truth.get(customer_id, set()))]
        return _json(
            {
                "customer_id": customer_id,
                "known": customer_id in store.rec_rows or span is not None,
                "purchases": purchases,
                "bought_in_holdout": truth,
            }
        )

    @app.get("/customers")
    def customers(limit: int = Query(20, ge=1, le=200), prefix: str = Query("", max_length=64)) -> list[str]:
        """Customer ids to pick from: those starting with ``prefix`` (holdout buyers first when known)."""
        pool = sorted(store.truth) if store.truth is not None and not prefix else store.rec_rows
        return [c for c in pool if c.startswith(prefix.lower())][:limit]

    @app.get("/customers/picks", response_model=list[Pick])
    def customer_picks() -> Response:
        """A few customers worth a look, each with why: a purchase of the holdout week among their
        recommendations (when the week is known), the longest histories, a newcomer (the fill)."""
        return _json(picks)

    def known_article(article_id: str) -> None:
        if not re.fullmatch(SERVED_ARTICLE_ID, article_id):
            raise HTTPException(
                status_code=422,
                detail=f"article_id must be {ARTICLE_ID_WIDTH} digits with its leading zero (as in articles.csv), got {quoted(article_id)}",
            )
        if article_id not in store.article_pos:
            raise HTTPException(status_code=404, detail=f"no article {article_id} in the catalogue")

    @app.get("/articles/{article_id}", response_model=Article)
    def article(article_id: str) -> Response:
        known_article(article_id)
        return _json(store.article(article_id))

    @app.get("/articles/{article_id}/similar", response_model=SimilarArticles)
    def similar(
        article_id: str, k: int = Query(SIMILAR_K, ge=1, le=SIMILAR_K, description="How many articles to return.")
    ) -> Response:
        """Articles like this one, most similar first, each with the signals that found it:
        ``bought_together`` (bought by its buyers within a week), ``same_product`` (another
        colour or size of it), ``embedding`` (nearest by an MF model's factors)."""
        known_article(article_id)
        if store.similar_rows is None:
            raise HTTPException(
                status_code=409, detail=f"these artifacts hold no similar articles; {_write_again(folder)}"
            )
        lo, hi = store.similar_rows.get(article_id, (0, 0))
        items = [
            {
                "rank": row - lo + 1,
                "article": store.articles[store.similar_article[row]],  # type: ignore[index]
                "sources": store.similar_sources[row],  # type: ignore[index]
            }
            for row in range(lo, min(hi, lo + k))
        ]
        return _json({"article": store.article(article_id), "similar": items})

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def explorer() -> str:
        return page

    return app


PICKS = 3
"""Customers the explorer offers of each kind."""


def _picks(store: Store) -> list[dict[str, str]]:
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
