"""The exact top-k kernel against a full sort, across block edges, ties and exclusions."""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

from sk_prodembed._search import _exact
from sk_prodembed._search._exact import block_memory_bytes, exact_top_k
from sk_prodembed._search._filters import exclusion_matrix


def _full_sort_top_k(queries, catalog, metric, n, excluded=None):
    """Top n by sorting every (query, item) score, equal scores by item row."""
    queries, catalog = np.asarray(queries, np.float64), np.asarray(catalog, np.float64)
    if metric == "cosine":
        scores = queries @ catalog.T
    else:
        scores = -np.sqrt(((queries[:, None, :] - catalog[None, :, :]) ** 2).sum(-1))
    if excluded is not None:
        scores[excluded] = -np.inf
    order = np.lexsort((np.broadcast_to(np.arange(catalog.shape[0]), scores.shape), -scores))
    rows = order[:, :n]
    return rows, np.take_along_axis(scores, rows, 1)


def _unit_rows(rng, shape):
    rows = rng.normal(size=shape)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.mark.parametrize("query_block, item_block", [(3, 2), (5, 7), (64, 1000)])
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_matches_a_full_sort_across_block_sizes(monkeypatch, query_block, item_block, metric,
                                                n_jobs):
    monkeypatch.setattr(_exact, "QUERY_BLOCK", query_block)
    monkeypatch.setattr(_exact, "ITEM_BLOCK", item_block)
    rng = np.random.default_rng(0)
    catalog, queries = rng.normal(size=(97, 6)), rng.normal(size=(23, 6))
    if metric == "cosine":
        catalog, queries = _unit_rows(rng, (97, 6)), _unit_rows(rng, (23, 6))
    rows, scores = exact_top_k(queries, catalog, 5, metric=metric, n_jobs=n_jobs)
    expected_rows, expected_scores = _full_sort_top_k(queries, catalog, metric, 5)
    assert_array_equal(rows, expected_rows)
    assert_allclose(scores, expected_scores, rtol=1e-12, atol=1e-12)


def test_equal_scores_go_to_the_lower_row(monkeypatch):
    # Every item ties at similarity 1 with the query: blocks must not pick
    # arbitrary tied items, but the first rows, in order.
    monkeypatch.setattr(_exact, "ITEM_BLOCK", 4)
    catalog = np.ones((30, 2)) / np.sqrt(2)
    rows, scores = exact_top_k(catalog[:3], catalog, 6, metric="cosine")
    assert_array_equal(rows, np.tile(np.arange(6), (3, 1)))
    assert_allclose(scores, 1.0)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("sparse", [False, True])
def test_excluded_pairs_are_never_returned(monkeypatch, metric, sparse):
    monkeypatch.setattr(_exact, "QUERY_BLOCK", 4)
    monkeypatch.setattr(_exact, "ITEM_BLOCK", 8)
    rng = np.random.default_rng(1)
    catalog = sp.random(60, 10, density=0.5, format="csr", random_state=rng).toarray()
    queries = sp.random(11, 10, density=0.5, format="csr", random_state=rng).toarray()
    if metric == "cosine":
        catalog /= np.maximum(np.linalg.norm(catalog, axis=1, keepdims=True), 1e-300)
        queries /= np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-300)
    # Exclude each query's current top 3 plus some random pairs.
    best, _ = _full_sort_top_k(queries, catalog, metric, 3)
    query_rows = np.r_[np.repeat(np.arange(11), 3), rng.integers(11, size=20)]
    item_rows = np.r_[best.ravel(), rng.integers(60, size=20)]
    exclusions = exclusion_matrix(11, 60, query_rows, item_rows)
    to_input = sp.csr_matrix if sparse else np.asarray
    rows, scores = exact_top_k(to_input(queries), to_input(catalog), 7, metric=metric,
                               exclusions=exclusions)
    expected_rows, expected_scores = _full_sort_top_k(
        queries, catalog, metric, 7, exclusions.toarray()
    )
    assert not exclusions[np.repeat(np.arange(11), 7), rows.ravel()].any()
    assert_allclose(scores, expected_scores, rtol=1e-12, atol=1e-12)
    # Sparse rows tie often (similarity 0); ids must agree where scores differ.
    distinct = np.abs(np.diff(expected_scores, axis=1, append=-np.inf)) > 1e-12
    assert_array_equal(rows[distinct], expected_rows[distinct])


