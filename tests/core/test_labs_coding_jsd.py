"""KL as extra bits (Gibbs, Kraft, the Shannon code's bounds) and JSD's properties (≤ log 2, √JSD a metric),
each against its closed form."""
import math

import numpy as np
import pytest

from genviz.core.labs import coding, jsd


@pytest.mark.parametrize("t", [0.0, 0.3, 1.0])
def test_cross_entropy_is_entropy_plus_kl_and_gibbs_holds(t):
    p, q = coding.pair(12, t, seed=4)
    h, ce, d = coding.entropy_bits(p), coding.cross_entropy_bits(p, q), coding.kl_bits(p, q)
    assert ce == pytest.approx(h + d, abs=1e-12) and ce >= h - 1e-12  # Gibbs: E_p[−log q] ≥ H(p)
    assert (d == pytest.approx(0, abs=1e-12)) == (t == 0.0)
    assert h == pytest.approx(-(p * np.log(p)).sum() / math.log(2))


def test_uniform_entropy_and_a_hand_computed_kl():
    assert coding.entropy_bits(np.ones(8)) == pytest.approx(3.0)
    assert coding.kl_bits([0.5, 0.5], [0.25, 0.75]) == pytest.approx(0.5 * math.log2(2) + 0.5 * math.log2(2 / 3))


def test_measured_extra_bits_converge_to_kl_and_the_shannon_code_is_within_one_bit():
    p, q = coding.pair(8, 0.6, seed=1)
    s = coding.encode_stream(p, q, 200_000, seed=0)
    assert s["len_q"].mean() - s["len_p"].mean() == pytest.approx(coding.kl_bits(p, q), abs=0.02)
    lengths = coding.shannon_lengths(q)
    ce = coding.cross_entropy_bits(p, q)
    assert coding.kraft_sum(lengths) <= 1.0 and ce <= p @ lengths < ce + 1


def test_jsd_is_symmetric_and_bounded_by_log_2_reached_on_disjoint_supports():
    t = jsd.random_triples(2000, 5, 0.3, seed=0)
    a, b = jsd.jsd(t[:, 0], t[:, 1]), jsd.jsd(t[:, 1], t[:, 0])
    assert np.allclose(a, b) and np.all(a <= math.log(2) + 1e-12) and np.all(a >= 0)
    assert jsd.jsd([0.5, 0.5, 0, 0], [0, 0, 0.2, 0.8]) == pytest.approx(math.log(2), abs=1e-12)
    assert jsd.jsd([0.3, 0.7], [0.3, 0.7]) == pytest.approx(0, abs=1e-12)
    p, q = np.array([0.9, 0.1]), np.array([0.2, 0.8])  # by hand against the definition
    m = (p + q) / 2
    assert jsd.jsd(p, q) == pytest.approx(0.5 * (p * np.log(p / m)).sum() + 0.5 * (q * np.log(q / m)).sum())


def test_sqrt_jsd_obeys_the_triangle_inequality_and_jsd_does_not():
    t = jsd.random_triples(20000, 3, 0.5, seed=2)
    assert jsd.triangle_slack(t).min() >= -1e-12
    assert (jsd.triangle_slack(t, jsd.jsd) < 0).sum() > 100
    p, q, r = np.array([1.0, 0]), np.array([0.5, 0.5]), np.array([0, 1.0])  # JSD's classic counterexample
    assert jsd.jsd(p, r) > jsd.jsd(p, q) + jsd.jsd(q, r)


def test_jsd_of_two_gaussians_rises_to_log_2():
    assert jsd.gaussian_pair_jsd(0.0) == pytest.approx(0, abs=1e-12)
    assert jsd.gaussian_pair_jsd(0.1) == pytest.approx(0.1 ** 2 / 8, rel=0.02)  # ≈ Fisher information μ²/8
    assert jsd.gaussian_pair_jsd(20.0) == pytest.approx(math.log(2), abs=1e-9)
    vals = [jsd.gaussian_pair_jsd(s) for s in np.linspace(0, 8, 17)]
    assert np.all(np.diff(vals) > 0)
