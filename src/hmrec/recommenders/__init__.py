"""Recommenders: ``fit(history, cutoff)`` then ``recommend(customers, k)``."""
