"""The HTTP API through FastAPI's test client, over artifacts written from the tiny shop."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient

import hmrec
from hmrec.data.dataset import Dataset
from hmrec.data.dataset import prepare as prepare_dataset
from hmrec.recommenders.baselines import popular_articles
from hmrec.schema import Col
from hmrec.serve.app import create_app
from hmrec.serve.artifacts import write_artifacts
from hmrec.serve.colours import swatch


@pytest.fixture(scope="module")
def client(holdout: Path) -> TestClient:
    return TestClient(create_app(holdout))


def customer_ids(dataset: Dataset, frame: pl.DataFrame) -> list[str]:
    return frame.join(dataset.customer_map().collect(), on=Col.CUSTOMER)[Col.CUSTOMER_ID].to_list()


def test_health(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["model"] == "ranker" and body["holdout_known"] is True
    assert body["customers"] > 0 and body["articles"] > 0


def test_health_answers_head(client: TestClient) -> None:
    response = client.head("/health")  # what load balancers send
    assert response.status_code == 200 and response.content == b""


@pytest.mark.parametrize(
    "meta",
    [
        '{"cutoff": "2020-09-16", "popular": []}',  # no model
        '{"model": "ranker", "cutoff": "2020-09-16", "popular": 7}',  # popular not a list
        '["ranker"]',
        "{not json",
    ],
)
def test_a_damaged_meta_is_refused_at_start(holdout: Path, tmp_path: Path, meta: str) -> None:
    import shutil

    folder = Path(shutil.copytree(holdout, tmp_path / "artifacts"))
    (folder / "meta.json").write_text(meta)
    with pytest.raises(ValueError, match="meta.json") as caught:
        create_app(folder)
    assert "hmrec submit" in str(caught.value)


def test_recommendations_of_a_known_customer(client: TestClient, holdout: Path) -> None:
    recs = pl.read_parquet(holdout / "recommendations.parquet")
    customer = recs[Col.CUSTOMER_ID][0]
    response = client.get(f"/customers/{customer}/recommendations")
    assert response.status_code == 200
    body = response.json()
    assert body["known"] is True and body["customer_id"] == customer
    items = body["recommendations"]
    assert [r["rank"] for r in items] == list(range(1, 13))
    expected = recs.filter(pl.col(Col.CUSTOMER_ID) == customer).sort(Col.RANK)[Col.ARTICLE_ID].to_list()
    assert [r["article"]["article_id"] for r in items] == expected
    first = items[0]
    assert set(first) == {"rank", "article", "score", "sources", "bought"}
    assert set(first["article"]) >= {"article_id", "name", "product_group", "colour", "colour_hex"}
    assert first["article"]["name"] and first["article"]["colour_hex"].startswith("#")
    assert first["sources"] and isinstance(first["bought"], bool)
    assert len(client.get(f"/customers/{customer}/recommendations?k=3").json()["recommendations"]) == 3


def test_bought_flags_match_the_holdout_week(client: TestClient, holdout: Path) -> None:
    truth = pl.read_parquet(holdout / "truth.parquet")
    recs = pl.read_parquet(holdout / "recommendations.parquet")
    hits = recs.join(truth, on=[Col.CUSTOMER_ID, Col.ARTICLE_ID], how="semi")
    assert hits.height > 0
    customer = hits[Col.CUSTOMER_ID][0]
    items = client.get(f"/customers/{customer}/recommendations").json()["recommendations"]
    bought = set(truth.filter(pl.col(Col.CUSTOMER_ID) == customer)[Col.ARTICLE_ID])
    assert [r["bought"] for r in items] == [r["article"]["article_id"] in bought for r in items]
    assert any(r["bought"] for r in items)


def test_unknown_customer_gets_the_popular_list_flagged(client: TestClient, holdout: Path) -> None:
    popular = json.loads((holdout / "meta.json").read_text())["popular"]
    body = client.get(f"/customers/{'f' * 64}/recommendations").json()
    assert body["known"] is False
    assert [r["article"]["article_id"] for r in body["recommendations"]] == popular[:12]
    assert all(r["sources"] == ["popular"] for r in body["recommendations"])


@pytest.mark.parametrize("bad", ["123", "G" * 64, "a" * 63, "a" * 65])
def test_malformed_customer_id_is_a_422_with_a_message(client: TestClient, bad: str) -> None:
    for path in (f"/customers/{bad}/recommendations", f"/customers/{bad}/history"):
        response = client.get(path)
        assert response.status_code == 422
        assert "64 lowercase hexadecimal" in response.json()["detail"]


def test_a_422_quotes_a_huge_id_short(client: TestClient) -> None:
    response = client.get(f"/customers/{'x' * 50_000}/recommendations")  # httpx caps a URL at 64 KB
    assert response.status_code == 422
    assert "(50,000 characters)" in response.json()["detail"] and len(response.content) < 1_000
    article = client.get(f"/articles/{'9' * 50_000}")
    assert article.status_code == 422 and len(article.content) < 1_000


def test_k_out_of_range_is_a_422(client: TestClient) -> None:
    assert client.get(f"/customers/{'a' * 64}/recommendations?k=0").status_code == 422
    assert client.get(f"/customers/{'a' * 64}/recommendations?k=x").status_code == 422


def test_articles(client: TestClient, holdout: Path) -> None:
    articles = pl.read_parquet(holdout / "articles.parquet")
    article = articles.row(0, named=True)
    body = client.get(f"/articles/{article[Col.ARTICLE_ID]}").json()
    assert body["name"] == article[Col.PROD_NAME] and body["colour"] == article[Col.COLOUR_GROUP]
    assert client.get("/articles/0000000001").status_code == 404
    response = client.get("/articles/12ab")
    assert response.status_code == 422 and "10 digits" in response.json()["detail"]


def test_history_is_newest_first_and_before_the_cutoff(client: TestClient, holdout: Path) -> None:
    cutoff = json.loads((holdout / "meta.json").read_text())["cutoff"]
    customer = pl.read_parquet(holdout / "history.parquet")[Col.CUSTOMER_ID][0]
    body = client.get(f"/customers/{customer}/history").json()
    dates = [p["date"] for p in body["purchases"]]
    assert dates and dates == sorted(dates, reverse=True) and max(dates) < cutoff
    assert {p["channel"] for p in body["purchases"]} <= {"online", "store"}
    assert body["bought_in_holdout"] is not None


def test_customer_picker_lists_holdout_buyers(client: TestClient, holdout: Path) -> None:
    listed = client.get("/customers?limit=5").json()
    truth = set(pl.read_parquet(holdout / "truth.parquet")[Col.CUSTOMER_ID])
    assert len(listed) == 5 and set(listed) <= truth
    prefix = listed[0][:3]
    assert all(c.startswith(prefix) for c in client.get(f"/customers?prefix={prefix}").json())


def test_openapi_and_page(client: TestClient) -> None:
    assert "/customers/{customer_id}/recommendations" in client.get("/openapi.json").json()["paths"]
    assert client.get("/docs").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and "hmrec" in page.text and "<script>" in page.text


def test_submission_artifacts_have_no_holdout(tiny_dataset: Dataset, tmp_path: Path) -> None:
    recs = hmrec.fit(tiny_dataset, hmrec.Settings(model="popular")).submission_recommendations(tiny_dataset)
    cutoff = tiny_dataset.date_range()[1]
    popular = popular_articles(tiny_dataset.transactions(), cutoff)
    folder = write_artifacts(tmp_path, tiny_dataset, recs, "popular", cutoff, popular)
    client = TestClient(create_app(folder))
    assert client.get("/health").json()["holdout_known"] is False
    customer = customer_ids(tiny_dataset, recs.head(1))[0]
    items = client.get(f"/customers/{customer}/recommendations").json()["recommendations"]
    assert all(r["bought"] is None and r["sources"] == ["popular"] and r["score"] is None for r in items)


def test_artifacts_are_the_same_bytes_for_the_same_input(tmp_path: Path) -> None:
    """40 purchases on one day, listed in shuffled order: the 30 kept are the same ones (the
    lowest article indices) and every file is byte-identical on a second write."""
    import random

    from tests.conftest import article_id, write_kaggle

    articles = list(range(1, 41))
    random.Random(0).shuffle(articles)
    rows = [("2020-09-01", 1, a, 0.05, 2) for a in articles] + [("2020-09-02", 2, a, 0.05, 1) for a in range(1, 14)]
    dataset = prepare_dataset(write_kaggle(tmp_path / "in", rows)).dataset
    recs = hmrec.fit(dataset, hmrec.Settings(model="popular")).submission_recommendations(dataset)
    cutoff = dataset.date_range()[1]
    popular = popular_articles(dataset.transactions(), cutoff + timedelta(days=1))
    first = write_artifacts(tmp_path / "a", dataset, recs, "popular", cutoff + timedelta(days=1), popular)
    second = write_artifacts(tmp_path / "b", dataset, recs, "popular", cutoff + timedelta(days=1), popular)
    for name in ("recommendations.parquet", "history.parquet", "articles.parquet", "meta.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    kept = pl.read_parquet(first / "history.parquet").filter(pl.col(Col.CUSTOMER_ID) == f"{1:064x}")
    assert sorted(kept[Col.ARTICLE_ID].to_list()) == [article_id(a) for a in range(1, 31)]


def test_missing_artifacts_say_how_to_make_them(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="hmrec submit"):
        create_app(tmp_path)


def test_swatches() -> None:
    assert swatch("Black") == "#1b1b1b"
    assert swatch("Light Blue") != swatch("Blue") != swatch("Dark Blue")
    assert swatch("Something else") == swatch(None)


def test_explain_gives_each_ranked_article_its_reasons(client: TestClient, holdout: Path) -> None:
    recs = pl.read_parquet(holdout / "recommendations.parquet")
    customer = recs.filter(pl.col(Col.SCORE).is_not_null())[Col.CUSTOMER_ID][0]
    plain = client.get(f"/customers/{customer}/recommendations").json()["recommendations"]
    explained = client.get(f"/customers/{customer}/recommendations?explain=true").json()["recommendations"]
    assert all("explain" not in r for r in plain)
    assert [{k: v for k, v in r.items() if k != "explain"} for r in explained] == plain  # nothing else changes
    stored = recs.filter(pl.col(Col.CUSTOMER_ID) == customer).sort(Col.RANK)[Col.EXPLAIN].to_list()
    assert [r["explain"] for r in explained] == stored
    ranked = [r for r in explained if r["score"] is not None]
    assert ranked and all(len(r["explain"]) == 3 for r in ranked)
    sizes = [abs(x["contribution"]) for x in ranked[0]["explain"]]
    assert sizes == sorted(sizes, reverse=True)
    unknown = "f" * 64
    fill = client.get(f"/customers/{unknown}/recommendations?explain=true").json()["recommendations"]
    assert all(r["explain"] is None for r in fill)


def test_explain_without_explanations_says_how_to_get_them(tiny_dataset: Dataset, tmp_path: Path) -> None:
    recs = hmrec.fit(tiny_dataset, hmrec.Settings(model="repurchase")).submission_recommendations(tiny_dataset)
    cutoff = tiny_dataset.date_range()[1] + timedelta(days=1)
    popular = popular_articles(tiny_dataset.transactions(), cutoff)
    folder = write_artifacts(tmp_path / "a", tiny_dataset, recs, "repurchase", cutoff, popular)
    client = TestClient(create_app(folder))
    customer = pl.read_parquet(folder / "recommendations.parquet")[Col.CUSTOMER_ID][0]
    response = client.get(f"/customers/{customer}/recommendations?explain=true")
    assert response.status_code == 409 and "--explain" in response.json()["detail"]
    assert client.get(f"/customers/{customer}/recommendations").status_code == 200


def test_similar_articles_are_the_models_list_for_it(client: TestClient, holdout: Path, tiny_dataset: Dataset) -> None:
    from hmrec.data.week import WeekInput
    from hmrec.retrieval.similar import similar_articles

    meta = json.loads((holdout / "meta.json").read_text())
    cutoff = date.fromisoformat(meta["cutoff"])
    amap = tiny_dataset.article_map().collect()
    week = WeekInput.before(
        tiny_dataset.transactions(), cutoff, None, tiny_dataset.articles(), tiny_dataset.customers()
    )
    expected = similar_articles(week, amap["article"], 12).join(
        amap.rename({"article": "other", "article_id": "similar_id"}), on="other"
    )
    article = amap.join(expected.select("article").unique(), on="article")["article_id"][0]
    index = amap.filter(pl.col("article_id") == article)["article"][0]
    want = expected.filter(pl.col("article") == index).sort("rank")
    body = client.get(f"/articles/{article}/similar").json()
    assert body["article"]["article_id"] == article
    assert [s["article"]["article_id"] for s in body["similar"]] == want["similar_id"].to_list()
    assert [s["sources"] for s in body["similar"]] == want["sources"].to_list()
    assert [s["rank"] for s in body["similar"]] == list(range(1, want.height + 1))
    assert len(client.get(f"/articles/{article}/similar?k=2").json()["similar"]) == min(2, want.height)
    assert client.get(f"/articles/{article}/similar?k=13").status_code == 422
    assert client.get("/articles/0999999999/similar").status_code == 404
    assert client.get("/articles/12/similar").status_code == 422


def test_picks_are_customers_worth_a_look(client: TestClient, holdout: Path) -> None:
    picks = client.get("/customers/picks").json()
    truth = pl.read_parquet(holdout / "truth.parquet")
    recs = pl.read_parquet(holdout / "recommendations.parquet")
    hits = recs.join(truth, on=[Col.CUSTOMER_ID, Col.ARTICLE_ID], how="semi").group_by(Col.CUSTOMER_ID).len()
    first = picks[0]
    most = hits["len"].max()
    assert first["why"] == f"{most} of the week's purchases recommended"
    assert first["customer_id"] in hits.filter(pl.col("len") == most)[Col.CUSTOMER_ID].to_list()
    history = pl.read_parquet(holdout / "history.parquet")
    long = [p for p in picks if p["why"].endswith("recent purchases shown")]
    assert long and all(
        history.filter(pl.col(Col.CUSTOMER_ID) == p["customer_id"]).height == int(p["why"].split()[0]) for p in long
    )
    assert len({p["customer_id"] for p in picks}) == len(picks)


def test_docs_need_no_network(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "http://" not in page.text and "https://" not in page.text  # every file from this server
    for asset in ("/static-offline-docs/swagger-ui-bundle.js", "/static-offline-docs/swagger-ui.css"):
        assert asset in page.text and client.get(asset).status_code == 200
