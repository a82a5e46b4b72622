"""The explorer page in a real headless browser (Debian's chromium and chromedriver, which
`make test` installs; the test is skipped where they are absent)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import uvicorn

from hmrec.schema import Col
from hmrec.serve.app import create_app
from tests.browser import headless, needs_browser, wait_for

pytestmark = needs_browser


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(holdout: Path) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(create_app(holdout), host="127.0.0.1", port=port, log_level="warning")
    app_server = uvicorn.Server(config)
    thread = threading.Thread(target=app_server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not app_server.started:
        if time.time() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    app_server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    yield from headless()


def test_search_a_customer_shows_history_and_recommendations(browser, server: str, holdout: Path) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    truth = pl.read_parquet(holdout / "truth.parquet")
    recs = pl.read_parquet(holdout / "recommendations.parquet")
    hit = recs.join(truth, on=[Col.CUSTOMER_ID, Col.ARTICLE_ID], how="semi")[Col.CUSTOMER_ID][0]
    history = pl.read_parquet(holdout / "history.parquet").filter(pl.col(Col.CUSTOMER_ID) == hit)

    browser.get(server + "/")
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#customer-list option"))  # the picker is filled
    assert "customers" in browser.find_element(By.ID, "meta").text
    box = browser.find_element(By.ID, "customer")
    box.clear()
    box.send_keys(hit)
    browser.find_element(By.ID, "show").click()
    status = browser.find_element(By.ID, "status")
    wait_for(lambda: status.text.startswith(f"Customer {hit[:16]}"))  # this customer's, not the opening pick's
    rows = browser.find_elements(By.CSS_SELECTOR, "#recommendations tbody tr")
    assert len(rows) == 12
    assert rows[0].find_element(By.CSS_SELECTOR, "td").text == "1"
    history_rows = browser.find_elements(By.CSS_SELECTOR, "#history tbody tr")
    assert len(history_rows) == history.height
    first = history_rows[0].find_elements(By.CSS_SELECTOR, "td")
    assert first[0].text == history[Col.DATE][0].isoformat()
    assert first[3].text in ("online", "store")
    swatch = history_rows[0].find_element(By.CSS_SELECTOR, ".swatch")
    assert swatch.value_of_css_property("background-color").startswith("rgb")
    assert browser.find_elements(By.CSS_SELECTOR, "#recommendations .bought")  # a real purchase is marked
    assert browser.find_elements(By.CSS_SELECTOR, "#recommendations .chip")  # sources shown
    assert "bought in the week" in browser.find_element(By.ID, "recs-note").text
    bought = truth.filter(pl.col(Col.CUSTOMER_ID) == hit)
    listed = browser.find_elements(By.CSS_SELECTOR, "#bought tbody tr")
    assert len(listed) == bought.height  # every purchase of the week, recommended or not
    assert any(row.text.rstrip().split("\n")[-1].startswith("yes, #") for row in listed)


def test_a_malformed_id_shows_the_message(browser, server: str) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    browser.get(server + "/")
    wait_for(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#recommendations tbody tr")) == 12)  # opened
    box = browser.find_element(By.ID, "customer")
    box.clear()
    box.send_keys("not-a-customer")
    browser.find_element(By.ID, "show").click()
    status = browser.find_element(By.ID, "status")
    wait_for(lambda: "hexadecimal" in status.text)
    assert status.get_attribute("class") == "error"


def test_pick_one_loads_a_customer(browser, server: str) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    browser.get(server + "/")
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#customer-list option"))
    browser.find_element(By.ID, "random").click()
    wait_for(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#recommendations tbody tr")) == 12)
    assert len(browser.find_element(By.ID, "customer").get_attribute("value")) == 64


def test_the_page_opens_on_a_customer_worth_a_look(browser, server: str) -> None:  # type: ignore[no-untyped-def]
    import httpx
    from selenium.webdriver.common.by import By

    first = httpx.get(server + "/customers/picks").json()[0]
    browser.get(server + "/")
    rows = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#recommendations tbody tr"))
    assert browser.find_element(By.ID, "customer").get_attribute("value") == first["customer_id"]
    assert len(rows) == 12 and browser.find_elements(By.CSS_SELECTOR, "#history tbody tr td.swatch, #history .swatch")
    assert browser.find_elements(By.CSS_SELECTOR, "#recommendations .bought")  # a pick whose list held a purchase
    labels = [o.get_attribute("label") for o in browser.find_elements(By.CSS_SELECTOR, "#customer-list option")]
    assert first["why"] in labels


def test_the_page_shows_why_and_similar_articles(browser, server: str) -> None:  # type: ignore[no-untyped-def]
    import httpx
    from selenium.webdriver.common.by import By

    first = httpx.get(server + "/customers/picks").json()[0]["customer_id"]
    body = httpx.get(f"{server}/customers/{first}/recommendations?explain=true").json()["recommendations"]
    browser.get(f"{server}/#{first}")
    rows = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#recommendations tbody tr"))
    assert browser.find_element(By.ID, "why-head").is_displayed()
    top = rows[0].find_elements(By.CSS_SELECTOR, "td.why div")
    assert [d.text.split(":")[0] for d in top] == [r["feature"] for r in body[0]["explain"]]
    rows[0].find_element(By.CSS_SELECTOR, "a.more").click()
    similar = httpx.get(f"{server}/articles/{body[0]['article']['article_id']}/similar").json()["similar"]
    shown = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#similar tbody tr"))
    assert browser.find_element(By.ID, "similar-panel").is_displayed()
    if similar:
        assert len(shown) == len(similar)
        assert shown[0].find_elements(By.CSS_SELECTOR, ".chip")[0].text == similar[0]["sources"][0]
    else:
        assert "Nothing bought with it" in shown[0].text


def test_the_api_docs_render_offline(browser, server: str) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    browser.get(server + "/docs")
    operations = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".swagger-ui .opblock"))
    paths = {o.find_element(By.CSS_SELECTOR, ".opblock-summary-path").text for o in operations}
    assert {"/customers/{customer_id}/recommendations", "/articles/{article_id}/similar"} <= {
        p.replace("\u200b", "") for p in paths
    }
    assert "hmrec" in browser.find_element(By.CSS_SELECTOR, ".swagger-ui .title").text
