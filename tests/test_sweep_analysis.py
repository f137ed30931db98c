"""Sweep analysis on a hand-made results set whose answers are known: per-point means and CIs
(as sim.results.mean_ci), the best strategy and its paired difference to the runner-up,
purchase-only metrics, and marginal means against a parameter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.explore.analysis import best_strategies, marginal, outcomes_table, point_summary, win_counts
from sim.explore.store import SweepResults
from sim.results import mean_ci


def results_with(deals: pd.DataFrame, experiments: pd.DataFrame,
                 strategies: list[str]) -> SweepResults:
    manifest = {"parameters": [{"name": c} for c in experiments.columns
                               if c not in ("point", "seed")],
                "strategies": strategies,
                "spec": {"name": "synthetic", "outcomes": ["purchase_ease", "regret"]}}
    return SweepResults(Path("."), manifest, experiments, deals, complete=True)


@pytest.fixture
def synthetic() -> SweepResults:
    """Two points x three strategies x 400 deals. At point 0, B beats A by exactly 0.1 ease on
    every deal (plus shared noise) and C trails; at point 1, A and B swap."""
    rng = np.random.default_rng(0)
    rows = []
    for point, shift in ((0, 0.1), (1, -0.1)):
        customer = rng.uniform(0.2, 0.6, 400)  # the same deals under every strategy
        purchased = rng.uniform(size=400) < 0.5
        for strategy, ease in (("A", customer), ("B", customer + shift),
                               ("C", customer - 0.15)):
            rows.append(pd.DataFrame({
                "point": point, "strategy": strategy, "deal": np.arange(400),
                "purchase_ease": ease, "purchased": purchased,
                "regret": np.where(purchased, ease / 2, np.nan)}))
    deals = pd.concat(rows, ignore_index=True)
    experiments = pd.DataFrame({"point": [0, 1], "seed": [11, 12], "conflict_level": [0.2, 0.8]})
    return results_with(deals, experiments, ["A", "B", "C"])


def test_point_summary_matches_mean_ci(synthetic):
    summary = point_summary(synthetic)
    assert len(summary) == 2 * 3 * 2
    row = summary[(summary.point == 1) & (summary.strategy == "C") &
                  (summary.metric == "purchase_ease")].iloc[0]
    deals = synthetic.deals
    values = deals[(deals.point == 1) & (deals.strategy == "C")]["purchase_ease"]
    assert (row["mean"], row["ci_low"], row["ci_high"], row["n"]) == pytest.approx(mean_ci(values))
    assert row["conflict_level"] == 0.8
    regret = summary[(summary.metric == "regret")]
    assert set(regret["over"]) == {"purchases"}
    purchases = int(deals[(deals.point == 0) & (deals.strategy == "A")]["purchased"].sum())
    assert regret[(regret.point == 0) & (regret.strategy == "A")]["n"].item() == purchases


def test_best_strategy_and_paired_difference(synthetic):
    best = best_strategies(synthetic).set_index(["point", "metric"])
    ease0, ease1 = best.loc[(0, "purchase_ease")], best.loc[(1, "purchase_ease")]
    assert (ease0["best"], ease0["runner_up"]) == ("B", "A")
    assert (ease1["best"], ease1["runner_up"]) == ("A", "B")
    # paired on the same deals, the difference is exactly the shift: a zero-width CI
    assert ease0["difference"] == pytest.approx(0.1)
    assert ease0["ci_high"] - ease0["ci_low"] == pytest.approx(0, abs=1e-9)
    assert ease0["clear"] and ease0["n_paired"] == 400
    # lower regret is better: C has the lowest regret
    regret = best.loc[(0, "regret")]
    assert regret["best"] == "C" and regret["difference"] < 0 and regret["clear"]
    assert regret["n_paired"] == synthetic.deals.query("point == 0 and strategy == 'A'")[
        "purchased"].sum()
    wins = win_counts(best_strategies(synthetic)).set_index(["metric", "strategy"])
    assert wins.loc[("purchase_ease", "A"), "points"] == 1
    assert wins.loc[("purchase_ease", "B"), "clear"] == 1


def test_marginal_and_outcomes_table(synthetic):
    table = marginal(synthetic, "conflict_level", ["purchase_ease"])
    assert len(table) == 2 * 3
    a_high = table[(table.conflict_level == 0.8) & (table.strategy == "A")]["mean"].item()
    deals = synthetic.deals
    assert a_high == pytest.approx(deals.query("point == 1 and strategy == 'A'")[
        "purchase_ease"].mean())
    flat = outcomes_table(synthetic)
    assert list(flat.columns[:4]) == ["point", "seed", "conflict_level", "strategy"]
    assert len(flat) == 6 and {"purchase_ease", "regret"} <= set(flat.columns)


def test_paired_difference_overall_and_by_parameter(synthetic):
    from sim.explore.analysis import paired_difference

    by_level = paired_difference(synthetic, "B", "A", "purchase_ease", by="conflict_level")
    assert by_level.set_index("conflict_level")["mean"].to_dict() == pytest.approx(
        {0.2: 0.1, 0.8: -0.1})
    overall = paired_difference(synthetic, "B", "A", "purchase_ease")
    assert overall["mean"].item() == pytest.approx(0.0, abs=1e-12)
    assert overall["n"].item() == 800


def test_many_distinct_values_are_binned_for_plots():
    from sim.explore.analysis import levels

    few = pd.Series([0.2, 0.5, 0.8, 0.5])
    assert levels(few).equals(few)
    many = pd.Series(np.linspace(0, 1, 40))
    binned = levels(many, max_levels=8)
    assert binned.nunique() == 8
    assert binned.is_monotonic_increasing and binned.between(0, 1).all()
    names = pd.Series(["a", "b"] * 10)
    assert levels(names).equals(names)


@pytest.fixture
def grid_of_four() -> SweepResults:
    """Four points on a 2 x 2 grid; the strategies purchase on different deals, so a metric
    over purchases must be paired on the deals where both purchased."""
    rng = np.random.default_rng(3)
    rows = []
    for point in range(4):
        customer = rng.uniform(0.1, 0.5, 300)
        for strategy, shift, buy_rate in (("A", 0.0, 0.4), ("B", -0.05, 0.7)):
            purchased = rng.uniform(size=300) < buy_rate
            regret = customer + shift + rng.normal(0, 0.01, 300)
            rows.append(pd.DataFrame({
                "point": point, "strategy": strategy, "deal": np.arange(300),
                "purchase_ease": customer - shift, "purchased": purchased,
                "regret": np.where(purchased, regret, np.nan)}))
    deals = pd.concat(rows, ignore_index=True)
    experiments = pd.DataFrame({"point": range(4), "seed": range(4),
                                "conflict_level": [0.2, 0.8, 0.2, 0.8], "group_size": [6, 6, 9, 9]})
    return results_with(deals, experiments, ["A", "B"])


@pytest.mark.parametrize("metric", ["purchase_ease", "regret"])
def test_heatmap_margins_are_the_tables_paired_differences(grid_of_four, metric):
    """One point per cell: the heatmap's margin, its sign and its clarity equal the best-per-
    point table's (regret is lower for B, so the difference is negative, not its size)."""
    from sim.explore.analysis import heatmap_margins

    margins = heatmap_margins(grid_of_four, "conflict_level", "group_size", metric)
    table = best_strategies(grid_of_four, [metric]).set_index(["conflict_level", "group_size"])
    assert len(margins) == 4
    for cell in margins.itertuples():
        row = table.loc[(cell.conflict_level, cell.group_size)]
        assert cell.best == row["best"] == "B"
        assert cell.difference == pytest.approx(row["difference"])
        assert (cell.ci_low, cell.ci_high, cell.n_paired) == pytest.approx(
            (row["ci_low"], row["ci_high"], row["n_paired"]))
        assert cell.clear == row["clear"]
    if metric == "regret":
        assert (margins["difference"] < 0).all()
        # Not the gap between the two strategies' means over their own purchases.
        means = grid_of_four.deals.groupby(["point", "strategy"])["regret"].mean().unstack()
        assert not np.allclose(margins.sort_values(["group_size", "conflict_level"])["difference"],
                               (means["B"] - means["A"]).to_numpy(), atol=1e-3)


