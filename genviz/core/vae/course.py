"""The course homework's fixed 100-image MNIST test subset, rebuilt exactly.

The homework reports its VAE / GMVAE / IWAE bounds on 100 test digits: for each class c, positions
TEST_PICKS[c] among the test images of class c in file order, binarized once with numpy's legacy generator
seeded 0 (`np.random.seed(0); np.random.binomial(1, x)`). The MNIST test file is the original one wherever
it comes from, so these are the same 100 images and the same bits as the course's. (Class 5 lists 128
twice, as the homework does: 100 rows, 99 distinct digits.)
"""
from __future__ import annotations

import numpy as np
import torch

# position of each chosen digit among its class's test images, in file order; row c is class c
TEST_PICKS = (
    (684, 559, 629, 192, 835, 763, 707, 359, 9, 723),
    (277, 599, 1094, 600, 314, 705, 551, 87, 174, 849),
    (537, 845, 72, 777, 115, 976, 755, 448, 850, 99),
    (984, 177, 755, 797, 659, 147, 910, 423, 288, 961),
    (265, 697, 639, 544, 543, 714, 244, 151, 675, 510),
    (459, 882, 183, 28, 802, 128, 128, 53, 550, 488),
    (756, 273, 335, 388, 617, 42, 442, 543, 888, 257),
    (57, 291, 779, 430, 91, 398, 611, 908, 633, 84),
    (203, 324, 774, 964, 47, 639, 131, 972, 868, 180),
    (1000, 846, 143, 660, 227, 954, 791, 719, 909, 373),
)
BINARIZATION_SEED = 0


def subset_indices(test_labels: torch.Tensor) -> torch.Tensor:
    """Indices into the test set, in file order, of the 100 chosen digits (class-major): (100,)."""
    labels = torch.as_tensor(test_labels)
    rows = [torch.nonzero(labels == c).squeeze(1)[list(picks)] for c, picks in enumerate(TEST_PICKS)]
    return torch.cat(rows)


def fixed_subset(test_images: torch.Tensor, test_labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(binary images (100, 1, 28, 28) float32, labels (100,)) from the raw uint8 test set in file order."""
    idx = subset_indices(test_labels)
    grey = (test_images[idx].reshape(len(idx), -1).float() / 255).numpy()  # float32, as the homework's
    bits = np.random.RandomState(BINARIZATION_SEED).binomial(1, grey)  # the generator np.random.seed seeds
    return torch.from_numpy(bits).float().reshape(len(idx), 1, 28, 28), torch.as_tensor(test_labels)[idx].long()
