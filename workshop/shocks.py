"""Shocks a facilitator fires between rounds: changes to the running deals' state.

Each shock changes the arrays of a cohort's running deals in place (the engine steps those very
arrays), so applying it to every team's cohort and to the presets' cohorts changes every copy
of the buying groups alike. Deals that have ended are left as they ended.

The model's arrays are fixed in size, so "a new stakeholder joins" is modelled as one member
(the last member slot of each group) being replaced: a new person in the role of legal and
security, with that role's priorities and none of the items the group gathered so far.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim.effort import within_budget
from sim.engine import Cohort
from sim.state import DealState, role_profiles
from sim.strategies import BUILTIN_STRATEGIES, strategy_table

SPONSOR_SLOT = 0  # the executive sponsor sits in slot 0 of every group (sim.state.new_customers)
SPONSOR_INFLUENCE_LEFT = 0.2  # the sponsor's influence after leaving (a share of what it was)
NEW_STAKEHOLDER_ROLE = 5  # legal/security (sim.state.ROLE_PROFILES order)
FREEZE_SCOPE = 0.8  # scope the group still means to buy after a budget freeze (share)
FREEZE_STATUS_QUO_GAIN = 0.3  # status quo's true value rises on every dimension (sd units)
FLOOD_FACTOR = 1.6  # items gathered per week multiply by this


@dataclass(frozen=True)
class Shock:
    """One kind of shock: its label, what it does and what it teaches."""

    key: str
    label: str
    effect: str
    teaching: str
    apply: Callable[[Cohort], None]


def sponsor_leaves(cohort: Cohort) -> None:
    """The executive sponsor's influence falls to a fifth; the group listens to the others."""

    def change(state: DealState, rows: np.ndarray) -> None:
        scale = np.ones(state.influence.shape[1])
        scale[SPONSOR_SLOT] = SPONSOR_INFLUENCE_LEFT
        state.influence[rows] *= scale
        # Influence weights are proportional to the listened-to member's influence, row-normalised
        # (sim.network.influence_matrix): scaling column 0 and normalising again is the same rule.
        weights = state.weights[rows] * scale[None, None, :]
        state.weights[rows] = weights / weights.sum(axis=2, keepdims=True)

    cohort.update_running(change)


def stakeholder_joins(cohort: Cohort) -> None:
    """The last member of each group is replaced by a newcomer from legal and security who has
    that role's priorities and has seen none of the group's items."""

    def change(state: DealState, rows: np.ndarray) -> None:
        slot = state.group_size[rows] - 1
        dimensions = state.priority.shape[2]
        profile = role_profiles(dimensions)[NEW_STAKEHOLDER_ROLE]
        state.role[rows, slot] = NEW_STAKEHOLDER_ROLE
        state.priority0[rows, slot] = profile
        state.priority[rows, slot] = profile
        state.evidence_weight[rows, slot] = 0.0
        state.evidence_claims[rows, slot] = 0.0
        state.items_held[rows, slot] = 0.0
        state.load[rows, slot] = 0.0
        state.overload[rows, slot] = 0.0
        state.focus[rows, slot] = 0  # a newcomer starts by asking what the problem is

    cohort.update_running(change)


def budget_freeze(cohort: Cohort) -> None:
    """The group means to buy less and keeping things as they are looks better."""

    def change(state: DealState, rows: np.ndarray) -> None:
        state.scope[rows] *= FREEZE_SCOPE
        state.true_value[rows, 0, :] += FREEZE_STATUS_QUO_GAIN

    cohort.update_running(change)


def competitor_sense_making(cohort: Cohort) -> None:
    """Every competitor switches to the sense-making preset (within the session's budget)."""

    def change(state: DealState, rows: np.ndarray) -> None:
        budget = cohort.scenario.population.effort_budget
        delivered = within_budget(BUILTIN_STRATEGIES["sense_making"], budget)
        state.vendor[rows, 2:] = strategy_table([delivered])[0]

    cohort.update_running(change)


def information_flood(cohort: Cohort) -> None:
    """Every group gathers more items each week (analyst reports, webinars, AI summaries)."""

    def change(state: DealState, rows: np.ndarray) -> None:
        state.information_volume[rows] *= FLOOD_FACTOR

    cohort.update_running(change)


SHOCKS: dict[str, Shock] = {
    shock.key: shock
    for shock in (
        Shock(
            "sponsor_leaves",
            "The executive sponsor leaves",
            "The sponsor's influence falls to a fifth of what it was.",
            "Deals resting on one champion stall; vendors who built shared understanding across "
            "the group lose less.",
            sponsor_leaves,
        ),
        Shock(
            "stakeholder_joins",
            "A new stakeholder joins",
            "One member is replaced by a newcomer from legal and security with that role's "
            "priorities and none of the group's information.",
            "A newcomer reopens jobs the group thought were done: buying is a loop, not a funnel.",
            stakeholder_joins,
        ),
        Shock(
            "budget_freeze",
            "Budget freeze",
            "Scope the group means to buy falls by a fifth; the status quo looks better.",
            "No decision, not a competitor, is the biggest rival; regret grows when groups settle.",
            budget_freeze,
        ),
        Shock(
            "competitor_sense_making",
            "A competitor switches to sense-making",
            "Every competitor adopts the sense-making preset.",
            "Helping the group make sense of information is a competitive advantage only while "
            "rivals do not do it.",
            competitor_sense_making,
        ),
        Shock(
            "information_flood",
            "Information flood",
            f"Groups gather {FLOOD_FACTOR:g} times as many items per week.",
            "Buyers are overwhelmed by good information too: more content is not more help.",
            information_flood,
        ),
    )
}
