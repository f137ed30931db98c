"""The research figures the default calibration must reproduce, computed from per-deal tables.

Each figure is a function of the simulated per-deal table (never a stored value), with the
target and acceptance band from the buying-journey research (Gartner, via the seeds in the
design document). Definitions are repeated in docs/ODD.md, section "Research figures".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Figure:
    """One research figure: how to compute it from deals, its target and acceptance band."""

    key: str
    label: str
    target: float
    low: float
    high: float
    compute: Callable[[pd.DataFrame], float]
    unit: str = "share"  # "share" (0-1), "ratio" (x times) or "change" (relative, per stage)
    source: str = ""
    judged: bool = False  # depends on judgement columns (sim.outcomes.judge), not only dynamics

    def passes(self, value: float) -> bool:
        return bool(np.isfinite(value) and self.low <= value <= self.high)

    def miss(self, value: float) -> float:
        """Distance to the target in units of the band's half-width (0 at target)."""
        if not np.isfinite(value):
            return 10.0
        half = (self.high - self.low) / 2
        return (value - self.target) / half


def _purchases(deals: pd.DataFrame) -> pd.DataFrame:
    return deals[deals["purchased"]]


def likelihood_ratio(deals: pd.DataFrame, outcome: str, condition: str = "helpful_info") -> float:
    """P(outcome | condition) / P(outcome | not condition)."""
    given = deals.loc[deals[condition], outcome].mean()
    given_not = deals.loc[~deals[condition], outcome].mean()
    if not given_not or not np.isfinite(given_not):
        return float("nan")
    return float(given / given_not)


def win_change_per_stage(deals: pd.DataFrame) -> float:
    """Relative change in the focal win probability per stage the seller runs ahead.

    Log-linear fit of the focal win rate on the stages of misalignment (deals with focal
    meetings, binned to whole stages, weighted by deal counts): returns exp(slope) - 1,
    e.g. -0.22 means each stage of misalignment cuts the win probability by 22%.
    """
    met = deals[deals["focal_meetings"] > 0]
    stages = np.clip(np.round(met["misalignment_stages"]), 0, 3)
    table = met.groupby(stages)["focal_win"].agg(["mean", "size"])
    table = table[(table["size"] >= 30) & (table["mean"] > 0)]
    if len(table) < 2:
        return float("nan")
    slope = np.polyfit(table.index.to_numpy(float), np.log(table["mean"]), 1, w=np.sqrt(table["size"]))[0]
    return float(np.exp(slope) - 1)


FIGURES: list[Figure] = [
    Figure(
        "supplier_time",
        "time with all suppliers",
        0.17,
        0.14,
        0.20,
        lambda d: d["supplier_time_share"].mean(),
        source="Gartner: 17% of buying time",
    ),
    Figure(
        "rep_time",
        "time with one rep (3 compared)",
        0.055,
        0.035,
        0.075,
        lambda d: d["focal_rep_time_share"].mean(),
        source="Gartner: 5-6% with any one rep",
    ),
    Figure(
        "revisited",
        "buying journeys that went back to at least one job",
        0.92,
        0.85,
        1.0,
        lambda d: d["revisited_any_job"].mean(),
        source="Gartner: looping, about 90% revisit at least one job",
    ),
    Figure(
        "complex",
        "purchases called very complex or difficult",
        0.77,
        0.70,
        0.85,
        lambda d: _purchases(d)["complex_or_difficult"].mean(),
        judged=True,
        source="Gartner: 77%",
    ),
    Figure(
        "helpful_ease",
        "helpful info -> high purchase ease (x)",
        2.8,
        2.2,
        3.4,
        lambda d: likelihood_ratio(_purchases(d), "high_ease"),
        unit="ratio",
        judged=True,
        source="Gartner: 2.8x as likely",
    ),
    Figure(
        "helpful_deal",
        "helpful info -> bigger deal, less regret (x)",
        3.0,
        2.2,
        3.8,
        lambda d: likelihood_ratio(_purchases(d), "bigger_deal_less_regret"),
        unit="ratio",
        judged=True,
        source="Gartner: 3x as likely",
    ),
    Figure(
        "misalignment",
        "win probability per stage seller is ahead",
        -0.225,
        -0.30,
        -0.15,
        win_change_per_stage,
        unit="change",
        source="seed 003: -20 to -25% per stage",
    ),
    Figure(
        "no_decision",
        "buying efforts ending in no decision",
        0.50,
        0.38,
        0.62,
        lambda d: d["no_decision"].mean(),
        source="40-60% end in no decision",
    ),
    Figure(
        "high_quality",
        "high-quality deals among purchases",
        0.22,
        0.15,
        0.30,
        lambda d: _purchases(d)["high_quality_deal"].mean(),
        judged=True,
        source="Gartner: 17-27%",
    ),
    Figure(
        "high_regret",
        "high regret among purchases",
        0.56,
        0.45,
        0.65,
        lambda d: _purchases(d)["high_regret"].mean(),
        judged=True,
        source="Gartner: ~56%",
    ),
    Figure(
        "contradiction",
        "buyers who met contradictory information",
        0.44,
        0.35,
        0.55,
        lambda d: d["met_contradiction"].mean(),
        source="Gartner: 44%",
    ),
    Figure(
        "overwhelmed",
        "buyers who felt overwhelmed",
        0.50,
        0.40,
        0.60,
        lambda d: d["overwhelmed"].mean(),
        judged=True,
        source="Gartner: ~50%",
    ),
]
FIGURE_BY_KEY = {figure.key: figure for figure in FIGURES}


