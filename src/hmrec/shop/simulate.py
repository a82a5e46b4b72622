"""The shop week by week: each week's appeal, baskets and picks, and ``generate``, which
writes the four Kaggle files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl

from hmrec.data.atomic import write_atomic
from hmrec.data.outputs import SHOP_FILE, mark, refuse_foreign
from hmrec.schema import FILES, INDEX_DTYPE, SUBMISSION_COLUMNS, TRANSACTION_COLUMNS, Col
from hmrec.shop.config import ShopConfig
from hmrec.shop.population import Catalogue, Customers, build_catalogue, build_customers


def week_of_year(cfg: ShopConfig, week: int) -> int:
    return (cfg.first_date + timedelta(days=7 * week)).isocalendar()[1]


def appeal_in_week(cfg: ShopConfig, cat: Catalogue, week: int) -> tuple[np.ndarray, np.ndarray]:
    """Each article's relative appeal and its price factor (markdowns) in ``week``."""
    age = week - cat.launch
    rise = np.clip((age + 1) / cfg.rise_weeks, 0.0, 1.0)
    decay = 0.5 ** (np.maximum(age - cfg.rise_weeks, 0) / cat.half_life)
    woy = week_of_year(cfg, week)
    season = 1 + cat.season_amp * np.cos(2 * np.pi * (woy - cat.season_peak) / 52)
    on_markdown = (week >= cat.markdown_start) & (week < cat.markdown_start + cfg.markdown_weeks)
    weight = np.where(age >= 0, cat.appeal * rise * decay * season, 0.0)
    into_trend = week - cat.trend_start
    in_trend = (into_trend >= 0) & (into_trend < cat.trend_length)
    burst = np.sin(np.pi * (into_trend + 0.5) / cat.trend_length)  # rises and falls within the burst
    weight = weight * np.where(in_trend, 1 + cfg.trend_boost * burst, 1.0)
    weight = weight * np.where(on_markdown, cfg.markdown_boost, 1.0)
    price_factor = np.where(on_markdown, 1 - cfg.markdown_discount, 1.0)
    return weight, price_factor


@dataclass
class History:
    """The last ``slots.shape[1]`` articles each customer bought (-1: empty)."""

    slots: np.ndarray
    count: np.ndarray

    @classmethod
    def empty(cls, n: int, slots: int) -> History:
        return cls(np.full((n, slots), -1, dtype=np.int32), np.zeros(n, dtype=np.int64))

    @property
    def size(self) -> int:
        return self.slots.shape[1]

    def draw(self, rng: np.random.Generator, customers: np.ndarray) -> np.ndarray:
        """One remembered article per customer (-1 where they have none)."""
        filled = np.minimum(self.count[customers], self.size)
        pick = (rng.random(len(customers)) * np.maximum(filled, 1)).astype(np.int64)
        pos = (self.count[customers] - 1 - pick) % self.size
        out = self.slots[customers, pos]
        return np.where(filled > 0, out, -1)

    def add(self, customers: np.ndarray, articles: np.ndarray) -> None:
        """Append purchases (``customers`` sorted ascending) in order."""
        if len(customers) == 0:
            return
        starts = np.r_[0, np.flatnonzero(np.diff(customers)) + 1]
        offset = np.arange(len(customers)) - np.repeat(starts, np.diff(np.r_[starts, len(customers)]))
        pos = (self.count[customers] + offset) % self.size
        self.slots[customers, pos] = articles
        np.add.at(self.count, customers, 1)


