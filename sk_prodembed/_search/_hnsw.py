"""Approximate search with faiss-cpu's HNSW graph (the optional ``ann`` extra).

faiss never removes a node from an HNSW graph, so removed catalog items stay in
the graph as *tombstones*: a bitmap of live nodes is passed to every search
(``SearchParametersHNSW.sel``), so a removed item is never returned and the
search walks through it as through any other node. Once tombstones outnumber
live nodes the graph is rebuilt from the live catalog, which bounds both the
wasted memory and the search slowdown.

Graph nodes are numbered in the order they were added; ``catalog_row_of_node``
maps them to the current catalog rows (-1 for tombstones), which shift down
when earlier rows are removed.
"""

import numpy as np
import scipy.sparse as sp

from sklearn.utils import gen_batches

_MISSING_EXTRA = (
    "algorithm='hnsw' needs faiss-cpu, which is not installed. Install the optional "
    "extra: pip install \"sk_prodembed[ann]\" (or pip install faiss-cpu)."
)
# Rows handed to faiss at once: sparse catalogs are densified one batch at a time.
_ADD_BATCH = 65536


def import_faiss():
    """Return the faiss module, or raise an ImportError naming the extra."""
    try:
        import faiss
    except ImportError as error:
        raise ImportError(_MISSING_EXTRA) from error
    return faiss


def _as_float32_dense(rows):
    rows = rows.toarray() if sp.issparse(rows) else rows
    return np.ascontiguousarray(rows, dtype=np.float32)


class HNSWIndex:
    """An HNSW graph over prepared catalog rows (L2-normalised for cosine).

    Parameters
    ----------
    metric : {"cosine", "euclidean"}
        Inner product on normalised rows for cosine, L2 for euclidean.
    m : int
        Neighbours per node (faiss's ``M``): more means better recall, more
        memory (about ``2 * m`` int32 per item) and a slower build.
    ef_construction : int
        Width of the candidate list while inserting (faiss's ``efConstruction``).
    """

    def __init__(self, metric, m, ef_construction):
        self.metric = metric
        self.m = m
        self.ef_construction = ef_construction

    def build(self, catalog):
        faiss = import_faiss()
        faiss_metric = (
            faiss.METRIC_INNER_PRODUCT if self.metric == "cosine" else faiss.METRIC_L2
        )
        self.index = faiss.IndexHNSWFlat(catalog.shape[1], self.m, faiss_metric)
        self.index.hnsw.efConstruction = self.ef_construction
        self.catalog_row_of_node = np.empty(0, dtype=np.int64)
        return self.add(catalog, 0)

    def add(self, catalog, first_new_row):
        """Insert ``catalog[first_new_row:]``, the rows appended since the last call."""
        for rows in gen_batches(catalog.shape[0] - first_new_row, _ADD_BATCH):
            rows = slice(rows.start + first_new_row, rows.stop + first_new_row)
            self.index.add(_as_float32_dense(catalog[rows]))
        self.catalog_row_of_node = np.concatenate(
            [self.catalog_row_of_node, np.arange(first_new_row, catalog.shape[0])]
        )
        return self

    def remove(self, catalog, removed):
        """Tombstone the rows flagged in ``removed`` (over the catalog before removal).

        ``catalog`` is the catalog after removal, used to rebuild the graph when
        tombstones outnumber live nodes.
        """
        removed_before = np.cumsum(removed) - removed
        new_row_of_old = np.where(removed, -1, np.arange(len(removed)) - removed_before)
        live = self.catalog_row_of_node >= 0
        self.catalog_row_of_node[live] = new_row_of_old[self.catalog_row_of_node[live]]
        if self.n_tombstones > catalog.shape[0]:
            self.build(catalog)
        return self

    def restore(self, catalog):
        """Nothing to do after loading: the graph is saved whole (see __getstate__)."""
        return self

    @property
    def n_tombstones(self):
        return int(np.count_nonzero(self.catalog_row_of_node < 0))

    def search(self, queries, k, ef_search):
        """Catalog rows of about the ``k`` nearest items; -1 where none was found."""
        faiss = import_faiss()
        parameters = faiss.SearchParametersHNSW()
        # The candidate list must hold at least the k results asked for.
        parameters.efSearch = max(ef_search, k)
        if self.n_tombstones:
            live_bitmap = np.packbits(self.catalog_row_of_node >= 0, bitorder="little")
            # faiss keeps a raw pointer: live_bitmap must outlive the search.
            parameters.sel = faiss.IDSelectorBitmap(
                len(self.catalog_row_of_node), faiss.swig_ptr(live_bitmap)
            )
        rows = np.empty((queries.shape[0], k), dtype=np.intp)
        for batch in gen_batches(queries.shape[0], _ADD_BATCH):
            _, nodes = self.index.search(
                _as_float32_dense(queries[batch]), int(k), params=parameters
            )
            rows[batch] = np.where(nodes >= 0, self.catalog_row_of_node[nodes], -1)
        return rows

    # faiss objects are SWIG pointers: pickle (and skops) see the graph as
    # faiss's own byte serialisation, a plain uint8 array.
    def __getstate__(self):
        state = self.__dict__.copy()
        if "index" in state:
            state["index"] = import_faiss().serialize_index(state["index"])
        return state

    def __setstate__(self, state):
        state = dict(state)
        if "index" in state:
            state["index"] = import_faiss().deserialize_index(np.asarray(state["index"]))
        self.__dict__.update(state)
