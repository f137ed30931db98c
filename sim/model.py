"""The Mesa model of one deal: a buying group whose weeks run through the engine's own code.

:class:`BuyingGroupModel` wraps a one-deal :class:`sim.engine.Cohort`, so every rule (focus,
information, sharing, beliefs, progress, decision) is the compiled kernel the engine runs
(``sim.kernels``, stepped here one week at a time), and a Mesa run gives exactly the engine's
outcome row for the same scenario, strategy and seed.
Mesa adds what a reader and the dashboard need: one :class:`StakeholderAgent` per group
member placed on a :class:`mesa.discrete_space.Network` built from the deal's consensus graph,
and a :class:`mesa.DataCollector` recording the group week by week.

Importing this module imports Mesa, which switches multiprocessing to the ``spawn`` start
method as a side effect; the previous start method is restored so that importing the model
does not slow or break the sweep workers of the same process.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

_START_METHOD = multiprocessing.get_start_method(allow_none=True)
import mesa  # noqa: E402
from mesa.discrete_space import FixedAgent, Network  # noqa: E402

multiprocessing.set_start_method(_START_METHOD, force=True)

import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sim.engine import Cohort, block_plan  # noqa: E402
from sim.network import graph_of  # noqa: E402
from sim.outcomes import time_shares  # noqa: E402
from sim.scenario import JOB_NAMES, ROLE_NAMES, Scenario, ScenarioError, load_scenario  # noqa: E402
from sim.state import DealState  # noqa: E402

JOB_LABELS = tuple(name.replace("_", " ") for name in JOB_NAMES)


def option_names(n_options: int) -> list[str]:
    """Display names of the options: status quo, the focal vendor, then competitors A, B, ..."""
    competitors = [f"competitor {chr(ord('A') + index)}" for index in range(n_options - 1)]
    return ["status quo", "focal vendor", *competitors]


class StakeholderAgent(FixedAgent):
    """One member of the buying group. Every attribute is read from the deal's state at the
    moment of asking and returned as a copy, so recorded values never change afterwards."""

    def __init__(self, model: BuyingGroupModel, slot: int):
        super().__init__(model)
        self.slot = slot  # index of this stakeholder in the deal's arrays and the network

    @property
    def _state(self) -> DealState:
        return self.model.deal_state

    @property
    def role(self) -> str:
        return ROLE_NAMES[int(self._state.role[0, self.slot])]

    @property
    def job(self) -> int:
        """Index of the buying job this stakeholder works on this week (see JOB_NAMES)."""
        return int(self._state.focus[0, self.slot])

    @property
    def job_name(self) -> str:
        return JOB_NAMES[self.job]

    @property
    def beliefs(self) -> np.ndarray:
        """Utility this stakeholder sees in each option (0 = status quo), a copy."""
        return self._state.opinion[0, self.slot].copy()

    @property
    def priorities(self) -> np.ndarray:
        """Current priority weights over the requirement dimensions, a copy."""
        return self._state.priority[0, self.slot].copy()

    @property
    def preferred_option(self) -> int:
        """Option this stakeholder values most, the status quo (0) included."""
        return int(np.argmax(self._state.opinion[0, self.slot]))

    @property
    def items_held(self) -> float:
        return float(self._state.items_held[0, self.slot])

    @property
    def overload(self) -> float:
        """Information overload in [0, 1]."""
        return float(self._state.overload[0, self.slot])

    @property
    def influence(self) -> float:
        return float(self._state.influence[0, self.slot])

    @property
    def holds_contradiction(self) -> bool:
        """Whether this stakeholder holds evidence on a cell with an unresolved contradiction."""
        state = self._state
        return bool((state.contradicted[0] & (state.evidence_weight[0, self.slot] > 0)).any())


class BuyingGroupModel(mesa.Model):
    """One deal, one week per ``step()``, driven by the engine's :class:`~sim.engine.Cohort`.

    ``scenario`` is a bundled name, a TOML path or a :class:`Scenario`; ``strategy`` puts the
    deal under one focal strategy (None: the scenario's mix decides, as in the engine);
    ``group_size`` fixes the number of stakeholders; ``overrides`` are dotted scenario keys,
    e.g. ``{"population.conflict_level": 0.8}``. The deal is deal 0 of the engine run with
    the same seed, so ``sim.simulate(scenario, n_deals=1, seed=seed, strategy=strategy)`` gives
    the same outcome row.
    """

    def __init__(
        self,
        scenario: Scenario | str | Path = "baseline",
        strategy: str | None = None,
        group_size: int | None = None,
        seed: int = 0,
        overrides: dict[str, Any] | None = None,
    ):
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ScenarioError(f"seed = {seed!r}: must be a non-negative integer")
        super().__init__(seed=int(seed))
        loaded = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        changes = dict(overrides or {})
        if group_size is not None:
            changes["population.group_sizes"] = [int(group_size)]
            changes["population.group_size_weights"] = [1.0]
        self.scenario = loaded.with_overrides(changes) if changes else loaded
        if strategy is not None:
            self.scenario.strategy(strategy)  # a one-line ScenarioError for unknown names
        self.strategy = strategy
        self.seed = seed
        self.cohort = Cohort(self.scenario, seed, block_plan(1), strategy)
        self.deal_state: DealState = self.cohort.state
        self.running: bool = True  # Mesa's flag: False once the deal has ended
        self.outcome: dict[str, Any] | None = None  # the outcome row as Python values
        self._ended_columns: dict[str, np.ndarray] | None = None  # the same, as the engine wrote it
        self.option_names = option_names(self.scenario.simulation.n_options)

        state = self.deal_state
        self.group_size = int(state.group_size[0])
        graph = graph_of(state.adjacency[0], state.weights[0])
        self.graph: nx.Graph = graph
        self.grid = Network(graph, capacity=1, random=self.random)
        for slot in range(self.group_size):
            agent = StakeholderAgent(self, slot)
            agent.cell = self.grid[slot]
        # Mesa 3.3.1 keys a class-wide table of agent-id counters by model, which keeps every
        # model that ever made an agent alive for good. All agents are made above, so the
        # model's counter is no longer needed: dropping it lets a finished model be freed.
        mesa.Agent._ids.pop(self, None)

        self.datacollector = mesa.DataCollector(
            model_reporters={
                **{f"completion_{job}": _completion_of(index) for index, job in enumerate(JOB_NAMES)},
                **{f"loops_{job}": _loops_of(index) for index, job in enumerate(JOB_NAMES)},
                "jobs_done": lambda m: int(m.deal_state.done[0].sum()),
                "disagreement": lambda m: m.disagreement,
                "dissent": lambda m: m.dissent,
                "unresolved_contradictions": lambda m: float(m.deal_state.unresolved[0]),
                "contradictions_met": lambda m: float(m.deal_state.contradictions_met[0]),
                "overload": lambda m: m.group_overload,
                "supplier_time_share": lambda m: m.supplier_time_share,
            },
            agent_reporters={
                "role": "role",
                "job": "job",
                "preferred_option": "preferred_option",
                "beliefs": "beliefs",  # a property returning a fresh copy each time
                "items_held": "items_held",
                "overload": "overload",
                "holds_contradiction": "holds_contradiction",
            },
        )
        self.datacollector.collect(self)

    @property
    def stakeholders(self) -> list[StakeholderAgent]:
        """The group members in slot order (slot = network node)."""
        return sorted(self.agents, key=lambda agent: agent.slot)

    @property
    def week(self) -> int:
        return int(self.deal_state.week[0])

    @property
    def disagreement(self) -> float:
        """Disagreement on priorities in [0, 1]: 1 minus what the group state supports for
        requirements building (the engine's own readiness measure, not a second formula)."""
        return float(1.0 - self.deal_state.readiness[0, JOB_NAMES.index("requirements_building")])

    @property
    def dissent(self) -> float:
        """Share of influence not behind the option the group leans to (1 - readiness of
        supplier selection)."""
        return float(1.0 - self.deal_state.readiness[0, JOB_NAMES.index("supplier_selection")])

    @property
    def group_overload(self) -> float:
        state = self.deal_state
        return float(state.overload[0, : self.group_size].mean())

    @property
    def supplier_time_share(self) -> float:
        return float(time_shares(self.deal_state.hours)["supplier_time_share"][0])

    def step(self) -> None:
        """Advance the deal one week through the engine; stop when the deal has ended."""
        if not self.running:
            return
        ended = self.cohort.step()
        if ended is None:
            self.deal_state = self.cohort.state
        else:
            assert self.cohort.finished_state is not None  # set by the step that ended the deal
            self.deal_state = self.cohort.finished_state
            self.outcome = {name: _scalar(values[0]) for name, values in ended.items()}
            self._ended_columns = ended
            self.running = False
        self.datacollector.collect(self)

    def run(self) -> pd.DataFrame:
        """Run the deal to its end; returns its outcome row (one-row DataFrame)."""
        while self.running:
            self.step()
        return self.outcome_frame()

    def outcome_frame(self) -> pd.DataFrame:
        """The deal's outcome row exactly as the engine writes it (ScenarioError if running)."""
        if self._ended_columns is None:
            raise ScenarioError("the deal is still running: no outcome yet")
        return pd.DataFrame(self._ended_columns)


def _completion_of(job: int):
    return lambda model: float(model.deal_state.completion[0, job])


def _loops_of(job: int):
    return lambda model: int(model.deal_state.loops[0, job])


def _scalar(value: Any) -> Any:
    """A numpy scalar as the matching Python value (for display and JSON)."""
    return value.item() if isinstance(value, np.generic) else value
