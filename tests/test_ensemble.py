"""Strategy conclusions across the ensemble of fits, and the held-out patterns' report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.ensemble import Member, conclusions, load_ensemble, strategy_robustness
from sim.replication import formatted_held_out, held_out_patterns
from sim.research import HELD_OUT
from sim.scenario import ScenarioError


@pytest.fixture(scope="module")
def robustness() -> pd.DataFrame:
    members = [Member(0.0, {}), Member(1.0, {"capacity": 14.0, "status_quo_pull": 0.3})]
    return strategy_robustness("baseline", 400, seed=5, members=members)


def test_every_ordered_pair_is_the_mirror_of_its_reverse(robustness):
    table = robustness.set_index(["metric", "first", "second"])
    assert len(table) == 5 * 3 * 2  # headline metrics x ordered pairs of the three presets
    for (metric, first, second), row in table.iterrows():
        mirror = table.loc[(metric, second, first)]
        assert row["mean_difference"] == pytest.approx(-mirror["mean_difference"], abs=1e-12)
        assert row["share_better"] == mirror["share_worse"] and row["members"] == 2
        assert row["lowest"] <= row["mean_difference"] <= row["highest"]


def test_conclusions_state_the_share_of_fits(robustness):
    sentences = conclusions(robustness, reference="seller_led")
    assert len(sentences) == 5 * 2  # each metric, each other strategy against the reference
    ease = robustness[(robustness["metric"] == "purchase_ease") & (robustness["second"] == "seller_led")]
    for row in ease.itertuples():
        sentence = next(s for s in sentences if s.startswith(f"{row.first} ") and "purchase ease" in s)
        share = max(row.share_better, row.share_worse)
        assert (f"{share:.0%}" in sentence) if share >= 0.5 else ("no clear winner" in sentence)


def test_a_missing_or_empty_ensemble_is_one_clear_line(tmp_path):
    with pytest.raises(ScenarioError, match="calibrate --write"):
        load_ensemble(tmp_path / "none.toml")
    empty = tmp_path / "empty.toml"
    empty.write_text("[ensemble]\ntrials = 3\n")
    with pytest.raises(ScenarioError, match=r"field member: needs at least one \[\[member\]\] table"):
        load_ensemble(empty)
    assert len(load_ensemble()) >= 3  # the committed ensemble


def test_held_out_patterns_are_computed_from_the_deals():
    rng = np.random.default_rng(0)
    n = 400
    purchased = rng.random(n) < 0.6
    deals = pd.DataFrame({
        "purchased": purchased, "no_decision": ~purchased,
        "end_reason": np.where(purchased, "purchase",
                               np.where(rng.random(n) < 0.5, "status_quo", "exhausted")),
        "jobs_reopened": rng.integers(0, 7, n), "high_regret": rng.random(n) < 0.5,
        "conflict_level": rng.random(n), "favourite_won": purchased & (rng.random(n) < 0.8),
        "group_size": rng.integers(6, 11, n), "high_quality_deal": purchased & (rng.random(n) < 0.2),
        **{f"loops_job{j}": rng.integers(0, 3, n) for j in range(6)}, "loops_total": 0,
    })  # fmt: skip
    table = held_out_patterns(deals, "market", 200, seed=0)
    assert list(table.index) == [pattern.key for pattern in HELD_OUT]
    bought = deals[purchased]
    assert table.loc["revisit_breadth", "value"] == pytest.approx(bought["jobs_reopened"].mean())
    assert table.loc["status_quo_share", "value"] == pytest.approx(
        (deals.loc[~purchased, "end_reason"] == "status_quo").mean())
    assert table.loc["favourite_wins", "value"] == pytest.approx(bought["favourite_won"].mean())
    for key, row in table.iterrows():
        assert row["holds"] == (row["low"] <= row["value"] <= row["high"]), key
    shown = formatted_held_out(table)
    assert set(shown["result"]) <= {"holds", "FAILS"} and len(shown) == len(HELD_OUT)
