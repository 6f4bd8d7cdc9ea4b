"""The course homework's hand-picked MNIST digits, rebuilt exactly: its fixed 100-image test subset, and
its 100 labelled training digits for the semi-supervised VAE.

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

# the SSVAE's 100 labelled digits (the homework's get_mnist_index(i, test=False)): position of each among
# its class's images in the original 60,000-image training file, in file order; row c is class c. (Class 4
# lists 2176 twice, as the homework does: 100 labelled rows, 99 distinct digits.)
TRAIN_PICKS = (
    (2732, 2607, 1653, 3264, 4931, 4859, 5827, 1033, 4373, 5874),
    (5924, 3468, 6458, 705, 2599, 2135, 2222, 2897, 1701, 537),
    (2893, 2163, 5072, 4851, 2046, 1871, 2496, 99, 2008, 755),
    (797, 659, 3219, 423, 3337, 2745, 4735, 544, 714, 2292),
    (151, 2723, 3531, 2930, 1207, 802, 2176, 2176, 1956, 3622),
    (3560, 756, 4369, 4484, 1641, 3114, 4984, 4353, 4071, 4009),
    (2105, 3942, 3191, 430, 4187, 2446, 2659, 1589, 2956, 2681),
    (4180, 2251, 4420, 4870, 1071, 4735, 6132, 5251, 5068, 1204),
    (3918, 1167, 1684, 3299, 2767, 2957, 4469, 560, 5425, 1605),
    (5795, 1472, 3678, 256, 3762, 5412, 1954, 816, 2435, 1634),
)


def class_positions(labels: torch.Tensor, picks) -> torch.Tensor:
    """Indices into a split in file order of the picked digits, class-major: row c of `picks` holds positions
    among the images of class c (as the homework's X[y == c][picks[c]]): (100,)."""
    labels = torch.as_tensor(labels)
    return torch.cat([torch.nonzero(labels == c).squeeze(1)[list(p)] for c, p in enumerate(picks)])


def subset_indices(test_labels: torch.Tensor) -> torch.Tensor:
    """Indices into the test set, in file order, of the 100 chosen digits (class-major): (100,)."""
    return class_positions(test_labels, TEST_PICKS)


def train_indices(train_labels: torch.Tensor) -> torch.Tensor:
    """Indices into the original training file of the SSVAE's 100 labelled digits (class-major): (100,)."""
    return class_positions(train_labels, TRAIN_PICKS)


def fixed_subset(test_images: torch.Tensor, test_labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(binary images (100, 1, 28, 28) float32, labels (100,)) from the raw uint8 test set in file order."""
    idx = subset_indices(test_labels)
    grey = (test_images[idx].reshape(len(idx), -1).float() / 255).numpy()  # float32, as the homework's
    bits = np.random.RandomState(BINARIZATION_SEED).binomial(1, grey)  # the generator np.random.seed seeds
    return torch.from_numpy(bits).float().reshape(len(idx), 1, 28, 28), torch.as_tensor(test_labels)[idx].long()
