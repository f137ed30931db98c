"""Findings in words, written from a sweep's analysis tables: which strategy is best overall and
where it is not (scenario discovery boxes), which condition moves each metric most, and which
strategy holds up best across the conditions (robustness). The sweep report opens with these.

Each finding keeps the figures it states (``data``), so a test can check them against the
tables they come from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.explore.discovery import DiscoveryError, discover, level_text
from sim.palette import strategy_label

if TYPE_CHECKING:
    from sim.explore.store import SweepResults

MAX_DISCOVERY_METRICS = 3  # discovery runs for the first metrics only (a few seconds each)


@dataclass
class Finding:
    """One sentence of the findings, with its topic, metric and the figures behind it."""

    topic: str  # "best", "where", "effect" or "robustness"
    metric: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)


def _value(value: float) -> str:
    return "n/a" if pd.isna(value) else f"{value:.3f}"


def _name(metric: str) -> str:
    from sim.explore.analysis import label

    return label(metric)


def leaders(wins: pd.DataFrame, strategies: list[str]) -> dict[str, pd.Series]:
    """Per metric, the row of the wins table of the strategy best at most points (ties go to
    the earlier strategy in the sweep's list)."""
    rank = {name: i for i, name in enumerate(strategies)}
    result = {}
    for metric, part in wins.groupby("metric", sort=False):
        ordered = part.assign(_rank=part["strategy"].map(rank)).sort_values(
            ["points", "_rank"], ascending=[False, True], kind="stable"
        )
        result[str(metric)] = ordered.iloc[0]
    return result


def best_findings(results: SweepResults, wins: pd.DataFrame) -> list[Finding]:
    """Per metric: the strategy best at most points, how many of its wins are clear, and who
    wins the rest."""
    n_points = len(results.experiments)
    found = []
    for metric, row in leaders(wins, results.strategies).items():
        others = wins[(wins["metric"] == metric) & (wins["strategy"] != row["strategy"])]
        where = f"all {n_points}" if row["points"] == n_points else f"{int(row['points'])} of {n_points}"
        text = (f"{_name(metric)}: {strategy_label(row['strategy'])} is best at {where} points "
                f"({int(row['clear'])} clearly, the paired 95% CI of its margin over the runner-up "
                "excluding zero)")
        if not others.empty:
            text += "; " + ", ".join(
                f"{strategy_label(o.strategy)} at {int(o.points)} ({int(o.clear)} clearly)"
                for o in others.itertuples()
            )
        found.append(Finding("best", metric, text + ".", {
            "strategy": row["strategy"], "points": int(row["points"]), "clear": int(row["clear"]),
            "others": {o.strategy: int(o.points) for o in others.itertuples()},
        }))
    return found


def where_findings(results: SweepResults, wins: pd.DataFrame, best: pd.DataFrame,
                   metrics: list[str]) -> list[Finding]:
    """Scenario discovery for the first metrics: where each other strategy beats the overall
    leader (paired); when the leader wins everywhere, where its lead over the runner-up is
    larger than its median lead."""
    found = []
    for metric, row in leaders(wins, results.strategies).items():
        if metric not in metrics[:MAX_DISCOVERY_METRICS]:
            continue
        leader = str(row["strategy"])
        rivals = wins[(wins["metric"] == metric) & (wins["strategy"] != leader)]
        questions: list[tuple[tuple[str, str], float | None]] = [
            ((str(rival), leader), None) for rival in rivals["strategy"]
        ]
        part = best[(best["metric"] == metric) & (best["best"] == leader)]
        if not questions and "difference" in part and part["difference"].notna().any():
            runner = part["runner_up"].mode().iloc[0]
            margins = part.loc[part["runner_up"] == runner, "difference"].abs()
            questions.append(((leader, str(runner)), float(np.round(margins.median(), 3))))
        for pair, threshold in questions:
            try:
                discovery = discover(results, metric, pair, threshold=threshold)
            except DiscoveryError as error:
                # A strategy can lead a point by mean yet not on the paired deals (metrics over
                # purchases pair only the deals where both purchased).
                text = f"{_name(metric)}: {error}."
                if threshold is None:
                    from sim.explore.analysis import DIRECTION, point_contrast

                    margins = DIRECTION.get(metric, 1) * point_contrast(results, *pair, metric)["mean"]
                    text = (f"{_name(metric)}: {strategy_label(pair[0])} leads at some points by its "
                            f"mean, but on the deals paired with {strategy_label(pair[1])} it is never "
                            f"ahead (largest paired margin {margins.max():+.3f}).")
                found.append(Finding("where", metric, text, {"pair": pair}))
                continue
            box = discovery.boxes[0] if discovery.boxes else None
            found.append(Finding("where", metric, discovery.sentences[0], {
                "pair": pair, "threshold": threshold,
                "qualifying": int(discovery.cases["qualifies"].sum()),
                "limits": [] if box is None else list(box.limits["text"]),
                "coverage": None if box is None else box.coverage,
                "density": None if box is None else box.density,
            }))
    return found


def effect_findings(results: SweepResults, wins: pd.DataFrame, metrics: list[str]) -> list[Finding]:
    """Per metric: the swept condition that moves the leading strategy's mean most (deals
    pooled over the other conditions at each level), from its lowest to its highest level."""
    from sim.explore.analysis import marginal

    varied = [p for p in results.parameters if results.experiments[p].nunique() > 1]
    lead = leaders(wins, results.strategies)
    found = []
    for metric in metrics:
        if metric not in lead or not varied:
            continue
        strategy = str(lead[metric]["strategy"])
        spans = []
        for parameter in varied:
            table = marginal(results, parameter, [metric])
            line = table[table["strategy"] == strategy].dropna(subset=["mean"]).sort_values(parameter)
            if len(line) < 2:
                continue
            spans.append((float(line["mean"].max() - line["mean"].min()), parameter, line))
        if not spans:
            continue
        span, parameter, line = max(spans, key=lambda item: item[0])
        low, high = line.loc[line["mean"].idxmin()], line.loc[line["mean"].idxmax()]
        text = (f"{_name(metric)} under {strategy_label(strategy)} moves most with "
                f"{parameter.replace('_', ' ')}: from {_value(low['mean'])} at {level_text(low[parameter])} "
                f"to {_value(high['mean'])} at {level_text(high[parameter])} (other conditions pooled).")
        found.append(Finding("effect", metric, text, {"strategy": strategy, "parameter": parameter,
                                                      "range": span}))
    return found


def robustness_findings(robust: pd.DataFrame) -> list[Finding]:
    """Per metric: the strategy with the smallest maximum regret (ties: the better mean), its
    worst case, and the largest shortfall of the others; satisficing shares when given."""
    from sim.explore.analysis import DIRECTION

    found = []
    for metric, part in robust.groupby("metric", sort=False):
        direction = DIRECTION.get(str(metric), 1)
        ordered = part.assign(_mean=-direction * part["mean"]).sort_values(
            ["max_regret", "_mean"], kind="stable"
        )
        top = ordered.iloc[0]
        worst = ordered.iloc[-1]
        text = (f"Most robust on {_name(str(metric)).lower()}: {strategy_label(top['strategy'])} "
                f"(maximum regret {_value(top['max_regret'])}, worst point mean {_value(top['worst'])})")
        if len(ordered) > 1:
            text += (f"; {strategy_label(worst['strategy'])} falls furthest behind the best strategy "
                     f"at a point, by {_value(worst['max_regret'])}")
        if "satisficing" in part and part["satisficing"].notna().any():
            side = ">=" if direction > 0 else "<="
            text += (f"; share of points meeting {side} {part['threshold'].iloc[0]:g}: " + ", ".join(
                f"{strategy_label(r.strategy)} {r.satisficing:.0%}" for r in part.itertuples()))
        found.append(Finding("robustness", str(metric), text + ".", {
            "strategy": top["strategy"], "max_regret": float(top["max_regret"]),
            "furthest": worst["strategy"], "furthest_regret": float(worst["max_regret"]),
        }))
    return found


def findings(
    results: SweepResults,
    metrics: list[str],
    best: pd.DataFrame,
    wins: pd.DataFrame,
    robust: pd.DataFrame,
) -> list[Finding]:
    """The report's opening findings, from its own tables (best-per-point, wins, robustness):
    best strategies, where they are not best, the strongest condition effects, robustness."""
    if wins.empty:
        return []
    ordered = [m for m in metrics if m in set(wins["metric"])]
    return [
        *best_findings(results, wins),
        *where_findings(results, wins, best, ordered),
        *effect_findings(results, wins, ordered),
        *robustness_findings(robust),
    ]
