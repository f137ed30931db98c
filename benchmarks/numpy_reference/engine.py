"""A frozen copy of the numpy engine as it was before the compiled kernels (for reference only).

Used by the equivalence tests and by ``benchmarks/engine.py --compare``; nothing in ``sim/``
imports it. It merges the former ``sim/state.py``, ``sim/dynamics.py``, ``sim/outcomes.py`` and
``sim/engine.py`` unchanged except for three things: the working float type ``FLOAT`` can be
chosen when the module is loaded (see ``benchmarks.numpy_reference.load``), the weekly draws
are always float32 (``DRAW_FLOAT``) so both precisions see the same random numbers, and a
``draw_source`` may replace the per-block weekly streams (to feed it the numbers the compiled
engine draws per deal, ``sim.dynamics.week_draws``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from sim.network import influence_matrix, topology_library
from sim.scenario import JOB_NAMES, Behaviour, Scenario, ScenarioError
from sim.strategies import STRATEGY_FIELDS, strategy_table

DRAW_FLOAT = np.float32


# ---- formerly sim/state.py ------------------------------------------------------------

N_JOBS = 6
FLOAT = globals().get("REQUESTED_FLOAT", np.float32)  # set by load()
# Columns of DealState.hours: internal, third party, digital, total, then reps per option
# (column HOURS_REPS + o is option o's reps; option 0, the status quo, has none).
HOURS_INTERNAL, HOURS_THIRD_PARTY, HOURS_DIGITAL, HOURS_TOTAL, HOURS_REPS = range(5)
# Roles: executive sponsor, finance, IT, operations/users, procurement, legal/security.
# Priority profiles over five dimensions: capability, cost, risk, integration, vendor viability.
ROLE_PROFILES = np.array(
    [
        [0.35, 0.20, 0.15, 0.10, 0.20],
        [0.10, 0.50, 0.15, 0.05, 0.20],
        [0.25, 0.05, 0.20, 0.40, 0.10],
        [0.50, 0.10, 0.10, 0.20, 0.10],
        [0.10, 0.40, 0.20, 0.05, 0.25],
        [0.05, 0.10, 0.60, 0.05, 0.20],
    ]
)
ROLE_INFLUENCE = np.array([2.0, 1.3, 1.2, 1.0, 0.9, 1.1])
ROLE_STUBBORNNESS = np.array([1.0, 1.2, 1.1, 0.9, 1.0, 1.3])
ROLE_WEIGHTS = np.array([0.0, 0.18, 0.22, 0.32, 0.15, 0.13])  # slots after the sponsor
# How strongly each role is drawn to each job (rows: roles; columns: the six jobs).
ROLE_JOB_AFFINITY = np.array(
    [
        [1.6, 1.0, 0.8, 1.0, 0.8, 1.6],
        [0.8, 0.8, 1.2, 1.0, 1.5, 1.0],
        [0.8, 1.2, 1.5, 1.2, 1.0, 0.7],
        [1.2, 1.4, 1.3, 0.9, 0.8, 0.8],
        [0.7, 0.9, 1.0, 1.5, 1.3, 0.9],
        [0.7, 0.7, 1.0, 0.9, 1.6, 1.0],
    ]
)
# Item channels: 0 peers/internal, 1 third party, 2 vendor rep meeting, 3 vendor digital.
CHANNEL_INTERNAL, CHANNEL_THIRD_PARTY, CHANNEL_REP, CHANNEL_DIGITAL = 0, 1, 2, 3
# Items gathered before any vendor engages: peers, third parties, generic vendor web content.
INITIAL_CHANNEL_WEIGHTS = np.array([0.4, 0.3, 0.0, 0.3])
GENERIC_DIGITAL_QUALITY = 0.6
GENERIC_PERSUASION = 0.3


def role_profiles(n_dimensions: int) -> np.ndarray:
    """Role priority profiles resized to ``n_dimensions`` (rows sum to 1)."""
    profiles = np.resize(ROLE_PROFILES.T, (n_dimensions, len(ROLE_PROFILES))).T
    return profiles / profiles.sum(axis=1, keepdims=True)


# Fields with a stakeholder axis (axis 1), and with two (stakeholder x stakeholder).
STAKEHOLDER_FIELDS = (
    "member", "role", "priority0", "priority", "stubbornness", "influence", "capacity",
    "evidence_weight", "evidence_claims", "items_held", "attitude", "opinion", "load", "overload",
    "focus", "dissent", "dissent_job",
)  # fmt: skip
PAIR_FIELDS = ("adjacency", "weights")


@dataclass
class DealState:
    """Everything a deal carries from week to week. All arrays share the leading deal axis."""

    deal_id: np.ndarray  # (D,) global index of the deal in the run
    group_size: np.ndarray  # (D,)
    member: np.ndarray  # (D,S) bool
    role: np.ndarray  # (D,S) int
    priority0: np.ndarray  # (D,S,M) own priority weights (anchor)
    priority: np.ndarray  # (D,S,M) current priority weights
    stubbornness: np.ndarray  # (D,S)
    influence: np.ndarray  # (D,S)
    capacity: np.ndarray  # (D,S) items held without strain
    adjacency: np.ndarray  # (D,S,S) bool consensus network
    weights: np.ndarray  # (D,S,S) row-stochastic influence weights
    true_value: np.ndarray  # (D,O,M) hidden true performance
    conflict_level: np.ndarray  # (D,)
    information_volume: np.ndarray  # (D,)
    strategy_code: np.ndarray  # (D,) index of the focal strategy in the run's strategy list
    vendor: np.ndarray  # (D,O,F) strategy fields per option (row 0, status quo, is zeros)
    sources: np.ndarray  # (D,2+2K,8) properties of each information source (dynamics.source_table)
    evidence_weight: np.ndarray  # (D,S,C) credibility-weighted amount of evidence per cell
    evidence_claims: np.ndarray  # (D,S,C) credibility-weighted sum of claims per cell
    items_held: np.ndarray  # (D,S) items received so far
    shared_min: np.ndarray  # (D,C) lowest claim voiced in the group (inf if none)
    shared_max: np.ndarray  # (D,C) highest claim voiced in the group (-inf if none)
    contradicted: np.ndarray  # (D,C) bool: voiced claims on the cell contradict, unresolved
    attitude: np.ndarray  # (D,S,O) feeling toward each vendor (misaligned selling lowers it)
    opinion: np.ndarray  # (D,S,O) utility each stakeholder sees in each option
    load: np.ndarray  # (D,S) information load
    overload: np.ndarray  # (D,S) in [0,1]
    focus: np.ndarray  # (D,S) job each stakeholder works on
    completion: np.ndarray  # (D,J) in [0,1]
    done: np.ndarray  # (D,J) bool
    loops: np.ndarray  # (D,J) returns to the job after leaving it, plus reopenings once done
    last_worked: np.ndarray  # (D,J) last week the group worked on the job (-1: never)
    readiness: np.ndarray  # (D,J) what the group state supports for each job
    choice: np.ndarray  # (D,) option the group leans to (1..K)
    exhaustion: np.ndarray  # (D,)
    week: np.ndarray  # (D,) weeks elapsed
    finished: np.ndarray  # (D,) bool
    end_reason: np.ndarray  # (D,) 0 running, 1 purchase, 2 horizon, 3 exhausted
    contradictions_met: np.ndarray  # (D,) contradictions that ever surfaced
    unresolved: np.ndarray  # (D,) unresolved contradictions now
    peak_overload: np.ndarray  # (D,) peak of the group's mean overload
    hours: np.ndarray  # (D,4+O) hours per channel (columns HOURS_*)
    focal_meetings: np.ndarray  # (D,)
    misalignment_total: np.ndarray  # (D,) seller-ahead stages summed over focal meetings
    supplier_items: np.ndarray  # (D,)
    helpful_items: np.ndarray  # (D,)
    acceptance: np.ndarray  # (D,) weighted acceptance of the choice
    dissent: np.ndarray  # (D,S) bool: members who do not accept the group's choice
    dissent_job: np.ndarray  # (D,S) job a dissenter re-argues (-1 for members who accept)

    @property
    def n_deals(self) -> int:
        return len(self.deal_id)

    def take(self, index: np.ndarray) -> DealState:
        """The sub-state of the deals at ``index`` (used to drop finished deals)."""
        return DealState(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def narrow(self, size: int) -> DealState:
        """The same deals with only the first ``size`` stakeholder slots (all deals must have
        groups of at most ``size``): the engine runs each group size without padding."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in STAKEHOLDER_FIELDS:
            values[name] = np.ascontiguousarray(values[name][:, :size])
        for name in PAIR_FIELDS:
            values[name] = np.ascontiguousarray(values[name][:, :size, :size])
        return DealState(**values)


