"""Outcomes per deal, computed from a finished deal's state. Each entry is a results column.

Definitions (full text in docs/ODD.md, section 7):
- ``purchase_ease`` in [0,1]: exp(-(loops, weeks on an absolute scale, peak overload,
  contradictions met)).
- ``deal_size``: the scope the group settled during the journey, relative to its initial
  ambition (NaN without purchase).
- ``regret`` in [0,1]: true-value shortfall of the chosen option against the best one for the
  group's true needs, the gap between what the group expected of it and its true value, and
  dissent at the decision (NaN without purchase).
"""

from __future__ import annotations

import numpy as np

from sim.kernels import END_EXHAUSTED, END_HORIZON, END_PURCHASE, END_STATUS_QUO, cell_belief
from sim.scenario import JOB_NAMES, Behaviour
from sim.state import HOURS_DIGITAL, HOURS_INTERNAL, HOURS_REPS, HOURS_THIRD_PARTY, HOURS_TOTAL, DealState

OUTCOME_NAMES = {0: "no_decision", 1: "focal_win", 2: "competitor_win", 3: "open"}
WEEKS_PER_YEAR = 52  # ease counts time on an absolute scale, whatever the horizon

# Column -> short description, in table order. Results and the docs read this.
COLUMNS: dict[str, str] = {
    "deal": "deal index within the run (fixes its customer)",
    "strategy": "the focal vendor's strategy",
    "group_size": "stakeholders in the buying group",
    "conflict_level": "how far role priorities pull apart (0-1)",
    "information_volume": "multiplier on items gathered per week (scenario volume x the group's spread)",
    "outcome": "no_decision, focal_win, competitor_win or open (still undecided at the horizon)",
    "purchased": "the group bought a solution",
    "no_decision": "abandoned: the group decided to keep the status quo or gave up exhausted",
    "reached_horizon": "still undecided at the horizon (truncated, not abandoned)",
    "focal_win": "the focal vendor's option was bought",
    "end_reason": "purchase, status_quo, exhausted or horizon",
    "winner": "option bought (0 = none/status quo, 1 = focal, 2.. = competitors)",
    "cycle_weeks": "weeks from start to purchase or giving up",
    "purchase_ease": "ease of the journey in [0,1]",
    "high_ease": "purchase_ease >= high_ease_threshold",
    "complex_or_difficult": "purchase_ease < difficult_threshold",
    "deal_size": "scope bought relative to initial ambition, settled in the journey (NaN: no purchase)",
    "settled_for_less": "bought less than settle_threshold of the ambition",
    "regret": "value shortfall, unmet expectations and dissent, in [0,1] (NaN without purchase)",
    "expectations_not_met": "true value fell short of the group's belief by the tolerance",
    "high_regret": "purchase with expectations not met or settled for less",
    "high_quality_deal": "purchase with expectations strongly met, not settled for less",
    "bigger_deal_less_regret": "purchase of full scope or more without high regret",
    "helpful_info": "the group found supplier information helpful in advancing its jobs",
    "helpful_share": "share of supplier items that advanced a job without contradicting",
    "loops_total": "loops: times the group's progress on a job was set back",
    **{f"loops_{job}": f"loops back to {job.replace('_', ' ')}" for job in JOB_NAMES},
    "revisited_any_job": "the group went back to at least one job",
    "jobs_reopened": "how many of the six jobs the group went back to at least once",
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
    "favourite_won": "purchase of the option the group favoured when supplier selection was first done",
    "value_shortfall": "true-value shortfall of the choice vs the best solution, 0-1 (purchases)",
    "expectation_gap": "group's belief about the choice minus its true value (purchases)",
}
# Columns that are judgements on the measures above (see ``judge``), in table order.
JUDGED_COLUMNS = (
    "purchase_ease", "high_ease", "complex_or_difficult", "deal_size", "settled_for_less", "regret",
    "expectations_not_met", "high_regret", "high_quality_deal", "bigger_deal_less_regret",
    "helpful_info", "overwhelmed",
)  # fmt: skip


