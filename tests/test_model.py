"""The Mesa model of one deal: agents, network, data collection and stopping."""

from __future__ import annotations

import gc
import multiprocessing
import weakref

import numpy as np
import pytest

from sim.model import BuyingGroupModel, StakeholderAgent
from sim.scenario import JOB_NAMES, ROLE_NAMES, ScenarioError


def test_constructs_with_no_arguments() -> None:
    model = BuyingGroupModel()
    assert model.scenario.name == "baseline"
    assert model.seed == 0
    assert model.running
    assert model.week == 0
    assert 6 <= model.group_size <= 10


def test_importing_the_model_keeps_the_multiprocessing_start_method() -> None:
    """Mesa forces 'spawn' on import; the model module restores what was there before."""
    assert multiprocessing.get_start_method(allow_none=True) in (None, "fork", "forkserver")


def test_a_model_nobody_holds_is_freed() -> None:
    """Mesa 3.3.1 keeps every model that made agents in a class-wide table; ours drop out of
    it once their agents exist, so dashboards, experiments and tests do not leak models."""
    model = BuyingGroupModel(seed=3)
    model.step()
    alive = weakref.ref(model)
    del model
    gc.collect()
    assert alive() is None


def test_one_agent_per_stakeholder_on_the_consensus_network() -> None:
    model = BuyingGroupModel(group_size=9, seed=5)
    agents = model.stakeholders
    assert len(agents) == 9
    assert all(isinstance(agent, StakeholderAgent) for agent in agents)
    assert sorted(model.graph.nodes) == list(range(9))
    assert len(model.grid.all_cells) == 9
    adjacency = model.deal_state.adjacency[0]
    for agent in agents:
        assert agent.cell.coordinate == agent.slot
        assert agent.role in ROLE_NAMES
        neighbours = {cell.coordinate for cell in agent.cell.neighborhood}
        assert neighbours == set(np.nonzero(adjacency[agent.slot])[0].tolist())
    assert agents[0].role == "executive_sponsor"
    for _, _, data in model.graph.edges(data=True):
        assert data["trust"] > 0


def test_agents_expose_the_deal_state() -> None:
    model = BuyingGroupModel(seed=2)
    model.step()
    state = model.deal_state
    for agent in model.stakeholders:
        assert agent.job == state.focus[0, agent.slot]
        assert agent.job_name == JOB_NAMES[agent.job]
        np.testing.assert_array_equal(agent.beliefs, state.opinion[0, agent.slot])
        assert agent.preferred_option == int(np.argmax(state.opinion[0, agent.slot]))
        assert agent.items_held == pytest.approx(float(state.items_held[0, agent.slot]))
        assert 0.0 <= agent.overload <= 1.0
        assert agent.influence > 0


def test_collected_values_are_copies_that_never_change() -> None:
    model = BuyingGroupModel(seed=4)
    model.step()
    first = model.datacollector.get_agent_vars_dataframe().xs(1, level="Step")
    recorded = [beliefs.copy() for beliefs in first["beliefs"]]
    for _ in range(5):
        model.step()
    again = model.datacollector.get_agent_vars_dataframe().xs(1, level="Step")
    for before, after in zip(recorded, again["beliefs"], strict=True):
        np.testing.assert_array_equal(before, after)
    live = model.stakeholders[0].beliefs
    live[:] = 99.0
    assert not np.any(model.deal_state.opinion[0, 0] == 99.0)


def test_model_reporters_track_the_weeks() -> None:
    model = BuyingGroupModel(strategy="digital_first", seed=1)
    model.run()
    table = model.datacollector.get_model_vars_dataframe()
    assert len(table) == model.week + 1  # week 0 plus every week run
    expected = [f"completion_{job}" for job in JOB_NAMES] + [
        "disagreement", "unresolved_contradictions", "overload", "supplier_time_share",
    ]
    for column in expected:
        assert column in table
    completion = table[[f"completion_{job}" for job in JOB_NAMES]].to_numpy()
    assert completion.min() >= 0 and completion.max() <= 1
    assert table["supplier_time_share"].iloc[-1] == pytest.approx(
        model.outcome["supplier_time_share"], rel=1e-5
    )


def test_running_turns_false_at_the_end_and_step_then_does_nothing() -> None:
    model = BuyingGroupModel(seed=0, overrides={"simulation.horizon_weeks": 6})
    for _ in range(6):
        assert model.running
        model.step()
    assert not model.running
    assert model.outcome is not None and model.outcome["cycle_weeks"] <= 6
    weeks = model.week
    rows = len(model.datacollector.get_model_vars_dataframe())
    model.step()
    assert model.week == weeks
    assert len(model.datacollector.get_model_vars_dataframe()) == rows
    # Agents still answer from the final state after the cohort dropped the deal.
    assert all(0.0 <= agent.overload <= 1.0 for agent in model.stakeholders)


def test_overrides_and_group_size_reach_the_deal() -> None:
    model = BuyingGroupModel(
        group_size=3, overrides={"population.conflict_level": 0.8,
                                 "population.information_volume": 2.5},
    )
    assert model.group_size == 3
    assert float(model.deal_state.conflict_level[0]) == pytest.approx(0.8)
    # The group meets the chosen volume times its own spread factor; without spread, exactly it.
    flat = BuyingGroupModel(
        group_size=3, overrides={"population.conflict_level": 0.8, "population.information_volume": 2.5,
                                 "behaviour.volume_spread": 0.0},
    )
    assert float(flat.deal_state.information_volume[0]) == pytest.approx(2.5)
    assert float(model.deal_state.information_volume[0]) > 0


def test_outcome_before_the_end_is_a_clear_error() -> None:
    with pytest.raises(ScenarioError, match="still running"):
        BuyingGroupModel().outcome_frame()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strategy": "cold_calling"}, "unknown; allowed"),
        ({"scenario": "no_such_scenario"}, "no such scenario file"),
        ({"group_size": 40}, "group size 40 is outside"),
        ({"seed": -1}, "non-negative"),
    ],
)
def test_bad_input_gives_one_line_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ScenarioError, match=message) as error:
        BuyingGroupModel(**kwargs)
    assert "\n" not in str(error.value)
