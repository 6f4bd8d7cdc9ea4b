"""The homework's fixed 100-image test subset, rebuilt from the raw MNIST test file."""
import numpy as np
import pytest
import torch

from genviz.core import images
from genviz.core.vae import course


@pytest.fixture(scope="module")
def raw_test():
    _, _, x, y = images.load_raw("mnist")
    return x, y


def test_subset_is_ten_chosen_digits_of_each_class(raw_test):
    x, y = raw_test
    idx = course.subset_indices(y)
    assert idx.shape == (100,)
    assert y[idx].tolist() == [c for c in range(10) for _ in range(10)]  # class-major, as the homework
    # each index is the k-th digit of its class in file order, k from the table
    for c, picks in enumerate(course.TEST_PICKS):
        for j, k in enumerate(picks):
            assert int((y[: idx[10 * c + j]] == c).sum()) == k
    assert len(set(idx.tolist())) == 99  # the homework lists one class-5 digit twice


def test_subset_binarization_is_the_homeworks(raw_test):
    x, y = raw_test
    bits, labels = course.fixed_subset(x, y)
    assert bits.shape == (100, 1, 28, 28) and torch.equal(labels, y[course.subset_indices(y)])
    grey = x[course.subset_indices(y)].unsqueeze(1)
    assert set(bits.unique().tolist()) == {0.0, 1.0}
    assert torch.all(bits[grey == 0] == 0) and torch.all(bits[grey == 255] == 1)
    # the homework seeds numpy's global generator; the same stream must come out
    state = np.random.get_state()
    try:
        np.random.seed(0)
        expected = np.random.binomial(1, (grey.reshape(100, -1).float() / 255).numpy())
    finally:
        np.random.set_state(state)
    assert np.array_equal(bits.reshape(100, -1).numpy(), expected)
    assert torch.equal(course.fixed_subset(x, y)[0], bits)  # fixed: the same bits every call
