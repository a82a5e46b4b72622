"""The synthetic shop: Kaggle-format files with the behaviour that makes the task hard.

Every mechanism is a named field of :class:`ShopConfig`:

* catalogue: products (``product_code``) in colour-variant families, inside sections,
  departments and garment groups (``mean_variants``);
* life cycle: each product launches in some week, rises for ``rise_weeks`` and decays with a
  half-life drawn around ``half_life_weeks`` (a share ``evergreen_share`` are long-lived basics);
  appeal is long-tailed (``appeal_sigma``);
* seasonality: a product peaks in one week of the year (``season_amplitude``), and overall
  activity too (``activity_season_amplitude``);
* markdowns: a share ``markdown_share`` of articles get ``markdown_weeks`` at a lower price
  (``markdown_discount``) during which they sell ``markdown_boost`` times more;
* customers: a bimodal age (``young_share``, ``young_age``, ``old_age``) that picks their style
  (``n_styles``); a style prefers a few sections, and sections sell to an age range;
* bursty activity: a heavy-tailed weekly basket rate (``activity_shape``, ``baskets_per_week``);
* repeats: re-buying an article (``repeat_article_prob``) or another colour of a product
  (``repeat_product_prob``) from the customer's recent purchases;
* outfits: a top bought with a bottom of the same section (``outfit_prob``);
* channel: a per-customer online habit (``online_share``, ``online_concentration``);
* trends: a share ``trend_share`` of products has one short burst (``trend_weeks`` long, up to
  ``trend_boost`` times its appeal) that rises and falls within a few weeks;
* lasting taste: a share ``taste_prob`` of new picks returns to the product type and colour of
  one of the customer's ``memory_slots`` remembered purchases (months back for a long memory);
* cohorts: customers live in ``n_regions`` regions (by postal code), each with its own taste
  over articles (``cohort_sigma``); a share ``cohort_prob`` of new picks follows it;
* staples: long-lived basics (``evergreen_share``) sell ``evergreen_appeal`` times more.

Profiles (``PROFILES``) are named sets of these values for shops of other habits: ``fashion``
(the default shop), ``trendy``, ``loyal`` and ``grocery``.

Files are written week by week so that the full scale (31.8M rows) streams in bounded
memory; the same seed and config give byte-identical files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from hmrec.data import vocab
from hmrec.data.atomic import write_atomic
from hmrec.data.outputs import SHOP_FILE, mark, refuse_foreign
from hmrec.schema import ARTICLE_COLUMNS, CUSTOMER_COLUMNS, FILES, SUBMISSION_COLUMNS, TRANSACTION_COLUMNS, Col

PRICE_SCALE = 8500.0
"""SEK per unit of normalised price: typical garments land near the real mean of 0.028."""


@dataclass(frozen=True)
class ShopConfig:
    """Sizes and behaviour of a synthetic shop; see the module docstring for each mechanism."""

    n_customers: int
    n_products: int
    n_weeks: int
    end_date: date = date(2020, 9, 22)
    # catalogue and life cycle
    mean_variants: float = 2.2
    prelaunched_weeks: int = 30
    appeal_sigma: float = 1.2
    rise_weeks: float = 1.5
    half_life_weeks: float = 5.0
    evergreen_share: float = 0.12
    season_amplitude: float = 0.8
    activity_season_amplitude: float = 0.2
    markdown_share: float = 0.3
    markdown_discount: float = 0.4
    markdown_boost: float = 2.5
    markdown_weeks: int = 3
    # customers
    young_share: float = 0.55
    young_age: tuple[float, float] = (24.0, 4.0)
    old_age: tuple[float, float] = (50.0, 10.0)
    missing_age_share: float = 0.011
    n_styles: int = 24
    style_focus: float = 0.35
    activity_shape: float = 0.25
    baskets_per_week: float = 0.1
    late_joiner_share: float = 0.35
    never_buyer_share: float = 0.007
    extra_items_per_basket: float = 1.2
    repeat_article_prob: float = 0.09
    repeat_product_prob: float = 0.06
    outfit_prob: float = 0.3
    multi_unit_prob: float = 0.07
    online_share: float = 0.7
    online_concentration: float = 1.5
    memory_slots: int = 12
    # mechanisms off in the default (fashion) shop; profiles turn them on
    evergreen_appeal: float = 1.0
    trend_share: float = 0.0
    trend_boost: float = 6.0
    trend_weeks: tuple[int, int] = (2, 4)
    taste_prob: float = 0.0
    n_regions: int = 0
    cohort_prob: float = 0.0
    cohort_sigma: float = 1.5

    @property
    def first_date(self) -> date:
        return self.end_date - timedelta(days=7 * self.n_weeks - 1)


SCALES: dict[str, ShopConfig] = {
    "tiny": ShopConfig(n_customers=400, n_products=150, n_weeks=10, prelaunched_weeks=10, baskets_per_week=0.15),
    "small": ShopConfig(n_customers=40_000, n_products=3_000, n_weeks=40),
    "full": ShopConfig(n_customers=1_371_980, n_products=47_224, n_weeks=105),
    # three times the H&M customers, same catalogue and weeks: a shop past one machine's comfort
    "xl": ShopConfig(n_customers=3 * 1_371_980, n_products=47_224, n_weeks=105),
}


PROFILES: dict[str, dict[str, object]] = {
    # today's shop: life cycles, seasons, markdowns, age styles, repeats from the last 12 buys
    "fashion": {},
    # fast fashion: short life cycles, strong bursts of 2 to 4 weeks, regional tastes, few repeats
    "trendy": {
        "half_life_weeks": 3.0,
        "trend_share": 0.25,
        "trend_boost": 8.0,
        "repeat_article_prob": 0.05,
        "repeat_product_prob": 0.04,
        "n_regions": 12,
        "cohort_prob": 0.15,
    },
    # loyal customers: more repeats from a long memory, lasting type and colour taste, steadier visits
    "loyal": {
        "repeat_article_prob": 0.15,
        "repeat_product_prob": 0.1,
        "memory_slots": 48,
        "taste_prob": 0.35,
        "activity_shape": 0.5,
        "n_regions": 12,
        "cohort_prob": 0.1,
    },
    # grocery: staples bought again and again, large baskets, little colour or season, regional tastes
    "grocery": {
        "mean_variants": 1.1,
        "evergreen_share": 0.4,
        "evergreen_appeal": 3.0,
        "season_amplitude": 0.3,
        "markdown_share": 0.15,
        "baskets_per_week": 0.08,
        "activity_shape": 0.8,
        "extra_items_per_basket": 7.0,
        "repeat_article_prob": 0.4,
        "repeat_product_prob": 0.02,
        "memory_slots": 40,
        "outfit_prob": 0.05,
        "multi_unit_prob": 0.25,
        "taste_prob": 0.1,
        "n_regions": 12,
        "cohort_prob": 0.1,
    },
}
"""Shop habits by name (``hmrec generate --profile``): ShopConfig values over a scale's sizes."""


