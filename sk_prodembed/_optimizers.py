"""Stochastic optimizers that update a list of parameter arrays in place.

They follow the shape of scikit-learn's ``_stochastic_optimizers``: plain
objects holding their own state, with one ``update_params(params, grads)``.
Updates are computed in the parameters' dtype, so float32 training stays
float32.
"""

import numpy as np


class SGD:
    """Stochastic gradient descent with (optionally Nesterov) momentum.

    Parameters
    ----------
    params : list of ndarray
        Only used to allocate the velocities.
    learning_rate : float
    momentum : float in [0, 1)
    nesterov : bool
    """

    def __init__(self, params, learning_rate=0.01, momentum=0.9, nesterov=True):
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.nesterov = nesterov
        self.velocities = [np.zeros_like(p) for p in params]

    def update_params(self, params, grads):
        lr, mu = self.learning_rate, self.momentum
        for param, grad, velocity in zip(params, grads, self.velocities):
            velocity *= mu
            velocity -= lr * grad
            if self.nesterov:
                param += mu * velocity - lr * grad
            else:
                param += velocity


class Adam:
    """Adam (Kingma and Ba, 2015) with bias correction folded into the step size.

    Parameters
    ----------
    params : list of ndarray
        Only used to allocate the moment estimates.
    learning_rate : float
    beta_1, beta_2 : float in [0, 1)
    epsilon : float
    """

    def __init__(
        self, params, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8
    ):
        self.learning_rate = learning_rate
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.t = 0
        self.first_moments = [np.zeros_like(p) for p in params]
        self.second_moments = [np.zeros_like(p) for p in params]

    def update_params(self, params, grads):
        """Take one step; ``grads`` are used as scratch space and overwritten."""
        self.t += 1
        b1, b2 = self.beta_1, self.beta_2
        # A Python float, so that float32 parameters are not promoted.
        step = float(self.learning_rate * np.sqrt(1 - b2**self.t) / (1 - b1**self.t))
        for param, grad, m, v in zip(
            params, grads, self.first_moments, self.second_moments
        ):
            # In place, with one scratch array: the largest weight matrices are
            # (n_features x n_components) and this runs once per minibatch.
            m *= b1
            m += (1 - b1) * grad
            scratch = np.multiply(grad, grad, out=grad)
            v *= b2
            scratch *= 1 - b2
            v += scratch
            np.sqrt(v, out=scratch)
            scratch += self.epsilon
            np.divide(m, scratch, out=scratch)
            scratch *= step
            param -= scratch


def make_optimizer(solver, params, *, learning_rate, momentum, beta_1, beta_2, epsilon):
    """Build the optimizer named by an estimator's ``solver`` parameter."""
    if solver == "adam":
        return Adam(params, learning_rate, beta_1, beta_2, epsilon)
    if solver == "sgd":
        return SGD(params, learning_rate, momentum)
    raise ValueError(f"Unknown solver {solver!r}; expected 'adam' or 'sgd'.")
