"""scikit-learn's KD and ball trees behind the index interface of :mod:`._hnsw`."""

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
        return self.nn.kneighbors(queries, n_neighbors=k, return_distance=False)
