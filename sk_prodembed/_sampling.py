"""Class-balanced minibatches for metric learning: P classes x K rows, plus unlabeled rows.

Batch-hard mining needs positives in every batch, which uniform shuffling
cannot promise when there are many classes. Each batch here draws
``classes_per_batch`` (P) labeled classes at random and ``samples_per_class``
(K) rows of each (Hermans et al. 2017), then adds unlabeled rows (label -1)
for the self-supervised term.

- A class with at least K rows gives K distinct rows; a class with 2 to K-1
  rows gives K rows drawn with replacement; a class with one row gives that
  row once: it has no positive, but serves as a negative for the others.
- Unlabeled rows are taken in a fresh random order each epoch, in proportion
  to their share of the data (at most ``max_unlabeled_per_batch`` per batch,
  and at least 2, the least that gives NT-Xent a negative).
- An epoch is as many batches as make about ``n_samples`` rows drawn, so the
  number of steps per epoch does not depend on the share of labeled rows.
"""

import math

import numpy as np

from ._miners import UNLABELED


def _rows_by_class(labels):
    """Labeled rows grouped by class: ``(grouped rows, start of each class, class sizes)``."""
    labeled_rows = np.flatnonzero(labels != UNLABELED)
    _, class_index, sizes = np.unique(
        labels[labeled_rows], return_inverse=True, return_counts=True
    )
    grouped = labeled_rows[np.argsort(class_index, kind="stable")]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
    return grouped, starts, sizes


def _positions_in_classes(sizes, k, rng):
    """``(len(sizes), k)`` positions within classes of ``sizes`` rows: ``k``
    distinct ones where a class has at least ``k`` rows, drawn with
    replacement otherwise.

    Every class at once, by Floyd's algorithm: step ``j`` draws ``t`` in
    ``[0, n - k + j]`` and keeps it, or ``n - k + j`` if ``t`` was kept before;
    each ``k``-subset is then equally likely. A loop of ``rng.choice`` per
    class cost a sixth of a dense training step.
    """
    uniforms = rng.random_sample((sizes.shape[0], k))
    positions = np.empty((sizes.shape[0], k), dtype=np.intp)
    for j in range(k):
        upper = sizes - k + j + 1
        draw = (uniforms[:, j] * upper).astype(np.intp)
        taken = (positions[:, :j] == draw[:, None]).any(axis=1)
        positions[:, j] = np.where(taken, upper - 1, draw)
    small = sizes < k
    positions[small] = (uniforms[small] * sizes[small, None]).astype(np.intp)
    return positions


def class_balanced_batches(
    labels, classes_per_batch, samples_per_class, max_unlabeled_per_batch
):
    """Return a ``batches(rng)`` callable yielding the row indices of one epoch.

    Parameters
    ----------
    labels : ndarray of int of shape (n_samples,)
        Encoded labels, -1 for unlabeled rows.
    classes_per_batch : int
        P, the number of classes drawn per batch (all of them if fewer).
    samples_per_class : int
        K, the rows drawn per class.
    max_unlabeled_per_batch : int
        Cap on the unlabeled rows of a batch; all-unlabeled data gets
        exactly this many per batch.

    Returns
    -------
    batches : callable
        ``batches(rng)`` is a generator of index arrays.
    """
    labels = np.asarray(labels)
    n_samples = labels.shape[0]
    grouped, class_starts, class_sizes = _rows_by_class(labels)
    unlabeled_rows = np.flatnonzero(labels == UNLABELED)
    n_unlabeled = unlabeled_rows.shape[0]
    n_classes_drawn = min(classes_per_batch, class_sizes.shape[0])
    labeled_per_batch = n_classes_drawn * samples_per_class

    if n_unlabeled == 0:
        unlabeled_per_batch = 0
    elif labeled_per_batch == 0:
        unlabeled_per_batch = min(max_unlabeled_per_batch, n_unlabeled)
    else:
        share = math.ceil(labeled_per_batch * n_unlabeled / (n_samples - n_unlabeled))
        unlabeled_per_batch = min(max(share, 2), max_unlabeled_per_batch, n_unlabeled)
    n_batches = max(1, math.ceil(n_samples / (labeled_per_batch + unlabeled_per_batch)))

    def _labeled_part(rng):
        chosen = rng.choice(class_sizes.shape[0], n_classes_drawn, replace=False)
        sizes = class_sizes[chosen]
        positions = _positions_in_classes(sizes, samples_per_class, rng)
        rows = grouped[class_starts[chosen][:, None] + positions]
        # A class with one row gives it once: K copies would be K - 1 more
        # rows with no positive but themselves.
        keep = np.ones(rows.shape, dtype=bool)
        keep[sizes == 1, 1:] = False
        return [rows[keep]]

    def batches(rng):
        unlabeled_order = rng.permutation(unlabeled_rows)
        position = 0
        for _ in range(n_batches):
            parts = _labeled_part(rng) if n_classes_drawn else []
            if unlabeled_per_batch:
                if position + unlabeled_per_batch > n_unlabeled:
                    unlabeled_order = rng.permutation(unlabeled_rows)
                    position = 0
                parts.append(unlabeled_order[position : position + unlabeled_per_batch])
                position += unlabeled_per_batch
            yield np.concatenate(parts)

    return batches