def simulate_week(
    cfg: ShopConfig,
    cat: Catalogue,
    cust: Customers,
    style_sections: np.ndarray,
    history: History,
    week: int,
    rng: np.random.Generator,
) -> pl.DataFrame:
    """One week's purchases: ``t_dat, customer, article, price, sales_channel_id`` (indices)."""
    weight, price_factor = appeal_in_week(cfg, cat, week)
    woy = week_of_year(cfg, week)
    activity = 1 + cfg.activity_season_amplitude * np.cos(2 * np.pi * (woy - 26) / 52)
    lam = cust.rate * activity * (cust.join_week <= week)
    n_baskets = rng.poisson(lam)
    buyers = np.flatnonzero(n_baskets)
    if len(buyers) == 0:
        return _empty_week()
    basket_customer = np.repeat(buyers, n_baskets[buyers])
    basket_day = rng.integers(0, 7, len(basket_customer))
    basket_online = rng.random(len(basket_customer)) < cust.online[basket_customer]
    size = 1 + rng.poisson(cfg.extra_items_per_basket, len(basket_customer))
    basket = np.repeat(np.arange(len(basket_customer)), size)
    customer = basket_customer[basket]

    article, repeat, colour = _slot_articles(cfg, cat, cust, style_sections, history, weight, customer, rng)
    # outfits: a new pick brings its partner along
    outfit = ~repeat & ~colour & (rng.random(len(basket)) < cfg.outfit_prob) & (cat.partner[article] >= 0)
    partner = cat.partner[article[outfit]]
    partner_live = weight[partner] > 0
    basket = np.r_[basket, basket[outfit][partner_live]]
    article = np.r_[article, partner[partner_live]]
    # several units of the same article: one row per unit
    extra = rng.random(len(basket)) < cfg.multi_unit_prob
    basket = np.r_[basket, basket[extra]]
    article = np.r_[article, article[extra]]

    customer = basket_customer[basket]
    price = cat.base_price[article] * price_factor[article] * rng.uniform(0.97, 1.03, len(article))
    day = basket_day[basket] + 7 * week
    order = np.lexsort((article, customer, day))
    frame = pl.DataFrame(
        {
            Col.DATE: pl.Series(day[order], dtype=pl.Int32),
            Col.CUSTOMER: customer[order].astype(np.uint32),
            Col.ARTICLE: article[order].astype(np.uint32),
            Col.PRICE: np.round(price[order], 8),
            Col.CHANNEL: np.where(basket_online[basket[order]], 2, 1).astype(np.int8),
        }
    )
    by_customer = np.argsort(customer, kind="stable")
    history.add(customer[by_customer], article[by_customer].astype(np.int32))
    return frame


def _slot_articles(
    cfg: ShopConfig,
    cat: Catalogue,
    cust: Customers,
    style_sections: np.ndarray,
    history: History,
    weight: np.ndarray,
    customer: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each basket slot's article (``customer``: the slot's customer): a repeat of a remembered
    article, another colour of it, or a new pick (by style, region or lasting taste); and which
    slots were repeats and other colours."""
    u = rng.random(len(customer))
    remembered = history.draw(rng, customer)
    repeat = (u < cfg.repeat_article_prob) & (remembered >= 0)
    colour = (
        (u >= cfg.repeat_article_prob) & (u < cfg.repeat_article_prob + cfg.repeat_product_prob) & (remembered >= 0)
    )
    article = _fresh_picks(cfg, cat, cust, style_sections, weight, customer, rng)
    fresh = ~repeat & ~colour
    if cfg.cohort_prob > 0 and cfg.n_regions > 0:
        local = fresh & (rng.random(len(customer)) < cfg.cohort_prob)
        article[local] = _regional_picks(cat, cust.region[customer[local]], weight, rng)
    if cfg.taste_prob > 0:
        same_kind = fresh & (remembered >= 0) & (rng.random(len(customer)) < cfg.taste_prob)
        article[same_kind] = _picks_like(cat, remembered[same_kind], weight, article[same_kind], rng)
    article = np.where(repeat, remembered, article)
    article[colour] = cat.other_colour(remembered[colour], rng)
    return article, repeat, colour


def _empty_week() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            Col.DATE: pl.Int32,
            Col.CUSTOMER: INDEX_DTYPE,
            Col.ARTICLE: INDEX_DTYPE,
            Col.PRICE: pl.Float64,
            Col.CHANNEL: pl.Int8,
        }
    )


def _fresh_picks(
    cfg: ShopConfig,
    cat: Catalogue,
    cust: Customers,
    style_sections: np.ndarray,
    weight: np.ndarray,
    customer: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """An article per slot, drawn from what the customer's style likes this week."""
    out = np.empty(len(customer), dtype=np.int64)
    styles = cust.style[customer]
    for s in np.unique(styles):
        rows = np.flatnonzero(styles == s)
        cum = np.cumsum(weight * style_sections[s, cat.section])
        out[rows] = np.searchsorted(cum, rng.random(len(rows)) * cum[-1], side="right")
    return np.minimum(out, len(weight) - 1)


