import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import check_grad

from sk_prodembed._losses import multinomial_log_likelihood, squared_error

rng = np.random.RandomState(0)
TARGET = np.abs(rng.randn(5, 6)) * (rng.rand(5, 6) < 0.5)
TARGET[3] = 0  # an empty row contributes nothing
OUTPUT = rng.randn(5, 6)
OBSERVED = rng.rand(5, 6) < 0.8


@pytest.mark.parametrize("loss_function", [squared_error, multinomial_log_likelihood])
@pytest.mark.parametrize("observed", [None, OBSERVED])
def test_gradient_matches_numerical_gradient(loss_function, observed):
    def loss(z):
        return loss_function(TARGET, z.reshape(OUTPUT.shape), observed)[0]

    def grad(z):
        return loss_function(TARGET, z.reshape(OUTPUT.shape), observed)[1].ravel()

    assert check_grad(loss, grad, OUTPUT.ravel()) < 1e-6


@pytest.mark.parametrize("loss_function", [squared_error, multinomial_log_likelihood])
def test_sparse_target_matches_dense(loss_function):
    dense_loss, dense_grad = loss_function(TARGET, OUTPUT.copy())
    sparse_loss, sparse_grad = loss_function(sp.csr_matrix(TARGET), OUTPUT.copy())
    assert sparse_loss == pytest.approx(dense_loss, rel=1e-12)
    np.testing.assert_allclose(sparse_grad, dense_grad, atol=1e-14)


def test_squared_error_definition():
    loss, _ = squared_error(TARGET, OUTPUT)
    assert loss == pytest.approx(0.5 * np.sum((OUTPUT - TARGET) ** 2) / 5)


def test_multinomial_definition_brute_force():
    loss, _ = multinomial_log_likelihood(TARGET, OUTPUT)
    expected = 0.0
    for target_row, logits in zip(TARGET, OUTPUT):
        if target_row.sum() == 0:
            continue
        log_probs = logits - np.log(np.sum(np.exp(logits)))
        expected -= np.sum(target_row / target_row.sum() * log_probs)
    assert loss == pytest.approx(expected / 5)


def test_multinomial_is_scale_free_and_stable():
    loss, grad = multinomial_log_likelihood(TARGET, OUTPUT)
    scaled_loss, _ = multinomial_log_likelihood(10 * TARGET, OUTPUT)
    assert scaled_loss == pytest.approx(loss)
    huge_loss, huge_grad = multinomial_log_likelihood(TARGET, 1e4 * OUTPUT)
    assert np.isfinite(huge_loss) and np.isfinite(huge_grad).all()


@pytest.mark.parametrize("loss_function", [squared_error, multinomial_log_likelihood])
def test_unobserved_entries_change_neither_loss_nor_gradient(loss_function):
    # Whatever the target and the output hold at unobserved entries, they
    # count for nothing and get no gradient.
    junk = np.where(OBSERVED, TARGET, 7.0)
    noisy_output = np.where(OBSERVED, OUTPUT, -3.0)
    loss, grad = loss_function(TARGET * OBSERVED, OUTPUT.copy(), OBSERVED)
    junk_loss, junk_grad = loss_function(junk, noisy_output, OBSERVED)
    assert junk_loss == pytest.approx(loss)
    np.testing.assert_allclose(junk_grad, grad)
    assert not grad[~OBSERVED].any()


def test_squared_error_with_missing_entries_brute_force():
    loss, _ = squared_error(TARGET, OUTPUT.copy(), OBSERVED)
    expected = sum(
        0.5 * (OUTPUT[i, j] - TARGET[i, j]) ** 2
        for i in range(5) for j in range(6) if OBSERVED[i, j]
    )
    assert loss == pytest.approx(expected / 5)


def test_multinomial_row_with_nothing_observed():
    observed = OBSERVED.copy()
    observed[0] = False
    loss, grad = multinomial_log_likelihood(TARGET, OUTPUT.copy(), observed)
    assert np.isfinite(loss) and np.isfinite(grad).all()
    assert not grad[0].any()


@pytest.mark.parametrize("loss_function", [squared_error, multinomial_log_likelihood])
def test_float32_stays_float32(loss_function):
    _, grad = loss_function(TARGET.astype(np.float32), OUTPUT.astype(np.float32))
    assert grad.dtype == np.float32
