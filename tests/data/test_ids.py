"""The id map: Kaggle ids <-> indices, on maps written by hand."""

from __future__ import annotations

import polars as pl
import pytest

from hmrec.data.ids import IdMap, UnknownIds
from hmrec.schema import INDEX_DTYPE, Col

CUSTOMERS = pl.DataFrame(
    {
        Col.CUSTOMER: pl.Series([0, 1, 2], dtype=INDEX_DTYPE),
        Col.CUSTOMER_ID: ["c" * 64, "a" * 64, "b" * 64],  # not in id order: index 0 is the last id as text
    }
)
ARTICLES = pl.DataFrame(
    {Col.ARTICLE: pl.Series([0, 1], dtype=INDEX_DTYPE), Col.ARTICLE_ID: ["0108775015", "0108775044"]}
)
IDS = IdMap(lambda: CUSTOMERS.lazy(), lambda: ARTICLES.lazy())


def test_ids_in_index_order_and_their_count() -> None:
    assert IDS.ids(Col.CUSTOMER_ID).to_list() == ["c" * 64, "a" * 64, "b" * 64]
    assert IDS.size(Col.ARTICLE_ID) == 2


def test_to_index_keeps_the_order_asked_and_marks_unknown_ids() -> None:
    asked = pl.Series(Col.ARTICLE_ID, ["0108775044", "0999999999", "0108775015", "0108775044"])
    found = IDS.to_index(asked)
    assert found.name == Col.ARTICLE and found.dtype == INDEX_DTYPE
    assert found.to_list() == [1, None, 0, 1]
    with pytest.raises(UnknownIds, match="0999999999"):
        IDS.to_index(asked, unknown="raise")


def test_unknown_customers_get_new_indices_past_the_known_ones_in_order() -> None:
    asked = pl.Series(Col.CUSTOMER_ID, ["b" * 64, "x" * 64, "y" * 64, "x" * 64])
    assert IDS.to_index(asked, unknown="extend").to_list() == [2, 3, 4, 3]


def test_to_kaggle_replaces_the_indices_in_row_order_lazy_or_not() -> None:
    recs = pl.DataFrame(
        {
            Col.CUSTOMER: pl.Series([2, 0, 2], dtype=INDEX_DTYPE),
            Col.ARTICLE: pl.Series([1, 0, 0], dtype=INDEX_DTYPE),
            Col.RANK: [1, 1, 2],
        }
    )
    eager = IDS.to_kaggle(recs)
    assert eager.columns == [Col.RANK, Col.CUSTOMER_ID, Col.ARTICLE_ID]
    assert eager[Col.CUSTOMER_ID].to_list() == ["b" * 64, "c" * 64, "b" * 64]
    assert eager[Col.ARTICLE_ID].to_list() == ["0108775044", "0108775015", "0108775015"]
    assert IDS.to_kaggle(recs.lazy()).collect().equals(eager)
    kept = IDS.to_kaggle(recs, keep=True)
    assert kept[Col.CUSTOMER].to_list() == [2, 0, 2]


def test_other_article_columns_become_the_ids_named() -> None:
    pairs = pl.DataFrame({Col.ARTICLE: pl.Series([0], dtype=INDEX_DTYPE), "other": pl.Series([1], dtype=INDEX_DTYPE)})
    out = IDS.to_kaggle(pairs, articles={"other": "similar_article_id"})
    assert out.to_dicts() == [{Col.ARTICLE_ID: "0108775015", "similar_article_id": "0108775044"}]


def test_id_order_sorts_by_the_id_as_text() -> None:
    order = IDS.id_order(Col.CUSTOMER_ID, "place").collect()
    assert order[Col.CUSTOMER].to_list() == [1, 2, 0]  # a..., b..., c...
    assert order["place"].to_list() == [0, 1, 2]


def test_a_series_of_another_name_is_refused() -> None:
    with pytest.raises(ValueError, match="customer_id or article_id"):
        IDS.to_index(pl.Series("id", ["x"]))


def test_rows_in_any_order_hold_the_same_pairs() -> None:
    recs = pl.DataFrame(
        {
            Col.CUSTOMER: pl.Series([2, 0, 1, 2], dtype=INDEX_DTYPE),
            Col.ARTICLE: pl.Series([1, 0, 1, 0], dtype=INDEX_DTYPE),
        }
    )
    ordered = IDS.to_kaggle(recs)
    anyhow = IDS.to_kaggle(recs.lazy(), in_order=False).collect()
    assert sorted(anyhow.rows()) == sorted(ordered.rows()) and anyhow.height == 4
