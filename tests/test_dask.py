"""Out-of-core and distributed fitting with dask-ml, and batch recommendation with dask, on a
real LocalCluster (optional extra).

Install with ``pip install "sk_prodembed[dask]"``; without it these tests skip.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from sk_prodembed import MaskedAutoencoderEmbedder, TripletEmbedder

da = pytest.importorskip("dask.array", reason="the 'dask' extra is not installed")
distributed = pytest.importorskip("distributed", reason="the 'dask' extra is not installed")
wrappers = pytest.importorskip("dask_ml.wrappers", reason="the 'dask' extra is not installed")

ESTIMATORS = [MaskedAutoencoderEmbedder, TripletEmbedder]
CHUNK = 100


@pytest.fixture(scope="module")
def client():
    # Worker processes on loopback only, as a user's laptop cluster would be.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True,
            host="127.0.0.1", dashboard_address=None,
        )
    with cluster, distributed.Client(cluster) as client:
        yield client


def _data(sparse):
    rng = np.random.RandomState(0)
    X = rng.rand(400, 12) * (rng.rand(400, 12) < 0.4)
    y = np.arange(400) % 4
    if sparse:
        X = sp.csr_matrix(X)
        # Blocks of a dask array of CSR matrices are CSR row slices.
        dX = da.from_array(X, chunks=(CHUNK, 12), asarray=False)
    else:
        dX = da.from_array(X, chunks=(CHUNK, 12))
    return X, y, dX, da.from_array(y, chunks=CHUNK)


def _in_memory_reference(Estimator, X, y):
    model = Estimator(n_components=3, random_state=0)
    for start in range(0, X.shape[0], CHUNK):
        model.partial_fit(X[start : start + CHUNK], y[start : start + CHUNK])
    return model


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_incremental_fit_on_a_cluster_matches_in_memory(client, Estimator, sparse):
    X, y, dX, dy = _data(sparse)
    incremental = wrappers.Incremental(
        Estimator(n_components=3, random_state=0), shuffle_blocks=False
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        incremental.fit(dX, dy)
    reference = _in_memory_reference(Estimator, X, y)
    np.testing.assert_allclose(
        incremental.estimator_.transform(X), reference.transform(X), rtol=1e-6, atol=1e-9
    )
    assert incremental.estimator_.n_iter_ == 4  # one partial_fit per block


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_a_filtered_dask_array_with_an_empty_block_fits_and_embeds(client, Estimator):
    # Boolean filtering leaves blocks of unknown size, here one of them empty:
    # it trains nothing and embeds to no rows, as the README says.
    X, y, dX, dy = _data(sparse=False)
    keep = np.ones(X.shape[0], dtype=bool)
    keep[CHUNK : 2 * CHUNK] = False
    dkeep = da.from_array(keep, chunks=CHUNK)
    dX_kept, dy_kept = dX[dkeep], dy[dkeep]
    incremental = wrappers.Incremental(
        Estimator(n_components=3, random_state=0), shuffle_blocks=False
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        incremental.fit(dX_kept, dy_kept)
    reference = _in_memory_reference(Estimator, X[keep], y[keep])
    model = incremental.estimator_
    np.testing.assert_allclose(model.transform(X), reference.transform(X), rtol=1e-6, atol=1e-9)
    Z = dX_kept.map_blocks(model.transform, chunks=(dX_kept.chunks[0], (3,)),
                           dtype=model.encoder_.dtype)
    np.testing.assert_array_equal(Z.compute(), model.transform(X[keep]))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_map_blocks_transforms_in_parallel_with_the_right_shape(client, Estimator):
    # The README's way: ParallelPostFit.transform computes the same values but
    # declares the input's width, so the result cannot be sliced.
    X, y, dX, _ = _data(sparse=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = Estimator(n_components=3, max_iter=2, random_state=0).fit(X, y)
    Z = dX.map_blocks(model.transform, chunks=(dX.chunks[0], (model.n_components,)),
                      dtype=dX.dtype)
    assert isinstance(Z, da.Array) and Z.shape == (X.shape[0], 3)
    np.testing.assert_array_equal(Z.compute(), model.transform(X))
    np.testing.assert_array_equal(Z[:, 2].compute(), model.transform(X)[:, 2])
    np.testing.assert_array_equal(
        wrappers.ParallelPostFit(model).transform(dX).compute(), model.transform(X)
    )


def test_recommendations_for_a_whole_catalog_on_a_cluster(client):
    # dask_ml's ParallelPostFit.predict assumes one prediction per row (it
    # drops axis 1), so the batch job is dask.array.map_blocks with the output
    # chunks stated: one block of queries in, one block of id rows out.
    from sk_prodembed import NearestNeighborRecommender

    X, y, dX, _ = _data(sparse=False)
    item_ids = np.arange(400) * 3
    recommender = NearestNeighborRecommender(5).fit(X, y, item_ids=item_ids)

    by_rows = dX.map_blocks(
        recommender.predict, chunks=(dX.chunks[0], (5,)), dtype=item_ids.dtype
    )
    np.testing.assert_array_equal(by_rows.compute(), recommender.predict(X))

    # Every item's recommendations, itself excluded: blocks of ids.
    ids = da.from_array(item_ids, chunks=CHUNK)
    by_ids = ids.map_blocks(
        lambda block: recommender.recommend_for_items(block)[0],
        new_axis=1, chunks=(ids.chunks[0], (5,)), dtype=item_ids.dtype,
    )
    expected = recommender.predict(X, exclude_self=True)
    np.testing.assert_array_equal(by_ids.compute(), expected)
    assert not (expected == item_ids[:, None]).any()