def figure_values(deals: pd.DataFrame) -> dict[str, float]:
    """Every research figure computed from one per-deal table."""
    return {figure.key: float(figure.compute(deals)) for figure in FIGURES}


def figure_table(deals: pd.DataFrame) -> pd.DataFrame:
    """Target, band, simulated value and pass/miss for every figure."""
    rows = []
    for figure in FIGURES:
        value = float(figure.compute(deals))
        rows.append(
            {
                "figure": figure.key,
                "label": figure.label,
                "target": figure.target,
                "low": figure.low,
                "high": figure.high,
                "simulated": value,
                "pass": figure.passes(value),
            }
        )
    return pd.DataFrame(rows).set_index("figure")


@dataclass(frozen=True)
class HeldOutPattern:
    """A pattern from the research kept out of the calibration objective: the model predicts it.

    ``compute`` returns the pattern's value from a market per-deal table; the pattern holds when
    the value lies in [low, high]. Declared in docs/validation.md (part 2) before fitting."""

    key: str
    label: str
    low: float
    high: float
    compute: Callable[[pd.DataFrame], float]
    source: str
    # Scenario overrides of the run the pattern needs (e.g. small groups); empty: the market run.
    overrides: dict = field(default_factory=dict)

    def holds(self, value: float) -> bool:
        return bool(np.isfinite(value) and self.low <= value <= self.high)


def revisit_breadth(deals: pd.DataFrame) -> float:
    """Mean number of distinct jobs (of six) reopened in journeys that ended in a purchase."""
    return float(_purchases(deals)["jobs_reopened"].mean())


def least_reopened_job_share(deals: pd.DataFrame) -> float:
    """Share of purchasing journeys that reopened the least-reopened job."""
    purchases = _purchases(deals)
    columns = [column for column in deals.columns if column.startswith("loops_") and column != "loops_total"]
    return float(min((purchases[column] > 0).mean() for column in columns))


def conflict_behind_regret(deals: pd.DataFrame) -> float:
    """Mean conflict level of high-regret purchases minus that of the other purchases."""
    purchases = _purchases(deals)
    high = purchases["high_regret"].astype(bool)
    return float(purchases.loc[high, "conflict_level"].mean() - purchases.loc[~high, "conflict_level"].mean())


def status_quo_share(deals: pd.DataFrame) -> float:
    """Share of no-decisions that ended with an explicit decision to keep the status quo."""
    abandoned = deals[deals["no_decision"]]
    return float((abandoned["end_reason"] == "status_quo").mean())


def favourite_wins(deals: pd.DataFrame) -> float:
    """Share of purchases that bought the favourite at the end of supplier selection."""
    return float(_purchases(deals)["favourite_won"].mean())


def size_gradient(deals: pd.DataFrame) -> float:
    """Purchase rate of groups of 1-3 minus that of groups of 6 or more (NaN without both)."""
    small = deals.loc[deals["group_size"] <= 3, "purchased"]
    large = deals.loc[deals["group_size"] >= 6, "purchased"]
    if small.empty or large.empty:
        return float("nan")
    return float(small.mean() - large.mean())


def quality_by_size(deals: pd.DataFrame) -> float:
    """High-quality share of purchases by groups of 9-10 minus that of groups of 6-7."""
    purchases = _purchases(deals)
    large = purchases.loc[purchases["group_size"] >= 9, "high_quality_deal"]
    small = purchases.loc[purchases["group_size"] <= 7, "high_quality_deal"]
    if large.empty or small.empty:
        return float("nan")
    return float(large.mean() - small.mean())


HELD_OUT: list[HeldOutPattern] = [
    HeldOutPattern(
        "revisit_breadth", "distinct jobs reopened per purchasing journey", 3.0, 6.0, revisit_breadth,
        "Gartner 2018: most buyers revisit nearly every job before purchase",
    ),
    HeldOutPattern(
        "least_reopened_job", "purchasing journeys reopening the least-reopened job", 0.20, 1.0,
        least_reopened_job_share, "Gartner 2018: nearly every job is revisited",
    ),
    HeldOutPattern(
        "conflict_behind_regret", "conflict of high-regret minus other purchases", 0.01, 1.0,
        conflict_behind_regret, "Barnes 2022: 89% of high-regret purchases had conflicting objectives",
    ),
    HeldOutPattern(
        "status_quo_share", "no-decisions ended by a status-quo decision", 0.25, 0.65, status_quo_share,
        "JOLT 2022: 44% status-quo preference, 56% indecision",
    ),
    HeldOutPattern(
        "favourite_wins", "purchases of the favourite at the end of selection", 0.65, 0.95, favourite_wins,
        "6sense: the favourite at the end of selection wins about 8 of 10",
    ),
    HeldOutPattern(
        "size_gradient", "purchase rate of 1-3 person groups minus 6+", 0.0, 1.0, size_gradient,
        "HBR 2015 (from memory): 81% with one decision maker, 31% with six",
        {"population.group_sizes": [1, 2, 3, 6, 7, 8, 9, 10],
         "population.group_size_weights": [1, 1, 1, 1, 1, 1, 1, 1]},
    ),
    HeldOutPattern(
        "quality_by_size", "high-quality share, groups of 9-10 minus 6-7", -0.10, 0.10, quality_by_size,
        "Barnes 2019/2023: high-quality share flat by deal and company size",
    ),
]  # fmt: skip
