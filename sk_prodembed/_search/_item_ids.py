"""Catalog item ids: uniqueness, and the catalog row of each id."""

import numpy as np


def sorted_ids(item_ids, name="item_ids"):
    """Return ``(order, sorted_ids)`` for a lookup table; raise on duplicates."""
    try:
        order = np.argsort(item_ids, kind="stable")
    except TypeError as error:
        raise ValueError(
            f"{name} must be mutually comparable (all numbers or all strings)."
        ) from error
    ordered = item_ids[order]
    duplicated = ordered[1:][ordered[1:] == ordered[:-1]]
    if len(duplicated):
        shown = np.unique(duplicated)[:5].tolist()
        raise ValueError(f"{name} must be unique; repeated: {shown}.")
    return order, ordered


def rows_of_ids(ids, order, ordered):
    """Catalog rows of ``ids`` and a mask of the ids found in the catalog."""
    ids = np.asarray(ids)
    rows = np.zeros(ids.shape, dtype=np.intp)
    if ids.size == 0 or len(ordered) == 0 or not _comparable(ids.dtype, ordered.dtype):
        return rows, np.zeros(ids.shape, dtype=bool)
    try:
        positions = np.clip(np.searchsorted(ordered, ids), 0, len(ordered) - 1)
        found = ordered[positions] == ids
    except TypeError:  # object ids of another type than the catalog's
        return rows, np.zeros(ids.shape, dtype=bool)
    rows[found] = order[positions[found]]
    return rows, np.asarray(found, dtype=bool)


def _comparable(a, b):
    if "O" in (a.kind, b.kind):
        return True
    numeric = set("biuf")
    if a.kind in numeric and b.kind in numeric:
        return True
    text = set("US")
    return a.kind in text and b.kind in text
