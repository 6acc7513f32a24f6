import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import check_grad

from sk_prodembed._network import MLP, _squared_row_norms, unit_input_scale


def _network(layer_sizes, hidden, output, seed=0, dtype=np.float64, input_scale=1.0):
    return MLP.initialize(
        layer_sizes, hidden, output, dtype, np.random.RandomState(seed), input_scale
    )


def _flatten(arrays):
    return np.concatenate([a.ravel() for a in arrays])


def _unflatten_into(network, theta):
    offset = 0
    for param in network.params:
        param[...] = theta[offset : offset + param.size].reshape(param.shape)
        offset += param.size


@pytest.mark.parametrize("hidden", ["tanh", "relu", "identity"])
@pytest.mark.parametrize("output", ["tanh", "identity"])
@pytest.mark.parametrize("input_scale", [1.0, 0.25, 3.0])
def test_backward_matches_numerical_gradient(hidden, output, input_scale):
    rng = np.random.RandomState(0)
    X = rng.randn(7, 5)
    target = rng.randn(7, 3)
    network = _network([5, 4, 6, 3], hidden, output, input_scale=input_scale)

    def loss(theta):
        _unflatten_into(network, theta)
        return 0.5 * np.sum((network.predict(X) - target) ** 2)

    def grad(theta):
        _unflatten_into(network, theta)
        outputs = network.forward(X)
        grads, _ = network.backward(outputs, outputs[-1] - target)
        return _flatten(grads)

    theta0 = _flatten(network.params)
    assert check_grad(loss, grad, theta0) < 1e-5 * max(1, np.linalg.norm(grad(theta0)))


@pytest.mark.parametrize("input_scale", [1.0, 0.25, 3.0])
def test_input_gradient_matches_numerical_gradient(input_scale):
    rng = np.random.RandomState(1)
    X = rng.randn(4, 5)
    network = _network([5, 3, 2], "tanh", "tanh", input_scale=input_scale)
    weights = rng.randn(4, 2)

    def loss(x):
        return np.sum(network.predict(x.reshape(X.shape)) * weights)

    def grad(x):
        outputs = network.forward(x.reshape(X.shape))
        _, input_grad = network.backward(outputs, weights.copy(), need_input_grad=True)
        return input_grad.ravel()

    assert check_grad(loss, grad, X.ravel()) < 1e-6


