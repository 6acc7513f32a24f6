"""Triplet miners: from the distances within a batch to (anchor, positive, negative) triples.

A miner only chooses triples; the losses in ``_contrastive`` consume them
(the split of pytorch-metric-learning). Every miner takes

- ``distances``: the ``(n, n)`` matrix of pairwise distances of the batch's
  embeddings (smaller is closer);
- ``labels``: ``(n,)`` integer labels, where ``-1`` marks an unlabeled row.

and returns three integer arrays ``(anchors, positives, negatives)`` of equal
length, indices into the batch. A positive shares the anchor's label and is
another position of the batch; a negative has a different label. Unlabeled
rows are never anchors, positives or negatives: an unlabeled row may well
belong to the anchor's class, so using it as a negative would push apart rows
that belong together. They take part through the self-supervised term instead.

Ties are broken by the lowest index, as ``numpy.argmin`` / ``argmax`` do.
"""

import numpy as np

UNLABELED = -1


def _pair_masks(labels):
    """Boolean ``(n, n)`` masks of the valid positive and negative pairs."""
    labels = np.asarray(labels)
    labeled = labels != UNLABELED
    both_labeled = labeled[:, None] & labeled[None, :]
    same = labels[:, None] == labels[None, :]
    positive = same & both_labeled
    np.fill_diagonal(positive, False)
    negative = ~same & both_labeled
    return positive, negative


def _empty_triples():
    empty = np.empty(0, dtype=np.intp)
    return empty, empty.copy(), empty.copy()


def batch_hard_triplets(distances, labels, margin=None):
    """For each anchor, its farthest positive and its closest negative.

    Hermans, Beyer and Leibe (2017), "In defense of the triplet loss". Anchors
    with no positive or no negative in the batch give no triple. ``margin`` is
    accepted for a uniform signature and not used.
    """
    positive, negative = _pair_masks(labels)
    anchors = np.flatnonzero(positive.any(axis=1) & negative.any(axis=1))
    if anchors.size == 0:
        return _empty_triples()
    # Over all rows, then kept for the anchors: in P x K batches nearly every
    # row is an anchor, and this spares copying (n, n) matrices by row index.
    hardest_positives = np.where(positive, distances, -np.inf).argmax(axis=1)
    hardest_negatives = np.where(negative, distances, np.inf).argmin(axis=1)
    return anchors, hardest_positives[anchors], hardest_negatives[anchors]


def semi_hard_triplets(distances, labels, margin=None):
    """For each positive pair, the closest negative that is farther than the positive.

    Schroff, Kalenichenko and Philbin (2015), "FaceNet", with the rule of
    TensorFlow Addons' ``triplet_semihard_loss`` for the pairs that have no
    such negative: they take their farthest negative, the easiest of the
    negatives that are all closer than the positive. One triple per (anchor,
    positive) pair whose anchor has a negative. ``margin`` is not used.
    """
    positive, negative = _pair_masks(labels)
    positive &= negative.any(axis=1)[:, None]
    anchors, positives = np.nonzero(positive)
    if anchors.size == 0:
        return _empty_triples()
    d_anchor = distances[anchors]
    d_positive = distances[anchors, positives][:, None]
    valid_negative = negative[anchors]
    farther = valid_negative & (d_anchor > d_positive)
    semi_hard = np.where(farther, d_anchor, np.inf).argmin(axis=1)
    farthest = np.where(valid_negative, d_anchor, -np.inf).argmax(axis=1)
    negatives = np.where(farther.any(axis=1), semi_hard, farthest)
    return anchors, positives, negatives


def batch_all_triplets(distances, labels, margin=None):
    """Every valid triple; with a ``margin``, only those that violate it.

    A triple violates the margin when ``d(a, p) - d(a, n) + margin > 0``, that
    is when its hinge loss is not zero, so the mean loss over the returned
    triples is the "batch all, non-zero" average of Hermans et al. (2017).
    With ``margin=None`` (the soft margin, whose loss is never zero) every
    valid triple is returned.
    """
    positive, negative = _pair_masks(labels)
    anchors, positives = np.nonzero(positive)
    if anchors.size == 0:
        return _empty_triples()
    valid = negative[anchors]
    if margin is not None:
        violation = (
            distances[anchors, positives][:, None] - distances[anchors] + margin
        )
        valid &= violation > 0
    pair_index, negatives = np.nonzero(valid)
    return anchors[pair_index], positives[pair_index], negatives


MINERS = {
    "batch_hard": batch_hard_triplets,
    "semi_hard": semi_hard_triplets,
    "batch_all": batch_all_triplets,
}
