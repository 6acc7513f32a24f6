"""Ranking metrics for recommendations, and scorers for model selection.

Every metric compares, for each query, a ranked list of recommendations
``y_pred`` of shape (n_queries, n_recommended), best first, with the query's
ground truth ``y_true``, given in one of two forms:

- **label ground truth**: ``y_true`` is a 1-D array of query labels and
  ``y_pred`` holds the *labels* of the recommended items. A recommendation is
  relevant when its label equals the query's label (category precision).
  How many relevant items exist in the catalog is not visible in ``y_pred``;
  pass it as ``n_relevant`` where a metric needs it.
- **relevance ground truth**: ``y_true`` is a sequence of ``set`` (or
  ``frozenset``) of relevant item ids, one per query, and ``y_pred`` holds
  the recommended item *ids*. ``n_relevant`` is the size of each set.

Only ``set`` and ``frozenset`` elements select relevance ground truth, so
labels that are tuples or strings are never mistaken for collections of ids.

Each metric is the mean over queries of a per-query value in [0, 1]. A query
with no relevant item in the catalog scores 0 on every metric.

:func:`make_recommendation_scorer` turns a metric into a ``scoring=`` object
for :class:`~sklearn.model_selection.GridSearchCV` and friends.
:func:`pair_ranking_score` and :func:`make_pair_scorer` score an embedding by
pair ground truth (each query's relevant items are its partners, as in the
cold-start pair protocol), reusing these metrics. The recommender
owns what the scorers need: its public method
:meth:`~sk_prodembed.NearestNeighborRecommender.label_ground_truth` returns, for
query rows and labels, the ``(y_true, y_pred, n_relevant)`` of a metric. Any
estimator with that method can be scored the same way.
"""

from collections.abc import Set
from numbers import Integral

import numpy as np
from sklearn.metrics import ndcg_score
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._values import as_given

_COMMON_CONSTRAINTS = {
    "y_true": ["array-like"],
    "y_pred": ["array-like"],
    "k": [Interval(Integral, 1, None, closed="left"), None],
}
_N_RELEVANT_CONSTRAINT = {
    "n_relevant": ["array-like", Interval(Integral, 0, None, closed="left"), None]
}


def _is_relevance_ground_truth(y_true):
    is_set = [isinstance(truth, Set) for truth in y_true]
    if any(is_set) and not all(is_set):
        raise ValueError(
            "y_true mixes sets of relevant ids with labels; give either one label "
            "per query or one set of relevant item ids per query."
        )
    return bool(is_set) and all(is_set)


def _object_array(values, ndim):
    """``values`` as an object array; from nested lists, ``ndim``-D entry by
    entry (``np.asarray`` would read a tuple id or label as one more axis)."""
    if ndim == 1 or isinstance(values, np.ndarray) or hasattr(values, "__array__"):
        return as_given(values).astype(object, copy=False)
    rows = [list(row) if np.iterable(row) and not isinstance(row, (str, bytes)) else row
            for row in values]
    widths = {len(row) for row in rows if isinstance(row, list)}
    if len(widths) != 1 or not all(isinstance(row, list) for row in rows):
        return np.asarray(values, dtype=object)  # ragged or flat: the caller names the shape
    array = np.empty((len(rows), widths.pop()), dtype=object)
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            array[i, j] = value
    return array


