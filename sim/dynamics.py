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
    N_JOBS,
    ROLE_JOB_AFFINITY,
    DealState,
)
from sim.strategies import STRATEGY_FIELDS

FIELD = {name: index for index, name in enumerate(STRATEGY_FIELDS)}
SUPPLIER_SELECTION = 3
# Time with suppliers depends on the job in focus: little while defining the problem,
# most while selecting and validating suppliers.
SUPPLIER_FOCUS_FACTOR = np.array([0.5, 1.0, 0.8, 1.6, 1.4, 0.8])
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
        uniform = rng.random((n, stakeholders, N_JOBS + ITEM_SLOTS * SLOT_FIELDS))
        noise = rng.standard_normal((n, stakeholders, ITEM_SLOTS))
        per_cell = rng.random((n, 2, cells))
        return cls(
            focus=uniform[..., :N_JOBS],
            slots=uniform[..., N_JOBS:].reshape(n, stakeholders, ITEM_SLOTS, SLOT_FIELDS),
            noise=noise,
            voice=per_cell[:, 0],
            resolve=per_cell[:, 1],
        )

    def take(self, index: np.ndarray) -> WeeklyDraws:
        return WeeklyDraws(
            self.focus[index], self.slots[index], self.noise[index], self.voice[index],
            self.resolve[index],
        )

    @classmethod
    def concat(cls, parts: list[WeeklyDraws]) -> WeeklyDraws:
        if len(parts) == 1:
            return parts[0]
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                     ("focus", "slots", "noise", "voice", "resolve")))


def _per_member_mean(values: np.ndarray, member: np.ndarray, count: np.ndarray) -> np.ndarray:
    return (values * member).sum(axis=1) / count


def own_utility(state: DealState, behaviour: Behaviour) -> np.ndarray:
    """What each stakeholder's own evidence says each option is worth to them (D,S,O)."""
    M = state.priority.shape[2]
    value = state.evidence_claims / (state.evidence_weight + behaviour.prior_weight)
    value = value.reshape(*value.shape[:2], -1, M)
    return np.einsum("dsom,dsm->dso", value, state.priority) + state.attitude


def update_beliefs(state: DealState, behaviour: Behaviour, requirements_effort: np.ndarray) -> None:
    """Friedkin-Johnsen update with bounded confidence, for option opinions and priorities.

    Each stakeholder anchors on what its own evidence says (weight = stubbornness) and takes
    the rest from the neighbours whose opinions are within the confidence bound.
    """
    own = own_utility(state, behaviour)
    opinion = state.opinion
    distance = np.abs(opinion[:, :, None, :] - opinion[:, None, :, :]).mean(axis=3)
    listen = state.weights * (distance <= behaviour.confidence_bound)
    listen /= listen.sum(axis=2, keepdims=True)
    stubbornness = state.stubbornness[..., None]
    state.opinion = stubbornness * own + (1 - stubbornness) * (listen @ opinion)

    mixing = np.minimum(1.0, behaviour.priority_mixing * (1 + 2 * requirements_effort))
    neighbours = state.weights @ state.priority
    priority = state.priority + mixing[:, None, None] * (neighbours - state.priority)
    priority += 0.1 * stubbornness * (state.priority0 - priority)
    state.priority = priority / priority.sum(axis=2, keepdims=True)


def start(state: DealState, behaviour: Behaviour) -> None:
    """Week-0 opinions (own evidence only) and job readiness."""
    state.opinion = own_utility(state, behaviour)
    job_readiness(state, behaviour)


