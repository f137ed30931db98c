"""Global sensitivity analysis of sweep outcomes with SALib (``buyingsim sensitivity SPEC``).

The design (Sobol/Saltelli or Morris) is drawn in :mod:`sim.explore.design` and run through
the same resumable store as any sweep; the outcome of a point is the mean of a metric over its
deals (over purchases where the metric says so). A ``contrast = [a, b]`` also analyses the
paired difference of strategy a over b, which tells which buyer conditions drive one
strategy's advantage.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.explore.analysis import _values, label, subset
from sim.explore.html import figure_png, html_table, png_data_uri, render_page

if TYPE_CHECKING:
    from sim.explore.store import SweepResults



def point_outcomes(
    results: SweepResults, outcomes: list[str], contrast: list[str] | None = None
) -> pd.DataFrame:
    """One row per point; a column per (target, outcome): strategy means, and a - b for a
    contrast."""
    deals = results.deals
    columns: dict[tuple[str, str], pd.Series] = {}
    for outcome in outcomes:
        means = _values(deals, outcome).groupby([deals["point"], deals["strategy"]]).mean()
        means = means.unstack("strategy").reindex(results.experiments["point"])
        for strategy in results.strategies:
            columns[(strategy, outcome)] = means[strategy]
        if contrast is not None:
            first, second = contrast
            columns[(f"{first} - {second}", outcome)] = means[first] - means[second]
    table = pd.DataFrame(columns)
    table.columns = pd.MultiIndex.from_tuples(table.columns, names=["target", "outcome"])
    return table


def analyse(results: SweepResults) -> pd.DataFrame:
    """Sensitivity indices, one row per target (strategy or contrast), outcome and parameter.

    Sobol: ``S1``, ``ST`` and their 95% confidence half-widths. Morris: ``mu_star`` (mean
    absolute elementary effect), its confidence half-width, ``mu`` and ``sigma``. Points with
    no value (e.g. no purchases for a purchase metric) are filled with the outcome's mean and
    counted in ``filled_points``.
    """
    design = results.manifest.get("design") or {}
    if "method" not in design:
        from sim.explore.spec import SweepError

        raise SweepError(f"{results.directory}: not a sensitivity run (run `buyingsim sensitivity`)")
    spec = results.manifest["spec"]
    settings = spec.get("sensitivity") or {}
    outcomes = settings.get("outcomes") or spec["outcomes"]
    contrast = settings.get("contrast")
    problem = design["problem"]
    problem = {**problem, "bounds": [list(b) for b in problem["bounds"]]}
    matrix = np.asarray(design["matrix"], dtype=float)
    table = point_outcomes(results, outcomes, contrast)
    rows = []
    for (target, outcome), series in table.items():
        values = series.to_numpy(dtype=float)
        missing = int(np.isnan(values).sum())
        if missing == len(values):
            continue
        values = np.where(np.isnan(values), np.nanmean(values), values)
        indices = _indices(
            design["method"], problem, matrix, values, design.get("levels", 4), int(spec["seed"]) % 2**32
        )
        for j, name in enumerate(problem["names"]):
            rows.append(
                {
                    "target": target,
                    "outcome": outcome,
                    "parameter": name,
                    **{key: float(indices[key][j]) for key in indices},
                    "filled_points": missing,
                }
            )
    return pd.DataFrame(rows)


def _indices(
    method: str, problem: dict[str, Any], matrix: np.ndarray, values: np.ndarray, levels: int, seed: int
) -> dict[str, np.ndarray]:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if method == "sobol":
            from SALib.analyze import sobol

            found = sobol.analyze(problem, values, calc_second_order=False, seed=seed)
            return {
                "S1": found["S1"],
                "S1_conf": found["S1_conf"],
                "ST": found["ST"],
                "ST_conf": found["ST_conf"],
            }
        from SALib.analyze import morris

        found = morris.analyze(problem, matrix, values, num_levels=levels, seed=seed)
        return {
            "mu_star": np.asarray(found["mu_star"]),
            "mu_star_conf": np.asarray(found["mu_star_conf"]),
            "mu": np.asarray(found["mu"]),
            "sigma": np.asarray(found["sigma"]),
        }


def plot_indices(indices: pd.DataFrame, target: str) -> Any:
    """Bar charts of one target's indices: a panel per outcome, a bar group per parameter
    (Sobol: S1 and ST with 95% CIs; Morris: mu* with its CI, and sigma)."""
    from sim.explore.html import _pyplot

    plt = _pyplot()
    part = indices[indices["target"] == target]
    outcomes = list(dict.fromkeys(part["outcome"]))
    sobol = "ST" in part.columns and part["ST"].notna().any()
    first, second = ("S1", "ST") if sobol else ("mu_star", "sigma")
    columns = min(len(outcomes), 3)
    rows = int(np.ceil(len(outcomes) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(4.4 * columns, 3.2 * rows), squeeze=False)
    for ax, outcome in zip(axes.flat, outcomes, strict=False):
        data = part[part["outcome"] == outcome]
        x = np.arange(len(data))
        ax.bar(x - 0.2, data[first], 0.4, yerr=data[f"{first}_conf"], capsize=3, label=first, color="#4c72b0")
        second_error = data.get(f"{second}_conf")
        ax.bar(x + 0.2, data[second], 0.4, yerr=second_error, capsize=3, label=second, color="#dd8452")
        ax.set_xticks(x, data["parameter"], rotation=30, ha="right", fontsize=8)
        ax.set_title(
            f"{label(outcome)}" + (" (purchases)" if subset(outcome) == "purchases" else ""), fontsize=10
        )
        ax.grid(axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(outcomes) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(f"Sensitivity of {target}", fontsize=11)
    fig.tight_layout()
    return fig


def write_sensitivity_report(results: SweepResults, out: str | Path) -> tuple[Path, pd.DataFrame]:
    """Write ``indices.csv``, ``point_outcomes.csv``, a PNG per target and a self-contained
    ``index.html``; returns the HTML path and the indices."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    indices = analyse(results)
    indices.to_csv(out / "indices.csv", index=False)
    spec = results.manifest["spec"]
    settings = spec.get("sensitivity") or {}
    outcomes = settings.get("outcomes") or spec["outcomes"]
    table = point_outcomes(results, outcomes, settings.get("contrast"))
    flat = table.copy()
    flat.columns = [f"{target}:{outcome}" for target, outcome in flat.columns]
    results.experiments.join(flat.reset_index(drop=True)).to_csv(out / "point_outcomes.csv", index=False)
    method = results.manifest["design"]["method"]
    targets = []
    for target in dict.fromkeys(indices["target"]):
        png = figure_png(plot_indices(indices, target))
        name = "sensitivity-" + "".join(c if c.isalnum() else "_" for c in target) + ".png"
        (out / name).write_bytes(png)
        shown = indices[indices["target"] == target].drop(columns="target")
        targets.append(
            {
                "target": target,
                "image": png_data_uri(png),
                "table": html_table(shown, index=False, float_format=lambda v: f"{v:.3f}"),
            }
        )
    document = render_page(
        "sensitivity.html",
        name=results.name,
        description=spec.get("description", ""),
        method=method,
        n_points=len(results.experiments),
        deals_per_point=spec["deals_per_point"],
        strategies=results.strategies,
        parameters=results.parameters,
        targets=targets,
    )
    path = out / "index.html"
    path.write_text(document, encoding="utf-8")
    return path, indices

