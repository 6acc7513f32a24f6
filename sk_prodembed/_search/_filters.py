"""Which (query, item) pairs must not be recommended, and how each backend honours them.

Every exclusion (the query item itself, ``exclude_items``, the item a query by
id was made from) becomes one boolean CSR matrix of shape (n_queries, n_items).
Exact search masks the excluded entries of each score block. An index (HNSW,
trees) cannot mask per query, so each query asks it for ``n`` plus its number
of exclusions, and the excluded rows are dropped from the answer.

``candidate_items``, the only items any query may receive, becomes the
increasing catalog rows of the candidates: exact search scores those rows
only; an index is asked for as many more rows as their share of the catalog
suggests, and the other rows are dropped from its answer.
"""

import numpy as np
import scipy.sparse as sp

from .._values import as_given


def exclusion_matrix(n_queries, n_items, query_rows, item_rows):
    """Boolean CSR matrix with True at each (query_rows[i], item_rows[i])."""
    data = np.ones(len(query_rows), dtype=bool)
    matrix = sp.csr_matrix(
        (data, (query_rows, item_rows)), shape=(n_queries, n_items), dtype=bool
    )
    matrix.sum_duplicates()
    return matrix


def combine(*matrices):
    """Union of exclusion matrices (None entries are ignored); None if all are None."""
    matrices = [matrix for matrix in matrices if matrix is not None]
    if not matrices:
        return None
    union = matrices[0]
    for matrix in matrices[1:]:
        union = union + matrix
    union = sp.csr_matrix(union, dtype=bool)
    union.eliminate_zeros()
    union.sum_duplicates()
    return union


def item_exclusions(exclude_items, n_queries, n_items, rows_of_ids):
    """The ``exclude_items`` argument of ``recommend`` as an exclusion matrix, or None.

    It is either a matrix of shape (n_queries, n_items) whose non-zero entries
    are excluded, or one sequence of item ids per query (None for none), which
    ``rows_of_ids(ids) -> (rows, found)`` turns into catalog rows; ids not in
    the catalog (a discontinued item in a purchase history) are ignored.
    """
    if exclude_items is None:
        return None
    if sp.issparse(exclude_items):
        return _per_query_matrix(exclude_items, "exclude_items", n_queries, n_items)
    if isinstance(exclude_items, (str, bytes)) or len(exclude_items) != n_queries:
        raise ValueError(
            f"exclude_items must hold one sequence of item ids per query ({n_queries}), "
            "or be a sparse matrix."
        )
    for query, ids in enumerate(exclude_items):
        if isinstance(ids, (str, bytes)) or not (ids is None or np.iterable(ids)):
            raise ValueError(
                "exclude_items must hold one sequence of item ids per query; entry "
                f"{query} is {ids!r}, not a sequence (a query's single id goes in a list: "
                f"[[{ids!r}], ...])."
            )
    per_query = [[] if ids is None else list(ids) for ids in exclude_items]
    query_rows = np.repeat(np.arange(n_queries), [len(ids) for ids in per_query])
    # Mixed kinds (a None among strings) stay objects, each looked up on its own.
    flat = as_given([item for ids in per_query for item in ids])
    item_rows, found = rows_of_ids(flat)
    return exclusion_matrix(n_queries, n_items, query_rows[found], item_rows[found])


def _per_query_matrix(matrix, name, n_queries, n_items):
    """A sparse (n_queries, n_items) argument as a boolean CSR matrix of its non-zero entries."""
    if matrix.shape != (n_queries, n_items):
        raise ValueError(
            f"{name} as a matrix must have shape ({n_queries}, {n_items}) "
            f"(queries, catalog items), got {matrix.shape}."
        )
    return combine(sp.csr_matrix(matrix, dtype=bool))


def candidates(candidate_items, n_queries, n_items, rows_of_ids):
    """The ``candidate_items`` argument of ``recommend``: None, rows, or a matrix.

    A sequence of item ids (ids not in the catalog are ignored) or a boolean
    mask over the catalog's rows, the same for every query, becomes the
    increasing catalog rows of the candidates (None when every item is one,
    or ``candidate_items`` is None). A sparse matrix of shape (n_queries,
    n_items), each query's own candidates as its non-zero entries, becomes a
    boolean CSR matrix.
    """
    if candidate_items is None:
        return None
    if sp.issparse(candidate_items):
        return _per_query_matrix(candidate_items, "candidate_items", n_queries, n_items)
    candidates = np.asarray(candidate_items)
    if candidates.ndim != 1:
        raise ValueError(
            "candidate_items must be one sequence of item ids, or a boolean mask of shape "
            f"({n_items},) over the catalog, got an array of shape {candidates.shape}."
        )
    if candidates.dtype == bool:
        if candidates.shape != (n_items,):
            raise ValueError(
                f"candidate_items as a boolean mask must have one entry per catalog item "
                f"({n_items}), got {candidates.shape[0]}."
            )
        rows = np.flatnonzero(candidates)
    else:
        rows, found = rows_of_ids(candidates)
        rows = np.unique(rows[found])
    return None if len(rows) == n_items else rows.astype(np.intp)


