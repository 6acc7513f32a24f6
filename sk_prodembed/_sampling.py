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
- ``class_sampling="sqrt"`` draws the classes, and splits the batch's P x K
  labeled rows among them, in proportion to the square roots of the class
  sizes (at least 2 rows each): uniform classes treat a catalog's largest
  category like its smallest, which shifts the embedding towards the rare
  ones (measured in benchmarks/RESULTS.md, the catalog zoo).
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


def _ragged_positions_in_classes(sizes, k, rng):
    """Positions within classes of ``sizes`` rows, ``k[i]`` for class ``i``:
    distinct where the class has at least ``k[i]`` rows, drawn with
    replacement otherwise; concatenated class after class.

    Floyd's algorithm costs a Python step per position of the largest ``k``;
    here every position is drawn at once, and repeats within a class are
    redrawn until there are none. The procedure treats a class's rows
    symmetrically, so every ``k[i]``-subset is equally likely; the redraws
    are few, as ``k[i]`` is rarely close to the class size.
    """
    owner = np.repeat(np.arange(sizes.shape[0]), k)
    positions = (rng.random_sample(owner.shape[0]) * sizes[owner]).astype(np.intp)
    distinct = (sizes >= k)[owner]
    while True:
        # Sort by (class, position): a repeat sits right after its twin.
        order = np.lexsort((positions, owner))
        repeat = np.zeros(order.shape[0], dtype=bool)
        repeat[1:] = (owner[order[1:]] == owner[order[:-1]]) & (
            positions[order[1:]] == positions[order[:-1]]
        )
        redraw = order[repeat & distinct[order]]
        if redraw.shape[0] == 0:
            return positions
        positions[redraw] = (rng.random_sample(redraw.shape[0]) * sizes[owner[redraw]]).astype(
            np.intp
        )


def sqrt_allocation(sizes, n_rows):
    """Rows per class for a batch of about ``n_rows`` labeled rows split among
    classes of ``sizes`` rows in proportion to the square roots of the sizes:
    at least 2 per class (a positive for the miner), 1 for a single-row class."""
    weights = np.sqrt(sizes.astype(np.float64))
    rows = np.maximum(np.rint(n_rows * weights / weights.sum()), 2).astype(np.intp)
    return np.where(sizes == 1, 1, rows)


def class_balanced_batches(
    labels, classes_per_batch, samples_per_class, max_unlabeled_per_batch,
    class_sampling="uniform",
):
    """Return a ``batches(rng)`` callable yielding the row indices of one epoch.

    Parameters
    ----------
    labels : ndarray of int of shape (n_samples,)
        Encoded labels, -1 for unlabeled rows.
    classes_per_batch : int
        P, the number of classes drawn per batch (all of them if fewer).
    samples_per_class : int
        K, the rows drawn per class (on average, with ``"sqrt"``).
    max_unlabeled_per_batch : int
        Cap on the unlabeled rows of a batch; all-unlabeled data gets
        exactly this many per batch.
    class_sampling : {"uniform", "sqrt"}, default="uniform"
        ``"uniform"``: P classes drawn uniformly, K rows of each.
        ``"sqrt"``: P classes drawn with probabilities in proportion to the
        square roots of their sizes, and the batch's P x K labeled rows split
        among them in the same proportion (:func:`sqrt_allocation`), so a
        large class is seen more often than a small one, but less than in
        proportion to its size.

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

    if class_sampling == "sqrt":
        sqrt_sizes = np.sqrt(class_sizes.astype(np.float64))
        every_class = np.arange(class_sizes.shape[0])
        every_class_rows = sqrt_allocation(class_sizes, labeled_per_batch)
    elif class_sampling != "uniform":
        raise ValueError(f"unknown class_sampling {class_sampling!r}")

    def _sqrt_classes(rng):
        """The classes of a "sqrt" batch and their rows: every class when
        there are at most P, otherwise P drawn without replacement with
        probabilities in proportion to ``sqrt_sizes`` (Efraimidis and
        Spirakis 2006: the P largest keys ``log(u) / weight``), as successive
        draws from the classes not yet drawn would."""
        if n_classes_drawn == class_sizes.shape[0]:
            return every_class, class_sizes, every_class_rows
        keys = np.log(rng.random_sample(class_sizes.shape[0])) / sqrt_sizes
        chosen = np.argpartition(-keys, n_classes_drawn - 1)[:n_classes_drawn]
        sizes = class_sizes[chosen]
        return chosen, sizes, sqrt_allocation(sizes, labeled_per_batch)

    def _labeled_part(rng):
        if class_sampling == "uniform":
            chosen = rng.choice(class_sizes.shape[0], n_classes_drawn, replace=False)
            sizes = class_sizes[chosen]
            positions = _positions_in_classes(sizes, samples_per_class, rng)
            rows = grouped[class_starts[chosen][:, None] + positions]
            # A class with one row gives it once: K copies would be K - 1 more
            # rows with no positive but themselves.
            keep = np.ones(rows.shape, dtype=bool)
            keep[sizes == 1, 1:] = False
            return [rows[keep]]
        chosen, sizes, k = _sqrt_classes(rng)
        positions = _ragged_positions_in_classes(sizes, k, rng)
        return [grouped[np.repeat(class_starts[chosen], k) + positions]]

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
