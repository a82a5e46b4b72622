"""Time one chunk of the final ranking stage by stage: the week's global state, then for each of
the first ``--chunks`` chunks of customers its rows, each source, the union, the features and
the scores, with a saved ranker (``hmrec submit`` writes one to
``DIR/artifacts/submit/model/ranker``; ``hmrec fit --out M`` to ``M/ranker``), its trees compiled
as ``rank_customers`` compiles them for a full-size shop. Prints µs per candidate row per stage.

    .venv/bin/python benchmarks/chunk.py --data DIR --model DIR/artifacts/submit/model/ranker
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta
from pathlib import Path

from hmrec.data.dataset import prepare as prepare_dataset
from hmrec.features.join import join_features
from hmrec.ranking.data import CandidateConfig, Tables
from hmrec.ranking.inference import rank_chunk
from hmrec.ranking.model import FittedRanker
from hmrec.retrieval.pipeline import learned_cut, run_sources, union_of
from hmrec.schema import Col, K


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--chunk-size", type=int, default=100_000)
    parser.add_argument("--chunks", type=int, default=2)
    args = parser.parse_args()
    dataset = prepare_dataset(args.data).dataset
    cutoff = dataset.date_range()[1] + timedelta(days=1)
    config = CandidateConfig()
    ranker = FittedRanker.load(args.model)
    start = time.perf_counter()
    ranker.prepare(rows=10**12)
    print(
        f"compiling the trees: {time.perf_counter() - start:.1f} s ({'done' if ranker.forest else 'LightGBM scores'})"
    )

    start = time.perf_counter()
    week = Tables(dataset.articles(), dataset.customers()).week(dataset.transactions(), cutoff, config)
    print(f"the week's global state: {time.perf_counter() - start:.1f} s")
    known = week.past().select(Col.CUSTOMER).unique().sort(Col.CUSTOMER).collect()[Col.CUSTOMER]
    print(f"{known.len():,} customers with a purchase")
    for i in range(args.chunks):
        begin = start = time.perf_counter()
        data = week.chunk(known.slice(i * args.chunk_size, args.chunk_size))
        print(f"chunk {i + 1}: its customers' rows {time.perf_counter() - start:.1f} s")
        runs = run_sources(data, config.sources, config.per_source)
        print("  sources " + ", ".join(f"{r.name} {r.seconds:.2f} s" for r in runs))
        cut = (
            learned_cut(data, config.sources, config.per_source, config.cut_buyers, config.cut_weeks)
            if config.cut
            else None
        )
        start = time.perf_counter()
        merged = union_of(runs, config.cap, cut).collect()
        rows = max(merged.height, 1)
        union = time.perf_counter() - start
        print(f"  union {union:.1f} s ({merged.height:,} rows; {union / rows * 1e6:.2f} us per row)")
        start = time.perf_counter()
        frame = join_features(merged, data)
        features = time.perf_counter() - start
        print(f"  features {features:.1f} s ({frame.width} columns; {features / rows * 1e6:.2f} us per row)")
        start = time.perf_counter()
        rank_chunk(ranker, frame, config.sources, K)
        scores = time.perf_counter() - start
        print(f"  scores and top {K} {scores:.1f} s ({scores / rows * 1e6:.2f} us per row)")
        total = time.perf_counter() - begin
        print(f"  chunk total {total:.1f} s ({total / rows * 1e6:.2f} us per row, sources and union included)")


if __name__ == "__main__":
    main()