def judge(measures, behaviour: Behaviour) -> dict[str, np.ndarray]:
    """How the group judges its journey and its purchase, from per-deal measures.

    ``measures`` maps column names to arrays (or a per-deal DataFrame): purchased,
    cycle_weeks, loops_total, peak_overload, contradictions_met, supplier_items,
    helpful_share, acceptance, scope, value_shortfall, expectation_gap. Only the [behaviour]
    judgement constants enter here, so calibration can re-judge simulated deals without
    simulating them again.
    """
    b = behaviour
    get = {name: np.asarray(measures[name]) for name in (
        "purchased", "cycle_weeks", "loops_total", "peak_overload", "contradictions_met",
        "supplier_items", "helpful_share", "acceptance", "scope", "value_shortfall", "expectation_gap",
    )}  # fmt: skip
    purchased, loops, helpful_share = get["purchased"].astype(bool), get["loops_total"], get["helpful_share"]
    ease = np.exp(
        -(
            b.ease_loops * loops
            + b.ease_time * get["cycle_weeks"] / WEEKS_PER_YEAR
            + b.ease_overload * get["peak_overload"]
            + b.ease_contradictions * get["contradictions_met"]
        )
    )
    size = get["scope"]
    settled = purchased & (size < b.settle_threshold)
    gap = np.where(purchased, get["expectation_gap"], 0.0)
    shortfall = np.where(purchased, get["value_shortfall"], 0.0)
    not_met = purchased & (gap > b.expectation_tolerance)
    strongly_met = purchased & (gap <= -b.strong_expectation_margin)
    regret = np.clip(
        b.regret_shortfall * shortfall
        + b.regret_expectation * np.clip(gap, 0, 1)
        + b.regret_dissent * (1 - get["acceptance"]),
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


def deal_outcomes(state: DealState, behaviour: Behaviour, strategy_names: list[str]) -> dict:
    """The outcome columns for every deal in ``state`` (which should all be finished)."""
    b = behaviour
    D, S, M = state.priority.shape
    deals = np.arange(D)
    member = state.member
    n_members = member.sum(axis=1)
    purchased = state.end_reason == END_PURCHASE
    abandoned = (state.end_reason == END_STATUS_QUO) | (state.end_reason == END_EXHAUSTED)
    open_at_horizon = state.end_reason == END_HORIZON
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
    # Each stakeholder's belief about the chosen option on each dimension (D,S,M).
    on_choice = state.choice[:, None] * M + np.arange(M)[None, :]  # (D,M) cells of the choice
    claims = np.take_along_axis(state.evidence_claims, on_choice[:, None, :], axis=2)
    weight = np.take_along_axis(state.evidence_weight, on_choice[:, None, :], axis=2)
    # What the group expects of the choice: its members' beliefs about it (the claims they hold,
    # biases included, weighed against the neutral prior), under the true needs.
    belief = cell_belief(claims, weight, b.prior_weight)
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
        "scope": state.scope,
        "value_shortfall": np.where(purchased, shortfall, np.nan),
        "expectation_gap": np.where(purchased, expected - chosen_true, np.nan),
    }
    judged = judge(measures, b)

    hours = state.hours
    shares = time_shares(hours)
    meetings = state.focal_meetings
    outcome = np.where(purchased, np.where(winner == 1, 1, 2), np.where(open_at_horizon, 3, 0))
    end = np.select(
        [
            state.end_reason == END_PURCHASE,
            state.end_reason == END_HORIZON,
            state.end_reason == END_EXHAUSTED,
            state.end_reason == END_STATUS_QUO,
        ],
        ["purchase", "horizon", "exhausted", "status_quo"],
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
        "no_decision": abandoned,
        "reached_horizon": open_at_horizon,
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
        "jobs_reopened": (state.loops > 0).sum(axis=1),
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
        favourite_won=purchased & (state.selection_choice == winner),
        value_shortfall=measures["value_shortfall"],
        expectation_gap=measures["expectation_gap"],
    )
    assert list(columns) == list(COLUMNS), "outcome columns and their descriptions diverged"
    return columns
