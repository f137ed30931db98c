"""The Mesa model and the vectorized engine give identical outcome rows for the same deal."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import sim
from sim.model import BuyingGroupModel
from sim.scenario import Scenario, load_scenario

SEEDS = [0, 1, 7, 2024]
STRATEGIES = [None, "seller_led", "digital_first", "sense_making"]

SCENARIO_FILES = {
    # A strategy mix, so the engine's strategy stream decides the deal's focal strategy.
    "mixed_hierarchy.toml": """
extends = "baseline.toml"
name = "mixed_hierarchy"
[population]
network = "hierarchy"
conflict_level = [0.2, 0.9]
information_volume = [0.5, 2.0]
strategy_mix = { seller_led = 0.3, digital_first = 0.3, sense_making = 0.2, hybrid = 0.2 }
competitor_strategy = "digital_first"
[strategies.hybrid]
meeting_time = 1.2
digital_volume = 1.5
stage_alignment = 0.8
resolve_contradictions = 0.2
""",
    # Small complete groups with a short horizon and more options.
    "small_groups.toml": """
extends = "baseline.toml"
name = "small_groups"
[simulation]
horizon_weeks = 20
n_options = 4
[population]
group_sizes = [1, 2, 3, 4]
group_size_weights = [0.1, 0.2, 0.3, 0.4]
network = "complete"
""",
}


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Scenario | str | Path]:
    """The bundled baseline by name, extra scenarios from files, and an overridden copy."""
    folder = tmp_path_factory.mktemp("scenarios")
    for name, text in SCENARIO_FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    conflicted = load_scenario("baseline").with_overrides(
        {"population.conflict_level": 0.9, "behaviour.capacity": 5.0}
    )
    return {
        "baseline": "baseline",
        "mixed_hierarchy": folder / "mixed_hierarchy.toml",
        "small_groups": folder / "small_groups.toml",
        "conflicted": conflicted,
    }


def engine_row(scenario: Scenario | str | Path, seed: int, strategy: str | None) -> pd.DataFrame:
    return sim.simulate(scenario, n_deals=1, seed=seed, strategy=strategy).deals


@pytest.mark.parametrize("scenario_name", ["baseline", "mixed_hierarchy", "small_groups", "conflicted"])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_mesa_run_matches_engine_row(
    scenarios: dict[str, Scenario | str | Path], scenario_name: str, strategy: str | None
) -> None:
    scenario = scenarios[scenario_name]
    for seed in SEEDS:
        model = BuyingGroupModel(scenario=scenario, strategy=strategy, seed=seed)
        mesa_row = model.run()
        pd.testing.assert_frame_equal(mesa_row, engine_row(scenario, seed, strategy), check_exact=True)
        assert model.steps == mesa_row.loc[0, "cycle_weeks"]


def test_hybrid_strategy_and_group_size_match_engine(scenarios: dict) -> None:
    """A scenario-defined strategy and the group-size control go through the same path."""
    path = scenarios["mixed_hierarchy"]
    for seed in SEEDS:
        model = BuyingGroupModel(scenario=path, strategy="hybrid", group_size=12, seed=seed)
        reference = load_scenario(path).with_overrides(
            {"population.group_sizes": [12], "population.group_size_weights": [1.0]}
        )
        pd.testing.assert_frame_equal(
            model.run(), engine_row(reference, seed, "hybrid"), check_exact=True
        )
        assert model.group_size == 12


def test_model_sees_the_deal_the_engine_runs() -> None:
    """The week-by-week state the agents read is the engine's state, not a copy made once."""
    model = BuyingGroupModel(strategy="sense_making", seed=3)
    while model.running:
        model.step()
        state = model.cohort.state if model.running else model.cohort.finished_state
        assert model.deal_state is state
        assert [agent.overload for agent in model.stakeholders] == [
            pytest.approx(float(value)) for value in state.overload[0, : model.group_size]
        ]
