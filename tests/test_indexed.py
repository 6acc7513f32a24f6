import numpy as np
import pytest

from _gradients import densify

from sk_prodembed._indexed import IndexedGradient


@pytest.mark.parametrize("order", ["C", "F"])
def test_rows_take_put_and_densify(order):
    param = np.asarray(np.arange(20.0).reshape(5, 4), order=order)
    grad = IndexedGradient(np.array([3, 0]), np.ones((2, 4)))
    np.testing.assert_array_equal(grad.take(param), param[[3, 0]])
    grad.put(param, -np.ones((2, 4)))
    assert (param[[0, 3]] == -1).all() and (param[[1, 2, 4]] >= 0).all()
    dense = densify(grad, param)
    np.testing.assert_array_equal(dense.sum(axis=1), [4, 0, 0, 4, 0])


@pytest.mark.parametrize("order", ["C", "F"])
def test_columns_take_put_and_densify(order):
    param = np.asarray(np.arange(20.0).reshape(4, 5), order=order)
    grad = IndexedGradient(np.array([4, 1]), 2 * np.ones((4, 2)), axis=1)
    np.testing.assert_array_equal(grad.take(param), param[:, [4, 1]])
    grad.put(param, np.zeros((4, 2)))
    assert (param[:, [1, 4]] == 0).all() and (param[:, [0, 2, 3]] != 0).any(axis=0).all()
    dense = densify(grad, param)
    assert dense.shape == param.shape
    np.testing.assert_array_equal(dense.sum(axis=0), [0, 8, 0, 0, 8])


def test_densify_leaves_dense_gradients_alone():
    grad = np.ones(3)
    assert densify(grad, np.zeros(3)) is grad
