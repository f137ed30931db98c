"""Strategy conclusions across parameter uncertainty: the ensemble of acceptable fits.

Calibration keeps every fit whose objective is close to the best (``scenarios/ensemble.toml``,
written by ``buyingsim calibrate --write``). A conclusion such as "sense-making beats
seller-led on purchase ease" is only as strong as the share of acceptable fits in which it
holds: :func:`strategy_robustness` reruns the strategy comparison on the same deals under each
member and reports, per metric and pair of strategies, that share and the spread of the paired
difference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import permutations
from pathlib import Path

import numpy as np
import pandas as pd

from sim.results import DIRECTION, HEADLINE, METRICS, Results
from sim.scenario import DEFAULTS_FILE, Scenario, ScenarioError, load_scenario, read_toml_file
from sim.strategies import BUILTIN_STRATEGIES

ENSEMBLE_FILE = DEFAULTS_FILE.with_name("ensemble.toml")


@dataclass(frozen=True)
class Member:
    """One acceptable fit: its objective and its behaviour parameters."""

    objective: float
    behaviour: dict[str, float]


def load_ensemble(path: str | Path = ENSEMBLE_FILE) -> list[Member]:
    """The acceptable fits stored by calibration, best first (a ScenarioError if none)."""
    path = Path(path)
    if not path.exists():
        raise ScenarioError(f"{path}: no ensemble of fits; run `buyingsim calibrate --write` to make one")
    data = read_toml_file(path)
    members = data.get("member", [])
    if not isinstance(members, list) or not members:
        raise ScenarioError(f"{path}: field member: needs at least one [[member]] table")
    result = []
    for index, member in enumerate(members):
        behaviour = member.get("behaviour") if isinstance(member, dict) else None
        if not isinstance(behaviour, dict):
            raise ScenarioError(f"{path}: field member[{index}].behaviour: must be a table of parameters")
        result.append(Member(float(member.get("objective", np.nan)), dict(behaviour)))
    return result


def member_scenario(base: Scenario, member: Member) -> Scenario:
    """The scenario with one member's behaviour parameters."""
    return base.with_overrides({f"behaviour.{name}": value for name, value in member.behaviour.items()})


def paired_differences(runs: dict[str, pd.DataFrame], metrics: list[str], seed: int) -> pd.DataFrame:
    """Mean paired difference (first - second) with 95% CI for every ordered pair of strategies
    run on the same deals (``seed``), as :meth:`sim.results.Results.compare` pairs them."""
    tables = []
    for first, second in permutations(runs, 2):
        compared = Results(runs[second], seed=seed).compare(Results(runs[first], seed=seed), metrics)
        tables.append(compared[["difference", "ci_low", "ci_high", "n"]].reset_index().assign(
            first=first, second=second))  # fmt: skip
    return pd.concat(tables, ignore_index=True)[
        ["metric", "first", "second", "difference", "ci_low", "ci_high", "n"]
    ]


def strategy_runs(
    scenario: Scenario, strategies: list[str], n_deals: int, seed: int
) -> dict[str, pd.DataFrame]:
    """The same deals under each focal strategy (common random numbers)."""
    from sim.engine import simulate_frame

    return {name: simulate_frame(scenario, n_deals, seed, name) for name in strategies}


def strategy_robustness(
    scenario: str | Path | Scenario = "baseline",
    n_deals: int = 2000,
    seed: int = 0,
    strategies: list[str] | None = None,
    metrics: list[str] | None = None,
    members: list[Member] | None = None,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Per metric and ordered pair (first, second): the share of acceptable fits in which
    ``first`` is better than ``second`` with a 95% CI clear of zero (``share_better``), in which
    it is worse (``share_worse``), and the mean, lowest and highest paired difference across
    the fits. ``progress(1)`` is called after each member."""
    base = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    strategies = strategies or list(BUILTIN_STRATEGIES)
    metrics = metrics or list(HEADLINE)
    members = load_ensemble() if members is None else members
    tables = []
    for index, member in enumerate(members):
        runs = strategy_runs(member_scenario(base, member), strategies, n_deals, seed)
        table = paired_differences(runs, metrics, seed)
        table["member"] = index
        tables.append(table)
        if progress is not None:
            progress(1)
    every = pd.concat(tables, ignore_index=True)
    sign = every["metric"].map(DIRECTION).fillna(1)
    every["better"] = np.where(sign > 0, every["ci_low"] > 0, every["ci_high"] < 0)
    every["worse"] = np.where(sign > 0, every["ci_high"] < 0, every["ci_low"] > 0)
    summary = every.groupby(["metric", "first", "second"], sort=False).agg(
        share_better=("better", "mean"),
        share_worse=("worse", "mean"),
        mean_difference=("difference", "mean"),
        lowest=("difference", "min"),
        highest=("difference", "max"),
        members=("member", "nunique"),
    )
    return summary.reset_index()


def conclusions(robustness: pd.DataFrame, reference: str = "seller_led") -> list[str]:
    """One sentence per metric and strategy against ``reference``, with its robustness share."""
    sentences = []
    rows = robustness[robustness["second"] == reference]
    for row in rows.itertuples(index=False):
        label = METRICS[row.metric][0].lower()
        if row.share_better >= 0.5:
            verb, share = "beats", row.share_better
        elif row.share_worse >= 0.5:
            verb, share = "loses to", row.share_worse
        else:
            sentences.append(
                f"{row.first} vs {reference} on {label}: no clear winner "
                f"(better in {row.share_better:.0%}, worse in {row.share_worse:.0%} of acceptable fits)"
            )
            continue
        sentences.append(
            f"{row.first} {verb} {reference} on {label} in {share:.0%} of {row.members} acceptable fits "
            f"(paired difference {row.mean_difference:+.3f}, range {row.lowest:+.3f} to {row.highest:+.3f})"
        )
    return sentences
