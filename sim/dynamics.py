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
from sim.kernels import KERNEL_STATE_FIELDS, BehaviourParams
from sim.scenario import Behaviour
from sim.state import DealState


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
