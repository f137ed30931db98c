"""The weekly dynamics of a buying group, compiled: the one implementation of the weekly rules.

One loop walks the deals it is given and, per deal and week, loops over stakeholders, evidence
cells, options and jobs, so no temporary array is made per operation. The engine runs each
deal of a cohort to its end through :func:`run_deals`; the Mesa model steps its one deal a week
at a time through :func:`advance_week` (the same code). With ``NUMBA_DISABLE_JIT=1`` it runs as
plain Python (slow, for debugging). Everything is computed in float64; the random numbers are
float32 from one counter-based stream per deal (below), so strategies, chunkings and workers
all see the same numbers for the same deal.

State arrays share a leading deal axis and are padded to the cohort's largest group: the
members of a deal are its first ``group_size`` stakeholder slots, and slots beyond are never
touched.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numba
import numpy as np

from sim.channels import (
    CHANNEL_REP,
    SRC_ALIGNMENT,
    SRC_BIAS,
    SRC_CHANNEL,
    SRC_CREDIBILITY,
    SRC_GROUP,
    SRC_NOISE,
    SRC_OPTION,
    SRC_TAILORING,
)
from sim.jobs import (
    ALWAYS_ON,
    CHOICE_CHANGE_REACH,
    CONSENSUS_CREATION,
    CONTRADICTION_REACH,
    N_JOBS,
    PROBLEM_IDENTIFICATION,
    REQUIREMENTS_BUILDING,
    ROLE_JOB_AFFINITY,
    SOLUTION_EXPLORATION,
    SUPPLIER_FOCUS_FACTOR,
    SUPPLIER_SELECTION,
    VALIDATION,
)
from sim.scenario import Behaviour
from sim.state import HOURS_DIGITAL, HOURS_INTERNAL, HOURS_REPS, HOURS_THIRD_PARTY, HOURS_TOTAL
from sim.strategies import STRATEGY_FIELDS

# New items per stakeholder-week are a Poisson count, truncated at MAX_ITEMS (far above the
# mean at any information volume a scenario allows; docs/ODD.md 7.2 states the saturation).
MAX_ITEMS = 24
ITEM_FIELDS = 6  # uniforms per item: source, option, dimension, aligned, group-level, tailored
ITEM_SOURCE, ITEM_OPTION, ITEM_DIMENSION, ITEM_ALIGNED, ITEM_GROUP, ITEM_TAILORED = range(ITEM_FIELDS)
ITEM_COUNT = N_JOBS  # the uniform that draws a stakeholder's item count, after the focus uniforms
FIRST_ITEM = N_JOBS + 1
UNIFORMS_PER_STAKEHOLDER = FIRST_ITEM + MAX_ITEMS * ITEM_FIELDS
END_RUNNING, END_PURCHASE, END_HORIZON, END_EXHAUSTED, END_STATUS_QUO = 0, 1, 2, 3, 4

MEETING_TIME = STRATEGY_FIELDS.index("meeting_time")
DIGITAL_VOLUME = STRATEGY_FIELDS.index("digital_volume")
RESOLVE_CONTRADICTIONS = STRATEGY_FIELDS.index("resolve_contradictions")
SURFACE_UNSHARED = STRATEGY_FIELDS.index("surface_unshared")
PRUNE_OVERLOAD = STRATEGY_FIELDS.index("prune_overload")

# The Gumbel draw for the job in focus clips its uniform away from 0 and 1 (in float32).
FOCUS_LOW = np.float32(1e-7)
FOCUS_HIGH = np.float32(1 - 1e-7)

# ---- random numbers: one counter-based stream per deal ---------------------------------------
# Every random number of the dynamics is a pure function of (seed, deal, week, counter): a
# SplitMix64 output over a key derived from the seed, the deal's index in the run and the week.
# A deal's numbers therefore do not depend on the strategy, the chunking, the worker or on any
# other deal (common random numbers), and only the numbers a rule actually uses are computed.
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_DYNAMICS_STREAM = np.uint64(0x5851F42D4C957F2D)
_WEEK_STRIDE = np.uint64(0xD1B54A32D192ED03)
_UNIFORM32 = np.float32(2.0**-24)
_UNIFORM64 = 2.0**-53
# Counters within a deal-week: stakeholder s uses s * STAKEHOLDER_COUNTERS + field for its
# UNIFORMS_PER_STAKEHOLDER uniforms; normals and per-cell uniforms have their own ranges.
STAKEHOLDER_COUNTERS = 256
NORMAL_COUNTERS = 1 << 20
CELL_COUNTERS = 2 << 20  # per cell: voicing, resolving, then a normal (two counters)
CELL_STRIDE = 4
DEAL_COUNTERS = 3 << 20  # one per deal-week: the status-quo decision
assert UNIFORMS_PER_STAKEHOLDER <= STAKEHOLDER_COUNTERS


@numba.njit(cache=True, error_model="numpy")
def _mix(z):
    """The SplitMix64 finalizer (a bijective 64-bit hash)."""
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@numba.njit(cache=True, error_model="numpy")
def week_key(seed, deal, week):
    """The key of one deal-week's random numbers."""
    deal_key = _mix(_mix(np.uint64(seed) * _GAMMA + _DYNAMICS_STREAM) ^ (np.uint64(deal) * _GAMMA))
    return _mix(deal_key + np.uint64(week + 1) * _WEEK_STRIDE)


