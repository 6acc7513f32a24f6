"""Catalog item ids: what an id array may be, uniqueness, and the catalog row of each id.

Ids are all integers or all strings (floats are accepted, NaN is not): the
rule is checked on the values themselves, because ``np.asarray(["a", 1])``
silently turns the integer into the string ``"1"``, and a nullable pandas
integer column into floats, which cannot hold every 64-bit id exactly.
"""

import numpy as np
from sklearn.utils.validation import column_or_1d

from .._values import as_given, is_missing, kind_of_value

_MIXED = "item_ids must be all integers or all strings, got {kinds}."


def as_item_ids(item_ids, name="item_ids"):
    """``item_ids`` as a 1-D array of integers, floats or strings, or a ValueError.

    Integers stay integers (a pandas nullable ``Int64`` column without
    missing values becomes int64, not float64); a sequence mixing strings
    and numbers, missing values (None, NaN, pandas NA) and booleans are
    refused with a message naming the problem.
    """
    isna = getattr(item_ids, "isna", None)
    if callable(isna):  # pandas Series / Index: missing values and nullable dtypes
        if bool(np.asarray(isna()).any()):
            raise ValueError(f"{name} has missing values; every item needs an id.")
        dtype = getattr(item_ids, "dtype", None)
        numpy_dtype = getattr(dtype, "numpy_dtype", None)
        if numpy_dtype is not None and numpy_dtype.kind in "iu":
            item_ids = item_ids.to_numpy(dtype=numpy_dtype)
    # Not np.asarray's promotion: each value keeps its own type until checked.
    ids = column_or_1d(as_given(item_ids))
    if ids.dtype == object:
        if any(is_missing(value) for value in ids):
            raise ValueError(f"{name} has missing values; every item needs an id.")
        kinds = {kind_of_value(value) for value in ids}
        if "boolean" in kinds:
            raise ValueError(f"{name} must be integers or strings, got booleans.")
        # An object array of strings stays one (a fixed-width copy of a
        # million ids of varying length would take far more memory).
        if kinds == {"integer"}:
            ids = ids.astype(np.int64)
        elif kinds <= {"integer", "float"}:
            ids = ids.astype(np.float64)
        elif kinds != {"string"}:
            raise ValueError(_MIXED.format(kinds=", ".join(sorted(kinds))))
    if ids.dtype.kind == "b":
        raise ValueError(f"{name} must be integers or strings, got booleans.")
    if ids.dtype.kind == "f" and np.isnan(ids).any():
        raise ValueError(f"{name} has missing values (NaN); every item needs an id.")
    if ids.dtype.kind not in "iufUSO":
        raise ValueError(f"{name} must be integers or strings, got dtype {ids.dtype}.")
    return ids


def appended_ids(existing, new):
    """``existing`` followed by ``new``, in ``existing``'s dtype when it holds them exactly.

    Integer ids stay integers (int64 with uint64, int32 with int64), strings
    stay strings; a new id that the catalog's kind of id cannot hold exactly
    (a string among integers, 2.5 among integers, 2**63 among int64) raises.
    """
    numeric = set("iuf")
    if (new.dtype.kind in numeric) != (existing.dtype.kind in numeric):
        raise ValueError(
            f"item_ids of dtype {new.dtype} do not match the catalog's ids of "
            f"dtype {existing.dtype}."
        )
    if existing.dtype.kind in numeric and new.size:
        if not _holds_exactly(existing.dtype, new):
            raise ValueError(
                f"item_ids of dtype {new.dtype} cannot all be held by the catalog's ids of "
                f"dtype {existing.dtype} (a fraction, or out of range)."
            )
        new = new.astype(existing.dtype)
    return np.concatenate([existing, new])


def _holds_exactly(dtype, values):
    """Whether every one of the numeric ``values`` is a value of ``dtype``."""
    if dtype.kind == "f":
        if values.dtype.kind == "f":
            return True
        with np.errstate(over="ignore", invalid="ignore"):
            return bool(np.all(values.astype(dtype).astype(values.dtype) == values))
    if values.dtype.kind == "f" and not np.all(np.floor(values) == values):
        return False
    info = np.iinfo(dtype)
    return info.min <= int(values.min()) and int(values.max()) <= info.max


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
    """Catalog rows of ``ids`` and a mask of the ids found in the catalog.

    An id of another kind than the catalog's (None, a number among string
    ids) is simply not found; it does not stop the others from being found.
    """
    ids = np.asarray(ids)
    shape, ids = ids.shape, ids.ravel()
    rows = np.zeros(ids.shape, dtype=np.intp)
    found = np.zeros(ids.shape, dtype=bool)
    if ids.size == 0 or len(ordered) == 0:
        return rows.reshape(shape), found.reshape(shape)
    looked_up = _comparable_mask(ids, _is_text(ordered))
    if not looked_up.any():
        return rows.reshape(shape), found.reshape(shape)
    candidates = ids[looked_up]
    if candidates.dtype == object and ordered.dtype != object:
        candidates = candidates.astype(str if ordered.dtype.kind in "US" else np.float64)
    elif candidates.dtype != object and ordered.dtype == object:
        candidates = candidates.astype(object)
    positions = np.clip(np.searchsorted(ordered, candidates), 0, len(ordered) - 1)
    hits = ordered[positions] == candidates
    found[np.flatnonzero(looked_up)[hits]] = True
    rows[found] = order[positions[hits]]
    return rows.reshape(shape), found.reshape(shape)


def rows_of_positions(ids, n_rows):
    """:func:`rows_of_ids` for a catalog without ids, whose ids are its row
    numbers: integers, or numbers equal to one (a list mixing 0 and 2.0
    arrives as floats), in ``[0, n_rows)``; anything else is not found.
    No table of the rows is built."""
    ids = np.asarray(ids)
    shape, ids = ids.shape, ids.ravel()
    rows = np.zeros(ids.shape, dtype=np.intp)
    numeric = _comparable_mask(ids, text=False)
    values = ids[numeric].astype(np.float64)
    hits = (values == np.floor(values)) & (values >= 0) & (values < n_rows)
    found = np.zeros(ids.shape, dtype=bool)
    found[np.flatnonzero(numeric)[hits]] = True
    rows[found] = values[hits].astype(np.intp)
    return rows.reshape(shape), found.reshape(shape)


def _is_text(ordered):
    """Whether the catalog's ids are strings (a string dtype, or objects holding
    strings, as pandas columns and earlier saved models hold them)."""
    if ordered.dtype == object:
        return len(ordered) > 0 and isinstance(ordered[0], (str, bytes))
    return ordered.dtype.kind in "US"


def _comparable_mask(ids, text):
    """Which of ``ids`` can equal a catalog id (strings if ``text``, else numbers)."""
    if ids.dtype == object:
        kinds = np.array([kind_of_value(value) for value in ids.ravel()]).reshape(ids.shape)
        return kinds == "string" if text else np.isin(kinds, ["integer", "float"])
    if ids.dtype.kind in "US":
        return np.full(ids.shape, text)
    numeric = ids.dtype.kind in "iuf" and not text
    mask = np.full(ids.shape, numeric)
    if numeric and ids.dtype.kind == "f":
        mask &= ~np.isnan(ids)
    return mask
