"""The replication table: each research figure, simulated with the committed parameters.

``replicate`` simulates the market population, computes every figure of
:mod:`sim.research` from the per-deal table with a bootstrap 95% CI, and (optionally) repeats
it for other seeds to show the spread. ``write_report`` saves Markdown and self-contained HTML
versions with one plot per figure.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from markupsafe import Markup

from sim.analysis import html_table, png_data_uri, render_page
from sim.research import FIGURES, HELD_OUT, Figure

# Measures compared between strategies as predictions (never fitted): the headline metrics
# and the mechanisms the research names (contradictions, overload, wins, time).
PREDICTION_METRICS = [
    "purchase_ease", "deal_size", "regret", "no_decision", "high_quality_deal", "focal_win",
    "unresolved_contradictions", "overwhelmed", "cycle_weeks",
]  # fmt: skip
PREDICTION_REFERENCE = "seller_led"

BOOTSTRAP_SAMPLES = 200


def bootstrap_ci(
    deals: pd.DataFrame,
    figure: Figure,
    samples: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> tuple[float, float]:
    """95% percentile interval of a figure over deals resampled with replacement;
    ``progress(1)`` is called after each resample."""
    rng = np.random.default_rng(seed)
    computed: list[float] = []
    n = len(deals)
    for _ in range(samples):
        resampled = deals.iloc[rng.integers(0, n, n)]
        computed.append(figure.compute(resampled))
        if progress is not None:
            progress(1)
    values = np.asarray(computed, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < samples // 2:
        return (float("nan"), float("nan"))
    return (float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5)))


@dataclass
class Replication:
    """The replication table of one run, with optional robustness seeds."""

    table: pd.DataFrame  # one row per figure
    deals: pd.DataFrame  # the per-deal table of the main seed
    n_deals: int
    seed: int
    scenario: str
    held_out: pd.DataFrame | None = None  # patterns kept out of the fit (held_out_patterns)
    predictions: pd.DataFrame | None = None  # strategy differences, not fitted (strategy_predictions)
    ensemble: pd.DataFrame | None = None  # conclusions across acceptable fits (sim.ensemble)

    def summary(self) -> str:
        passed = int(self.table["pass"].sum())
        total = len(self.table)
        return f"{passed}/{total} figures inside their bands ({self.n_deals:,} deals, seed {self.seed})"


def replicate(
    scenario: str = "market",
    n_deals: int = 20_000,
    seed: int = 0,
    extra_seeds: list[int] | None = None,
    samples: int = BOOTSTRAP_SAMPLES,
    progress: Callable[[int], None] | None = None,
    bootstrap_progress: Callable[[int], None] | None = None,
    chunk_size: int | None = None,
) -> Replication:
    """Simulate and tabulate every figure (target, band, value, 95% CI, pass).

    ``progress(deals)`` counts simulated deals (``n_deals`` per seed) and
    ``bootstrap_progress(resamples)`` the bootstrap (``samples`` per figure in ``FIGURES``);
    ``chunk_size`` only sets how often deals are counted, never the results."""
    from sim import load_scenario, simulate
    from sim.engine import DEFAULT_CHUNK_SIZE

    loaded = load_scenario(scenario)
    chunk = chunk_size or DEFAULT_CHUNK_SIZE
    deals = simulate(loaded, n_deals, seed, chunk_size=chunk, progress=progress).deals
    rows = []
    others = {
        s: simulate(loaded, n_deals, s, chunk_size=chunk, progress=progress).deals for s in extra_seeds or []
    }
    for index, figure in enumerate(FIGURES):
        value = float(figure.compute(deals))
        low, high = bootstrap_ci(deals, figure, samples, seed + index, bootstrap_progress)
        row = {
            "figure": figure.key,
            "label": figure.label,
            "unit": figure.unit,
            "target": figure.target,
            "band_low": figure.low,
            "band_high": figure.high,
            "simulated": value,
            "ci_low": low,
            "ci_high": high,
            "pass": figure.passes(value),
            "source": figure.source,
        }
        if others:
            values = [float(figure.compute(frame)) for frame in others.values()]
            row["other_seeds"] = ", ".join(_format(v, figure.unit) for v in values)
            row["seed_spread"] = float(np.nanmax(values + [value]) - np.nanmin(values + [value]))
            row["pass_all_seeds"] = row["pass"] and all(figure.passes(v) for v in values)
        rows.append(row)
    return Replication(pd.DataFrame(rows).set_index("figure"), deals, n_deals, seed, loaded.name)


def _format(value: float, unit: str) -> str:
    if not np.isfinite(value):
        return "n/a"
    if unit == "ratio":
        return f"{value:.2f}x"
    if unit == "change":
        return f"{100 * value:+.1f}%"
    return f"{100 * value:.1f}%"


def formatted(replication: Replication) -> pd.DataFrame:
    """The table with values formatted for people (percentages, ratios)."""
    rows = []
    for _, row in replication.table.iterrows():
        unit = row["unit"]
        out = {
            "figure": row["label"],
            "target": _format(row["target"], unit),
            "band": f"{_format(row['band_low'], unit)} to {_format(row['band_high'], unit)}",
            "simulated [95% CI]": f"{_format(row['simulated'], unit)} "
            f"[{_format(row['ci_low'], unit)}, {_format(row['ci_high'], unit)}]",
            "result": "pass" if row["pass"] else "MISS",
        }
        if "other_seeds" in row:
            out["other seeds"] = row["other_seeds"]
        rows.append(out)
    return pd.DataFrame(rows)


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of a small DataFrame."""
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(str(value) for value in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def _plot(row: pd.Series, deals: pd.DataFrame, key: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 1.9) if key != "misalignment" else (5.5, 2.6))
    if key == "misalignment":
        met = deals[deals["focal_meetings"] > 0]
        stages = np.clip(np.round(met["misalignment_stages"]), 0, 3)
        rates = met.groupby(stages)["focal_win"].agg(["mean", "size"])
        ax.bar(rates.index, rates["mean"], color="#4c72b0")
        ax.set_xlabel("stages the focal seller ran ahead (mean per meeting, rounded)")
        ax.set_ylabel("focal win rate")
        ax.set_title(f"{row['label']}: {_format(row['simulated'], row['unit'])} per stage", fontsize=9)
    else:
        ax.axvspan(row["band_low"], row["band_high"], color="#c7e9c0", label="band")
        ax.axvline(row["target"], color="#238b45", linestyle="--", label="target")
        error = [[row["simulated"] - row["ci_low"]], [row["ci_high"] - row["simulated"]]]
        ax.errorbar(
            [row["simulated"]],
            [0],
            xerr=error,
            fmt="o",
            color="#08306b",
            capsize=4,
            label="simulated (95% CI)",
        )
        span = row["band_high"] - row["band_low"]
        values = [row["band_low"], row["band_high"], row["simulated"], row["ci_low"], row["ci_high"]]
        finite = [v for v in values if np.isfinite(v)]
        ax.set_xlim(min(finite) - 0.3 * span, max(finite) + 0.3 * span)
        ax.set_yticks([])
        ax.set_title(row["label"], fontsize=9)
        ax.legend(fontsize=7, loc="upper right", ncols=3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def write_report(replication: Replication, folder: Path) -> tuple[Path, Path]:
    """Write replication.md (with PNG plots) and replication.html (plots embedded)."""
    folder.mkdir(parents=True, exist_ok=True)
    table = formatted(replication)
    md_lines = [
        "# Replication of the buying-journey research figures",
        "",
        f"{replication.summary()}; scenario `{replication.scenario}`.",
        "",
        markdown_table(table),
        "",
    ]
    sections = [html_table(table, index=False)]
    for title, frame in _extra_sections(replication):
        md_lines += [f"## {title}", "", markdown_table(frame), ""]
        sections += [Markup("<h2>{}</h2>").format(title), html_table(frame, index=False)]
    figures = []
    for key, row in replication.table.iterrows():
        png = _plot(row, replication.deals, key)
        (folder / f"{key}.png").write_bytes(png)
        md_lines += [f"![{row['label']}]({key}.png)", ""]
        figures.append({"label": row["label"], "image": png_data_uri(png)})
    document = render_page(
        "replication.html",
        summary=replication.summary(),
        scenario=replication.scenario,
        table=Markup("").join(sections),
        figures=figures,
    )
    markdown_path = folder / "replication.md"
    html_path = folder / "replication.html"
    markdown_path.write_text("\n".join(md_lines), encoding="utf-8")
    html_path.write_text(document, encoding="utf-8")
    replication.table.to_csv(folder / "replication.csv")
    for name, frame in (
        ("held_out", replication.held_out),
        ("predictions", replication.predictions),
        ("ensemble", replication.ensemble),
    ):
        if frame is not None:
            frame.to_csv(folder / f"{name}.csv")
    return markdown_path, html_path


def _extra_sections(replication: Replication) -> list[tuple[str, pd.DataFrame]]:
    """Titled tables after the replication table: held-out patterns, predictions, ensemble."""
    sections = []
    if replication.held_out is not None:
        sections.append(("Held-out patterns (not fitted)", formatted_held_out(replication.held_out)))
    if replication.predictions is not None:
        title = "Strategy differences: predictions, not fitted (same deals, 95% CIs)"
        sections.append((title, formatted_predictions(replication.predictions)))
    if replication.ensemble is not None:
        title = "Strategy conclusions across the ensemble of acceptable fits"
        sections.append((title, replication.ensemble.round(3)))
    return sections


def held_out_patterns(
    deals: pd.DataFrame, scenario: str, n_deals: int, seed: int, progress: Callable[[int], None] | None = None
) -> pd.DataFrame:
    """Every held-out pattern (``sim.research.HELD_OUT``) on the market deals; a pattern that
    needs other conditions (e.g. small groups) gets its own run of ``n_deals`` with them."""
    from sim import load_scenario, simulate

    rows = []
    for pattern in HELD_OUT:
        table = deals
        if pattern.overrides:
            loaded = load_scenario(scenario).with_overrides(pattern.overrides)
            table = simulate(loaded, n_deals, seed, progress=progress).deals
        value = float(pattern.compute(table))
        rows.append(
            {"pattern": pattern.key, "label": pattern.label, "low": pattern.low, "high": pattern.high,
             "value": value, "holds": pattern.holds(value), "source": pattern.source}
        )  # fmt: skip
    return pd.DataFrame(rows).set_index("pattern")


def strategy_predictions(
    scenario: str, n_deals: int, seed: int, progress: Callable[[int], None] | None = None
) -> pd.DataFrame:
    """Paired differences of each built-in strategy against seller-led on the same market
    deals, with 95% CIs: predictions of the model, since no strategy enters the fit."""
    from sim import load_scenario
    from sim.engine import simulate_frame
    from sim.ensemble import paired_differences
    from sim.strategies import BUILTIN_STRATEGIES

    loaded = load_scenario(scenario)
    runs = {}
    for name in BUILTIN_STRATEGIES:
        runs[name] = simulate_frame(loaded, n_deals, seed, name, progress=progress)
    table = paired_differences(runs, PREDICTION_METRICS, seed)
    return table[table["second"] == PREDICTION_REFERENCE].reset_index(drop=True)


def formatted_predictions(predictions: pd.DataFrame) -> pd.DataFrame:
    """Predictions for people: the pair, the difference with its CI and what it says."""
    from sim.results import DIRECTION, METRICS

    rows = []
    for row in predictions.itertuples(index=False):
        if not (row.ci_low > 0 or row.ci_high < 0):
            verdict = "no clear difference"
        elif row.metric in DIRECTION:
            verdict = "better" if (row.difference > 0) == (DIRECTION[row.metric] > 0) else "worse"
        else:
            verdict = "higher" if row.difference > 0 else "lower"
        rows.append(
            {"metric": METRICS[row.metric][0], "comparison": f"{row.first} - {row.second}",
             "paired difference [95% CI]": f"{row.difference:+.3f} [{row.ci_low:+.3f}, {row.ci_high:+.3f}]",
             "deals": f"{row.n:,}", "reading": verdict}
        )  # fmt: skip
    return pd.DataFrame(rows)


def formatted_held_out(held_out: pd.DataFrame) -> pd.DataFrame:
    """Held-out patterns for people."""
    return pd.DataFrame(
        {
            "pattern": held_out["label"],
            "expected": [
                f"{low:g} to {high:g}" for low, high in zip(held_out["low"], held_out["high"], strict=True)
            ],
            "simulated": [f"{value:.3f}" for value in held_out["value"]],
            "result": np.where(held_out["holds"], "holds", "FAILS"),
            "source": held_out["source"],
        }
    )
