"""The responses committed to in docs/validation.md (part 1), held as directions.

Each test runs one input across its range on the same deals (``sim.face_validity``), with
margins well clear of the Monte Carlo noise at these sizes."""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.effort import DEFAULT_EFFORT_BUDGET, effort_used, lever_costs, within_budget
from sim.face_validity import RESPONSE_BY_NAME, Response, curve, largest_step, response_curve
from sim.strategies import BUILTIN_STRATEGIES, Strategy

DEALS = 600


@pytest.fixture(scope="module")
def group_size():
    response = RESPONSE_BY_NAME["group size"]
    return response_curve(Response(response.name, response.field, (1, 6, 16)), DEALS, seed=11)


def test_a_one_person_group_buys_in_a_clear_share_of_deals(group_size):
    for strategy in BUILTIN_STRATEGIES:
        assert curve(group_size, "purchased", strategy)[1] > 0.3, strategy


def test_bigger_groups_buy_less_but_do_not_loop_less(group_size):
    for strategy in BUILTIN_STRATEGIES:
        purchased = curve(group_size, "purchased", strategy)
        assert purchased[16] < purchased[6] - 0.05, strategy
        loops = curve(group_size, "loops_total", strategy)
        assert loops[16] >= 0.8 * loops[6], strategy  # a loop is the group's, not a headcount


def test_conflict_raises_no_decision_clear_of_noise():
    response = RESPONSE_BY_NAME["conflict"]
    table = response_curve(Response(response.name, response.field, (0.0, 1.0)), 2000, seed=12)
    rows = table[(table["measure"] == "no_decision") & (table["strategy"] == "seller_led")]
    low, high = rows.set_index("value").loc[0.0], rows.set_index("value").loc[1.0]
    assert high["mean"] - low["mean"] > 0.05
    assert high["ci_low"] > low["ci_high"] - 0.02  # the rise is not noise
    deal_size = curve(table, "deal_size", "seller_led")
    assert deal_size[1.0] < deal_size[0.0]  # divergent priorities trim the scope


def test_no_cliff_between_neighbouring_information_volumes():
    table = response_curve(RESPONSE_BY_NAME["information volume"], 250, seed=13)
    for measure in ("purchased", "no_decision", "overwhelmed", "reached_horizon"):
        assert largest_step(table, measure) <= 0.20, measure
    # No hidden cap: overload keeps rising with volume to the end of the range.
    for strategy in BUILTIN_STRATEGIES:
        overload = curve(table, "peak_overload", strategy)
        assert overload[10.0] > overload[3.0] > overload[1.0], strategy


def test_pruning_lowers_overload_smoothly():
    table = response_curve(RESPONSE_BY_NAME["prune_overload"], DEALS, seed=14)
    overwhelmed = curve(table, "overwhelmed", "seller_led")
    assert overwhelmed.iloc[-1] < overwhelmed.iloc[0]
    assert largest_step(table, "overwhelmed") <= 0.20


def test_need_for_change_raises_purchases():
    response = RESPONSE_BY_NAME["need for change"]
    table = response_curve(Response(response.name, response.field, (0.0, 1.0)), DEALS, seed=15)
    for strategy in BUILTIN_STRATEGIES:
        purchased = curve(table, "purchased", strategy)
        assert purchased[1.0] > purchased[0.0] + 0.05, strategy


def test_ease_of_the_same_journey_does_not_depend_on_the_horizon(baseline):
    """Deals that end before both horizons follow the same journey, and are judged the same."""
    short = sim.simulate(baseline.with_overrides({"simulation.horizon_weeks": 60}), 800, seed=16).deals
    long = sim.simulate(baseline.with_overrides({"simulation.horizon_weeks": 156}), 800, seed=16).deals
    ended = short["end_reason"] != "horizon"
    assert ended.sum() > 400
    for column in ("purchase_ease", "cycle_weeks", "end_reason", "regret", "deal_size"):
        np.testing.assert_array_equal(short.loc[ended, column].to_numpy(), long.loc[ended, column].to_numpy())
    # The longer horizon truncates fewer deals; abandonment is not counted as truncation.
    assert long["reached_horizon"].mean() <= short["reached_horizon"].mean()
    assert long["no_decision"].mean() >= short["no_decision"].mean()


# --- one budget of vendor effort -------------------------------------------------------------


def test_every_built_in_strategy_spends_the_same_budget():
    for name, strategy in BUILTIN_STRATEGIES.items():
        assert effort_used(strategy) == pytest.approx(DEFAULT_EFFORT_BUDGET, rel=0.01), name


def test_a_strategy_over_budget_is_scaled_down_to_it():
    lavish = Strategy(meeting_time=4, digital_volume=6, digital_quality=1, resolve_contradictions=1,
                      surface_unshared=1, prune_overload=1, persuasion=2, group_level=0.8)
    delivered = within_budget(lavish, DEFAULT_EFFORT_BUDGET)
    assert effort_used(lavish) > DEFAULT_EFFORT_BUDGET
    assert effort_used(delivered) == pytest.approx(DEFAULT_EFFORT_BUDGET, rel=1e-9)
    factor = delivered.meeting_time / lavish.meeting_time
    for name in lever_costs(lavish):
        assert getattr(delivered, name) == pytest.approx(getattr(lavish, name) * factor)
    # Free levers and quality are kept; a strategy within budget is unchanged.
    assert (delivered.persuasion, delivered.group_level, delivered.digital_quality) == (2, 0.8, 1)
    modest = Strategy(meeting_time=0.5)
    assert within_budget(modest, DEFAULT_EFFORT_BUDGET) == modest


def test_the_engine_delivers_strategies_within_the_scenario_budget(baseline):
    """Doubling every costly lever of a strategy that already spends the budget changes nothing."""
    sense = BUILTIN_STRATEGIES["sense_making"]
    doubled = sense.model_copy(update={name: 2 * getattr(sense, name) for name in lever_costs(sense)})
    scenario = baseline.with_overrides({"strategies.doubled": doubled.model_dump()})
    a = sim.simulate(scenario, 300, seed=17, strategy="sense_making").deals
    b = sim.simulate(scenario, 300, seed=17, strategy="doubled").deals
    for column in ("purchased", "cycle_weeks", "loops_total", "supplier_items"):
        np.testing.assert_allclose(a[column].to_numpy(float), b[column].to_numpy(float), rtol=1e-9)
