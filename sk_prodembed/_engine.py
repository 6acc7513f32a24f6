"""The shared minibatch training loop.

Every estimator of the package trains through :func:`train_epochs`. An
estimator supplies an *objective*, an object with

- ``params``: the list of parameter arrays, updated in place by the optimizer;
- ``prepare_batch(X_batch, y_batch, rng)``: draws what is random in a batch
  (masks, sampled features, views) and returns a batch object whose
  ``touched`` attribute lists, per parameter, the slices the batch reads and
  updates lazily (``MLP.touched_slices``; None entries for parameters read
  whole);
- ``loss_and_gradient(batch)``: the mean loss of the batch and the gradients
  in ``params`` order (``IndexedGradient`` on the touched slices);
- ``validation_score(X, y)``: a score on held-out rows, higher is better;

and a ``batches(rng)`` callable that yields the row indices of each minibatch
of one epoch. A batch may also come as a tuple ``(indices, extra)``, for
objectives whose batches carry more than rows (the pair objective's
positions of the pairs within the rows): ``prepare_batch`` is then called as
``prepare_batch(X[indices], y[indices], rng, extra)``. One step is then, all
in :func:`_run_epoch`: prepare the batch,
``optimizer.catch_up`` on its touched slices (lazily updated weights are
brought up to date before they are read), ``loss_and_gradient``,
``optimizer.update_params``. The loop owns everything else: the loss history,
the convergence test, early stopping with restoration of the best weights,
the divergence guard and the verbose output. It never imports an estimator.
"""

import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split


@dataclass
class TrainingHistory:
    """What the loop remembers between epochs and between ``partial_fit`` calls."""

    loss_curve: list = field(default_factory=list)
    validation_scores: list = field(default_factory=list)
    best_loss: float = np.inf
    best_validation_score: float = -np.inf
    epochs_without_improvement: int = 0
    n_iter: int = 0
    n_samples_seen: int = 0
    n_steps: int = 0


@dataclass(frozen=True)
class EpochBudget:
    """``max_iter="auto"``: train until the loss reaches a plateau, with at least
    enough epochs for ``min_steps`` optimizer steps (and ``min_epochs``), at
    most ``max_epochs``.

    The number of epochs then follows the data: an epoch of a small catalog
    is a few steps, and a fixed number of epochs under-trains it, while a
    large catalog needs few epochs. So ``min_epochs`` holds up to
    ``full_epochs_rows`` rows an epoch and falls as the square root of the
    rows beyond (5 instead of 20 at 1,000,000 rows): the epochs the
    autoencoder needed to come within 1.5% of its 20-epoch precision fell
    from 20 at 1,363 Instacart rows to 6 at 34,781 (``benchmarks/RESULTS.md``,
    bench_epochs), about as the rows to the power -0.37, and a floor of 20
    at 50,000 rows falling as the power -0.5 stays above that trend up to
    10 million rows. The steps and rows of an epoch are counted in the
    first epoch of the call. The plateau: over the last ``n_iter_no_change``
    epochs, the training loss improved by less than the fraction ``plateau``
    of its value (the losses of the package live on very different scales,
    from a soft margin below one to a multinomial log-likelihood of several
    nats, so the test is relative).
    """

    min_steps: int
    min_epochs: int
    max_epochs: int
    plateau: float = 0.05
    full_epochs_rows: int = 50_000

    def least_epochs(self, steps_per_epoch, rows_per_epoch=0):
        wanted = math.ceil(self.min_steps / max(steps_per_epoch, 1))
        floor = self.min_epochs
        if rows_per_epoch > self.full_epochs_rows:
            floor = math.ceil(self.min_epochs * math.sqrt(self.full_epochs_rows / rows_per_epoch))
        return min(max(wanted, floor), self.max_epochs)

    def reached_plateau(self, loss_curve, window):
        if len(loss_curve) <= window:
            return False
        before, recent = loss_curve[-window - 1], min(loss_curve[-window:])
        return before - recent < self.plateau * abs(before)


def shuffled_batches(n_samples, batch_size):
    """Batches of one epoch: a random permutation of the rows cut into chunks."""

    def batches(rng):
        order = rng.permutation(n_samples)
        for start in range(0, n_samples, batch_size):
            yield order[start : start + batch_size]

    return batches


def resolve_batch_size(batch_size, n_samples):
    """``"auto"`` means ``min(512, n_samples)``; an int is clipped to ``n_samples``."""
    if batch_size == "auto":
        return min(512, n_samples)
    return min(batch_size, n_samples)


