"""Analysis of sweep results: per-point metrics with 95% CIs, the best strategy per point with
the paired difference to the runner-up, marginal effects of each swept parameter, plots, and a
self-contained HTML report (``buyingsim report DIR``).

Confidence intervals use the same normal approximation as :func:`sim.results.mean_ci`; metrics
over purchases (deal size, regret, ...) are measured on the deals that purchased, and paired
differences on the deals where both strategies purchased (as :meth:`sim.results.Results.compare`).
"""

from __future__ import annotations

import base64
import functools
import io
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

from sim.palette import strategy_colour
from sim.results import METRICS, Z95, mean_ci

if TYPE_CHECKING:
    from sim.sweep import SweepResults

# +1: higher is better for the buyer and the vendor; -1: lower is better. Metrics without a
# direction (e.g. time shares) get summaries but no "best strategy".
DIRECTION: dict[str, int] = {
    "purchase_ease": 1,
    "deal_size": 1,
    "regret": -1,
    "no_decision": -1,
    "high_quality_deal": 1,
    "focal_win": 1,
    "high_regret": -1,
    "cycle_weeks": -1,
    "loops_total": -1,
    "unresolved_contradictions": -1,
    "overwhelmed": -1,
    "purchased": 1,
    "high_ease": 1,
    "complex_or_difficult": -1,
    "settled_for_less": -1,
    "expectations_not_met": -1,
    "bigger_deal_less_regret": 1,
    "helpful_info": 1,
    "revisited_any_job": -1,
    "met_contradiction": -1,
    "peak_overload": -1,
    "misalignment_stages": -1,
    "helpful_share": 1,
}
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


def plot_robustness(table: pd.DataFrame, results: SweepResults) -> Any:
    """Maximum regret per metric, one bar per strategy (lower is more robust)."""
    plt = _pyplot()
    metrics = list(dict.fromkeys(table["metric"]))
    strategies = list(dict.fromkeys(table["strategy"]))
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 3.0), squeeze=False)
    for ax, metric in zip(axes[0], metrics, strict=True):
        part = table[table["metric"] == metric].set_index("strategy").reindex(strategies)
        ax.bar(range(len(strategies)), part["max_regret"],
               color=[_colour(results, s) for s in strategies])
        ax.set_xticks(range(len(strategies)), strategies, fontsize=7, rotation=20)
        ax.set_title(label(metric), fontsize=10)
        ax.set_ylim(bottom=0)
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].set_ylabel("maximum regret (paired shortfall)")
    fig.tight_layout()
    return fig


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


# --------------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------------


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _colour(results: SweepResults, strategy: str) -> str:
    return strategy_colour(strategy, results.strategies)


