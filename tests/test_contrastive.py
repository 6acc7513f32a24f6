import numpy as np
from _gradients import batch_loss_and_gradient, objective_gradient_error
import pytest
import scipy.sparse as sp
from scipy.optimize import check_grad

import sk_prodembed._contrastive as contrastive
from sk_prodembed._contrastive import (
    TripletObjective,
    l2_normalize,
    l2_normalize_backward,
    leave_one_out_precision,
    nt_xent_loss,
    batch_distances,
    triplet_margin_loss,
)
from sk_prodembed._miners import MINERS
from sk_prodembed._network import MLP

METRICS = ["cosine", "euclidean"]


def _embeddings(metric, n=12, dim=5, seed=0):
    E = np.random.RandomState(seed).randn(n, dim)
    return l2_normalize(E)[0] if metric == "cosine" else E


def _labels(n=12):
    return np.array([0, 0, 0, 1, 1, 1, 2, 2, -1, 3, 1, -1])[:n]


def _distance(a, b, metric):
    return 1 - a @ b if metric == "cosine" else np.linalg.norm(a - b)


@pytest.mark.parametrize("metric", METRICS)
def test_batch_distances_match_a_loop(metric):
    E = _embeddings(metric)
    D = batch_distances(E, metric)
    expected = [[_distance(a, b, metric) for b in E] for a in E]
    np.testing.assert_allclose(D, expected, atol=1e-10)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("margin", [None, 0.3])
def test_triplet_loss_value_matches_a_loop(metric, margin):
    E = _embeddings(metric)
    triples = MINERS["batch_all"](batch_distances(E, metric), _labels(), None)
    loss, _ = triplet_margin_loss(E, triples, metric, margin)
    terms = []
    for a, p, n in zip(*triples):
        difference = _distance(E[a], E[p], metric) - _distance(E[a], E[n], metric)
        if margin is None:
            terms.append(np.log1p(np.exp(difference)))
        else:
            terms.append(max(difference + margin, 0))
    assert len(terms) > 10
    assert loss == pytest.approx(np.mean(terms))


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("margin", [None, 0.3])
@pytest.mark.parametrize("miner", sorted(MINERS))
def test_triplet_loss_gradient_matches_numerical_gradient(metric, margin, miner):
    E0 = _embeddings(metric)
    # The triples are fixed: the loss is then a smooth function of E
    # (away from the hinge's kink, which random data avoids).
    triples = MINERS[miner](batch_distances(E0, metric), _labels(), margin)
    assert len(triples[0]) > 0

    def loss(flat):
        return triplet_margin_loss(flat.reshape(E0.shape), triples, metric, margin)[0]

    def grad(flat):
        return triplet_margin_loss(flat.reshape(E0.shape), triples, metric, margin)[1].ravel()

    assert np.abs(grad(E0.ravel())).max() > 1e-3
    assert check_grad(loss, grad, E0.ravel()) < 1e-6


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("miner", sorted(MINERS))
@pytest.mark.parametrize("coefficients", ["sparse", "dense"])
def test_triplet_loss_gradient_through_sparse_and_dense_coefficients(
    metric, miner, coefficients, monkeypatch
):
    # Few pairs go through a sparse coefficient matrix, many through a dense
    # one; force each path on the same triples and check both numerically.
    fraction = 1 if coefficients == "sparse" else 10**9
    monkeypatch.setattr(contrastive, "_DENSE_PAIRS_FRACTION", fraction)
    E0 = _embeddings(metric, n=40, dim=6, seed=3)
    labels = np.repeat(np.arange(10), 4)
    triples = MINERS[miner](batch_distances(E0, metric), labels, 0.3)
    # Repeated pairs must add up in either form of the coefficients.
    triples = tuple(np.concatenate([t, t[:5]]) for t in triples)

    def loss(flat):
        return triplet_margin_loss(flat.reshape(E0.shape), triples, metric, 0.3)[0]

    def grad(flat):
        return triplet_margin_loss(flat.reshape(E0.shape), triples, metric, 0.3)[1].ravel()

    assert np.abs(grad(E0.ravel())).max() > 1e-3
    assert check_grad(loss, grad, E0.ravel()) < 1e-6


