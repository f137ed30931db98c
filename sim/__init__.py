"""buying-group-sim: an agent-based simulator of B2B buying groups and vendor strategies.

Quick start::

    import sim
    scenario = sim.load_scenario("baseline")
    results = sim.simulate(scenario, n_deals=5000, seed=1, strategy="sense_making")
    results.summary()
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sim.engine import DEFAULT_CHUNK_SIZE, simulate_frame
from sim.results import Results, compare_strategies
from sim.scenario import Scenario, ScenarioError, load_scenario
from sim.strategies import BUILTIN_STRATEGIES, Strategy
from sim.sweep import load_sweep

__version__ = "0.1.0"
__all__ = [
    "BUILTIN_STRATEGIES",
    "Results",
    "Scenario",
    "ScenarioError",
    "Strategy",
    "compare_strategies",
    "load_scenario",
    "load_sweep",
    "simulate",
]


def simulate(
    scenario: Scenario | str | Path = "baseline",
    n_deals: int = 1000,
    seed: int = 0,
    strategy: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: Callable[[int], None] | None = None,
) -> Results:
    """Simulate ``n_deals`` deals of a scenario. ``strategy`` puts every deal under one focal
    strategy; None uses the scenario's strategy mix. The same seed gives the same customers
    under every strategy, whatever ``chunk_size``."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    deals = simulate_frame(scenario, n_deals, seed, strategy, chunk_size, progress)
    return Results(
        deals=deals,
        scenario=scenario.name,
        seed=seed,
        strategy=strategy,
        metadata={"n_deals": n_deals, "source": scenario.source},
    )
