"""The engine: runs cohorts of deals through the compiled weekly kernels (``sim.kernels``).

Reproducibility: deals are grouped in fixed blocks of ``BLOCK_SIZE``. Each block owns two
random streams derived from the seed: its customers and the assignment of focal strategies in
a mixed population. The weekly dynamics draw from one counter-based stream per deal, keyed by
the seed, the deal's index in the run and the week. So a deal's results depend only on the seed
and its index: not on chunk size, worker count or executor, and strategies meet the same
customers and the same random numbers (common random numbers).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd

from sim import kernels
from sim.channels import source_table
from sim.dynamics import run, start, state_arrays, step
from sim.effort import within_budget
from sim.kernels import behaviour_params
from sim.outcomes import deal_outcomes
from sim.scenario import Scenario, ScenarioError, load_scenario
from sim.state import DealState, _choose, initial_state, new_customers, vendor_array
from sim.strategies import Strategy, strategy_table

BLOCK_SIZE = 256
# Seeds enter the compiled kernels as signed 64-bit integers.
MAX_SEED = 2**63 - 1
DEFAULT_CHUNK_SIZE = 16384
COMPILE_SECONDS = 30  # about how long a first compilation takes on one core (measured: 22 s)
COMPILING_NOTICE = (
    f"compiling the simulation kernels (once after install, about {COMPILE_SECONDS} s)..."
)
# The kernels every run needs; compiled or loaded from the disk cache on first use.
_KERNELS = (kernels.start_deals, kernels.advance_week, kernels.run_deals, kernels.cell_belief)
_compile_checked = False
STREAM_CUSTOMER, STREAM_STRATEGY = 0, 1  # (2 was the weekly dynamics, now keyed per deal)


def stream(seed: int, block: int, kind: int) -> np.random.Generator:
    """The random generator of one block and purpose."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, block, kind])))


def kernels_cached() -> bool:
    """Whether every kernel has compiled code for this machine in the disk cache (numba keeps
    it next to the sources, or in a user cache directory where that is not writable)."""
    for kernel in _KERNELS:
        cache = getattr(kernel, "_cache", None)
        load_index = getattr(getattr(cache, "_cache_file", None), "_load_index", None)
        if load_index is None or not load_index():
            return False
    return True


def _announce_compilation() -> None:
    """Say once per process, on stderr, that the kernels are being compiled (only when they
    are: later processes load them from the disk cache in well under a second)."""
    global _compile_checked
    if _compile_checked:
        return
    _compile_checked = True
    if not getattr(numba.config, "DISABLE_JIT", False) and not kernels_cached():
        print(COMPILING_NOTICE, file=sys.stderr, flush=True)


def warm_up() -> float:
    """Compile (or load from the disk cache) every kernel the engine and the Mesa model use,
    by running two short deals; returns the seconds it took. Call it at server or worker
    start so no user request waits for a compilation."""
    started = time.perf_counter()
    scenario = load_scenario("baseline").with_overrides({"simulation.horizon_weeks": 4})
    cohort = Cohort(scenario, 0, block_plan(2))
    cohort.step()  # one week at a time, as the Mesa model steps
    cohort.run()  # the rest in one call, as the engine runs
    return time.perf_counter() - started


@dataclass(frozen=True)
class StrategyPlan:
    """Which focal strategies a run uses: one name for all deals, or the scenario's mix."""

    names: list[str]
    weights: np.ndarray | None  # None: every deal uses names[0]
    competitor: int  # index into names

    @classmethod
    def of(cls, scenario: Scenario, strategy: str | None) -> StrategyPlan:
        mix = scenario.population.strategy_mix
        competitor = scenario.population.competitor_strategy
        if strategy is not None:
            scenario.strategy(strategy)  # raises a clear error for unknown names
            names = [strategy] if competitor == strategy else [strategy, competitor]
            return cls(names, None, names.index(competitor))
        names = list(mix)
        if competitor not in names:
            names.append(competitor)
        weights = np.array([mix.get(name, 0.0) for name in names])
        if len(mix) == 1:
            return cls(names, None, names.index(competitor))
        return cls(names, weights, names.index(competitor))


