"""The union of sources and the candidate-quality measures."""

from __future__ import annotations

import polars as pl
import pytest

from hmrec.data.week import WeekInput
from hmrec.retrieval.measure import measure
from hmrec.retrieval.union import BEST_RANK, N_SOURCES, union
from hmrec.schema import Col


def source(rows: list[tuple[int, int, int]]) -> pl.LazyFrame:
    """(customer, article, rank) rows; the score is 1 / rank."""
    return pl.LazyFrame(
        {
            Col.CUSTOMER: pl.Series([r[0] for r in rows], dtype=pl.UInt32),
            Col.ARTICLE: pl.Series([r[1] for r in rows], dtype=pl.UInt32),
            Col.SCORE: pl.Series([1 / r[2] for r in rows], dtype=pl.Float32),
            Col.RANK: pl.Series([r[2] for r in rows], dtype=pl.UInt16),
        }
    )


def test_one_row_per_pair_with_each_sources_columns() -> None:
    a = source([(0, 1, 1), (0, 2, 2)])
    b = source([(0, 2, 1), (0, 3, 2), (1, 9, 1)])
    out = union({"a": a, "b": b}, cap=10).collect().sort(Col.CUSTOMER, Col.ARTICLE)
    assert out.select(Col.CUSTOMER, Col.ARTICLE).rows() == [(0, 1), (0, 2), (0, 3), (1, 9)]
    assert out["a_rank"].to_list() == [1, 2, None, None]
    assert out["b_rank"].to_list() == [None, 1, 2, 1]
    assert out[N_SOURCES].to_list() == [1, 2, 1, 1]
    assert out[BEST_RANK].to_list() == [1, 1, 2, 1]


def test_pairs_keep_ids_and_types_across_the_whole_32_bits() -> None:
    # the union groups by one integer per pair: ids near the top of 32 bits must come back whole
    big, other = 2**32 - 1, 2**31 + 5
    a = source([(big, other, 1), (big, 0, 2), (0, other, 1)])
    b = source([(big, other, 3), (other, big, 1)])
    out = union({"a": a, "b": b}, cap=10).collect().sort(Col.CUSTOMER, Col.ARTICLE)
    assert out.select(Col.CUSTOMER, Col.ARTICLE).rows() == [(0, other), (other, big), (big, 0), (big, other)]
    assert out.schema[Col.CUSTOMER] == pl.UInt32 and out.schema[Col.ARTICLE] == pl.UInt32
    assert out["a_rank"].to_list() == [1, None, 2, 1] and out["b_rank"].to_list() == [None, 1, None, 3]


def test_cap_fills_by_source_priority_then_rank() -> None:
    a = source([(0, 1, 1), (0, 2, 2), (1, 5, 1)])
    b = source([(0, 7, 1), (0, 8, 2), (0, 1, 3), (1, 6, 1), (1, 9, 2)])
    out = union({"a": a, "b": b}, cap=3).collect()
    # customer 0: a's two articles, then b's best that a did not offer (not 8)
    assert sorted(out.filter(pl.col(Col.CUSTOMER) == 0)[Col.ARTICLE]) == [1, 2, 7]
    # customer 1: a has one article, b fills the rest
    assert sorted(out.filter(pl.col(Col.CUSTOMER) == 1)[Col.ARTICLE]) == [5, 6, 9]
    swapped = union({"b": b, "a": a}, cap=3).collect()
    assert sorted(swapped.filter(pl.col(Col.CUSTOMER) == 0)[Col.ARTICLE]) == [1, 7, 8]  # not 2


def test_cap_breaks_a_tie_by_how_many_sources_offered_then_by_article() -> None:
    # source a ranks articles 4, 3 and 2 all first (a tie); b offers 3 as well
    a = source([(0, 4, 1), (0, 3, 1), (0, 2, 1)])
    b = source([(0, 3, 5)])
    kept = union({"a": a, "b": b}, cap=1).collect()[Col.ARTICLE].to_list()
    assert kept == [3]  # offered by two sources: ahead of 2, which has the lower index
    kept = union({"a": a, "b": b}, cap=2).collect()[Col.ARTICLE].sort().to_list()
    assert kept == [2, 3]  # then the lower index: 2 before 4


