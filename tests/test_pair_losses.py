import numpy as np
import pytest
from scipy.optimize import check_grad

from sk_prodembed._contrastive import l2_normalize
from sk_prodembed._pair_losses import excluded_candidates, multiple_negatives_ranking_loss


def _embeddings(n=10, dim=4, seed=0, dtype=np.float64):
    return l2_normalize(np.random.RandomState(seed).randn(n, dim).astype(dtype))[0]


# Rows 0-9; pair (0, 1) twice and (1, 0) reversed, row 1 a popular partner.
ANCHORS = np.array([0, 2, 4, 1, 6, 0, 1])
POSITIVES = np.array([1, 3, 1, 5, 7, 1, 0])
WEIGHTS = np.array([1.0, 2.0, 0.5, 1.0, 3.0, 1.0, 0.25])
# Known partners among the rows: the batch's pairs plus (2, 5) and (8, 3),
# pairs of the training set that were not drawn into this batch.
PARTNERS = (
    np.concatenate([ANCHORS, [2, 8]]),
    np.concatenate([POSITIVES, [5, 3]]),
)


def _known(first, second):
    return {(a, b) for a, b in zip(first, second)} | {(b, a) for a, b in zip(first, second)}


def _loss_by_definition(
    E, anchors, positives, temperature, weights, partners, symmetric, log_prior=None
):
    """The loss written as its definition: one query at a time, a Python loop
    over the candidates."""
    prior = np.zeros(E.shape[0]) if log_prior is None else log_prior
    known = _known(*partners) if partners is not None else set()
    directed = list(zip(anchors, positives, weights))
    if symmetric:
        directed += list(zip(positives, anchors, weights))
    total, total_weight = 0.0, 0.0
    for query, target, weight in directed:
        candidates = [
            r
            for r in range(E.shape[0])
            if r != query and (r == target or (query, r) not in known)
        ]
        scores = np.array([E[query] @ E[r] / temperature - prior[r] for r in candidates])
        target_score = E[query] @ E[target] / temperature - prior[target]
        log_sum = np.log(np.exp(scores).sum())
        total += weight * (log_sum - target_score)
        total_weight += weight
    return total / total_weight


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("use_weights", [True, False])
@pytest.mark.parametrize("use_partners", [True, False])
def test_loss_matches_its_definition(symmetric, use_weights, use_partners):
    E = _embeddings()
    weights = WEIGHTS if use_weights else np.ones(len(ANCHORS))
    partners = PARTNERS if use_partners else None
    loss, _ = multiple_negatives_ranking_loss(
        E,
        ANCHORS,
        POSITIVES,
        temperature=0.3,
        weights=WEIGHTS if use_weights else None,
        partners=partners,
        symmetric=symmetric,
    )
    expected = _loss_by_definition(E, ANCHORS, POSITIVES, 0.3, weights, partners, symmetric)
    assert loss == pytest.approx(expected, rel=1e-12)


LOG_PRIOR = np.log(np.arange(1, 11))


def test_loss_with_log_prior_matches_its_definition():
    E = _embeddings()
    loss, _ = multiple_negatives_ranking_loss(
        E, ANCHORS, POSITIVES, temperature=0.3, weights=WEIGHTS, partners=PARTNERS,
        log_prior=LOG_PRIOR,
    )
    expected = _loss_by_definition(
        E, ANCHORS, POSITIVES, 0.3, WEIGHTS, PARTNERS, True, log_prior=LOG_PRIOR
    )
    assert loss == pytest.approx(expected, rel=1e-12)
    plain, _ = multiple_negatives_ranking_loss(
        E, ANCHORS, POSITIVES, temperature=0.3, weights=WEIGHTS, partners=PARTNERS
    )
    assert loss != pytest.approx(plain)


@pytest.mark.parametrize("log_prior", [None, LOG_PRIOR])
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("temperature", [0.05, 1.0])
def test_gradient_matches_numerical_gradient(symmetric, temperature, log_prior):
    E0 = _embeddings()

    def loss_and_grad(flat):
        return multiple_negatives_ranking_loss(
            flat.reshape(E0.shape),
            ANCHORS,
            POSITIVES,
            temperature=temperature,
            weights=WEIGHTS,
            partners=PARTNERS,
            symmetric=symmetric,
            log_prior=log_prior,
        )

    def loss(flat):
        return loss_and_grad(flat)[0]

    def grad(flat):
        return loss_and_grad(flat)[1].ravel()

    scale = np.abs(grad(E0.ravel())).max()
    assert scale > 1e-3
    assert check_grad(loss, grad, E0.ravel()) < 1e-6 * max(1.0, scale)


