import numpy as np
import pytest

from sk_prodembed._optimizers import SGD, Adam, make_optimizer


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


@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("axis", [0, 1])
def test_indexed_gradient_updates_only_its_slices(solver, axis):
    # Lazy update: the touched slices follow the optimizer exactly as a
    # parameter holding only them would; the others do not move at all, even
    # when an earlier step gave them momentum.
    from sk_prodembed._indexed import IndexedGradient

    rng = np.random.RandomState(0)
    param = rng.randn(6, 5)
    kwargs = dict(learning_rate=0.1, momentum=0.9, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    optimizer = make_optimizer(solver, [param], **kwargs)
    optimizer.update_params([param], [rng.randn(6, 5)])  # momentum everywhere

    index = np.array([4, 1])
    take = (lambda a: a[index]) if axis == 0 else (lambda a: a[:, index])
    reference = take(param).copy()
    reference_optimizer = make_optimizer(solver, [reference], **kwargs)
    # The reference starts from the touched slices of the optimizer's state.
    if solver == "adam":
        reference_optimizer.t = optimizer.t
        names = ("first_moments", "second_moments")
    else:
        names = ("velocities",)
    for name in names:
        getattr(reference_optimizer, name)[0][...] = take(getattr(optimizer, name)[0])

    before = param.copy()
    for _ in range(3):
        values = rng.randn(*reference.shape)
        optimizer.update_params([param], [IndexedGradient(index, values.copy(), axis)])
        reference_optimizer.update_params([reference], [values])
    np.testing.assert_allclose(take(param), reference, rtol=1e-12)
    untouched = np.setdiff1d(np.arange(param.shape[axis]), index)
    np.testing.assert_array_equal(
        np.take(param, untouched, axis=axis), np.take(before, untouched, axis=axis)
    )


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
