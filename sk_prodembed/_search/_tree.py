"""scikit-learn's KD and ball trees behind the index interface of :mod:`._hnsw`."""

import numpy as np
from sklearn.neighbors import NearestNeighbors


class TreeIndex:
    """A :class:`~sklearn.neighbors.NearestNeighbors` tree over prepared rows.

    On L2-normalised rows ``||a - b||^2 = 2 - 2 cos(a, b)``, so the euclidean
    tree also ranks by cosine similarity. Trees cannot be edited: catalog
    updates rebuild them, which costs ``O(n log n)``.
    """

    def __init__(self, algorithm, n_jobs):
        self.algorithm = algorithm
        self.n_jobs = n_jobs

    def build(self, catalog):
        self.nn = NearestNeighbors(
            algorithm=self.algorithm, metric="euclidean", n_jobs=self.n_jobs
        ).fit(catalog)
        return self

    def add(self, catalog, first_new_row):
        return self.build(catalog)

    def remove(self, catalog, removed):
        return self.build(catalog)

    def search(self, queries, k, ef_search=None):
        """Catalog rows of the ``k`` nearest items; -1 beyond the catalog's size."""
        n_fit = self.nn.n_samples_fit_
        rows = self.nn.kneighbors(queries, n_neighbors=min(k, n_fit), return_distance=False)
        if k > n_fit:
            rows = np.hstack([rows, np.full((rows.shape[0], k - n_fit), -1, dtype=rows.dtype)])
        return rows
