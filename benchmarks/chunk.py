"""Time one chunk of the final ranking stage by stage: the week's global state, then for each of
the first ``--chunks`` chunks of customers its rows, each source, the union, the features and
the scores, with a saved ranker (``hmrec submit`` writes one to ``DIR/artifacts/submit/model/ranker``; ``hmrec fit --out M`` to ``M/ranker``).

    .venv/bin/python benchmarks/chunk.py --data DIR --model DIR/artifacts/submit/model/ranker
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta
from pathlib import Path

from hmrec.data import ingest
from hmrec.features.join import join_features
from hmrec.ranking.data import CandidateConfig, Tables
from hmrec.ranking.inference import rank_chunk
from hmrec.ranking.model import FittedRanker
from hmrec.retrieval.pipeline import run_sources, union_of
from hmrec.schema import Col, K


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--chunk-size", type=int, default=100_000)
    parser.add_argument("--chunks", type=int, default=2)
    args = parser.parse_args()
    dataset = ingest.load(args.data).dataset
    cutoff = dataset.date_range()[1] + timedelta(days=1)
    config = CandidateConfig()
    ranker = FittedRanker.load(args.model)

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
        start = time.perf_counter()
        merged = union_of(runs, config.cap).collect()
        print(f"  union {time.perf_counter() - start:.1f} s ({merged.height:,} rows)")
        start = time.perf_counter()
        frame = join_features(merged, data)
        print(f"  features {time.perf_counter() - start:.1f} s ({frame.width} columns)")
        start = time.perf_counter()
        rank_chunk(ranker, frame, config.sources, K)
        print(f"  scores and top {K} {time.perf_counter() - start:.1f} s")
        print(f"  chunk total {time.perf_counter() - begin:.1f} s")


if __name__ == "__main__":
    main()