@numba.njit(cache=True, error_model="numpy")
def _uniform(key, counter):
    """A float32 uniform in [0, 1) (24 random bits)."""
    return np.float32(_mix(key + np.uint64(counter) * _GAMMA) >> np.uint64(40)) * _UNIFORM32


@numba.njit(cache=True, error_model="numpy")
def _normal(key, counter):
    """A float32 standard normal (Box-Muller on counters ``counter`` and ``counter + 1``)."""
    radius = (np.float64(_mix(key + np.uint64(counter) * _GAMMA) >> np.uint64(11)) + 1.0) * _UNIFORM64
    angle = np.float64(_mix(key + np.uint64(counter + 1) * _GAMMA) >> np.uint64(11)) * _UNIFORM64
    return np.float32(math.sqrt(-2.0 * math.log(radius)) * math.cos(2.0 * math.pi * angle))


@numba.njit(cache=True, error_model="numpy")
def _poisson(u, mean):
    """A Poisson count with the given mean by inversion of one uniform, at most MAX_ITEMS."""
    return _poisson_from(u, mean, math.exp(-mean))


@numba.njit(cache=True, error_model="numpy", inline="always")
def _poisson_from(u, mean, chance_of_none):
    """:func:`_poisson` given ``chance_of_none = exp(-mean)`` (a caller that draws many counts
    with the same few means works it out once per mean: the same number, so the same count)."""
    term = chance_of_none
    cumulative = term
    count = 0
    while u > cumulative and count < MAX_ITEMS:
        count += 1
        term *= mean / count
        cumulative += term
    return count


# One field per behaviour constant, named as in the scenario (built from the model's fields).
BehaviourParams = namedtuple("BehaviourParams", tuple(Behaviour.model_fields))  # type: ignore[misc]


def behaviour_params(behaviour: Behaviour) -> BehaviourParams:
    """The behaviour constants as a tuple of floats the kernels can read by name."""
    return BehaviourParams(*(float(getattr(behaviour, name)) for name in Behaviour.model_fields))


# State arrays the kernels read and write, in the order of their parameters (DealState fields).
KERNEL_STATE_FIELDS = (
    "deal_id", "group_size", "role", "priority0", "priority", "stubbornness", "influence", "capacity",
    "weights", "true_value", "information_volume", "vendor", "sources", "evidence_weight",
    "evidence_claims", "items_held", "shared_min", "shared_max", "contradicted", "attitude",
    "opinion", "load", "overload", "focus", "completion", "done", "loops", "high_water", "scope",
    "readiness", "choice", "exhaustion", "week", "finished", "end_reason", "contradictions_met",
    "unresolved", "peak_overload", "hours", "focal_meetings", "misalignment_total",
    "supplier_items", "helpful_items", "acceptance", "dissent", "dissent_job", "blocking",
    "selection_choice",
)  # fmt: skip
_OPINION, _TRUE_VALUE, _SOURCES, _FINISHED = (
    KERNEL_STATE_FIELDS.index(name) for name in ("opinion", "true_value", "sources", "finished")
)


@numba.njit(cache=True, error_model="numpy")
def cell_belief(claims, weight, prior_weight):
    """A stakeholder's belief about one cell: the credibility-weighted mean of its claims,
    shrunk toward a neutral prior (scalars or arrays)."""
    return claims / (weight + prior_weight)


@numba.njit(cache=True, error_model="numpy", inline="always")
def _vendors_any(vendor, d, field):
    """Chance that at least one vendor does something, from each vendor's own chance."""
    none = 1.0
    for option in range(1, vendor.shape[1]):
        none *= 1.0 - vendor[d, option, field]
    return 1.0 - none


# Rows of the belief and readiness scratch (one array, so each inlined helper takes one scratch
# argument). A row holds a per-member table flattened member by member (row-major, n members),
# so a loop of independent divisions over a whole table runs over contiguous elements; row
# _CELL_VALUES holds one value per cell of the member at hand (its beliefs, or its coverage).
(_OWN, _CELL_VALUES, _SQUARES, _LISTEN, _HEARD, _NEW_OPINION, _NEW_PRIORITY, _TOTALS,
 _MEAN_PRIORITY, _BEST, _PREFERRED, _VOTES, _WORK_ROWS) = range(13)  # fmt: skip


@numba.njit(cache=True, error_model="numpy")
def _belief_work(S, n_cells):
    """Scratch for :func:`_update_beliefs` and :func:`_job_readiness` (rows named above)."""
    return np.empty((_WORK_ROWS, S * max(S, n_cells)))


@numba.njit(cache=True, error_model="numpy", inline="always")
def _own_utility(d, n, p, priority, evidence_weight, evidence_claims, attitude, work):
    """What each member's own evidence says each option is worth to them (into row _OWN of
    ``work``: option o of member s at s * n_options + o).

    A member's beliefs are worked out first in one pass over its cells (row _CELL_VALUES), a loop
    of independent divisions the compiler runs several at a time."""
    n_options, n_dims = attitude.shape[2], priority.shape[2]
    for s in range(n):
        for cell in range(n_options * n_dims):
            claims, weight = evidence_claims[d, s, cell], evidence_weight[d, s, cell]
            work[_CELL_VALUES, cell] = cell_belief(claims, weight, p.prior_weight)
        for o in range(n_options):
            total = 0.0
            for m in range(n_dims):
                total += work[_CELL_VALUES, o * n_dims + m] * priority[d, s, m]
            work[_OWN, s * n_options + o] = total + attitude[d, s, o]