def _relevance_matrix(y_true, y_pred, k, n_relevant):
    """Binary relevance of the top ``k`` recommendations, and relevant counts.

    Returns ``(relevant, n_relevant)``: a boolean array (n_queries, k) and an
    int array (n_queries,), or None when label ground truth came without
    ``n_relevant``.
    """
    # dtype=object keeps ids and labels as given (no str/number coercion)
    # when the rows are lists of mixed or unequal-width strings; built entry
    # by entry from lists, so that a tuple id stays one id.
    y_pred = _object_array(y_pred, ndim=2)
    if y_pred.ndim != 2:
        raise ValueError(
            "y_pred must be 2-D (n_queries, n_recommended), got an array of "
            f"shape {y_pred.shape}."
        )
    n_queries, n_recommended = y_pred.shape
    if n_queries == 0:
        raise ValueError("y_pred has no queries; metrics average over at least one.")
    if n_recommended == 0:
        raise ValueError("y_pred has no recommendations (0 columns); there is nothing to score.")
    if k is None:
        k = n_recommended
    elif k > n_recommended:
        raise ValueError(
            f"k={k} is larger than the number of recommendations per query "
            f"({n_recommended})."
        )
    if len(y_true) != n_queries:
        raise ValueError(
            f"y_true has {len(y_true)} queries but y_pred has {n_queries} rows."
        )
    y_pred = y_pred[:, :k]

    if _is_relevance_ground_truth(y_true):
        if n_relevant is not None:
            raise ValueError(
                "n_relevant is only for label ground truth; with sets of relevant "
                "ids it is the size of each set."
            )
        relevant = np.array(
            [[item in truth for item in row] for truth, row in zip(y_true, y_pred)],
            dtype=bool,
        ).reshape(n_queries, k)
        n_relevant = np.array([len(truth) for truth in y_true], dtype=np.int64)
        for query, row in enumerate(y_pred):
            found = [item for item, hit in zip(row.tolist(), relevant[query]) if hit]
            if len(found) != len(set(found)):
                # Counted twice, it would raise both precision and recall.
                raise ValueError(
                    f"y_pred recommends the same relevant item more than once to query "
                    f"{query} ({row.tolist()}); a list of recommendations holds each item once."
                )
    else:
        y_true = _object_array(y_true, ndim=1)
        if y_true.ndim != 1:
            raise ValueError(
                "y_true must hold one label per query (1-D) or one set of relevant "
                f"item ids per query; got an array of shape {y_true.shape}."
            )
        relevant = (y_pred == y_true[:, None]).astype(bool)
        if n_relevant is not None:
            n_relevant = np.broadcast_to(
                np.asarray(n_relevant, dtype=np.int64), (n_queries,)
            )
            if np.any(n_relevant < 0):
                raise ValueError("n_relevant must be non-negative.")

    if n_relevant is not None and np.any(n_relevant < relevant.sum(axis=1)):
        raise ValueError(
            "n_relevant is smaller than the number of relevant items already "
            "recommended for some queries."
        )
    return relevant, n_relevant


def _n_ideal(relevant, n_relevant):
    """Relevant items the best possible top-k list would hold, per query."""
    k = relevant.shape[1]
    if n_relevant is None:
        # Label ground truth without counts: assume every label has at least
        # k items in the catalog, the usual case for product categories.
        return np.full(relevant.shape[0], k)
    return np.minimum(n_relevant, k)


@validate_params(_COMMON_CONSTRAINTS, prefer_skip_nested_validation=True)
def precision_at_k(y_true, y_pred, *, k=None):
    """Fraction of the top ``k`` recommendations that are relevant.

    With label ground truth this is the category precision@k of the
    project's benchmarks.

    Parameters
    ----------
    y_true : array-like of shape (n_queries,) or sequence of set
        Query labels, or the set of relevant item ids of each query.
    y_pred : array-like of shape (n_queries, n_recommended)
        Recommended labels (label ground truth) or item ids (relevance ground
        truth), best first.
    k : int, default=None
        Cut-off; None uses every column of ``y_pred``.

    Returns
    -------
    score : float
        Mean over queries of (relevant items in the top k) / k.

    Examples
    --------
    >>> from sk_prodembed.metrics import precision_at_k
    >>> precision_at_k(["shoe", "lamp"], [["shoe", "sock"], ["desk", "lamp"]])
    0.5
    >>> precision_at_k([{3, 7}, {1}], [[7, 3], [2, 5]])
    0.5
    """
    relevant, _ = _relevance_matrix(y_true, y_pred, k, None)
    return float(relevant.mean(axis=1).mean())


@validate_params(
    {**_COMMON_CONSTRAINTS, **_N_RELEVANT_CONSTRAINT},
    prefer_skip_nested_validation=True,
)
def recall_at_k(y_true, y_pred, *, k=None, n_relevant=None):
    """Fraction of each query's relevant items found in the top ``k``.

    Parameters
    ----------
    y_true : array-like of shape (n_queries,) or sequence of set
        Query labels, or the set of relevant item ids of each query.
    y_pred : array-like of shape (n_queries, n_recommended)
        Recommended labels or item ids, best first.
    k : int, default=None
        Cut-off; None uses every column of ``y_pred``.
    n_relevant : int or array-like of shape (n_queries,), default=None
        Number of catalog items relevant to each query. Required with label
        ground truth (for example the catalog count of the query's label);
        must be None with sets, whose sizes are used.

    Returns
    -------
    score : float
        Mean over queries of (relevant items in the top k) / n_relevant.

    Examples
    --------
    >>> from sk_prodembed.metrics import recall_at_k
    >>> recall_at_k([{3, 7}, {1}], [[7, 2], [1, 5]])
    0.75
    """
    relevant, n_relevant = _relevance_matrix(y_true, y_pred, k, n_relevant)
    if n_relevant is None:
        raise ValueError(
            "recall_at_k with label ground truth needs n_relevant, the number of "
            "catalog items sharing each query's label."
        )
    hits = relevant.sum(axis=1)
    per_query = np.divide(hits, n_relevant, out=np.zeros(len(hits)), where=n_relevant > 0)
    return float(per_query.mean())


