"""Charts of the analysis tables: metrics against a parameter, heatmaps over two parameters
with the winning strategy and its paired margin, and robustness bars."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.explore.analysis import _metrics, heatmap_margins, label, marginal, pair_table
from sim.explore.html import _pyplot
from sim.palette import strategy_colour

if TYPE_CHECKING:
    from sim.explore.store import SweepResults




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

