"""The training loop, driven by a tiny objective whose behaviour is known."""

import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from sk_prodembed._engine import (
    TrainingHistory,
    resolve_batch_size,
    shuffled_batches,
    split_validation,
    train_epochs,
)
from sk_prodembed._optimizers import SGD


class LinearRegressionObjective:
    """Mean squared error of ``X @ w`` against ``y``: a convex problem."""

    def __init__(self, n_features, explode_after=None):
        self.w = np.zeros(n_features)
        self.params = [self.w]
        self.calls = 0
        self.explode_after = explode_after

    def prepare_batch(self, X, y, rng):
        # A dense model: no parameter slice is touched lazily.
        return SimpleNamespace(X=X, y=y, touched=[None])

    def loss_and_gradient(self, batch):
        X, y = batch.X, batch.y
        self.calls += 1
        residual = X @ self.w - y
        loss = 0.5 * np.mean(residual**2)
        if self.explode_after is not None and self.calls > self.explode_after:
            loss = np.nan
        return loss, [X.T @ residual / len(y)]

    def validation_score(self, X, y):
        return -0.5 * np.mean((X @ self.w - y) ** 2)


def _data(n=200, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 3)
    return X, X @ np.array([1.0, -2.0, 0.5]) + 0.01 * rng.randn(n)


def _train(objective, X, y, **kwargs):
    options = dict(
        history=TrainingHistory(), max_iter=50, tol=1e-6, n_iter_no_change=3,
        rng=np.random.RandomState(0),
    )
    options.update(kwargs)
    optimizer = SGD(objective.params, learning_rate=0.05, momentum=0.9)
    train_epochs(objective, optimizer, X, y, shuffled_batches(len(y), 20), **options)
    return options["history"]


def _weights_after_epochs(X, y, n_epochs):
    """The weights of an undisturbed run of ``n_epochs`` epochs, to compare a
    rolled-back run with."""
    probe = LinearRegressionObjective(3)
    _train(probe, X, y, max_iter=n_epochs, check_convergence=False)
    return probe.w


def test_training_converges_and_records_history():
    X, y = _data()
    objective = LinearRegressionObjective(3)
    history = _train(objective, X, y)
    np.testing.assert_allclose(objective.w, [1.0, -2.0, 0.5], atol=0.02)
    assert history.n_iter == len(history.loss_curve) < 50
    assert history.loss_curve[-1] < history.loss_curve[0]
    assert history.n_samples_seen == 200 * history.n_iter


def test_max_iter_reached_warns():
    X, y = _data()
    with pytest.warns(ConvergenceWarning, match="maximum iterations"):
        history = _train(LinearRegressionObjective(3), X, y, max_iter=2, tol=0)
    assert history.n_iter == 2


def test_single_epoch_without_convergence_check_does_not_warn():
    X, y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _train(LinearRegressionObjective(3), X, y, max_iter=1, check_convergence=False)


def test_early_stopping_restores_the_best_epoch():
    X, y = _data()

    class Worsening(LinearRegressionObjective):
        # Validation score is best after epoch 2, then worse every epoch.
        def validation_score(self, X_val, y_val):
            self.epoch = getattr(self, "epoch", 0) + 1
            if self.epoch == 2:
                self.best_w = self.w.copy()
            return -abs(self.epoch - 2)

    objective = Worsening(3)
    history = _train(objective, X, y, validation=(X, y), n_iter_no_change=2)
    assert history.validation_scores[:3] == [-1, 0, -1]
    assert history.n_iter == 5  # stops after 3 epochs without improvement
    np.testing.assert_array_equal(objective.w, objective.best_w)


def test_divergence_keeps_last_finite_weights_and_warns():
    X, y = _data()
    objective = LinearRegressionObjective(3, explode_after=25)  # 10 batches per epoch
    with pytest.warns(ConvergenceWarning, match="diverged"):
        history = _train(objective, X, y)
    assert history.n_iter == 2
    assert np.isfinite(objective.w).all()
    # The third epoch's partial updates were rolled back to the end of epoch 2.
    np.testing.assert_array_equal(objective.w, _weights_after_epochs(X, y, 2))


