"""A small multilayer perceptron with hand-written backpropagation.

The network is a list of dense layers. The first layer accepts dense arrays or
scipy sparse CSR matrices, so sparse TF-IDF input is multiplied directly
(``X @ W``) and never densified. Parameters are allocated in the dtype they are
given at initialisation, and every computation stays in that dtype.

The network also owns the scale of its input: it multiplies its input by
``input_scale``, a power of two chosen at initialisation
(:func:`unit_input_scale`) so that the rows the weights see have a root mean
square norm near 1, the scale of l2-normalised TF-IDF on which the defaults
were measured. Features a million times larger or smaller than that then
train as well as unit-scale ones, instead of leaving the weights (and Adam's
steps, which are in the weights' units) at the wrong scale: all embeddings
collapsed onto the biases' direction (cosine 1 between unrelated rows) for
the autoencoder at 1e-6, the triplet model lost most of its precision at
1e6. A power of two scales exactly, so unit-norm input (scale 1) trains
bit for bit as without it.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.utils.extmath import row_norms

from ._indexed import IndexedGradient, Slices
from ._masking import fill_missing


def _tanh_inplace(Z):
    np.tanh(Z, out=Z)


def _relu_inplace(Z):
    np.maximum(Z, 0, out=Z)


def _identity_inplace(Z):
    pass


def _tanh_derivative_inplace(A, delta):
    # d tanh(z) / dz = 1 - tanh(z)^2, computed from the stored output A, with
    # a single temporary: delta * (1 - A^2) = delta - (delta * A) * A.
    scratch = np.multiply(delta, A)
    scratch *= A
    delta -= scratch


def _relu_derivative_inplace(A, delta):
    np.copyto(delta, 0, where=A <= 0)


def _identity_derivative_inplace(A, delta):
    pass


ACTIVATIONS = {
    "tanh": _tanh_inplace,
    "relu": _relu_inplace,
    "identity": _identity_inplace,
}

DERIVATIVES = {
    "tanh": _tanh_derivative_inplace,
    "relu": _relu_derivative_inplace,
    "identity": _identity_derivative_inplace,
}


def unit_input_scale(X):
    """The power of two closest (in log scale) to ``1 / rms``, ``rms`` the root
    mean square norm of the non-zero rows of ``X`` (dense or CSR; NaN, a
    missing entry, counts as zero); 1.0 for l2-normalised rows, and when no
    row is non-zero. Rows without a feature (empty texts) say nothing of the
    scale and are left out. The power stays within the normal range of X's
    dtype (at most 2**127 for float32), which must hold it."""
    squared = _squared_row_norms(X)
    squared = squared[squared > 0]
    if squared.size == 0:
        return 1.0
    log2_rms = 0.5 * np.log2(np.mean(squared))
    if not np.isfinite(log2_rms):  # beyond float64 (validated X is finite)
        return 1.0
    dtype = X.dtype if np.issubdtype(X.dtype, np.floating) else np.float64
    info = np.finfo(dtype)
    return float(2.0 ** np.clip(-np.round(log2_rms), info.minexp, info.maxexp - 1))


def _squared_row_norms(X, block_values=1 << 22):
    """Squared l2 norms of the rows of ``X`` (dense or CSR) in float64, NaN as
    zero, read about ``block_values`` values at a time so that the float64
    temporaries stay small."""
    squared = np.empty(X.shape[0])
    width = X.nnz / max(1, X.shape[0]) if sp.issparse(X) else X.shape[1]
    step = max(1, int(block_values // max(1, width)))
    for start in range(0, X.shape[0], step):
        part = fill_missing(X[start : start + step]).astype(np.float64)
        squared[start : start + step] = row_norms(part, squared=True)
    return squared


def _safe_matmul(X, W):
    """``X @ W`` that also accepts a sparse left operand and returns an ndarray."""
    if sp.issparse(X):
        return np.asarray(X @ W)
    return X @ W


class MLP:
    """Fully connected network: ``layer_sizes[0]`` inputs to ``layer_sizes[-1]`` outputs.

    Parameters
    ----------
    coefs : list of ndarray
        Weight matrices, ``coefs[i]`` of shape ``(layer_sizes[i], layer_sizes[i + 1])``.
    intercepts : list of ndarray
        Bias vectors, one per layer.
    hidden_activation : {"tanh", "relu", "identity"}
        Activation of every layer but the last.
    output_activation : {"tanh", "relu", "identity"}
        Activation of the last layer.
    input_scale : float, default=1.0
        Factor on the input: the network of ``X`` is the network of
        ``X * input_scale`` (each batch is scaled as it enters; the first
        output of :meth:`forward` is the scaled batch). A power of two
        (:func:`unit_input_scale`) scales exactly.
    """

    # The scale of networks pickled before it existed.
    input_scale = 1.0

    def __init__(self, coefs, intercepts, hidden_activation, output_activation, input_scale=1.0):
        self.coefs = coefs
        self.intercepts = intercepts
        self.hidden_activation = hidden_activation
        self.output_activation = output_activation
        self.input_scale = float(input_scale)

    @classmethod
    def initialize(
        cls, layer_sizes, hidden_activation, output_activation, dtype, rng, input_scale=1.0
    ):
        """Glorot-uniform weights and zero biases (the biases of sklearn's MLP are
        uniform too; zero keeps a linear identity network an exact linear map)."""
        coefs, intercepts = [], []
        for fan_in, fan_out in zip(layer_sizes[:-1], layer_sizes[1:]):
            # Glorot & Bengio (2010); the factor 2 for sigmoid-like units is not
            # used since we only offer tanh, relu and identity.
            bound = np.sqrt(6.0 / (fan_in + fan_out))
            coefs.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype))
            intercepts.append(np.zeros(fan_out, dtype=dtype))
        return cls(coefs, intercepts, hidden_activation, output_activation, input_scale)

    def store_output_columns_contiguously(self):
        """Store the last layer's weights column by column (Fortran order; same
        shape and values), for a network whose batches read and update a few
        output columns at a time (``output_columns``): gathering a few
        thousand columns of a row-major (64 x 262,144) matrix strides through
        all of it. Call before an optimizer allocates its state, which takes
        the parameters' layout."""
        self.coefs[-1] = np.asfortranarray(self.coefs[-1])

    @property
    def layer_sizes(self):
        return [self.coefs[0].shape[0]] + [W.shape[1] for W in self.coefs]

    @property
    def params(self):
        """Parameters in the order used by :meth:`backward` and the optimizers."""
        return self.coefs + self.intercepts

    @property
    def dtype(self):
        return self.coefs[0].dtype

    def copy(self):
        return MLP(
            [W.copy(order="K") for W in self.coefs],
            [b.copy() for b in self.intercepts],
            self.hidden_activation,
            self.output_activation,
            self.input_scale,
        )

    def _activation_name(self, layer):
        if layer == len(self.coefs) - 1:
            return self.output_activation
        return self.hidden_activation

    def _layer_params(self, layer, output_columns):
        W, b = self.coefs[layer], self.intercepts[layer]
        if output_columns is not None and layer == len(self.coefs) - 1:
            return W[:, output_columns], b[output_columns]
        return W, b

    def touched_slices(self, X, output_columns=None):
        """The slices of the parameters a batch touches, one entry per parameter.

        This is the package's lazy-update policy, in one place. A batch of
        sparse ``X`` reads and moves only the first layer's rows of the
        features stored in it; a forward pass restricted to
        ``output_columns`` only the last layer's columns (and biases) of
        those outputs. Those parameters get a :class:`Slices` entry; the
        others (read whole by the batch) None. The training engine gives the
        list to the optimizer's ``catch_up`` before the forward pass, and
        :meth:`backward` returns the gradients of exactly these slices as
        :class:`IndexedGradient`.
        """
        n_layers = len(self.coefs)
        touched = [None] * (2 * n_layers)
        if sp.issparse(X):
            touched[0] = Slices(np.unique(X.indices), axis=0)
        if output_columns is not None:
            touched[n_layers - 1] = Slices(output_columns, axis=1)
            touched[2 * n_layers - 1] = Slices(output_columns, axis=0)
        return touched

    def forward(self, X, output_columns=None):
        """Return the outputs of every layer, input first: ``[X, A1, ..., A_out]``.

        ``output_columns`` (an index array) restricts the last layer to those
        outputs, so a wide output layer costs only the columns asked for.
        """
        if self.input_scale != 1.0:
            # Scaled before the product, which then cannot overflow.
            X = X * self.input_scale  # a Python float: X's dtype is kept
        outputs = [X]
        for layer in range(len(self.coefs)):
            W, b = self._layer_params(layer, output_columns)
            Z = _safe_matmul(outputs[-1], W)
            Z += b
            ACTIVATIONS[self._activation_name(layer)](Z)
            outputs.append(Z)
        return outputs

    def predict(self, X, chunk_rows=8192):
        """Output of the last layer, ``chunk_rows`` input rows at a time (which
        bounds the memory of the hidden layers and of densified rows)."""
        if X.shape[0] <= chunk_rows:
            return self.forward(X)[-1]
        return np.vstack(
            [
                self.forward(X[start : start + chunk_rows])[-1]
                for start in range(0, X.shape[0], chunk_rows)
            ]
        )

    def backward(
        self, outputs, output_grad, need_input_grad=False, output_columns=None, touched=None
    ):
        """Backpropagate ``output_grad`` (d loss / d last output) through the network.

        Parameters
        ----------
        outputs : list of arrays
            As returned by :meth:`forward`.
        output_grad : ndarray of shape (n_samples, layer_sizes[-1])
            Gradient of the loss with respect to the last layer's output
            (after its activation). Overwritten.
        need_input_grad : bool
            Whether to also return the gradient with respect to the input,
            needed when another network feeds this one.
        output_columns : ndarray of int, default=None
            As given to :meth:`forward`. The gradients of the last layer are
            then zero outside those columns.
        touched : list, default=None
            :meth:`touched_slices` of the batch: the gradients of those
            slices are returned as :class:`IndexedGradient`. None returns
            every gradient as a dense array.

        Returns
        -------
        grads : list of ndarray or IndexedGradient
            Gradients in the order of :attr:`params`.
        input_grad : ndarray or None
        """
        n_layers = len(self.coefs)
        if touched is None:
            touched = [None] * (2 * n_layers)
        coef_grads = [None] * n_layers
        intercept_grads = [None] * n_layers
        delta = output_grad
        input_grad = None
        for layer in range(n_layers - 1, -1, -1):
            DERIVATIVES[self._activation_name(layer)](outputs[layer + 1], delta)
            A_prev = outputs[layer]
            W, _ = self._layer_params(layer, output_columns)
            rows = touched[layer]
            if sp.issparse(A_prev) and rows is not None and rows.axis == 0:
                coef_grad = _stored_rows_gradient(A_prev, delta, rows.index)
            else:
                coef_grad = _safe_matmul(A_prev.T, delta)
            intercept_grad = delta.sum(axis=0)
            if output_columns is not None and layer == n_layers - 1:
                if touched[layer] is None:
                    coef_grad = _scatter_columns(coef_grad, output_columns, self.coefs[layer])
                if touched[n_layers + layer] is None:
                    intercept_grad = _scatter_columns(
                        intercept_grad, output_columns, self.intercepts[layer]
                    )
            coef_grads[layer] = _indexed(coef_grad, touched[layer])
            intercept_grads[layer] = _indexed(intercept_grad, touched[n_layers + layer])
            if layer > 0 or need_input_grad:
                delta = delta @ W.T
                if layer == 0:
                    # outputs[0] is the scaled input: d (X s) / d X = s.
                    input_grad = delta if self.input_scale == 1.0 else delta * self.input_scale
        return coef_grads + intercept_grads, input_grad

    def add_l2_penalty(self, grads, alpha, n_samples):
        """Add ``alpha / (2 n_samples) * sum ||W||^2`` to the loss, in place on ``grads``.

        ``grads`` is in :attr:`params` order; biases are not penalised. The
        division by the batch size follows scikit-learn's MLP, so values of
        ``alpha`` carry over from it. Returns the penalty's value.

        An :class:`IndexedGradient` gets the penalty of the slices it
        touches only (the lazy L2 penalty of sparse updates, as in embedding
        lookups), and only those count in the returned value.
        """
        if alpha == 0:
            return 0.0
        scale = alpha / n_samples
        squared_norm = 0.0
        for W, grad in zip(self.coefs, grads):
            if isinstance(grad, IndexedGradient):
                W = grad.take(W)
                grad = grad.values
            _add_scaled(grad, W, scale)
            squared_norm += float(np.vdot(W, W))
        return 0.5 * scale * squared_norm