def job_readiness(state: DealState, behaviour: Behaviour) -> None:
    """What the group's state supports for each job (D,J), the choice and the acceptance."""
    D, S, M = state.priority.shape
    O = state.true_value.shape[1]
    member = state.member
    n_members = member.sum(axis=1)
    influence = state.influence
    total_influence = influence.sum(axis=1)
    opinion = state.opinion

    best_solution = opinion[:, :, 1:].max(axis=2)
    need = (influence * (best_solution - opinion[:, :, 0] > behaviour.need_margin)).sum(1)

    group_evidence = (state.evidence_weight * member[..., None]).sum(axis=1).reshape(D, O, M)
    coverage = np.minimum(1.0, group_evidence[:, 1:] / behaviour.coverage_weight).mean(axis=(1, 2))

    mean_priority = _per_member_mean(state.priority, member[..., None], n_members[:, None])
    spread = np.abs(state.priority - mean_priority[:, None]).sum(axis=2)
    disagreement = _per_member_mean(spread, member, n_members)
    requirements = np.clip(1 - behaviour.priority_disagreement_scale * disagreement, 0, 1)

    preferred = opinion[:, :, 1:].argmax(axis=2) + 1
    votes = np.stack([(influence * (preferred == o)).sum(1) for o in range(1, O)], axis=1)
    choice = votes.argmax(axis=1) + 1
    agreement = (influence * (preferred == choice[:, None])).sum(1)

    deals = np.arange(D)
    evidence_on_choice = state.evidence_weight.reshape(D, S, O, M)[deals, :, choice].sum(axis=2)
    confidence = _per_member_mean(
        np.minimum(1.0, evidence_on_choice / behaviour.confidence_weight), member, n_members
    )
    validation = confidence / (1 + state.unresolved / behaviour.contradiction_tolerance)

    opinion_of_choice = opinion[deals[:, None], np.arange(S)[None, :], choice[:, None]]
    accepts = opinion_of_choice >= opinion[:, :, 0] + behaviour.acceptance_margin
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
    )
    state.choice = choice
    state.acceptance = acceptance