def test_verbose_prints_one_line_per_epoch(capsys):
    X, y = _data()
    _train(LinearRegressionObjective(3), X, y, max_iter=3, tol=0, verbose=True,
           validation=(X, y), check_convergence=False)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("Epoch 1: loss = ") and "validation score" in lines[0]


def test_shuffled_batches_cover_every_row_once():
    batches = list(shuffled_batches(53, 10)(np.random.RandomState(0)))
    assert [len(b) for b in batches] == [10, 10, 10, 10, 10, 3]
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(53))


def test_resolve_batch_size():
    assert resolve_batch_size("auto", 1000) == 512
    assert resolve_batch_size("auto", 10) == 10
    assert resolve_batch_size(64, 10) == 10


def test_split_validation_is_stratified_and_disjoint():
    X = np.arange(100).reshape(-1, 1)
    y = np.repeat([0, 1], [80, 20])
    X_train, X_val, y_train, y_val = split_validation(X, y, 0.2, np.random.RandomState(0), True)
    assert len(X_val) == 20 and np.sum(y_val == 1) == 4
    assert not set(X_train.ravel()) & set(X_val.ravel())


def test_split_validation_needs_two_rows():
    with pytest.raises(ValueError, match="n_samples = 1"):
        split_validation(np.ones((1, 2)), None, 0.1, np.random.RandomState(0))


def test_batches_may_carry_extra_data_to_prepare_batch():
    """A ``(indices, extra)`` batch reaches ``prepare_batch`` as its fourth
    argument, with the rows and targets of ``indices``."""
    X, y = _data(n=40)
    received = []

    class WithExtra(LinearRegressionObjective):
        def prepare_batch(self, X, y, rng, extra):
            received.append((X.copy(), extra))
            return super().prepare_batch(X, y, rng)

    def batches(rng):
        for start in range(0, 40, 10):
            yield np.arange(start, start + 10), {"first_row": start}

    objective = WithExtra(3)
    optimizer = SGD(objective.params, learning_rate=0.05, momentum=0.9)
    history = TrainingHistory()
    train_epochs(
        objective, optimizer, X, y, batches, history=history, max_iter=1, tol=0,
        n_iter_no_change=3, rng=np.random.RandomState(0), check_convergence=False,
    )
    assert [extra["first_row"] for _, extra in received] == [0, 10, 20, 30]
    for rows, extra in received:
        np.testing.assert_array_equal(rows, X[extra["first_row"] : extra["first_row"] + 10])
    assert history.n_samples_seen == 40 and history.n_steps == 4


def test_epoch_budget_follows_the_steps_of_an_epoch():
    from sk_prodembed._engine import EpochBudget

    budget = EpochBudget(min_steps=1000, min_epochs=20, max_epochs=200)
    assert budget.least_epochs(100) == 20  # a large catalog: the least epochs
    assert budget.least_epochs(8) == 125  # a small one: enough steps
    assert budget.least_epochs(1) == 200  # a tiny one: capped
    # Rows an epoch: min_epochs up to full_epochs_rows (50,000), then falling
    # as the square root of the rows; the steps still count.
    assert budget.least_epochs(100, rows_per_epoch=50_000) == 20
    assert budget.least_epochs(100, rows_per_epoch=200_000) == 10
    assert budget.least_epochs(2_000, rows_per_epoch=1_000_000) == 5
    assert budget.least_epochs(8, rows_per_epoch=1_000_000) == 125
    # A plateau: less than 5% better than n_iter_no_change epochs before.
    assert budget.reached_plateau([10.0, 9.8, 9.7, 9.6], window=3)
    assert not budget.reached_plateau([10.0, 9.0, 9.5, 9.6], window=3)
    assert not budget.reached_plateau([10.0, 9.8, 9.7], window=3)  # too short


