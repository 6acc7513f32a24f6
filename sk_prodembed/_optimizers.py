"""Stochastic optimizers that update a list of parameter arrays in place.

They follow the shape of scikit-learn's ``_stochastic_optimizers``: plain
objects holding their own state, with one ``update_params(params, grads)``.
Updates are computed in the parameters' dtype, so float32 training stays
float32.

The updates run through each parameter in blocks of ``_BLOCK_SIZE`` entries:
every pass of an update over a block then stays in the core's cache, instead
of streaming the whole (n_features x n_components) matrices through memory
once per pass. Each entry sees exactly the same operations as without
blocks.

A gradient given as an :class:`~sk_prodembed._indexed.IndexedGradient` gets a
lazy update: only its slices of the parameter and of the optimizer's state
move (TensorFlow's LazyAdam, PyTorch's SparseAdam). The untouched slices keep
their momentum for the next batch that touches them, instead of decaying it
and drifting on it at every step; the bias correction still counts every
step.
"""

import numpy as np

from ._indexed import IndexedGradient

# Entries per block: the four arrays of an Adam update of this many float32
# entries (1 MiB) fit in a 2 MiB L2 cache with room to spare, and blocks this
# large keep the Python overhead per ufunc call negligible.
_BLOCK_SIZE = 1 << 16


def _blocks(*arrays):
    """Yield aligned slices of ``arrays`` (same shape, all C- or all
    F-contiguous) of ``_BLOCK_SIZE`` entries.

    Arrays of mixed or non-contiguous layouts are yielded whole, since a flat
    view of them would be a copy and the in-place updates would be lost.
    """
    if all(a.flags.c_contiguous for a in arrays):
        order = "C"
    elif all(a.flags.f_contiguous for a in arrays):
        order = "F"
    else:
        order = None
    if order is None or arrays[0].size <= _BLOCK_SIZE:
        yield arrays
        return
    flat = [a.reshape(-1, order=order) for a in arrays]
    for start in range(0, flat[0].shape[0], _BLOCK_SIZE):
        yield tuple(a[start : start + _BLOCK_SIZE] for a in flat)


def _zeros_like(param):
    """Zero state for ``param``, in its memory layout.

    Unlike ``np.zeros_like``, the pages are not written: the operating system
    maps zero pages on demand, so the state of weights that lazy updates
    never touch costs neither time nor memory.
    """
    order = "F" if param.flags.f_contiguous and not param.flags.c_contiguous else "C"
    return np.zeros(param.shape, param.dtype, order=order)


def _each_update(params, grads, *states):
    """Yield ``(param, grad, *state)`` blocks to update in place.

    For an :class:`IndexedGradient`, the blocks are copies of the touched
    slices, written back into the parameter and states once updated.
    """
    for param, grad, *state in zip(params, grads, *states):
        if isinstance(grad, IndexedGradient):
            arrays = [grad.take(param), grad.values, *(grad.take(s) for s in state)]
            yield from _blocks(*arrays)
            grad.put(param, arrays[0])
            for s, slices in zip(state, arrays[2:]):
                grad.put(s, slices)
        else:
            yield from _blocks(param, grad, *state)


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
        self.velocities = [_zeros_like(p) for p in params]

    def update_params(self, params, grads):
        """Take one step; ``grads`` are used as scratch space and overwritten."""
        lr, mu = self.learning_rate, self.momentum
        for param, grad, velocity in _each_update(params, grads, self.velocities):
            grad *= lr
            velocity *= mu
            velocity -= grad
            if self.nesterov:
                # param += mu * velocity - lr * grad
                param -= grad
                np.multiply(velocity, mu, out=grad)
                param += grad
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
        self.first_moments = [_zeros_like(p) for p in params]
        self.second_moments = [_zeros_like(p) for p in params]

    def update_params(self, params, grads):
        """Take one step; ``grads`` are used as scratch space and overwritten."""
        self.t += 1
        b1, b2 = self.beta_1, self.beta_2
        # A Python float, so that float32 parameters are not promoted.
        step = float(self.learning_rate * np.sqrt(1 - b2**self.t) / (1 - b1**self.t))
        # In place, the gradient being the only scratch space: the largest
        # weight matrices are (n_features x n_components) and this runs once
        # per minibatch.
        states = (self.first_moments, self.second_moments)
        for param, grad, m, v in _each_update(params, grads, *states):
            # m = b1 m + (1 - b1) g, without a temporary
            m -= grad
            m *= b1
            m += grad
            # v = b2 v + (1 - b2) g^2 = v + (1 - b2) (g^2 - v)
            np.multiply(grad, grad, out=grad)
            grad -= v
            grad *= 1 - b2
            v += grad
            np.sqrt(v, out=grad)
            grad += self.epsilon
            np.divide(m, grad, out=grad)
            grad *= step
            param -= grad


def make_optimizer(solver, params, *, learning_rate, momentum, beta_1, beta_2, epsilon):
    """Build the optimizer named by an estimator's ``solver`` parameter."""
    if solver == "adam":
        return Adam(params, learning_rate, beta_1, beta_2, epsilon)
    if solver == "sgd":
        return SGD(params, learning_rate, momentum)
    raise ValueError(f"Unknown solver {solver!r}; expected 'adam' or 'sgd'.")
