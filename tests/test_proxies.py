import numpy as np
import pytest
from scipy.optimize import check_grad

from sk_prodembed._normalization import l2_normalize
from sk_prodembed._proxies import initial_proxies, normalized_softmax_loss


def _problem(n=9, n_classes=4, dim=5, seed=0):
    rng = np.random.RandomState(seed)
    E = l2_normalize(rng.randn(n, dim))[0]
    labels = rng.randint(n_classes, size=n)
    proxies = rng.randn(n_classes, dim) * 2
    return E, labels, proxies


def test_loss_matches_its_definition_row_by_row():
    E, labels, proxies = _problem()
    loss, _, _ = normalized_softmax_loss(E, labels, proxies, temperature=0.3)
    expected = 0.0
    for e, c in zip(E, labels):
        cosines = [e @ p / np.linalg.norm(p) for p in proxies]
        logits = np.array(cosines) / 0.3
        expected -= logits[c] - np.log(np.sum(np.exp(logits)))
    assert loss == pytest.approx(expected / len(E))


@pytest.mark.parametrize("temperature", [0.05, 1.0])
def test_gradients_match_numerical_gradients(temperature):
    E, labels, proxies = _problem()

    def loss_of_E(flat):
        return normalized_softmax_loss(flat.reshape(E.shape), labels, proxies, temperature)[0]

    def grad_of_E(flat):
        return normalized_softmax_loss(flat.reshape(E.shape), labels, proxies, temperature)[1].ravel()

    def loss_of_P(flat):
        return normalized_softmax_loss(E, labels, flat.reshape(proxies.shape), temperature)[0]

    def grad_of_P(flat):
        return normalized_softmax_loss(E, labels, flat.reshape(proxies.shape), temperature)[2].ravel()

    scale = 1 / temperature
    assert check_grad(loss_of_E, grad_of_E, E.ravel()) < 1e-5 * scale
    assert check_grad(loss_of_P, grad_of_P, proxies.ravel()) < 1e-5 * scale


def test_loss_is_low_when_rows_point_at_their_proxy():
    _, labels, proxies = _problem()
    aligned = l2_normalize(proxies[labels])[0]
    loss, _, _ = normalized_softmax_loss(aligned, labels, proxies, temperature=0.05)
    shuffled, _, _ = normalized_softmax_loss(aligned, (labels + 1) % 4, proxies, 0.05)
    assert loss < 0.1 < shuffled


def test_float32_stays_float32_and_no_rows_give_zero():
    E, labels, proxies = _problem()
    _, grad_E, grad_P = normalized_softmax_loss(
        E.astype(np.float32), labels, proxies.astype(np.float32), 0.1
    )
    assert grad_E.dtype == grad_P.dtype == np.float32
    loss, grad_E, grad_P = normalized_softmax_loss(E[:0], labels[:0], proxies, 0.1)
    assert loss == 0 and grad_E.shape == (0, 5) and not grad_P.any()


def test_initial_proxies_are_unit_rows():
    proxies = initial_proxies(7, 3, np.float32, np.random.RandomState(0))
    assert proxies.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(proxies, axis=1), 1, rtol=1e-6)