def plot_marginal(results: SweepResults, parameter: str, metrics: list[str] | None = None) -> Any:
    """Line plots of each metric against one swept parameter, one line per strategy with its
    95% CI band."""
    plt = _pyplot()
    table = marginal(results, parameter, metrics)
    chosen = _metrics(results, metrics)
    columns = min(len(chosen), 3)
    rows = int(np.ceil(len(chosen) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.1 * rows), squeeze=False)
    categorical = not pd.api.types.is_numeric_dtype(results.experiments[parameter])
    for ax, metric in zip(axes.flat, chosen, strict=False):
        part = table[table["metric"] == metric]
        for strategy in results.strategies:
            line = part[part["strategy"] == strategy].sort_values(parameter)
            if line.empty:
                continue
            x = line[parameter].astype(str) if categorical else line[parameter]
            ax.plot(x, line["mean"], marker="o", ms=3, label=strategy, color=_colour(results, strategy))
            ax.fill_between(x, line["ci_low"], line["ci_high"], alpha=0.2, color=_colour(results, strategy))
        ax.set_title(label(metric), fontsize=10)
        ax.set_xlabel(parameter)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(chosen) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_heatmaps(results: SweepResults, x: str, y: str, metric: str) -> Any:
    """Heatmaps of a metric over two swept parameters: one panel per strategy, plus the
    best strategy in each cell with its paired difference to the runner-up, signed as in the
    best-per-point table, "(not clear)" where its 95% CI includes zero (see
    :func:`heatmap_margins`; deals pooled over the other parameters)."""
    plt = _pyplot()
    table = pair_table(results, x, y, metric)
    strategies = [s for s in results.strategies if s in set(table["strategy"])]
    panels = len(strategies) + (1 if len(strategies) > 1 else 0)
    fig, axes = plt.subplots(1, panels, figsize=(3.6 * panels, 3.3), squeeze=False)
    grids = {}
    vmin, vmax = table["mean"].min(), table["mean"].max()
    for ax, strategy in zip(axes[0], strategies, strict=False):
        grid = table[table["strategy"] == strategy].pivot(index=y, columns=x, values="mean")
        grids[strategy] = grid
        image = ax.imshow(
            grid.to_numpy(), origin="lower", aspect="auto", cmap="viridis", vmin=vmin, vmax=vmax
        )
        _axes_labels(ax, grid, x, y)
        ax.set_title(f"{strategy}", fontsize=10)
        middle = (vmin + vmax) / 2
        for (i, j), value in np.ndenumerate(grid.to_numpy()):
            ax.text(
                j,
                i,
                _cell(value),
                ha="center",
                va="center",
                fontsize=7,
                color="black" if value > middle else "white",
            )
    if len(strategies) > 1:
        fig.colorbar(image, ax=axes[0, len(strategies) - 1], fraction=0.046)
        ax = axes[0, -1]
        margins = heatmap_margins(results, x, y, metric)
        winner = margins.pivot(index=y, columns=x, values="best").reindex(
            index=grids[strategies[0]].index, columns=grids[strategies[0]].columns
        )
        from matplotlib.colors import ListedColormap
        from matplotlib.patches import Patch

        cmap = ListedColormap([_colour(results, s) for s in strategies])
        codes = winner.apply(lambda column: column.map({s: i for i, s in enumerate(strategies)}))
        ax.imshow(codes.to_numpy(dtype=float), origin="lower", aspect="auto", cmap=cmap,
                  vmin=-0.5, vmax=len(strategies) - 0.5)
        _axes_labels(ax, grids[strategies[0]], x, y)
        cells = margins.set_index([y, x])
        for (i, j), _ in np.ndenumerate(codes.to_numpy()):
            key = (winner.index[i], winner.columns[j])
            if key not in cells.index:
                continue
            cell = cells.loc[key]
            text = _cell(cell["difference"]) + ("" if cell["clear"] else "\n(not clear)")
            ax.text(j, i, text, ha="center", va="center", fontsize=7, color="white")
        ax.set_title("best; paired difference to runner-up", fontsize=10)
        ax.legend(
            handles=[Patch(color=_colour(results, s), label=s) for s in strategies],
            fontsize=7,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.22),
            ncol=len(strategies),
            frameon=False,
        )
    fig.suptitle(label(metric), fontsize=11)
    fig.tight_layout()
    return fig


def _cell(value: float) -> str:
    """A heatmap cell's text: three decimals for small metrics, one for weeks and counts."""
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def _axes_labels(ax: Any, grid: pd.DataFrame, x: str, y: str) -> None:
    ax.set_xticks(range(grid.shape[1]), [_tick(v) for v in grid.columns], fontsize=7)
    ax.set_yticks(range(grid.shape[0]), [_tick(v) for v in grid.index], fontsize=7)
    ax.set_xlabel(x)
    ax.set_ylabel(y)


