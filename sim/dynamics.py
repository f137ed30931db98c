"""The weekly dynamics seen from Python: calls into the compiled kernels (``sim.kernels``),
which hold the one implementation of the weekly rules and of their random numbers.

``start`` prepares week 0, ``step`` advances deals by one week and ``run`` to their end (the
same weeks). The engine calls them for a cohort of thousands of deals; the Mesa model for one
deal. Every random number is keyed by (seed, deal, week), so strategies, chunkings and workers
all see the same numbers for the same deal.
"""

from __future__ import annotations

import contextlib

import numba
import numpy as np

from sim import kernels
from sim.channels import source_table
from sim.kernels import ITEM_SLOTS, KERNEL_STATE_FIELDS, UNIFORMS_PER_STAKEHOLDER, BehaviourParams
from sim.scenario import Behaviour
from sim.state import DealState

DRAW_FLOAT = np.float32  # the weekly random numbers are single precision


def _python_overflow_quiet():
    """Plain-Python kernels (NUMBA_DISABLE_JIT=1) hash with wrapping uint64 scalars: no warnings."""
    return np.errstate(over="ignore") if numba.config.DISABLE_JIT else contextlib.nullcontext()


def state_arrays(state: DealState) -> tuple[np.ndarray, ...]:
    """The state arrays in the order the kernels take them."""
    return tuple(getattr(state, name) for name in KERNEL_STATE_FIELDS)


def start(state: DealState, behaviour: Behaviour, params: BehaviourParams | None = None) -> None:
    """The deals' information sources, week-0 opinions (own evidence only) and job readiness."""
    state.sources = source_table(state.vendor, behaviour)
    params = params or kernels.behaviour_params(behaviour)
    kernels.start_deals(np.arange(state.n_deals), params, state_arrays(state))


def step(
    arrays: tuple[np.ndarray, ...], params: BehaviourParams, seed: int, horizon: int, deals: np.ndarray
) -> None:
    """Advance the deals at rows ``deals`` of the state ``arrays`` by one week (all running)."""
    with _python_overflow_quiet():
        kernels.advance_week(deals, seed, horizon, params, arrays)


def run(
    arrays: tuple[np.ndarray, ...], params: BehaviourParams, seed: int, horizon: int, deals: np.ndarray
) -> None:
    """Run the deals at rows ``deals`` of the state ``arrays`` to their end."""
    with _python_overflow_quiet():
        kernels.run_deals(deals, seed, horizon, params, arrays)


def week_draws(
    seed: int, deal_ids: np.ndarray, week: int, stakeholders: int, cells: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The random numbers the kernels use for these deals in ``week``, laid out as arrays:
    uniforms (D,S,UNIFORMS_PER_STAKEHOLDER) (Gumbel focus, then item slots), normals
    (D,S,ITEM_SLOTS) and per-cell uniforms (D,2,C) (voicing, resolving). Used to feed the
    frozen numpy engine the same numbers in the equivalence tests."""
    n = len(deal_ids)
    uniforms = np.empty((n, stakeholders, UNIFORMS_PER_STAKEHOLDER), dtype=DRAW_FLOAT)
    normals = np.empty((n, stakeholders, ITEM_SLOTS), dtype=DRAW_FLOAT)
    per_cell = np.empty((n, 2, cells), dtype=DRAW_FLOAT)
    with _python_overflow_quiet():
        kernels.fill_week_draws(seed, np.asarray(deal_ids, dtype=np.int64), week, uniforms, normals, per_cell)
    return uniforms, normals, per_cell