@numba.njit(cache=True, error_model="numpy", inline="always")
def _job_readiness(
    d, n, p, priority, influence, evidence_weight, opinion, unresolved, readiness, choice, acceptance,
    dissent, dissent_job, blocking, work,
):  # fmt: skip
    """What the group's state supports for each job, the option it leans to, its acceptance,
    who dissents (and on which job) and the influence share of members who would block.

    Every readiness is a share of influence or a mean over members, never a sum, so a group of
    one can finish every job as a group of sixteen can. Each member's preferred solution and the
    value of its best one are worked out once (``work`` is the scratch of _belief_work)."""
    n_options, n_dims = opinion.shape[2], priority.shape[2]
    n_cells = n_options * n_dims
    # A deal has at least one member (the scenario checks it). Saying so lets the compiler see
    # that every loop over members runs, and then drop the reference counting of the arrays
    # passed to this inlined helper (otherwise about forty atomic calls per deal-week).
    n = max(n, 1)
    total_influence = 0.0
    need = 0.0
    coverage = 0.0
    for o in range(n_options):
        work[_VOTES, o] = 0.0
    for s in range(n):
        total_influence += influence[d, s]
        # The member's preferred solution (first of equals) and what it is worth to it.
        best, preferred = opinion[d, s, 1], 1
        for o in range(2, n_options):
            if opinion[d, s, o] > best:
                best, preferred = opinion[d, s, o], o
        work[_BEST, s], work[_PREFERRED, s] = best, preferred
        if best - opinion[d, s, 0] > p.need_margin:
            need += influence[d, s]
        # How well this member's evidence (own and taken up from others) covers the solutions:
        # the capped shares of every cell first (independent divisions), then the solutions'
        # shares summed in cell order.
        for cell in range(n_cells):
            work[_CELL_VALUES, cell] = min(1.0, evidence_weight[d, s, cell] / p.coverage_weight)
        covered = 0.0
        for cell in range(n_dims, n_cells):
            covered += work[_CELL_VALUES, cell]
        coverage += influence[d, s] * covered / ((n_options - 1) * n_dims)
        # The influence-weighted vote for each solution, member by member.
        work[_VOTES, preferred] += influence[d, s]

    for m in range(n_dims):
        total = 0.0
        for s in range(n):
            total += priority[d, s, m]
        work[_MEAN_PRIORITY, m] = total / n
    disagreement = 0.0
    for s in range(n):
        spread = 0.0
        for m in range(n_dims):
            spread += abs(priority[d, s, m] - work[_MEAN_PRIORITY, m])
        disagreement += spread
    disagreement /= n
    requirements = min(max(1.0 - p.priority_disagreement_scale * disagreement, 0.0), 1.0)

    # The group's choice: the solution with the most votes (first best wins).
    best_votes = -1.0
    group_choice = 1
    for o in range(1, n_options):
        if work[_VOTES, o] > best_votes:
            best_votes, group_choice = work[_VOTES, o], o
    agreement = 0.0
    confidence = 0.0
    accepted = 0.0
    blockers = 0.0
    for s in range(n):
        if work[_PREFERRED, s] == group_choice:
            agreement += influence[d, s]
        on_choice = 0.0
        for m in range(n_dims):
            on_choice += evidence_weight[d, s, group_choice * n_dims + m]
        confidence += min(1.0, on_choice / p.confidence_weight)
        best = work[_BEST, s]
        of_choice = opinion[d, s, group_choice]
        status_quo = opinion[d, s, 0]
        accepts = of_choice >= status_quo + p.acceptance_margin and of_choice >= best - p.preference_tolerance
        if accepts:
            accepted += influence[d, s]
        # A member who would rather keep the status quo than buy the group's choice, by more
        # than the veto margin, pulls the group toward deciding to do nothing.
        if of_choice < status_quo - p.veto_margin:
            blockers += influence[d, s]
        dissent[d, s] = not accepts
        if accepts:
            dissent_job[d, s] = -1
        elif best - status_quo <= p.need_margin:
            # No solution beats the status quo for this dissenter: it disputes the need.
            dissent_job[d, s] = PROBLEM_IDENTIFICATION
        else:
            dissent_job[d, s] = SUPPLIER_SELECTION
    confidence /= n
    validation = confidence / (1.0 + unresolved[d] / p.contradiction_tolerance)
    group_acceptance = accepted / total_influence

    readiness[d, PROBLEM_IDENTIFICATION] = need / total_influence
    readiness[d, SOLUTION_EXPLORATION] = coverage / total_influence
    readiness[d, REQUIREMENTS_BUILDING] = requirements
    readiness[d, SUPPLIER_SELECTION] = agreement / total_influence
    readiness[d, VALIDATION] = validation
    # Consensus is reached when the accepting members hold the quorum share of influence:
    # a purchase can go ahead with residual dissent.
    readiness[d, CONSENSUS_CREATION] = min(1.0, group_acceptance / p.consensus_quorum)
    choice[d] = group_choice
    acceptance[d] = group_acceptance
    blocking[d] = blockers / total_influence


