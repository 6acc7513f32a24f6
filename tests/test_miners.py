import numpy as np
import pytest

from sk_prodembed._miners import (
    MINERS,
    batch_all_triplets,
    batch_hard_triplets,
    semi_hard_triplets,
)


def _batch(seed, n=24, n_classes=4, unlabeled_share=0.25):
    """Random distances (no ties) and labels with some unlabeled rows and a singleton."""
    rng = np.random.RandomState(seed)
    points = rng.randn(n, 3)
    distances = np.linalg.norm(points[:, None] - points[None, :], axis=2)
    labels = rng.randint(n_classes, size=n)
    labels[rng.rand(n) < unlabeled_share] = -1
    labels[0] = n_classes  # a class with a single row
    return distances, labels


def _is_positive(labels, a, p):
    return a != p and labels[a] != -1 and labels[a] == labels[p]


def _is_negative(labels, a, n):
    return labels[a] != -1 and labels[n] != -1 and labels[a] != labels[n]


def _as_set(triples):
    return set(zip(*(t.tolist() for t in triples)))


def _brute_force_batch_hard(distances, labels):
    triples = set()
    size = len(labels)
    for a in range(size):
        positives = [p for p in range(size) if _is_positive(labels, a, p)]
        negatives = [n for n in range(size) if _is_negative(labels, a, n)]
        if positives and negatives:
            p = max(positives, key=lambda j: distances[a, j])
            n = min(negatives, key=lambda j: distances[a, j])
            triples.add((a, p, n))
    return triples


def _brute_force_semi_hard(distances, labels):
    triples = set()
    size = len(labels)
    for a in range(size):
        negatives = [n for n in range(size) if _is_negative(labels, a, n)]
        if not negatives:
            continue
        for p in range(size):
            if not _is_positive(labels, a, p):
                continue
            farther = [n for n in negatives if distances[a, n] > distances[a, p]]
            if farther:
                n = min(farther, key=lambda j: distances[a, j])
            else:
                n = max(negatives, key=lambda j: distances[a, j])
            triples.add((a, p, n))
    return triples


def _brute_force_batch_all(distances, labels, margin):
    triples = set()
    size = len(labels)
    for a in range(size):
        for p in range(size):
            for n in range(size):
                if not (_is_positive(labels, a, p) and _is_negative(labels, a, n)):
                    continue
                if margin is None or distances[a, p] - distances[a, n] + margin > 0:
                    triples.add((a, p, n))
    return triples


@pytest.mark.parametrize("seed", range(5))
def test_batch_hard_matches_brute_force(seed):
    distances, labels = _batch(seed)
    triples = batch_hard_triplets(distances, labels)
    assert _as_set(triples) == _brute_force_batch_hard(distances, labels)
    assert len(triples[0]) == len(set(triples[0].tolist()))  # one triple per anchor


@pytest.mark.parametrize("seed", range(5))
def test_semi_hard_matches_brute_force(seed):
    distances, labels = _batch(seed)
    triples = semi_hard_triplets(distances, labels)
    assert _as_set(triples) == _brute_force_semi_hard(distances, labels)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("margin", [None, 0.3, 2.0])
def test_batch_all_matches_brute_force(seed, margin):
    distances, labels = _batch(seed)
    triples = batch_all_triplets(distances, labels, margin)
    expected = _brute_force_batch_all(distances, labels, margin)
    assert _as_set(triples) == expected
    assert len(triples[0]) == len(expected)  # no duplicates


def test_semi_hard_falls_back_to_farthest_negative():
    # Anchor 0's positive (row 1) is farther than both negatives.
    distances = np.array(
        [[0.0, 5.0, 1.0, 2.0], [5.0, 0, 4, 3], [1.0, 4, 0, 1], [2.0, 3, 1, 0]]
    )
    labels = np.array([0, 0, 1, 2])
    anchors, positives, negatives = semi_hard_triplets(distances, labels)
    assert (0, 1, 3) in set(zip(anchors, positives, negatives))


@pytest.mark.parametrize("miner", sorted(MINERS))
def test_unlabeled_rows_are_never_used(miner):
    for seed in range(5):
        distances, labels = _batch(seed, unlabeled_share=0.5)
        anchors, positives, negatives = MINERS[miner](distances, labels, 0.5)
        used = np.concatenate([anchors, positives, negatives])
        assert len(anchors) > 0
        assert np.all(labels[used] != -1)
        assert np.all(labels[anchors] == labels[positives])
        assert np.all(anchors != positives)
        assert np.all(labels[anchors] != labels[negatives])


@pytest.mark.parametrize("miner", sorted(MINERS))
def test_no_triples_without_positive_pairs_or_negatives(miner):
    distances, _ = _batch(0, n=6)
    for labels in ([-1] * 6, [0, 1, 2, 3, 4, 5], [3, 3, 3, 3, -1, -1]):
        triples = MINERS[miner](distances, np.array(labels), 0.5)
        assert all(len(t) == 0 for t in triples)
        assert all(t.dtype == np.intp for t in triples)


@pytest.mark.parametrize("miner", sorted(MINERS))
def test_repeated_rows_are_positives_of_each_other(miner):
    # P x K sampling with replacement repeats a row at two positions of a batch.
    distances = np.array([[0.0, 0.0, 0.2], [0.0, 0.0, 0.2], [0.2, 0.2, 0.0]])
    labels = np.array([0, 0, 1])
    anchors, positives, negatives = MINERS[miner](distances, labels, 0.5)
    assert set(zip(anchors, positives)) == {(0, 1), (1, 0)}
    assert np.all(negatives == 2)