def test_budgeted_training_stops_at_the_plateau_after_the_least_epochs():
    from sk_prodembed._engine import EpochBudget

    X, y = _data()  # 10 batches of 20 rows an epoch; converges in a few epochs
    budget = EpochBudget(min_steps=65, min_epochs=2, max_epochs=50)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a plateau is convergence: no warning
        history = _train(LinearRegressionObjective(3), X, y, tol=0, n_iter_no_change=3,
                         max_iter=budget)
    assert 7 <= history.n_iter < 50  # at least 65 steps, then the plateau
    curve = history.loss_curve
    assert curve[-4] - min(curve[-3:]) < 0.05 * curve[-4]


def test_budgeted_training_runs_its_least_epochs_whatever_tol_says():
    """The documented minimum of ``max_iter="auto"`` (enough epochs for
    ``min_steps``) holds against the ``tol`` rule too: a small catalog whose
    noisy epoch losses stop beating their best by ``tol`` still gets its
    steps. Before the fix the ``tol`` rule ended such fits early (a default
    triplet fit of 1,363 rows stopped after 7 of its 50 epochs)."""
    from sk_prodembed._engine import EpochBudget

    X, y = _data()  # 10 batches an epoch
    budget = EpochBudget(min_steps=120, min_epochs=1, max_epochs=50, plateau=0.0)
    # tol=1e9: no epoch after the first counts as an improvement, so the tol
    # rule alone would stop after 1 + n_iter_no_change + 1 = 3 epochs.
    history = _train(LinearRegressionObjective(3), X, y, tol=1e9, n_iter_no_change=1,
                     max_iter=budget)
    assert history.n_iter == 12  # the least epochs, then the tol rule
    assert history.n_steps == 120
    # A plain int max_iter keeps scikit-learn's rule: it stops after 3 epochs.
    history = _train(LinearRegressionObjective(3), X, y, tol=1e9, n_iter_no_change=1)
    assert history.n_iter == 3


def test_budgeted_training_runs_fewer_epochs_on_more_rows():
    """The least epochs of a budget fall once an epoch holds more than
    ``full_epochs_rows`` rows: the train loop passes it the rows it saw in
    the first epoch, not only the steps."""
    from sk_prodembed._engine import EpochBudget

    X, y = _data()  # 200 rows, 10 batches an epoch
    least = {}
    for full_epochs_rows in (1_000, 50):
        budget = EpochBudget(min_steps=1, min_epochs=8, max_epochs=50, plateau=0.0,
                             full_epochs_rows=full_epochs_rows)
        # tol=1e9: only the least epochs keep the fit going (then the tol rule).
        history = _train(LinearRegressionObjective(3), X, y, tol=1e9, n_iter_no_change=1,
                         max_iter=budget)
        least[full_epochs_rows] = history.n_iter
    assert least == {1_000: 8, 50: 4}  # ceil(8 * sqrt(50 / 200)) = 4


def test_budgeted_training_warns_without_a_plateau():
    from sk_prodembed._engine import EpochBudget

    X, y = _data()
    budget = EpochBudget(min_steps=10, min_epochs=1, max_epochs=4, plateau=1e-12)
    with pytest.warns(ConvergenceWarning, match=r"maximum iterations \(4, max_iter='auto'"):
        history = _train(LinearRegressionObjective(3), X, y, tol=0, n_iter_no_change=100,
                         max_iter=budget)
    assert history.n_iter == 4 and history.n_steps == 40


def test_numpy_integer_max_iter_is_a_number_of_epochs():
    # GridSearchCV over np.arange(...) passes numpy integers.
    X, y = _data()
    with pytest.warns(ConvergenceWarning, match=r"maximum iterations \(3\)"):
        history = _train(LinearRegressionObjective(3), X, y, max_iter=np.int64(3), tol=0)
    assert history.n_iter == 3