def _stored_rows_gradient(X, delta, rows):
    """The rows ``rows`` of ``X.T @ delta`` for a CSR ``X`` whose stored entries
    all lie in the (sorted) columns ``rows``: the cost follows ``X.nnz``, not
    ``X.shape[1]``."""
    compact = sp.csr_matrix(
        (X.data, np.searchsorted(rows, X.indices), X.indptr),
        shape=(X.shape[0], rows.shape[0]),
    )
    return np.asarray(compact.T @ delta)


def _indexed(grad, slices):
    """``grad`` (the values on ``slices``) as an IndexedGradient, or as is for None."""
    if slices is None:
        return grad
    return IndexedGradient(slices.index, grad, slices.axis)


def _scatter_columns(values, columns, like):
    """A zero array shaped like ``like`` holding ``values`` at ``columns`` of its last axis."""
    dense = np.zeros_like(like)
    dense[..., columns] = values
    return dense


def _add_scaled(y, x, scale):
    """``y += scale * x`` in place, block by block so the temporary stays small.

    numpy only: scipy's BLAS is a second OpenBLAS library, and alternating
    calls between the two with several threads made each library's idle
    threads spin against the other's work (two threads were then slower than
    one; see the speed section of benchmarks/RESULTS.md).
    """
    if y.shape != x.shape or not (y.flags.c_contiguous and x.flags.c_contiguous):
        y += scale * x
        return
    flat_y, flat_x = y.reshape(-1), x.reshape(-1)
    scratch = np.empty(min(flat_y.shape[0], _ADD_BLOCK), dtype=y.dtype)
    for start in range(0, flat_y.shape[0], _ADD_BLOCK):
        block_x = flat_x[start : start + _ADD_BLOCK]
        block = scratch[: block_x.shape[0]]
        np.multiply(block_x, scale, out=block, casting="same_kind")
        flat_y[start : start + _ADD_BLOCK] += block


_ADD_BLOCK = 1 << 16
