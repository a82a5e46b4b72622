"""Time building the MF's weighted pairs and one training epoch over all of them.

.venv/bin/python benchmarks/mf_epoch.py --data bench-out/full
"""

from __future__ import annotations

import argparse
import resource
import time
from dataclasses import replace
from pathlib import Path

import torch

from hmrec.data.dataset import prepare as prepare_dataset
from hmrec.data.split import Split
from hmrec.recommenders.mf.config import MFConfig
from hmrec.recommenders.mf.model import MatrixFactorization
from hmrec.recommenders.mf.scoring import build_interactions
from hmrec.recommenders.mf.train import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    opts = parser.parse_args()
    split = Split.at(prepare_dataset(opts.data).dataset.transactions())
    cfg = replace(MFConfig(), epochs=1)
    start = time.perf_counter()
    data = build_interactions(split.history, split.cutoff, cfg)
    built = time.perf_counter() - start
    torch.manual_seed(cfg.seed)
    model = MatrixFactorization(data.n_customers, data.n_articles, cfg.dim)
    start = time.perf_counter()
    train(model, data, cfg)
    epoch = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(
        f"{len(data.customers):,} weighted pairs built in {built:.1f} s; one epoch {epoch:.1f} s; peak RSS {peak:.2f} GB"
    )


if __name__ == "__main__":
    main()