def config_for(scale: str, profile: str = "fashion", **overrides: object) -> ShopConfig:
    """The ``scale``'s sizes with the ``profile``'s habits, then ``overrides``."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    return replace(SCALES[scale], **{**PROFILES[profile], **overrides})


@dataclass(frozen=True)
class Catalogue:
    """Per-article arrays (index = position in articles.csv)."""

    frame: pl.DataFrame  # the 25 article columns
    product: np.ndarray  # product index
    section: np.ndarray  # section index
    launch: np.ndarray  # launch week (can be negative: on sale before the data starts)
    half_life: np.ndarray
    appeal: np.ndarray
    season_peak: np.ndarray
    season_amp: np.ndarray
    base_price: np.ndarray  # normalised
    markdown_start: np.ndarray  # week, or a huge number for never
    partner: np.ndarray  # an article completing an outfit, or -1
    first_variant: np.ndarray  # per product, its first article (variants are contiguous)
    n_variants: np.ndarray  # per product
    kind: np.ndarray  # product type x colour, as one code (what lasting taste returns to)
    trend_start: np.ndarray  # week a trend burst starts (a huge number for none)
    trend_length: np.ndarray  # its length in weeks
    region_taste: np.ndarray  # n_regions x articles: each region's taste multiplier

    def other_colour(self, article: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A random variant (possibly the same one) of each article's product."""
        product = self.product[article]
        return self.first_variant[product] + rng.integers(0, self.n_variants[product])


def _hex_ids(rng: np.random.Generator, n: int) -> pl.Series:
    """``n`` random 64-character lowercase hex strings."""
    raw = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    text = np.empty((n, 64), dtype=np.uint8)
    text[:, 0::2] = digits[raw >> 4]
    text[:, 1::2] = digits[raw & 15]
    return pl.Series(text.view("S64").ravel()).cast(pl.String)


def _choice(rng: np.random.Generator, options: list, weights: list[float], n: int) -> list:
    p = np.asarray(weights, dtype=float)
    idx = rng.choice(len(options), size=n, p=p / p.sum())
    return [options[i] for i in idx]