@numba.njit(cache=True, error_model="numpy", inline="always")
def _update_beliefs(
    d, n, p, requirements_effort, priority0, priority, stubbornness, weights, evidence_weight,
    evidence_claims, attitude, opinion, work,
):  # fmt: skip
    """Friedkin-Johnsen update with bounded confidence, for option opinions and priorities.

    Each stakeholder anchors on what its own evidence says (weight = stubbornness) and takes
    the rest from the neighbours whose opinions are within the confidence bound. ``work`` is
    the scratch of _belief_work.
    """
    n_options, n_dims = opinion.shape[2], priority.shape[2]
    n = max(n, 1)  # see _job_readiness
    _own_utility(d, n, p, priority, evidence_weight, evidence_claims, attitude, work)
    for s in range(n):
        total = 0.0
        for o in range(n_options):
            total += opinion[d, s, o] * opinion[d, s, o]
        work[_SQUARES, s] = total
    # Squared RMS distance between opinion vectors, as |x|^2 + |y|^2 - 2 x.y. It is the same for
    # (s, t) as for (t, s), bit for bit (the same products summed in the same order), so each
    # pair is worked out once (row _LISTEN: pair (s, t) at s * n + t).
    bound = n_options * p.confidence_bound**2
    for s in range(n):
        for t in range(s, n):
            dot = 0.0
            for o in range(n_options):
                dot += opinion[d, s, o] * opinion[d, t, o]
            gap = work[_SQUARES, s] + work[_SQUARES, t] - 2 * dot
            work[_LISTEN, s * n + t] = gap
            work[_LISTEN, t * n + s] = gap
    # Whom each member listens to, as shares of what it hears: the divisions of all members
    # run in one loop (row _HEARD repeats each member's total along its row).
    for s in range(n):
        heard = 0.0
        for t in range(n):
            listen = weights[d, s, t] if work[_LISTEN, s * n + t] <= bound else 0.0
            work[_LISTEN, s * n + t] = listen
            heard += listen
        for t in range(n):
            work[_HEARD, s * n + t] = heard
    for pair in range(n * n):
        work[_LISTEN, pair] /= work[_HEARD, pair]
    for s in range(n):
        stubborn = stubbornness[d, s]
        for o in range(n_options):
            mixed = 0.0
            for t in range(n):
                mixed += work[_LISTEN, s * n + t] * opinion[d, t, o]
            own = work[_OWN, s * n_options + o]
            work[_NEW_OPINION, s * n_options + o] = stubborn * own + (1 - stubborn) * mixed
    # Priorities, normalised to sum to one (all members' divisions in one loop, as above).
    mixing = min(1.0, p.priority_mixing * (1 + 2 * requirements_effort))
    for s in range(n):
        total = 0.0
        for m in range(n_dims):
            neighbours = 0.0
            for t in range(n):
                neighbours += weights[d, s, t] * priority[d, t, m]
            value = priority[d, s, m] + mixing * (neighbours - priority[d, s, m])
            value += 0.1 * stubbornness[d, s] * (priority0[d, s, m] - value)
            work[_NEW_PRIORITY, s * n_dims + m] = value
            total += value
        for m in range(n_dims):
            work[_TOTALS, s * n_dims + m] = total
    for entry in range(n * n_dims):
        work[_NEW_PRIORITY, entry] /= work[_TOTALS, entry]
    for s in range(n):
        for o in range(n_options):
            opinion[d, s, o] = work[_NEW_OPINION, s * n_options + o]
        for m in range(n_dims):
            priority[d, s, m] = work[_NEW_PRIORITY, s * n_dims + m]


@numba.njit(cache=True, error_model="numpy")
def start_deals(deals, p, state_arrays):
    """Week-0 opinions (own evidence only) and job readiness of the given deals."""
    (_, group_size, _, _, priority, _, influence, _, _, _, _, _, _, evidence_weight, evidence_claims, _,
     _, _, _, attitude, opinion, _, _, _, _, _, _, _, _, readiness, choice, _, _, _, _, _, unresolved,
     _, _, _, _, _, _, acceptance, dissent, dissent_job, blocking, _) = state_arrays  # fmt: skip
    n_options = opinion.shape[2]
    work = _belief_work(opinion.shape[1], evidence_weight.shape[2])
    for d in deals:
        n = group_size[d]
        _own_utility(d, n, p, priority, evidence_weight, evidence_claims, attitude, work)
        for s in range(n):
            for o in range(n_options):
                opinion[d, s, o] = work[_OWN, s * n_options + o]
        _job_readiness(
            d, n, p, priority, influence, evidence_weight, opinion, unresolved, readiness, choice,
            acceptance, dissent, dissent_job, blocking, work,
        )  # fmt: skip


@numba.njit(cache=True, error_model="numpy", inline="always")
def _padded(n_cells):
    """``n_cells`` rounded up to a whole number of 8-wide vectors (rows of the listening sums)."""
    return (n_cells + 7) // 8 * 8


@numba.njit(cache=True, error_model="numpy")
def _scratch(S, n_options, n_dims, n_sources):
    """Working arrays for one deal-week, allocated once per kernel call. The listening rows
    (``heard`` and the copy of what members ``know``) hold the weights of the voiced cells and
    then, from ``_padded(n_voiced)`` on, their claims (``know`` starts as zeros, so its padding
    only ever holds finite numbers)."""
    n_cells = n_options * n_dims
    return (
        np.empty(N_JOBS), np.empty((N_JOBS, max(n_options - 1, 1))), np.empty(N_JOBS),
        np.empty((N_JOBS, n_sources)), np.empty(N_JOBS),
        np.empty(S, dtype=np.int64), np.empty(S), np.empty(S, dtype=np.int64), np.empty(S), np.empty(S),
        np.empty(S, dtype=np.int64),
        np.empty(S + 1), np.empty((S, 2 * _padded(n_cells))), np.zeros((S, 2 * _padded(n_cells))),
        np.empty(n_cells, dtype=np.int64), np.empty(n_cells, dtype=np.int64),
        np.empty(N_JOBS), np.empty(N_JOBS), _belief_work(S, n_cells),
    )  # fmt: skip