@validate_params(
    {**_COMMON_CONSTRAINTS, **_N_RELEVANT_CONSTRAINT},
    prefer_skip_nested_validation=True,
)
def average_precision_at_k(y_true, y_pred, *, k=None, n_relevant=None):
    """Mean average precision of the top ``k`` recommendations (MAP@k).

    For one query, AP@k is the sum of precision@i over the ranks i <= k that
    hold a relevant item, divided by ``min(k, n_relevant)``, so a list that
    puts every reachable relevant item first scores 1.

    Parameters
    ----------
    y_true : array-like of shape (n_queries,) or sequence of set
        Query labels, or the set of relevant item ids of each query.
    y_pred : array-like of shape (n_queries, n_recommended)
        Recommended labels or item ids, best first.
    k : int, default=None
        Cut-off; None uses every column of ``y_pred``.
    n_relevant : int or array-like of shape (n_queries,), default=None
        Number of catalog items relevant to each query, for label ground
        truth. None assumes at least ``k`` (the normaliser is then ``k``).
        Must be None with sets, whose sizes are used.

    Returns
    -------
    score : float
        Mean over queries of AP@k.

    Examples
    --------
    >>> from sk_prodembed.metrics import average_precision_at_k
    >>> # (1/1 + 2/3) / 2
    >>> average_precision_at_k([{3, 7}], [[3, 1, 7]])  # doctest: +ELLIPSIS
    0.8333...
    """
    relevant, n_relevant = _relevance_matrix(y_true, y_pred, k, n_relevant)
    ranks = np.arange(1, relevant.shape[1] + 1)
    precision_at_rank = np.cumsum(relevant, axis=1) / ranks
    summed = (precision_at_rank * relevant).sum(axis=1)
    n_ideal = _n_ideal(relevant, n_relevant)
    per_query = np.divide(summed, n_ideal, out=np.zeros(len(summed)), where=n_ideal > 0)
    return float(per_query.mean())


@validate_params(
    {**_COMMON_CONSTRAINTS, **_N_RELEVANT_CONSTRAINT},
    prefer_skip_nested_validation=True,
)
def ndcg_at_k(y_true, y_pred, *, k=None, n_relevant=None):
    """Normalised discounted cumulative gain of the top ``k`` (binary gains).

    DCG@k sums ``1 / log2(rank + 1)`` over the relevant ranks; it is divided
    by the DCG of the ideal list, which puts ``min(k, n_relevant)`` relevant
    items first. Computed with :func:`sklearn.metrics.ndcg_score`.

    Parameters
    ----------
    y_true : array-like of shape (n_queries,) or sequence of set
        Query labels, or the set of relevant item ids of each query.
    y_pred : array-like of shape (n_queries, n_recommended)
        Recommended labels or item ids, best first.
    k : int, default=None
        Cut-off; None uses every column of ``y_pred``.
    n_relevant : int or array-like of shape (n_queries,), default=None
        Number of catalog items relevant to each query, for label ground
        truth. None assumes at least ``k``. Must be None with sets.

    Returns
    -------
    score : float
        Mean over queries of NDCG@k.

    Examples
    --------
    >>> from sk_prodembed.metrics import ndcg_at_k
    >>> # 1 / log2(3)
    >>> ndcg_at_k([{3}], [[1, 3]])  # doctest: +ELLIPSIS
    0.6309...
    """
    relevant, n_relevant = _relevance_matrix(y_true, y_pred, k, n_relevant)
    n_queries, k = relevant.shape
    # ndcg_score only sees the items it is given, so the relevant items the
    # list missed are appended as extra columns scored below every
    # recommendation: they count in the ideal DCG but never in the DCG@k.
    # Width 2k also keeps the matrix at two or more columns, as ndcg_score needs.
    missed = _n_ideal(relevant, n_relevant) - relevant.sum(axis=1)
    gains = np.zeros((n_queries, 2 * k))
    gains[:, :k] = relevant
    gains[:, k:] = np.arange(k) < missed[:, None]
    scores = np.zeros((n_queries, 2 * k))
    scores[:, :k] = np.arange(k, 0, -1)
    return float(ndcg_score(gains, scores, k=k, ignore_ties=True))


