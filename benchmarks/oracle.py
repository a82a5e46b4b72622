"""How far any model could go on a synthetic shop: the simulator's own probabilities as a ranker.

    .venv/bin/python benchmarks/oracle.py --profile fashion --seed 0

replays the shop's generator (same config and seed, so the same random stream) up to the start
of its last week, then ranks for every buyer of that week the articles by the probability the
generator itself gives each one for a basket slot: a repeat of a remembered purchase, another
colour of one, or a new pick (the customer's style x this week's appeal, the region's taste,
the remembered product type and colour). It knows what no model can (each customer's hidden
style, memory and region, every article's current appeal), so its MAP@12 on that week bounds
what the data lets a ranker reach. Outfit partners and multi-unit rows are left out of the
probabilities (they change which articles a basket holds only a little).

Prints the oracle's MAP@12 next to the repurchase baseline's (filled with last week's best
sellers, as ``--model repurchase``) on the same week, in the simulator's own indices. At full
size, ``--sample N`` scores a seeded sample of N of the week's buyers (the oracle holds a
customers x articles matrix, in chunks of 500 customers).
"""

from __future__ import annotations

import argparse

import numpy as np
import polars as pl

from hmrec import shop
from hmrec.metrics import map_at_k
from hmrec.recommenders.base import top_per_customer
from hmrec.schema import Col, K


def replay(cfg: shop.ShopConfig, seed: int) -> tuple:
    """The generator's state at the start of the last week, and that week's purchases."""
    rng = np.random.default_rng(seed)
    cat = shop.build_catalogue(cfg, rng)
    cust, style_sections = shop.build_customers(cfg, rng)
    history = shop.History.empty(cfg.n_customers, cfg.memory_slots)
    past = []
    for week in range(cfg.n_weeks - 1):
        past.append(shop.simulate_week(cfg, cat, cust, style_sections, history, week, rng))
    slots, count = history.slots.copy(), history.count.copy()
    last = shop.simulate_week(cfg, cat, cust, style_sections, history, cfg.n_weeks - 1, rng)
    return cat, cust, style_sections, slots, count, pl.concat(past), last