@numba.njit(cache=True, error_model="numpy")
def _advance(deals, seed, horizon, p, state_arrays, to_end):
    """Advance each deal in ``deals`` by one week (``to_end``: week after week until it ends):
    focus, information, sharing, contradictions, beliefs, job progress, overload and the
    decision. A deal's random numbers come from its own stream, keyed by (seed, deal, week).

    The arrays are unpacked once here and every helper is inlined; the helpers that loop over a
    deal's members state that it has at least one (see _job_readiness), so the loop over
    deal-weeks touches no reference counts."""
    (deal_id, group_size, role, priority0, priority, stubbornness, influence, capacity, weights,
     true_value, information_volume, vendor, sources, evidence_weight, evidence_claims, items_held,
     shared_min, shared_max, contradicted, attitude, opinion, load, overload, focus, completion, done, loops,
     high_water, scope, readiness, choice, exhaustion, week, finished, end_reason, contradictions_met,
     unresolved, peak_overload, hours, focal_meetings, misalignment_total, supplier_items,
     helpful_items, acceptance, dissent, dissent_job, blocking, selection_choice) = state_arrays  # fmt: skip
    (effort, job_rep_weight, job_hours, job_cumulative, job_item_rate,
     top_dimension, new_items, group_cell, group_credibility, group_claim, item_count,
     voice_by_holders, heard, know, holders, voiced,
     dissenting_on, job_no_items, belief_work) = _work_for(p, state_arrays)  # fmt: skip
    n_options, n_dims = true_value.shape[1], true_value.shape[2]
    n_cells = n_options * n_dims
    K = n_options - 1
    n_sources = sources.shape[1]
    b = p
    for d in deals:
        # The deal's channel tables per job in focus (they change only with the focus): each
        # vendor's rep share, the hours, and the item sources' cumulative weights and chance.
        volume = 0.0
        for k in range(K):
            volume += vendor[d, 1 + k, DIGITAL_VOLUME]
        digital_weight = b.base_share_digital * math.sqrt(volume / K)
        for j in range(N_JOBS):
            factor = SUPPLIER_FOCUS_FACTOR[j]
            reps = 0.0
            for k in range(K):
                job_rep_weight[j, k] = b.base_share_suppliers / K * vendor[d, 1 + k, MEETING_TIME] * factor
                reps += job_rep_weight[j, k]
            total_weight = b.base_share_internal + b.base_share_third_party + digital_weight + reps
            job_hours[j] = b.hours_per_week / total_weight
            # Item sources: weight of each channel = its time share times its yield of items.
            running = b.base_share_internal
            job_cumulative[j, 0] = running
            running += b.base_share_third_party
            job_cumulative[j, 1] = running
            for k in range(K):
                running += job_rep_weight[j, k]
                job_cumulative[j, 2 + k] = running
            for k in range(K):
                running += b.digital_yield / K * digital_weight * vendor[d, 1 + k, DIGITAL_VOLUME]
                job_cumulative[j, 2 + K + k] = running
            # Mean new items per stakeholder-week while on this job.
            job_item_rate[j] = max(b.items_per_week * information_volume[d] * running / total_weight, 0.0)
            job_no_items[j] = math.exp(-job_item_rate[j])
        while True:
            key = week_key(seed, deal_id[d], week[d])
            n = group_size[d]

            # 1. Focus: each stakeholder works on the job that looks most unfinished to it.
            for s in range(n):
                # Dissenters spend their week re-arguing the job their disagreement is about (their
                # Gumbel numbers are not needed: each is a pure function of its counter).
                if dissent_job[d, s] >= 0:
                    focus[d, s] = dissent_job[d, s]
                    continue
                best_score, best_job = 0.0, 0
                for j in range(N_JOBS):
                    u = min(max(_uniform(key, s * STAKEHOLDER_COUNTERS + j), FOCUS_LOW), FOCUS_HIGH)
                    gumbel = -np.log(-np.log(u))
                    score = (1.0 - completion[d, j]) * ROLE_JOB_AFFINITY[role[d, s], j] / b.focus_temperature
                    score = score + gumbel
                    if j == 0 or score > best_score:
                        best_score, best_job = score, j
                focus[d, s] = best_job
            for j in range(N_JOBS):
                effort[j] = 0.0
            for s in range(n):
                effort[focus[d, s]] += 1 - overload[d, s]
            for j in range(N_JOBS):
                effort[j] /= n
                if ALWAYS_ON[j]:
                    effort[j] += b.always_on_effort
            stage = 0  # earliest job not done (the first job when all are done)
            for j in range(N_JOBS - 1, -1, -1):
                if not done[d, j]:
                    stage = j

            # 2. Information through channels.
            for s in range(n):
                for o in range(n_options):
                    attitude[d, s, o] *= b.attitude_memory
            # Time shares per stakeholder (peers, third parties, self-serve digital, each vendor's
            # reps) follow from the job in focus: looked up in the deal's job tables.
            hours_total = 0.0
            for s in range(n):
                hours_total += job_hours[focus[d, s]]
            hours[d, HOURS_INTERNAL] += hours_total * b.base_share_internal
            hours[d, HOURS_THIRD_PARTY] += hours_total * b.base_share_third_party
            hours[d, HOURS_DIGITAL] += hours_total * digital_weight
            hours[d, HOURS_TOTAL] += b.hours_per_week * n
            for k in range(K):
                with_reps = 0.0
                for s in range(n):
                    with_reps += job_hours[focus[d, s]] * job_rep_weight[focus[d, s], k]
                hours[d, HOURS_REPS + 1 + k] += with_reps
            for s in range(n):
                top = 0
                for m in range(1, n_dims):
                    if priority[d, s, m] > priority[d, s, top]:
                        top = m
                top_dimension[s] = top
                new_items[s] = 0.0
            most_items = 0
            for s in range(n):
                count_uniform = _uniform(key, s * STAKEHOLDER_COUNTERS + ITEM_COUNT)
                in_focus = focus[d, s]
                item_count[s] = _poisson_from(count_uniform, job_item_rate[in_focus], job_no_items[in_focus])
                most_items = max(most_items, item_count[s])
            helpful_now = 0.0
            group_items = 0  # group-level items this week (every member receives each of them)
            for slot in range(most_items):
                first = FIRST_ITEM + slot * ITEM_FIELDS
                n_group = 0
                for s in range(n):
                    counter = s * STAKEHOLDER_COUNTERS + first  # this item's uniforms: counter + ITEM_*
                    if slot >= item_count[s]:
                        continue
                    in_focus = focus[d, s]
                    pick = _uniform(key, counter + ITEM_SOURCE) * job_cumulative[in_focus, n_sources - 1]
                    source = 0
                    for index in range(n_sources):
                        if pick > job_cumulative[in_focus, index]:
                            source += 1
                    source = min(source, n_sources - 1)
                    channel = sources[d, source, SRC_CHANNEL]
                    is_vendor = channel >= CHANNEL_REP
                    is_rep = channel == CHANNEL_REP
                    vendor_option = int(sources[d, source, SRC_OPTION])
                    aligned = _uniform(key, counter + ITEM_ALIGNED) < sources[d, source, SRC_ALIGNMENT]
                    group_level = _uniform(key, counter + ITEM_GROUP) < sources[d, source, SRC_GROUP]
                    tailored = _uniform(key, counter + ITEM_TAILORED) < sources[d, source, SRC_TAILORING]
                    # Aligned vendor content meets the group's job: while the problem is still being
                    # identified it speaks about the cost of the status quo, otherwise its own option.
                    about_status_quo = aligned and stage == PROBLEM_IDENTIFICATION
                    if is_vendor:
                        option = 0 if about_status_quo else vendor_option
                    else:
                        option = min(int(_uniform(key, counter + ITEM_OPTION) * np.float32(n_options)), K)
                    if tailored:
                        dimension = top_dimension[s]
                    else:
                        drawn = int(_uniform(key, counter + ITEM_DIMENSION) * np.float32(n_dims))
                        dimension = min(drawn, n_dims - 1)
                    cell = option * n_dims + dimension
                    bias = -sources[d, source, SRC_BIAS] if about_status_quo else sources[d, source, SRC_BIAS]
                    normal = _normal(key, NORMAL_COUNTERS + 2 * (s * MAX_ITEMS + slot))
                    noise = sources[d, source, SRC_NOISE] * normal
                    claim = true_value[d, option, dimension] + bias + noise
                    # A rep who runs ahead of the group's job: seller-led pushes to supplier selection.
                    stages_ahead = max(0, SUPPLIER_SELECTION - stage) if is_rep and not aligned else 0
                    credibility = sources[d, source, SRC_CREDIBILITY] * (0.5 if stages_ahead > 0 else 1.0)
                    if stages_ahead > 0:
                        attitude[d, s, vendor_option] -= b.misalignment_penalty * stages_ahead
                    if is_rep and vendor_option == 1:
                        focal_meetings[d] += 1
                        misalignment_total[d] += stages_ahead
                    conflicts = (claim - shared_min[d, cell] > b.contradiction_gap) or (
                        shared_max[d, cell] - claim > b.contradiction_gap
                    )
                    if is_vendor:
                        supplier_items[d] += 1
                        if aligned and not conflicts:
                            helpful_items[d] += 1
                            helpful_now += 1
                    if group_level:  # given to the whole group at once (after this slot's items)
                        group_cell[n_group], group_credibility[n_group], group_claim[n_group] = (
                            cell, credibility, claim,
                        )  # fmt: skip
                        n_group += 1
                    else:
                        evidence_weight[d, s, cell] += credibility
                        evidence_claims[d, s, cell] += credibility * claim
                        new_items[s] += 1
                for g in range(n_group):
                    cell = group_cell[g]
                    for q in range(n):
                        evidence_weight[d, q, cell] += group_credibility[g]
                        evidence_claims[d, q, cell] += group_credibility[g] * group_claim[g]
                    shared_min[d, cell] = min(shared_min[d, cell], group_claim[g])
                    shared_max[d, cell] = max(shared_max[d, cell], group_claim[g])
                for q in range(n):
                    new_items[q] += n_group
                group_items += n_group
            for s in range(n):
                items_held[d, s] += new_items[s]
            # Buyer enablement: helpful supplier information speeds up the job the group is on.
            effort[stage] += b.enablement_gain * helpful_now / n

            # 3. Voicing (hidden-profile bias) and listening. Cells do not interact here, so the
            # loops run cell-innermost: every cell's sums keep their order (neighbour by
            # neighbour) while the cells' chains of additions run side by side.
            surface = _vendors_any(vendor, d, SURFACE_UNSHARED)
            for c in range(n_cells):
                holders[c] = 0
            for s in range(n):
                for c in range(n_cells):
                    if evidence_weight[d, s, c] > 0:
                        holders[c] += 1
            n_voiced = 0  # the voiced cells are voiced[:n_voiced]
            for c in range(n_cells):
                if holders[c] == 0:
                    continue
                voice = voice_by_holders[holders[c]]
                if holders[c] == 1:
                    voice = voice + surface * (1 - voice)
                if not _uniform(key, CELL_COUNTERS + CELL_STRIDE * c) < voice:
                    continue
                voiced[n_voiced] = c
                n_voiced += 1
                lowest, highest = np.inf, -np.inf
                for s in range(n):
                    if evidence_weight[d, s, c] > 0:
                        mean_claim = evidence_claims[d, s, c] / evidence_weight[d, s, c]
                        lowest = min(lowest, mean_claim)
                        highest = max(highest, mean_claim)
                shared_min[d, c] = min(shared_min[d, c], lowest)
                shared_max[d, c] = max(shared_max[d, c], highest)
            if n_voiced > 0:
                # Listeners take up part of what their neighbours know about each voiced cell.
                # What each member knows of the voiced cells (the only ones listened to) is copied
                # into one row: weights, then from claims_at on claims, padded to whole vectors.
                # Each listener's sums then run as one loop of full vectors; every cell's sum still
                # adds the same products in the same order (neighbour by neighbour).
                claims_at = _padded(n_voiced)
                for t in range(n):
                    for v in range(n_voiced):
                        c = voiced[v]
                        know[t, v] = evidence_weight[d, t, c]
                        know[t, claims_at + v] = evidence_claims[d, t, c]
                for s in range(n):
                    for i in range(2 * claims_at):
                        heard[s, i] = 0.0
                for t in range(n):
                    for s in range(n):
                        w = weights[d, s, t]
                        for i in range(2 * claims_at):
                            heard[s, i] += w * know[t, i]
                for s in range(n):
                    for v in range(n_voiced):
                        c = voiced[v]
                        heard_weight, heard_claim = heard[s, v], heard[s, claims_at + v]
                        mean_heard = heard_claim / max(heard_weight, 1e-12)  # neighbours' mean
                        gain = max(heard_weight - evidence_weight[d, s, c], 0.0) * b.voice_mixing
                        evidence_claims[d, s, c] += mean_heard * gain
                        evidence_weight[d, s, c] += gain

            # Contradictions and their resolution. A vendor that deconflicts speaks to its own
            # option: it settles a contradiction about its own option with an authoritative answer
            # that carries its reps' bias and noise (credible, not omniscient). A group that
            # deconflicts alone settles on its pooled belief, right or wrong.
            by_group_p = b.self_resolve_rate * min(1.0, 3 * effort[VALIDATION])
            new_contradictions = 0
            open_now = 0
            for c in range(n_cells):
                now = shared_max[d, c] - shared_min[d, c] > b.contradiction_gap
                option = c // n_dims
                by_vendor_p = vendor[d, option, RESOLVE_CONTRADICTIONS] if option > 0 else 0.0
                either_p = by_vendor_p + by_group_p * (1 - by_vendor_p)
                u = _uniform(key, CELL_COUNTERS + CELL_STRIDE * c + 1) if now else np.float32(1.0)
                if now and u < by_vendor_p:
                    rep_source = 1 + option  # sources: 0 peers, 1 third party, 2.. each vendor's reps
                    normal = _normal(key, CELL_COUNTERS + CELL_STRIDE * c + 2)
                    answer = (
                        true_value[d, option, c % n_dims]
                        + sources[d, rep_source, SRC_BIAS]
                        + sources[d, rep_source, SRC_NOISE] * normal
                    )
                    supplier_items[d] += 1
                    helpful_items[d] += 1
                    now = False
                    resolved = True
                elif now and u < either_p:
                    pooled_claims, pooled_weight = 0.0, 0.0
                    for s in range(n):
                        pooled_claims += evidence_claims[d, s, c]
                        pooled_weight += evidence_weight[d, s, c]
                    answer = pooled_claims / max(pooled_weight, 1e-9)
                    now = False
                    resolved = True
                else:
                    answer = 0.0
                    resolved = False
                if resolved:
                    shared_min[d, c] = answer
                    shared_max[d, c] = answer
                    for s in range(n):
                        evidence_weight[d, s, c] += b.credibility_authority
                        evidence_claims[d, s, c] += b.credibility_authority * answer
                if now and not contradicted[d, c]:
                    new_contradictions += 1
                if now:
                    open_now += 1
                contradicted[d, c] = now
            contradictions_met[d] += new_contradictions
            unresolved[d] = open_now

            # 4. Beliefs.
            _update_beliefs(
                d, n, b, effort[REQUIREMENTS_BUILDING], priority0, priority, stubbornness, weights,
                evidence_weight, evidence_claims, attitude, opinion, belief_work,
            )  # fmt: skip

            # 5. Progress of the six jobs, and looping.
            previous_choice = choice[d]
            _job_readiness(
                d, n, b, priority, influence, evidence_weight, opinion, unresolved, readiness, choice,
                acceptance, dissent, dissent_job, blocking, belief_work,
            )  # fmt: skip
            switched = 1.0 if choice[d] != previous_choice else 0.0
            total_influence = 0.0
            for s in range(n):
                total_influence += influence[d, s]
            # Influence of the dissenters on each job they work on (summed member by member). A
            # group whose accepting members hold the quorum overrules its dissenters: they still
            # re-argue, but no longer undo the group's work (they may still block, below).
            for j in range(N_JOBS):
                dissenting_on[j] = 0.0
            if acceptance[d] < b.consensus_quorum:
                for s in range(n):
                    if dissent[d, s]:
                        dissenting_on[focus[d, s]] += influence[d, s]
            reopened = 0
            for j in range(N_JOBS):
                gap = readiness[d, j] - completion[d, j]
                working = min(1.0, 3 * effort[j])
                rate = b.progress_rate * working if gap > 0 else b.fall_rate
                value = completion[d, j] + rate * gap
                value -= b.contradiction_shock * new_contradictions * CONTRADICTION_REACH[j]
                # A switch of the preferred supplier puts later jobs back in question.
                value -= b.choice_change_shock * switched * CHOICE_CHANGE_REACH[j]
                # Dissenters reopen the job they work on: looping driven by people not on board.
                value -= b.dissent_pull * (dissenting_on[j] / total_influence)
                value = min(max(value, 0.0), 1.0)
                reopen = done[d, j] and value < b.reopen_threshold
                done[d, j] = (done[d, j] and not reopen) or value >= b.done_threshold
                completion[d, j] = value
                # A loop: the group's progress on the job is undone by at least `setback` since its
                # last high, whatever undid it and however many members come back to it.
                if value > high_water[d, j]:
                    high_water[d, j] = value
                elif high_water[d, j] - value >= b.setback:
                    loops[d, j] += 1
                    reopened += 1
                    high_water[d, j] = value
            if selection_choice[d] < 0 and done[d, SUPPLIER_SELECTION]:
                selection_choice[d] = choice[d]  # the favourite when selection is first done

            # The deal's scope: building requirements and consensus move it toward what the group
            # agrees on, is confident of and accepts (up to scope_headroom above the initial
            # ambition); divergent priorities, doubt, open contradictions and dissent trim it.
            scope_target = (
                (1 + b.scope_headroom)
                * readiness[d, REQUIREMENTS_BUILDING]
                * readiness[d, VALIDATION]
                * acceptance[d]
            )
            scoping = min(1.0, 1.5 * (effort[REQUIREMENTS_BUILDING] + effort[CONSENSUS_CREATION]))
            scope[d] += b.progress_rate * scoping * (scope_target - scope[d])

            # Overload and exhaustion.
            # Pruning: the vendors help members discard what they carry; at full strength
            # members shed information twice as fast as they forget it (load / (1 + prune) in
            # steady state: gradual, never a switch).
            prune = _vendors_any(vendor, d, PRUNE_OVERLOAD)
            retention = max(0.0, 1.0 - b.forget_rate * (1.0 + prune))
            total_overload = 0.0
            for s in range(n):
                # A group-level item reaches everyone at the cost of one: the group takes it in
                # together, so each member carries a share 1 / n of it, while an individual
                # item is carried whole by its one reader.
                carried = new_items[s] - group_items * (1.0 - 1.0 / n)
                load[d, s] = retention * load[d, s] + carried
                strain = (load[d, s] + b.contradiction_load * unresolved[d]) / capacity[d, s]
                # Smooth in load: 0.5 at capacity, 0.8 at twice capacity, never a step.
                overload[d, s] = strain * strain / (1 + strain * strain)
                total_overload += overload[d, s]
            group_overload = total_overload / n
            peak_overload[d] = max(peak_overload[d], group_overload)
            exhaustion[d] += b.exhaustion_overload * group_overload + b.exhaustion_loop * reopened

            # 6. Decision: all six jobs complete together; or members who would rather keep the
            # status quo get the group to decide to do nothing (chance by their influence share);
            # or exhaustion; or the horizon (the deal is still open: truncated, not abandoned).
            week[d] += 1
            purchase = True
            for j in range(N_JOBS):
                purchase = purchase and done[d, j]
            if purchase:
                end_reason[d] = END_PURCHASE
            elif _uniform(key, DEAL_COUNTERS) < b.status_quo_pull * blocking[d]:
                end_reason[d] = END_STATUS_QUO
            elif exhaustion[d] >= 1:
                end_reason[d] = END_EXHAUSTED
            elif week[d] >= horizon:
                end_reason[d] = END_HORIZON
            else:
                end_reason[d] = END_RUNNING
            finished[d] = end_reason[d] != END_RUNNING
            if finished[d] or not to_end:
                break


@numba.njit(cache=True, error_model="numpy")
def _work_for(p, state_arrays):
    opinion, true_value, sources = state_arrays[_OPINION], state_arrays[_TRUE_VALUE], state_arrays[_SOURCES]
    S = opinion.shape[1]
    work = _scratch(S, true_value.shape[1], true_value.shape[2], sources.shape[1])
    voice_by_holders = work[11]  # the twelfth array of _scratch
    for holders in range(S + 1):  # P(voiced) = 1 - (1 - p)^holders
        voice_by_holders[holders] = 1 - (1 - p.voice_probability) ** float(holders)
    return work


@numba.njit(cache=True, error_model="numpy")
def advance_week(deals, seed, horizon, p, state_arrays):
    """Advance the given deals (rows of the state arrays, all running) by one week."""
    _advance(deals, seed, horizon, p, state_arrays, False)


@numba.njit(cache=True, error_model="numpy", nogil=True)
def run_deals(deals, seed, horizon, p, state_arrays):
    """Run the given deals week after week until each has ended (the same weeks as calling
    advance_week until then). It releases the interpreter lock, so threads (the compare
    page's strategies) run it in parallel."""
    _advance(deals, seed, horizon, p, state_arrays, True)