def build_catalogue(cfg: ShopConfig, rng: np.random.Generator) -> Catalogue:
    n_prod = cfg.n_products
    sections = vocab.SECTIONS
    index_by_code = {row[0]: row for row in vocab.INDEXES}
    types = vocab.PRODUCT_TYPES
    # products: section, type, launch, life cycle, season, price, name
    p_section = rng.integers(0, len(sections), n_prod)
    kinds = [index_by_code[sections[s][2]][6] for s in range(len(sections))]
    types_by_kind = {k: [i for i, t in enumerate(types) if t[6] == k] for k in set(kinds)}
    p_type = np.array([rng.choice(types_by_kind[kinds[s]]) for s in p_section])
    p_launch = rng.integers(-cfg.prelaunched_weeks, cfg.n_weeks, n_prod)
    evergreen = rng.random(n_prod) < cfg.evergreen_share
    p_half_life = np.where(evergreen, 200.0, cfg.half_life_weeks * rng.lognormal(0.0, 0.5, n_prod))
    p_appeal = rng.lognormal(0.0, cfg.appeal_sigma, n_prod)
    p_season_peak = rng.integers(0, 52, n_prod)
    p_season_amp = rng.uniform(0, cfg.season_amplitude, n_prod)
    mean_sek = np.array([types[t][7] for t in p_type], dtype=float)
    p_price_sek = np.round(mean_sek * rng.lognormal(0.0, 0.35, n_prod)) - 0.01
    n_var = rng.geometric(1.0 / cfg.mean_variants, n_prod)  # at least 1, mean mean_variants
    n_var = np.minimum(n_var, len(vocab.COLOURS))
    codes = np.sort(rng.choice(np.arange(108_775, 959_462), size=n_prod, replace=False))
    p_name = [f"{rng.choice(vocab.NAMES)} {rng.choice(vocab.ADJECTIVES).lower()} {types[t][1].lower()}" for t in p_type]

    product = np.repeat(np.arange(n_prod), n_var)
    n_art = len(product)
    variant_no = np.concatenate([np.arange(k) for k in n_var])
    colour = np.concatenate([rng.permutation(len(vocab.COLOURS))[:k] for k in n_var])
    appearance = rng.integers(0, len(vocab.APPEARANCES), n_art)
    art_sec = p_section[product]
    art_type = p_type[product]
    appeal = p_appeal[product] * rng.lognormal(0.0, 0.6, n_art)
    markdown = rng.random(n_art) < cfg.markdown_share
    markdown_start = np.where(markdown, p_launch[product] + rng.integers(3, 14, n_art), np.iinfo(np.int32).max // 2)
    first_variant = np.r_[0, np.cumsum(n_var)[:-1]]
    partner = _outfit_partners(rng, p_section, p_type, p_launch, product, variant_no, first_variant, n_var)
    if evergreen.any() and cfg.evergreen_appeal != 1.0:
        appeal = appeal * np.where(evergreen[product], cfg.evergreen_appeal, 1.0)
    # the mechanisms below draw only when switched on, so that the default shop keeps its bytes
    never = np.iinfo(np.int32).max // 2
    trend_start, trend_length = np.full(n_art, never), np.ones(n_art, dtype=np.int64)
    if cfg.trend_share > 0:
        trending = rng.random(n_prod) < cfg.trend_share
        start = np.where(trending, p_launch + rng.integers(0, 10, n_prod), never)  # while it sells
        length = rng.integers(cfg.trend_weeks[0], cfg.trend_weeks[1] + 1, n_prod)
        trend_start, trend_length = start[product], length[product]
    region_taste = np.ones((0, n_art))
    if cfg.n_regions > 0:
        region_taste = rng.lognormal(-0.5 * cfg.cohort_sigma**2, cfg.cohort_sigma, (cfg.n_regions, n_prod))[:, product]

    sec_rows = [sections[s] for s in art_sec]
    idx_rows = [index_by_code[r[2]] for r in sec_rows]
    type_rows = [types[t] for t in art_type]
    col_rows = [vocab.COLOURS[c] for c in colour]
    app_rows = [vocab.APPEARANCES[a] for a in appearance]
    dept_no = (p_section[product] * 100 + art_type % 100 + 1000).astype(np.int64)
    desc = [
        f"{vocab.ADJECTIVES[(i * 7) % len(vocab.ADJECTIVES)]} {type_rows[i][1].lower()} in "
        f"{vocab.MATERIALS[product[i] % len(vocab.MATERIALS)]} with {vocab.FEATURES[(product[i] * 3) % len(vocab.FEATURES)]}."
        for i in range(n_art)
    ]
    no_desc = rng.random(n_art) < 0.004
    article_ids = [f"{codes[p]:07d}{v + 1:03d}" for p, v in zip(product, variant_no, strict=True)]
    frame = pl.DataFrame(
        {
            Col.ARTICLE_ID: article_ids,
            Col.PRODUCT_CODE: codes[product],
            Col.PROD_NAME: [p_name[p] for p in product],
            Col.PRODUCT_TYPE_NO: [r[0] for r in type_rows],
            "product_type_name": [r[1] for r in type_rows],
            Col.PRODUCT_GROUP: [r[2] for r in type_rows],
            "graphical_appearance_no": [r[0] for r in app_rows],
            "graphical_appearance_name": [r[1] for r in app_rows],
            Col.COLOUR_GROUP_CODE: [r[0] for r in col_rows],
            Col.COLOUR_GROUP: [r[1] for r in col_rows],
            "perceived_colour_value_id": [r[2] for r in col_rows],
            "perceived_colour_value_name": [r[3] for r in col_rows],
            "perceived_colour_master_id": [r[4] for r in col_rows],
            "perceived_colour_master_name": [r[5] for r in col_rows],
            Col.DEPARTMENT_NO: dept_no,
            "department_name": [f"{t[5]} {s[1].split()[0]}" for t, s in zip(type_rows, sec_rows, strict=True)],
            "index_code": [r[0] for r in idx_rows],
            "index_name": [r[1] for r in idx_rows],
            Col.INDEX_GROUP_NO: [r[2] for r in idx_rows],
            "index_group_name": [r[3] for r in idx_rows],
            Col.SECTION_NO: [r[0] for r in sec_rows],
            "section_name": [r[1] for r in sec_rows],
            Col.GARMENT_GROUP_NO: [r[4] for r in type_rows],
            "garment_group_name": [r[5] for r in type_rows],
            Col.DETAIL_DESC: [None if e else d for d, e in zip(desc, no_desc, strict=True)],
        }
    ).select(ARTICLE_COLUMNS)
    return Catalogue(
        frame=frame,
        product=product,
        section=art_sec,
        launch=p_launch[product],
        half_life=p_half_life[product],
        appeal=appeal,
        season_peak=p_season_peak[product],
        season_amp=p_season_amp[product],
        base_price=p_price_sek[product] / PRICE_SCALE,
        markdown_start=markdown_start,
        partner=partner,
        first_variant=first_variant,
        n_variants=n_var,
        kind=art_type * len(vocab.COLOURS) + colour,
        trend_start=trend_start,
        trend_length=trend_length,
        region_taste=region_taste,
    )


def _outfit_partners(
    rng: np.random.Generator,
    p_section: np.ndarray,
    p_type: np.ndarray,
    p_launch: np.ndarray,
    product: np.ndarray,
    variant_no: np.ndarray,
    first_variant: np.ndarray,
    n_var: np.ndarray,
) -> np.ndarray:
    """For each article, an article of the same section with the complementary role (or -1).

    Products pair with a product launched close in time, so that the pair is on sale together.
    """
    roles = np.array([vocab.PRODUCT_TYPES[t][3] for t in p_type])
    partner_product = np.full(len(p_type), -1)
    for role, other in vocab.OUTFIT_PARTNER_ROLE.items():
        for s in np.unique(p_section):
            mine = np.flatnonzero((p_section == s) & (roles == role))
            theirs = np.flatnonzero((p_section == s) & (roles == other))
            if len(mine) == 0 or len(theirs) == 0:
                continue
            order = theirs[np.argsort(p_launch[theirs], kind="stable")]
            pos = np.searchsorted(p_launch[order], p_launch[mine] + rng.integers(-3, 4, len(mine)))
            partner_product[mine] = order[np.clip(pos, 0, len(order) - 1)]
    mate = partner_product[product]
    safe = np.maximum(mate, 0)
    return np.where(mate >= 0, first_variant[safe] + variant_no % n_var[safe], -1)


@dataclass(frozen=True)
class Customers:
    frame: pl.DataFrame  # the 7 customer columns
    ids: pl.Series
    style: np.ndarray
    rate: np.ndarray  # expected baskets per week
    join_week: np.ndarray
    online: np.ndarray  # probability a basket is bought online
    region: np.ndarray  # the postal code's region (0 where there are no regions)


def build_customers(cfg: ShopConfig, rng: np.random.Generator) -> tuple[Customers, np.ndarray]:
    """The customer table, and each style's weight over sections (n_styles x n_sections)."""
    n = cfg.n_customers
    young = rng.random(n) < cfg.young_share
    age = np.where(young, rng.normal(*cfg.young_age, n), rng.normal(*cfg.old_age, n))
    age = np.clip(np.round(age), 16, 99)
    # styles: a centre age and a focus on a few sections whose buyers are of that age
    style_age = np.linspace(18, 70, cfg.n_styles)
    sec_age = np.array([[r for r in vocab.INDEXES if r[0] == s[2]][0][4:6] for s in vocab.SECTIONS], dtype=float)
    fit = np.exp(-0.5 * ((style_age[:, None] - sec_age[None, :, 0]) / sec_age[None, :, 1]) ** 2)
    focus = rng.dirichlet(np.full(len(vocab.SECTIONS), cfg.style_focus), cfg.n_styles)
    style_sections = fit * focus + 1e-3
    style_sections /= style_sections.sum(axis=1, keepdims=True)
    # a customer's style is drawn near their age
    logits = -0.5 * ((age[:, None] - style_age[None, :]) / 6.0) ** 2
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    cum = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    style = np.minimum((cum < rng.random(n)[:, None]).sum(axis=1), cfg.n_styles - 1)

    rate = rng.gamma(cfg.activity_shape, cfg.baskets_per_week / cfg.activity_shape, n)
    rate[rng.random(n) < cfg.never_buyer_share] = 0.0
    late = rng.random(n) < cfg.late_joiner_share
    join_week = np.where(late, rng.integers(0, cfg.n_weeks, n), -1)
    a = cfg.online_share * cfg.online_concentration
    online = rng.beta(a, cfg.online_concentration - a if cfg.online_concentration > a else 0.5, n)

    ids = _hex_ids(rng, n)
    postal_pool = _hex_ids(rng, max(1, n // 4))
    postal = np.minimum(rng.zipf(1.3, n) - 1, len(postal_pool) - 1)
    fn = rng.random(n) < 0.35
    active = fn & (rng.random(n) < 0.97)
    age_out = np.where(rng.random(n) < cfg.missing_age_share, np.nan, age)
    statuses, status_w = zip(*vocab.CLUB_STATUSES, strict=True)
    news, news_w = zip(*vocab.NEWS_FREQUENCIES, strict=True)
    frame = (
        pl.DataFrame(
            {
                Col.CUSTOMER_ID: ids,
                Col.FN: np.where(fn, 1.0, np.nan),
                Col.ACTIVE: np.where(active, 1.0, np.nan),
                Col.CLUB_STATUS: _choice(rng, list(statuses), list(status_w), n),
                Col.NEWS_FREQUENCY: _choice(rng, list(news), list(news_w), n),
                Col.AGE: age_out,
                Col.POSTAL_CODE: postal_pool.gather(postal),
            },
            schema_overrides={Col.CLUB_STATUS: pl.String, Col.NEWS_FREQUENCY: pl.String},
        )
        .with_columns(
            pl.col(Col.FN, Col.ACTIVE).fill_nan(None),
            pl.col(Col.AGE).fill_nan(None).cast(pl.Int64),
        )
        .select(CUSTOMER_COLUMNS)
    )
    region = postal % max(cfg.n_regions, 1)
    return Customers(frame, ids, style, rate, join_week, online, region), style_sections


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

    # each slot is a repeat of a remembered article, another colour of it, or a new pick
    u = rng.random(len(basket))
    remembered = history.draw(rng, customer)
    repeat = (u < cfg.repeat_article_prob) & (remembered >= 0)
    colour = (
        (u >= cfg.repeat_article_prob) & (u < cfg.repeat_article_prob + cfg.repeat_product_prob) & (remembered >= 0)
    )
    article = _fresh_picks(cfg, cat, cust, style_sections, weight, customer, rng)
    fresh = ~repeat & ~colour
    if cfg.cohort_prob > 0 and cfg.n_regions > 0:
        local = fresh & (rng.random(len(basket)) < cfg.cohort_prob)
        article[local] = _regional_picks(cat, cust.region[customer[local]], weight, rng)
    if cfg.taste_prob > 0:
        same_kind = fresh & (remembered >= 0) & (rng.random(len(basket)) < cfg.taste_prob)
        article[same_kind] = _picks_like(cat, remembered[same_kind], weight, article[same_kind], rng)
    article = np.where(repeat, remembered, article)
    article[colour] = cat.other_colour(remembered[colour], rng)
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


def _empty_week() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            Col.DATE: pl.Int32,
            Col.CUSTOMER: pl.UInt32,
            Col.ARTICLE: pl.UInt32,
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