def slot_probabilities(
    cfg: shop.ShopConfig,
    cat: shop.Catalogue,
    cust: shop.Customers,
    style_sections: np.ndarray,
    slots: np.ndarray,
    count: np.ndarray,
    customers: np.ndarray,
) -> np.ndarray:
    """customers x articles: the chance that one basket slot of the customer buys the article."""
    weight, _ = shop.appeal_in_week(cfg, cat, cfg.n_weeks - 1)
    n_art = len(weight)
    out = np.zeros((len(customers), n_art))
    style_draw = weight[None, :] * style_sections[:, cat.section]
    style_draw /= style_draw.sum(axis=1, keepdims=True)
    region_draw = None
    if cfg.n_regions > 0 and cfg.cohort_prob > 0:
        region_draw = weight[None, :] * cat.region_taste
        region_draw /= region_draw.sum(axis=1, keepdims=True)
    kind_total = np.bincount(cat.kind, weights=weight, minlength=cat.kind.max() + 1)
    for i, c in enumerate(customers):
        filled = int(min(count[c], slots.shape[1]))
        memory = slots[c, :filled] if filled else np.empty(0, dtype=np.int64)
        fresh = style_draw[cust.style[c]]
        if region_draw is not None:
            fresh = (1 - cfg.cohort_prob) * fresh + cfg.cohort_prob * region_draw[cust.region[c]]
        if filled == 0:
            out[i] = fresh
            continue
        if cfg.taste_prob > 0:
            kinds = cat.kind[memory]
            like = np.zeros(n_art)
            for k, times in zip(*np.unique(kinds, return_counts=True), strict=True):
                if kind_total[k] > 0:
                    like += times / filled * np.where(cat.kind == k, weight, 0.0) / kind_total[k]
            taste = cfg.taste_prob if like.sum() > 0 else 0.0
            fresh = (1 - taste) * fresh + taste * like
        p = (1 - cfg.repeat_article_prob - cfg.repeat_product_prob) * fresh
        np.add.at(p, memory, cfg.repeat_article_prob / filled)
        product = cat.product[memory]
        for m in range(filled):  # another colour: a uniform variant of the remembered product
            first, n = cat.first_variant[product[m]], cat.n_variants[product[m]]
            p[first : first + n] += cfg.repeat_product_prob / filled / n
        out[i] = p
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="fashion", choices=list(shop.PROFILES))
    parser.add_argument("--scale", default="small")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample", type=int, default=None, help="score this many buyers (seeded sample)")
    args = parser.parse_args()
    cfg = shop.config_for(args.scale, args.profile)
    cat, cust, style_sections, slots, count, past, last = replay(cfg, args.seed)
    truth = last.select(Col.CUSTOMER, Col.ARTICLE).unique()
    buyers = np.sort(truth[Col.CUSTOMER].unique().to_numpy())
    if args.sample and args.sample < len(buyers):
        buyers = np.sort(np.random.default_rng(0).choice(buyers, args.sample, replace=False))
        truth = truth.filter(pl.col(Col.CUSTOMER).is_in(buyers.tolist()))
    top = np.concatenate(
        [
            np.argsort(-slot_probabilities(cfg, cat, cust, style_sections, slots, count, part), axis=1, kind="stable")[
                :, :K
            ]
            for part in np.array_split(buyers, max(1, len(buyers) // 500))
        ]
    )
    oracle = pl.DataFrame(
        {
            Col.CUSTOMER: np.repeat(buyers, K).astype(np.uint32),
            Col.ARTICLE: top.ravel().astype(np.uint32),
            Col.RANK: np.tile(np.arange(1, K + 1), len(buyers)),
        }
    )
    # the repurchase baseline on the same rows: units of the last 26 weeks decayed by days
    day0 = 7 * (cfg.n_weeks - 1)
    mine = (
        past.filter(pl.col(Col.DATE) >= day0 - 26 * 7)
        .group_by(Col.CUSTOMER, Col.ARTICLE)
        .agg((-0.03 * (day0 - pl.col(Col.DATE))).exp().sum().alias(Col.SCORE))
    )
    mine = mine.filter(pl.col(Col.CUSTOMER).is_in(buyers.tolist()))
    popular = (
        past.filter(pl.col(Col.DATE) >= day0 - 7)
        .group_by(Col.ARTICLE)
        .agg(pl.len().alias("n"))
        .sort(["n", Col.ARTICLE], descending=[True, False])
        .head(K)[Col.ARTICLE]
    )
    fill = pl.DataFrame({Col.CUSTOMER: np.repeat(buyers, K).astype(np.uint32)}).with_columns(
        pl.Series(Col.ARTICLE, np.tile(popular.to_numpy(), len(buyers))).cast(pl.UInt32),
        pl.Series(Col.SCORE, np.tile(-np.arange(1.0, K + 1), len(buyers))),  # below any decayed count
    )
    filled = pl.concat([mine.select(Col.CUSTOMER, Col.ARTICLE, Col.SCORE), fill], how="vertical_relaxed")
    filled = filled.group_by(Col.CUSTOMER, Col.ARTICLE).agg(pl.col(Col.SCORE).max())
    repurchase = top_per_customer(filled.lazy(), K).collect()
    oracle_map, rep_map = map_at_k(oracle, truth), map_at_k(repurchase, truth)
    print(
        f"{args.profile} seed {args.seed}: buyers {len(buyers):,}  oracle MAP@12 {oracle_map:.5f}  "
        f"repurchase {rep_map:.5f}  oracle/repurchase {oracle_map / rep_map:.2f}"
    )


if __name__ == "__main__":
    main()
