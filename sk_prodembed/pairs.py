"""Pairs of products that belong together: built from orders, split for evaluation.

- :func:`pairs_from_baskets`: orders (baskets of item ids) to weighted pairs
  of items bought together, with count and NPMI thresholds.
- :class:`RowPairs`: pairs of row indices that follow their rows when
  cross-validation slices the data, so that a fold trains on its own pairs
  only.
- :class:`PairSplit` and :func:`train_test_split_pairs`: held-out items,
  whose pairs training never sees (cold start: a new product has no pairs
  yet).

Pairs and cross-validation
--------------------------
Pairs are row indices, and scikit-learn's cross-validation slices the rows
of ``X`` without re-indexing anything that points at them. A plain
``(n_pairs, 2)`` array passed as a fit parameter reaches every fold
unchanged (or, if it happens to have ``n_samples`` rows, is sliced as if it
were one value per row): its indices then point at the wrong rows. Wrap the
pairs in a :class:`RowPairs` of length ``n_samples``: ``GridSearchCV`` slices
it like any per-row fit parameter, and the slice holds the pairs whose rows
are all in the fold, re-indexed into it. **A pair with a row outside the fold
is left out of the slice, never used**; with :class:`PairSplit`, those are
exactly the held-out pairs of the fold. The scorer of
``sk_prodembed._pair_metrics.make_pair_scorer`` receives the test fold's
slice the same way, so it scores the pairs among the held-out items. Two
ways to hand them over:

- as the target, ``search.fit(X, row_pairs)``: ``TripletEmbedder`` takes a
  RowPairs ``y`` as its pairs, and the scorer reads the test fold's from
  ``y``; no configuration needed;
- with metadata routing on, ``search.fit(X, pairs=row_pairs)``, the embedder
  requesting them (``set_fit_request(pairs=True)``); the scorer always
  requests them.
"""

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.validation import _num_samples

from ._values import as_given, is_missing

__all__ = ["PairSplit", "RowPairs", "pairs_from_baskets", "train_test_split_pairs"]


# -- pairs from baskets ----------------------------------------------------


def _factorize(values):
    """``(unique values, code of each value)``; any hashable values.

    Sorted uniques where the values can be sorted, first-seen order
    otherwise (mixed types, such as ints and strings in one object array).
    """
    values = as_given(values)
    if values.ndim != 1:
        raise ValueError(f"ids must be one-dimensional, got an array of shape {values.shape}.")
    try:
        return np.unique(values, return_inverse=True)
    except TypeError:
        codes_of = {}
        codes = np.fromiter(
            (codes_of.setdefault(value, len(codes_of)) for value in values.tolist()),
            dtype=np.intp,
            count=len(values),
        )
        uniques = np.empty(len(codes_of), dtype=object)
        uniques[:] = list(codes_of)
        return uniques, codes


def _order_lines(orders, items):
    """Order ids and item ids of every order line, from either input form."""
    if items is not None:
        order_ids = as_given(orders)
        item_ids = as_given(items)
        if order_ids.ndim != 1 or item_ids.ndim != 1 or len(order_ids) != len(item_ids):
            raise ValueError(
                "With items given, orders and items must be 1-D arrays of equal length "
                f"(one order id and one item id per order line); got shapes "
                f"{order_ids.shape} and {item_ids.shape}."
            )
        if order_ids.dtype.kind in "fO":
            missing = np.array([is_missing(v) for v in order_ids.tolist()], dtype=bool)
            if missing.any():
                # np.unique would make one order of all of them.
                raise ValueError(
                    f"orders has {int(missing.sum())} missing order id(s) (None or NaN); "
                    "drop those order lines, or give them their orders."
                )
        return order_ids, item_ids
    baskets = []
    for position, basket in enumerate(orders):
        if isinstance(basket, (str, bytes)) or not np.iterable(basket):
            raise ValueError(
                "Without items, orders must be baskets, each an iterable of item ids; "
                f"basket {position} is {basket!r} (a single item goes in a list, [{basket!r}]; "
                "for order lines, pass the item of each line as items=)."
            )
        baskets.append(list(basket))
    lengths = np.array([len(basket) for basket in baskets], dtype=np.intp)
    item_ids = np.empty(int(lengths.sum()), dtype=object)
    item_ids[:] = [item for basket in baskets for item in basket]
    return np.repeat(np.arange(len(baskets)), lengths), item_ids


