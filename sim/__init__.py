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
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.engine import DEFAULT_CHUNK_SIZE, simulate_frame
from sim.results import Results, compare_strategies
from sim.scenario import Scenario, ScenarioError, load_scenario
from sim.strategies import BUILTIN_STRATEGIES, Strategy

if TYPE_CHECKING:
    from sim.explore.discovery import discover
    from sim.explore.store import load_sweep

__version__ = "0.1.0"
__all__ = [
    "BUILTIN_STRATEGIES",
    "MAX_IN_MEMORY_DEALS",
    "Results",
    "Scenario",
    "ScenarioError",
    "Strategy",
    "check_in_memory_deals",
    "compare_strategies",
    "discover",
    "load_scenario",
    "load_sweep",
    "simulate",
]

# Loaded on first use, so `import sim` does not load the sweep and discovery machinery.
_LAZY = {"load_sweep": "sim.explore.store", "discover": "sim.explore.discovery"}


def __getattr__(name: str) -> Any:
    """``sim.load_sweep`` and ``sim.discover``, imported when first asked for."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


# Deals one call (or one command) holds in memory as a table: about 400 bytes a deal, so the
# cap is about 2 GB. Sweeps stream chunks to disk and have no such cap.
MAX_IN_MEMORY_DEALS = 5_000_000


def check_in_memory_deals(n_deals: int, what: str = "n_deals") -> int:
    """``n_deals`` if it is a whole number from 1 to ``MAX_IN_MEMORY_DEALS``; otherwise a
    one-line ScenarioError naming ``what`` (a parameter or a command-line flag)."""
    if isinstance(n_deals, bool) or not isinstance(n_deals, int | np.integer) or n_deals < 1:
        raise ScenarioError(f"{what} = {n_deals!r}: must be a whole number of deals, at least 1")
    if n_deals > MAX_IN_MEMORY_DEALS:
        raise ScenarioError(
            f"{what} = {n_deals:,}: at most {MAX_IN_MEMORY_DEALS:,} deals are held in memory at once; "
            "run more as a sweep (buyingsim sweep), which streams them to disk"
        )
    return int(n_deals)


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
    under every strategy, whatever ``chunk_size``. At most ``MAX_IN_MEMORY_DEALS`` deals."""
    n_deals = check_in_memory_deals(n_deals)
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
