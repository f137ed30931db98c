"""One budget of vendor effort: what each lever of a strategy costs.

Rep time, content production, tailoring, diagnosing the group's job, resolving contradictions,
surfacing unshared items and pruning overload all draw on the same effort, measured in units
of an average vendor's weekly rep time. Persuasion (a bias in claims) and the share of items
given to the whole group (a way of delivering, not more of it) cost nothing. A strategy that
spends more than the budget has every costly lever scaled down by the same factor before the
weekly dynamics see it (``within_budget``), so no strategy gets sense-making for free.
"""

from __future__ import annotations

from sim.strategies import Strategy

# The effort budget of a focal vendor (and of each competitor) per week, in rep-time units.
# The three built-in strategies are written to spend it, none above it (tests hold them to it).
DEFAULT_EFFORT_BUDGET = 2.5

# Effort per unit of each lever. Digital content costs per unit of volume, more when better
# (``DIGITAL_BASE_COST + DIGITAL_QUALITY_COST * quality``), so it appears below as a rule.
LEVER_COSTS: dict[str, float] = {
    "meeting_time": 1.0,  # rep time itself
    "tailoring": 0.4,  # per-person versions of items
    "stage_alignment": 0.2,  # reading which job the group is on
    "resolve_contradictions": 1.0,  # reps reconciling conflicting items (rep time)
    "surface_unshared": 0.5,  # facilitating the group so unshared items get voiced
    "prune_overload": 0.4,  # curating what the group already holds
}
DIGITAL_BASE_COST = 0.3
DIGITAL_QUALITY_COST = 0.7
# Levers that cost nothing: a bias of claims and a way of delivering items.
FREE_LEVERS = ("persuasion", "group_level")
# Levers scaled down when a strategy spends over the budget.
SCALED_LEVERS = (*LEVER_COSTS, "digital_volume")


def lever_costs(strategy: Strategy) -> dict[str, float]:
    """Effort each costly lever of ``strategy`` uses per week."""
    costs = {name: per_unit * getattr(strategy, name) for name, per_unit in LEVER_COSTS.items()}
    costs["digital_volume"] = strategy.digital_volume * (
        DIGITAL_BASE_COST + DIGITAL_QUALITY_COST * strategy.digital_quality
    )
    return costs


def effort_used(strategy: Strategy) -> float:
    """Total weekly effort ``strategy`` asks for, in rep-time units."""
    return float(sum(lever_costs(strategy).values()))


def within_budget(strategy: Strategy, budget: float = DEFAULT_EFFORT_BUDGET) -> Strategy:
    """``strategy`` as delivered under ``budget``: unchanged if it fits, otherwise every
    costly lever scaled by ``budget / effort_used`` (quality and the free levers kept)."""
    used = effort_used(strategy)
    if used <= budget or used == 0.0:
        return strategy
    factor = budget / used
    return strategy.model_copy(update={name: getattr(strategy, name) * factor for name in SCALED_LEVERS})
