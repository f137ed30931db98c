"""Analysis of stored sweep results: per-point metrics with 95% CIs, the best strategy per
point with the paired difference to the runner-up, paired contrasts, robustness, marginal
effects of each swept parameter.

Confidence intervals use the same normal approximation as :func:`sim.results.mean_ci`; metrics
over purchases (deal size, regret, ...) are measured on the deals that purchased, and paired
differences on the deals where both strategies purchased (as :meth:`sim.results.Results.compare`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.results import DIRECTION, METRICS, Z95, mean_ci

if TYPE_CHECKING:
    from sim.explore.store import SweepResults





MAX_LEVELS = 8  # a parameter with more distinct values is binned for plots and heatmaps


def label(metric: str) -> str:
    return METRICS[metric][0] if metric in METRICS else metric.replace("_", " ").capitalize()


def subset(metric: str) -> str:
    """``all`` or ``purchases``: which deals a metric is measured on."""
    return METRICS[metric][1] if metric in METRICS else "all"


def _values(deals: pd.DataFrame, metric: str) -> pd.Series:
    """The metric as floats, NaN on deals outside its subset."""
    values = deals[metric].astype(float)
    if subset(metric) == "purchases":
        values = values.where(deals["purchased"].astype(bool))
    return values


def _grouped_ci(values: pd.Series, keys: list[pd.Series]) -> pd.DataFrame:
    """Mean, 95% CI and count of ``values`` by ``keys`` (NaNs skipped), vectorised."""
    grouped = values.groupby(keys, sort=True, observed=True)
    table = pd.DataFrame({"mean": grouped.mean(), "sd": grouped.std(ddof=1), "n": grouped.count()})
    half = Z95 * table["sd"] / np.sqrt(table["n"].where(table["n"] > 1))
    table["ci_low"] = table["mean"] - half
    table["ci_high"] = table["mean"] + half
    return table.drop(columns="sd")[["mean", "ci_low", "ci_high", "n"]]


def _metrics(results: SweepResults, metrics: list[str] | None) -> list[str]:
    return [m for m in (metrics or results.outcomes) if m in results.deals.columns]


def point_summary(results: SweepResults, metrics: list[str] | None = None) -> pd.DataFrame:
    """One row per point, strategy and metric: mean, 95% CI and n, with the point's parameter
    values (a flat experiments-plus-outcomes table)."""
    deals = results.deals
    frames = []
    for metric in _metrics(results, metrics):
        table = _grouped_ci(_values(deals, metric), [deals["point"], deals["strategy"]])
        table = table.reset_index()
        table.insert(2, "metric", metric)
        table.insert(3, "over", subset(metric))
        frames.append(table)
    if not frames:
        return pd.DataFrame(columns=["point", "strategy", "metric", "over", "mean", "ci_low", "ci_high", "n"])
    summary = pd.concat(frames, ignore_index=True)
    summary = results.experiments.drop(columns="seed").merge(summary, on="point")
    strategy_rank = summary["strategy"].map({s: i for i, s in enumerate(results.strategies)})
    metric_rank = summary["metric"].map({m: i for i, m in enumerate(_metrics(results, metrics))})
    ranks = pd.DataFrame({"point": summary["point"], "metric": metric_rank, "strategy": strategy_rank})
    return summary.loc[ranks.sort_values(["point", "metric", "strategy"]).index].reset_index(drop=True)


def outcomes_table(results: SweepResults, metrics: list[str] | None = None) -> pd.DataFrame:
    """EMA-style flat table: one row per point and strategy, parameters then metric means."""
    summary = point_summary(results, metrics)
    wide = summary.pivot_table(
        index=["point", "strategy"], columns="metric", values="mean", sort=False
    ).reset_index()
    wide.columns.name = None
    return results.experiments.merge(wide, on="point")


def _wide(deals: pd.DataFrame, metric: str, strategies: list[str]) -> pd.DataFrame:
    """Metric values with one column per strategy, indexed by (point, deal): the pairing."""
    frame = pd.DataFrame(
        {
            "point": deals["point"],
            "deal": deals["deal"],
            "strategy": deals["strategy"],
            "value": _values(deals, metric),
        }
    )
    wide = frame.pivot(index=["point", "deal"], columns="strategy", values="value")
    return wide.reindex(columns=strategies)


def _ranked_points(results: SweepResults, summary: pd.DataFrame, metrics: list[str] | None) -> Iterator[
    tuple[str, int, pd.DataFrame, np.ndarray, pd.DataFrame]
]:
    """For each metric with a direction: its direction, the point means (points x strategies),
    the strategies ranked best first at each point (ties in strategy order) and the per-deal
    values for pairing (:func:`_wide`)."""
    for metric in _metrics(results, metrics):
        direction = DIRECTION.get(metric)
        if direction is None:
            continue
        means = summary[summary["metric"] == metric].pivot(index="point", columns="strategy", values="mean")
        means = means.reindex(columns=[s for s in results.strategies if s in means.columns])
        if means.shape[1] == 0:
            continue
        ranked = np.argsort(-direction * means.fillna(-direction * np.inf).to_numpy(), axis=1, kind="stable")
        yield metric, direction, means, ranked, _wide(results.deals, metric, list(means.columns))


def best_strategies(results: SweepResults, metrics: list[str] | None = None) -> pd.DataFrame:
    """Per point and metric with a direction: the best strategy by mean, the runner-up, and the
    paired difference best - runner-up on the same deals with its 95% CI.

    ``clear`` is True when the CI excludes zero in the best strategy's favour.
    """
    summary = point_summary(results, metrics)
    rows = []
    for metric, direction, means, ranked, wide in _ranked_points(results, summary, metrics):
        for row, point in enumerate(means.index):
            best = means.columns[ranked[row, 0]]
            record: dict[str, Any] = {
                "point": point,
                "metric": metric,
                "best": best,
                "best_mean": means.loc[point, best],
            }
            if means.shape[1] > 1:
                runner = means.columns[ranked[row, 1]]
                at_point = wide.loc[point]
                mean, low, high, n = _paired(at_point[best], at_point[runner])
                record.update(
                    runner_up=runner,
                    runner_up_mean=means.loc[point, runner],
                    difference=mean,
                    ci_low=low,
                    ci_high=high,
                    n_paired=n,
                    clear=bool(low > 0) if direction > 0 else bool(high < 0),
                )
            rows.append(record)
    best = pd.DataFrame(rows)
    if best.empty:
        return best
    return results.experiments.drop(columns="seed").merge(best, on="point")


def _paired(a: pd.Series, b: pd.Series) -> tuple[float, float, float, int]:
    """Mean of the paired differences ``a - b`` with its 95% CI and count."""
    return mean_ci((a - b).dropna())


def paired_difference(
    results: SweepResults, first: str, second: str, metric: str, by: str | None = None
) -> pd.DataFrame:
    """Mean paired difference ``first - second`` of a metric on the same deals with its 95%
    CI, overall or by level of one parameter (pooling the points at each level)."""
    wide = _wide(results.deals, metric, [first, second]).reset_index()
    wide["difference"] = wide[first] - wide[second]
    if by is None:
        keys = pd.Series("all", index=wide.index, name="over")
    else:
        keys = wide["point"].map(levels(results.experiments.set_index("point")[by])).rename(by)
    table = _grouped_ci(wide["difference"], [keys]).reset_index()
    table.insert(1, "metric", metric)
    return table


def point_contrast(results: SweepResults, first: str, second: str, metric: str) -> pd.DataFrame:
    """Per point: the paired difference ``first - second`` of a metric on the same deals, with
    its 95% CI and count (as :func:`best_strategies` pairs them), beside the point's parameter
    values."""
    wide = _wide(results.deals, metric, [first, second]).reset_index()
    table = _grouped_ci(wide[first] - wide[second], [wide["point"]]).reset_index()
    return results.experiments.drop(columns="seed").merge(table, on="point", how="left")


def robustness(
    results: SweepResults, metrics: list[str] | None = None, thresholds: dict[str, float] | None = None
) -> pd.DataFrame:
    """How each strategy holds up across all swept points, per metric with a direction.

    ``mean``: the average of its point means; ``worst``: its worst point mean (lowest where
    higher is better); ``max_regret``: its largest shortfall against the best strategy at a
    point, the paired difference on the same deals (as in :func:`best_strategies`), with the
    point where it happens (0 for a strategy that is best everywhere); with a threshold for the
    metric, ``satisficing``: the share of points where its mean meets it (at least the
    threshold where higher is better, at most where lower is better).
    """
    thresholds = thresholds or {}
    summary = point_summary(results, metrics)
    rows = []
    for metric, direction, means, ranked, wide in _ranked_points(results, summary, metrics):
        shortfall = pd.DataFrame(0.0, index=means.index, columns=means.columns)
        for row, point in enumerate(means.index):
            best = means.columns[ranked[row, 0]]
            for strategy in means.columns:
                if strategy != best:
                    difference = _paired(wide.loc[point, best], wide.loc[point, strategy])[0]
                    # Behind the best on the same deals; a paired difference in its favour is no
                    # shortfall (possible for metrics over purchases, paired on fewer deals).
                    shortfall.loc[point, strategy] = max(0.0, direction * difference)
        for strategy in means.columns:
            values = means[strategy].dropna()
            record: dict[str, Any] = {
                "metric": metric,
                "strategy": strategy,
                "points": len(values),
                "mean": values.mean(),
                "worst": values.min() if direction > 0 else values.max(),
                "max_regret": shortfall[strategy].max(),
                "max_regret_point": shortfall[strategy].idxmax() if shortfall[strategy].max() > 0 else None,
            }
            if metric in thresholds:
                meets = values >= thresholds[metric] if direction > 0 else values <= thresholds[metric]
                record.update(threshold=thresholds[metric], satisficing=float(meets.mean()))
            rows.append(record)
    table = pd.DataFrame(rows)
    if not table.empty:
        table["max_regret_point"] = table["max_regret_point"].astype("Int64")  # none: best everywhere
    return table


def win_counts(best: pd.DataFrame) -> pd.DataFrame:
    """Points each strategy wins per metric, and how many of those wins are clear."""
    if best.empty:
        return pd.DataFrame()
    wins = best.groupby(["metric", "best"], sort=False).agg(
        points=("point", "size"), clear=("clear", "sum") if "clear" in best else ("point", "size")
    )
    return wins.reset_index().rename(columns={"best": "strategy"})


def levels(values: pd.Series, max_levels: int = MAX_LEVELS) -> pd.Series:
    """Values as plot levels: unchanged when few distinct, else the midpoints of quantile bins."""
    if values.nunique() <= max_levels or not pd.api.types.is_numeric_dtype(values):
        return values
    bins = pd.qcut(values, q=max_levels, duplicates="drop")
    return bins.map(lambda interval: interval.mid).astype(float)


def marginal(results: SweepResults, parameter: str, metrics: list[str] | None = None) -> pd.DataFrame:
    """Each metric by level of one parameter and strategy, pooling the deals of all points at
    that level (other parameters averaged over the design)."""
    deals = results.deals
    level_of_point = levels(results.experiments.set_index("point")[parameter])
    level = deals["point"].map(level_of_point)
    frames = []
    for metric in _metrics(results, metrics):
        table = _grouped_ci(_values(deals, metric), [level.rename(parameter), deals["strategy"]])
        frames.append(table.reset_index().assign(metric=metric))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def pair_table(results: SweepResults, x: str, y: str, metric: str) -> pd.DataFrame:
    """A metric by levels of two parameters and strategy (pooled deals), for heatmaps."""
    deals = results.deals
    experiments = results.experiments.set_index("point")
    x_level = deals["point"].map(levels(experiments[x], 6)).rename(x)
    y_level = deals["point"].map(levels(experiments[y], 6)).rename(y)
    return _grouped_ci(_values(deals, metric), [x_level, y_level, deals["strategy"]]).reset_index()


def heatmap_margins(results: SweepResults, x: str, y: str, metric: str) -> pd.DataFrame:
    """For each cell of a two-parameter heatmap (deals pooled as in :func:`pair_table`): the
    best strategy by mean, the runner-up, and the paired difference best - runner-up on the
    same deals with its 95% CI, computed as in :func:`best_strategies` (so a metric over
    purchases pairs the deals where both purchased, and the sign is the table's). ``clear`` is
    True when the CI excludes zero in the best strategy's favour."""
    direction = DIRECTION.get(metric, 1)
    table = pair_table(results, x, y, metric)
    strategies = [s for s in results.strategies if s in set(table["strategy"])]
    if len(strategies) < 2:
        return pd.DataFrame(columns=[x, y, "best", "runner_up", "difference", "ci_low", "ci_high",
                                     "n_paired", "clear"])
    experiments = results.experiments.set_index("point")
    wide = _wide(results.deals, metric, strategies).reset_index()
    wide[x] = wide["point"].map(levels(experiments[x], 6))
    wide[y] = wide["point"].map(levels(experiments[y], 6))
    rows = []
    for (x_value, y_value), means in table.groupby([x, y], sort=True):
        means = means.set_index("strategy")["mean"].reindex(strategies)
        ranked = means.fillna(-direction * np.inf).sort_values(ascending=direction < 0, kind="stable")
        best, runner = ranked.index[0], ranked.index[1]
        at_cell = wide[(wide[x] == x_value) & (wide[y] == y_value)]
        mean, low, high, n = _paired(at_cell[best], at_cell[runner])
        clear = bool(low > 0) if direction > 0 else bool(high < 0)
        rows.append({x: x_value, y: y_value, "best": best, "runner_up": runner, "difference": mean,
                     "ci_low": low, "ci_high": high, "n_paired": n, "clear": clear})
    return pd.DataFrame(rows)


def parameter_pairs(results: SweepResults, limit: int = 3) -> list[tuple[str, str]]:
    """Pairs of swept parameters (with at least two levels each) for heatmaps."""
    varied = [p for p in results.parameters if results.experiments[p].nunique() > 1]
    pairs = [(x, y) for i, x in enumerate(varied) for y in varied[i + 1 :]]
    return pairs[:limit]

