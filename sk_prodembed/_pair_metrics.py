"""Ranking metrics with pair ground truth: a query's relevant items are its partners.

Each query row ranks every other row of the embedding by cosine similarity;
its relevant items are the rows it is paired with. The metrics themselves
are those of :mod:`sk_prodembed.metrics` on relevance ground truth (one set
of partner rows per query), except ``"recall"``, which follows the pair
protocol of the benchmarks: the hits in the top ``k`` over
``min(k, number of partners)``, so that a query with more than ``k``
partners can still score 1 (``"recall_uncapped"`` is
:func:`~sk_prodembed.metrics.recall_at_k`, hits over all partners).
"""

from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize
from sklearn.utils.metadata_routing import MetadataRequest

from . import metrics
from .pairs import RowPairs, check_row_pairs

# Query rows ranked at once: bounds the (chunk, n_rows) similarity matrix.
_QUERY_CHUNK_ROWS = 1024


def partner_sets(pairs, queries):
    """The set of partner rows of each query row (pairs are undirected).

    Parameters
    ----------
    pairs : int ndarray of shape (n_pairs, 2)
    queries : int ndarray of shape (n_queries,)

    Returns
    -------
    partners : list of set of int, one per query
    """
    # One set per distinct query row, shared by its repeats.
    of_row = {int(q): set() for q in queries}
    for a, b in pairs[:, :2].tolist():
        if a in of_row:
            of_row[a].add(b)
        if b in of_row:
            of_row[b].add(a)
    return [of_row[int(q)] for q in queries]


def top_k_by_cosine(embedding, queries, k):
    """The ``k`` rows most cosine-similar to each query row, itself excluded, best first.

    Parameters
    ----------
    embedding : {ndarray, sparse matrix} of shape (n_rows, n_features)
    queries : int ndarray of shape (n_queries,)
    k : int
        At most ``n_rows - 1``.

    Returns
    -------
    neighbours : int ndarray of shape (n_queries, k)
    """
    unit = normalize(embedding)
    top = np.empty((len(queries), k), dtype=np.intp)
    for start in range(0, len(queries), _QUERY_CHUNK_ROWS):
        chunk = queries[start : start + _QUERY_CHUNK_ROWS]
        similarities = unit[chunk] @ unit.T
        similarities = similarities.toarray() if sp.issparse(similarities) else similarities
        similarities = np.asarray(similarities, dtype=np.float64)
        similarities[np.arange(len(chunk)), chunk] = -np.inf
        top[start : start + len(chunk)] = _top_k_lowest_rows_first(similarities, k)
    return top


def _top_k_lowest_rows_first(scores, k):
    """Columns of the ``k`` best scores of each row, best first, equal scores by
    the lowest column, also where the tie straddles the k-th place (which
    ``argpartition`` alone would settle arbitrarily)."""
    kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1]
    above = scores > kth[:, None]
    at_kth = scores == kth[:, None]
    room = k - above.sum(axis=1)
    chosen = above | (at_kth & (np.cumsum(at_kth, axis=1) <= room[:, None]))
    columns = np.nonzero(chosen)[1].reshape(len(scores), k)
    chosen_scores = np.take_along_axis(scores, columns, axis=1)
    order = np.lexsort((columns, -chosen_scores), axis=1)
    return np.take_along_axis(columns, order, axis=1)


_PAIR_METRICS = {
    "precision": metrics.precision_at_k,
    "recall_uncapped": metrics.recall_at_k,
    "average_precision": metrics.average_precision_at_k,
    "ndcg": metrics.ndcg_at_k,
    "hit_rate": metrics.hit_rate_at_k,
}


def _capped_recall_at_k(partners, neighbours, k):
    relevant, n_relevant = metrics._relevance_matrix(partners, neighbours, k, None)
    return float((relevant.sum(axis=1) / np.minimum(n_relevant, k)).mean())


