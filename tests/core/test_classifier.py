"""The sample-quality classifier: score formulas on known inputs and a tiny cached training run."""
import math

import numpy as np
import pytest
import torch

from genviz.core import classifier
from genviz.core.data import Dataset


def test_inception_score_bounds():
    onehot = torch.eye(10).repeat(20, 1).double()  # confident and every class equally often
    assert classifier.inception_score(onehot) == pytest.approx(10.0, rel=1e-6)
    assert classifier.inception_score(torch.eye(10)[[3] * 50].double()) == pytest.approx(1.0)  # one class
    assert classifier.inception_score(torch.full((40, 10), 0.1, dtype=torch.float64)) == pytest.approx(1.0)


def test_frechet_distance_matches_the_gaussian_closed_form():
    """For diagonal covariances: |mu1-mu2|^2 + sum (s1 - s2)^2 with s the standard deviations."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(40_000, 3, generator=g, dtype=torch.float64) * torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    b = torch.randn(40_000, 3, generator=g, dtype=torch.float64) * torch.tensor([1.5, 1.0, 0.5], dtype=torch.float64) + 1.0
    expected = 3 * 1.0 + (1 - 1.5) ** 2 + (2 - 1) ** 2 + 0.0
    assert classifier.frechet_distance(a, b) == pytest.approx(expected, rel=0.05)
    assert classifier.frechet_distance(a[:20_000], a[20_000:]) == pytest.approx(0.0, abs=0.02)


def _toy_digits(n, seed):
    """Two 'digits' a tiny CNN separates at once: bright top half (label 0) or bright bottom half (1)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.rand(n, 1, 28, 28, generator=g) * 0.2
    x[y == 0, :, :14] += 0.8
    x[y == 1, :, 14:] += 0.8
    return x, y


def test_classifier_trains_caches_and_scores(tmp_path):
    x, y = _toy_digits(600, 0)
    data = Dataset("toy", "image", x[:500], x[500:], x[500:], {"train": y[:500]})
    clf = classifier.get_classifier(tmp_path, data, steps=20, batch_size=32)
    assert (tmp_path / classifier.CACHE_NAME).is_file()
    assert classifier.accuracy(clf, x[500:], y[500:]) > 0.95
    again = classifier.get_classifier(tmp_path, data, steps=0)  # from the cache, not retrained
    assert all(torch.equal(p, q) for p, q in zip(clf.state_dict().values(), again.state_dict().values()))
    s = classifier.scores(clf, x[500:550], x[550:])
    assert s["class_hist"].shape == (10,) and s["class_hist"].sum() == pytest.approx(1.0)
    assert s["classes_present"] == 2 and 1.5 < s["is"] <= 2.0 + 1e-6  # two balanced, confident classes
    only_zeros = classifier.scores(clf, x[500:][y[500:] == 0], x[550:])
    assert only_zeros["fid"] > s["fid"]  # dropping a class moves the feature statistics away
    assert isinstance(s["fid"], float) and math.isfinite(s["fid"]) and np.isfinite(s["class_hist"]).all()