def test_euclidean_gradient_is_finite_for_repeated_rows():
    E = _embeddings("euclidean", n=3)
    E[1] = E[0]
    triples = (np.array([0, 1]), np.array([1, 0]), np.array([2, 2]))
    loss, grad = triplet_margin_loss(E, triples, "euclidean", 10.0)
    assert np.isfinite(loss) and np.all(np.isfinite(grad))


def test_triplet_loss_without_triples_is_zero():
    E = _embeddings("cosine")
    empty = np.empty(0, dtype=np.intp)
    loss, grad = triplet_margin_loss(E, (empty, empty, empty), "cosine", 0.1)
    assert loss == 0.0 and not grad.any() and grad.shape == E.shape


def test_l2_normalize_gradient_matches_numerical_gradient():
    rng = np.random.RandomState(0)
    Z0 = rng.randn(6, 4)
    weights = rng.randn(6, 4)

    def loss(flat):
        return float((l2_normalize(flat.reshape(Z0.shape))[0] * weights).sum())

    def grad(flat):
        E, norms = l2_normalize(flat.reshape(Z0.shape))
        return l2_normalize_backward(E, norms, weights.copy()).ravel()

    assert check_grad(loss, grad, Z0.ravel()) < 1e-6


def test_nt_xent_value_matches_a_loop():
    E = _embeddings("cosine", n=8)
    temperature = 0.5
    loss, _ = nt_xent_loss(E, temperature)
    terms = []
    for i in range(8):
        partner = (i + 4) % 8
        logits = {j: E[i] @ E[j] / temperature for j in range(8) if j != i}
        log_normaliser = np.log(sum(np.exp(v) for v in logits.values()))
        terms.append(log_normaliser - logits[partner])
    assert loss == pytest.approx(np.mean(terms))


def test_nt_xent_gradient_matches_numerical_gradient():
    E0 = _embeddings("cosine", n=8)

    def loss(flat):
        return nt_xent_loss(flat.reshape(E0.shape), 0.2)[0]

    def grad(flat):
        return nt_xent_loss(flat.reshape(E0.shape), 0.2)[1].ravel()

    assert check_grad(loss, grad, E0.ravel()) < 1e-6


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_losses_keep_the_dtype_of_the_embeddings(dtype):
    E = _embeddings("cosine").astype(dtype)
    triples = MINERS["batch_hard"](batch_distances(E, "cosine"), _labels(), 0.1)
    assert triplet_margin_loss(E, triples, "cosine", 0.1)[1].dtype == dtype
    assert nt_xent_loss(E, 0.1)[1].dtype == dtype


def test_leave_one_out_precision_matches_a_loop():
    rng = np.random.RandomState(0)
    E = rng.randn(30, 3)
    labels = rng.randint(-1, 3, size=30)
    k = 4
    labeled = np.flatnonzero(labels != -1)
    shares = []
    for i in labeled:
        others = [j for j in labeled if j != i]
        nearest = sorted(others, key=lambda j: np.linalg.norm(E[i] - E[j]))[:k]
        shares.append(np.mean(labels[nearest] == labels[i]))
    expected = np.mean(shares)
    assert leave_one_out_precision(E, labels, "euclidean", k=k) == pytest.approx(expected)
    assert np.isnan(leave_one_out_precision(E, np.full(30, -1), "euclidean"))


