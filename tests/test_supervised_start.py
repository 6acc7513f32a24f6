import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import Ridge

from sk_prodembed._supervised_start import (
    class_codes,
    class_means,
    initialize_from_labels,
    ridge_directions,
    ridge_fit,
)


def _rows(n_per_class=20, n_classes=4, n_features=30, seed=0):
    """Sparse non-negative rows whose class shifts a block of 5 features."""
    rng = np.random.RandomState(seed)
    labels = np.repeat(np.arange(n_classes), n_per_class)
    X = rng.uniform(0, 0.3, (labels.size, n_features)) * (rng.rand(labels.size, n_features) < 0.2)
    for c in range(n_classes):
        block = slice(5 * c % n_features, 5 * c % n_features + 5)
        X[labels == c, block] += rng.uniform(0.5, 1.0, (n_per_class, 5))
    return sp.csr_matrix(X), labels


@pytest.mark.parametrize("sparse", [True, False])
def test_ridge_fit_converges_to_the_ridge_solution(sparse):
    X, labels = _rows()
    T = np.random.RandomState(0).standard_normal((X.shape[0], 3))
    exact = Ridge(alpha=0.5, fit_intercept=False).fit(X.toarray(), T).coef_.T
    W = ridge_fit(X if sparse else X.toarray(), T, alpha=0.5, n_steps=60)
    np.testing.assert_allclose(W, exact, atol=1e-8)


def test_ridge_fit_with_few_steps_is_a_partial_solve():
    X, labels = _rows()
    T = np.eye(4)[labels]
    exact = Ridge(alpha=1.0, fit_intercept=False).fit(X.toarray(), T).coef_.T
    errors = [np.linalg.norm(ridge_fit(X, T, 1.0, n) - exact) for n in (1, 3, 10)]
    assert errors[0] > errors[1] > errors[2]


def test_codes_are_one_hot_up_to_the_width_and_orthonormal_random_beyond():
    rng = np.random.RandomState(0)
    np.testing.assert_array_equal(class_codes(3, 8, rng), np.eye(3))
    codes = class_codes(50, 8, rng)
    assert codes.shape == (50, 8)
    np.testing.assert_allclose(codes.T @ codes, (50 / 8) * np.eye(8), atol=1e-10)
    np.testing.assert_allclose(np.mean(np.sum(codes**2, axis=1)), 1.0)


def test_projection_of_a_labeled_row_has_unit_rms_norm():
    X, labels = _rows()
    directions = ridge_directions(5.0 * X, labels, 8, np.random.RandomState(0))
    assert directions.shape == (30, 4)  # one column per class up to the width
    projected = (5.0 * X) @ directions
    np.testing.assert_allclose(np.sqrt(np.mean(np.sum(projected**2, axis=1))), 1.0, rtol=1e-6)


def test_the_penalty_follows_the_scale_of_the_rows():
    # alpha is the rows' mean squared norm, so scaling X scales W inversely
    # and the (rescaled) directions do not change.
    X, labels = _rows()
    one = ridge_directions(X, labels, 8, np.random.RandomState(0))
    ten = ridge_directions(10.0 * X, labels, 8, np.random.RandomState(0))
    np.testing.assert_allclose(10.0 * ten, one, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("n_classes, width", [(4, 8), (12, 3)])
def test_projection_classifies_held_out_rows(n_classes, width):
    X, labels = _rows(n_classes=n_classes, n_features=60, seed=0)
    X_test, labels_test = _rows(n_classes=n_classes, n_features=60, seed=1)
    directions = ridge_directions(X, labels, width, np.random.RandomState(0))
    Z, Z_test = X @ directions, X_test @ directions
    centres = np.array([Z[labels == c].mean(axis=0) for c in range(n_classes)])
    distances = ((Z_test[:, None, :] - centres[None]) ** 2).sum(axis=2)
    assert np.mean(distances.argmin(axis=1) == labels_test) > 0.9


def test_unlabeled_rows_are_left_out():
    X, labels = _rows()
    partly = labels.copy()
    partly[::3] = -1
    with_unlabeled = ridge_directions(X, partly, 4, np.random.RandomState(0))
    only_labeled = ridge_directions(X[partly >= 0], partly[partly >= 0], 4, np.random.RandomState(0))
    np.testing.assert_allclose(with_unlabeled, only_labeled, atol=1e-12)


def test_sparse_and_dense_input_give_the_same_directions():
    X, labels = _rows()
    sparse = ridge_directions(X, labels, 3, np.random.RandomState(0))
    dense = ridge_directions(X.toarray(), labels, 3, np.random.RandomState(0))
    np.testing.assert_allclose(sparse, dense, atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_directions_keep_the_input_dtype(dtype):
    X, labels = _rows()
    assert ridge_directions(X.astype(dtype), labels, 4, np.random.RandomState(0)).dtype == dtype


def test_no_labeled_row_or_only_empty_rows_give_none():
    X, labels = _rows()
    rng = np.random.RandomState(0)
    assert ridge_directions(X, np.full_like(labels, -1), 4, rng) is None
    assert ridge_directions(sp.csr_matrix(X.shape), labels, 4, rng) is None


def test_initialized_network_starts_at_the_directions_and_glorot_elsewhere():
    X, labels = _rows()
    network, directions = initialize_from_labels(
        [30, 6], "tanh", X, labels, np.float64, np.random.RandomState(0)
    )
    np.testing.assert_array_equal(network.coefs[0][:, :4], directions)
    bound = np.sqrt(6.0 / (30 + 6))
    rest = network.coefs[0][:, 4:]
    assert np.all(np.abs(rest) <= bound) and rest.std() > bound / 4
    np.testing.assert_array_equal(network.intercepts[0], 0)


def test_class_means_average_each_class_and_leave_absent_classes_at_zero():
    Z = np.array([[1.0, 2.0], [3.0, 4.0], [10.0, 0.0]])
    means = class_means(Z, np.array([0, 0, 2]), n_classes=4)
    np.testing.assert_array_equal(means, [[2.0, 3.0], [0.0, 0.0], [10.0, 0.0], [0.0, 0.0]])
