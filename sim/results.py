"""Results of a run: the per-deal table plus summaries, paired comparisons and plots."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.outcomes import COLUMNS

Z95 = 1.959963984540054

# Headline metrics: column, label, the subset of deals it is measured on.
METRICS: dict[str, tuple[str, str]] = {
    "purchase_ease": ("Purchase ease", "all"),
    "deal_size": ("Deal size (x ambition)", "purchases"),
    "regret": ("Regret", "purchases"),
    "no_decision": ("No-decision rate", "all"),
    "high_quality_deal": ("High-quality deals", "purchases"),
    "focal_win": ("Focal win rate", "all"),
    "high_regret": ("High regret", "purchases"),
    "cycle_weeks": ("Cycle weeks", "all"),
    "loops_total": ("Loops per journey", "all"),
    "unresolved_contradictions": ("Unresolved contradictions", "all"),
    "overwhelmed": ("Overwhelmed", "all"),
    "supplier_time_share": ("Time with suppliers", "all"),
}
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

# Formats Results.save writes, chosen by the file suffix.
OUT_FORMATS = (".csv", ".parquet", ".json")
HEADLINE = ["purchase_ease", "deal_size", "regret", "no_decision", "high_quality_deal"]
# Metrics that are shares of deals or of time, shown as percentages.
PERCENT_METRICS = {
    "no_decision", "high_quality_deal", "focal_win", "high_regret", "overwhelmed", "supplier_time_share",
    "purchased",
}  # fmt: skip


def _subset(deals: pd.DataFrame, subset: str) -> pd.Series:
    return deals["purchased"] if subset == "purchases" else pd.Series(True, index=deals.index)


def mean_ci(values: pd.Series | np.ndarray) -> tuple[float, float, float, int]:
    """Mean, 95% CI (normal approximation) and count of the non-missing values."""
    array = np.asarray(values, dtype=float)
    array = array[~np.isnan(array)]
    n = len(array)
    if n == 0:
        return (np.nan, np.nan, np.nan, 0)
    mean = float(array.mean())
    half = Z95 * float(array.std(ddof=1)) / np.sqrt(n) if n > 1 else np.nan
    return (mean, mean - half, mean + half, n)


@dataclass
class Results:
    """One run: ``deals`` holds one row per deal (columns described in ``Results.columns``)."""

    deals: pd.DataFrame
    scenario: str = ""
    seed: int = 0
    strategy: str | None = None
    metadata: dict = field(default_factory=dict)

    columns = COLUMNS

    def __len__(self) -> int:
        return len(self.deals)

    def to_frame(self) -> pd.DataFrame:
        """The per-deal table."""
        return self.deals

    def label(self) -> str:
        return self.strategy or "scenario mix"

    def summary(self, metrics: list[str] | None = None) -> pd.DataFrame:
        """Mean and 95% CI of each metric, on all deals or on purchases as the metric says."""
        rows = []
        for name in metrics or list(METRICS):
            label, subset = METRICS[name]
            values = self.deals.loc[_subset(self.deals, subset), name]
            mean, low, high, n = mean_ci(values)
            rows.append(
                {
                    "metric": name,
                    "label": label,
                    "over": subset,
                    "mean": mean,
                    "ci_low": low,
                    "ci_high": high,
                    "n": n,
                }
            )
        return pd.DataFrame(rows).set_index("metric")

    def compare(self, other: Results, metrics: list[str] | None = None) -> pd.DataFrame:
        """Paired differences ``other - self`` on the same deals, with 95% CIs.

        Metrics over purchases are paired on the deals where both runs purchased; with
        different deal sets (different seeds or scenarios) the comparison is refused.
        """
        if not self.deals["deal"].equals(other.deals["deal"]) or self.seed != other.seed:
            raise ValueError("compare needs two runs of the same deals (same seed and count)")
        rows = []
        for name in metrics or list(METRICS):
            label, subset = METRICS[name]
            mask = _subset(self.deals, subset) & _subset(other.deals, subset)
            a = self.deals.loc[mask, name].astype(float).to_numpy()
            b = other.deals.loc[mask, name].astype(float).to_numpy()
            mean, low, high, n = mean_ci(b - a)
            rows.append(
                {
                    "metric": name,
                    "label": label,
                    "over": subset,
                    self.label(): float(np.nanmean(a)) if n else np.nan,
                    other.label(): float(np.nanmean(b)) if n else np.nan,
                    "difference": mean,
                    "ci_low": low,
                    "ci_high": high,
                    "n": n,
                }
            )
        return pd.DataFrame(rows).set_index("metric")

    def save(self, path: str | Path) -> Path:
        """Write the per-deal table as .csv, .parquet or .json (chosen by the suffix)."""
        path = Path(path)
        if path.suffix not in OUT_FORMATS:
            raise ValueError(f"{path}: unsupported output format; use {', '.join(OUT_FORMATS)}")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        if path.suffix == ".csv":
            self.deals.to_csv(tmp, index=False)
        elif path.suffix == ".parquet":
            self.deals.to_parquet(tmp, index=False)
        else:
            self.deals.to_json(tmp, orient="records", indent=1)
        tmp.replace(path)
        return path

    def plot(self, metrics: list[str] | None = None, ax=None):
        """Bar chart of the headline metrics with 95% CIs; returns the matplotlib figure."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        table = self.summary(metrics or HEADLINE)
        if ax is None:
            fig, ax = plt.subplots(figsize=(7, 3.5))
        else:
            fig = ax.figure
        error = np.vstack([table["mean"] - table["ci_low"], table["ci_high"] - table["mean"]])
        ax.bar(table["label"], table["mean"], yerr=error, capsize=4, color="#4c72b0")
        ax.set_title(f"{self.scenario} - {self.label()} ({len(self)} deals, seed {self.seed})")
        ax.tick_params(axis="x", rotation=20)
        fig.tight_layout()
        return fig


def compare_strategies(runs: dict[str, Results], metrics: list[str] | None = None) -> pd.DataFrame:
    """Side-by-side means with 95% CIs for several strategies on the same deals."""
    rows = []
    for name in metrics or HEADLINE:
        label, _ = METRICS[name]
        row: dict[str, str | float] = {"metric": name, "label": label}
        for strategy, result in runs.items():
            mean, low, high, _ = mean_ci(result.deals.loc[_subset(result.deals, METRICS[name][1]), name])
            row[strategy] = mean
            row[f"{strategy}_ci_low"] = low
            row[f"{strategy}_ci_high"] = high
        rows.append(row)
    return pd.DataFrame(rows).set_index("metric")
