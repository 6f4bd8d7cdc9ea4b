import hashlib
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from genviz.core import data, images
from genviz.core.data import DataError

SHARED = Path(os.environ.get("GENVIZ_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))


@pytest.mark.parametrize("name", list(data.TOY2D))
def test_toy2d_is_seeded_float32_and_finite(name):
    a, b, c = data.toy2d(name, 500, 1), data.toy2d(name, 500, 1), data.toy2d(name, 500, 2)
    assert a.shape == (500, 2) and a.dtype == np.float32 and np.isfinite(a).all()
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_course_moons_is_standardized_and_split_24k_3k_3k():
    ds = data.load("moons", n=30000, seed=0)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (24000, 3000, 3000)
    x = torch.cat([ds.train, ds.val, ds.test]).numpy()
    assert np.allclose(x.mean(0), 0, atol=0.03) and np.allclose(x.std(0), 1, atol=0.03)


def test_checkerboard_occupies_half_the_cells():
    x = data.toy2d("checkerboard", 20000, 0)
    cells = set(map(tuple, np.floor(x / 2).astype(int)))
    assert len(cells) == 8  # 8 of the 16 squares of side 2 in [-4, 4]^2, hence entropy ln 32


def test_csv_points_parse_with_header_and_refuse_bad_line():
    good = "x,y\n" + "\n".join(f"{i},{-i}" for i in range(12))
    pts = data.parse_points_csv(good)
    assert pts.shape == (12, 2) and pts[3].tolist() == [3.0, -3.0]
    bad = good + "\n1.0,oops\n"
    with pytest.raises(DataError, match="line 14"):
        data.parse_points_csv(bad)
    with pytest.raises(DataError, match="at least 10"):
        data.parse_points_csv("1,2\n3,4\n")


def test_custom_dataset_from_brushed_points():
    pts = np.concatenate([data.brush((0, 0), 50, 0.1, seed=0), data.brush((2, 1), 50, 0.1, seed=1)])
    ds = data.load("custom", points=pts)
    assert ds.kind == "2d" and len(ds.train) == 80
    with pytest.raises(DataError, match="custom"):
        data.load("custom", points=None)


def test_unknown_dataset_lists_known_ones():
    with pytest.raises(DataError, match="moons"):
        data.load("mooons")


def _sha256(p):
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.mark.skipif(not (SHARED / "MNIST" / "raw").is_dir(), reason="shared MNIST not present")
def test_mnist_loads_offline_from_raw_idx():
    lines = (SHARED / "MNIST" / "SHA256SUMS").read_text().split("\n")
    sums = {Path(p).name: d for d, p in (ln.split() for ln in lines if ln.strip())}
    for name in images.RAW_FILES:  # the shared files are whole
        assert _sha256(SHARED / "MNIST" / "raw" / name) == sums[name]
    ds = images.load_images("mnist", root=SHARED, offline=True)
    assert ds.shape == (1, 28, 28) and len(ds.train) == 55000 and len(ds.val) == 5000 and len(ds.test) == 10000
    assert set(ds.test.unique().tolist()) == {0.0, 1.0}  # the test set is binarized once, with a fixed seed
    again = images.load_images("mnist", root=SHARED, offline=True)
    assert torch.equal(ds.test, again.test)
    assert 0 < ds.train.min() + 1 and ds.train.max() <= 1
    b = ds.batch(64, torch.Generator().manual_seed(0))
    assert set(b.unique().tolist()) <= {0.0, 1.0}  # dynamic binarization
    assert torch.bincount(ds.labels["test"], minlength=10).min() > 800


def _write_idx(folder: Path, n: int, seed: int, gz: bool = False):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, count in (("train", n), ("t10k", n)):
        imgs = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, count, dtype=np.uint8)
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, count, 28, 28) + imgs.tobytes())
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, count) + labels.tobytes())
    return imgs, labels


def test_fashion_mnist_loader_reads_a_tiny_idx_file(tmp_path, monkeypatch):
    imgs, labels = _write_idx(tmp_path / "FashionMNIST" / "raw", 5012, 0)
    monkeypatch.setattr(images, "VAL_SIZE", 12)
    ds = images.load_images("fashion-mnist", root=tmp_path, offline=True, binarize=False)
    assert len(ds.train) == 5000 and len(ds.val) == 12 and len(ds.test) == 5012
    assert torch.allclose(ds.test[:, 0], torch.from_numpy(imgs).float() / 255)
    assert torch.equal(ds.labels["test"], torch.from_numpy(labels).long())


def test_missing_images_offline_say_where_to_put_them(tmp_path):
    with pytest.raises(DataError) as e:
        images.load_images("fashion-mnist", root=tmp_path, offline=True)
    msg = str(e.value)
    assert "FashionMNIST" in msg and "train-images-idx3-ubyte" in msg and "GENVIZ_DATA" in msg


def test_truncated_idx_file_is_a_data_error(tmp_path):
    _write_idx(tmp_path / "FashionMNIST" / "raw", 50, 0)
    p = tmp_path / "FashionMNIST" / "raw" / "train-images-idx3-ubyte"
    p.write_bytes(p.read_bytes()[:1000])
    with pytest.raises(DataError):
        images.load_images("fashion-mnist", root=tmp_path, offline=True)


def test_binarize_draws_bernoulli_pixels_from_its_generator_only():
    from genviz.core.data import binarize

    p = torch.tensor([0.0, 1.0, 0.25, 0.9]).repeat(20000, 1)
    torch.manual_seed(123)
    global_before = torch.get_rng_state()
    x = binarize(p, torch.Generator().manual_seed(0))
    assert torch.equal(torch.get_rng_state(), global_before)  # torch's global stream untouched
    assert x.dtype == p.dtype and set(x.unique().tolist()) <= {0.0, 1.0}
    assert (x[:, 0] == 0).all() and (x[:, 1] == 1).all()  # p = 0 never, p = 1 always
    torch.testing.assert_close(x[:, 2:].mean(0), torch.tensor([0.25, 0.9]), atol=0.01, rtol=0)  # ±4 sd
    assert torch.equal(x, binarize(p, torch.Generator().manual_seed(0)))  # the generator decides the draw
    assert not torch.equal(x, binarize(p, torch.Generator().manual_seed(1)))