def _tick(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def figure_png(fig: Any) -> bytes:
    """A figure as PNG bytes (the figure is closed)."""
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def png_data_uri(png: bytes) -> str:
    """PNG bytes as a ``data:`` URI, so a report page needs no other files."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def html_table(frame: pd.DataFrame, **options: Any) -> Markup:
    """A frame as an HTML table whose every cell and header is escaped (pandas escapes them),
    marked safe for the page templates."""
    return Markup(frame.to_html(escape=True, **options))


@functools.cache
def _templates() -> jinja2.Environment:
    """The report templates; autoescape puts every user string through HTML escaping."""
    return jinja2.Environment(
        loader=jinja2.DictLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_page(template: str, **context: Any) -> str:
    """Render one of :data:`TEMPLATES` with the shared stylesheet."""
    return _templates().get_template(template).render(css=Markup(REPORT_CSS), **context)


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------

REPORT_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1300px; color: #222; }
table { border-collapse: collapse; font-size: 12px; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; } h2 { border-bottom: 1px solid #ddd; margin-top: 2em; }
.note { color: #555; font-size: 13px; }
"""


TEMPLATES = {
    "page.html": """<!doctype html>
<html><head><meta charset="utf-8"><title>{% block title %}{% endblock %}</title>
<style>{{ css }}</style></head>
<body>
{% block body %}{% endblock %}
</body></html>
""",
    "report.html": """{% extends "page.html" %}
{% block title %}{{ name }} sweep report{% endblock %}
{% block body %}
<h1>Sweep report: {{ name }}</h1>
<p>{{ description }}</p>
<p class="note">{{ n_points }} points x {{ strategies | length }} strategies ({{ strategies | join(", ") }})
x {{ "{:,}".format(deals_per_point) }} deals; base scenario {{ scenario }}; seed {{ seed }}; sampling
{{ sampling }}; buying-group-sim {{ version }}; spec hash {{ spec_hash }}.
{% if not complete %}<b>Incomplete: some chunks are missing; figures cover the finished ones.</b>
{% endif %}</p>
<p class="note">Means with 95% confidence intervals (normal approximation). Deal size, regret,
high-quality deals and high regret are measured over purchases. Strategies meet the same deals
at each point, so differences are paired. CSVs: <a href="summary.csv">summary.csv</a>,
<a href="best.csv">best.csv</a>, <a href="wins.csv">wins.csv</a>,
<a href="experiments.csv">experiments.csv</a>, <a href="findings.csv">findings.csv</a>.</p>
{% if findings %}
<h2>Findings</h2>
<p class="note">Written from the tables below: the best strategy per metric and where it is not
best (scenario discovery with PRIM on the paired per-point differences; see
<code>buyingsim discover</code>), the condition that moves each metric most, and robustness.</p>
<ul>
{% for finding in findings %}
<li>{{ finding }}</li>
{% endfor %}
</ul>
{% endif %}
{% if wins_table %}
<h2>Points won by each strategy</h2>
<p class="note">A win is clear when the paired 95% CI of the difference to the runner-up excludes zero.</p>
{{ wins_table }}
{% endif %}
{% if best_table %}
<h2>Best strategy per point</h2>
<p class="note">Difference = best - runner-up on the same deals (95% CI).</p>
{{ best_table }}
{% endif %}
{% if robust_table %}
<h2>Robustness across the swept conditions</h2>
<p class="note">Per strategy over all points: the mean and the worst of its point means, its
maximum regret (the largest paired shortfall against the best strategy at a point, on the same
deals; 0 when it is best everywhere) and the point where that happens{% if thresholds %}, and the
share of points where it meets the threshold{% endif %}. CSV: <a href="robustness.csv">robustness.csv</a>.</p>
{{ robust_table }}
<img alt="maximum regret per metric and strategy" src="{{ robust_image }}">
{% endif %}
{% for figure in marginals %}
<h2>Metrics against {{ figure.parameter }}</h2>
<p class="note">Deals pooled over the other parameters at each level; bands are 95% CIs.</p>
<img alt="{{ figure.parameter }}" src="{{ figure.image }}">
{% endfor %}
{% for pair in heatmaps %}
<h2>{{ pair.x }} x {{ pair.y }}</h2>
{% for figure in pair.images %}
<img alt="{{ figure.alt }}" src="{{ figure.image }}">
{% endfor %}
{% endfor %}
<h2>All points</h2>
{{ all_points }}
{% endblock %}
""",
    "sensitivity.html": """{% extends "page.html" %}
{% block title %}{{ name }} sensitivity{% endblock %}
{% block body %}
<h1>Sensitivity analysis: {{ name }}</h1>
<p>{{ description }}</p>
<p class="note">{{ method | capitalize }} method, {{ n_points }} points x {{ "{:,}".format(deals_per_point) }}
deals under {{ strategies | join(", ") }}; parameters: {{ parameters | join(", ") }}. Indices in
<a href="indices.csv">indices.csv</a>, point outcomes in <a href="point_outcomes.csv">point_outcomes.csv</a>.
{% if method == "sobol" %} S1: share of outcome variance due to the parameter alone; ST: including
its interactions (95% bootstrap CIs).{% endif %}
{% if method == "morris" %} mu*: mean absolute elementary effect (overall influence); sigma: spread
of effects (non-linearity and interactions).{% endif %}</p>
{% for section in targets %}
<h2>{{ section.target }}</h2>
<img alt="{{ section.target }}" src="{{ section.image }}">
{{ section.table }}
{% endfor %}
{% endblock %}
""",
    "discovery.html": """{% extends "page.html" %}
{% block title %}{{ name }} scenario discovery{% endblock %}
{% block body %}
<h1>Scenario discovery{% if name %}: {{ name }}{% endif %}</h1>
<p class="note">Question: where does it hold that {{ question }}? {{ n_cases }} of {{ n_points }}
swept points qualify. PRIM (EMA Workbench) peels the swept conditions down to boxes of mostly
qualifying points; the chosen box has the largest coverage (share of all qualifying points
inside it) among the boxes whose density (share of the box that qualifies) is at least
{{ "{:.0%}".format(density) }} (the target, raised halfway to 100% when the share of qualifying
points overall already reaches it). Quasi-p values test each limit (one-sided binomial; small is
significant). CSVs: <a href="cases.csv">cases.csv</a>, <a href="prim_trajectory.csv">prim_trajectory.csv</a>,
<a href="prim_boxes.csv">prim_boxes.csv</a>, <a href="cart_boxes.csv">cart_boxes.csv</a>,
<a href="feature_scores.csv">feature_scores.csv</a>.</p>
<h2>Findings</h2>
<ul>
{% for sentence in sentences %}
<li>{{ sentence }}</li>
{% endfor %}
</ul>
{% for box in boxes %}
<h2>{{ box.title }}</h2>
<p>{{ box.sentence }}</p>
{{ box.table }}
{% endfor %}
{% for figure in images %}
<img alt="{{ figure.alt }}" src="{{ figure.image }}">
{% endfor %}
{% if scores %}
<h2>Which conditions matter</h2>
<p class="note">Extra-trees feature scores of the value behind the question (they sum to 1).</p>
{{ scores }}
{% endif %}
{% if cart_boxes or cart_tree %}
<h2>CART: a second view</h2>
<p class="note">Leaves of a classification tree whose density reaches the target.</p>
{% for box in cart_boxes %}
<h3>{{ box.title }}</h3>
<p>{{ box.sentence }}</p>
{{ box.table }}
{% endfor %}
<pre>{{ cart_tree }}</pre>
{% endif %}
{% endblock %}
""",
    "replication.html": """{% extends "page.html" %}
{% block title %}Replication table{% endblock %}
{% block body %}
<h1>Replication of the buying-journey research figures</h1>
<p>{{ summary }}; scenario <code>{{ scenario }}</code>.</p>
{{ table }}
{% for figure in figures %}
<h3>{{ figure.label }}</h3>
<img alt="{{ figure.label }}" src="{{ figure.image }}">
{% endfor %}
{% endblock %}
""",
}


def parameter_pairs(results: SweepResults, limit: int = 3) -> list[tuple[str, str]]:
    """Pairs of swept parameters (with at least two levels each) for heatmaps."""
    varied = [p for p in results.parameters if results.experiments[p].nunique() > 1]
    pairs = [(x, y) for i, x in enumerate(varied) for y in varied[i + 1 :]]
    return pairs[:limit]


def write_report(
    results: SweepResults,
    out: str | Path,
    metrics: list[str] | None = None,
    thresholds: dict[str, float] | None = None,
) -> Path:
    """Write ``index.html`` (plots embedded, no external files needed), opening with findings
    in words, and the CSVs ``experiments.csv``, ``summary.csv``, ``best.csv``, ``wins.csv``,
    ``robustness.csv``, ``findings.csv`` into ``out``; ``thresholds`` (metric -> value) add the
    satisficing shares."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    chosen = _metrics(results, metrics)
    summary = point_summary(results, chosen)
    best = best_strategies(results, chosen)
    wins = win_counts(best)
    robust = robustness(results, chosen, thresholds)
    from sim.explore.findings import findings

    opening = findings(results, chosen, best, wins, robust)
    pd.DataFrame(
        [{"topic": f.topic, "metric": f.metric, "finding": f.text} for f in opening],
        columns=["topic", "metric", "finding"],
    ).to_csv(out / "findings.csv", index=False)
    results.experiments.to_csv(out / "experiments.csv", index=False)
    robust.to_csv(out / "robustness.csv", index=False)
    summary.to_csv(out / "summary.csv", index=False)
    best.to_csv(out / "best.csv", index=False)
    wins.to_csv(out / "wins.csv", index=False)

    spec = results.manifest["spec"]
    wins_table = None
    if not wins.empty:
        table = wins.pivot_table(
            index="metric", columns="strategy", values="points", fill_value=0, sort=False
        )
        clear = wins.pivot_table(index="metric", columns="strategy", values="clear", fill_value=0, sort=False)
        cells = table.astype(int).astype(str) + " (" + clear.astype(int).astype(str) + " clear)"
        cells.index = [label(m) for m in cells.index]
        wins_table = html_table(cells)
    best_table = None
    if not best.empty:
        shown = best.copy()
        shown["difference"] = (
            [_ci_text(r.difference, r.ci_low, r.ci_high) for r in shown.itertuples()]
            if "difference" in shown
            else ""
        )
        keep = [
            *results.parameters,
            "metric",
            "best",
            "best_mean",
            "runner_up",
            "runner_up_mean",
            "difference",
            "clear",
        ]
        shown = shown[[c for c in keep if c in shown.columns]]
        shown["metric"] = shown["metric"].map(label)
        best_table = html_table(shown, index=False, float_format=lambda v: f"{v:.3f}", max_rows=400)
    robust_table = robust_image = None
    if not robust.empty:
        shown = robust.copy()
        shown["metric"] = shown["metric"].map(label)
        robust_table = html_table(shown, index=False, float_format=lambda v: f"{v:.3f}")
        robust_image = png_data_uri(figure_png(plot_robustness(robust, results)))
    marginals = [
        {"parameter": parameter, "image": png_data_uri(figure_png(plot_marginal(results, parameter, chosen)))}
        for parameter in results.parameters
        if results.experiments[parameter].nunique() >= 2
    ]
    heatmaps = [
        {
            "x": x,
            "y": y,
            "images": [
                {
                    "alt": f"{metric} by {x} and {y}",
                    "image": png_data_uri(figure_png(plot_heatmaps(results, x, y, metric))),
                }
                for metric in chosen[:3]
            ],
        }
        for x, y in parameter_pairs(results)
    ]
    wide = summary.copy()
    wide["value"] = [_ci_text(r.mean, r.ci_low, r.ci_high) for r in wide.itertuples()]
    wide["metric"] = wide["metric"].map(label)
    document = render_page(
        "report.html",
        name=results.name,
        description=spec.get("description", ""),
        n_points=len(results.experiments),
        strategies=results.strategies,
        deals_per_point=spec["deals_per_point"],
        scenario=spec["scenario"],
        seed=spec["seed"],
        sampling=spec["sampling"]["method"],
        version=results.manifest["package_version"],
        spec_hash=results.manifest["spec_hash"][:12],
        complete=results.complete,
        findings=[f.text for f in opening],
        wins_table=wins_table,
        best_table=best_table,
        robust_table=robust_table,
        robust_image=robust_image,
        thresholds=bool(thresholds),
        marginals=marginals,
        heatmaps=heatmaps,
        all_points=html_table(
            wide.drop(columns=["mean", "ci_low", "ci_high", "over"]), index=False, max_rows=600
        ),
    )
    path = out / "index.html"
    path.write_text(document, encoding="utf-8")
    return path


def _ci_text(mean: float, low: float, high: float) -> str:
    if pd.isna(mean):
        return "n/a"
    if pd.isna(low):
        return f"{mean:.3f}"
    return f"{mean:.3f} ± {(high - low) / 2:.3f}"
