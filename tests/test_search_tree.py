"""The KD and ball tree backend: saved without its rows, rebuilt identical on load."""

import copy
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal

from sk_prodembed import SKOPS_TRUSTED_TYPES, NearestNeighborRecommender


def _catalog_with_updates(algorithm, metric, sparse=False):
    """A tree recommender after fit, partial_fit and remove_items, with zero rows
    (the flagged rows of a cosine tree), and its queries."""
    rng = np.random.default_rng(0)
    catalog = rng.normal(size=(300, 6)).astype(np.float32)
    catalog[[3, 150, 299]] = 0
    queries = rng.normal(size=(20, 6)).astype(np.float32)
    to_input = sp.csr_matrix if sparse else np.asarray
    recommender = NearestNeighborRecommender(5, metric=metric, algorithm=algorithm)
    recommender.fit(to_input(catalog[:250]), item_ids=np.arange(250))
    recommender.partial_fit(to_input(catalog[250:]), item_ids=np.arange(250, 300))
    recommender.remove_items(np.arange(10, 40))
    return recommender, queries


@pytest.mark.parametrize("algorithm", ["kd_tree", "ball_tree"])
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_a_tree_model_pickles_the_catalog_once(algorithm, metric):
    # NearestNeighbors holds its own rows and the tree's float64 copy of them:
    # saved, they made the pickle three to four times the catalog.
    catalog = np.random.default_rng(1).normal(size=(3000, 16)).astype(np.float32)
    brute = NearestNeighborRecommender(metric=metric).fit(catalog)
    tree = NearestNeighborRecommender(metric=metric, algorithm=algorithm).fit(catalog)
    tree_size, brute_size = len(pickle.dumps(tree)), len(pickle.dumps(brute))
    assert tree_size < brute_size + 1_000


@pytest.mark.parametrize("algorithm", ["kd_tree", "ball_tree", "auto"])
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("sparse", [False, True])
def test_a_loaded_tree_recommends_exactly_as_before(algorithm, metric, sparse):
    recommender, queries = _catalog_with_updates(algorithm, metric, sparse)
    expected = recommender.recommend(queries, exclude_items=[[0, 41]] * len(queries))
    for loaded in (pickle.loads(pickle.dumps(recommender)), copy.deepcopy(recommender)):
        found = loaded.recommend(queries, exclude_items=[[0, 41]] * len(queries))
        assert_array_equal(found[0], expected[0])
        assert_array_equal(found[1], expected[1])
        # The rebuilt tree is a live index: it takes new items.
        loaded.partial_fit(queries[:2], item_ids=[-1, -2])
        assert loaded.recommend(queries[:2], 1)[0].ravel().tolist() == [-1, -2]


def test_skops_loads_a_tree_model_with_the_documented_trusted_types(tmp_path):
    sio = pytest.importorskip("skops.io")
    recommender, queries = _catalog_with_updates("kd_tree", "cosine")
    path = tmp_path / "recommender.skops"
    sio.dump(recommender, path)
    assert set(sio.get_untrusted_types(file=path)) <= set(SKOPS_TRUSTED_TYPES)
    loaded = sio.load(path, trusted=SKOPS_TRUSTED_TYPES)
    assert_array_equal(loaded.predict(queries), recommender.predict(queries))


def test_loading_a_sparse_tree_model_repeats_no_warning_of_its_fit():
    # scikit-learn warns at fit that a tree cannot hold sparse rows; the
    # rebuild on load must not say it again to whoever only loads the model.
    recommender, _ = _catalog_with_updates("kd_tree", "cosine", sparse=True)
    saved = pickle.dumps(recommender)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pickle.loads(saved)
