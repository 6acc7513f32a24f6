"""The faiss HNSW backend: neighbours, tombstones, pickling, skops, and the missing extra."""

import pickle
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

from sk_prodembed import SKOPS_TRUSTED_TYPES, NearestNeighborRecommender
from sk_prodembed._search._hnsw import HNSWIndex

pytest.importorskip("faiss", reason="the 'ann' extra is not installed")


def _clustered(n_items, n_queries, n_features=8, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(20, n_features))
    def draw(n_rows):
        noise = 0.3 * rng.normal(size=(n_rows, n_features))
        return centers[rng.integers(20, size=n_rows)] + noise

    catalog, queries = draw(n_items), draw(n_queries)
    return catalog.astype(np.float32), queries.astype(np.float32)


def _overlap(a, b):
    return np.mean([len(set(x) & set(y)) / len(x) for x, y in zip(a, b)])


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_hnsw_finds_the_exact_neighbours_of_a_small_catalog(metric):
    catalog, queries = _clustered(1500, 40)
    exact = NearestNeighborRecommender(10, metric=metric).fit(catalog)
    hnsw = NearestNeighborRecommender(10, metric=metric, algorithm="hnsw", ef_search=200)
    hnsw.fit(catalog)
    ids, similarities = hnsw.recommend(queries)
    exact_ids, exact_similarities = exact.recommend(queries)
    # A wide search list on 1,500 items leaves the graph no room to miss.
    assert _overlap(ids, exact_ids) >= 0.99
    # Similarities are recomputed exactly from the catalog rows, best first.
    assert_allclose(similarities, exact_similarities, rtol=1e-5, atol=1e-5)
    assert similarities.dtype == np.float32
    assert np.all(np.diff(similarities, axis=1) <= 0)


def test_removed_items_are_never_returned_and_many_removals_rebuild_the_graph():
    catalog, queries = _clustered(600, 30)
    ids = np.arange(600) + 1000
    hnsw = NearestNeighborRecommender(8, algorithm="hnsw", ef_search=100)
    hnsw.fit(catalog, item_ids=ids)
    removed = ids[::3]
    hnsw.remove_items(removed)
    assert hnsw.index_.n_tombstones == len(removed)
    found = hnsw.predict(queries)
    assert not np.isin(found, removed).any()
    exact = NearestNeighborRecommender(8).fit(catalog[np.isin(ids, removed, invert=True)],
                                              item_ids=ids[np.isin(ids, removed, invert=True)])
    assert _overlap(found, exact.predict(queries)) >= 0.99
    # Once tombstones outnumber live items the graph is rebuilt without them.
    hnsw.remove_items(ids[1::3])
    assert hnsw.index_.n_tombstones == 0
    assert hnsw.index_.index.ntotal == hnsw.catalog_.shape[0] == 200


def test_added_items_are_found():
    catalog, queries = _clustered(500, 20)
    hnsw = NearestNeighborRecommender(5, algorithm="hnsw").fit(catalog[:400])
    hnsw.partial_fit(catalog[400:])
    assert hnsw.index_.index.ntotal == 500
    # Each added item is its own nearest neighbour, at its new row index.
    ids, similarities = hnsw.recommend(catalog[400:], 1)
    assert_array_equal(ids.ravel(), np.arange(400, 500))
    assert_allclose(similarities, 1.0, rtol=1e-5)


def test_sparse_and_float64_catalogs_are_indexed_batch_by_batch():
    catalog = sp.random(300, 12, density=0.4, format="csr", random_state=0, dtype=np.float64)
    hnsw = NearestNeighborRecommender(4, algorithm="hnsw", ef_search=100).fit(catalog)
    exact = NearestNeighborRecommender(4).fit(catalog)
    assert sp.issparse(hnsw.catalog_)
    ids, similarities = hnsw.recommend(catalog[:20])
    assert similarities.dtype == np.float64
    assert_allclose(similarities, exact.recommend(catalog[:20])[1], rtol=1e-6, atol=1e-6)


def test_pickled_index_answers_the_same():
    catalog, queries = _clustered(400, 15)
    hnsw = NearestNeighborRecommender(6, algorithm="hnsw").fit(catalog, item_ids=np.arange(400))
    hnsw.remove_items([0, 1, 2])
    restored = pickle.loads(pickle.dumps(hnsw))
    assert_array_equal(restored.predict(queries), hnsw.predict(queries))
    assert restored.index_.n_tombstones == 3
    # The restored graph is a live faiss index: it still takes new items.
    restored.partial_fit(catalog[:2], item_ids=[-1, -2])
    assert restored.index_.index.ntotal == 402


def test_skops_loads_the_index_with_the_documented_trusted_types(tmp_path):
    sio = pytest.importorskip("skops.io")
    catalog, queries = _clustered(300, 10)
    hnsw = NearestNeighborRecommender(5, algorithm="hnsw").fit(catalog)
    path = tmp_path / "recommender.skops"
    sio.dump(hnsw, path)
    assert set(sio.get_untrusted_types(file=path)) <= set(SKOPS_TRUSTED_TYPES)
    loaded = sio.load(path, trusted=SKOPS_TRUSTED_TYPES)
    assert_array_equal(loaded.predict(queries), hnsw.predict(queries))


def test_missing_faiss_names_the_extra(monkeypatch):
    # A None entry in sys.modules makes ``import faiss`` raise ImportError.
    monkeypatch.setitem(sys.modules, "faiss", None)
    with pytest.raises(ImportError, match=r"sk_prodembed\[ann\]"):
        NearestNeighborRecommender(algorithm="hnsw").fit(np.eye(3))
    # The exact default never needs faiss.
    NearestNeighborRecommender(2).fit(np.eye(3)).predict(np.eye(3))


def test_ef_search_is_read_at_query_time():
    catalog, queries = _clustered(800, 30)
    hnsw = NearestNeighborRecommender(10, algorithm="hnsw", hnsw_m=4, ef_construction=8)
    hnsw.fit(catalog)
    exact_ids = NearestNeighborRecommender(10).fit(catalog).predict(queries)
    narrow = _overlap(hnsw.set_params(ef_search=10).predict(queries), exact_ids)
    wide = _overlap(hnsw.set_params(ef_search=400).predict(queries), exact_ids)
    assert wide > narrow


def test_index_maps_graph_nodes_to_shifted_catalog_rows():
    catalog, _ = _clustered(10, 1)
    index = HNSWIndex("euclidean", 4, 10).build(catalog)
    removed = np.zeros(10, dtype=bool)
    removed[[1, 4]] = True
    index.remove(catalog[~removed], removed)
    assert_array_equal(index.catalog_row_of_node, [0, -1, 1, 2, -1, 3, 4, 5, 6, 7])
