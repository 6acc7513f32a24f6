"""Exact top-k search: blocked matrix products with a running k-th score per query.

Scoring a (query, item) pair costs a few flops inside a matrix product; picking
the k best of a million scores per query is what is slow when done naively
(negate, arg-partition, gather, all on full rows of int64). Here each block of
queries is multiplied with one block of catalog items at a time into a
preallocated float32 buffer, and only the entries that beat the query's current
k-th best score are looked at again. After the first few blocks almost no entry
does, so selection costs one ``max`` pass over the block.

Memory above the catalog and the output is a fixed number of block buffers per
thread plus one block of rescored pairs, whatever the catalog size and the number
of queries (see :data:`QUERY_BLOCK`, :data:`ITEM_BLOCK`, :data:`RESCORE_BLOCK`).
"""

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.utils.extmath import row_norms
from threadpoolctl import threadpool_limits

# One buffer holds QUERY_BLOCK x ITEM_BLOCK scores (4 MB in float32): small
# enough to stay in the last-level cache between the product and the max pass,
# large enough for the matrix product to run near peak. Each thread holds at
# most three such buffers (scores, the rows with candidates, a boolean mask).
QUERY_BLOCK = 512
ITEM_BLOCK = 2048
# Queries rescored at once: bounds the gathered (query, item) rows to
# RESCORE_BLOCK * n * n_features values.
RESCORE_BLOCK = 1024
# (query, item) pairs scored at once by allowed_top_k: bounds the gathered rows
# to PAIR_BLOCK * n_features values (32 MB at 64 float32 features).
PAIR_BLOCK = 1 << 17


def block_memory_bytes(itemsize, n_threads):
    """Upper bound of the working memory of :func:`exact_top_k` above its output."""
    return n_threads * QUERY_BLOCK * ITEM_BLOCK * (2 * itemsize + 1)


def exact_top_k(queries, catalog, n, *, metric, exclusions=None, n_jobs=1, item_rows=None,
                center=None):
    """Catalog rows and similarities of the ``n`` best items per query.

    Parameters
    ----------
    queries : {ndarray, csr_matrix} of shape (n_queries, n_features)
        Prepared query rows (L2-normalised for cosine), dtype of ``catalog``.
    catalog : {ndarray, csr_matrix} of shape (n_items, n_features)
        Prepared catalog rows.
    n : int
        Items per query, at most the number of items each query may receive.
    metric : {"cosine", "euclidean"}
        With "euclidean" items are ranked by ``q.c - |c|^2 / 2``, which orders
        them as ``-|q - c|``; the norms are computed block by block, so no
        array grows with the catalog. On a dense catalog both sides are first
        shifted by ``center`` (distances do not change): in float32, rows
        that share a large offset (every coordinate near 100, say) would
        otherwise lose the differences between items to rounding in ``q.c``
        and ``|c|^2``.
    exclusions : csr_matrix of shape (n_queries, n_items), default=None
        Non-zero entries are (query, item) pairs never to recommend.
    n_jobs : int, default=1
        Threads over query blocks. Above 1, the BLAS runs single-threaded for
        the duration of the call, so threads never exceed ``n_jobs``.
    item_rows : ndarray of intp, default=None
        The only catalog rows to search (increasing), gathered one block at
        a time, so that searching a few of them costs in proportion to their
        number and no copy of them is made. None searches every row.
    center : ndarray of shape (n_features,), default=None
        The row a dense euclidean search shifts both sides by: any row near
        the catalog's mean keeps the rounding small. None computes the mean
        row of ``catalog``, a full pass over it; a caller that searches one
        catalog many times keeps it instead (the recommender keeps it through
        its catalog updates). Unused for cosine and sparse rows.

    Returns
    -------
    rows : ndarray of shape (n_queries, n) of intp
        Catalog rows, best first; equal scores by increasing row.
    scores : ndarray of shape (n_queries, n)
        Cosine similarity, or negated euclidean distance.
    """
    n_queries = queries.shape[0]
    query_blocks = [slice(start, min(start + QUERY_BLOCK, n_queries))
                    for start in range(0, n_queries, QUERY_BLOCK)]
    if metric == "euclidean" and not sp.issparse(catalog) and not sp.issparse(queries):
        if center is None:
            center = catalog.mean(axis=0, dtype=np.float64)
        center = np.asarray(center, dtype=catalog.dtype)
    else:
        center = None
    # A transposed view; a sparse (or shifted) catalog is sliced by rows instead.
    catalog_t = (
        None if sp.issparse(catalog) or item_rows is not None or center is not None
        else catalog.T
    )
    if item_rows is not None and exclusions is not None:
        # In the coordinates of the searched rows.
        exclusions = exclusions[:, item_rows]

    def search(block):
        block_exclusions = None if exclusions is None else exclusions[block]
        return _top_k_of_query_block(
            queries[block], catalog, catalog_t, n, metric == "euclidean", block_exclusions,
            item_rows, center,
        )

    n_jobs = max(1, min(n_jobs, len(query_blocks)))
    if n_jobs == 1:
        results = [search(block) for block in query_blocks]
    else:
        with threadpool_limits(1, user_api="blas"):
            results = Parallel(n_jobs=n_jobs, prefer="threads")(
                delayed(search)(block) for block in query_blocks
            )
    rows = np.vstack(results) if results else np.empty((0, n), dtype=np.intp)
    if item_rows is not None:
        rows = np.where(rows >= 0, item_rows[np.maximum(rows, 0)], -1)
    return sorted_by_score(rows, rescore(queries, catalog, rows, metric))


