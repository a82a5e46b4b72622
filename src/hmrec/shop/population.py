"""The shop's catalogue and customers, drawn once from a :class:`ShopConfig` and a seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from hmrec.data import vocab
from hmrec.schema import ARTICLE_COLUMNS, CUSTOMER_COLUMNS, Col
from hmrec.shop.config import PRICE_SCALE, ShopConfig


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
    """The catalogue of ``cfg``: products in colour variants, the arrays of every mechanism and
    the 25 columns of articles.csv; every draw from ``rng`` in one order (same seed, same bytes)."""
    n_prod, sections, types = cfg.n_products, vocab.SECTIONS, vocab.PRODUCT_TYPES
    index_by_code = {row[0]: row for row in vocab.INDEXES}
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
    trend_start, trend_length, region_taste = _trends_and_regions(cfg, rng, p_launch, product)
    no_desc = rng.random(n_art) < 0.004
    frame = _article_frame(codes, product, variant_no, p_name, art_sec, art_type, colour, appearance, no_desc)
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


def _trends_and_regions(
    cfg: ShopConfig, rng: np.random.Generator, p_launch: np.ndarray, product: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per article: the week its product's trend burst starts and its length (none: a far week),
    and each region's taste for it. They draw only when switched on, so that the default shop
    keeps its bytes."""
    n_prod, n_art = len(p_launch), len(product)
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
    return trend_start, trend_length, region_taste


def _article_frame(
    codes: np.ndarray,
    product: np.ndarray,
    variant_no: np.ndarray,
    p_name: list[str],
    art_sec: np.ndarray,
    art_type: np.ndarray,
    colour: np.ndarray,
    appearance: np.ndarray,
    no_desc: np.ndarray,
) -> pl.DataFrame:
    """The 25 columns of articles.csv, one row per article (no draws: names and texts from the vocabularies)."""
    sections, types = vocab.SECTIONS, vocab.PRODUCT_TYPES
    index_by_code = {row[0]: row for row in vocab.INDEXES}
    n_art = len(product)
    sec_rows = [sections[s] for s in art_sec]
    idx_rows = [index_by_code[r[2]] for r in sec_rows]
    type_rows = [types[t] for t in art_type]
    col_rows = [vocab.COLOURS[c] for c in colour]
    app_rows = [vocab.APPEARANCES[a] for a in appearance]
    dept_no = (art_sec * 100 + art_type % 100 + 1000).astype(np.int64)
    desc = [
        f"{vocab.ADJECTIVES[(i * 7) % len(vocab.ADJECTIVES)]} {type_rows[i][1].lower()} in "
        f"{vocab.MATERIALS[product[i] % len(vocab.MATERIALS)]} with {vocab.FEATURES[(product[i] * 3) % len(vocab.FEATURES)]}."
        for i in range(n_art)
    ]
    article_ids = [f"{codes[p]:07d}{v + 1:03d}" for p, v in zip(product, variant_no, strict=True)]
    return pl.DataFrame(
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
    """Per-customer arrays (index = position in customers.csv) and the customer table."""

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