def _deliver_items(
    state: DealState, behaviour: Behaviour, draws: WeeklyDraws, stage: np.ndarray
) -> np.ndarray:
    """Each stakeholder gathers up to two items through the channels its time goes to.

    Returns new items per stakeholder (D,S). Updates time accounting, evidence, the shared
    pool (group-level items are voiced at once), helpfulness, misalignment and attitudes.
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
    rep_weight = (b.base_share_suppliers / K) * meeting[:, None, :] * (
        SUPPLIER_FOCUS_FACTOR[state.focus][..., None]
    )
    digital_weight = b.base_share_digital * np.sqrt(digital_volume.mean(axis=1))
    total_weight = (
        b.base_share_internal + b.base_share_third_party + digital_weight[:, None] + rep_weight.sum(2)
    )
    hours = b.hours_per_week * member / total_weight
    state.hours[:, 0] += (hours * b.base_share_internal).sum(1)
    state.hours[:, 1] += (hours * b.base_share_third_party).sum(1)
    state.hours[:, 2] += (hours * digital_weight[:, None]).sum(1)
    state.hours[:, 3] += b.hours_per_week * member.sum(1)
    state.hours[:, 5:] += (hours[..., None] * rep_weight).sum(1)

    # Item sources: weight of each channel = its time share times its yield of items.
    share_internal = b.base_share_internal / total_weight
    share_third = b.base_share_third_party / total_weight
    share_rep = rep_weight / total_weight[..., None]
    share_digital = (digital_weight[:, None] / total_weight)[..., None] * (
        b.digital_yield * digital_volume[:, None, :] / K
    )
    sources = np.concatenate(
        [share_internal[..., None], share_third[..., None], share_rep, share_digital], axis=2
    )
    source_total = sources.sum(axis=2)
    cumulative = np.cumsum(sources, axis=2) / source_total[..., None]
    slot_probability = np.clip(
        b.items_per_week * state.information_volume[:, None] * source_total / ITEM_SLOTS, 0, 1
    )

    deals = np.arange(D)[:, None]
    people = np.arange(S)[None, :]
    top_dimension = state.priority.argmax(axis=2)
    true_flat = state.true_value.reshape(D, O * M)
    new_items = np.zeros((D, S))
    for slot in range(ITEM_SLOTS):
        u = draws.slots[:, :, slot]
        exists = member & (u[..., 0] < slot_probability)
        source = np.minimum((u[..., 1, None] > cumulative).sum(axis=2), 2 + 2 * K - 1)
        is_rep = (source >= 2) & (source < 2 + K)
        is_digital = source >= 2 + K
        is_vendor = is_rep | is_digital
        vendor_option = np.where(is_rep, source - 1, np.where(is_digital, source - 1 - K, 0))
        strategy = vendor[deals, vendor_option]  # (D,S,F)
        aligned = is_vendor & (u[..., 4] < strategy[..., FIELD["stage_alignment"]])
        group_level = is_vendor & (u[..., 5] < strategy[..., FIELD["group_level"]])
        tailored = is_vendor & (u[..., 6] < strategy[..., FIELD["tailoring"]])
        persuasion = strategy[..., FIELD["persuasion"]]
        quality = strategy[..., FIELD["digital_quality"]]

        # Aligned vendor content meets the group's job: while the problem is still being
        # identified it speaks about the cost of the status quo, otherwise about its own option.
        about_status_quo = aligned & (stage[:, None] == 0)
        random_option = np.minimum((u[..., 2] * O).astype(np.int64), O - 1)
        option = np.where(is_vendor, np.where(about_status_quo, 0, vendor_option), random_option)
        random_dimension = np.minimum((u[..., 3] * M).astype(np.int64), M - 1)
        dimension = np.where(tailored, top_dimension, random_dimension)
        cell = option * M + dimension

        channel = np.where(is_rep, CHANNEL_REP, np.where(is_digital, CHANNEL_DIGITAL, 0))
        channel = np.where(source == 1, CHANNEL_THIRD_PARTY, channel)
        noise_sd = b.item_noise * np.select(
            [channel == CHANNEL_INTERNAL, channel == CHANNEL_THIRD_PARTY, channel == CHANNEL_REP],
            [b.noise_internal, b.noise_third_party, b.noise_rep],
            1.5 - quality,
        )
        credibility = np.select(
            [channel == CHANNEL_INTERNAL, channel == CHANNEL_THIRD_PARTY, channel == CHANNEL_REP],
            [b.credibility_internal, b.credibility_third_party, b.credibility_rep],
            0.4 + 0.5 * quality,
        )
        bias = np.where(is_rep, persuasion, 0.5 * persuasion) * is_vendor
        bias = np.where(about_status_quo, -bias, bias)
        claim = true_flat[deals, cell] + bias + noise_sd * draws.noise[:, :, slot]

        # A rep who runs ahead of the group's job: seller-led pushes to supplier selection.
        stages_ahead = np.where(
            exists & is_rep & ~aligned, np.maximum(0, SUPPLIER_SELECTION - stage)[:, None], 0
        )
        credibility = np.where(stages_ahead > 0, 0.5 * credibility, credibility)
        state.attitude[deals, people, vendor_option] -= b.misalignment_penalty * stages_ahead
        focal_meeting = exists & is_rep & (vendor_option == 1)
        state.focal_meetings += focal_meeting.sum(1)
        state.misalignment_total += (stages_ahead * focal_meeting).sum(1)

        low, high = state.shared_min[deals, cell], state.shared_max[deals, cell]
        conflicts = (claim - low > b.contradiction_gap) | (high - claim > b.contradiction_gap)
        vendor_item = exists & is_vendor
        state.supplier_items += vendor_item.sum(1)
        state.helpful_items += (vendor_item & aligned & ~conflicts).sum(1)

        private = exists & ~group_level
        state.evidence_weight[deals, people, cell] += private * credibility
        state.evidence_claims[deals, people, cell] += private * credibility * claim
        new_items += private

        shared = exists & group_level
        if shared.any():
            d, s = np.nonzero(shared)
            c = cell[d, s]
            to_all = member[d].astype(float)
            np.add.at(state.evidence_weight, (d[:, None], people, c[:, None]),
                      to_all * credibility[d, s, None])
            np.add.at(state.evidence_claims, (d[:, None], people, c[:, None]),
                      to_all * (credibility * claim)[d, s, None])
            np.minimum.at(state.shared_min, (d, c), claim[d, s])
            np.maximum.at(state.shared_max, (d, c), claim[d, s])
            new_items += np.bincount(d, minlength=D)[:, None] * member
    state.items_held += new_items
    return new_items


def _share_and_deconflict(
    state: DealState, behaviour: Behaviour, draws: WeeklyDraws, validation_effort: np.ndarray
) -> np.ndarray:
    """Voicing (hidden-profile bias), new contradictions, and their resolution.

    Returns the number of new contradictions per deal (D,).
    """
    b = behaviour
    D, S, C = state.evidence_weight.shape
    member = state.member
    vendor = state.vendor

    holds = (state.evidence_weight > 0) & member[..., None]
    holders = holds.sum(axis=1)
    voice = 1 - (1 - b.voice_probability) ** holders
    surface = 1 - np.prod(1 - vendor[:, 1:, FIELD["surface_unshared"]], axis=1)
    voice = np.where(holders == 1, voice + surface[:, None] * (1 - voice), voice)
    voiced = (draws.voice < voice) & (holders > 0)

    mean_claim = state.evidence_claims / np.where(holds, state.evidence_weight, 1.0)
    lowest = np.where(holds, mean_claim, np.inf).min(axis=1)
    highest = np.where(holds, mean_claim, -np.inf).max(axis=1)
    state.shared_min = np.where(voiced, np.minimum(state.shared_min, lowest), state.shared_min)
    state.shared_max = np.where(voiced, np.maximum(state.shared_max, highest), state.shared_max)

    # Listeners take up part of what their neighbours know about the voiced cells.
    heard_weight = state.weights @ state.evidence_weight
    heard_claims = state.weights @ state.evidence_claims
    gain = b.voice_mixing * np.maximum(0.0, heard_weight - state.evidence_weight)
    gain *= voiced[:, None, :] * member[..., None]
    state.evidence_claims += gain * heard_claims / np.where(heard_weight > 0, heard_weight, 1.0)
    state.evidence_weight += gain

    contradicted = (state.shared_max - state.shared_min) > b.contradiction_gap
    by_vendor_p = 1 - np.prod(1 - vendor[:, 1:, FIELD["resolve_contradictions"]], axis=1)
    by_group_p = b.self_resolve_rate * np.minimum(1.0, 3 * validation_effort)
    either_p = by_vendor_p + by_group_p * (1 - by_vendor_p)
    by_vendor = contradicted & (draws.resolve < by_vendor_p[:, None])
    by_group = contradicted & ~by_vendor & (draws.resolve < either_p[:, None])
    resolved = by_vendor | by_group
    if resolved.any():
        # A vendor that deconflicts brings the authoritative answer (the true value); a group
        # that deconflicts alone settles on its pooled belief, right or wrong.
        pooled_weight = (state.evidence_weight * member[..., None]).sum(axis=1)
        pooled = (state.evidence_claims * member[..., None]).sum(axis=1) / np.maximum(
            pooled_weight, 1e-9
        )
        answer = np.where(by_vendor, state.true_value.reshape(D, C), pooled)
        state.shared_min = np.where(resolved, answer, state.shared_min)
        state.shared_max = np.where(resolved, answer, state.shared_max)
        added = resolved[:, None, :] * member[..., None] * b.credibility_authority
        state.evidence_weight += added
        state.evidence_claims += added * answer[:, None, :]
        state.supplier_items += by_vendor.sum(1)
        state.helpful_items += by_vendor.sum(1)
        contradicted &= ~resolved
    new = (contradicted & ~state.contradicted).sum(axis=1)
    state.contradicted = contradicted
    state.contradictions_met += new
    state.unresolved = contradicted.sum(axis=1).astype(float)
    return new


def _progress(state: DealState, behaviour: Behaviour, effort: np.ndarray, new_contradictions) -> np.ndarray:
    """Move each job's completion toward readiness; count reopened jobs. Returns new loops (D,)."""
    b = behaviour
    job_readiness(state, b)
    gap = state.readiness - state.completion
    working = np.minimum(1.0, 3 * effort)
    completion = state.completion + np.where(gap > 0, b.progress_rate * working, b.fall_rate) * gap
    shock = b.contradiction_shock * new_contradictions[:, None]
    completion[:, SUPPLIER_SELECTION:5] -= shock
    completion = np.clip(completion, 0, 1)
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
    gumbel = -np.log(-np.log(np.clip(draws.focus, 1e-12, 1 - 1e-12)))
    state.focus = (unfinished[:, None, :] * affinity / b.focus_temperature + gumbel).argmax(axis=2)
    capacity_left = member * (1 - state.overload)
    effort = np.stack(
        [(capacity_left * (state.focus == job)).sum(1) for job in range(N_JOBS)], axis=1
    ) / n_members[:, None]
    effort[:, 4:] += b.always_on_effort
    stage = np.argmin(state.done, axis=1)  # earliest job not done

    # 2. Information through channels; 3. sharing, contradictions and deconfliction.
    new_items = _deliver_items(state, b, draws, stage)
    new_contradictions = _share_and_deconflict(state, b, draws, effort[:, 4])
    prune = 1 - np.prod(1 - state.vendor[:, 1:, FIELD["prune_overload"]], axis=1)

    # 4. Beliefs; 5. progress of the six jobs (and reopening).
    update_beliefs(state, b, effort[:, 2])
    new_loops = _progress(state, b, effort, new_contradictions)

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
