"""MNIST and Fashion-MNIST through torchvision, preloaded as tensors.

Where the files come from: the folder named by GENVIZ_DATA (offline: torchvision's raw IDX layout,
<root>/MNIST/raw/train-images-idx3-ubyte ...), else a cache folder that torchvision downloads into.
Missing files and no network give a DataError that says exactly which files to put where.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from genviz.core.data import Dataset, DataError

IMAGE_SETS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
RAW_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
VAL_SIZE = 5000  # held out from the 60k training images for validation curves
TEST_BINARIZATION_SEED = 1234  # one fixed binarization of the test set, so NLLs are comparable across runs


def data_root() -> tuple[Path, bool]:
    """(root folder, offline?) — GENVIZ_DATA means offline: never download, read what is there."""
    env = os.environ.get("GENVIZ_DATA")
    if env:
        return Path(env).expanduser(), True
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "genviz" / "data"
    return cache, False


def _read_split(cls, root: Path, train: bool, download: bool):
    ds = cls(root=str(root), train=train, download=download)
    return ds.data, ds.targets


def _missing_message(name: str, folder: str, root: Path) -> str:
    files = ", ".join(RAW_FILES)
    return (f"{name} is not available. Put the four raw IDX files ({files}) in {root / folder / 'raw'} "
            f"and set GENVIZ_DATA={root}, or unset GENVIZ_DATA and connect to the internet so torchvision "
            "can download them (into ~/.cache/genviz/data).")


def load_raw(name: str, root: Path | None = None, offline: bool | None = None):
    """(train_images uint8 (60000, 28, 28), train_labels, test_images, test_labels) for an image set."""
    from torchvision import datasets

    if name not in IMAGE_SETS:
        raise DataError(f"unknown image dataset {name!r}; known: {', '.join(IMAGE_SETS)}")
    folder = IMAGE_SETS[name]
    default_root, default_offline = data_root()
    root = Path(root) if root is not None else default_root
    offline = default_offline if offline is None else offline
    cls = getattr(datasets, folder)
    if offline and not all((root / folder / "raw" / f).is_file() for f in RAW_FILES):
        raise DataError(_missing_message(name, folder, root))
    try:
        xtr, ytr = _read_split(cls, root, True, not offline)
        xte, yte = _read_split(cls, root, False, not offline)
    except (RuntimeError, OSError, ValueError) as e:
        raise DataError(f"{_missing_message(name, folder, root)} ({type(e).__name__}: {e})") from None
    except Exception as e:  # torchvision's IDX parser meets damaged bytes with KeyError, IndexError, ...
        raise DataError(f"the {name} files in {root / folder / 'raw'} are damaged (not IDX files: "
                        f"{type(e).__name__}); replace them with the original downloads") from None
    for x, y, split_name in ((xtr, ytr, "train"), (xte, yte, "test")):
        if x.ndim != 3 or tuple(x.shape[1:]) != (28, 28) or len(x) != len(y):
            raise DataError(f"the {name} {split_name} files in {root / folder / 'raw'} hold images of shape "
                            f"{tuple(x.shape)} with {len(y)} labels, not 28x28 images with one label each; "
                            "replace them with the original downloads")
    return xtr, ytr, xte, yte


def load_images(name: str, seed: int = 0, root: Path | None = None, offline: bool | None = None,
                binarize: bool = True) -> Dataset:
    """Preloaded images as float in [0, 1], shape (n, 1, 28, 28), with a fixed-seed binarized test set."""
    xtr, ytr, xte, yte = load_raw(name, root, offline)
    xtr = xtr.unsqueeze(1).float().div_(255)
    xte = xte.unsqueeze(1).float().div_(255)
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(xtr), generator=g)  # the validation images differ by seed, not by file order
    xtr, ytr = xtr[perm], ytr[perm]
    if binarize:
        xte = torch.bernoulli(xte, generator=torch.Generator().manual_seed(TEST_BINARIZATION_SEED))
    tr, va = slice(VAL_SIZE, None), slice(0, VAL_SIZE)
    labels = {"train": ytr[tr].long(), "val": ytr[va].long(), "test": yte.long()}
    return Dataset(name, "image", xtr[tr].contiguous(), xtr[va].contiguous(), xte.contiguous(), labels,
                   binarize=binarize)