def pair_ranking_score(embedding, pairs, *, metric="recall", k=10, queries=None):
    """A ranking metric of ``embedding`` whose ground truth is ``pairs``.

    Parameters
    ----------
    embedding : {ndarray, sparse matrix} of shape (n_rows, n_features)
        Every row is a candidate; ranked by cosine similarity.
    pairs : int array-like of shape (n_pairs, 2) or (n_pairs, 3)
        Row indices; the first two columns are the partners.
    metric : {"recall", "recall_uncapped", "precision", "average_precision", \
            "ndcg", "hit_rate"}, default="recall"
    k : int, default=10
        Cut-off; lowered to ``n_rows - 1`` for fewer rows.
    queries : int array-like, default=None
        The rows scored (for example the held-out items); each must have a
        partner. None scores every row that has one.

    Returns
    -------
    score : float
        Mean over queries.
    """
    if not isinstance(k, Integral) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}.")
    n_rows = embedding.shape[0]
    pairs = check_row_pairs(pairs, n_rows)
    if queries is None:
        queries = np.unique(pairs[:, :2])
    queries = np.asarray(queries, dtype=np.intp)
    if len(queries) == 0:
        raise ValueError("There is no query with a partner to score.")
    partners = partner_sets(pairs, queries)
    lonely = [int(q) for q, p in zip(queries, partners) if not p]
    if lonely:
        raise ValueError(
            f"{len(lonely)} queries have no partner among the pairs (first: row "
            f"{lonely[0]}); they would score 0 whatever the embedding."
        )
    k = min(k, n_rows - 1)
    neighbours = top_k_by_cosine(embedding, queries, k)
    if metric == "recall":
        return _capped_recall_at_k(partners, neighbours, k)
    if metric not in _PAIR_METRICS:
        raise ValueError(
            f"metric must be one of {sorted({'recall', *_PAIR_METRICS})}, got {metric!r}."
        )
    return _PAIR_METRICS[metric](partners, neighbours, k=k)


class _PairScorer:
    """``scorer(estimator, X, y=None, pairs=None)``: a ranking metric of
    ``estimator.transform(X)`` with the pairs among the rows of ``X`` as
    ground truth.

    The pairs come from the ``pairs`` argument (what metadata routing passes:
    the test fold's slice of a :class:`~sk_prodembed.pairs.RowPairs`) or, when
    it is None, from ``y`` if ``y`` is a RowPairs. Plain arrays are row
    indices into ``X`` and must be in range.
    """

    def __init__(self, metric, k):
        self.metric = metric
        self.k = k

    def __call__(self, estimator, X, y=None, pairs=None):
        if pairs is None and isinstance(y, RowPairs):
            pairs = y
        if pairs is None:
            raise ValueError(
                "The pair scorer needs the pairs among the rows of X: pass pairs= "
                "(with metadata routing, a RowPairs given to the search's fit), or a "
                "RowPairs as y."
            )
        n_rows = X.shape[0] if hasattr(X, "shape") else len(X)
        if isinstance(pairs, RowPairs):
            if len(pairs) != n_rows:
                raise ValueError(
                    f"pairs is a RowPairs of {len(pairs)} rows but X has {n_rows} rows."
                )
            pairs = pairs.pairs
        pairs = check_row_pairs(pairs, n_rows)
        if len(pairs) == 0:
            raise ValueError(
                "No pair has both rows among the scored rows, so there is nothing to "
                "score; hold out more items (a larger test fold) or use fewer folds."
            )
        return pair_ranking_score(estimator.transform(X), pairs, metric=self.metric, k=self.k)

    def get_metadata_routing(self):
        # The scorer always asks for the pairs of the rows it scores.
        request = MetadataRequest(owner=self.__class__.__name__)
        request.score.add_request(param="pairs", alias=True)
        return request

    def __repr__(self):
        return f"make_pair_scorer({self.metric!r}, k={self.k})"


def make_pair_scorer(metric="recall", *, k=10):
    """A ``scoring=`` object rating an embedding by how it ranks each row's partners.

    Called as ``scorer(estimator, X, y=None, pairs=None)``: ``estimator``
    transforms ``X`` (an embedder, or a Pipeline ending in one); each row of
    ``X`` that has a partner among the rows of ``X`` ranks the others by
    cosine similarity, and the metric compares the top ``k`` with its
    partners. With :class:`~sk_prodembed.pairs.PairSplit`, the rows of a test
    fold are held-out items, so the score is the held-out pair recall@k
    among them, on pairs no training fold saw.

    In ``GridSearchCV``, enable metadata routing and pass the pairs as a
    :class:`~sk_prodembed.pairs.RowPairs` to the search's ``fit(X,
    pairs=...)``: each training fold receives (with
    ``embedder.set_fit_request(pairs=True)``) its own pairs and the scorer its
    test fold's pairs, each re-indexed into its rows; pairs crossing the two
    are used by neither.

    Parameters
    ----------
    metric : {"recall", "recall_uncapped", "precision", "average_precision", \
            "ndcg", "hit_rate"}, default="recall"
    k : int, default=10

    Returns
    -------
    scorer : callable
    """
    if metric not in {"recall", *_PAIR_METRICS}:
        raise ValueError(
            f"metric must be one of {sorted({'recall', *_PAIR_METRICS})}, got {metric!r}."
        )
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}.")
    return _PairScorer(metric, k)