def _regional_picks(cat: Catalogue, regions: np.ndarray, weight: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An article per slot, drawn by this week's appeal times the slot's region's taste."""
    out = np.empty(len(regions), dtype=np.int64)
    for r in np.unique(regions):
        rows = np.flatnonzero(regions == r)
        cum = np.cumsum(weight * cat.region_taste[r])
        out[rows] = np.searchsorted(cum, rng.random(len(rows)) * cum[-1], side="right")
    return np.minimum(out, len(weight) - 1)


def _picks_like(
    cat: Catalogue, remembered: np.ndarray, weight: np.ndarray, fallback: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Per slot, an article of the remembered article's product type and colour, drawn by this
    week's appeal (the ``fallback`` pick where none of that kind is on sale)."""
    order = np.argsort(cat.kind, kind="stable")
    cum = np.r_[0.0, np.cumsum(weight[order])]
    kinds = cat.kind[order]
    wanted = cat.kind[remembered]
    lo, hi = np.searchsorted(kinds, wanted, side="left"), np.searchsorted(kinds, wanted, side="right")
    base, total = cum[lo], cum[hi] - cum[lo]
    pos = np.searchsorted(cum, base + rng.random(len(wanted)) * total, side="right") - 1
    picked = order[np.minimum(np.clip(pos, lo, np.maximum(hi - 1, lo)), len(order) - 1)]
    return np.where(total > 0, picked, fallback)


def generate(
    cfg: ShopConfig,
    out_dir: Path | str,
    seed: int = 0,
    on_week: Callable[[int, int], None] | None = None,
) -> dict[str, Path]:
    """Write the four Kaggle files for ``cfg`` into ``out_dir``; return their paths.

    Each file is written under a temporary name and renamed when complete.
    """
    out = Path(out_dir)
    refuse_foreign(out, "the shop's folder", SHOP_FILE)  # never over a folder of the user's own files
    out.mkdir(parents=True, exist_ok=True)
    mark(out, SHOP_FILE)
    rng = np.random.default_rng(seed)
    cat = build_catalogue(cfg, rng)
    cust, style_sections = build_customers(cfg, rng)
    paths = {k: out / f"{FILES[k]}.csv" for k in ("transactions", "articles", "customers", "sample_submission")}
    write_atomic(paths["articles"], lambda p: cat.frame.write_csv(p))
    write_atomic(paths["customers"], lambda p: cust.frame.write_csv(p))
    default = " ".join(cat.frame[Col.ARTICLE_ID].head(12))
    submission = pl.DataFrame({Col.CUSTOMER_ID: cust.ids, Col.PREDICTION: default}).select(SUBMISSION_COLUMNS)
    write_atomic(paths["sample_submission"], lambda p: submission.write_csv(p))
    article_ids = cat.frame[Col.ARTICLE_ID]
    first = cfg.first_date

    def write_transactions(path: Path) -> None:
        history = History.empty(cfg.n_customers, cfg.memory_slots)
        with open(path, "wb") as fh:
            for week in range(cfg.n_weeks):
                rows = simulate_week(cfg, cat, cust, style_sections, history, week, rng)
                text = rows.select(
                    (pl.lit(first) + pl.duration(days=pl.col(Col.DATE))).alias(Col.DATE),
                    cust.ids.gather(rows[Col.CUSTOMER]).alias(Col.CUSTOMER_ID),
                    article_ids.gather(rows[Col.ARTICLE]).alias(Col.ARTICLE_ID),
                    pl.col(Col.PRICE),
                    pl.col(Col.CHANNEL).alias(Col.CHANNEL),
                ).select(TRANSACTION_COLUMNS)
                text.write_csv(fh, include_header=week == 0, date_format="%Y-%m-%d")
                if on_week:
                    on_week(week + 1, cfg.n_weeks)

    write_atomic(paths["transactions"], write_transactions)
    return paths
