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
lazy update: the step reads and writes only its slices of the parameter and
of the optimizer's state, so its cost follows the touched slices, not the
parameter's size. Unlike TensorFlow's LazyAdam or PyTorch's SparseAdam, the
untouched slices are not frozen: each remembers the step it was last updated
at and catches up on the steps it skipped, in closed form, as a dense update
would have moved it: with a zero gradient, its momentum decays geometrically
and keeps moving the weight. The closed form is exact for SGD; for Adam it
takes every skipped step at the current step size and neglects ``epsilon``
next to the decayed second moment (exact again for ``beta_2=0``, where the
second moment of a skipped step is zero).

Lazy updates add one step to the plain ``update_params`` protocol of
scikit-learn's optimizers, :meth:`catch_up`: before a batch's forward pass
reads the slices it touches, the training engine brings them up to date, so
that the gradient is taken at the weights dense updates would have left
there. :meth:`flush`, called by the engine after every epoch, brings every
slice up to date. ``update_params`` catches up the slices it updates too, so
a caller that skips :meth:`catch_up` still gets the dense update's weights,
only from a gradient taken at stale ones.
"""

import numpy as np

from ._indexed import IndexedGradient, Slices

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


class _MomentumOptimizer:
    """Shared machinery: the step counter, blocks, and lazy updates with catch-up.

    Subclasses set ``_state_names`` (lists of arrays shaped like the params)
    and implement ``_step(param, grad, *states)``, in place on one block, and
    ``_catch_up(param, states, skipped)``, in place, for ``skipped`` steps
    with a zero gradient (an int array broadcastable to ``param``).
    """

    _state_names = ()

    def _init_state(self, params):
        self.t = 0
        for name in self._state_names:
            setattr(self, name, [_zeros_like(p) for p in params])
        # Per parameter: None while every update is dense; otherwise the
        # axis of its lazy updates and the step at which each row (axis 0) or
        # column (axis 1) was last brought up to date.
        self.last_updates = [None] * len(params)

    def reset(self, params):
        """Forget every step taken: zero state, as a new optimizer of ``params``.

        After a divergence the weights go back to the last finite epoch, but
        the velocities or moments of the steps that diverged would carry the
        next fit straight back to it, whatever its step size.
        """
        self._init_state(params)

    def _states(self, i):
        return [getattr(self, name)[i] for name in self._state_names]

    def update_params(self, params, grads):
        """Take one step; ``grads`` are used as scratch space and overwritten."""
        self.t += 1
        self._prepare_step()
        for i, (param, grad) in enumerate(zip(params, grads)):
            if isinstance(grad, IndexedGradient):
                if self.last_updates[i] is None:
                    last = np.full(param.shape[grad.axis], self.t - 1, dtype=np.int64)
                    self.last_updates[i] = (grad.axis, last)
                param_slices, *state_slices = self._caught_up_slices(i, param, grad, self.t - 1)
                for block in _blocks(param_slices, grad.values, *state_slices):
                    self._step(*block)
                self._put_slices(i, param, grad, [param_slices, *state_slices], self.t)
            else:
                # A dense step after lazy ones: catch up first, then every
                # slice is up to date and stays so.
                self._flush_one(i, param, self.t - 1)
                self.last_updates[i] = None
                for block in _blocks(param, grad, *self._states(i)):
                    self._step(*block)

    def catch_up(self, params, touched):
        """Bring the slices a batch is about to read up to date with the steps taken.

        Parameters
        ----------
        params : list of ndarray
            The parameters, in the order of :meth:`update_params`.
        touched : list of Slices or None
            One entry per parameter: the slices of it that the coming
            batch reads and whose gradient it gives as an
            ``IndexedGradient`` (see ``MLP.touched_slices``), or None for
            a parameter the batch reads whole. A parameter that was never
            updated lazily is up to date and left alone.
        """
        for i, (param, slices) in enumerate(zip(params, touched)):
            lazy = self.last_updates[i]
            if slices is None or lazy is None:
                continue
            index = slices.index
            if lazy[0] == slices.axis:
                # Only the slices that missed steps: the frequent features of
                # a catalog are read by nearly every batch.
                index = index[lazy[1][index] < self.t]
                if index.size == 0:
                    continue
            stale = Slices(index, slices.axis)
            arrays = self._caught_up_slices(i, param, stale, self.t)
            self._put_slices(i, param, stale, arrays, self.t)

    def _caught_up_slices(self, i, param, slices, t):
        """Copies of the ``slices`` (a :class:`Slices`) of ``param`` and of its
        states, caught up to step ``t``."""
        axis, last = self.last_updates[i]
        if axis != slices.axis:
            # Lazy along the other axis until now: bring every slice up to
            # date and continue along this one.
            self._flush_one(i, param, t)
            last = np.full(param.shape[slices.axis], t, dtype=np.int64)
            self.last_updates[i] = (slices.axis, last)
        arrays = [slices.take(param), *(slices.take(s) for s in self._states(i))]
        skipped = t - last[slices.index]
        if skipped.any():
            skipped = _broadcast_along_axis(skipped, slices.axis, param.ndim)
            self._catch_up(arrays[0], arrays[1:], skipped)
        return arrays

    def _put_slices(self, i, param, slices, arrays, t):
        """Write back what :meth:`_caught_up_slices` took, now up to date with step ``t``."""
        slices.put(param, arrays[0])
        for state, values in zip(self._states(i), arrays[1:]):
            slices.put(state, values)
        self.last_updates[i][1][slices.index] = t

    def grow_rows(self, i, param, index, n_rows):
        """Make room in the state of parameter ``i`` for a parameter grown to ``n_rows`` rows.

        Row ``j`` of the old ``param`` moves to row ``index[j]``; the other
        rows are new and start with a zero state, as every row did at the
        first step. ``i`` may be the number of parameters tracked so far: a
        new last parameter (whose old ``param`` has no row). The caller
        grows ``param`` itself, the same way.
        """
        if i == len(self.last_updates):
            for name in self._state_names:
                getattr(self, name).append(_zeros_like(param))
            self.last_updates.append(None)
        # Every slice up to date first: the new rows then have no steps to catch up.
        self._flush_one(i, param, self.t)
        self.last_updates[i] = None
        for name in self._state_names:
            states = getattr(self, name)
            grown = np.zeros((n_rows, *param.shape[1:]), dtype=states[i].dtype)
            grown[index] = states[i]
            states[i] = grown

    def flush(self, params):
        """Bring every lazily updated slice up to date with the current step."""
        for i, param in enumerate(params):
            self._flush_one(i, param, self.t)

    def _flush_one(self, i, param, t):
        if self.last_updates[i] is None:
            return
        axis, last = self.last_updates[i]
        # Slice by slice along the lazy axis, in blocks that stay in cache.
        states = self._states(i)
        n_slices = param.shape[axis]
        step = max(1, _BLOCK_SIZE * n_slices // param.size)
        for start in range(0, n_slices, step):
            block = slice(start, start + step)
            where = block if axis == 0 else (slice(None), block)
            self._catch_up(
                param[where],
                [state[where] for state in states],
                _broadcast_along_axis(t - last[block], axis, param.ndim),
            )
        last[...] = t


def _broadcast_along_axis(skipped, axis, ndim):
    """Shape per-slice counts to broadcast along the rows (0) or columns (1)."""
    if ndim == 1:
        return skipped
    return skipped[:, None] if axis == 0 else skipped[None, :]


def _geometric_sum(ratio, skipped, first_power):
    """``sum(ratio**j for j in range(first_power, first_power + skipped))``, elementwise.

    ``ratio`` is a non-negative float, ``skipped`` an int array.
    """
    if ratio == 0:
        return np.where(skipped > 0, float(first_power == 0), 0.0)
    if ratio == 1:
        # The closed form below would divide 0 by 0.
        return skipped.astype(np.float64)
    return ratio**first_power * (1 - ratio**skipped) / (1 - ratio)


class SGD(_MomentumOptimizer):
    """Stochastic gradient descent with (optionally Nesterov) momentum.

    Parameters
    ----------
    params : list of ndarray
        Only used to allocate the velocities.
    learning_rate : float
    momentum : float in [0, 1]
    nesterov : bool
    """

    _state_names = ("velocities",)
    # The estimators' parameters this optimizer takes (besides learning_rate).
    _hyperparameters = ("momentum",)

    def __init__(self, params, learning_rate=0.01, momentum=0.9, nesterov=True):
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.nesterov = nesterov
        self._init_state(params)

    def _prepare_step(self):
        pass

    def _step(self, param, grad, velocity):
        lr, mu = self.learning_rate, self.momentum
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

    def _catch_up(self, param, states, skipped):
        (velocity,) = states
        mu = self.momentum
        # With a zero gradient, step j multiplies the velocity by mu and adds
        # it to the weights (mu times it with Nesterov's correction).
        moved = _geometric_sum(mu, skipped, 2 if self.nesterov else 1)
        param += (moved * velocity).astype(param.dtype, copy=False)
        velocity *= (mu**skipped).astype(velocity.dtype, copy=False)


class Adam(_MomentumOptimizer):
    """Adam (Kingma and Ba, 2015) with bias correction folded into the step size.

    Parameters
    ----------
    params : list of ndarray
        Only used to allocate the moment estimates.
    learning_rate : float
    beta_1, beta_2 : float in [0, 1)
    epsilon : float
    """

    _state_names = ("first_moments", "second_moments")
    _hyperparameters = ("beta_1", "beta_2", "epsilon")

    def __init__(
        self, params, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8
    ):
        self.learning_rate = learning_rate
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self._init_state(params)

    def _prepare_step(self):
        b1, b2, t = self.beta_1, self.beta_2, self.t
        # A Python float, so that float32 parameters are not promoted.
        self._step_size = float(self.learning_rate * np.sqrt(1 - b2**t) / (1 - b1**t))

    def _step(self, param, grad, m, v):
        # In place, the gradient being the only scratch space: the largest
        # weight matrices are (n_features x n_components) and this runs once
        # per minibatch.
        b1, b2 = self.beta_1, self.beta_2
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
        grad *= self._step_size
        param -= grad

    def _catch_up(self, param, states, skipped):
        m, v = states
        if not np.any(skipped):
            return
        b1, b2 = self.beta_1, self.beta_2
        step_size = getattr(self, "_step_size", self.learning_rate)
        if b2 == 0:
            # The second moment of every skipped step is zero: each moves the
            # weights by step * m_j / epsilon, with m_j = b1**j m.
            moved = _geometric_sum(b1, skipped, 1) * step_size
            update = m / self.epsilon
        else:
            # With a zero gradient, skipped step j scales m by b1 and v by b2
            # and moves the weights by step * m_j / sqrt(v_j)
            # = step * (b1 / sqrt(b2))**j * m / sqrt(v): a geometric sum.
            moved = _geometric_sum(b1 / np.sqrt(b2), skipped, 1) * step_size
            update = m / (np.sqrt(v) + self.epsilon)
        update *= moved.astype(param.dtype, copy=False)
        param -= update
        m *= (b1**skipped).astype(m.dtype, copy=False)
        v *= (b2**skipped).astype(v.dtype, copy=False)


_SOLVERS = {"adam": Adam, "sgd": SGD}


def make_optimizer(solver, params, *, learning_rate, **hyperparameters):
    """Build the optimizer named by an estimator's ``solver`` parameter.

    ``hyperparameters`` are the estimator's optimizer parameters (``momentum``,
    ``beta_1``, ``beta_2``, ``epsilon``); each optimizer takes the ones it uses.
    """
    if solver not in _SOLVERS:
        raise ValueError(
            f"Unknown solver {solver!r}; expected one of {', '.join(map(repr, _SOLVERS))}."
        )
    optimizer_class = _SOLVERS[solver]
    used = {name: hyperparameters[name] for name in optimizer_class._hyperparameters}
    return optimizer_class(params, learning_rate, **used)


def resume_optimizer(optimizer, solver, params, **hyperparameters):
    """The optimizer of a fit that continues a previous one (``partial_fit``, ``warm_start``).

    ``optimizer`` keeps its state (step count, moment estimates) and takes
    the estimator's current hyperparameters, so that a ``set_params`` between
    two calls takes effect, as it does in a fresh fit; another ``solver``
    starts a new optimizer. The keyword arguments are those of
    :func:`make_optimizer`.
    """
    if type(optimizer) is not _SOLVERS.get(solver):
        return make_optimizer(solver, params, **hyperparameters)
    for name in ("learning_rate",) + optimizer._hyperparameters:
        setattr(optimizer, name, hyperparameters[name])
    return optimizer
