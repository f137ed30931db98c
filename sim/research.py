"""The research figures the default calibration must reproduce, computed from per-deal tables.

Each figure is a function of the simulated per-deal table (never a stored value), with the
target and acceptance band from the buying-journey research (Gartner, via the seeds in the
design document). Definitions are repeated in docs/ODD.md, section "Research figures".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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
        "journeys revisiting at least one job",
        0.92,
        0.85,
        1.0,
        lambda d: d["revisited_any_job"].mean(),
        source="Gartner: looping, >= 90%",
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
