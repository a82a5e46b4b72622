"""hmrec: a two-stage recommender for the H&M Kaggle data format."""

__version__ = "0.1.0"
