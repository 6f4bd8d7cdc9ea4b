"""Grid normalization: a known Gaussian energy gives its exact log-density; log Z is cached until θ changes."""
import math

import torch

from genviz.core.ebm.anomaly import anomaly_arrays, auroc
from genviz.core.ebm.gridnorm import GridNormalizer, grid_log_z


def test_grid_log_z_of_an_unnormalized_gaussian_is_exact():
    s1, s2, c = 0.7, 1.3, 5.0  # f = -x²/(2s1²) - y²/(2s2²) + c, so Z = 2π s1 s2 e^c
    f = lambda x: -0.5 * (x[:, 0] / s1) ** 2 - 0.5 * (x[:, 1] / s2) ** 2 + c  # noqa: E731
    log_z, edge = grid_log_z(f, (-7.0, 7.0, -10.0, 10.0), 300)
    assert abs(log_z - (math.log(2 * math.pi * s1 * s2) + c)) < 1e-4
    assert edge < 1e-8
    x = torch.tensor([[0.0, 0.0], [1.0, -2.0]])
    exact = torch.distributions.MultivariateNormal(torch.zeros(2), torch.diag(torch.tensor([s1, s2]) ** 2))
    assert torch.allclose(f(x) - log_z, exact.log_prob(x), atol=1e-4)


def test_a_box_too_small_reports_its_edge_mass():
    f = lambda x: -0.5 * (x ** 2).sum(1)  # noqa: E731
    log_z, edge = grid_log_z(f, (-1.0, 1.0, -1.0, 1.0), 100)
    assert log_z < math.log(2 * math.pi) - 0.5 and edge > 0.01


def test_normalizer_recomputes_only_after_parameters_change():
    net = torch.nn.Linear(2, 1)
    f = lambda x: -(net(x).squeeze(-1)) ** 2  # noqa: E731
    norm = GridNormalizer(net)
    calls = []
    counted = lambda x: (calls.append(1), f(x))[1]  # noqa: E731
    box = (-3.0, 3.0, -3.0, 3.0)
    a = norm.get(counted, box, 64)
    norm.get(counted, box, 64)
    assert len(calls) == 1
    opt = torch.optim.Adam(net.parameters(), lr=0.1)
    (-f(torch.randn(8, 2)).mean()).backward()
    opt.step()
    b = norm.get(counted, box, 64)
    assert len(calls) == 2 and b != a


def test_auroc_and_histograms():
    assert auroc([3.0, 4.0], [1.0, 2.0]) == 1.0
    assert auroc([1.0], [1.0]) == 0.5
    assert abs(auroc([1.0, 3.0], [2.0]) - 0.5) < 1e-12
    out = anomaly_arrays([0.0, 1.0, 1.0], [5.0, 6.0], bins=4)
    assert out["anomaly_heldout"].sum() == 3 and out["anomaly_other"].sum() == 2
    assert len(out["anomaly_edges"]) == 5 and out["anomaly_auroc"] == 0.0
