import numpy as np
import pytest
import scipy.sparse as sp

from sk_prodembed._centroids import (
    class_centroid_directions,
    class_means,
    initialize_from_centroids,
    leading_right_singular_vectors,
)


def _rows(n_per_class=20, n_classes=4, n_features=30, seed=0):
    """Sparse non-negative rows whose class shifts a block of 5 features."""
    rng = np.random.RandomState(seed)
    labels = np.repeat(np.arange(n_classes), n_per_class)
    X = rng.uniform(0, 0.3, (labels.size, n_features)) * (rng.rand(labels.size, n_features) < 0.2)
    for c in range(n_classes):
        X[labels == c, 5 * c : 5 * c + 5] += rng.uniform(0.5, 1.0, (n_per_class, 5))
    return sp.csr_matrix(X), labels


def _centroids(X, labels):
    X = X.toarray() if sp.issparse(X) else X
    return np.array([X[labels == c].mean(axis=0) for c in np.unique(labels[labels >= 0])])


def test_directions_span_the_class_centroids_and_are_orthogonal():
    X, labels = _rows()
    directions = class_centroid_directions(X, labels, n_directions=8, random_state=0)
    assert directions.shape == (30, 4)  # the 4 centroids span 4 directions, not 8
    gram = directions.T @ directions
    np.testing.assert_allclose(gram, gram[0, 0] * np.eye(4), atol=1e-10)
    basis = directions / np.sqrt(gram[0, 0])
    M = _centroids(X, labels)
    np.testing.assert_allclose(M @ basis @ basis.T, M, atol=1e-10)


def test_fewer_directions_than_classes_keep_the_leading_ones():
    X, labels = _rows(n_classes=5)
    directions = class_centroid_directions(X, labels, n_directions=2, random_state=0)
    basis = directions / np.linalg.norm(directions, axis=0)
    leading = np.linalg.svd(_centroids(X, labels), full_matrices=False)[2][:2].T
    # The same subspace as the exact SVD's two leading singular vectors.
    np.testing.assert_allclose(np.abs(basis.T @ leading), np.eye(2), atol=1e-6)


def test_projection_of_a_labeled_row_has_unit_rms_norm():
    X, labels = _rows()
    directions = class_centroid_directions(5.0 * X, labels, n_directions=4, random_state=0)
    projected = (5.0 * X) @ directions
    np.testing.assert_allclose(np.sqrt(np.mean(np.sum(projected**2, axis=1))), 1.0)


def test_projection_is_a_nearest_centroid_classifier_on_held_out_rows():
    X, labels = _rows(seed=0)
    X_test, labels_test = _rows(seed=1)
    directions = class_centroid_directions(X, labels, n_directions=4, random_state=0)
    Z, Z_test = X @ directions, X_test @ directions
    centres = np.array([Z[labels == c].mean(axis=0) for c in range(4)])
    distances = ((Z_test[:, None, :] - centres[None]) ** 2).sum(axis=2)
    assert np.mean(distances.argmin(axis=1) == labels_test) > 0.95


def test_unlabeled_rows_are_left_out():
    X, labels = _rows()
    partly = labels.copy()
    partly[::3] = -1
    with_unlabeled = class_centroid_directions(X, partly, 4, random_state=0)
    only_labeled = class_centroid_directions(X[partly >= 0], partly[partly >= 0], 4, random_state=0)
    np.testing.assert_allclose(with_unlabeled, only_labeled, atol=1e-12)


def test_sparse_and_dense_input_give_the_same_directions():
    X, labels = _rows()
    sparse = class_centroid_directions(X, labels, 3, random_state=0)
    dense = class_centroid_directions(X.toarray(), labels, 3, random_state=0)
    np.testing.assert_allclose(np.abs(sparse.T @ dense), np.abs(sparse.T @ sparse), atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_directions_keep_the_input_dtype(dtype):
    X, labels = _rows()
    assert class_centroid_directions(X.astype(dtype), labels, 4, 0).dtype == dtype


def test_no_labeled_row_or_only_empty_rows_give_none():
    X, labels = _rows()
    assert class_centroid_directions(X, np.full_like(labels, -1), 4, 0) is None
    assert class_centroid_directions(sp.csr_matrix(X.shape), labels, 4, 0) is None


def test_initialized_network_starts_at_the_directions_and_glorot_elsewhere():
    X, labels = _rows()
    rng = np.random.RandomState(0)
    network, directions = initialize_from_centroids([30, 6], "tanh", X, labels, np.float64, rng)
    np.testing.assert_array_equal(network.coefs[0][:, :4], directions)
    bound = np.sqrt(6.0 / (30 + 6))
    rest = network.coefs[0][:, 4:]
    assert np.all(np.abs(rest) <= bound) and rest.std() > bound / 4
    np.testing.assert_array_equal(network.intercepts[0], 0)


def test_class_means_average_each_class_and_leave_absent_classes_at_zero():
    Z = np.array([[1.0, 2.0], [3.0, 4.0], [10.0, 0.0]])
    means = class_means(Z, np.array([0, 0, 2]), n_classes=4)
    np.testing.assert_array_equal(means, [[2.0, 3.0], [0.0, 0.0], [10.0, 0.0], [0.0, 0.0]])


@pytest.mark.parametrize("sparse", [True, False])
def test_gram_and_randomized_paths_find_the_same_singular_vectors(sparse):
    rng = np.random.RandomState(0)
    M = rng.rand(12, 40) * (rng.rand(12, 40) < 0.5)
    M = sp.csr_matrix(M) if sparse else M
    by_gram = leading_right_singular_vectors(M, 5, random_state=0)
    randomized = leading_right_singular_vectors(M, 5, random_state=0, gram_max_rows=0)
    exact = np.linalg.svd(M.toarray() if sparse else M, full_matrices=False)[2][:5].T
    for V in (by_gram, randomized):
        np.testing.assert_allclose(V.T @ V, np.eye(5), atol=1e-8)
        np.testing.assert_allclose(np.abs(V.T @ exact), np.eye(5), atol=1e-6)


def test_directions_of_zero_singular_value_are_left_out():
    # Three centroids, the third the sum of the first two: rank 2.
    M = np.array([[1.0, 0, 0, 2], [0, 1.0, 1, 0], [1.0, 1.0, 1, 2]])
    V = leading_right_singular_vectors(M, 3, random_state=0)
    assert V.shape == (4, 2)
    np.testing.assert_allclose(M @ V @ V.T, M, atol=1e-10)
