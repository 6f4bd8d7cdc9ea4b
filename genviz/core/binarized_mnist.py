"""The papers' fixed binarization of MNIST (Larochelle & Murray 2011): train 50,000 / valid 10,000 /
test 10,000 images of 0/1 pixels, the split NADE, MADE, PixelCNN and IWAE report test NLLs on.

Offline it is read from <GENVIZ_DATA>/binarized_mnist/binarized_mnist.npz (keys train, valid, test: uint8
(n, 784)); online the three .amat files are downloaded once from their public source into the cache and
kept as that npz. Either way every array is checked against the SHA-256 of its bytes, so a damaged or
different copy is refused instead of giving numbers that cannot be compared with the published ones.
It is never re-binarized: the pixels are the data.
"""
from __future__ import annotations

import hashlib
import urllib.request
from pathlib import Path

import numpy as np
import torch

from genviz.core.data import DataError, Dataset

NAME = "binarized-mnist"
FOLDER = "binarized_mnist"
FILE = "binarized_mnist.npz"
SPLITS = {"train": 50_000, "valid": 10_000, "test": 10_000}
# SHA-256 of each uint8 (n, 784) array's bytes (a.tobytes())
SHA256 = {
    "train": "43490d4d6ac9002727af4426d8748609fdb7e4094fa65ad8d681ea60082a7a5a",
    "valid": "069b4f0beb389b776478c3e872b4df71c95ac4be64d7cbe6d32e24ebac8e6d5e",
    "test": "ca0294c3b8d984c7a1dc891015a8eea6f37bae59a34e35ea0fc8c47110a8dd86",
}
URL = "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/binarized_mnist_{split}.amat"


def check(arrays: dict[str, np.ndarray], where: str) -> None:
    """Shapes, values and checksums of the three splits; DataError naming what is off."""
    for split, n in SPLITS.items():
        a = arrays.get(split)
        if a is None:
            raise DataError(f"{where} has no '{split}' array; it should hold train, valid and test")
        if a.dtype != np.uint8 or a.shape != (n, 784):
            raise DataError(f"{where}: '{split}' is {a.dtype} {a.shape}, expected uint8 ({n}, 784)")
        if hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest() != SHA256[split]:
            raise DataError(f"{where}: '{split}' is not the standard binarized MNIST (SHA-256 differs); "
                            "replace the file with the original")


def read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError) as e:
        raise DataError(f"{path} is not a readable npz file ({type(e).__name__}); replace it") from None


def download(cache: Path) -> Path:
    """Fetch the three .amat files, check them and keep them as one npz in `cache`."""
    arrays = {}
    for split in SPLITS:
        url = URL.format(split=split)
        try:
            with urllib.request.urlopen(url, timeout=60) as r:
                text = r.read().decode("ascii")
        except (OSError, UnicodeDecodeError) as e:
            raise DataError(f"cannot download binarized MNIST ({url}: {e}); put {FILE} in "
                            f"<GENVIZ_DATA>/{FOLDER}/ and set GENVIZ_DATA") from None
        try:
            arrays[split] = np.array([[int(v) for v in line.split()] for line in text.splitlines() if line.strip()],
                                     dtype=np.uint8)
        except ValueError:
            raise DataError(f"{url} did not hold rows of 0/1 pixels") from None
    check(arrays, "the downloaded binarized MNIST")
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / FILE
    np.savez(path, **arrays)
    return path


def load(root: Path, offline: bool) -> Dataset:
    """The fixed split as a Dataset of float {0, 1} images (n, 1, 28, 28); train/val/test = train/valid/test."""
    path = root / FOLDER / FILE
    if not path.is_file():
        if offline:
            raise DataError(f"binarized MNIST is not available: put {FILE} (keys train, valid, test) in "
                            f"{root / FOLDER} (GENVIZ_DATA={root}), or unset GENVIZ_DATA to download it")
        path = download(root / FOLDER)
    arrays = read_npz(path)
    check(arrays, str(path))

    def images(split):
        return torch.from_numpy(arrays[split].astype(np.float32)).reshape(-1, 1, 28, 28)

    return Dataset(NAME, "image", images("train"), images("valid"), images("test"), binarize=False,
                   spec={"name": NAME})