def sorted_by_score(rows, scores):
    """Sort each query's entries by decreasing score; equal scores by row."""
    order = np.lexsort((rows, -scores), axis=-1)
    return np.take_along_axis(rows, order, 1), np.take_along_axis(scores, order, 1)


def rescore(queries, catalog, rows, metric):
    """Similarity of each query to its chosen catalog rows, computed pair by pair.

    The block products rank by a shifted score (euclidean) in float32; the
    returned similarity is recomputed from the rows themselves, so it does not
    suffer the cancellation of ``|q|^2 - 2 q.c + |c|^2``.
    """
    n_queries, n = rows.shape
    scores = np.zeros((n_queries, n), dtype=catalog.dtype)
    for start in range(0, n_queries if n else 0, RESCORE_BLOCK):
        block = slice(start, start + RESCORE_BLOCK)
        scores[block] = _rescore_block(queries[block], catalog, rows[block], metric)
    return scores


def _rescore_block(queries, catalog, rows, metric):
    n_queries, n = rows.shape
    repeated = np.repeat(np.arange(n_queries), n)
    return pair_scores(queries, catalog, repeated, rows.ravel(), metric).reshape(n_queries, n)


def pair_scores(queries, catalog, query_rows, item_rows, metric):
    """Similarity of each pair (``queries[query_rows[i]]``, ``catalog[item_rows[i]]``)."""
    if sp.issparse(queries) or sp.issparse(catalog):
        left = _as_csr(queries)[query_rows]
        right = _as_csr(catalog)[item_rows]
        if metric == "cosine":
            return np.asarray(left.multiply(right).sum(axis=1)).ravel()
        difference = left - right
        return -np.sqrt(np.asarray(difference.multiply(difference).sum(axis=1)).ravel())
    left = queries[query_rows]
    right = catalog[item_rows]
    if metric == "cosine":
        return np.einsum("ij,ij->i", left, right)
    difference = left - right
    return -np.sqrt(np.einsum("ij,ij->i", difference, difference))


def allowed_top_k(queries, catalog, n, *, metric, allowed):
    """The ``n`` best items per query among its own allowed ones.

    ``allowed`` is a boolean CSR matrix of shape (n_queries, n_items) with at
    least ``n`` entries per row: only those pairs are scored, a block of
    about :data:`PAIR_BLOCK` pairs at a time, so the cost follows the number
    of allowed pairs, not the catalog's size. Returns rows and scores as
    :func:`exact_top_k` does.
    """
    n_queries = queries.shape[0]
    rows = np.empty((n_queries, n), dtype=np.intp)
    counts = np.diff(allowed.indptr)
    start = 0
    while start < n_queries:
        # As many queries as fit in a block of pairs (at least one).
        end = np.searchsorted(allowed.indptr, allowed.indptr[start] + PAIR_BLOCK, side="right")
        stop = min(max(int(end) - 1, start + 1), n_queries)
        block = allowed[start:stop]
        query_rows = np.repeat(np.arange(start, stop), counts[start:stop])
        scores = pair_scores(queries, catalog, query_rows, block.indices, metric)
        # Best first within each query, equal scores by increasing row.
        order = np.lexsort((block.indices, -scores, query_rows))
        first = np.repeat(block.indptr[:-1], n) + np.tile(np.arange(n), stop - start)
        rows[start:stop] = block.indices[order][first].reshape(stop - start, n)
        start = stop
    return sorted_by_score(rows, rescore(queries, catalog, rows, metric))


