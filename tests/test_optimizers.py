import numpy as np
import pytest

from _gradients import densify

from sk_prodembed._optimizers import SGD, Adam, make_optimizer, resume_optimizer


def test_adam_matches_closed_form():
    rng = np.random.RandomState(0)
    param = rng.randn(3, 2)
    grads = [rng.randn(3, 2) for _ in range(4)]
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    optimizer = Adam([param], lr, b1, b2, eps)
    expected = param.copy()
    m = np.zeros_like(param)
    v = np.zeros_like(param)
    for t, g in enumerate(grads, start=1):
        optimizer.update_params([param], [g.copy()])
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        # Bias correction folded into the step size (Kingma & Ba, end of section 2).
        step = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        expected -= step * m / (np.sqrt(v) + eps)
        np.testing.assert_allclose(param, expected, rtol=1e-12)


def test_adam_first_step_has_learning_rate_size():
    param = np.zeros(3)
    Adam([param], learning_rate=0.1).update_params([param], [np.array([2.0, -5.0, 0.1])])
    np.testing.assert_allclose(param, [-0.1, 0.1, -0.1], rtol=1e-4)


@pytest.mark.parametrize("nesterov", [True, False])
def test_sgd_momentum_matches_closed_form(nesterov):
    rng = np.random.RandomState(0)
    param = rng.randn(4)
    grads = [rng.randn(4) for _ in range(3)]
    optimizer = SGD([param], learning_rate=0.1, momentum=0.5, nesterov=nesterov)
    expected = param.copy()
    velocity = np.zeros(4)
    for g in grads:
        optimizer.update_params([param], [g.copy()])
        velocity = 0.5 * velocity - 0.1 * g
        expected += 0.5 * velocity - 0.1 * g if nesterov else velocity
        np.testing.assert_allclose(param, expected, rtol=1e-12)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_float32_parameters_stay_float32(solver):
    param = np.ones(5, dtype=np.float32)
    optimizer = make_optimizer(
        solver, [param], learning_rate=0.1, momentum=0.9, beta_1=0.9, beta_2=0.999, epsilon=1e-8
    )
    for _ in range(3):
        optimizer.update_params([param], [np.full(5, 0.5, dtype=np.float32)])
    assert param.dtype == np.float32
    assert (param < 1).all()


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_optimizers_minimise_a_quadratic(solver):
    param = np.array([3.0, -2.0])
    optimizer = make_optimizer(
        solver, [param], learning_rate=0.05, momentum=0.9, beta_1=0.9, beta_2=0.999, epsilon=1e-8
    )
    for _ in range(500):
        optimizer.update_params([param], [2 * param])
    np.testing.assert_allclose(param, 0, atol=1e-2)


def test_unknown_solver():
    with pytest.raises(ValueError, match="lbfgs"):
        make_optimizer("lbfgs", [], learning_rate=1, momentum=0, beta_1=0, beta_2=0, epsilon=1)


@pytest.mark.parametrize("solver, changed", [("adam", "beta_1"), ("adam", "beta_2"),
                                              ("adam", "epsilon"), ("sgd", "momentum"),
                                              ("adam", "learning_rate")])
