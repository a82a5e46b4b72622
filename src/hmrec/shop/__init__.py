"""The synthetic shop: Kaggle-format files from a generator with named habits (``config``),
its catalogue and customers (``population``) and its weeks (``simulate``).
docs/synthetic-shop.md describes every mechanism; ``hmrec generate`` writes one."""

from hmrec.shop.config import PRICE_SCALE, PROFILES, SCALES, ShopConfig, config_for
from hmrec.shop.population import Catalogue, Customers, build_catalogue, build_customers
from hmrec.shop.simulate import History, appeal_in_week, generate, simulate_week, week_of_year

__all__ = [
    "PRICE_SCALE",
    "PROFILES",
    "SCALES",
    "Catalogue",
    "Customers",
    "History",
    "ShopConfig",
    "appeal_in_week",
    "build_catalogue",
    "build_customers",
    "config_for",
    "generate",
    "simulate_week",
    "week_of_year",
]