def test_masked_partners_are_never_negatives():
    """Brute force: moving a masked partner's embedding changes nothing, moving
    any other candidate does."""
    E = _embeddings()
    queries = np.concatenate([ANCHORS, POSITIVES])
    targets = np.concatenate([POSITIVES, ANCHORS])
    excluded = excluded_candidates(E.shape[0], queries, targets, PARTNERS)
    known = _known(*PARTNERS)
    for q, (query, target) in enumerate(zip(queries, targets)):
        for r in range(E.shape[0]):
            expected = r == query or (r != target and (query, r) in known)
            assert excluded[q, r] == expected, (query, target, r)
    # Row 1 is the partner of 0, 4 and 5; for query 4 (target 1), row 0 and 5
    # are not partners of 4, so they stay negatives; for query 0 (target 1)
    # row 1 is its target, never excluded.
    assert not excluded[np.flatnonzero((queries == 0) & (targets == 1)), 1].any()

    # A single query (1 -> 0): row 1 is a partner of 0, 4 and 5, so 4 and 5
    # are left out, and the loss does not depend on them.
    def single(E):
        return multiple_negatives_ranking_loss(
            E, [1], [0], temperature=0.5, partners=PARTNERS, symmetric=False
        )

    base_loss, base_grad = single(E)
    row_excluded = excluded_candidates(E.shape[0], [1], [0], PARTNERS)[0]
    np.testing.assert_array_equal(np.flatnonzero(row_excluded), [1, 4, 5])
    for r in range(E.shape[0]):
        if r == 1:
            continue  # the query itself: excluded as a candidate, but it is the query
        moved = E.copy()
        moved[r] = -moved[r]
        changes = single(moved)[0] != pytest.approx(base_loss, abs=1e-12)
        assert changes == (not row_excluded[r]), r
        assert np.any(base_grad[r] != 0) == (not row_excluded[r]), r


def test_duplicate_pair_counts_like_weight_two():
    """A pair drawn twice weighs as one pair of weight 2 (the rows are distinct)."""
    E = _embeddings()
    twice, _ = multiple_negatives_ranking_loss(
        E, [0, 0, 2], [1, 1, 3], temperature=0.2, partners=([0, 2], [1, 3])
    )
    weighted, _ = multiple_negatives_ranking_loss(
        E, [0, 2], [1, 3], temperature=0.2, weights=[2.0, 1.0], partners=([0, 2], [1, 3])
    )
    assert twice == pytest.approx(weighted)


def test_weights_scale_their_pair():
    E = _embeddings()
    only_first, _ = multiple_negatives_ranking_loss(
        E, [0, 2], [1, 3], temperature=0.2, weights=[1.0, 0.0]
    )
    alone, _ = multiple_negatives_ranking_loss(E, [0], [1], temperature=0.2)
    assert only_first == pytest.approx(alone)
    # Scaling all weights changes nothing: the mean is weighted.
    a, ga = multiple_negatives_ranking_loss(E, ANCHORS, POSITIVES, temperature=0.2, weights=WEIGHTS)
    b, gb = multiple_negatives_ranking_loss(
        E, ANCHORS, POSITIVES, temperature=0.2, weights=7 * WEIGHTS
    )
    assert a == pytest.approx(b)
    np.testing.assert_allclose(ga, gb, rtol=1e-10)


def test_no_pair_or_no_weight_gives_zero():
    E = _embeddings()
    loss, grad = multiple_negatives_ranking_loss(E, [], [], temperature=0.1)
    assert loss == 0.0 and not grad.any()
    loss, grad = multiple_negatives_ranking_loss(E, [0], [1], temperature=0.1, weights=[0.0])
    assert loss == 0.0 and not grad.any()


def test_keeps_float32():
    E = _embeddings(dtype=np.float32)
    loss, grad = multiple_negatives_ranking_loss(
        E, ANCHORS, POSITIVES, temperature=0.1, partners=PARTNERS
    )
    assert grad.dtype == np.float32
    E64 = E.astype(np.float64)
    loss64, grad64 = multiple_negatives_ranking_loss(
        E64, ANCHORS, POSITIVES, temperature=0.1, partners=PARTNERS
    )
    assert loss == pytest.approx(loss64, rel=1e-5)
    np.testing.assert_allclose(grad, grad64, rtol=1e-4, atol=1e-6)


def test_training_pulls_pairs_together():
    """Gradient steps on the loss make each anchor's positive its nearest row."""
    E = _embeddings(n=8, dim=3, seed=1)
    anchors, positives = np.array([0, 2, 4, 6]), np.array([1, 3, 5, 7])
    for _ in range(200):
        _, grad = multiple_negatives_ranking_loss(E, anchors, positives, temperature=0.1)
        E = l2_normalize(E - 0.05 * grad)[0]
    similarities = E @ E.T
    np.fill_diagonal(similarities, -np.inf)
    np.testing.assert_array_equal(similarities[anchors].argmax(axis=1), positives)