def test_float32_stays_float32():
    rng = np.random.default_rng(2)
    catalog = _unit_rows(rng, (50, 4)).astype(np.float32)
    rows, scores = exact_top_k(catalog[:5], catalog, 3, metric="cosine")
    assert scores.dtype == np.float32
    assert rows.dtype == np.intp


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_working_memory_does_not_grow_with_the_catalog(monkeypatch, metric):
    monkeypatch.setattr(_exact, "QUERY_BLOCK", 64)
    monkeypatch.setattr(_exact, "ITEM_BLOCK", 256)
    monkeypatch.setattr(_exact, "RESCORE_BLOCK", 64)
    rng = np.random.default_rng(3)
    catalog = _unit_rows(rng, (40_000, 8)).astype(np.float32)
    queries = _unit_rows(rng, (1024, 8)).astype(np.float32)
    tracemalloc.start()
    exact_top_k(queries, catalog, 10, metric=metric)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # A full row of scores per query block would take 64 * 40,000 * 4 bytes = 10 MB,
    # rescoring all queries at once 1,024 * 10 * 8 * 4 bytes per gathered copy.
    output_bytes = queries.shape[0] * 10 * (4 + 8)
    assert peak < 4 * block_memory_bytes(4, 1) + output_bytes


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_search_threads_run_with_a_single_threaded_blas(monkeypatch, n_jobs):
    # n_jobs search threads, each calling a multi-threaded BLAS, would
    # oversubscribe the cores: above one job the BLAS is limited to one thread.
    from threadpoolctl import threadpool_info

    monkeypatch.setattr(_exact, "QUERY_BLOCK", 4)
    original = _exact._top_k_of_query_block
    blas_threads = []

    def numpy_blas_threads():
        # numpy's own BLAS, which the products use. Another library's (faiss
        # ships an OpenMP OpenBLAS) reports the OpenMP setting of the calling
        # thread, which a limit set in the main thread does not reach.
        blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
        own = [p for p in blas if "numpy" in p["filepath"]] or blas
        return max(p["num_threads"] for p in own)

    def recording(*args):
        blas_threads.append(numpy_blas_threads())
        return original(*args)

    monkeypatch.setattr(_exact, "_top_k_of_query_block", recording)
    catalog = _unit_rows(np.random.default_rng(4), (30, 3))
    before = numpy_blas_threads()
    exact_top_k(catalog[:12], catalog, 2, metric="cosine", n_jobs=n_jobs)
    assert len(blas_threads) == 3
    assert set(blas_threads) == ({1} if n_jobs > 1 else {before})


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("sparse", [False, True])
def test_a_subset_of_rows_is_searched_as_if_the_others_were_not_there(
    monkeypatch, metric, sparse
):
    # item_rows: the top n among those rows only, as catalog rows, across
    # block edges, with exclusions given in catalog coordinates.
    monkeypatch.setattr(_exact, "QUERY_BLOCK", 4)
    monkeypatch.setattr(_exact, "ITEM_BLOCK", 8)
    rng = np.random.default_rng(2)
    catalog, queries = _unit_rows(rng, (70, 6)), _unit_rows(rng, (9, 6))
    item_rows = np.sort(rng.choice(70, 25, replace=False)).astype(np.intp)
    exclusions = exclusion_matrix(9, 70, rng.integers(9, size=30), rng.integers(70, size=30))
    excluded = exclusions.toarray()
    excluded[:, np.setdiff1d(np.arange(70), item_rows)] = True  # not searched at all
    to_input = sp.csr_matrix if sparse else np.asarray
    rows, scores = exact_top_k(to_input(queries), to_input(catalog), 6, metric=metric,
                               exclusions=exclusions, item_rows=item_rows)
    expected_rows, expected_scores = _full_sort_top_k(queries, catalog, metric, 6, excluded)
    assert_array_equal(rows, expected_rows)
    assert_allclose(scores, expected_scores, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("pair_block", [1, 7, 10_000])
def test_each_query_among_its_own_allowed_items(monkeypatch, metric, sparse, pair_block):
    # allowed_top_k scores only the allowed pairs, a few queries' pairs at a
    # time (a block of 1 pair still takes one whole query).
    from sk_prodembed._search._exact import allowed_top_k

    monkeypatch.setattr(_exact, "PAIR_BLOCK", pair_block)
    rng = np.random.default_rng(3)
    catalog, queries = _unit_rows(rng, (50, 5)), _unit_rows(rng, (8, 5))
    allowed = sp.random(8, 50, density=0.3, format="csr", random_state=4, dtype=float) != 0
    n = int(np.diff(allowed.indptr).min())
    assert n >= 4
    to_input = sp.csr_matrix if sparse else np.asarray
    rows, scores = allowed_top_k(to_input(queries), to_input(catalog), n, metric=metric,
                                 allowed=allowed)
    expected_rows, expected_scores = _full_sort_top_k(
        queries, catalog, metric, n, ~allowed.toarray()
    )
    assert_array_equal(rows, expected_rows)
    assert_allclose(scores, expected_scores, rtol=1e-10, atol=1e-10)


def test_float32_euclidean_is_exact_for_rows_far_from_the_origin():
    # Every coordinate near 100, the rows 0.1 apart: q.c and |c|^2 in float32
    # round away the differences unless the rows are shifted first.
    rng = np.random.default_rng(0)
    catalog = (100 + 0.1 * rng.normal(size=(3000, 16))).astype(np.float32)
    queries = (100 + 0.1 * rng.normal(size=(40, 16))).astype(np.float32)
    rows, scores = exact_top_k(queries, catalog, 10, metric="euclidean")
    expected_rows, expected_scores = _full_sort_top_k(queries, catalog, "euclidean", 10)
    assert_allclose(scores, expected_scores, rtol=1e-5)
    assert np.mean([len(set(a) & set(b)) for a, b in zip(rows, expected_rows)]) >= 9.9