def split_validation(X, y, validation_fraction, rng, stratify=False):
    """Hold out ``validation_fraction`` of the rows for early stopping.

    Returns ``X_train, X_val, y_train, y_val`` (the ``y`` entries are None when
    ``y`` is None). With ``stratify=True`` each label's number of validation
    rows is its proportional share, rounded up or down, whatever the number
    of labels (with more labels than validation rows, the small ones have
    none or one), and a label of a single row keeps it for training, where
    it is learned, rather than hold out a row no other row of the split can
    match. Only when fewer rows than ``n_val`` belong to labels of two or
    more rows is the split random.
    """
    n_samples = X.shape[0]
    n_val = int(np.ceil(validation_fraction * n_samples))
    if n_val < 1 or n_samples - n_val < 1:
        raise ValueError(
            f"early_stopping with validation_fraction={validation_fraction} needs "
            f"at least one training and one validation row; got n_samples = {n_samples}."
        )
    seed = rng.randint(np.iinfo(np.int32).max)
    val_idx = None
    if stratify and y is not None:
        val_idx = _stratified_rows(y, n_val, np.random.RandomState(seed))
    if val_idx is None:
        _, val_idx = train_test_split(np.arange(n_samples), test_size=n_val, random_state=seed)
    is_val = np.zeros(n_samples, dtype=bool)
    is_val[val_idx] = True
    train_idx, val_idx = np.flatnonzero(~is_val), np.flatnonzero(is_val)
    y_train = None if y is None else y[train_idx]
    y_val = None if y is None else y[val_idx]
    return X[train_idx], X[val_idx], y_train, y_val


def _stratified_rows(y, n_val, rng):
    """``n_val`` rows drawn by systematic sampling of the rows ordered by label
    (random order within a label, labels in random order), so every label
    gets its proportional share within one row; rows of labels seen once
    are never drawn. None when too few rows are left to draw from."""
    _, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    codes = codes.ravel()
    pool = np.flatnonzero(counts[codes] >= 2)
    if pool.size < n_val:
        return None
    label_order = rng.permutation(len(counts))
    pool = pool[rng.permutation(pool.size)]
    pool = pool[np.argsort(label_order[codes[pool]], kind="stable")]
    positions = np.floor((np.arange(n_val) + rng.uniform()) * (pool.size / n_val))
    return pool[positions.astype(np.intp)]


def mean_over_chunks(function, X, chunk_rows):
    """Row-weighted mean of ``function(X[start:stop])`` over chunks of ``chunk_rows`` rows.

    For scores whose cost grows with the square of the rows scored at once
    (in-batch negatives) or whose memory does (hidden layers).
    """
    total = 0.0
    for start in range(0, X.shape[0], chunk_rows):
        chunk = X[start : start + chunk_rows]
        total += function(chunk) * chunk.shape[0]
    return total / X.shape[0]


def _copy_params(params, out=None):
    """Copies of ``params``, written into the arrays of ``out`` when given.

    Reusing ``out`` matters for wide models: a fresh copy of (n_features x
    n_components) matrices every epoch pays its page faults every epoch.
    """
    if out is None:
        return [p.copy(order="K") for p in params]
    for saved, param in zip(out, params):
        np.copyto(saved, param)
    return out


def _all_finite(params):
    return all(np.isfinite(param).all() for param in params)


def _restore_params(params, saved):
    for param, value in zip(params, saved):
        param[...] = value


def _run_epoch(objective, optimizer, X, y, batches, rng):
    """One pass over the batches. Returns the mean loss, or None on divergence."""
    params = objective.params
    total_loss, n_seen, n_steps = 0.0, 0, 0
    for indices in batches(rng):
        extra = ()
        if isinstance(indices, tuple):
            indices, *extra = indices
        batch = objective.prepare_batch(
            X[indices], None if y is None else y[indices], rng, *extra
        )
        optimizer.catch_up(params, batch.touched)
        loss, grads = objective.loss_and_gradient(batch)
        if not np.isfinite(loss):
            return None, n_seen, n_steps
        optimizer.update_params(params, grads)
        total_loss += loss * len(indices)
        n_seen += len(indices)
        n_steps += 1
    # Lazily updated weights catch up on the steps they skipped, so that the
    # epoch ends with the weights dense updates would have (see _optimizers.py).
    optimizer.flush(params)
    return total_loss / max(n_seen, 1), n_seen, n_steps


