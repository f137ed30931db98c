"""The weekly dynamics of a buying group, written once as array code over a deal axis.

``step`` advances every deal in a :class:`~sim.state.DealState` by one week: focus, information,
sharing, contradictions, beliefs, job progress, overload and the decision. The vectorized
engine calls it for thousands of deals at once; the Mesa model calls it for one deal. All
randomness arrives in a :class:`WeeklyDraws` whose shape does not depend on the strategy, so
strategies are compared on the same random numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.scenario import Behaviour
from sim.state import (
    CHANNEL_DIGITAL,
    CHANNEL_INTERNAL,
    CHANNEL_REP,
    CHANNEL_THIRD_PARTY,
    FLOAT,
    HOURS_DIGITAL,
    HOURS_INTERNAL,
    HOURS_REPS,
    HOURS_THIRD_PARTY,
    HOURS_TOTAL,
    N_JOBS,
    ROLE_JOB_AFFINITY,
    DealState,
)
from sim.strategies import STRATEGY_FIELDS

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
        uniform = rng.random((n, stakeholders, N_JOBS + ITEM_SLOTS * SLOT_FIELDS), dtype=FLOAT)
        noise = rng.standard_normal((n, stakeholders, ITEM_SLOTS), dtype=FLOAT)
        per_cell = rng.random((n, 2, cells), dtype=FLOAT)
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
