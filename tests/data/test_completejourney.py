"""The real shop of the accuracy matrix: The Complete Journey as Kaggle files, cut at 2017-10-31."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import polars as pl

from benchmarks.worlds import completejourney as cj
from hmrec.data.check import check
from hmrec.data.dataset import prepare as prepare_dataset
from hmrec.schema import Col


def _package_like(folder: Path) -> Path:
    """Three parquet files in the package's schema, written by hand (a comment per row)."""
    folder.mkdir()
    ts = datetime
    pl.DataFrame(
        {
            "household_id": [1, 1, 2, 2, 2],
            "store_id": [10, 11, 10, 10, 10],
            "basket_id": [100, 101, 200, 201, 202],
            "product_id": [825123, 825124, 825123, 825125, 825123],
            "quantity": [
                2,  # household 1: two units -> two rows
                7,  # household 1: seven units of a weighed good -> MAX_UNITS rows
                1,  # household 2, last minute of 2017-10-31: kept
                0,  # household 2: no quantity (a correction): left out
                1,  # household 2, the first second of 2017-11-01: never read
            ],
            "sales_value": [3.0, 14.0, 1.5, 2.0, 9.0],
            "retail_disc": [0.0] * 5,
            "coupon_disc": [0.0] * 5,
            "coupon_match_disc": [0.0] * 5,
            "week": [1, 1, 44, 44, 45],
            "transaction_timestamp": [
                ts(2017, 1, 1, 9),
                ts(2017, 1, 2, 9),
                ts(2017, 10, 31, 23, 59),
                ts(2017, 10, 31, 10),
                ts(2017, 11, 1, 0, 0, 1),
            ],
        }
    ).write_parquet(folder / "transactions.parquet")
    pl.DataFrame(
        {
            "product_id": [825123, 825124, 825125],
            "manufacturer_id": [5, 5, 6],
            "department": ["GROCERY", "GROCERY", None],  # the third has no department
            "brand": ["National", "National", "Private"],
            "product_category": ["YOGURT", "YOGURT", None],
            "product_type": ["YOGURT CUP", "YOGURT CUP", None],  # 1 and 2: one product family
            "package_size": ["6 OZ", "32 OZ", None],
        }
    ).write_parquet(folder / "products.parquet")
    pl.DataFrame({"household_id": [1], "age": ["25-34"]}).write_parquet(folder / "demographics.parquet")
    return folder


def test_no_row_after_the_last_day_is_read_and_units_become_rows(tmp_path: Path) -> None:
    out = cj.convert(tmp_path / "shop", _package_like(tmp_path / "package"))
    tx = pl.read_csv(out / "transactions_train.csv", schema_overrides={Col.ARTICLE_ID: pl.String})
    assert tx[Col.DATE].max() == "2017-10-31"
    assert tx.group_by(Col.ARTICLE_ID).len().sort(Col.ARTICLE_ID).rows() == [
        ("0000825123", 3),  # household 1's two units and household 2's last-minute one
        ("0000825124", cj.MAX_UNITS),
    ]
    assert tx.filter(pl.col(Col.ARTICLE_ID) == "0000825124")[Col.PRICE].unique().to_list() == [14.0 / 7 / cj.PRICE_UNIT]
    people = pl.read_csv(out / "customers.csv")
    assert people.height == 2 and people[Col.CUSTOMER_ID].n_unique() == 2
    assert people.sort(Col.AGE, nulls_last=True)[Col.AGE].to_list() == [30, None]  # the 25-34 band's middle
    items = pl.read_csv(out / "articles.csv", schema_overrides={Col.ARTICLE_ID: pl.String})
    codes = dict(zip(items[Col.ARTICLE_ID], items[Col.PRODUCT_CODE], strict=True))
    assert codes["0000825123"] == codes["0000825124"] != codes["0000825125"]
    assert items.filter(pl.col(Col.ARTICLE_ID) == "0000825125")[Col.PRODUCT_TYPE_NO].item() == -1


def test_the_real_shop_passes_check_and_ends_on_the_last_day(real_shop: Path) -> None:
    report = check(real_shop, train_weeks=4)
    assert report.errors == []
    dataset = prepare_dataset(real_shop).dataset
    days = dataset.transactions().select(pl.col(Col.DATE).min().alias("first"), pl.col(Col.DATE).max().alias("last"))
    assert days.collect().row(0) == (date(2017, 1, 1), cj.LAST_DAY)
    assert dataset.customers().select(pl.len()).collect().item() > 2_000