def test_union_of_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        union({}, cap=5)


def test_measure_by_hand() -> None:
    cands = pl.DataFrame({Col.CUSTOMER: [0, 0, 0, 1, 1, 5], Col.ARTICLE: [1, 2, 3, 4, 5, 6]})
    truth = pl.DataFrame({Col.CUSTOMER: [0, 0, 1, 2], Col.ARTICLE: [1, 9, 7, 3]})
    q = measure(cands, truth)
    # buyers 0, 1, 2; customer 5 bought nothing and is not counted
    assert q.per_customer == pytest.approx(5 / 3)
    assert q.recall == pytest.approx(1 / 4)  # one of four bought pairs retrieved
    assert q.customers_with_hit == pytest.approx(1 / 3)
    assert q.oracle_map == pytest.approx((1 / 2 + 0 + 0) / 3)


def test_chunked_candidates_equal_one_pass(tiny_dataset, tmp_path) -> None:
    from polars.testing import assert_frame_equal

    from hmrec.data.split import Split
    from hmrec.retrieval import pipeline

    split = Split.at(tiny_dataset.transactions())
    customers = tiny_dataset.submission_customers().collect()[Col.CUSTOMER]
    data = WeekInput.of(tiny_dataset, split, customers)
    names = ["repurchase", "bought_together", "popular_age"]
    out = pipeline.write_candidates(data, names, n=10, cap=15, out_dir=tmp_path / "cands", chunk_size=70)
    chunked = pipeline.read_candidates(out).collect().sort(Col.CUSTOMER, Col.ARTICLE)
    assert len(list(out.glob("part-*.parquet"))) == -(-customers.n_unique() // 70)
    runs = pipeline.run_sources(data, names, 10)
    whole = union({r.name: r.candidates.lazy() for r in runs}, cap=15).collect().sort(Col.CUSTOMER, Col.ARTICLE)
    assert_frame_equal(chunked, whole)
    assert [p.name for p in tmp_path.iterdir()] == ["cands"]  # no temporary folder left


def test_recall_curve_reads_each_size_of_the_quality_tables(tiny_dataset) -> None:
    from hmrec.data.split import Split
    from hmrec.data.week import WeekInput
    from hmrec.retrieval import pipeline

    split = Split.at(tiny_dataset.transactions())
    truth = split.truth.collect()
    data = WeekInput.of(tiny_dataset, split, truth[Col.CUSTOMER].unique())
    runs = pipeline.run_sources(data, ["popular", "repurchase"], 10)
    curve = pipeline.recall_curve({size: pipeline.quality_table(runs, truth, size) for size in (3, 10)})
    assert list(curve) == ["repurchase", "popular", "union"]  # the union's priority order
    bought = truth.select(Col.CUSTOMER, Col.ARTICLE).unique()

    def recall(candidates: pl.DataFrame) -> float:  # by hand: the share of bought pairs offered
        offered = candidates.select(Col.CUSTOMER, Col.ARTICLE).unique()
        return bought.join(offered, on=[Col.CUSTOMER, Col.ARTICLE], how="semi").height / bought.height

    def top(name: str, n: int) -> pl.DataFrame:
        return next(r for r in runs if r.name == name).candidates.filter(pl.col(Col.RANK) <= n)

    for i, n in enumerate((3, 10)):
        assert curve["popular"][i] == pytest.approx(recall(top("popular", n)))
        assert curve["repurchase"][i] == pytest.approx(recall(top("repurchase", n)))
        # the union at n keeps n per customer of both sources' n: between the better source and
        # both sources' pairs together
        pooled = recall(pl.concat([top("popular", n), top("repurchase", n)]))
        assert curve["repurchase"][i] <= curve["union"][i] <= pooled
    assert curve["popular"][0] < curve["popular"][1]