def _as_csr(X):
    return X if sp.issparse(X) else sp.csr_matrix(X)


def _top_k_of_query_block(queries, catalog, catalog_t, n, euclidean, exclusions, item_rows,
                          center=None):
    """Top ``n`` rows per query, as positions in ``item_rows`` when it is given;
    ``center``, a row subtracted from the (dense) queries and items first."""
    n_block = queries.shape[0]
    n_items = catalog.shape[0] if item_rows is None else len(item_rows)
    dense = not sp.issparse(queries) and not sp.issparse(catalog)
    if dense:
        queries = np.ascontiguousarray(queries if center is None else queries - center)
    buffer = np.empty((n_block, min(ITEM_BLOCK, n_items)), dtype=catalog.dtype)
    best_scores = np.full((n_block, n), -np.inf, dtype=catalog.dtype)
    best_rows = np.full((n_block, n), -1, dtype=np.intp)
    thresholds = best_scores[:, -1].copy()
    if exclusions is not None:
        excluded = exclusions.tocoo()
        order = np.argsort(excluded.col, kind="stable")
        excluded_rows, excluded_cols = excluded.row[order], excluded.col[order]

    for start in range(0, n_items, ITEM_BLOCK):
        stop = min(start + ITEM_BLOCK, n_items)
        scores = buffer[:, : stop - start]
        items = catalog[start:stop] if item_rows is None else catalog[item_rows[start:stop]]
        if center is not None:
            items = items - center
        block = items.T if catalog_t is None else catalog_t[:, start:stop]
        if dense:
            np.matmul(queries, block, out=scores)
        else:
            product = queries @ block
            np.copyto(scores, product.toarray() if sp.issparse(product) else product)
        if euclidean:
            scores -= row_norms(items, squared=True) / 2
        if exclusions is not None:
            lo, hi = np.searchsorted(excluded_cols, [start, stop])
            scores[excluded_rows[lo:hi], excluded_cols[lo:hi] - start] = -np.inf

        # Only rows whose best entry in this block beats their k-th best so far
        # can change; after the first blocks these are few.
        changed = np.flatnonzero(scores.max(axis=1) > thresholds)
        if changed.size == 0:
            continue
        candidates = scores[changed] if changed.size < n_block else scores
        row_thresholds = thresholds[changed]
        if candidates.shape[1] > n and changed.size * n * 4 < np.count_nonzero(
            candidates > row_thresholds[:, None]
        ):
            # Many entries beat the threshold (the first blocks): no more than
            # the block's own top n (ties included) can enter the running top n.
            kth = np.partition(candidates, candidates.shape[1] - n, axis=1)[
                :, candidates.shape[1] - n
            ]
            row_thresholds = np.maximum(row_thresholds, np.nextafter(kth, -np.inf))
        local_rows, local_cols = np.nonzero(candidates > row_thresholds[:, None])
        _merge(
            best_scores, best_rows, changed, n,
            changed[local_rows], candidates[local_rows, local_cols], local_cols + start,
        )
        thresholds[changed] = best_scores[changed, -1]
    return best_rows


def _merge(best_scores, best_rows, changed, n, new_query, new_scores, new_rows):
    """Merge candidate entries into the running top ``n`` of the changed queries."""
    query = np.concatenate([np.repeat(changed, n), new_query])
    scores = np.concatenate([best_scores[changed].ravel(), new_scores])
    rows = np.concatenate([best_rows[changed].ravel(), new_rows])
    # Empty slots (row -1, score -inf) sort last; equal scores by increasing row.
    order = np.lexsort((np.where(rows < 0, np.iinfo(np.intp).max, rows), -scores, query))
    query, scores, rows = query[order], scores[order], rows[order]
    group_start = np.flatnonzero(np.r_[True, query[1:] != query[:-1]])
    group_sizes = np.diff(np.r_[group_start, len(query)])
    rank = np.arange(len(query)) - np.repeat(group_start, group_sizes)
    keep = rank < n
    best_scores[changed] = scores[keep].reshape(-1, n)
    best_rows[changed] = rows[keep].reshape(-1, n)
