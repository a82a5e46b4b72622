"""Ranking: labelled training weeks, the LightGBM ranker, and scoring candidates in chunks."""
