"""The weekly dynamics seen from Python: the random numbers of a week and the calls into the
compiled kernels (``sim.kernels``), which hold the one implementation of the weekly rules.

``start`` prepares week 0 and ``step`` advances deals by one week. The vectorized engine calls
them for a cohort of thousands of deals; the Mesa model for one deal. All randomness arrives in
a :class:`WeeklyDraws` whose shape does not depend on the strategy, so strategies are compared
on the same random numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim import kernels
from sim.channels import source_table
from sim.kernels import ITEM_SLOTS, KERNEL_STATE_FIELDS, UNIFORMS_PER_STAKEHOLDER, BehaviourParams
from sim.scenario import Behaviour
from sim.state import DealState

DRAW_FLOAT = np.float32  # the weekly random numbers are drawn in single precision


@dataclass
class WeeklyDraws:
    """One week of random numbers for a set of deals (fixed shapes, independent of strategy).

    Per stakeholder: N_JOBS uniforms for the Gumbel choice of the job in focus, then
    ITEM_SLOTS x SLOT_FIELDS uniforms for new items (``uniforms``), and ITEM_SLOTS standard
    normals for their claims (``normals``); per cell: a uniform for voicing it and one for
    resolving a contradiction on it (``per_cell[:, 0]`` and ``per_cell[:, 1]``).
    """

    uniforms: np.ndarray  # (D,S,UNIFORMS_PER_STAKEHOLDER) float32
    normals: np.ndarray  # (D,S,ITEM_SLOTS) float32
    per_cell: np.ndarray  # (D,2,C) float32

    @classmethod
    def empty(cls, n: int, stakeholders: int, cells: int) -> WeeklyDraws:
        return cls(
            np.empty((n, stakeholders, UNIFORMS_PER_STAKEHOLDER), dtype=DRAW_FLOAT),
            np.empty((n, stakeholders, ITEM_SLOTS), dtype=DRAW_FLOAT),
            np.empty((n, 2, cells), dtype=DRAW_FLOAT),
        )

    def fill(self, rng: np.random.Generator, first: int, count: int) -> None:
        """Draw the week's numbers of deals [first, first + count) from one block's stream
        (always in this order, so a block's numbers do not depend on anything else)."""
        rows = slice(first, first + count)
        rng.random(dtype=DRAW_FLOAT, out=self.uniforms[rows])
        rng.standard_normal(dtype=DRAW_FLOAT, out=self.normals[rows])
        rng.random(dtype=DRAW_FLOAT, out=self.per_cell[rows])


def state_arrays(state: DealState) -> tuple[np.ndarray, ...]:
    """The state arrays in the order the kernels take them."""
    return tuple(getattr(state, name) for name in KERNEL_STATE_FIELDS)


def start(state: DealState, behaviour: Behaviour, params: BehaviourParams | None = None) -> None:
    """The deals' information sources, week-0 opinions (own evidence only) and job readiness."""
    state.sources = source_table(state.vendor, behaviour)
    params = params or kernels.behaviour_params(behaviour)
    kernels.start_deals(np.arange(state.n_deals), params, state_arrays(state))


def step(
    state: DealState,
    params: BehaviourParams,
    draws: WeeklyDraws,
    horizon: int,
    deals: np.ndarray,
    arrays: tuple[np.ndarray, ...] | None = None,
) -> None:
    """Advance the deals at rows ``deals`` of ``state`` by one week (they must be running)."""
    kernels.advance_week(
        deals, horizon, params, arrays or state_arrays(state), draws.uniforms, draws.normals, draws.per_cell
    )