class Cohort:
    """A set of whole blocks of deals advancing week by week through the shared dynamics.

    The state of all its deals lives in one set of arrays padded to the scenario's largest
    group; deals that have ended stay in place and are no longer stepped.
    """

    def __init__(
        self, scenario: Scenario, seed: int, blocks: list[tuple[int, int, int]], strategy: str | None = None
    ):
        """``blocks`` lists (block index, first deal, number of deals)."""
        if not 0 <= seed <= MAX_SEED:
            raise ScenarioError(f"seed = {seed}: must be a whole number from 0 to {MAX_SEED}")
        _announce_compilation()
        self.scenario = scenario
        self.behaviour = scenario.behaviour
        self.params = behaviour_params(self.behaviour)
        self.horizon = scenario.simulation.horizon_weeks
        self.plan = StrategyPlan.of(scenario, strategy)
        # Every vendor delivers its strategy within the scenario's effort budget (sim/effort.py).
        budget = scenario.population.effort_budget
        table = strategy_table([within_budget(scenario.strategy(name), budget) for name in self.plan.names])
        self.blocks = blocks
        self.seed = seed
        # Customers and strategies are drawn block by block (each block has its own streams),
        # then the week-0 state is built once for the whole cohort (no copies of its arrays).
        customers, focals = [], []
        for block, _, count in blocks:
            customers.append(new_customers(scenario, count, stream(seed, block, STREAM_CUSTOMER), seed))
            if self.plan.weights is None:
                focals.append(np.zeros(count, dtype=np.int64))
            else:
                focals.append(_choose(stream(seed, block, STREAM_STRATEGY), self.plan.weights, (count,)))
        focal = _concat(focals)
        vendor = vendor_array(table, focal, self.plan.competitor, scenario.simulation.n_options)
        deal_id = _concat([np.arange(first, first + count) for _, first, count in blocks])
        merged = {name: _concat([part[name] for part in customers]) for name in customers[0]}
        self._all = initial_state(merged, vendor, focal, deal_id)
        self.size = self._all.n_deals
        self.stakeholders = self._all.member.shape[1]
        self.cells = self._all.evidence_weight.shape[2]
        start(self._all, self.behaviour, self.params)
        self._arrays = state_arrays(self._all)
        self.active = np.arange(self.size)  # rows of the deals still running
        self._running_view: DealState | None = None
        self.finished_state: DealState | None = None  # deals that ended at the last step

    @property
    def running(self) -> bool:
        return len(self.active) > 0

    @property
    def state(self) -> DealState:
        """The running deals' state (a copy taken after the last step, the same object until
        the next step)."""
        if self._running_view is None:
            self._running_view = self._all.take(self.active)
        return self._running_view

    @property
    def full_state(self) -> DealState:
        """Every deal's state, running or ended, as the live arrays (read it, do not keep it:
        the next step changes it; change running deals only through ``update_running``)."""
        return self._all

    def update_running(self, change: Callable[[DealState, np.ndarray], None]) -> None:
        """Apply ``change(state, rows)`` to the running deals (rows of the full state), e.g. a
        shock between weeks; their information sources are then rebuilt from the vendors'
        strategies, so a change of vendor levers takes effect from the next week."""
        rows = self.active
        change(self._all, rows)
        self._all.sources[rows] = source_table(self._all.vendor[rows], self.behaviour)
        self._running_view = None

    def set_focal_strategy(self, strategy: Strategy) -> None:
        """From the next week on, the focal vendor of every running deal follows ``strategy``
        (delivered within the scenario's effort budget): a vendor may change its levers
        between weeks of a running deal (workshop rounds, what-if explorations). The deals'
        customers and random numbers are unchanged, so runs stay paired."""
        delivered = within_budget(strategy, self.scenario.population.effort_budget)

        def focal(state: DealState, rows: np.ndarray) -> None:
            state.vendor[rows, 1] = strategy_table([delivered])[0]

        self.update_running(focal)

    def _advance(self) -> np.ndarray:
        """One week for the running deals; returns the rows of the deals that ended."""
        step(self._arrays, self.params, self.seed, self.horizon, self.active)
        ended = self._all.finished[self.active]
        rows = self.active[ended]
        self.active = self.active[~ended]
        self._running_view = None
        return rows

    def step(self) -> dict | None:
        """Advance the running deals one week; returns the outcome columns of deals that ended.

        ``finished_state`` then holds the final state of those deals."""
        rows = self._advance()
        self.finished_state = None
        if not len(rows):
            return None
        self.finished_state = self._all.take(rows)
        return deal_outcomes(self.finished_state, self.behaviour, self.plan.names)

    def run(self) -> pd.DataFrame:
        """Run every deal to its end; one row per deal, in deal order."""
        run(self._arrays, self.params, self.seed, self.horizon, self.active)
        self.active = self.active[:0]
        self._running_view = None
        return pd.DataFrame(deal_outcomes(self._all, self.behaviour, self.plan.names))


def _concat(parts: list[np.ndarray]) -> np.ndarray:
    """Arrays joined along the deal axis (the one array itself when there is one)."""
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def block_plan(n_deals: int, first_deal: int = 0) -> list[tuple[int, int, int]]:
    """Split deals [first_deal, first_deal + n_deals) into fixed blocks (index, first, count).

    ``first_deal`` must be a multiple of BLOCK_SIZE so blocks line up with a full run's.
    """
    if first_deal % BLOCK_SIZE:
        raise ValueError(f"first_deal must be a multiple of {BLOCK_SIZE}")
    blocks = []
    end = first_deal + n_deals
    for start_deal in range(first_deal, end, BLOCK_SIZE):
        blocks.append((start_deal // BLOCK_SIZE, start_deal, min(BLOCK_SIZE, end - start_deal)))
    return blocks


def iter_chunks(
    scenario: Scenario,
    n_deals: int,
    seed: int,
    strategy: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    first_deal: int = 0,
) -> Iterator[pd.DataFrame]:
    """Per-deal tables chunk by chunk, so memory stays bounded for any number of deals."""
    blocks = block_plan(n_deals, first_deal)
    per_chunk = max(1, chunk_size // BLOCK_SIZE)
    for index in range(0, len(blocks), per_chunk):
        yield Cohort(scenario, seed, blocks[index : index + per_chunk], strategy).run()


def simulate_frame(
    scenario: Scenario,
    n_deals: int,
    seed: int = 0,
    strategy: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """All deals' outcome rows as one DataFrame; ``progress`` is called with deals finished."""
    if n_deals < 1:
        raise ScenarioError(f"deals = {n_deals}: must be at least 1")
    frames = []
    for frame in iter_chunks(scenario, n_deals, seed, strategy, chunk_size):
        frames.append(frame)
        if progress is not None:
            progress(len(frame))
    return pd.concat(frames, ignore_index=True)
