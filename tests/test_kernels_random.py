"""The per-deal random streams of the kernels: keyed, uniform and normal as they should be."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.dynamics import week_draws


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**40), first=st.integers(0, 10**7), week=st.integers(0, 60))
def test_a_deals_numbers_depend_only_on_seed_deal_and_week(seed, first, week):
    deals = np.arange(first, first + 6)
    together = week_draws(seed, deals, week, 4, 10)
    alone = week_draws(seed, deals[3:4], week, 4, 10)
    for batch, single in zip(together, alone, strict=True):
        np.testing.assert_array_equal(batch[3:4], single)  # not on the other deals drawn with it
    other_week = week_draws(seed, deals, week + 1, 4, 10)
    other_seed = week_draws(seed + 1, deals, week, 4, 10)
    for part in range(3):
        assert (together[part] != other_week[part]).mean() > 0.9
        assert (together[part] != other_seed[part]).mean() > 0.9
    assert (together[0][0] != together[0][1]).mean() > 0.9  # deals differ from each other


def test_uniforms_and_normals_have_the_right_distribution():
    uniforms, normals, per_cell = week_draws(7, np.arange(4000), 3, 10, 20)
    assert uniforms.dtype == normals.dtype == np.float32
    for values in (uniforms, per_cell):
        assert values.min() >= 0 and values.max() < 1
        counts, _ = np.histogram(values, bins=10, range=(0, 1))
        expected = values.size / 10
        assert np.abs(counts - expected).max() < 5 * np.sqrt(expected)
    z = normals.astype(float).ravel()
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1) < 0.02
    assert abs((np.abs(z) > 1.96).mean() - 0.05) < 0.005
    # Neighbouring counters are not correlated.
    flat = uniforms.reshape(-1, uniforms.shape[-1]).astype(float)
    assert abs(np.corrcoef(flat[:, 0], flat[:, 1])[0, 1]) < 0.02