def test_a_resumed_optimizer_takes_each_new_hyperparameter_and_keeps_its_state(solver, changed):
    kwargs = dict(learning_rate=0.1, momentum=0.9, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    param = np.ones(3)
    optimizer = make_optimizer(solver, [param], **kwargs)
    optimizer.update_params([param], [np.full(3, 0.5)])
    states = [getattr(optimizer, name)[0].copy() for name in optimizer._state_names]
    resumed = resume_optimizer(optimizer, solver, [param], **{**kwargs, changed: 0.5})
    assert resumed is optimizer and resumed.t == 1
    for name, before in zip(resumed._state_names, states):
        np.testing.assert_array_equal(getattr(resumed, name)[0], before)
        assert np.any(before != 0)  # the step did move the state
    assert getattr(resumed, changed) == 0.5


def test_resuming_with_another_solver_starts_a_new_optimizer():
    kwargs = dict(learning_rate=0.1, momentum=0.9, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    param = np.ones(3)
    adam = make_optimizer("adam", [param], **kwargs)
    adam.update_params([param], [np.full(3, 0.5)])
    sgd = resume_optimizer(adam, "sgd", [param], **kwargs)
    assert isinstance(sgd, SGD) and sgd.t == 0


def _twin_optimizers(solver, initial):
    """Two copies of ``initial`` with an optimizer each, for lazy against dense updates.

    Adam starts where its bias correction has settled and with a negligible
    epsilon: the conditions under which its lazy catch-up is exact.
    """
    lazy_param, dense_param = initial.copy(), initial.copy()
    kwargs = dict(learning_rate=0.01, momentum=0.9, beta_1=0.9, beta_2=0.999, epsilon=1e-12)
    lazy = make_optimizer(solver, [lazy_param], **kwargs)
    dense = make_optimizer(solver, [dense_param], **kwargs)
    if solver == "adam":
        lazy.t = dense.t = 20000
    return lazy_param, dense_param, lazy, dense


def _indexed_step_on_both(rng, index, axis, twins):
    """One step of a random gradient on the ``index`` slices: as an
    IndexedGradient to the lazy twin, densified with zeros to the dense one."""
    from sk_prodembed._indexed import IndexedGradient

    lazy_param, dense_param, lazy, dense = twins
    width = lazy_param.shape[1 - axis]
    values = rng.randn(len(index), width) if axis == 0 else rng.randn(width, len(index))
    grad = IndexedGradient(index, values, axis)
    dense_grad = densify(grad, dense_param)  # before values serve as scratch space
    lazy.update_params([lazy_param], [grad])
    dense.update_params([dense_param], [dense_grad])


def _assert_untouched(param, before, index, axis):
    """The slices of ``param`` outside ``index`` (along ``axis``) still equal ``before``'s."""
    untouched = np.setdiff1d(np.arange(param.shape[axis]), index)
    np.testing.assert_array_equal(
        np.take(param, untouched, axis=axis), np.take(before, untouched, axis=axis)
    )


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("axis", [0, 1])
def test_lazy_updates_catch_up_with_dense_updates(solver, axis):
    # Gradients touching a few rows (columns) at a time, given as
    # IndexedGradient to one optimizer and densified with zeros to another:
    # a step reads and writes only the touched slices, yet after flush() the
    # weights and states are those of the dense updates. Exact for SGD; for
    # Adam the catch-up takes the skipped steps at the current step size and
    # neglects epsilon, so the test runs where the bias correction has
    # settled and epsilon is negligible.
    rng = np.random.RandomState(0)
    shape = (7, 5) if axis == 0 else (5, 7)
    twins = _twin_optimizers(solver, rng.randn(*shape))
    lazy_param, dense_param, lazy, dense = twins
    first = rng.randn(*shape)  # a dense step gives every slice momentum
    lazy.update_params([lazy_param], [first.copy()])
    dense.update_params([dense_param], [first.copy()])

    for _ in range(12):
        index = rng.choice(7, 2, replace=False)
        before = lazy_param.copy()
        _indexed_step_on_both(rng, index, axis, twins)
        # Untouched slices are not written during the step ...
        _assert_untouched(lazy_param, before, index, axis)
    # ... and catch up when flushed.
    lazy.flush([lazy_param])
    rtol = 1e-12 if solver == "sgd" else 1e-6
    np.testing.assert_allclose(lazy_param, dense_param, rtol=rtol)
    names = ("velocities",) if solver == "sgd" else ("first_moments", "second_moments")
    for name in names:
        np.testing.assert_allclose(getattr(lazy, name)[0], getattr(dense, name)[0], rtol=rtol)
    # Flushing again changes nothing.
    flushed = lazy_param.copy()
    lazy.flush([lazy_param])
    np.testing.assert_array_equal(lazy_param, flushed)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_column_major_parameters_update_like_row_major_ones(solver):
    # Large enough to be updated block by block.
    rng = np.random.RandomState(0)
    param_c = rng.randn(64, 3000)
    param_f = np.asfortranarray(param_c)
    kwargs = dict(learning_rate=0.1, momentum=0.9, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    opt_c = make_optimizer(solver, [param_c], **kwargs)
    opt_f = make_optimizer(solver, [param_f], **kwargs)
    for _ in range(3):
        grad = rng.randn(64, 3000)
        opt_c.update_params([param_c], [grad.copy()])
        opt_f.update_params([param_f], [np.asfortranarray(grad)])
    assert param_f.flags.f_contiguous
    np.testing.assert_allclose(param_f, param_c, rtol=1e-12)


@pytest.mark.parametrize("axis", [0, 1])
def test_flush_of_large_parameters_goes_block_by_block_exactly(axis):
    # Parameters larger than a block, in the layouts the networks use:
    # row-major rows (encoder input layer), column-major columns (decoder
    # output layer).
    from sk_prodembed._indexed import IndexedGradient

    rng = np.random.RandomState(0)
    lazy_param = rng.randn(3000, 64) if axis == 0 else np.asfortranarray(rng.randn(64, 3000))
    dense_param = lazy_param.copy(order="K")
    lazy = SGD([lazy_param], learning_rate=0.1, momentum=0.9)
    dense = SGD([dense_param], learning_rate=0.1, momentum=0.9)
    for _ in range(4):
        index = rng.choice(3000, 500, replace=False)
        values = rng.randn(500, 64) if axis == 0 else rng.randn(64, 500)
        grad = IndexedGradient(index, values, axis)
        dense_grad = densify(grad, dense_param)
        lazy.update_params([lazy_param], [grad])
        dense.update_params([dense_param], [dense_grad])
    lazy.flush([lazy_param])
    # The closed form sums in another order than step by step: rounding only.
    np.testing.assert_allclose(lazy_param, dense_param, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(lazy.velocities[0], dense.velocities[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("nesterov", [True, False])
def test_lazy_and_dense_steps_mix_exactly(nesterov):
    # Reconstruction sampling falls back to a dense gradient for a batch
    # with few absent features: mixing lazy and dense steps must still
    # follow dense updates exactly (SGD's catch-up is exact).
    from sk_prodembed._indexed import IndexedGradient

    rng = np.random.RandomState(0)
    lazy_param = rng.randn(6, 3)
    dense_param = lazy_param.copy()
    lazy = SGD([lazy_param], learning_rate=0.1, momentum=0.8, nesterov=nesterov)
    dense = SGD([dense_param], learning_rate=0.1, momentum=0.8, nesterov=nesterov)
    for kind in ["lazy", "lazy", "dense", "dense", "lazy", "dense", "lazy", "lazy"]:
        values = rng.randn(2, 3)
        grad = IndexedGradient(rng.choice(6, 2, replace=False), values)
        dense_grad = densify(grad, dense_param)
        lazy.update_params([lazy_param], [grad if kind == "lazy" else dense_grad.copy()])
        dense.update_params([dense_param], [dense_grad])
    lazy.flush([lazy_param])
    np.testing.assert_allclose(lazy_param, dense_param, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("axis", [0, 1])
def test_caught_up_slices_read_as_dense_updates_left_them(solver, axis):
    # Before a batch's forward pass, catch_up brings the slices it touches up
    # to date: they must then hold what dense updates would have left there
    # (exactly for SGD; Adam's catch-up is approximate, as in
    # test_lazy_updates_catch_up_with_dense_updates), so that the gradient is
    # taken at the same weights.
    from sk_prodembed._indexed import Slices

    rng = np.random.RandomState(0)
    shape = (9, 4) if axis == 0 else (4, 9)
    twins = _twin_optimizers(solver, rng.randn(*shape))
    lazy_param, dense_param, lazy, _ = twins
    lazy.catch_up([lazy_param], [Slices(np.arange(3), axis)])  # nothing lazy yet: a no-op
    lazy.catch_up([lazy_param], [None])  # a parameter read whole: nothing to do
    rtol = 1e-12 if solver == "sgd" else 1e-6
    for step in range(15):
        index = rng.choice(9, 3, replace=False)
        before = lazy_param.copy()
        lazy.catch_up([lazy_param], [Slices(index, axis)])
        np.testing.assert_allclose(
            np.take(lazy_param, index, axis=axis), np.take(dense_param, index, axis=axis),
            rtol=rtol,
        )
        if step > 0:
            # Only the caught-up slices were written.
            _assert_untouched(lazy_param, before, index, axis)
        _indexed_step_on_both(rng, index, axis, twins)
    lazy.flush([lazy_param])
    np.testing.assert_allclose(lazy_param, dense_param, rtol=rtol)


@pytest.mark.parametrize(
    "solver, kwargs",
    [
        ("sgd", dict(momentum=1.0)),  # a geometric ratio of exactly 1
        ("sgd", dict(momentum=0.0)),
        ("adam", dict(beta_1=0.9, beta_2=0.81)),  # beta_1 / sqrt(beta_2) = 1
        ("adam", dict(beta_1=0.0)),
        ("adam", dict(beta_1=0.9, beta_2=0.0)),  # no second moment left to decay
        ("adam", dict(beta_1=0.9, beta_2=0.5)),  # ratio above 1
    ],
)
def test_catch_up_at_boundary_values_follows_dense_updates(solver, kwargs):
    # The closed-form catch-up must hold where its geometric ratio is 0, 1 or
    # more (it divided 0 by 0 at exactly 1). Adam's neglects epsilon next to
    # the decayed second moment, so it is compared where epsilon is negligible;
    # with beta_2 = 0 the second moment is zero and the catch-up is exact.
    from sk_prodembed._indexed import IndexedGradient, Slices

    rng = np.random.RandomState(0)
    settings = dict(learning_rate=0.01, momentum=0.9, beta_1=0.9, beta_2=0.999, epsilon=1e-30)
    settings.update(kwargs)
    lazy_param = rng.randn(6, 3)
    dense_param = lazy_param.copy()
    lazy = make_optimizer(solver, [lazy_param], **settings)
    dense = make_optimizer(solver, [dense_param], **settings)
    if solver == "adam":
        # Where the bias correction has settled: the catch-up takes the
        # skipped steps at the current step size.
        lazy.t = dense.t = 20000
    if settings["beta_2"] == 0:
        lazy.epsilon = dense.epsilon = 1e-3
    first = rng.randn(6, 3)
    lazy.update_params([lazy_param], [first.copy()])
    dense.update_params([dense_param], [first.copy()])
    for _ in range(8):
        index = rng.choice(6, 2, replace=False)
        lazy.catch_up([lazy_param], [Slices(index)])
        grad = IndexedGradient(index, rng.randn(2, 3))
        dense_grad = densify(grad, dense_param)
        lazy.update_params([lazy_param], [grad])
        dense.update_params([dense_param], [dense_grad])
    lazy.flush([lazy_param])
    assert np.isfinite(lazy_param).all()
    rtol = 1e-10 if solver == "sgd" or settings["beta_2"] == 0 else 1e-4
    np.testing.assert_allclose(lazy_param, dense_param, rtol=rtol)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_grown_rows_train_as_if_they_had_been_there_with_zero_gradients(solver):
    # A parameter of 3 rows grows to 5 after 3 steps, its old rows moving to
    # rows 0, 2, 4. Its trajectory is that of a 5-row parameter whose rows 1
    # and 3 had a zero gradient (so a zero state, and no move) until then.
    rng = np.random.RandomState(0)
    index = np.array([0, 2, 4])
    first_grads = [rng.randn(3, 2) for _ in range(3)]
    later_grads = [rng.randn(5, 2) for _ in range(2)]
    start = rng.randn(5, 2)
    other = rng.randn(4)  # a second parameter, left as it is

    def optimizer(params):
        return make_optimizer(
            solver, params, learning_rate=0.01, momentum=0.9, beta_1=0.9, beta_2=0.999,
            epsilon=1e-8,
        )

    reference = [start.copy(), other.copy()]
    reference_optimizer = optimizer(reference)
    grown = [start[index].copy(), other.copy()]
    grown_optimizer = optimizer(grown)
    for g in first_grads:
        padded = np.zeros((5, 2))
        padded[index] = g
        reference_optimizer.update_params(reference, [padded, np.ones(4)])
        grown_optimizer.update_params(grown, [g.copy(), np.ones(4)])
    bigger = start.copy()
    bigger[index] = grown[0]
    grown_optimizer.grow_rows(0, grown[0], index, 5)
    grown[0] = bigger
    for g in later_grads:
        reference_optimizer.update_params(reference, [g.copy(), np.ones(4)])
        grown_optimizer.update_params(grown, [g.copy(), np.ones(4)])
    for mine, expected in zip(grown, reference):
        np.testing.assert_allclose(mine, expected, rtol=1e-12)


def test_grow_rows_can_add_a_new_last_parameter():
    # A parameter the optimizer has not tracked yet (the proxies of a fit
    # that first had none) joins with a zero state: its first step is the
    # first step of a fresh optimizer.
    param = np.ones(3)
    optimizer = Adam([param], learning_rate=0.1)
    optimizer.update_params([param], [np.ones(3)])
    proxies = np.zeros((0, 2))
    optimizer.grow_rows(1, proxies, np.array([], dtype=int), 4)
    proxies = np.zeros((4, 2))
    grad = np.array([[1.0, -1.0]] * 4)
    optimizer.update_params([param, proxies], [np.ones(3), grad.copy()])
    assert len(optimizer.first_moments) == 2 and optimizer.first_moments[1].shape == (4, 2)
    # Adam's second step with a zero state: m = 0.1 g, v = 0.001 g^2, at t = 2.
    step = 0.1 * np.sqrt(1 - 0.999**2) / (1 - 0.9**2)
    np.testing.assert_allclose(proxies, -step * (0.1 * grad) / (np.sqrt(0.001) * 1 + 1e-8), rtol=1e-6)