@validate_params(
    {
        "orders": ["array-like"],
        "items": ["array-like", None],
        "min_count": [Interval(Integral, 1, None, closed="left")],
        "min_npmi": [Interval(Real, -1, 1, closed="both")],
        "max_basket_size": [Interval(Integral, 2, None, closed="left"), None],
        "item_index": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def pairs_from_baskets(
    orders, items=None, *, min_count=3, min_npmi=0.25, max_basket_size=None, item_index=None
):
    """Pairs of items bought together, with their counts and NPMI.

    A pair is two distinct items that occur together in at least
    ``min_count`` orders and whose normalised pointwise mutual information
    ``NPMI = log(p(a, b) / (p(a) p(b))) / -log p(a, b)`` is at least
    ``min_npmi``, the probabilities being shares of orders. NPMI is 1 for
    items always bought together, 0 for independent ones and -1 for items
    never bought together; it discounts staples that occur with everything.
    An item listed twice in an order counts once.

    Parameters
    ----------
    orders : sequence of iterables, or array-like of shape (n_lines,)
        Either the baskets, each an iterable of item ids; or, when ``items``
        is given, the order id of each order line.
    items : array-like of shape (n_lines,), default=None
        The item id of each order line (the ``product_id`` column of an
        order-lines table).
    min_count : int, default=3
        Fewest orders holding both items.
    min_npmi : float in [-1, 1], default=0.25
        Smallest NPMI; -1 keeps every pair of ``min_count`` orders.
    max_basket_size : int, default=None
        Orders with more distinct items are left out entirely (from the pair
        counts and from ``n_orders``): an order of s items costs s^2 / 2
        pairs, so a few huge baskets (a shop restocking) can dominate both
        the cost and the pairs. None keeps every order.
    item_index : array-like of shape (n_rows,), default=None
        The item id of each row of your feature matrix. When given, pairs
        are returned as row indices into it, and pairs with an item it does
        not list are dropped (their counts still shaped the probabilities).

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        - ``pairs``: ndarray of shape (n_pairs, 2), item ids (or row indices
          with ``item_index``), each pair once, ordered by its first then
          second item;
        - ``counts``: int ndarray of shape (n_pairs,), orders holding both
          items, a natural pair weight;
        - ``npmi``: float ndarray of shape (n_pairs,);
        - ``n_orders``: number of orders counted.

    Notes
    -----
    The orders become a sparse order x item incidence matrix ``B`` and the
    co-occurrence counts are the sparse product ``B.T @ B``. Items in fewer
    than ``min_count`` orders are dropped before the product, since no pair
    of theirs can reach the threshold. Time and memory are
    O(n_lines + sum over orders of size^2): linear in the order lines for
    bounded baskets, quadratic only in the size of each basket, never in the
    number of items (``max_basket_size`` caps it). The 300,000 Instacart
    order lines of the benchmarks take well under a second.

    Examples
    --------
    >>> from sk_prodembed.pairs import pairs_from_baskets
    >>> baskets = [["milk", "bread"], ["milk", "bread", "eggs"],
    ...            ["milk", "bread"], ["eggs", "tea"], ["tea", "eggs"]]
    >>> result = pairs_from_baskets(baskets, min_count=2, min_npmi=0.0)
    >>> result.pairs.tolist()
    [['bread', 'milk'], ['eggs', 'tea']]
    >>> result.counts.tolist()
    [3, 2]
    >>> rows = pairs_from_baskets(baskets, min_count=2, item_index=["tea", "milk", "eggs"])
    >>> rows.pairs.tolist()  # bread has no row: (bread, milk) is dropped
    [[2, 0]]
    """
    order_ids, item_ids = _order_lines(orders, items)
    _, order_codes = _factorize(order_ids)
    unique_items, item_codes = _factorize(item_ids)
    incidence = sp.csr_matrix(
        (np.ones(len(item_codes), dtype=np.int32), (order_codes, item_codes)),
        shape=(int(order_codes.max(initial=-1)) + 1, len(unique_items)),
    )
    incidence.sum_duplicates()
    incidence.data[:] = 1
    if max_basket_size is not None:
        incidence = incidence[np.diff(incidence.indptr) <= max_basket_size]
    n_orders = incidence.shape[0]

    item_counts = np.asarray(incidence.sum(axis=0)).ravel()
    frequent = np.flatnonzero(item_counts >= min_count)
    frequent_incidence = incidence[:, frequent].tocsc().tocsr()
    co_counts = sp.triu(frequent_incidence.T @ frequent_incidence, k=1, format="coo")
    keep = co_counts.data >= min_count
    first, second = frequent[co_counts.row[keep]], frequent[co_counts.col[keep]]
    counts = co_counts.data[keep].astype(np.int64)

    p_both = counts / n_orders
    p_first, p_second = item_counts[first] / n_orders, item_counts[second] / n_orders
    with np.errstate(divide="ignore", invalid="ignore"):
        npmi = np.log(p_both / (p_first * p_second)) / -np.log(p_both)
    # Items in every order: p(a, b) = p(a) = p(b) = 1, the 0 / 0 limit is 1.
    npmi[p_both == 1] = 1.0
    keep = npmi >= min_npmi
    first, second, counts, npmi = first[keep], second[keep], counts[keep], npmi[keep]
    order = np.lexsort((second, first))
    first, second, counts, npmi = first[order], second[order], counts[order], npmi[order]

    if item_index is None:
        pairs = np.column_stack([unique_items[first], unique_items[second]])
    else:
        rows = _rows_of_items(unique_items, item_index)
        first, second = rows[first], rows[second]
        known = (first >= 0) & (second >= 0)
        pairs = np.column_stack([first[known], second[known]])
        counts, npmi = counts[known], npmi[known]
    return Bunch(pairs=pairs, counts=counts, npmi=npmi, n_orders=n_orders)


def _rows_of_items(unique_items, item_index):
    """Row of each of ``unique_items`` in ``item_index``, -1 where it has none."""
    item_index = as_given(item_index)
    row_of = {}
    for row, item in enumerate(item_index.tolist()):
        if row_of.setdefault(item, row) != row:
            raise ValueError(
                f"item_index lists item {item!r} twice (rows {row_of[item]} and {row}); "
                "each row must have its own item id."
            )
    return np.array([row_of.get(item, -1) for item in unique_items.tolist()], dtype=np.intp)


# -- pairs that follow their rows ------------------------------------------


def check_row_pairs(pairs, n_samples, name="pairs"):
    """``pairs`` as an (n_pairs, 2) or (n_pairs, 3) intp array of valid row indices.

    Raises a ValueError naming ``name`` for a wrong shape, non-integer
    values, indices out of ``[0, n_samples)`` or a row paired with itself.
    """
    array = np.asarray(pairs)
    if array.ndim != 2 or array.shape[1] not in (2, 3):
        raise ValueError(
            f"{name} must have shape (n_pairs, 2) for pairs of rows or (n_pairs, 3) "
            f"for (anchor, positive, negative) triples; got shape {array.shape}."
        )
    if array.size and array.dtype.kind not in "iu":
        integral = array.dtype.kind == "f" and (
            np.all(np.isfinite(array)) and np.all(array == np.round(array))
        )
        if integral:
            array = array.astype(np.intp)
        else:
            raise ValueError(
                f"{name} must hold integer row indices; got dtype {array.dtype}."
            )
    array = array.astype(np.intp, copy=False)
    bad = (array < 0) | (array >= n_samples)
    if bad.any():
        row, column = np.argwhere(bad)[0]
        raise ValueError(
            f"{name}[{row}, {column}] = {array[row, column]} is not a row index of X, "
            f"which has {n_samples} rows (indices must be in [0, {n_samples}))."
        )
    same = array[:, 0] == array[:, 1]
    if array.shape[1] == 3:
        same |= (array[:, 0] == array[:, 2]) | (array[:, 1] == array[:, 2])
    if same.any():
        row = int(np.flatnonzero(same)[0])
        raise ValueError(
            f"{name}[{row}] = {array[row].tolist()} pairs a row with itself; every row "
            "of a pair (or triple) must be a different row."
        )
    return array


class RowPairs:
    """Pairs of rows that follow their rows when cross-validation slices the data.

    A ``RowPairs`` has one entry per row of ``X`` (``len(row_pairs) ==
    n_samples``), so ``GridSearchCV`` and ``cross_validate`` slice it like
    any per-row fit parameter. ``row_pairs[indices]`` is the ``RowPairs`` of
    those rows: the pairs whose rows are all among them, re-indexed into
    them. A pair with a row outside the slice is left out (it is never used
    by a fit on the slice); :attr:`n_pairs_left_out` says how many were.

    Parameters
    ----------
    pairs : array-like of int of shape (n_pairs, 2) or (n_pairs, 3)
        Row indices: pairs of rows that belong together, or (anchor,
        positive, negative) triples.
    n_samples : int
        Number of rows of the data the indices point into.
    weights : array-like of shape (n_pairs,), default=None
        Non-negative weight of each pair, sliced along with the pairs.

    Attributes
    ----------
    pairs : ndarray of shape (n_pairs, 2) or (n_pairs, 3)
        The pairs, as indices into this object's rows.
    weights : ndarray of shape (n_pairs,) or None
    row_ids : ndarray of shape (n_samples,)
        The rows of the original data this object holds.
    n_pairs_left_out : int
        Pairs of the original data left out by slicing, because a row of
        theirs is not in this object.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_prodembed.pairs import RowPairs
    >>> row_pairs = RowPairs([[0, 1], [1, 3], [2, 4]], n_samples=5)
    >>> fold = row_pairs[np.array([1, 2, 3, 4])]  # row 0 held out
    >>> fold.pairs.tolist()  # (1, 3) and (2, 4), now rows 0, 2 and 1, 3 of the fold
    [[0, 2], [1, 3]]
    >>> fold.n_pairs_left_out
    1
    """

    def __init__(self, pairs, n_samples, weights=None):
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        self.pairs = check_row_pairs(pairs, n_samples)
        self.weights = _check_pair_weights(weights, len(self.pairs))
        self.row_ids = np.arange(n_samples)
        self.n_pairs_left_out = 0

    @property
    def shape(self):
        # Read by scikit-learn's _num_samples and _safe_indexing: one entry per row.
        return (len(self.row_ids),)

    def __len__(self):
        return len(self.row_ids)

    def __getitem__(self, key):
        if isinstance(key, tuple):  # scikit-learn indexes arrays as array[key, ...]
            key = key[0]
        selected = np.arange(len(self))[key]
        if selected.ndim != 1:
            raise IndexError("RowPairs is indexed by one array of rows.")
        if len(np.unique(selected)) != len(selected):
            raise ValueError(
                "RowPairs cannot be sliced with repeated rows (as a bootstrap would): "
                "a repeated row would make its pairs ambiguous."
            )
        new_position = np.full(len(self), -1, dtype=np.intp)
        new_position[selected] = np.arange(len(selected))
        moved = new_position[self.pairs]
        inside = (moved >= 0).all(axis=1)
        subset = object.__new__(RowPairs)
        subset.pairs = moved[inside]
        subset.weights = None if self.weights is None else self.weights[inside]
        subset.row_ids = self.row_ids[selected]
        subset.n_pairs_left_out = self.n_pairs_left_out + int((~inside).sum())
        return subset

    def __repr__(self):
        return f"RowPairs({len(self.pairs)} pairs of {len(self)} rows)"


def _check_pair_weights(weights, n_pairs):
    if weights is None:
        return None
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (n_pairs,):
        raise ValueError(
            f"pair weights must have shape ({n_pairs},), one per pair; got {weights.shape}."
        )
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError("pair weights must be finite and non-negative.")
    return weights


def pairs_of(pairs, n_samples):
    """``(pairs, weights)`` of a RowPairs or of an array of row pairs, checked against n_samples."""
    if isinstance(pairs, RowPairs):
        if len(pairs) != n_samples:
            raise ValueError(
                f"pairs is a RowPairs of {len(pairs)} rows but X has {n_samples} rows."
            )
        return pairs.pairs, pairs.weights
    return check_row_pairs(pairs, n_samples), None


# -- held-out items --------------------------------------------------------


def _held_out_draws(paired_rows, n_splits, test_size, rng):
    """Test rows of each split: random draws of ``test_size``, or K folds when None."""
    if test_size is None:
        order = rng.permutation(paired_rows)
        return np.array_split(order, n_splits)
    n_test = int(round(test_size * len(paired_rows)))
    if n_test < 1 or n_test >= len(paired_rows):
        raise ValueError(
            f"test_size={test_size} holds out {n_test} of the {len(paired_rows)} rows "
            "that have a pair; it must leave at least one on each side."
        )
    return [
        np.sort(rng.choice(paired_rows, n_test, replace=False)) for _ in range(n_splits)
    ]


@validate_params(
    {
        "pairs": ["array-like", RowPairs],
        "test_size": [Interval(Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def train_test_split_pairs(pairs, *, test_size=0.3, random_state=None):
    """Hold out a share of the items that have a pair, and the pairs touching them.

    The split of the pair protocol: among the rows that appear in a pair,
    ``test_size`` of them (rounded) are test items, drawn by
    ``random_state.choice`` without replacement; training pairs are the
    pairs that touch no test item. With ``random_state=0`` it is the split of
    the project's benchmarks.

    Parameters
    ----------
    pairs : array-like of int of shape (n_pairs, 2) or (n_pairs, 3), or RowPairs
    test_size : float in (0, 1), default=0.3
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    train_pairs : ndarray
        The pairs (or triples) with no test row.
    test_pairs : ndarray
        The pairs with at least one test row, the ground truth of the test
        items.
    test_rows : ndarray
        The held-out rows, sorted.

    Examples
    --------
    >>> from sk_prodembed.pairs import train_test_split_pairs
    >>> pairs = [[0, 1], [1, 2], [3, 4], [4, 5], [6, 7]]
    >>> train, test, test_rows = train_test_split_pairs(pairs, test_size=0.25, random_state=0)
    >>> test_rows.tolist(), train.tolist()
    ([2, 6], [[0, 1], [3, 4], [4, 5]])
    """
    if isinstance(pairs, RowPairs):
        pairs = pairs.pairs
    else:
        pairs = check_row_pairs(pairs, np.iinfo(np.intp).max)
    paired_rows = np.unique(pairs)
    rng = check_random_state(random_state)
    test_rows = _held_out_draws(paired_rows, 1, test_size, rng)[0]
    touches_test = np.isin(pairs, test_rows).any(axis=1)
    return pairs[~touches_test], pairs[touches_test], test_rows


class PairSplit(BaseCrossValidator):
    """Cross-validation by held-out items: each test fold is a set of items
    whose pairs its training fold never sees.

    The rows that appear in a pair are the candidates for the test folds;
    rows without a pair are always in the training folds (they have nothing
    to be scored on). Use it with a :class:`RowPairs` fit parameter, which
    each training fold receives restricted to its own rows: every pair
    touching a test item is then left out of training.

    Parameters
    ----------
    pairs : array-like of int of shape (n_pairs, 2) or (n_pairs, 3), or RowPairs
        Row indices into the ``X`` given to :meth:`split`.
    n_splits : int, default=5
        Number of splits.
    test_size : float in (0, 1) or None, default=None
        None: the paired rows are shuffled and cut into ``n_splits`` folds,
        each held out once (K-fold). A float: each split holds out a fresh
        random ``test_size`` share of the paired rows (the first split with
        ``random_state=0`` and ``test_size=0.3`` is the split of
        :func:`train_test_split_pairs` and of the project's pair protocol).
    random_state : int, RandomState instance or None, default=None

    Examples
    --------
    >>> import numpy as np
    >>> from sk_prodembed.pairs import PairSplit
    >>> pairs = np.array([[0, 1], [1, 2], [3, 4], [5, 6]])
    >>> X = np.zeros((8, 1))  # row 7 has no pair: always trained on
    >>> for train, test in PairSplit(pairs, n_splits=3, random_state=0).split(X):
    ...     print(train, test)
    [0 3 4 5 7] [1 2 6]
    [1 2 4 5 6 7] [0 3]
    [0 1 2 3 6 7] [4 5]
    """

    def __init__(self, pairs, n_splits=5, *, test_size=None, random_state=None):
        self.pairs = pairs
        self.n_splits = n_splits
        self.test_size = test_size
        self.random_state = random_state

    def _check(self):
        if not isinstance(self.n_splits, Integral) or self.n_splits < 1:
            raise ValueError(f"n_splits must be a positive integer, got {self.n_splits!r}.")
        if self.test_size is None and self.n_splits < 2:
            raise ValueError("K-fold (test_size=None) needs n_splits >= 2.")
        if self.test_size is not None and not 0 < self.test_size < 1:
            raise ValueError(f"test_size must be in (0, 1) or None, got {self.test_size!r}.")

    def _iter_test_indices(self, X=None, y=None, groups=None):
        self._check()
        n_samples = _num_samples(X)
        pairs, _ = pairs_of(self.pairs, n_samples)
        paired_rows = np.unique(pairs)
        if self.test_size is None and len(paired_rows) < self.n_splits:
            raise ValueError(
                f"n_splits={self.n_splits} is more than the {len(paired_rows)} rows with a pair."
            )
        rng = check_random_state(self.random_state)
        for test_rows in _held_out_draws(paired_rows, self.n_splits, self.test_size, rng):
            yield np.sort(test_rows)

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of splits, ``n_splits``."""
        return self.n_splits
