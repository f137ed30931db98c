"""Shared test fixtures. Keep this small and generic; feature-specific fixtures live in their
own test files."""

from __future__ import annotations

import matplotlib
import pytest

matplotlib.use("Agg")  # no display in tests

from sim.scenario import Scenario, load_scenario  # noqa: E402


@pytest.fixture(scope="session")
def baseline() -> Scenario:
    """The bundled baseline scenario."""
    return load_scenario("baseline")


@pytest.fixture(scope="session")
def market() -> Scenario:
    """The bundled heterogeneous market scenario (mixed sizes, conflict, volume, strategies)."""
    return load_scenario("market")
