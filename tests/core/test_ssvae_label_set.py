"""label_set='course': the homework's 100 labelled training digits, found in genviz's MNIST split by their
index into the original training file, and all 60,000 training-file images unlabelled."""
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from genviz.core import data as data_mod
from genviz.core import registry
from genviz.core.config import TrainConfig
from genviz.core.data import DataError
from genviz.core.vae import course


def raw_train():
    """The original training file's images (60000, 28, 28) uint8 and labels, read straight from the IDX bytes."""
    root = Path(os.environ["GENVIZ_DATA"]) / "MNIST" / "raw"
    x = np.fromfile(root / "train-images-idx3-ubyte", dtype=np.uint8)[16:].reshape(-1, 28, 28)
    y = np.fromfile(root / "train-labels-idx1-ubyte", dtype=np.uint8)[8:]
    return x, y


@pytest.fixture(scope="module")
def mnist():
    return data_mod.load("mnist", seed=3)  # a seed other than 0: the mapping must follow genviz's permutation


def test_course_digits_are_the_raw_files_images_at_the_homeworks_indices(mnist):
    x_raw, y_raw = raw_train()
    idx = course.train_indices(torch.from_numpy(y_raw.astype(np.int64)))
    assert idx.tolist()[:3] == np.nonzero(y_raw == 0)[0][[2732, 2607, 1653]].tolist()  # X[y == 0][picks]
    assert len(idx) == 100 and len(set(idx.tolist())) == 99  # class 4 lists 2176 twice, as the homework does
    model = registry.build("ssvae", data_shape=(1, 28, 28), hidden=8, z_dim=2, label_set="course")
    lab, unl = model.pool_split(mnist)
    images, labels = model.pool(mnist, lab)
    assert labels.tolist() == [c for c in range(10) for _ in range(10)]  # class-major
    assert np.array_equal((images[:, 0] * 255).round().to(torch.uint8).numpy(), x_raw[idx.numpy()])
    assert sorted(unl.tolist()) == list(range(60_000))  # every training-file image, as the homework trains on
    ximg, _ = model.pool(mnist, unl)
    ink = (ximg * 255).round().long().sum((1, 2, 3))  # the unlabelled pool is the training file, reordered
    raw_ink = torch.from_numpy(x_raw.reshape(60_000, -1).sum(1).astype(np.int64))
    assert torch.equal(ink.sort().values, raw_ink.sort().values)


def test_a_training_step_uses_the_course_digits(mnist):
    model = registry.build("ssvae", data_shape=(1, 28, 28), hidden=8, z_dim=2, label_set="course")
    xu, xl, yl = model.fetch_batch(mnist, 16, torch.Generator().manual_seed(0))
    assert xu.shape == (16, 1, 28, 28) and xl.shape == (100, 1, 28, 28)
    assert set(xl.unique().tolist()) <= {0.0, 1.0} and yl.tolist() == [c for c in range(10) for _ in range(10)]
    out = model.train_step((xu, xl, yl), model.configure_optimizers(TrainConfig()), TrainConfig())
    assert torch.isfinite(out["loss"])


def test_random_set_is_unchanged_and_the_course_set_needs_mnist():
    import model_contract

    ds = model_contract.labelled_images()
    model = registry.build("ssvae", data_shape=(1, 28, 28), hidden=8, z_dim=2, labels_per_class=2, label_seed=5)
    lab, unl = model.pool_split(ds)
    images, labels = model.pool(ds, lab)
    from genviz.core.vae.ssvae import labelled_split

    want_lab, want_unl = labelled_split(ds.labels["train"], 2, 5)
    assert torch.equal(images, ds.train[want_lab]) and torch.equal(labels, ds.labels["train"][want_lab])
    assert torch.equal(model.pool(ds, unl)[0], ds.train[want_unl])
    assert [torch.equal(a, b) for a, b in zip(model.split(ds), (want_lab, want_unl))] == [True, True]
    course_model = registry.build("ssvae", data_shape=(1, 28, 28), hidden=8, z_dim=2, label_set="course")
    with pytest.raises(DataError, match="MNIST training images"):
        course_model.pool_split(ds)
