"""Deal state as arrays with a leading deal axis, and the customer that starts each deal.

Shapes: D deals, S stakeholder slots (the scenario's largest group; slots beyond a deal's
group size are not members), O options (0 is the status quo, 1 the focal vendor, 2.. the
competitors), M requirement dimensions, C = O * M information cells (one per option and
dimension), J = 6 buying jobs.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from sim.channels import CHANNEL_DIGITAL, CHANNEL_NAMES, channel_properties
from sim.jobs import N_JOBS
from sim.network import influence_matrix, topology_library
from sim.scenario import Scenario
from sim.strategies import STRATEGY_FIELDS

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
# Items gathered before any vendor engages: peers, third parties, generic vendor web content.
INITIAL_CHANNEL_WEIGHTS = np.array([0.4, 0.3, 0.0, 0.3])  # by channel (channels.CHANNEL_NAMES)
assert len(INITIAL_CHANNEL_WEIGHTS) == len(CHANNEL_NAMES)
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
    loops: np.ndarray  # (D,J) times the group's progress on the job was set back (loops)
    high_water: np.ndarray  # (D,J) completion's high since the last loop on the job
    scope: np.ndarray  # (D,) scope the group means to buy, relative to its initial ambition
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
    blocking: np.ndarray  # (D,) influence share of members who would rather keep the status quo
    selection_choice: np.ndarray  # (D,) the favourite when supplier selection was first done (-1: not yet)

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

    library = topology_library(pop.network, S, graph_seed, tuple(pop.group_sizes))
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
    channel_credibility, channel_noise, channel_bias = channel_properties(
        behaviour, GENERIC_DIGITAL_QUALITY, GENERIC_PERSUASION
    )
    credibility = channel_credibility[channel]
    deal_index = np.arange(n)[:, None, None]
    noise_sd = channel_noise[channel]
    claim = true_value[deal_index, option, dimension] + channel_bias[channel] + noise_sd * normal
    held = np.arange(high)[None, None, :] < n_items[:, :, None]
    cell = option * M + dimension
    # Add each held item to its stakeholder's cell, in item order (np.bincount sums in input order).
    C = O * M
    target = ((np.arange(n)[:, None, None] * S + np.arange(S)[None, :, None]) * C + cell)[held]
    evidence_weight = np.bincount(target, credibility[held], minlength=n * S * C).reshape(n, S, C)
    evidence_claims = np.bincount(target, (credibility * claim)[held], minlength=n * S * C).reshape(n, S, C)
    # Groups meet different amounts of information at the same market volume (their search,
    # their category's noise): a log-normal factor with mean 1, drawn last so the draws above
    # do not depend on it.
    spread_sd = behaviour.volume_spread
    volume = volume * np.exp(spread_sd * rng.standard_normal(n) - spread_sd**2 / 2)
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
        sources=np.zeros((n, 2 * O, 8)),  # filled by dynamics.start (channels.source_table)
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
        high_water=np.zeros((n, N_JOBS)),
        scope=np.ones(n),
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
        blocking=zeros.copy(),
        selection_choice=np.full(n, -1, dtype=np.int64),
        **customers,
    )
    return state


def vendor_array(table: np.ndarray, focal: np.ndarray, competitor: int, n_options: int) -> np.ndarray:
    """Strategy fields per deal and option (D,O,F): option 1 gets the deal's focal strategy,
    options 2.. the competitor strategy, the status quo nothing."""
    vendor = np.zeros((len(focal), n_options + 1, len(STRATEGY_FIELDS)))
    vendor[:, 1] = table[focal]
    vendor[:, 2:] = table[competitor]
    return vendor
