"""Values as users give them: which are missing, of what kind, and 1-D arrays without promotion.

``np.asarray`` promotes a sequence to one dtype: ``[1, "a"]`` becomes the
strings ``["1", "a"]``, and a list of tuples a 2-D array. Ids, labels and
order ids must keep each value as given until they are checked, so every
such input goes through :func:`as_given`.
"""

from numbers import Integral, Real

import numpy as np


def is_missing(value):
    """None, a float NaN, or pandas' NA (which refuses to be a bool)."""
    return (
        value is None
        or (isinstance(value, float) and value != value)
        or type(value).__name__ == "NAType"
    )


def kind_of_value(value):
    """"string", "boolean", "integer", "float", or the name of another type."""
    if isinstance(value, (str, np.str_)):
        return "string"
    if isinstance(value, (bool, np.bool_)):
        return "boolean"
    if isinstance(value, Integral):
        return "integer"
    if isinstance(value, Real):
        return "float"
    return type(value).__name__


def as_given(values):
    """``values`` as an array that keeps each value as given.

    An array (or anything with ``__array__``, such as a pandas column) is
    taken as it is; another sequence becomes a 1-D array of its elements:
    numpy's own dtype when they are all integers, all floats or all strings
    (nothing to promote), else objects, filled element by element so that a
    tuple stays one value.
    """
    if isinstance(values, np.ndarray) or hasattr(values, "__array__"):
        return np.asarray(values)
    values = list(values)
    kinds = {kind_of_value(value) for value in values}
    if len(kinds) == 1 and kinds <= {"integer", "float", "string"}:
        return np.asarray(values)
    array = np.empty(len(values), dtype=object)
    for position, value in enumerate(values):
        array[position] = value
    return array
