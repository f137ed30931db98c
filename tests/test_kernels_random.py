"""The per-deal random streams of the kernels: keyed, uniform and normal as they should be."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.kernels import _normal, _poisson, _uniform, week_key


def _draws(seed: int, deals: np.ndarray, week: int, counters: int = 40) -> np.ndarray:
    """The first ``counters`` uniforms of each deal's week (deals x counters)."""
    keys = [np.uint64(week_key(seed, deal, week)) for deal in deals]
    return np.array([[_uniform(key, c) for c in range(counters)] for key in keys])


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**40), first=st.integers(0, 10**7), week=st.integers(0, 60))
def test_a_deals_numbers_depend_only_on_seed_deal_and_week(seed, first, week):
    deals = np.arange(first, first + 6)
    together = _draws(seed, deals, week)
    np.testing.assert_array_equal(together[3:4], _draws(seed, deals[3:4], week))
    assert (together != _draws(seed, deals, week + 1)).mean() > 0.9
    assert (together != _draws(seed + 1, deals, week)).mean() > 0.9
    assert (together[0] != together[1]).mean() > 0.9  # deals differ from each other


def test_uniforms_normals_and_item_counts_have_the_right_distribution():
    keys = [np.uint64(week_key(7, deal, 3)) for deal in range(3000)]
    uniforms = np.array([[_uniform(key, c) for c in range(8)] for key in keys])
    assert (uniforms * 2.0**24 == np.round(uniforms * 2.0**24)).all()  # 24 random bits each
    assert uniforms.min() >= 0 and uniforms.max() < 1
    counts, _ = np.histogram(uniforms, bins=10, range=(0, 1))
    expected = uniforms.size / 10
    assert np.abs(counts - expected).max() < 5 * np.sqrt(expected)
    assert abs(np.corrcoef(uniforms[:, 0], uniforms[:, 1])[0, 1]) < 0.04  # neighbouring counters
    z = np.array([_normal(key, 2 * c) for key in keys for c in range(4)], dtype=float)
    assert abs(z.mean()) < 0.03 and abs(z.std() - 1) < 0.03
    assert abs((np.abs(z) > 1.96).mean() - 0.05) < 0.008
    # Item counts: Poisson by inversion of one uniform (mean and variance both equal the mean).
    for mean in (0.3, 2.0, 9.0):
        items = np.array([_poisson(u, mean) for u in uniforms.ravel()], dtype=float)
        assert abs(items.mean() - mean) < 4 * np.sqrt(mean / items.size)
        assert abs(items.var() / mean - 1) < 0.1