def _objective(metric, miner, margin, seed=0, unlabeled_weight=0.7):
    rng = np.random.RandomState(seed)
    encoder = MLP.initialize([10, 6, 4], "tanh", "tanh", np.float64, rng)
    return TripletObjective(
        encoder, metric=metric, miner=miner, margin=margin, mask_ratio=0.3,
        corruption="zero", temperature=0.5, unlabeled_weight=unlabeled_weight, alpha=0.1,
    )


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize(
    "miner, margin", [("batch_hard", 0.5), ("semi_hard", None), ("batch_all", 0.5)]
)
@pytest.mark.parametrize("sparse", [False, True])
def test_objective_gradient_matches_numerical_gradient(metric, miner, margin, sparse):
    rng = np.random.RandomState(1)
    X = rng.rand(14, 10) * (rng.rand(14, 10) < 0.6)
    X = sp.csr_matrix(X) if sparse else X
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 2, 5, -1, -1, -1, -1, -1])
    objective = _objective(metric, miner, margin)
    error, scale = objective_gradient_error(objective, X, labels)
    assert error < 1e-5 * scale


def _mixed_batch_terms(unlabeled_weight):
    """Loss and gradients (without the L2 penalty) of a batch of 6 labeled and 6
    unlabeled rows, of its labeled half and of its unlabeled half, on the same masks."""
    X = np.random.RandomState(0).rand(12, 10)
    labels = np.array([0, 0, 0, 1, 1, 1, -1, -1, -1, -1, -1, -1])
    objective = _objective("cosine", "batch_hard", 0.5, unlabeled_weight=unlabeled_weight)
    objective.alpha = 0.0
    return [
        batch_loss_and_gradient(objective, X[rows], labels[rows], np.random.RandomState(3))
        for rows in (slice(None), slice(0, 6), slice(6, None))
    ]


def test_objective_adds_the_weighted_self_supervised_term():
    (both, _), (labeled_only, _), (unlabeled_only, _) = _mixed_batch_terms(0.25)
    # Without labeled rows the self-supervised term is the whole loss, unweighted.
    assert labeled_only > 0 and unlabeled_only > 0
    assert both == pytest.approx(labeled_only + 0.25 * unlabeled_only)


def test_zero_unlabeled_weight_gives_the_unlabeled_rows_no_loss_and_no_gradient():
    (both, both_grads), (labeled_only, labeled_grads), (alone, alone_grads) = (
        _mixed_batch_terms(0.0)
    )
    assert both == pytest.approx(labeled_only) and labeled_only > 0
    for grad, expected in zip(both_grads, labeled_grads):
        np.testing.assert_allclose(grad, expected, atol=1e-12)
    # Not even a batch of unlabeled rows alone trains the term.
    assert alone == 0 and all(not np.any(grad) for grad in alone_grads)


def test_validation_score_is_precision_or_self_supervised_loss():
    rng = np.random.RandomState(0)
    X = rng.rand(40, 10)
    labels = np.repeat([0, 1, 2, 3], 10)
    objective = _objective("cosine", "batch_hard", 0.5)
    score = objective.validation_score(X, labels)
    assert 0 <= score <= 1
    unlabeled_score = objective.validation_score(X, np.full(40, -1))
    assert unlabeled_score < 0
    assert unlabeled_score == objective.validation_score(X, np.full(40, -1))


@pytest.mark.parametrize("sparse", [False, True])
def test_proxy_objective_gradient_matches_numerical_gradient(sparse):
    # The proxies are the objective's last parameter; labeled rows train the
    # normalised-softmax loss, unlabeled ones NT-Xent, as with triplets.
    from sk_prodembed._proxies import initial_proxies

    rng = np.random.RandomState(1)
    X = rng.rand(14, 10) * (rng.rand(14, 10) < 0.6)
    X = sp.csr_matrix(X) if sparse else X
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 2, 3, -1, -1, -1, -1, -1])
    objective = _objective("cosine", "batch_hard", 0.5)
    objective.proxies = initial_proxies(4, 4, np.float64, rng)
    objective.proxy_temperature = 0.5
    assert objective.params[-1] is objective.proxies
    error, scale = objective_gradient_error(objective, X, labels)
    assert error < 1e-5 * scale
