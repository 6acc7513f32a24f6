"""scikit-learn's KD and ball trees behind the index interface of :mod:`._hnsw`."""

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.extmath import row_norms


class TreeIndex:
    """A :class:`~sklearn.neighbors.NearestNeighbors` tree over prepared rows.

    On L2-normalised rows ``||a - b||^2 = 2 - 2 cos(a, b)``, so the euclidean
    tree also ranks by cosine similarity. An all-zero catalog row (a product
    with no known feature) breaks that equality: it lies at distance 1 from
    every unit query, where an item of cosine 0.5 lies, and would displace
    items of lower similarity, while its cosine similarity is 0. With
    ``metric="cosine"`` every row gets one more coordinate, 1 for the zero
    catalog rows and 0 otherwise, which puts them at distance ``sqrt(2)``
    (cosine 0) from every unit query and changes no other distance. Trees
    cannot be edited: catalog updates rebuild them, which costs
    ``O(n log n)``. Sparse queries are densified (the tree holds dense rows).

    The fitted NearestNeighbors holds two copies of the catalog (its rows and
    the tree's float64 ones) and the tree's node bounds: three to four times
    the catalog that its owner keeps anyway. So the index pickles (and saves
    with skops) without them, and its owner calls :meth:`restore` with that
    catalog on load; the tree is rebuilt from the same rows, so it answers
    every query as before.
    """

    def __init__(self, algorithm, metric, n_jobs):
        self.algorithm = algorithm
        self.metric = metric
        self.n_jobs = n_jobs

    def _with_zero_flag(self, rows, flag):
        if self.metric != "cosine":
            return rows
        column = np.asarray(flag, dtype=rows.dtype).reshape(-1, 1)
        if sp.issparse(rows):
            return sp.hstack([rows, sp.csr_matrix(column)], format="csr")
        return np.hstack([rows, column])

    def build(self, catalog):
        zero = row_norms(catalog, squared=True) == 0
        self.sparse = sp.issparse(catalog)
        self.nn = NearestNeighbors(
            algorithm=self.algorithm, metric="euclidean", n_jobs=self.n_jobs
        ).fit(self._with_zero_flag(catalog, zero))
        return self

    def add(self, catalog, first_new_row):
        return self.build(catalog)

    def remove(self, catalog, removed):
        return self.build(catalog)

    def restore(self, catalog):
        """Rebuild the tree a loaded index was saved without, from ``catalog``."""
        if "nn" in self.__dict__:
            return self
        with warnings.catch_warnings():
            # A sparse catalog: scikit-learn said so when the model was fitted.
            warnings.filterwarnings("ignore", "cannot use tree with sparse input")
            return self.build(catalog)

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("nn", None)
        return state

    def search(self, queries, k, ef_search=None):
        """Catalog rows of the ``k`` nearest items; -1 beyond the catalog's size."""
        if sp.issparse(queries) and not self.sparse:
            queries = queries.toarray()
        queries = self._with_zero_flag(queries, np.zeros(queries.shape[0]))
        n_fit = self.nn.n_samples_fit_
        rows = self.nn.kneighbors(queries, n_neighbors=min(k, n_fit), return_distance=False)
        if k > n_fit:
            rows = np.hstack([rows, np.full((rows.shape[0], k - n_fit), -1, dtype=rows.dtype)])
        return rows
