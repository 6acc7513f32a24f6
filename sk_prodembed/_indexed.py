"""Slices of a parameter, and gradients that are zero outside them.

With wide sparse input, a training batch touches only some of the weights:
the encoder's first-layer rows of the features stored in the batch, and the
decoder's output columns that reconstruction sampling scores. The network
names them once per batch as :class:`Slices` (``MLP.touched_slices``); the
optimizer brings those slices up to date before the forward pass reads them,
and the backward pass returns their gradient as an :class:`IndexedGradient`
instead of a mostly-zero dense array, so that the step updates only them
(lazy updates, as TensorFlow's LazyAdam and PyTorch's SparseAdam do) and its
cost follows the number of stored entries, not the vocabulary.
"""


class Slices:
    """Distinct positions ``index`` along ``axis`` of a parameter.

    Parameters
    ----------
    index : ndarray of int
        Distinct positions along ``axis``.
    axis : {0, 1}
        0 for rows of a matrix (or entries of a vector), 1 for columns.
    """

    __slots__ = ("index", "axis")

    def __init__(self, index, axis=0):
        self.index = index
        self.axis = axis

    def take(self, array):
        """The slices of ``array`` (a parameter or an optimizer state), as a copy."""
        # Indexing rather than np.take, which is two orders of magnitude
        # slower on the columns of a column-major array.
        if self.axis == 0:
            return array[self.index]
        return array[:, self.index]

    def put(self, array, values):
        """Write ``values`` into the slices of ``array``, in place."""
        if self.axis == 0:
            array[self.index] = values
        else:
            array[:, self.index] = values


class IndexedGradient(Slices):
    """Gradient of a parameter that is zero outside the slices ``index`` along ``axis``.

    Parameters
    ----------
    index, axis
        As in :class:`Slices`.
    values : ndarray
        The gradient on the slices: the parameter's shape with the ``axis``
        dimension replaced by ``len(index)``. Optimizers use it as scratch
        space.
    """

    __slots__ = ("values",)

    def __init__(self, index, values, axis=0):
        super().__init__(index, axis)
        self.values = values