@validate_params(_COMMON_CONSTRAINTS, prefer_skip_nested_validation=True)
def hit_rate_at_k(y_true, y_pred, *, k=None):
    """Fraction of queries with at least one relevant item in the top ``k``.

    Parameters
    ----------
    y_true : array-like of shape (n_queries,) or sequence of set
        Query labels, or the set of relevant item ids of each query.
    y_pred : array-like of shape (n_queries, n_recommended)
        Recommended labels or item ids, best first.
    k : int, default=None
        Cut-off; None uses every column of ``y_pred``.

    Returns
    -------
    score : float
        Share of queries with a hit.

    Examples
    --------
    >>> from sk_prodembed.metrics import hit_rate_at_k
    >>> hit_rate_at_k(["shoe", "lamp"], [["shoe", "sock"], ["desk", "sofa"]])
    0.5
    """
    relevant, _ = _relevance_matrix(y_true, y_pred, k, None)
    return float(relevant.any(axis=1).mean())


_METRICS = {
    "precision": precision_at_k,
    "recall": recall_at_k,
    "average_precision": average_precision_at_k,
    "ndcg": ndcg_at_k,
    "hit_rate": hit_rate_at_k,
}
_METRICS_USING_N_RELEVANT = {"recall", "average_precision", "ndcg"}


def _final_recommender_and_input(estimator, X):
    """Run X through a Pipeline's transformers; return (recommender, Xt)."""
    while isinstance(estimator, Pipeline):
        if len(estimator) > 1:
            X = estimator[:-1].transform(X)
        estimator = estimator[-1]
    if not callable(getattr(estimator, "label_ground_truth", None)):
        raise TypeError(
            "Recommendation scorers need a NearestNeighborRecommender (or an estimator "
            "with its label_ground_truth method), or a Pipeline ending in one; got "
            f"{type(estimator).__name__}."
        )
    return estimator, X


class _RecommendationScorer:
    """Callable ``scorer(estimator, X, y)`` for ``scoring=`` parameters.

    The recommender is fitted on a catalog with labels; ``X`` are queries and
    ``y`` their labels. Recommendations are relevant when their stored
    catalog label equals the query's label. When ``X`` is the fitted catalog
    itself, each item is excluded from its own recommendations.
    """

    def __init__(self, metric, k):
        self.metric = metric
        self.k = k

    def __call__(self, estimator, X, y=None):
        recommender, X_embedded = _final_recommender_and_input(estimator, X)
        truth = recommender.label_ground_truth(X_embedded, y, self.k)
        kwargs = (
            {"n_relevant": truth.n_relevant} if self.metric in _METRICS_USING_N_RELEVANT else {}
        )
        return _METRICS[self.metric](truth.y_true, truth.y_pred, **kwargs)

    def __repr__(self):
        return f"make_recommendation_scorer({self.metric!r}, k={self.k})"


@validate_params(
    {
        "metric": [StrOptions(set(_METRICS))],
        "k": [Interval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def make_recommendation_scorer(metric="precision", *, k=10):
    """Make a scorer that rates a recommender by label ground truth.

    The scorer is called as ``scorer(estimator, X, y)`` where ``estimator``
    is a fitted :class:`~sk_prodembed.NearestNeighborRecommender` or a
    Pipeline ending in one, fitted with catalog labels; ``X`` are query rows
    (raw input for a Pipeline) and ``y`` their labels. Each query gets its top
    ``k`` recommendations; an item is relevant when its catalog label equals
    the query's label, and ``n_relevant`` is the number of catalog items with
    that label. In cross-validation the training fold is the catalog and the
    test fold the queries. When ``X`` is the fitted catalog itself, each item
    is excluded from its own recommendations (and from ``n_relevant``).

    Parameters
    ----------
    metric : {"precision", "recall", "average_precision", "ndcg", "hit_rate"}, \
            default="precision"
        The metric, as :func:`precision_at_k`, :func:`recall_at_k`,
        :func:`average_precision_at_k`, :func:`ndcg_at_k` or
        :func:`hit_rate_at_k`.
    k : int, default=10
        Number of recommendations scored per query.

    Returns
    -------
    scorer : callable
        Higher is better, as GridSearchCV expects.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_prodembed import NearestNeighborRecommender
    >>> from sk_prodembed.metrics import make_recommendation_scorer
    >>> catalog = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> labels = np.array(["a", "a", "b", "b"])
    >>> recommender = NearestNeighborRecommender(n_recommendations=1)
    >>> recommender = recommender.fit(catalog, labels)
    >>> ndcg_at_1 = make_recommendation_scorer("ndcg", k=1)
    >>> ndcg_at_1(recommender, np.array([[1.0, 0.2], [0.2, 1.0]]), ["a", "a"])
    0.5
    """
    return _RecommendationScorer(metric, k)


_PAIR_METRICS = ("make_pair_scorer", "pair_ranking_score")


def __getattr__(name):
    # Pair ground truth is defined beside the pair tools it needs, which use
    # this module's metrics; exported here, where users look for metrics, on
    # first use (an import at the top would be circular).
    if name in _PAIR_METRICS:
        from . import _pair_metrics

        return getattr(_pair_metrics, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
