"""Neighbour search behind :class:`~sk_prodembed.NearestNeighborRecommender`.

- :mod:`._exact`: exact top-k by blocked matrix products (numpy/scipy only).
- :mod:`._hnsw`: faiss-cpu's HNSW graph, with tombstones for removed items.
- :mod:`._tree`: scikit-learn's KD and ball trees.
- :mod:`._filters`: per-query exclusions, for the exact search and the indexes.
- :mod:`._item_ids`: unique item ids and the catalog row of each.

One query goes: ``recommend`` (validation, exclusions) -> ``exact_top_k`` or
an index's ``search`` through ``index_top_k`` -> ``rescore`` -> ids.
"""