class _ScoredByEpoch(LinearRegressionObjective):
    """Validation scores given per epoch; the weights of each epoch are kept."""

    def __init__(self, scores, **kwargs):
        super().__init__(3, **kwargs)
        self.scores, self.weights = list(scores), []

    def validation_score(self, X_val, y_val):
        self.weights.append(self.w.copy())
        return self.scores[len(self.weights) - 1]


def test_divergence_under_early_stopping_keeps_the_best_validation_epoch():
    X, y = _data()
    # 10 batches an epoch: the loss becomes NaN in the fourth epoch.
    objective = _ScoredByEpoch([0.1, 0.5, 0.2], explode_after=35)
    with pytest.warns(ConvergenceWarning, match="best validation epoch were kept"):
        history = _train(objective, X, y, validation=(X, y), n_iter_no_change=10)
    assert history.n_iter == 3
    np.testing.assert_array_equal(objective.w, objective.weights[1])
    assert history.best_validation_score == 0.5


def test_a_warm_started_early_stopping_restores_the_best_epoch_of_its_own_call():
    X, y = _data()
    history = TrainingHistory()
    _train(_ScoredByEpoch([0.9, 0.8, 0.7]), X, y, history=history, validation=(X, y),
           n_iter_no_change=1)
    assert history.best_validation_score == 0.9
    # The next call holds out other rows: its scores are not comparable with
    # 0.9, and its best epoch (the second) is the one restored and reported.
    objective = _ScoredByEpoch([0.2, 0.4, 0.3, 0.1])
    objective.w[:] = 1.0
    _train(objective, X, y, history=history, validation=(X, y), n_iter_no_change=1)
    assert history.validation_scores[3:] == [0.2, 0.4, 0.3, 0.1]
    np.testing.assert_array_equal(objective.w, objective.weights[1])
    assert history.best_validation_score == 0.4


def test_stratified_split_keeps_every_label_proportional_with_many_labels():
    rng = np.random.RandomState(0)
    sizes = rng.randint(2, 12, size=300)  # 300 labels, more than the 190 held-out rows
    y = np.repeat(np.arange(300), sizes)
    X = np.arange(len(y)).reshape(-1, 1)
    X_train, X_val, y_train, y_val = split_validation(X, y, 0.1, rng, stratify=True)
    assert len(X_val) == int(np.ceil(0.1 * len(y)))
    assert not set(X_train.ravel()) & set(X_val.ravel())
    share = sizes * len(X_val) / len(y)
    held = np.bincount(y_val, minlength=300)
    assert np.all(np.abs(held - share) < 1)
    assert np.all(np.bincount(y_train, minlength=300) >= 1)


def test_stratified_split_keeps_the_row_of_a_label_seen_once_for_training():
    y = np.concatenate([np.repeat([0, 1], 40), np.arange(2, 12)])  # ten labels of one row
    X = np.arange(len(y)).reshape(-1, 1)
    for seed in range(5):
        _, _, y_train, y_val = split_validation(X, y, 0.2, np.random.RandomState(seed), True)
        assert set(range(2, 12)) <= set(y_train)
        assert np.sum(y_val == 0) == np.sum(y_val == 1) == 9


def test_weights_that_overflow_in_the_last_step_of_an_epoch_count_as_divergence():
    # Each loss is computed before its step: the last step of an epoch can
    # leave infinite weights behind a finite loss.
    X, y = _data()

    class OverflowingStep(LinearRegressionObjective):
        def loss_and_gradient(self, batch):
            loss, grads = super().loss_and_gradient(batch)
            if self.calls == 20:  # the last batch of the second epoch
                grads = [np.full_like(grads[0], -np.inf)]
            return loss, grads

    objective = OverflowingStep(3)
    with pytest.warns(ConvergenceWarning, match="diverged in epoch 2"):
        history = _train(objective, X, y)
    assert history.n_iter == 1
    assert np.isfinite(objective.w).all()
    np.testing.assert_array_equal(objective.w, _weights_after_epochs(X, y, 1))