def train_epochs(
    objective,
    optimizer,
    X,
    y,
    batches,
    *,
    history,
    max_iter,
    tol,
    n_iter_no_change,
    rng,
    validation=None,
    verbose=False,
    check_convergence=True,
):
    """Run up to ``max_iter`` epochs of minibatch training.

    Parameters
    ----------
    objective, optimizer, batches
        See the module docstring.
    X : ndarray or CSR matrix
    y : ndarray or None
    history : TrainingHistory
        Updated in place.
    max_iter : int or EpochBudget
        Maximum number of epochs in this call, or a budget: at least its
        least epochs for the steps of the call's first epoch, then until the
        loss reaches its plateau (or the validation score stops improving),
        at most its ``max_epochs``.
    tol, n_iter_no_change
        Training stops once the training loss (or, with ``validation``, the
        validation score) has not improved by at least ``tol`` for
        ``n_iter_no_change`` consecutive epochs, as in scikit-learn's MLP.
    rng : numpy.random.RandomState
    validation : tuple (X_val, y_val) or None
        Enables early stopping: the weights of the best validation epoch are
        restored at the end.
    verbose : bool or int
        0 (False) prints nothing; 1 (True) one line per epoch (loss,
        validation score, seconds) and the reason training stopped; 2 adds
        to each line the optimizer steps and rows per second and the epochs
        without improvement that count towards ``n_iter_no_change``.
    check_convergence : bool
        False for ``partial_fit``, which runs a single epoch and neither stops
        early nor warns about convergence.

    On a non-finite loss, training stops with a ``ConvergenceWarning``, the
    parameters of the last finite epoch (with ``validation``, of the best
    epoch) and a reset optimizer (its state held the diverging steps).

    With ``validation``, the best epoch is the best of this call: a
    warm-started fit holds out new rows, on which the scores of an earlier
    call's epochs were never measured, so the call's first epoch starts the
    comparison and ``history.best_validation_score`` ends as the score of the
    restored weights.
    """
    params = objective.params
    best_params = None
    last_finite = None
    budget = max_iter if isinstance(max_iter, EpochBudget) else None
    if validation is not None:
        history.best_validation_score = -np.inf
        history.epochs_without_improvement = 0
    limit = max_iter if budget is None else budget.max_epochs
    least = 0
    epoch = 0
    while epoch < limit:
        epoch += 1
        start = time.perf_counter()
        last_finite = _copy_params(params, out=last_finite)
        # Overflow on the way to a non-finite loss is caught by the guard below,
        # which warns once with advice; numpy's own warnings would only be noise.
        with np.errstate(over="ignore", invalid="ignore"):
            epoch_loss, n_seen, n_steps = _run_epoch(
                objective, optimizer, X, y, batches, rng
            )
        # A loss is computed before its step: the epoch's last steps can
        # overflow the weights while every loss was finite.
        if epoch_loss is None or not np.isfinite(epoch_loss) or not _all_finite(params):
            _restore_params(params, last_finite)
            optimizer.reset(params)
            kept = "last finite" if best_params is None else "best validation"
            warnings.warn(
                f"Training diverged in epoch {history.n_iter + 1} (the loss or the "
                f"weights became non-finite); the weights of the {kept} epoch were kept, and the "
                "optimizer's state was reset. Lower learning_rate_init or scale the input.",
                ConvergenceWarning,
            )
            break
        if budget is not None and epoch == 1:
            least = budget.least_epochs(n_steps, n_seen)
        history.n_iter += 1
        history.n_samples_seen += n_seen
        history.n_steps += n_steps
        history.loss_curve.append(epoch_loss)

        if validation is not None:
            score = objective.validation_score(*validation)
            history.validation_scores.append(score)
            improved = score > history.best_validation_score + tol
            if score > history.best_validation_score:
                history.best_validation_score = score
                best_params = _copy_params(params, out=best_params)
        else:
            improved = epoch_loss < history.best_loss - tol
        history.best_loss = min(history.best_loss, epoch_loss)
        history.epochs_without_improvement = (
            0 if improved else history.epochs_without_improvement + 1
        )

        if verbose:
            seconds = time.perf_counter() - start
            message = f"Epoch {history.n_iter}: loss = {epoch_loss:.6f}"
            if validation is not None:
                message += f", validation score = {score:.6f}"
            message += f", {seconds:.2f} s"
            if verbose >= 2:
                message += (
                    f", {n_steps} steps, {n_seen / max(seconds, 1e-9):.0f} rows/s, "
                    f"{history.epochs_without_improvement} epochs without improvement"
                )
            print(message)

        if (
            check_convergence
            and budget is not None
            and validation is None
            and epoch >= least
            and budget.reached_plateau(history.loss_curve, n_iter_no_change)
        ):
            if verbose:
                print(
                    f"Training loss improved by less than {budget.plateau:.0%} over "
                    f"{n_iter_no_change} epochs. Stopping."
                )
            break
        if (
            check_convergence
            and (validation is not None or epoch >= least)
            and history.epochs_without_improvement > n_iter_no_change
        ):
            if verbose:
                what = "Validation score" if validation is not None else "Training loss"
                print(
                    f"{what} did not improve more than tol={tol} for "
                    f"{n_iter_no_change} consecutive epochs. Stopping."
                )
            break
    else:
        if check_convergence:
            why = "" if budget is None else ", max_iter='auto', and no plateau"
            warnings.warn(
                f"Stochastic optimizer: maximum iterations ({limit}{why}) reached "
                "and the optimization hasn't converged yet.",
                ConvergenceWarning,
            )
    if best_params is not None:
        _restore_params(params, best_params)
