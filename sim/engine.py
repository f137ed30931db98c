"""The vectorized engine: runs many deals at once through :func:`sim.dynamics.step`.

Reproducibility: deals are grouped in fixed blocks of ``BLOCK_SIZE``. Each block owns three
random streams derived from the seed: its customers, the assignment of focal strategies in a
mixed population, and the weekly dynamics. A block's weekly draws always cover the whole
block, whatever the strategy and however many of its deals are still running, so a deal's
results depend only on the seed and its index: not on chunk size, worker count or executor,
and strategies meet the same customers and the same random numbers (common random numbers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.dynamics import WeeklyDraws, start, step
from sim.outcomes import deal_outcomes
from sim.scenario import Scenario, ScenarioError
from sim.state import DealState, _choose, initial_state, new_customers, vendor_array
from sim.strategies import strategy_table

BLOCK_SIZE = 256
DEFAULT_CHUNK_SIZE = 16384
STREAM_CUSTOMER, STREAM_STRATEGY, STREAM_DYNAMICS = 0, 1, 2


def stream(seed: int, block: int, kind: int) -> np.random.Generator:
    """The random generator of one block and purpose."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, block, kind])))


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
    """A set of whole blocks of deals advancing week by week through the shared dynamics."""

    def __init__(
        self, scenario: Scenario, seed: int, blocks: list[tuple[int, int, int]], strategy: str | None = None
    ):
        """``blocks`` lists (block index, first deal, number of deals)."""
        if seed < 0:
            raise ScenarioError(f"seed = {seed}: must be a non-negative integer")
        self.scenario = scenario
        self.behaviour = scenario.behaviour
        self.horizon = scenario.simulation.horizon_weeks
        self.plan = StrategyPlan.of(scenario, strategy)
        table = strategy_table([scenario.strategy(name) for name in self.plan.names])
        self.blocks = blocks
        self.dynamics_streams = [stream(seed, block, STREAM_DYNAMICS) for block, _, _ in blocks]
        parts = []
        for block, first, count in blocks:
            customers = new_customers(scenario, count, stream(seed, block, STREAM_CUSTOMER), seed)
            if self.plan.weights is None:
                focal = np.zeros(count, dtype=np.int64)
            else:
                focal = _choose(stream(seed, block, STREAM_STRATEGY), self.plan.weights, (count,))
            vendor = vendor_array(table, focal, self.plan.competitor, scenario.simulation.n_options)
            parts.append(initial_state(customers, vendor, focal, np.arange(first, first + count)))
        padded = _concat_states(parts)
        self.size = padded.n_deals
        self.stakeholders = padded.member.shape[1]
        self.cells = padded.evidence_weight.shape[2]
        # One group per group size, each without padding: (state, positions in the cohort).
        self.groups: list[tuple[DealState, np.ndarray]] = []
        for group_size in np.unique(padded.group_size):
            positions = np.nonzero(padded.group_size == group_size)[0]
            state = padded.take(positions).narrow(int(group_size))
            start(state, self.behaviour)
            self.groups.append((state, positions))
        self.finished_state: DealState | None = None  # deals that ended at the last step

    @property
    def running(self) -> bool:
        return bool(self.groups)

    @property
    def state(self) -> DealState:
        """The running deals' state (cohorts whose deals all have one group size, e.g. one deal)."""
        if len(self.groups) != 1:
            raise ValueError("this cohort holds several group sizes (or none running); see .groups")
        return self.groups[0][0]

    def step(self) -> dict | None:
        """Advance the running deals one week; returns the outcome columns of deals that ended.

        ``finished_state`` then holds the final state of those deals (of the last group size
        in which deals ended)."""
        draws = WeeklyDraws.concat(
            [
                WeeklyDraws.draw(rng, count, self.stakeholders, self.cells)
                for rng, (_, _, count) in zip(self.dynamics_streams, self.blocks, strict=True)
            ]
        )
        self.finished_state = None
        ended: list[dict] = []
        running = []
        for state, positions in self.groups:
            size = state.member.shape[1]
            step(state, self.behaviour, draws.take(positions).narrow(size), self.horizon)
            finished = state.finished
            if finished.any():
                done = state.take(np.nonzero(finished)[0])
                self.finished_state = done
                ended.append(deal_outcomes(done, self.behaviour, self.horizon, self.plan.names))
                keep = np.nonzero(~finished)[0]
                state, positions = state.take(keep), positions[keep]
            if len(positions):
                running.append((state, positions))
        self.groups = running
        if not ended:
            return None
        return {key: np.concatenate([part[key] for part in ended]) for key in ended[0]}

    def run(self) -> pd.DataFrame:
        """Run every deal to its end; one row per deal, in deal order."""
        frames = []
        while self.running:
            ended = self.step()
            if ended is not None:
                frames.append(pd.DataFrame(ended))
        return pd.concat(frames, ignore_index=True).sort_values("deal", ignore_index=True)


def _concat_states(parts: list[DealState]) -> DealState:
    if len(parts) == 1:
        return parts[0]
    from dataclasses import fields

    return DealState(
        **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(DealState)}
    )


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
