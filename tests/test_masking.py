import numpy as np
import pytest
import scipy.sparse as sp

from sk_prodembed._masking import corrupt


def _dense(seed=0):
    return np.random.RandomState(seed).rand(400, 50) + 1  # no zeros


def test_zero_masking_hides_the_requested_fraction():
    X = _dense()
    X_corrupted = corrupt(X, 0.3, "zero", np.random.RandomState(0))
    assert np.mean(X_corrupted == 0) == pytest.approx(0.3, abs=0.01)
    kept = X_corrupted != 0
    np.testing.assert_array_equal(X_corrupted[kept], X[kept])


def test_marginal_masking_draws_from_the_same_column():
    X = np.tile(np.arange(50, dtype=float), (400, 1))
    X += np.random.RandomState(0).randint(0, 3, size=X.shape) * 100  # 3 values per column
    X_corrupted = corrupt(X, 0.5, "marginal", np.random.RandomState(0))
    for j in range(X.shape[1]):
        assert set(X_corrupted[:, j]) <= set(X[:, j])
    assert np.mean(X_corrupted != X) > 0.2


def test_caller_data_is_not_written():
    X = _dense()
    X_sparse = sp.csr_matrix(X)
    before, before_sparse = X.copy(), X_sparse.copy()
    for corruption in ("zero", "marginal"):
        corrupt(X, 0.5, corruption, np.random.RandomState(0))
        corrupt(X_sparse, 0.5, corruption, np.random.RandomState(0))
    np.testing.assert_array_equal(X, before)
    np.testing.assert_array_equal(X_sparse.toarray(), before_sparse.toarray())


def test_sparse_masking_only_touches_stored_entries():
    X = sp.random(300, 40, density=0.1, format="csr", random_state=0) + 0  # CSR copy
    X_corrupted = corrupt(X, 0.5, "zero", np.random.RandomState(1))
    assert sp.issparse(X_corrupted) and X_corrupted.format == "csr"
    assert X_corrupted.nnz == pytest.approx(0.5 * X.nnz, rel=0.1)
    # Every surviving entry is an original one.
    diff = X_corrupted.multiply(X_corrupted != X)
    assert diff.nnz == 0


def test_sparse_marginal_uses_values_of_the_same_column():
    X = sp.random(200, 20, density=0.5, format="csr", random_state=0)
    X_corrupted = corrupt(X, 0.5, "marginal", np.random.RandomState(0)).toarray()
    dense = X.toarray()
    for j in range(20):
        assert set(X_corrupted[:, j]) <= set(dense[:, j]) | {0.0}


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_and_determinism(sparse, dtype):
    X = _dense().astype(dtype)
    if sparse:
        X = sp.csr_matrix(X)
    a = corrupt(X, 0.4, "marginal", np.random.RandomState(3))
    b = corrupt(X, 0.4, "marginal", np.random.RandomState(3))
    assert a.dtype == dtype
    if sparse:
        a, b = a.toarray(), b.toarray()
    np.testing.assert_array_equal(a, b)


def test_unknown_corruption():
    with pytest.raises(ValueError, match="gaussian"):
        corrupt(_dense(), 0.5, "gaussian", np.random.RandomState(0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zero_masking_is_the_same_for_dense_and_sparse_forms(dtype):
    # Only stored (non-zero) entries draw a mask, in row-major order, so a
    # model trains identically on the dense and CSR forms of the same data.
    X = sp.random(300, 40, density=0.2, format="csr", random_state=0, dtype=dtype)
    dense = corrupt(X.toarray(), 0.5, "zero", np.random.RandomState(7))
    sparse = corrupt(X, 0.5, "zero", np.random.RandomState(7))
    assert dense.dtype == sparse.dtype == dtype
    np.testing.assert_array_equal(dense, sparse.toarray())
    assert 0.4 < sparse.nnz / X.nnz < 0.6


@pytest.mark.parametrize("mask_ratio", [0.0, 1e-7, 0.3, 1 - 1e-7])
def test_mask_probability_is_the_ratio_at_16_bit_resolution(mask_ratio):
    from sk_prodembed._masking import _random_mask

    hidden = _random_mask((2000, 1000), mask_ratio, np.random.RandomState(0))
    # A positive ratio hides something and a ratio below one keeps something,
    # however close to 0 or 1; otherwise the share is the ratio within the
    # sampling error and the 2**-16 resolution.
    share = hidden.mean()
    if mask_ratio == 0:
        assert share == 0
    else:
        assert 0 < share < 1
        assert abs(share - mask_ratio) < 5 * np.sqrt(0.25 / hidden.size) + 2**-16
