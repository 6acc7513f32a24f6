"""Test helpers: indexed gradients made dense, and the numerical gradient check
of a training objective over all its parameters."""

import numpy as np
from scipy.optimize import check_grad

from sk_prodembed._indexed import IndexedGradient


def densify(grad, like):
    """``grad`` as a dense array shaped and typed like the parameter ``like``."""
    if not isinstance(grad, IndexedGradient):
        return grad
    dense = np.zeros_like(like)
    grad.put(dense, grad.values)
    return dense


def batch_loss_and_gradient(objective, X, y, rng):
    """One training batch of an engine objective: prepare it, then its loss and gradients."""
    return objective.loss_and_gradient(objective.prepare_batch(X, y, rng))


def objective_gradient_error(objective, X, y, seed=7):
    """``check_grad`` of ``objective.loss_and_gradient`` with respect to ``objective.params``.

    The random state is re-seeded on every call, so the masks (and sampled
    features) are the same each time and the objective is a fixed function.

    Returns
    -------
    error : float
        Norm of the difference between the analytic and numerical gradients.
    scale : float
        Largest absolute analytic gradient entry (at least 1), to make the
        error relative where gradients are large.
    """
    params = objective.params
    sizes = [p.size for p in params]

    def set_params(theta):
        for param, chunk in zip(params, np.split(theta, np.cumsum(sizes)[:-1])):
            param[...] = chunk.reshape(param.shape)

    def loss(theta):
        set_params(theta)
        return batch_loss_and_gradient(objective, X, y, np.random.RandomState(seed))[0]

    def gradient(theta):
        set_params(theta)
        grads = batch_loss_and_gradient(objective, X, y, np.random.RandomState(seed))[1]
        return np.concatenate([densify(g, p).ravel() for g, p in zip(grads, params)])

    theta0 = np.concatenate([p.ravel() for p in params])
    error = check_grad(loss, gradient, theta0)
    scale = max(1.0, float(np.abs(gradient(theta0)).max()))
    set_params(theta0)
    return error, scale
