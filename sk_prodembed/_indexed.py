"""Gradients that are zero outside a few rows or columns of a parameter.

With wide sparse input, a training batch touches only some of the weights:
the encoder's first-layer rows of the features stored in the batch, and the
decoder's output columns that reconstruction sampling scores. The network
then returns an :class:`IndexedGradient` (the touched slices only) instead
of a mostly-zero dense array, and the optimizers update only those slices
(lazy updates, as TensorFlow's LazyAdam and PyTorch's SparseAdam do), so the
cost of a step follows the number of stored entries, not the vocabulary.
"""

import numpy as np


class IndexedGradient:
    """Gradient of a parameter that is zero outside ``index`` along ``axis``.

    Parameters
    ----------
    index : ndarray of int
        Distinct positions along ``axis`` where the gradient may be non-zero.
    values : ndarray
        The gradient at those positions: the parameter's shape with the
        ``axis`` dimension replaced by ``len(index)``. Optimizers use it as
        scratch space.
    axis : {0, 1}
        0 for rows of a matrix (or entries of a vector), 1 for columns.
    """

    __slots__ = ("index", "values", "axis")

    def __init__(self, index, values, axis=0):
        self.index = index
        self.values = values
        self.axis = axis

    def take(self, array):
        """The touched slices of ``array`` (a parameter or an optimizer state), as a copy."""
        # Indexing rather than np.take, which is two orders of magnitude
        # slower on the columns of a column-major array.
        if self.axis == 0:
            return array[self.index]
        return array[:, self.index]

    def put(self, array, values):
        """Write ``values`` back into the touched slices of ``array``, in place."""
        if self.axis == 0:
            array[self.index] = values
        else:
            array[:, self.index] = values

    def toarray(self, like):
        """The dense gradient, shaped and typed like the parameter ``like``."""
        dense = np.zeros_like(like)
        self.put(dense, self.values)
        return dense


def densify(grad, like):
    """``grad`` as a dense array (for tests and checks)."""
    if isinstance(grad, IndexedGradient):
        return grad.toarray(like)
    return grad
