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

from dataclasses import dataclass, replace
from datetime import date, timedelta

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