def _choose(rng: np.random.Generator, weights: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    cumulative = np.cumsum(weights / weights.sum())
    return np.minimum(np.searchsorted(cumulative, rng.random(shape), side="right"), len(weights) - 1)


def draw_range(rng: np.random.Generator, low: float, high: float, n: int) -> np.ndarray:
    """Uniform draws in [low, high]; always consumes n draws so streams stay aligned."""
    return low + (high - low) * rng.random(n)


def new_customers(
    scenario: Scenario, n: int, rng: np.random.Generator, graph_seed: int
) -> dict[str, np.ndarray]:
    """Draw n customers: group, roles, priorities, true values, network and initial items.

    Everything here comes from the customer stream only, so every strategy meets the same
    customers (common random numbers).
    """
    pop, sim = scenario.population, scenario.simulation
    S, O, M = max(pop.group_sizes), sim.n_options + 1, sim.n_dimensions
    sizes = np.asarray(pop.group_sizes)[_choose(rng, np.asarray(pop.group_size_weights), (n,))]
    conflict = draw_range(rng, pop.conflict_level.low, pop.conflict_level.high, n)
    volume = draw_range(rng, pop.information_volume.low, pop.information_volume.high, n)
    need = draw_range(rng, pop.need_for_change.low, pop.need_for_change.high, n)
    member = np.arange(S)[None, :] < sizes[:, None]

    role = _choose(rng, ROLE_WEIGHTS, (n, S))
    role[:, 0] = 0
    profiles = role_profiles(M)[role]
    noise = rng.exponential(size=(n, S, M)) / M
    c = conflict[:, None, None]
    priority = (1 - c) / M + c * (profiles + noise)
    priority /= priority.sum(axis=2, keepdims=True)

    spread = rng.random((n, S, 3))
    behaviour = scenario.behaviour
    stubbornness = np.clip(
        behaviour.stubbornness * ROLE_STUBBORNNESS[role] * (0.75 + 0.5 * spread[..., 0]), 0.02, 0.98
    )
    influence = ROLE_INFLUENCE[role] * (0.7 + 0.6 * spread[..., 1])
    capacity = behaviour.capacity * (0.7 + 0.6 * spread[..., 2])

    true_value = rng.standard_normal((n, O, M))
    # The status quo: average on every dimension when there is no need for change, worse as
    # the need grows (need 0.5 puts it half a standard deviation below a typical solution).
    true_value[:, 0, :] = 0.5 * true_value[:, 0, :] + 0.5 - 1.2 * need[:, None]

    library = topology_library(pop.network, S, graph_seed)
    graph_index = rng.integers(0, library.shape[1], n)
    adjacency = library[sizes, graph_index]
    trust = rng.uniform(0.3, 1.0, (n, S, S))
    trust = (trust + trust.transpose(0, 2, 1)) / 2
    weights = influence_matrix(adjacency, trust, influence, member)

    # Initial items: 4-5 per stakeholder, gathered independently before vendors engage.
    low, high = pop.initial_items
    n_items = rng.integers(low, high + 1, (n, S)) * member
    channel = _choose(rng, INITIAL_CHANNEL_WEIGHTS, (n, S, high))
    option = rng.integers(0, O, (n, S, high))
    dimension = rng.integers(0, M, (n, S, high))
    normal = rng.standard_normal((n, S, high))
    vendor_item = channel == CHANNEL_DIGITAL
    option = np.where(vendor_item & (option == 0), 1 + dimension % max(O - 1, 1), option)
    noise_sd = behaviour.item_noise * np.select(
        [channel == CHANNEL_INTERNAL, channel == CHANNEL_THIRD_PARTY],
        [behaviour.noise_internal, behaviour.noise_third_party],
        1.5 - GENERIC_DIGITAL_QUALITY,
    )
    credibility = np.select(
        [channel == CHANNEL_INTERNAL, channel == CHANNEL_THIRD_PARTY],
        [behaviour.credibility_internal, behaviour.credibility_third_party],
        0.4 + 0.5 * GENERIC_DIGITAL_QUALITY,
    )
    deal_index = np.arange(n)[:, None, None]
    claim = (
        true_value[deal_index, option, dimension] + vendor_item * GENERIC_PERSUASION * 0.5 + noise_sd * normal
    )
    held = np.arange(high)[None, None, :] < n_items[:, :, None]
    cell = option * M + dimension
    one_hot = (cell[..., None] == np.arange(O * M)) & held[..., None]
    evidence_weight = (one_hot * credibility[..., None]).sum(axis=2)
    evidence_claims = (one_hot * (credibility * claim)[..., None]).sum(axis=2)
    return {
        "group_size": sizes,
        "member": member,
        "role": role,
        "priority0": priority,
        "priority": priority.copy(),
        "stubbornness": stubbornness,
        "influence": influence * member,
        "capacity": capacity,
        "adjacency": adjacency,
        "weights": weights,
        "true_value": true_value,
        "conflict_level": conflict,
        "information_volume": volume,
        "evidence_weight": evidence_weight,
        "evidence_claims": evidence_claims,
        "items_held": n_items.astype(float),
    }


def initial_state(
    customers: dict[str, np.ndarray],
    vendor: np.ndarray,
    strategy_code: np.ndarray,
    deal_id: np.ndarray,
) -> DealState:
    """Assemble week-0 state from drawn customers and the vendors' strategies (D,O,F)."""
    n, S = customers["member"].shape
    O, M = customers["true_value"].shape[1:]
    C = O * M
    zeros = np.zeros(n)
    state = DealState(
        deal_id=deal_id,
        strategy_code=strategy_code,
        vendor=vendor,
        sources=np.zeros((n, 2 * O, 8), dtype=FLOAT),  # filled by dynamics.start
        shared_min=np.full((n, C), np.inf),
        shared_max=np.full((n, C), -np.inf),
        contradicted=np.zeros((n, C), dtype=bool),
        attitude=np.zeros((n, S, O)),
        opinion=np.zeros((n, S, O)),
        load=customers["items_held"].copy(),
        overload=np.zeros((n, S)),
        focus=np.zeros((n, S), dtype=np.int64),
        completion=np.zeros((n, N_JOBS)),
        done=np.zeros((n, N_JOBS), dtype=bool),
        loops=np.zeros((n, N_JOBS), dtype=np.int64),
        last_worked=np.full((n, N_JOBS), -1, dtype=np.int64),
        readiness=np.zeros((n, N_JOBS)),
        choice=np.ones(n, dtype=np.int64),
        exhaustion=zeros.copy(),
        week=np.zeros(n, dtype=np.int64),
        finished=np.zeros(n, dtype=bool),
        end_reason=np.zeros(n, dtype=np.int64),
        contradictions_met=zeros.copy(),
        unresolved=zeros.copy(),
        peak_overload=zeros.copy(),
        hours=np.zeros((n, 4 + O)),
        focal_meetings=zeros.copy(),
        misalignment_total=zeros.copy(),
        supplier_items=zeros.copy(),
        helpful_items=zeros.copy(),
        acceptance=zeros.copy(),
        dissent=np.zeros((n, S), dtype=bool),
        dissent_job=np.full((n, S), -1, dtype=np.int64),
        **customers,
    )
    for f in fields(state):  # single precision halves memory traffic; results stay seeded
        value = getattr(state, f.name)
        if value.dtype == np.float64:
            setattr(state, f.name, value.astype(FLOAT))
    return state


def vendor_array(table: np.ndarray, focal: np.ndarray, competitor: int, n_options: int) -> np.ndarray:
    """Strategy fields per deal and option (D,O,F): option 1 gets the deal's focal strategy,
    options 2.. the competitor strategy, the status quo nothing."""
    vendor = np.zeros((len(focal), n_options + 1, len(STRATEGY_FIELDS)), dtype=FLOAT)
    vendor[:, 1] = table[focal]
    vendor[:, 2:] = table[competitor]
    return vendor


# ---- formerly sim/dynamics.py ------------------------------------------------------------

FIELD = {name: index for index, name in enumerate(STRATEGY_FIELDS)}
PROBLEM_IDENTIFICATION, SUPPLIER_SELECTION = 0, 3
# Time with suppliers depends on the job in focus: little while defining the problem,
# most while selecting and validating suppliers.
SUPPLIER_FOCUS_FACTOR = np.array([0.5, 1.0, 0.8, 1.6, 1.4, 0.8])
# How far a new contradiction sets each job back (times contradiction_shock): it puts the
# chosen supplier and its validation in doubt most, and reopens exploration and requirements.
CONTRADICTION_REACH = np.array([0.0, 0.5, 0.5, 1.0, 1.0, 0.5], dtype=FLOAT)
# Which jobs a change of the group's preferred supplier sets back (times choice_change_shock).
CHOICE_CHANGE_REACH = np.array([0.0, 0.0, 0.5, 1.0, 1.0, 1.0], dtype=FLOAT)
SLOT_FIELDS = 7  # exists, channel, option, dimension, aligned, group-level, tailored
ITEM_SLOTS = 2  # at most two new items per stakeholder-week
END_RUNNING, END_PURCHASE, END_HORIZON, END_EXHAUSTED = 0, 1, 2, 3


@dataclass
class WeeklyDraws:
    """One week of random numbers for a set of deals (fixed shapes, independent of strategy)."""

    focus: np.ndarray  # (D,S,J) uniforms for the Gumbel choice of job
    slots: np.ndarray  # (D,S,ITEM_SLOTS,SLOT_FIELDS) uniforms for new items
    noise: np.ndarray  # (D,S,ITEM_SLOTS) standard normals for item claims
    voice: np.ndarray  # (D,C) uniforms for voicing each cell
    resolve: np.ndarray  # (D,C) uniforms for resolving each contradiction

    @classmethod
    def draw(cls, rng: np.random.Generator, n: int, stakeholders: int, cells: int) -> WeeklyDraws:
        uniform = rng.random((n, stakeholders, N_JOBS + ITEM_SLOTS * SLOT_FIELDS), dtype=DRAW_FLOAT)
        noise = rng.standard_normal((n, stakeholders, ITEM_SLOTS), dtype=DRAW_FLOAT)
        per_cell = rng.random((n, 2, cells), dtype=DRAW_FLOAT)
        return cls(
            focus=uniform[..., :N_JOBS],
            slots=uniform[..., N_JOBS:].reshape(n, stakeholders, ITEM_SLOTS, SLOT_FIELDS),
            noise=noise,
            voice=per_cell[:, 0],
            resolve=per_cell[:, 1],
        )

    def narrow(self, size: int) -> WeeklyDraws:
        """Only the first ``size`` stakeholder slots (see DealState.narrow)."""
        return WeeklyDraws(
            self.focus[:, :size], self.slots[:, :size], self.noise[:, :size], self.voice, self.resolve
        )

    def take(self, index: np.ndarray) -> WeeklyDraws:
        return WeeklyDraws(
            self.focus[index],
            self.slots[index],
            self.noise[index],
            self.voice[index],
            self.resolve[index],
        )

    @classmethod
    def concat(cls, parts: list[WeeklyDraws]) -> WeeklyDraws:
        if len(parts) == 1:
            return parts[0]
        return cls(
            *(
                np.concatenate([getattr(p, f) for p in parts])
                for f in ("focus", "slots", "noise", "voice", "resolve")
            )
        )


def _last_sum(values: np.ndarray) -> np.ndarray:
    """Sum over a short last axis as a matrix product (a strided reduce is much slower)."""
    return values @ np.ones(values.shape[-1], dtype=values.dtype)


def _last_max(values: np.ndarray) -> np.ndarray:
    """Maximum over a short last axis, slice by slice."""
    result = values[..., 0].copy()
    for index in range(1, values.shape[-1]):
        np.maximum(result, values[..., index], out=result)
    return result


def _last_argmax(values: np.ndarray) -> np.ndarray:
    """First index of the maximum over a short last axis, slice by slice (same as argmax)."""
    best = values[..., 0].copy()
    index = np.zeros(best.shape, dtype=np.int64)
    for position in range(1, values.shape[-1]):
        better = values[..., position] > best
        np.copyto(best, values[..., position], where=better)
        index[better] = position
    return index


def _flat(array: np.ndarray) -> np.ndarray:
    """A flat view for scattered in-place updates (the array must be C-contiguous)."""
    if not array.flags.c_contiguous:
        raise ValueError("state array is not contiguous; a flat view would be a copy")
    return array.reshape(-1)


def _reduce_members(ufunc: np.ufunc, values: np.ndarray) -> np.ndarray:
    """Reduce (D,S,X) over the stakeholder axis slice by slice (faster than a strided reduce)."""
    result = values[:, 0].copy()
    for index in range(1, values.shape[1]):
        ufunc(result, values[:, index], out=result)
    return result


def _sum_members(values: np.ndarray, member_row: np.ndarray) -> np.ndarray:
    """Sum of (D,S,X) over members, as a matrix product (much faster than a strided sum)."""
    return (member_row @ values)[:, 0]


def cell_beliefs(state: DealState, behaviour: Behaviour) -> np.ndarray:
    """Each stakeholder's belief about each option on each dimension (D,S,O,M): the
    credibility-weighted mean of its claims, shrunk toward a neutral prior."""
    value = state.evidence_claims / (state.evidence_weight + behaviour.prior_weight)
    return value.reshape(*value.shape[:2], -1, state.priority.shape[2])


def own_utility(state: DealState, behaviour: Behaviour) -> np.ndarray:
    """What each stakeholder's own evidence says each option is worth to them (D,S,O)."""
    return np.einsum("dsom,dsm->dso", cell_beliefs(state, behaviour), state.priority) + state.attitude


def update_beliefs(state: DealState, behaviour: Behaviour, requirements_effort: np.ndarray) -> None:
    """Friedkin-Johnsen update with bounded confidence, for option opinions and priorities.

    Each stakeholder anchors on what its own evidence says (weight = stubbornness) and takes
    the rest from the neighbours whose opinions are within the confidence bound.
    """
    own = own_utility(state, behaviour)
    opinion = state.opinion
    n_options = opinion.shape[2]
    # Squared RMS distance between opinion vectors, via |x|^2 + |y|^2 - 2 x.y (one matmul).
    squares = _last_sum(opinion * opinion)
    distance2 = squares[:, :, None] + squares[:, None, :] - 2 * (opinion @ opinion.transpose(0, 2, 1))
    listen = state.weights * (distance2 <= FLOAT(n_options * behaviour.confidence_bound**2))
    listen /= _last_sum(listen)[..., None]
    stubbornness = state.stubbornness[..., None]
    state.opinion = stubbornness * own + (1 - stubbornness) * (listen @ opinion)

    mixing = np.minimum(1.0, behaviour.priority_mixing * (1 + 2 * requirements_effort))
    neighbours = state.weights @ state.priority
    priority = state.priority + mixing[:, None, None] * (neighbours - state.priority)
    priority += 0.1 * stubbornness * (state.priority0 - priority)
    state.priority = priority / _last_sum(priority)[..., None]


def start(state: DealState, behaviour: Behaviour) -> None:
    """Week-0 opinions (own evidence only), job readiness and the deal's information sources."""
    state.sources = source_table(state.vendor, behaviour)
    state.opinion = own_utility(state, behaviour)
    job_readiness(state, behaviour)


def job_readiness(state: DealState, behaviour: Behaviour) -> None:
    """What the group's state supports for each job (D,J), the choice and the acceptance."""
    D, S, M = state.priority.shape
    O = state.true_value.shape[1]
    member = state.member
    member_row = member[:, None, :].astype(FLOAT)
    n_members = member.sum(axis=1)
    influence = state.influence
    total_influence = influence.sum(axis=1)
    opinion = state.opinion

    best_solution = _last_max(opinion[:, :, 1:])
    need = (influence * (best_solution - opinion[:, :, 0] > behaviour.need_margin)).sum(1)

    group_evidence = _sum_members(state.evidence_weight, member_row).reshape(D, O, M)
    coverage = np.minimum(1.0, group_evidence[:, 1:] / behaviour.coverage_weight).mean(axis=(1, 2))

    mean_priority = _sum_members(state.priority, member_row) / n_members[:, None]
    spread = _last_sum(np.abs(state.priority - mean_priority[:, None]))
    disagreement = (spread * member).sum(axis=1) / n_members
    requirements = np.clip(1 - behaviour.priority_disagreement_scale * disagreement, 0, 1)

    preferred = _last_argmax(opinion[:, :, 1:]) + 1
    votes = np.stack([(influence * (preferred == o)).sum(1) for o in range(1, O)], axis=1)
    choice = votes.argmax(axis=1) + 1
    agreement = (influence * (preferred == choice[:, None])).sum(1)

    deals = np.arange(D)
    evidence_per_option = _last_sum(state.evidence_weight.reshape(D, S, O, M))  # (D,S,O)
    evidence_on_choice = evidence_per_option[deals, :, choice]
    confidence = (np.minimum(1.0, evidence_on_choice / behaviour.confidence_weight) * member).sum(
        axis=1
    ) / n_members
    validation = confidence / (1 + state.unresolved / behaviour.contradiction_tolerance)

    opinion_of_choice = opinion[deals[:, None], np.arange(S)[None, :], choice[:, None]]
    accepts = (opinion_of_choice >= opinion[:, :, 0] + behaviour.acceptance_margin) & (
        opinion_of_choice >= best_solution - behaviour.preference_tolerance
    )
    acceptance = (influence * accepts).sum(1) / total_influence
    veto = (member & (opinion_of_choice < opinion[:, :, 0] - behaviour.veto_margin)).any(axis=1)

    state.readiness = np.stack(
        [
            need / total_influence,
            coverage,
            requirements,
            agreement / total_influence,
            validation,
            acceptance * np.where(veto, 0.5, 1.0),
        ],
        axis=1,
    ).astype(FLOAT)
    state.choice = choice
    state.acceptance = acceptance.astype(FLOAT)
    state.dissent = member & ~accepts
    # Where each dissenter pushes back: on the need for change if no solution beats the status
    # quo for them, otherwise on the choice of supplier.
    wants_status_quo = best_solution - opinion[:, :, 0] <= behaviour.need_margin
    state.dissent_job = np.where(
        state.dissent, np.where(wants_status_quo, PROBLEM_IDENTIFICATION, SUPPLIER_SELECTION), -1
    )


# Columns of the per-deal source table used to look up an item's properties by its source.
SRC_OPTION, SRC_CHANNEL, SRC_ALIGNMENT, SRC_GROUP, SRC_TAILORING, SRC_CREDIBILITY, SRC_NOISE, SRC_BIAS = (
    range(8)
)


def source_table(vendor: np.ndarray, behaviour: Behaviour) -> np.ndarray:
    """Properties of each information source per deal (D, 2 + 2K, 8).

    Sources: 0 peers/internal, 1 third party, 2..K+1 each vendor's reps, K+2..2K+1 each
    vendor's digital content. Reps speak with persuasion as bias; digital content with half.
    """
    b = behaviour
    D, O, _ = vendor.shape
    K = O - 1
    table = np.zeros((D, 2 + 2 * K, 8), dtype=FLOAT)
    table[:, 0, SRC_CHANNEL] = CHANNEL_INTERNAL
    table[:, 0, SRC_CREDIBILITY] = b.credibility_internal
    table[:, 0, SRC_NOISE] = b.item_noise * b.noise_internal
    table[:, 1, SRC_CHANNEL] = CHANNEL_THIRD_PARTY
    table[:, 1, SRC_CREDIBILITY] = b.credibility_third_party
    table[:, 1, SRC_NOISE] = b.item_noise * b.noise_third_party
    strategy = vendor[:, 1:]
    options = np.arange(1, O, dtype=FLOAT)
    for first, channel in ((2, CHANNEL_REP), (2 + K, CHANNEL_DIGITAL)):
        rows = table[:, first : first + K]
        rows[..., SRC_OPTION] = options
        rows[..., SRC_CHANNEL] = channel
        rows[..., SRC_ALIGNMENT] = strategy[..., FIELD["stage_alignment"]]
        rows[..., SRC_GROUP] = strategy[..., FIELD["group_level"]]
        rows[..., SRC_TAILORING] = strategy[..., FIELD["tailoring"]]
        quality = strategy[..., FIELD["digital_quality"]]
        persuasion = strategy[..., FIELD["persuasion"]]
        if channel == CHANNEL_REP:
            rows[..., SRC_CREDIBILITY] = b.credibility_rep
            rows[..., SRC_NOISE] = b.item_noise * b.noise_rep
            rows[..., SRC_BIAS] = persuasion
        else:
            rows[..., SRC_CREDIBILITY] = 0.4 + 0.5 * quality
            rows[..., SRC_NOISE] = b.item_noise * (1.5 - quality)
            rows[..., SRC_BIAS] = 0.5 * persuasion
    return table


def _deliver_items(
    state: DealState, behaviour: Behaviour, draws: WeeklyDraws, stage: np.ndarray
) -> np.ndarray:
    """Each stakeholder gathers up to two items through the channels its time goes to.

    Returns new items per stakeholder (D,S) and helpful supplier items per deal (D,). Updates
    time accounting, evidence, the shared pool (group-level items are voiced at once),
    helpfulness, misalignment and attitudes.
    """
    b = behaviour
    D, S, M = state.priority.shape
    O = state.true_value.shape[1]
    K = O - 1
    member = state.member
    vendor = state.vendor

    # Time shares per stakeholder: peers, third parties, self-serve digital, each vendor's reps.
    meeting = vendor[:, 1:, FIELD["meeting_time"]]
    digital_volume = vendor[:, 1:, FIELD["digital_volume"]]
    rep_weight = (
        (b.base_share_suppliers / K) * meeting[:, None, :] * (SUPPLIER_FOCUS_FACTOR[state.focus][..., None])
    )
    digital_weight = b.base_share_digital * np.sqrt(digital_volume.mean(axis=1))
    total_weight = (
        b.base_share_internal + b.base_share_third_party + digital_weight[:, None] + rep_weight.sum(2)
    )
    hours = b.hours_per_week * member / total_weight
    hours_total = hours.sum(axis=1)
    state.hours[:, HOURS_INTERNAL] += hours_total * b.base_share_internal
    state.hours[:, HOURS_THIRD_PARTY] += hours_total * b.base_share_third_party
    state.hours[:, HOURS_DIGITAL] += hours_total * digital_weight
    state.hours[:, HOURS_TOTAL] += b.hours_per_week * member.sum(1)
    state.hours[:, HOURS_REPS + 1 :] += (hours[:, None, :] @ rep_weight)[:, 0]

    # Item sources: weight of each channel = its time share times its yield of items.
    digital_items = (b.digital_yield / K) * digital_weight[:, None] * digital_volume  # (D,K)
    sources = np.concatenate(
        [
            np.broadcast_to(np.array([b.base_share_internal, b.base_share_third_party], FLOAT), (D, S, 2)),
            rep_weight,
            np.broadcast_to(digital_items[:, None, :], (D, S, K)),
        ],
        axis=2,
    )
    cumulative = np.cumsum(sources, axis=2)
    source_total = cumulative[..., -1]
    slot_probability = np.clip(
        b.items_per_week * state.information_volume[:, None] * source_total / (total_weight * ITEM_SLOTS),
        0,
        1,
    )
    table = state.sources.reshape(D * (2 + 2 * K), 8)

    n_sources = 2 + 2 * K
    top_dimension = state.priority.argmax(axis=2).reshape(-1)
    true_flat = state.true_value.reshape(-1)
    cumulative = cumulative.reshape(D * S, n_sources)
    source_total = source_total.reshape(-1)
    open_slot = member[..., None] & (draws.slots[..., 0] < slot_probability[..., None])
    weight_flat, claims_flat = _flat(state.evidence_weight), _flat(state.evidence_claims)
    attitude_flat = _flat(state.attitude)
    new_items = np.zeros(D * S, dtype=FLOAT)
    helpful_now = np.zeros(D, dtype=FLOAT)
    for slot in range(ITEM_SLOTS):
        # Work on the items that exist only: index = deal * S + stakeholder.
        index = np.flatnonzero(open_slot[..., slot])
        deal = index // S
        u = draws.slots[:, :, slot].reshape(D * S, SLOT_FIELDS)[index]
        source = (u[:, 1, None] * source_total[index, None] > cumulative[index]).sum(axis=1)
        item = table[deal * n_sources + np.minimum(source, n_sources - 1)]  # (n, 8)
        channel = item[:, SRC_CHANNEL]
        is_vendor = channel >= CHANNEL_REP
        is_rep = channel == CHANNEL_REP
        vendor_option = item[:, SRC_OPTION].astype(np.int64)
        aligned = u[:, 4] < item[:, SRC_ALIGNMENT]  # always False for non-vendor sources
        group_level = u[:, 5] < item[:, SRC_GROUP]
        tailored = u[:, 6] < item[:, SRC_TAILORING]

        # Aligned vendor content meets the group's job: while the problem is still being
        # identified it speaks about the cost of the status quo, otherwise about its own option.
        item_stage = stage[deal]
        about_status_quo = aligned & (item_stage == 0)
        random_option = np.minimum((u[:, 2] * O).astype(np.int64), O - 1)
        option = np.where(is_vendor, np.where(about_status_quo, 0, vendor_option), random_option)
        random_dimension = np.minimum((u[:, 3] * M).astype(np.int64), M - 1)
        dimension = np.where(tailored, top_dimension[index], random_dimension)
        cell = option * M + dimension
        bias = np.where(about_status_quo, -item[:, SRC_BIAS], item[:, SRC_BIAS])
        noise = draws.noise[:, :, slot].reshape(-1)[index]
        claim = true_flat[deal * (O * M) + cell] + bias + item[:, SRC_NOISE] * noise

        # A rep who runs ahead of the group's job: seller-led pushes to supplier selection.
        stages_ahead = (is_rep & ~aligned) * np.maximum(0, SUPPLIER_SELECTION - item_stage)
        credibility = item[:, SRC_CREDIBILITY] * np.where(stages_ahead > 0, FLOAT(0.5), FLOAT(1))
        attitude_flat[index * O + vendor_option] -= FLOAT(b.misalignment_penalty) * stages_ahead
        focal_meeting = is_rep & (vendor_option == 1)
        state.focal_meetings += np.bincount(deal, focal_meeting, minlength=D).astype(FLOAT)
        state.misalignment_total += np.bincount(deal, stages_ahead * focal_meeting, minlength=D).astype(FLOAT)

        pool_index = deal * (O * M) + cell
        low, high = state.shared_min.reshape(-1)[pool_index], state.shared_max.reshape(-1)[pool_index]
        conflicts = (claim - low > b.contradiction_gap) | (high - claim > b.contradiction_gap)
        state.supplier_items += np.bincount(deal, is_vendor, minlength=D).astype(FLOAT)
        helpful = np.bincount(deal, is_vendor & aligned & ~conflicts, minlength=D).astype(FLOAT)
        state.helpful_items += helpful
        helpful_now += helpful

        private = ~group_level
        target = index[private] * (O * M) + cell[private]
        weight_flat[target] += credibility[private]
        claims_flat[target] += credibility[private] * claim[private]
        new_items[index[private]] += 1

        if group_level.any():
            d, c = deal[group_level], cell[group_level]
            to_all = member[d].astype(FLOAT)
            people = np.arange(S)[None, :]
            np.add.at(
                state.evidence_weight,
                (d[:, None], people, c[:, None]),
                to_all * credibility[group_level, None],
            )
            np.add.at(
                state.evidence_claims,
                (d[:, None], people, c[:, None]),
                to_all * (credibility * claim)[group_level, None],
            )
            np.minimum.at(state.shared_min, (d, c), claim[group_level])
            np.maximum.at(state.shared_max, (d, c), claim[group_level])
            new_items += (np.bincount(d, minlength=D)[:, None] * member).reshape(-1)
    new_items = new_items.reshape(D, S)
    state.items_held += new_items
    return new_items, helpful_now


def _share_and_deconflict(
    state: DealState, behaviour: Behaviour, draws: WeeklyDraws, validation_effort: np.ndarray
) -> np.ndarray:
    """Voicing (hidden-profile bias), new contradictions, and their resolution.

    Returns the number of new contradictions per deal (D,).
    """
    b = behaviour
    D, S, C = state.evidence_weight.shape
    member = state.member
    member_row = member[:, None, :].astype(FLOAT)
    vendor = state.vendor
    weight, claims = state.evidence_weight, state.evidence_claims

    holds = weight > 0  # non-members never hold evidence
    holders = _sum_members(holds.astype(FLOAT), member_row)
    voice = 1 - (1 - b.voice_probability) ** holders
    surface = 1 - np.prod(1 - vendor[:, 1:, FIELD["surface_unshared"]], axis=1)
    voice = np.where(holders == 1, voice + surface[:, None] * (1 - voice), voice)
    voiced = (draws.voice < voice) & (holders > 0)

    with np.errstate(invalid="ignore", divide="ignore"):
        mean_claim = claims / weight  # NaN where a stakeholder holds nothing on the cell
    lowest = _reduce_members(np.fmin, mean_claim)
    highest = _reduce_members(np.fmax, mean_claim)
    state.shared_min = np.where(voiced, np.fmin(state.shared_min, lowest), state.shared_min)
    state.shared_max = np.where(voiced, np.fmax(state.shared_max, highest), state.shared_max)

    # Listeners take up part of what their neighbours know about the voiced cells.
    # (Non-members listen only to themselves, so they gain nothing.)
    heard_weight = state.weights @ weight
    heard_claims = state.weights @ claims
    heard_claims /= np.maximum(heard_weight, FLOAT(1e-12))  # the neighbours' mean claim
    gain = np.subtract(heard_weight, weight, out=heard_weight)
    np.maximum(gain, FLOAT(0), out=gain)
    gain *= (voiced * FLOAT(b.voice_mixing))[:, None, :]
    heard_claims *= gain
    claims += heard_claims
    weight += gain

    contradicted = (state.shared_max - state.shared_min) > b.contradiction_gap
    by_vendor_p = 1 - np.prod(1 - vendor[:, 1:, FIELD["resolve_contradictions"]], axis=1)
    by_group_p = b.self_resolve_rate * np.minimum(1.0, 3 * validation_effort)
    either_p = by_vendor_p + by_group_p * (1 - by_vendor_p)
    by_vendor = contradicted & (draws.resolve < by_vendor_p[:, None])
    by_group = contradicted & ~by_vendor & (draws.resolve < either_p[:, None])
    resolved = by_vendor | by_group
    rows = np.nonzero(resolved.any(axis=1))[0]
    if len(rows):
        # A vendor that deconflicts brings the authoritative answer (the true value); a group
        # that deconflicts alone settles on its pooled belief, right or wrong.
        row_weight, row_claims, row_member = weight[rows], claims[rows], member_row[rows]
        pooled = _sum_members(row_claims, row_member) / np.maximum(
            _sum_members(row_weight, row_member), FLOAT(1e-9)
        )
        answer = np.where(by_vendor[rows], state.true_value.reshape(D, C)[rows], pooled)
        row_resolved = resolved[rows]
        state.shared_min[rows] = np.where(row_resolved, answer, state.shared_min[rows])
        state.shared_max[rows] = np.where(row_resolved, answer, state.shared_max[rows])
        added = (row_resolved[:, None, :] & member[rows][..., None]).astype(FLOAT)
        added *= FLOAT(b.credibility_authority)
        weight[rows] = row_weight + added
        claims[rows] = row_claims + added * answer[:, None, :]
        state.supplier_items += by_vendor.sum(1)
        state.helpful_items += by_vendor.sum(1)
        contradicted &= ~resolved
    new = (contradicted & ~state.contradicted).sum(axis=1)
    state.contradicted = contradicted
    state.contradictions_met += new
    state.unresolved = contradicted.sum(axis=1).astype(FLOAT)
    return new


def _progress(
    state: DealState, behaviour: Behaviour, effort: np.ndarray, new_contradictions: np.ndarray
) -> np.ndarray:
    """Move each job's completion toward readiness; count reopened jobs (looping, part 2).

    Returns the number of jobs reopened this week per deal (D,)."""
    b = behaviour
    previous_choice = state.choice
    job_readiness(state, b)
    gap = state.readiness - state.completion
    working = np.minimum(1.0, 3 * effort)
    completion = state.completion + np.where(gap > 0, b.progress_rate * working, b.fall_rate) * gap
    completion -= (b.contradiction_shock * new_contradictions)[:, None] * CONTRADICTION_REACH
    # A switch of the preferred supplier puts selection, validation and consensus back in question.
    switched = (state.choice != previous_choice).astype(FLOAT)
    completion -= (FLOAT(b.choice_change_shock) * switched)[:, None] * CHOICE_CHANGE_REACH
    # Dissenters reopen the job they work on: looping driven by people who are not on board.
    dissent_share = np.stack(
        [(state.influence * state.dissent * (state.focus == job)).sum(1) for job in range(N_JOBS)], axis=1
    ) / state.influence.sum(axis=1, keepdims=True)
    completion -= FLOAT(b.dissent_pull) * dissent_share
    completion = np.clip(completion, 0, 1).astype(FLOAT)
    reopened = state.done & (completion < b.reopen_threshold)
    state.loops += reopened
    state.done = (state.done & ~reopened) | (completion >= b.done_threshold)
    state.completion = completion
    return reopened.sum(axis=1)


def step(state: DealState, behaviour: Behaviour, draws: WeeklyDraws, horizon: int) -> None:
    """Advance every deal in ``state`` by one week (deals already finished must be removed)."""
    b = behaviour
    member = state.member
    n_members = member.sum(axis=1)

    # 1. Focus: each stakeholder works on the job that looks most unfinished to it.
    unfinished = 1 - state.completion
    affinity = ROLE_JOB_AFFINITY[state.role]
    gumbel = -np.log(-np.log(np.clip(draws.focus, 1e-7, 1 - 1e-7)))
    state.focus = _last_argmax(unfinished[:, None, :] * affinity / b.focus_temperature + gumbel)
    # Dissenters spend their week re-arguing the job their disagreement is about (looping).
    state.focus = np.where(state.dissent_job >= 0, state.dissent_job, state.focus)
    capacity_left = member * (1 - state.overload)
    effort = (
        np.stack([(capacity_left * (state.focus == job)).sum(1) for job in range(N_JOBS)], axis=1)
        / n_members[:, None]
    )
    # Looping, part 1: the group returns to a job it worked on and then left for a while.
    attention = np.stack([(member * (state.focus == job)).sum(1) for job in range(N_JOBS)], axis=1)
    worked = attention >= b.attention_share * n_members[:, None]
    returned = worked & (state.last_worked >= 0) & (state.week[:, None] - state.last_worked > b.revisit_gap)
    state.loops += returned
    state.last_worked = np.where(worked, state.week[:, None], state.last_worked)
    effort[:, 4:] += b.always_on_effort
    stage = np.argmin(state.done, axis=1)  # earliest job not done

    # 2. Information through channels; 3. sharing, contradictions and deconfliction.
    state.attitude *= FLOAT(b.attitude_memory)
    new_items, helpful_now = _deliver_items(state, b, draws, stage)
    # Buyer enablement: helpful supplier information speeds up the job the group is on.
    effort[np.arange(len(stage)), stage] += b.enablement_gain * helpful_now / n_members
    new_contradictions = _share_and_deconflict(state, b, draws, effort[:, 4])
    prune = 1 - np.prod(1 - state.vendor[:, 1:, FIELD["prune_overload"]], axis=1)

    # 4. Beliefs; 5. progress of the six jobs (and reopening).
    update_beliefs(state, b, effort[:, 2])
    new_loops = _progress(state, b, effort, new_contradictions) + returned.sum(axis=1)

    # Overload and exhaustion.
    state.load = (1 - b.forget_rate) * (1 - prune[:, None]) * state.load + new_items
    strain = (state.load + b.contradiction_load * state.unresolved[:, None]) / state.capacity
    state.overload = np.clip(strain - 1, 0, 1) * member
    group_overload = state.overload.sum(1) / n_members
    state.peak_overload = np.maximum(state.peak_overload, group_overload)
    state.exhaustion += b.exhaustion_overload * group_overload + b.exhaustion_loop * new_loops

    # 6. Decision: all six jobs complete together, or exhaustion, or the horizon.
    state.week += 1
    purchase = state.done.all(axis=1)
    exhausted = ~purchase & (state.exhaustion >= 1)
    out_of_time = ~purchase & ~exhausted & (state.week >= horizon)
    state.end_reason = np.select(
        [purchase, exhausted, out_of_time], [END_PURCHASE, END_EXHAUSTED, END_HORIZON], END_RUNNING
    )
    state.finished = state.end_reason != END_RUNNING


# ---- formerly sim/outcomes.py ------------------------------------------------------------

OUTCOME_NAMES = {0: "no_decision", 1: "focal_win", 2: "competitor_win"}

# Column -> short description, in table order. Results and the docs read this.
COLUMNS: dict[str, str] = {
    "deal": "deal index within the run (fixes its customer)",
    "strategy": "the focal vendor's strategy",
    "group_size": "stakeholders in the buying group",
    "conflict_level": "how far role priorities pull apart (0-1)",
    "information_volume": "multiplier on items gathered per week",
    "outcome": "no_decision, focal_win or competitor_win",
    "purchased": "the group bought a solution",
    "no_decision": "status quo kept (horizon reached or group exhausted)",
    "focal_win": "the focal vendor's option was bought",
    "end_reason": "purchase, horizon or exhausted",
    "winner": "option bought (0 = none/status quo, 1 = focal, 2.. = competitors)",
    "cycle_weeks": "weeks from start to purchase or giving up",
    "purchase_ease": "ease of the journey in [0,1]",
    "high_ease": "purchase_ease >= high_ease_threshold",
    "complex_or_difficult": "purchase_ease < difficult_threshold",
    "deal_size": "scope bought relative to initial ambition (NaN without purchase)",
    "settled_for_less": "bought less than settle_threshold of the ambition",
    "regret": "shortfall, unmet expectations, dissent and scope given up, in [0,1] (NaN without purchase)",
    "expectations_not_met": "true value fell short of the group's belief by the tolerance",
    "high_regret": "purchase with expectations not met or settled for less",
    "high_quality_deal": "purchase with expectations strongly met, not settled for less",
    "bigger_deal_less_regret": "purchase of full scope or more without high regret",
    "helpful_info": "the group found supplier information helpful in advancing its jobs",
    "helpful_share": "share of supplier items that advanced a job without contradicting",
    "loops_total": "reopenings of completed jobs",
    **{f"loops_{job}": f"reopenings of {job.replace('_', ' ')}" for job in JOB_NAMES},
    "revisited_any_job": "at least one completed job was reopened",
    "supplier_time_share": "share of buying time in meetings with any supplier",
    "focal_rep_time_share": "share of buying time with the focal vendor's reps",
    "digital_time_share": "share of buying time on self-serve digital content",
    "internal_time_share": "share of buying time with the buying group and peers",
    "third_party_time_share": "share of buying time with third parties",
    "contradictions_met": "contradictions that surfaced in the group",
    "met_contradiction": "at least one contradiction surfaced",
    "unresolved_contradictions": "contradictions still unresolved at the end",
    "peak_overload": "peak of the group's mean information overload (0-1)",
    "overwhelmed": "peak_overload >= overwhelmed_threshold",
    "focal_meetings": "focal rep meetings held",
    "misalignment_stages": "mean stages the focal seller ran ahead of the group, per meeting",
    "supplier_items": "supplier items the group received (meetings, content, resolutions)",
    "acceptance": "influence-weighted share accepting the group's choice at the end",
    "value_shortfall": "true-value shortfall of the choice vs the best solution, 0-1 (purchases)",
    "expectation_gap": "group's belief about the choice minus its true value (purchases)",
}
# Columns that are judgements on the measures above (see ``judge``), in table order.
JUDGED_COLUMNS = (
    "purchase_ease", "high_ease", "complex_or_difficult", "deal_size", "settled_for_less", "regret",
    "expectations_not_met", "high_regret", "high_quality_deal", "bigger_deal_less_regret",
    "helpful_info", "overwhelmed",
)  # fmt: skip


def judge(measures, behaviour: Behaviour, horizon: int) -> dict[str, np.ndarray]:
    """How the group judges its journey and its purchase, from per-deal measures.

    ``measures`` maps column names to arrays (or a per-deal DataFrame): purchased,
    cycle_weeks, loops_total, peak_overload, contradictions_met, supplier_items,
    helpful_share, acceptance, value_shortfall, expectation_gap. Only the [behaviour]
    judgement constants enter here, so calibration can re-judge simulated deals without
    simulating them again.
    """
    b = behaviour
    get = {name: np.asarray(measures[name]) for name in (
        "purchased", "cycle_weeks", "loops_total", "peak_overload", "contradictions_met",
        "supplier_items", "helpful_share", "acceptance", "value_shortfall", "expectation_gap",
    )}  # fmt: skip
    purchased, loops, helpful_share = get["purchased"].astype(bool), get["loops_total"], get["helpful_share"]
    ease = np.exp(
        -(
            b.ease_loops * loops
            + b.ease_time * get["cycle_weeks"] / horizon
            + b.ease_overload * get["peak_overload"]
            + b.ease_contradictions * get["contradictions_met"]
        )
    )
    size = get["acceptance"] * (1 - b.scope_loop_shrink) ** loops * (1 + b.scope_clarity_gain * helpful_share)
    settled = purchased & (size < b.settle_threshold)
    gap = np.where(purchased, get["expectation_gap"], 0.0)
    shortfall = np.where(purchased, get["value_shortfall"], 0.0)
    not_met = purchased & (gap > b.expectation_tolerance)
    strongly_met = purchased & (gap <= -b.strong_expectation_margin)
    regret = np.clip(
        b.regret_shortfall * shortfall
        + b.regret_expectation * np.clip(gap, 0, 1)
        + b.regret_dissent * (1 - get["acceptance"])
        + b.regret_scope * np.clip(1 - size, 0, 1),
        0,
        1,
    )
    high_regret = purchased & (not_met | settled)
    return {
        "purchase_ease": ease,
        "high_ease": ease >= b.high_ease_threshold,
        "complex_or_difficult": ease < b.difficult_threshold,
        "deal_size": np.where(purchased, size, np.nan),
        "settled_for_less": settled,
        "regret": np.where(purchased, regret, np.nan),
        "expectations_not_met": not_met,
        "high_regret": high_regret,
        "high_quality_deal": strongly_met & ~settled,
        "bigger_deal_less_regret": purchased & ~settled & (size >= 1.0) & ~high_regret,
        "helpful_info": (get["supplier_items"] > 0) & (helpful_share >= b.helpful_threshold),
        "overwhelmed": get["peak_overload"] >= b.overwhelmed_threshold,
    }


def time_shares(hours: np.ndarray) -> dict[str, np.ndarray]:
    """Shares of buying time by channel from accumulated hours (D, 4+O), columns HOURS_*."""
    total = np.maximum(hours[:, HOURS_TOTAL], 1e-12)
    return {
        "supplier_time_share": hours[:, HOURS_REPS + 1 :].sum(axis=1) / total,
        "focal_rep_time_share": hours[:, HOURS_REPS + 1] / total,
        "digital_time_share": hours[:, HOURS_DIGITAL] / total,
        "internal_time_share": hours[:, HOURS_INTERNAL] / total,
        "third_party_time_share": hours[:, HOURS_THIRD_PARTY] / total,
    }


def deal_outcomes(state: DealState, behaviour: Behaviour, horizon: int, strategy_names: list[str]) -> dict:
    """The outcome columns for every deal in ``state`` (which should all be finished)."""
    b = behaviour
    D, S, M = state.priority.shape
    deals = np.arange(D)
    member = state.member
    n_members = member.sum(axis=1)
    purchased = state.end_reason == END_PURCHASE
    winner = np.where(purchased, state.choice, 0)

    loops_total = state.loops.sum(axis=1)
    supplier_items = state.supplier_items
    helpful_share = np.where(supplier_items > 0, state.helpful_items / np.maximum(supplier_items, 1), 0)

    # The group's true needs: its members' own priorities, averaged.
    need = (state.priority0 * member[..., None]).sum(axis=1) / n_members[:, None]
    true_utility = np.einsum("dom,dm->do", state.true_value, need)
    solutions = true_utility[:, 1:]
    best, worst = solutions.max(axis=1), solutions.min(axis=1)
    chosen_true = true_utility[deals, state.choice]
    shortfall = np.where(best > worst, (best - chosen_true) / np.maximum(best - worst, 1e-12), 0.0)
    belief = cell_beliefs(state, b)[deals, :, state.choice]  # (D,S,M)
    expected = (np.einsum("dsm,dm->ds", belief, need) * member).sum(axis=1) / n_members
    measures = {
        "purchased": purchased,
        "cycle_weeks": state.week,
        "loops_total": loops_total,
        "peak_overload": state.peak_overload,
        "contradictions_met": state.contradictions_met,
        "supplier_items": supplier_items,
        "helpful_share": helpful_share,
        "acceptance": state.acceptance,
        "value_shortfall": np.where(purchased, shortfall, np.nan),
        "expectation_gap": np.where(purchased, expected - chosen_true, np.nan),
    }
    judged = judge(measures, b, horizon)

    hours = state.hours
    shares = time_shares(hours)
    meetings = state.focal_meetings
    outcome = np.where(purchased, np.where(winner == 1, 1, 2), 0)
    end = np.select(
        [
            state.end_reason == END_PURCHASE,
            state.end_reason == END_HORIZON,
            state.end_reason == END_EXHAUSTED,
        ],
        ["purchase", "horizon", "exhausted"],
        "running",
    )
    columns = {
        "deal": state.deal_id,
        "strategy": np.asarray(strategy_names, dtype=object)[state.strategy_code],
        "group_size": state.group_size,
        "conflict_level": state.conflict_level,
        "information_volume": state.information_volume,
        "outcome": np.vectorize(OUTCOME_NAMES.get, otypes=[object])(outcome)
        if D
        else np.array([], dtype=object),
        "purchased": purchased,
        "no_decision": ~purchased,
        "focal_win": winner == 1,
        "end_reason": end.astype(object),
        "winner": winner,
        "cycle_weeks": state.week,
        **{name: judged[name] for name in JUDGED_COLUMNS[:10]},
        "helpful_info": judged["helpful_info"],
        "helpful_share": helpful_share,
        "loops_total": loops_total,
        **{f"loops_{job}": state.loops[:, j] for j, job in enumerate(JOB_NAMES)},
        "revisited_any_job": loops_total > 0,
        **shares,
        "contradictions_met": state.contradictions_met,
        "met_contradiction": state.contradictions_met > 0,
        "unresolved_contradictions": state.unresolved,
        "peak_overload": state.peak_overload,
        "overwhelmed": judged["overwhelmed"],
        "focal_meetings": meetings,
        "misalignment_stages": np.where(
            meetings > 0, state.misalignment_total / np.maximum(meetings, 1), 0.0
        ),
    }
    columns.update(
        supplier_items=supplier_items,
        acceptance=state.acceptance,
        value_shortfall=measures["value_shortfall"],
        expectation_gap=measures["expectation_gap"],
    )
    assert list(columns) == list(COLUMNS), "outcome columns and their descriptions diverged"
    return columns


# ---- formerly sim/engine.py ------------------------------------------------------------

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
        self,
        scenario: Scenario,
        seed: int,
        blocks: list[tuple[int, int, int]],
        strategy: str | None = None,
        draw_source: Callable | None = None,
    ):
        """``blocks`` lists (block index, first deal, number of deals). ``draw_source`` (added
        for the equivalence tests): ``(seed, deal_ids, week, S, C) -> (uniforms, normals,
        per_cell)`` replaces the per-block weekly streams."""
        self.draw_source, self.seed, self.week = draw_source, seed, 0
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
        self.deal_ids = padded.deal_id
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
        if self.draw_source is not None:
            uniform, noise, per_cell = self.draw_source(
                self.seed, self.deal_ids, self.week, self.stakeholders, self.cells
            )
            n, S = uniform.shape[:2]
            draws = WeeklyDraws(
                focus=uniform[..., :N_JOBS],
                slots=uniform[..., N_JOBS:].reshape(n, S, ITEM_SLOTS, SLOT_FIELDS),
                noise=noise,
                voice=per_cell[:, 0],
                resolve=per_cell[:, 1],
            )
            self.week += 1
        else:
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
    draw_source: Callable | None = None,
) -> Iterator[pd.DataFrame]:
    """Per-deal tables chunk by chunk, so memory stays bounded for any number of deals."""
    blocks = block_plan(n_deals, first_deal)
    per_chunk = max(1, chunk_size // BLOCK_SIZE)
    for index in range(0, len(blocks), per_chunk):
        yield Cohort(scenario, seed, blocks[index : index + per_chunk], strategy, draw_source).run()


def simulate_frame(
    scenario: Scenario,
    n_deals: int,
    seed: int = 0,
    strategy: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: Callable[[int], None] | None = None,
    draw_source: Callable | None = None,
) -> pd.DataFrame:
    """All deals' outcome rows as one DataFrame; ``progress`` is called with deals finished."""
    if n_deals < 1:
        raise ScenarioError(f"deals = {n_deals}: must be at least 1")
    frames = []
    for frame in iter_chunks(scenario, n_deals, seed, strategy, chunk_size, draw_source=draw_source):
        frames.append(frame)
        if progress is not None:
            progress(len(frame))
    return pd.concat(frames, ignore_index=True)
