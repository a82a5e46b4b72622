"""The HTTP API and the customer explorer page over saved artifacts (``hmrec serve``).

Everything is loaded once when the app is created (``store.Store``); a request reads from memory
only. The routes check what they are given and ask the store; ``schemas`` has the answers' shapes.
"""

from __future__ import annotations

import gc
import json
import re
from pathlib import Path

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi_offline import FastAPIOffline

from hmrec.schema import ARTICLE_ID_WIDTH, CUSTOMER_ID_PATTERN
from hmrec.serve.artifacts import SIMILAR_K
from hmrec.serve.schemas import Article, Health, History, Pick, Recommendations, SimilarArticles
from hmrec.serve.store import Store, picks, write_again
from hmrec.text import quoted

PAGE = Path(__file__).with_name("explorer.html")
SERVED_ARTICLE_ID = rf"^[0-9]{{{ARTICLE_ID_WIDTH}}}$"
"""The API takes article ids as the files write them: exactly 10 digits (schema's pattern also
accepts the shorter ids of pandas-saved inputs)."""


def _json(payload: object) -> Response:
    return Response(content=json.dumps(payload), media_type="application/json")


def _check_customer(customer_id: str) -> None:
    if not re.fullmatch(CUSTOMER_ID_PATTERN, customer_id):
        raise HTTPException(
            status_code=422,
            detail=f"customer_id must be 64 lowercase hexadecimal characters (as in customers.csv), got {quoted(customer_id)}",
        )


def _check_article(store: Store, article_id: str) -> None:
    if not re.fullmatch(SERVED_ARTICLE_ID, article_id):
        raise HTTPException(
            status_code=422,
            detail=f"article_id must be {ARTICLE_ID_WIDTH} digits with its leading zero (as in articles.csv), got {quoted(article_id)}",
        )
    if article_id not in store.article_pos:
        raise HTTPException(status_code=404, detail=f"no article {article_id} in the catalogue")


async def _short_422(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 body, with every value it quotes cut to 80 characters (``text.quoted``): a
    query of 20,000 digits is answered in a few hundred bytes."""
    errors = []
    for error in exc.errors():
        error = {k: v for k, v in error.items() if k != "ctx"}
        if isinstance(error.get("input"), str) and len(error["input"]) > 80:
            error["input"] = quoted(error["input"])
        errors.append(error)
    return JSONResponse(status_code=422, content=jsonable_encoder({"detail": errors}))


def create_app(folder: Path) -> FastAPI:
    """The app over the artifacts in ``folder`` (loaded now, once): ``/health``, the customers'
    recommendations, history and picks, the articles and their similar ones, the explorer page
    at ``/`` and the OpenAPI page at ``/docs`` (served from the package: no network needed)."""
    store = Store.load(folder)
    # The store is millions of long-lived objects: keep them out of the garbage collector's
    # full passes, which otherwise pause every request queued behind them (p99 tails).
    gc.collect()
    gc.freeze()
    app = FastAPIOffline(
        title="hmrec",
        description="Recommendations of the next week's 12 articles per customer, and the explorer page.",
        version="0.1.0",
        redoc_url=None,
    )
    app.add_exception_handler(RequestValidationError, _short_422)  # type: ignore[arg-type]
    _customer_routes(app, store)
    _article_routes(app, store, folder)
    page = PAGE.read_text()

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def explorer() -> str:
        return page

    return app


def _customer_routes(app: FastAPI, store: Store) -> None:
    """``/health`` and what the API answers about customers."""
    chosen = picks(store)

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
        return _json(store.recommendations(customer_id, k, explain))

    @app.get("/customers/{customer_id}/history", response_model=History)
    def history(customer_id: str) -> Response:
        """The customer's most recent purchases before the cutoff, newest first, and (when the
        holdout week is known) what they bought in it."""
        _check_customer(customer_id)
        return _json(store.history(customer_id))

    @app.get("/customers")
    def customers(limit: int = Query(20, ge=1, le=200), prefix: str = Query("", max_length=64)) -> list[str]:
        """Customer ids to pick from: those starting with ``prefix`` (holdout buyers first when known)."""
        pool = sorted(store.truth) if store.truth is not None and not prefix else store.rec_rows
        return [c for c in pool if c.startswith(prefix.lower())][:limit]

    @app.get("/customers/picks", response_model=list[Pick])
    def customer_picks() -> Response:
        """A few customers worth a look, each with why: a purchase of the holdout week among their
        recommendations (when the week is known), the longest histories, a newcomer (the fill)."""
        return _json(chosen)


def _article_routes(app: FastAPI, store: Store, folder: Path) -> None:
    """What the API answers about articles."""

    @app.get("/articles/{article_id}", response_model=Article)
    def article(article_id: str) -> Response:
        _check_article(store, article_id)
        return _json(store.article(article_id))

    @app.get("/articles/{article_id}/similar", response_model=SimilarArticles)
    def similar(
        article_id: str, k: int = Query(SIMILAR_K, ge=1, le=SIMILAR_K, description="How many articles to return.")
    ) -> Response:
        """Articles like this one, most similar first, each with the signals that found it:
        ``bought_together`` (bought by its buyers within a week), ``same_product`` (another
        colour or size of it), ``embedding`` (nearest by an MF model's factors)."""
        _check_article(store, article_id)
        if store.similar_rows is None:
            raise HTTPException(
                status_code=409, detail=f"these artifacts hold no similar articles; {write_again(folder)}"
            )
        return _json(store.similar(article_id, k))
