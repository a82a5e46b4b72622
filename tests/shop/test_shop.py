"""The synthetic shop: exact Kaggle format, determinism, and each behaviour really there.

Mechanism tests compare the default shop with one where that mechanism's parameter is
switched off, all else (seed included) equal.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from hmrec import shop
from hmrec.schema import ARTICLE_COLUMNS, CUSTOMER_COLUMNS, TRANSACTION_COLUMNS, Col

SIZE = {"n_customers": 6000, "n_products": 4000, "n_weeks": 24}


def generate(folder: Path, **overrides: object) -> dict[str, pl.DataFrame]:
    shop.generate(shop.config_for("small", **{**SIZE, **overrides}), folder, seed=3)
    frames = {
        name: pl.read_csv(folder / f"{name}.csv", infer_schema=False)
        for name in ("transactions_train", "articles", "customers")
    }
    tx = frames["transactions_train"].with_columns(
        pl.col(Col.DATE).str.to_date(),
        pl.col(Col.PRICE).cast(pl.Float64),
        pl.col(Col.CHANNEL).cast(pl.Int8),
    )
    first = tx[Col.DATE].min()
    frames["tx"] = tx.with_columns(week=((pl.col(Col.DATE) - first).dt.total_days() // 7).cast(pl.Int32))
    return frames


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pl.DataFrame]:
    return generate(tmp_path_factory.mktemp("base"))


def without(tmp_path_factory: pytest.TempPathFactory, **overrides: object) -> dict[str, pl.DataFrame]:
    return generate(tmp_path_factory.mktemp("variant"), **overrides)


# --- format -------------------------------------------------------------------------------


def test_files_have_the_kaggle_columns_and_formats(base: dict[str, pl.DataFrame]) -> None:
    raw = base["transactions_train"]
    assert raw.columns == TRANSACTION_COLUMNS
    assert base["articles"].columns == ARTICLE_COLUMNS
    assert base["customers"].columns == CUSTOMER_COLUMNS
    assert raw[Col.DATE].str.contains(r"^\d{4}-\d{2}-\d{2}$").all()
    assert raw[Col.CUSTOMER_ID].str.contains(r"^[0-9a-f]{64}$").all()
    assert raw[Col.ARTICLE_ID].str.contains(r"^0\d{9}$").all()
    assert set(raw[Col.CHANNEL]) == {"1", "2"}
    assert base["tx"][Col.DATE].max() == date(2020, 9, 22)
    prices = base["tx"][Col.PRICE]
    assert prices.min() > 0 and 0.01 < prices.mean() < 0.06 and prices.max() < 0.6
    customers = base["customers"]
    assert customers[Col.AGE].null_count() > 0 and customers[Col.FN].null_count() > 0
    assert set(customers[Col.FN].drop_nulls()) == {"1.0"}
    assert customers[Col.POSTAL_CODE].str.contains(r"^[0-9a-f]{64}$").all()
    articles = base["articles"]
    assert articles[Col.ARTICLE_ID].is_unique().all()
    assert articles[Col.PRODUCT_CODE].n_unique() < articles.height  # colour families
    assert (articles[Col.ARTICLE_ID].str.slice(1, 6) == articles[Col.PRODUCT_CODE].str.zfill(6)).all()


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    cfg = shop.config_for("tiny")
    a, b, c = (shop.generate(cfg, tmp_path / name, seed=s) for name, s in (("a", 1), ("b", 1), ("c", 2)))
    for key in a:
        assert a[key].read_bytes() == b[key].read_bytes(), key
    assert a["transactions"].read_bytes() != c["transactions"].read_bytes()


def test_tiny_is_a_few_thousand_rows(tiny_shop: Path) -> None:
    rows = pl.scan_csv(tiny_shop / "transactions_train.csv").select(pl.len()).collect().item()
    assert 500 <= rows <= 10_000


# --- behaviour ----------------------------------------------------------------------------


def test_articles_come_in_colour_families(base: dict[str, pl.DataFrame]) -> None:
    per_product = (
        base["articles"].group_by(Col.PRODUCT_CODE).agg(n=pl.len(), colours=pl.col(Col.COLOUR_GROUP).n_unique())
    )
    assert per_product["n"].mean() > 1.5
    assert (per_product["n"] == per_product["colours"]).all()


def test_new_articles_arrive_every_week_and_then_fade(base: dict[str, pl.DataFrame]) -> None:
    tx = base["tx"]
    first_sale = tx.group_by(Col.ARTICLE_ID).agg(first=pl.col("week").min())
    weeks_with_arrivals = first_sale.filter(pl.col("first") > 0)["first"].n_unique()
    assert weeks_with_arrivals >= SIZE["n_weeks"] - 2
    # launched inside the window: sales in the first 3 weeks far exceed those 10 to 12 weeks on
    age = tx.join(first_sale.filter(pl.col("first") > 0), on=Col.ARTICLE_ID).with_columns(
        age=pl.col("week") - pl.col("first")
    )
    early = age.filter(pl.col("age") < 3).height
    late = age.filter(pl.col("age").is_between(10, 12)).height
    assert early > 2 * late


def test_appeal_follows_the_season() -> None:
    cfg = shop.config_for("small")
    cat = shop.build_catalogue(cfg, np.random.default_rng(0))
    never_marked_down = cat.markdown_start > 10 * cfg.n_weeks
    evergreen = np.flatnonzero((cat.half_life > 100) & (cat.launch < 0) & (cat.season_amp > 0.4) & never_marked_down)
    assert len(evergreen) > 0
    a = evergreen[0]
    peak_week = next(w for w in range(cfg.n_weeks + 52) if shop.week_of_year(cfg, w) == cat.season_peak[a] + 1)
    low_week = peak_week + 26
    high, _ = shop.appeal_in_week(cfg, cat, peak_week)
    low, _ = shop.appeal_in_week(cfg, cat, low_week)
    assert high[a] > 1.5 * low[a]


def test_markdowns_lower_the_price_and_lift_sales(base: dict[str, pl.DataFrame]) -> None:
    weekly = base["tx"].group_by(Col.ARTICLE_ID, "week").agg(units=pl.len(), price=pl.col(Col.PRICE).mean())
    weekly = weekly.with_columns(full=pl.col("price").max().over(Col.ARTICLE_ID))
    marked = weekly.with_columns(markdown=pl.col("price") < 0.8 * pl.col("full"))
    start = marked.filter("markdown").group_by(Col.ARTICLE_ID).agg(start=pl.col("week").min())
    around = marked.join(start, on=Col.ARTICLE_ID).with_columns(offset=pl.col("week") - pl.col("start"))
    during = around.filter(pl.col("offset").is_between(0, 1))["units"].sum()
    before = around.filter(pl.col("offset").is_between(-2, -1))["units"].sum()
    assert start.height > 20
    assert during > 1.3 * before


def test_age_shapes_taste(base: dict[str, pl.DataFrame]) -> None:
    tx = base["tx"].join(base["customers"].select(Col.CUSTOMER_ID, pl.col(Col.AGE).cast(pl.Int32)), on=Col.CUSTOMER_ID)
    tx = tx.join(base["articles"].select(Col.ARTICLE_ID, "index_group_name"), on=Col.ARTICLE_ID)

    def divided_share(rows: pl.DataFrame) -> float:
        return (rows["index_group_name"] == "Divided").mean()

    young = tx.filter(pl.col(Col.AGE) < 30)
    old = tx.filter(pl.col(Col.AGE) > 45)
    assert divided_share(young) > 2 * divided_share(old)
    ages = base["customers"][Col.AGE].drop_nulls().cast(pl.Int32)
    assert ((ages >= 20) & (ages < 30)).mean() > ((ages >= 35) & (ages < 40)).mean() * 1.5  # bimodal


def test_activity_is_bursty(base: dict[str, pl.DataFrame]) -> None:
    tx = base["tx"]
    last = tx.filter(pl.col("week") == tx["week"].max())
    assert last[Col.CUSTOMER_ID].n_unique() < 0.2 * SIZE["n_customers"]
    per_customer = tx.group_by(Col.CUSTOMER_ID).agg(n=pl.len())["n"].sort(descending=True)
    top_tenth = per_customer.head(max(1, len(per_customer) // 10)).sum()
    assert top_tenth > 0.3 * per_customer.sum()


def _earlier_same(tx: pl.DataFrame, key: str) -> float:
    """Share of rows whose customer bought the same ``key`` in an earlier week."""
    first = tx.group_by(Col.CUSTOMER_ID, key).agg(first=pl.col("week").min())
    later = tx.join(first, on=[Col.CUSTOMER_ID, key]).filter(pl.col("week") > pl.col("first"))
    return later.height / tx.height


def test_customers_buy_the_same_article_again(
    base: dict[str, pl.DataFrame], tmp_path_factory: pytest.TempPathFactory
) -> None:
    off = without(tmp_path_factory, repeat_article_prob=0.0, repeat_product_prob=0.0)
    assert _earlier_same(base["tx"], Col.ARTICLE_ID) > 0.04
    assert _earlier_same(base["tx"], Col.ARTICLE_ID) > 2 * _earlier_same(off["tx"], Col.ARTICLE_ID)


def test_customers_buy_another_colour_of_a_product(
    base: dict[str, pl.DataFrame], tmp_path_factory: pytest.TempPathFactory
) -> None:
    off = without(tmp_path_factory, repeat_product_prob=0.0)

    def other_colour(frames: dict[str, pl.DataFrame]) -> float:
        tx = frames["tx"].join(frames["articles"].select(Col.ARTICLE_ID, Col.PRODUCT_CODE), on=Col.ARTICLE_ID)
        return _earlier_same(tx, Col.PRODUCT_CODE) - _earlier_same(tx, Col.ARTICLE_ID)

    # variants share appeal and section, so some other-colour buys happen by chance alone
    assert other_colour(base) > other_colour(off) + 0.008


def _outfit_share(frames: dict[str, pl.DataFrame]) -> float:
    """Share of baskets (customer, day) holding an upper and a lower garment of one section."""
    tx = frames["tx"].join(
        frames["articles"].select(Col.ARTICLE_ID, Col.PRODUCT_GROUP, "section_name"), on=Col.ARTICLE_ID
    )
    baskets = tx.group_by(Col.CUSTOMER_ID, Col.DATE, "section_name").agg(
        upper=(pl.col(Col.PRODUCT_GROUP) == "Garment Upper body").any(),
        lower=(pl.col(Col.PRODUCT_GROUP) == "Garment Lower body").any(),
    )
    return (baskets["upper"] & baskets["lower"]).sum() / tx.select(Col.CUSTOMER_ID, Col.DATE).n_unique()


def test_outfits_are_bought_together(base: dict[str, pl.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> None:
    off = without(tmp_path_factory, outfit_prob=0.0)
    assert _outfit_share(base) > 2 * _outfit_share(off)


def test_each_customer_has_a_channel_habit(
    base: dict[str, pl.DataFrame], tmp_path_factory: pytest.TempPathFactory
) -> None:
    same_habit = without(tmp_path_factory, online_concentration=10_000.0)

    def spread(frames: dict[str, pl.DataFrame]) -> float:
        per = frames["tx"].group_by(Col.CUSTOMER_ID).agg(n=pl.len(), online=(pl.col(Col.CHANNEL) == 2).mean())
        return per.filter(pl.col("n") >= 8)["online"].std()

    assert abs((base["tx"][Col.CHANNEL] == 2).mean() - 0.7) < 0.05
    assert spread(base) > 1.5 * spread(same_habit)


# --- profiles -----------------------------------------------------------------------------


def test_profiles_are_named_settings_over_a_scale() -> None:
    assert shop.config_for("small", "fashion") == shop.SCALES["small"]
    trendy = shop.config_for("small", "trendy")
    assert trendy.n_customers == shop.SCALES["small"].n_customers and trendy.trend_share > 0
    assert shop.config_for("small", "grocery", n_weeks=5).n_weeks == 5  # overrides come last
    with pytest.raises(ValueError, match="unknown profile 'bakery'; choose one of fashion, trendy, loyal, grocery"):
        shop.config_for("small", "bakery")


def _bursts(frames: dict[str, pl.DataFrame]) -> float:
    """Share of articles selling 40+ units with a week selling 3 times more than both 3 weeks
    before and 3 weeks after (+1 each): a rise and a fall within weeks."""
    weekly = frames["tx"].group_by(Col.ARTICLE_ID, "week").agg(n=pl.len())
    grid = weekly.select(Col.ARTICLE_ID).unique().join(weekly.select("week").unique(), how="cross")
    full = grid.join(weekly, on=[Col.ARTICLE_ID, "week"], how="left").fill_null(0).sort(Col.ARTICLE_ID, "week")
    n = pl.col("n")
    flagged = full.with_columns(
        burst=(n >= 3 * (n.shift(3).over(Col.ARTICLE_ID) + 1)) & (n >= 3 * (n.shift(-3).over(Col.ARTICLE_ID) + 1))
    )
    per = flagged.group_by(Col.ARTICLE_ID).agg(total=n.sum(), burst=pl.col("burst").any())
    return per.filter(pl.col("total") >= 40)["burst"].mean()


def test_trends_rise_and_fall_within_weeks(tmp_path_factory: pytest.TempPathFactory) -> None:
    trendy = without(tmp_path_factory, trend_share=0.3, trend_boost=8.0)
    base = without(tmp_path_factory)  # same seed, trends off
    assert _bursts(trendy) > 1.5 * _bursts(base)


def _same_kind_later(frames: dict[str, pl.DataFrame], gap_weeks: int) -> float:
    """Share of rows buying an article new to the customer whose product type and colour they
    bought at least ``gap_weeks`` weeks earlier."""
    kinds = frames["articles"].select(Col.ARTICLE_ID, Col.PRODUCT_TYPE_NO, Col.COLOUR_GROUP_CODE)
    tx = frames["tx"].join(kinds, on=Col.ARTICLE_ID)
    first_article = tx.group_by(Col.CUSTOMER_ID, Col.ARTICLE_ID).agg(first_a=pl.col("week").min())
    first_kind = tx.group_by(Col.CUSTOMER_ID, Col.PRODUCT_TYPE_NO, Col.COLOUR_GROUP_CODE).agg(
        first_k=pl.col("week").min()
    )
    rows = tx.join(first_article, on=[Col.CUSTOMER_ID, Col.ARTICLE_ID]).join(
        first_kind, on=[Col.CUSTOMER_ID, Col.PRODUCT_TYPE_NO, Col.COLOUR_GROUP_CODE]
    )
    new = rows.filter(pl.col("week") == pl.col("first_a"))
    return new.filter(pl.col("week") - pl.col("first_k") >= gap_weeks).height / new.height


def test_customers_return_to_types_and_colours_months_later(tmp_path_factory: pytest.TempPathFactory) -> None:
    loyal = without(tmp_path_factory, taste_prob=0.4, memory_slots=48)
    base = without(tmp_path_factory, memory_slots=48)
    assert _same_kind_later(loyal, 8) > 1.5 * _same_kind_later(base, 8)


def _postal_concentration(frames: dict[str, pl.DataFrame]) -> float:
    """How far the largest postal codes' article mix is from the whole shop's (total variation)."""
    tx = frames["tx"].join(frames["customers"].select(Col.CUSTOMER_ID, Col.POSTAL_CODE), on=Col.CUSTOMER_ID)
    overall = tx.group_by(Col.ARTICLE_ID).agg(all=pl.len() / tx.height)
    big = tx[Col.POSTAL_CODE].value_counts(sort=True).head(3)[Col.POSTAL_CODE]
    distances = []
    for code in big:
        mine = tx.filter(pl.col(Col.POSTAL_CODE) == code)
        local = mine.group_by(Col.ARTICLE_ID).agg(local=pl.len() / mine.height)
        both = overall.join(local, on=Col.ARTICLE_ID, how="left").fill_null(0)
        distances.append(0.5 * (both["all"] - both["local"]).abs().sum())
    return sum(distances) / len(distances)


def test_postal_cohorts_have_their_own_taste(tmp_path_factory: pytest.TempPathFactory) -> None:
    regional = without(tmp_path_factory, n_regions=6, cohort_prob=0.4)
    base = without(tmp_path_factory)
    assert _postal_concentration(regional) > _postal_concentration(base) + 0.05


def test_grocery_repeats_staples_in_large_baskets(tmp_path: Path) -> None:
    cfg = shop.config_for("small", "grocery", n_customers=3000, n_products=1500, n_weeks=16)
    shop.generate(cfg, tmp_path, seed=1)
    tx = pl.read_csv(tmp_path / "transactions_train.csv", infer_schema=False)
    per_basket = tx.group_by(Col.CUSTOMER_ID, Col.DATE).len()["len"].mean()
    fashion = shop.config_for("small", n_customers=3000, n_products=1500, n_weeks=16)
    shop.generate(fashion, tmp_path / "fashion", seed=1)
    fx = pl.read_csv(tmp_path / "fashion" / "transactions_train.csv", infer_schema=False)
    assert per_basket > 3 * fx.group_by(Col.CUSTOMER_ID, Col.DATE).len()["len"].mean()
    days = tx.with_columns(days=pl.col(Col.DATE).n_unique().over(Col.CUSTOMER_ID, Col.ARTICLE_ID))
    assert days.filter(pl.col("days") > 1).height / tx.height > 0.3  # rows of articles bought on several days
