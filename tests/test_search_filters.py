"""Exclusions for index backends: over-fetch, drop, and report queries left short."""

import numpy as np
import pytest
import scipy.sparse as sp
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


def test_n_excluded_among_candidates_counts_only_their_rows():
    rng = np.random.default_rng(0)
    excluded = rng.random((7, 30)) < 0.3
    excluded[3] = False  # a query without exclusions
    query_rows, item_rows = np.nonzero(excluded)
    exclusions = exclusion_matrix(7, 30, query_rows, item_rows)
    among = rng.random(30) < 0.5
    assert_array_equal(n_excluded(exclusions, 7, among=among), (excluded & among).sum(axis=1))
    assert_array_equal(n_excluded(exclusions, 7), excluded.sum(axis=1))


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


def test_candidates_are_the_only_rows_kept_and_are_over_fetched():
    scores = np.random.default_rng(2).random((6, 64))
    candidates = np.zeros(64, dtype=bool)
    candidates[::4] = True  # a quarter of the rows
    asked = []
    search = _exact_search(scores)

    def recording_search(queries, k):
        asked.append(k)
        return search(queries, k)

    rows, complete = index_top_k(recording_search, np.arange(6)[:, None], 3, None, candidates)
    assert complete.all()
    # Four times the rows for a quarter of them (rounded up to a power of two).
    assert asked == [3 + 16]
    for i in range(6):
        allowed = [j for j in np.argsort(-scores[i]) if candidates[j]]
        assert_array_equal(rows[i], allowed[:3])


def test_candidates_from_ids_a_mask_or_a_matrix():
    from sk_prodembed._search._filters import candidates

    def candidate_rows(items, n_items, rows_of_ids):
        return candidates(items, 2, n_items, rows_of_ids)

    def rows_of_ids(ids):  # ids "a".."e" are rows 0..4
        rows = np.array([ord(i) - ord("a") if i in "abcde" else 0 for i in ids])
        return rows, np.isin(ids, list("abcde"))

    assert_array_equal(candidate_rows(["d", "b", "zz", "b"], 5, rows_of_ids), [1, 3])
    assert_array_equal(candidate_rows(np.array([1, 0, 0, 1, 0], bool), 5, rows_of_ids), [0, 3])
    assert candidate_rows(list("abcde"), 5, rows_of_ids) is None  # every item
    assert candidate_rows(None, 5, rows_of_ids) is None
    with pytest.raises(ValueError, match=r"one entry per catalog item \(5\), got 3"):
        candidate_rows(np.ones(3, bool), 5, rows_of_ids)
    with pytest.raises(ValueError, match="one sequence of item ids"):
        candidate_rows([["a"], ["b"]], 5, rows_of_ids)
    # Per query: a sparse matrix of each query's candidates.
    per_query = candidate_rows(sp.csr_matrix([[0, 2, 0, 0, 1], [1, 0, 0, 0, 0]]), 5, rows_of_ids)
    assert per_query.dtype == bool
    assert_array_equal(per_query.toarray(), [[0, 1, 0, 0, 1], [1, 0, 0, 0, 0]])
    with pytest.raises(ValueError, match=r"must have shape \(2, 5\)"):
        candidate_rows(sp.csr_matrix((3, 5)), 5, rows_of_ids)


def test_without_removes_the_excluded_entries():
    from sk_prodembed._search._filters import without

    allowed = exclusion_matrix(2, 4, [0, 0, 1, 1], [0, 1, 2, 3])
    excluded = exclusion_matrix(2, 4, [0, 1], [1, 0])
    assert_array_equal(without(allowed, excluded).toarray(), [[1, 0, 0, 0], [0, 0, 1, 1]])
    assert without(allowed, None) is allowed


def test_same_label_and_intersect():
    from sk_prodembed._search._filters import intersect, same_label

    allowed = same_label(np.array(["b", "z"]), np.array(["a", "b", "b", "c"]))
    assert allowed.dtype == bool
    assert_array_equal(allowed.toarray(), [[0, 1, 1, 0], [0, 0, 0, 0]])
    assert_array_equal(intersect(allowed, np.array([0, 2])).toarray(), [[0, 0, 1, 0], [0] * 4])
    per_query = exclusion_matrix(2, 4, [0, 1], [1, 3])
    assert_array_equal(intersect(allowed, per_query).toarray(), [[0, 1, 0, 0], [0] * 4])
    assert intersect(allowed, None) is allowed
