"""The sweep report (``buyingsim report DIR``): findings in words first, then tables and charts,
as a self-contained HTML page and CSVs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from sim.explore.analysis import (
    _metrics,
    best_strategies,
    label,
    parameter_pairs,
    point_summary,
    robustness,
    win_counts,
)
from sim.explore.html import figure_png, html_table, png_data_uri, render_page
from sim.explore.plots import plot_heatmaps, plot_marginal, plot_robustness

if TYPE_CHECKING:
    from sim.explore.store import SweepResults






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