def test_sparse_input_matches_dense():
    rng = np.random.RandomState(0)
    X = sp.random(20, 30, density=0.2, format="csr", random_state=rng)
    network = _network([30, 8, 4], "relu", "tanh")
    dense_outputs = network.forward(X.toarray())
    sparse_outputs = network.forward(X)
    np.testing.assert_allclose(sparse_outputs[-1], dense_outputs[-1], rtol=1e-12)
    delta = rng.randn(20, 4)
    dense_grads, _ = network.backward(dense_outputs, delta.copy())
    sparse_grads, _ = network.backward(sparse_outputs, delta.copy())
    for g_dense, g_sparse in zip(dense_grads, sparse_grads):
        assert isinstance(g_sparse, np.ndarray)
        np.testing.assert_allclose(g_sparse, g_dense, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(dtype):
    network = _network([6, 5, 3], "tanh", "identity", dtype=dtype)
    X = np.random.RandomState(0).rand(4, 6).astype(dtype)
    outputs = network.forward(X)
    grads, input_grad = network.backward(outputs, np.ones((4, 3), dtype), need_input_grad=True)
    assert all(p.dtype == dtype for p in network.params)
    assert outputs[-1].dtype == dtype
    assert all(g.dtype == dtype for g in grads)
    assert input_grad.dtype == dtype


def test_glorot_initialisation_bounds():
    network = _network([100, 50], "tanh", "tanh")
    bound = np.sqrt(6 / 150)
    assert np.abs(network.coefs[0]).max() <= bound
    assert np.abs(network.coefs[0]).max() > 0.9 * bound
    assert not network.intercepts[0].any()


def test_identity_network_without_hidden_layer_is_linear():
    network = _network([4, 2], "identity", "identity")
    X = np.random.RandomState(0).randn(3, 4)
    np.testing.assert_allclose(network.predict(X), X @ network.coefs[0])


def test_l2_penalty_value_and_gradient():
    network = _network([3, 2, 2], "tanh", "identity")
    grads = [np.zeros_like(p) for p in network.params]
    value = network.add_l2_penalty(grads, alpha=0.5, n_samples=4)
    expected = 0.5 * 0.5 / 4 * sum(np.sum(W**2) for W in network.coefs)
    assert value == pytest.approx(expected)
    for W, g in zip(network.coefs, grads):
        np.testing.assert_allclose(g, 0.5 / 4 * W)
    for g in grads[len(network.coefs) :]:
        assert not g.any()


def test_copy_is_independent():
    network = _network([3, 2], "tanh", "tanh", input_scale=0.5)
    clone = network.copy()
    clone.coefs[0] += 1
    assert not np.allclose(clone.coefs[0], network.coefs[0])
    assert clone.input_scale == 0.5


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_input_scale_is_the_network_of_the_scaled_input(sparse, dtype):
    # A power of two scales exactly: outputs and gradients are those of the
    # unscaled network on X * scale, bit for bit, in X's dtype.
    rng = np.random.RandomState(0)
    X = sp.random(9, 12, density=0.3, format="csr", random_state=rng, dtype=dtype)
    X = X if sparse else X.toarray()
    scaled = _network([12, 5, 3], "tanh", "identity", dtype=dtype, input_scale=2.0**-7)
    plain = scaled.copy()
    plain.input_scale = 1.0
    outputs, expected = scaled.forward(X), plain.forward(X * 2.0**-7)
    assert outputs[-1].dtype == dtype
    np.testing.assert_array_equal(outputs[-1], expected[-1])
    delta = rng.randn(9, 3).astype(dtype)
    grads, input_grad = scaled.backward(outputs, delta.copy(), need_input_grad=True)
    plain_grads, plain_input_grad = plain.backward(expected, delta.copy(), need_input_grad=True)
    for grad, plain_grad in zip(grads, plain_grads):
        np.testing.assert_array_equal(grad, plain_grad)
    np.testing.assert_array_equal(input_grad, plain_input_grad * 2.0**-7)


def test_a_network_pickled_before_input_scale_reads_its_input_unscaled():
    network = _network([4, 2], "identity", "identity")
    del network.__dict__["input_scale"]  # as unpickled from an older version
    X = np.random.RandomState(0).randn(3, 4)
    assert network.input_scale == 1.0
    np.testing.assert_allclose(network.predict(X), X @ network.coefs[0])
    assert network.copy().input_scale == 1.0


def test_unit_input_scale_brings_the_rms_row_norm_near_one():
    rng = np.random.RandomState(0)
    X = rng.rand(50, 8)
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    assert unit_input_scale(unit) == 1.0
    assert unit_input_scale(sp.csr_matrix(unit)) == 1.0
    for factor in [1e-9, 1e-3, 3.0, 1e6, 1e30]:
        scale = unit_input_scale(X * factor)
        assert np.log2(scale) == int(np.log2(scale))  # a power of two
        rms = np.sqrt(np.mean(np.sum((X * factor * scale) ** 2, axis=1)))
        assert 2**-0.5 <= rms <= 2**0.5
        assert unit_input_scale(sp.csr_matrix(X * factor)) == scale


def test_unit_input_scale_ignores_empty_rows_and_missing_entries():
    rng = np.random.RandomState(0)
    X = rng.rand(40, 6)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    X *= 64.0
    scale = unit_input_scale(X)
    assert scale == 1 / 64
    padded = np.vstack([X, np.zeros((400, 6))])  # mostly empty texts
    assert unit_input_scale(padded) == scale
    assert unit_input_scale(sp.csr_matrix(padded)) == scale
    missing = X.copy()
    missing[::2, 0] = np.nan
    assert unit_input_scale(missing) == scale
    assert unit_input_scale(np.zeros((5, 3))) == 1.0
    assert unit_input_scale(sp.csr_matrix((5, 3))) == 1.0


@pytest.mark.parametrize("sparse", [False, True])
def test_squared_row_norms_read_in_blocks_equal_one_pass(sparse):
    X = sp.random(37, 11, density=0.4, format="csr", random_state=0)
    X = X if sparse else X.toarray()
    expected = np.asarray(X.multiply(X).sum(axis=1)).ravel() if sparse else np.sum(X**2, axis=1)
    np.testing.assert_allclose(_squared_row_norms(X, block_values=5), expected, rtol=1e-12)
    np.testing.assert_allclose(_squared_row_norms(X), expected, rtol=1e-12)


@pytest.mark.parametrize("column_major_output", [False, True])
def test_indexed_gradients_equal_the_dense_ones(column_major_output):
    # Sparse input: the first layer's gradient covers the stored features
    # only; output_columns: the last layer's covers those columns only. Dense
    # equivalents, with zeros elsewhere, must be the same numbers.
    from _gradients import densify

    from sk_prodembed._indexed import IndexedGradient

    rng = np.random.RandomState(0)
    X = sp.random(8, 30, density=0.1, format="csr", random_state=1)
    network = MLP.initialize([30, 4, 25], "tanh", "identity", np.float64, rng)
    if column_major_output:
        network.store_output_columns_contiguously()
    assert network.coefs[-1].flags.f_contiguous == column_major_output
    columns = np.array([20, 3, 7, 11])
    outputs = network.forward(X, output_columns=columns)
    output_grad = rng.randn(8, 4)
    touched = network.touched_slices(X, output_columns=columns)
    dense, _ = network.backward(outputs, output_grad.copy(), output_columns=columns)
    indexed, _ = network.backward(
        outputs, output_grad.copy(), output_columns=columns, touched=touched
    )
    assert isinstance(indexed[0], IndexedGradient)  # first layer, sparse input
    np.testing.assert_array_equal(indexed[0].index, np.unique(X.indices))
    assert isinstance(indexed[1], IndexedGradient)  # last layer, output columns
    assert isinstance(indexed[3], IndexedGradient)  # last layer's intercept
    for d, i, param in zip(dense, indexed, network.params):
        np.testing.assert_allclose(densify(i, param), d, rtol=1e-12, atol=1e-15)

    # The lazy L2 penalty covers the touched slices only.
    penalty = network.add_l2_penalty(indexed, alpha=0.5, n_samples=8)
    W0, W1 = network.coefs
    rows, cols = np.unique(X.indices), columns
    expected = 0.5 * 0.5 / 8 * (np.sum(W0[rows] ** 2) + np.sum(W1[:, cols] ** 2))
    assert penalty == pytest.approx(expected)
    np.testing.assert_allclose(indexed[0].values - dense[0][rows], 0.5 / 8 * W0[rows])


def test_touched_slices_are_the_indexed_gradients_of_backward():
    # One list says which slices a batch touches: backward returns exactly
    # those as IndexedGradient, with the same positions and axes.
    rng = np.random.RandomState(0)
    X = sp.random(8, 30, density=0.1, format="csr", random_state=1)
    network = MLP.initialize([30, 4, 25], "tanh", "identity", np.float64, rng)
    columns = np.array([20, 3, 7, 11])
    touched = network.touched_slices(X, output_columns=columns)
    outputs = network.forward(X, output_columns=columns)
    grads, _ = network.backward(
        outputs, rng.randn(8, 4), output_columns=columns, touched=touched
    )
    assert [slices is None for slices in touched] == [
        isinstance(grad, np.ndarray) for grad in grads
    ] == [False, False, True, False]
    for slices, grad in zip(touched, grads):
        if slices is not None:
            assert grad.axis == slices.axis
            np.testing.assert_array_equal(grad.index, slices.index)
    # Dense input and no output columns: nothing is touched lazily.
    assert network.touched_slices(X.toarray()) == [None] * 4


def test_unit_input_scale_stays_within_the_dtype():
    X = np.random.RandomState(0).rand(10, 4).astype(np.float32) * np.float32(1e-39)
    assert unit_input_scale(X) == 2.0**127  # the unit scale would be inf in float32
    assert np.isfinite(X * unit_input_scale(X)).all()
    wide = X.astype(np.float64)
    scale = unit_input_scale(wide)  # float64 holds it
    assert scale > 2.0**127
    assert 2**-0.5 <= np.sqrt(np.mean(np.sum((wide * scale) ** 2, axis=1))) <= 2**0.5