def test_robustness_regret_is_the_paired_shortfall_to_the_best_at_each_point(synthetic):
    """Point 0: B best, A behind by 0.1, C by 0.25; point 1: A best, B behind by 0.1, C by
    0.15 (every deal the same customer): so the maximum regrets are 0.1, 0.1 and 0.25."""
    table = synthetic.robustness(["purchase_ease"], {"purchase_ease": 0.33}).set_index("strategy")
    assert table.loc["A", "max_regret"] == pytest.approx(0.1)
    assert table.loc["B", "max_regret"] == pytest.approx(0.1)
    assert table.loc["C", "max_regret"] == pytest.approx(0.25)
    assert (table.loc["A", "max_regret_point"], table.loc["B", "max_regret_point"]) == (0, 1)
    means = synthetic.deals.groupby(["strategy", "point"])["purchase_ease"].mean().unstack()
    for strategy in "ABC":
        assert table.loc[strategy, "mean"] == pytest.approx(means.loc[strategy].mean())
        assert table.loc[strategy, "worst"] == pytest.approx(means.loc[strategy].min())
        expected = (means.loc[strategy] >= 0.33).mean()
        assert table.loc[strategy, "satisficing"] == pytest.approx(expected)
    assert 0 < table["satisficing"].sum() < 3  # the threshold splits the points


def test_robustness_of_a_lower_is_better_metric(synthetic):
    """Regret: lower is better, so the worst case is the highest point mean, and the best
    strategy at every point has no regret; over purchases the pairing uses common purchases."""
    table = synthetic.robustness(["regret"], {"regret": 0.2}).set_index("strategy")
    means = synthetic.deals.groupby(["strategy", "point"])["regret"].mean().unstack()
    assert table.loc["C", "max_regret"] == 0  # C has the lowest regret at both points
    assert pd.isna(table.loc["C", "max_regret_point"])
    for strategy in "ABC":
        assert table.loc[strategy, "worst"] == pytest.approx(means.loc[strategy].max())
        assert table.loc[strategy, "satisficing"] == pytest.approx((means.loc[strategy] <= 0.2).mean())
    assert table.loc["A", "max_regret"] > 0 and table.loc["B", "max_regret"] > 0