def same_label(query_labels, item_labels):
    """Boolean CSR matrix (n_queries, n_items): True where the item has the query's label.

    Built as the product of two one-hot matrices, so its cost and memory follow
    the number of True entries, never n_queries x n_items.
    """
    classes, codes = np.unique(
        np.concatenate([np.asarray(item_labels), np.asarray(query_labels)]), return_inverse=True
    )
    item_codes, query_codes = codes[: len(item_labels)], codes[len(item_labels) :]

    def one_hot(row_codes):
        return exclusion_matrix(len(row_codes), len(classes), np.arange(len(row_codes)), row_codes)

    return combine(one_hot(query_codes) @ one_hot(item_codes).T)


def intersect(allowed, candidates):
    """The entries of the boolean CSR matrix ``allowed`` among ``candidates``: None,
    increasing catalog rows, or a boolean CSR matrix of the same shape."""
    if candidates is None:
        return allowed
    if sp.issparse(candidates):
        return combine(allowed.multiply(candidates))
    keep = np.zeros(allowed.shape[1], dtype=np.int8)
    keep[candidates] = 1
    # A product with a diagonal matrix stays sparse in every scipy version.
    return combine(allowed.astype(np.int8) @ sp.diags(keep, dtype=np.int8))


def without(allowed, exclusions):
    """The entries of the boolean CSR matrix ``allowed`` that ``exclusions`` (or None) lacks."""
    if exclusions is None:
        return allowed
    kept = allowed.astype(np.int8) - allowed.multiply(exclusions).astype(np.int8)
    return combine(kept)


def n_excluded(exclusions, n_queries, among=None):
    """Excluded items per query; with ``among`` (a boolean mask over the catalog
    rows), only those among its rows."""
    if exclusions is None:
        return np.zeros(n_queries, dtype=np.intp)
    if among is None:
        return np.diff(exclusions.indptr)
    counted = np.concatenate([[0], np.cumsum(among[exclusions.indices], dtype=np.intp)])
    return counted[exclusions.indptr[1:]] - counted[exclusions.indptr[:-1]]


def index_top_k(search, queries, n, exclusions, candidates=None):
    """The ``n`` best non-excluded catalog rows per query that ``search`` finds.

    ``search(queries, k)`` returns (n_queries, k) catalog rows, best first, -1
    where it found fewer. Queries with the same number of exclusions (rounded
    up to a power of two, so there are few distinct requests) are asked
    together. ``candidates`` (a boolean mask over the catalog rows, or None)
    keeps only its rows; each query then asks for as many more rows as the
    share of candidates suggests. Returns the rows (-1 padded) and a mask of
    the queries that got ``n`` rows, so the caller can answer the others
    exactly.
    """
    n_queries = queries.shape[0]
    extra = n_excluded(exclusions, n_queries)
    if candidates is not None:
        # Rows to look at for n + extra candidates, if candidates are spread
        # evenly among the neighbours.
        spread = candidates.size / max(int(np.count_nonzero(candidates)), 1)
        extra = np.ceil((n + extra) * spread).astype(np.intp) - n
    requested = np.where(extra > 0, n + 2 ** np.ceil(np.log2(np.maximum(extra, 1))), n)
    rows = np.full((n_queries, n), -1, dtype=np.intp)
    complete = np.zeros(n_queries, dtype=bool)
    for k in np.unique(requested).astype(int).tolist():
        group = np.flatnonzero(requested == k)
        found = search(queries[group], k)
        valid = found >= 0
        if candidates is not None:
            valid[valid] = candidates[found[valid]]
        if exclusions is not None:
            pair_query = np.repeat(group, k)[valid.ravel()]
            excluded = np.asarray(exclusions[pair_query, found[valid]]).ravel()
            valid[valid] = ~excluded
        # Keep the first n valid entries of each row, in the index's order.
        order = np.argsort(~valid, axis=1, kind="stable")[:, :n]
        kept = np.take_along_axis(found, order, 1)
        kept_valid = np.take_along_axis(valid, order, 1)
        rows[group] = np.where(kept_valid, kept, -1)
        complete[group] = kept_valid.all(axis=1)
    return rows, complete
