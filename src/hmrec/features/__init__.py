"""Feature blocks: functions of one week's inputs (history before the cutoff, catalogue).

Each block returns a LazyFrame keyed by customer, article, or a (customer, something) pair,
with its feature columns prefixed (``c_``, ``a_``, ``p_``, ``pp_``, ``pd_``); ``join_features``
puts them all onto a candidate set (attached by position, ``lookup.py``).
"""
