"""Exclusions for index backends: over-fetch, drop, and report queries left short."""

import numpy as np
from numpy.testing import assert_array_equal

from sk_prodembed._search._filters import combine, exclusion_matrix, index_top_k, n_excluded


def _exact_search(scores):
    """A fake index: the true ranking of a fixed score matrix, with query ids as rows."""

    def search(queries, k):
        order = np.argsort(-scores[queries[:, 0].astype(int)], axis=1, kind="stable")[:, :k]
        found = np.full((len(queries), k), -1)
        found[:, : order.shape[1]] = order
        return found

    return search


def test_over_fetching_returns_the_best_allowed_items():
    rng = np.random.default_rng(0)
    scores = rng.random((9, 40))
    queries = np.arange(9)[:, None]
    query_rows = np.repeat(np.arange(9), np.arange(9))  # query i excludes i items
    item_rows = np.concatenate([np.argsort(-scores[i])[:i] for i in range(9)])
    exclusions = exclusion_matrix(9, 40, query_rows, item_rows)
    assert_array_equal(n_excluded(exclusions, 9), np.arange(9))

    rows, complete = index_top_k(_exact_search(scores), queries, 4, exclusions)
    assert complete.all()
    for i in range(9):
        allowed = [j for j in np.argsort(-scores[i]) if not exclusions[i, j]]
        assert_array_equal(rows[i], allowed[:4])


def test_queries_the_index_answers_short_are_reported():
    scores = np.random.default_rng(1).random((2, 5))

    def short_search(queries, k):
        found = _exact_search(scores)(queries, k)
        found[0, 1:] = -1  # the index found one item only for the first query
        return found

    rows, complete = index_top_k(short_search, np.arange(2)[:, None], 3, None)
    assert_array_equal(complete, [False, True])
    assert (rows[0, 1:] == -1).all()


def test_combine_is_the_union_without_duplicates():
    a = exclusion_matrix(2, 4, [0, 0, 1], [1, 1, 3])
    b = exclusion_matrix(2, 4, [0, 1], [1, 2])
    union = combine(None, a, b)
    assert_array_equal(union.toarray(), [[0, 1, 0, 0], [0, 0, 1, 1]])
    assert_array_equal(n_excluded(union, 2), [1, 2])
    assert combine(None, None) is None
