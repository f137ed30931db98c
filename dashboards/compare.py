"""Compare page: the three strategies on the same N customers, with 95% confidence intervals.

Each strategy runs through the vectorized engine (``sim.simulate``) on the same seed, so the
deals differ only by the focal vendor's strategy (common random numbers). Results are cached
by scenario content, deal count and seed; they are plain data, so sharing the cache between
browser sessions is safe, and the default comparison is computed once when the server starts.
"""

from __future__ import annotations

import contextlib
import html
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import solara
from matplotlib.figure import Figure

from sim.engine import BLOCK_SIZE, iter_chunks
from sim.results import HEADLINE, METRICS, Results, compare_strategies
from sim.scenario import SCENARIO_DIR, Scenario, ScenarioError, load_scenario

STRATEGIES = ("seller_led", "digital_first", "sense_making")
STRATEGY_COLOURS = {"seller_led": "#c44e52", "digital_first": "#4c72b0", "sense_making": "#55a868"}
DEFAULT_DEALS = 2000
PARTIAL_ROUNDS = (BLOCK_SIZE, 4 * BLOCK_SIZE)  # quick first looks (deals per strategy), then all
DEAL_CHOICES = [500, 1000, 2000, 5000, 10000]
DISTRIBUTIONS = ("purchase_ease", "deal_size", "regret")
RATES = ("no_decision", "high_quality_deal")
FIGURE_DPI = 90


@dataclass(frozen=True)
class Comparison:
    """One run per strategy on the same deals, the side-by-side table, and how long it took.

    While the page is still computing, ``n_deals`` is the first part of ``target`` deals."""

    scenario: str
    n_deals: int
    target: int
    seed: int
    runs: dict[str, Results]
    table: pd.DataFrame  # compare_strategies: mean and 95% CI per metric and strategy
    seconds: float

    @property
    def complete(self) -> bool:
        return self.n_deals == self.target


_cache: dict[tuple[str, int, int], Comparison] = {}
_in_progress: dict[tuple[str, int, int], threading.Event] = {}
_registry_lock = threading.Lock()


def _rounds(n_deals: int) -> list[int]:
    """Deal counts per strategy after each round: a quick first look, then the full count.

    Partial counts are whole engine blocks, so every deal is simulated exactly as in a full
    run (its results depend only on the seed and its index)."""
    return [count for count in PARTIAL_ROUNDS if count < n_deals] + [n_deals]


def iter_comparison(scenario: str | Scenario = "baseline", n_deals: int = DEFAULT_DEALS,
                    seed: int = 0) -> Iterator[Comparison]:
    """Comparisons on growing prefixes of the same deals, ending with all ``n_deals``.

    A finished comparison is cached; a request for one that another session is computing
    waits for it instead of computing it twice."""
    loaded = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if n_deals < 1:
        raise ScenarioError(f"deals = {n_deals}: must be at least 1")
    if seed < 0:
        raise ScenarioError(f"seed = {seed}: must be a non-negative integer")
    key = (loaded.model_dump_json(), int(n_deals), int(seed))
    with _registry_lock:
        waiting = _in_progress.get(key) if key not in _cache else None
        owner = key not in _cache and waiting is None
        if owner:
            _in_progress[key] = threading.Event()
    if waiting is not None:
        waiting.wait()
    if not owner:
        if key in _cache:
            yield _cache[key]
            return
        yield from iter_comparison(loaded, n_deals, seed)  # the other computation failed
        return
    try:
        started = time.perf_counter()
        frames: dict[str, list[pd.DataFrame]] = {name: [] for name in STRATEGIES}
        done = 0
        for count in _rounds(n_deals):
            for name in STRATEGIES:
                frames[name].extend(iter_chunks(loaded, count - done, seed, name, first_deal=done))
            done = count
            runs = {name: Results(deals=pd.concat(parts, ignore_index=True), scenario=loaded.name,
                                  seed=seed, strategy=name,
                                  metadata={"n_deals": done, "source": loaded.source})
                    for name, parts in frames.items()}
            comparison = Comparison(loaded.name, done, n_deals, seed, runs,
                                    compare_strategies(runs, HEADLINE), time.perf_counter() - started)
            if comparison.complete:
                with _registry_lock:
                    _cache[key] = comparison
            yield comparison
    finally:
        with _registry_lock:
            _in_progress.pop(key).set()


def run_comparison(scenario: str | Scenario = "baseline", n_deals: int = DEFAULT_DEALS,
                   seed: int = 0) -> Comparison:
    """The full comparison of ``n_deals`` deals per strategy (cached)."""
    comparison = None
    for comparison in iter_comparison(scenario, n_deals, seed):  # noqa: B007 (keep the last)
        pass
    assert comparison is not None and comparison.complete
    return comparison


def prewarm(scenario: str = "baseline") -> threading.Thread:
    """Compute the default comparison in the background, so the first visit answers at once."""
    def work() -> None:
        with contextlib.suppress(ScenarioError):  # the page shows it when someone opens it
            run_comparison(scenario, DEFAULT_DEALS, 0)
    thread = threading.Thread(target=work, name="compare-prewarm", daemon=True)
    thread.start()
    return thread


def _format(value: float, metric: str) -> str:
    if np.isnan(value):
        return "n/a"
    return f"{100 * value:.1f}%" if metric in RATES else f"{value:.3f}"


def summary_rows(comparison: Comparison) -> list[list[str]]:
    """Header and one row per headline metric: each strategy's mean and 95% CI."""
    rows = [["metric", "over", *STRATEGIES]]
    for metric, row in comparison.table.iterrows():
        rows.append([row["label"], METRICS[metric][1], *(
            f"{_format(row[name], metric)} [{_format(row[f'{name}_ci_low'], metric)}, "
            f"{_format(row[f'{name}_ci_high'], metric)}]" for name in STRATEGIES)])
    return rows


def summary_html(comparison: Comparison) -> str:
    """The summary as an HTML table (no Markdown: its maths renderer needs the internet)."""
    header, *body = summary_rows(comparison)
    cell = "padding:2px 10px;text-align:{align}"
    head = "".join(f"<th style='{cell.format(align='left' if i < 2 else 'right')}'>"
                   f"{html.escape(text)}</th>" for i, text in enumerate(header))
    lines = ["<tr>" + "".join(f"<td style='{cell.format(align='left' if i < 2 else 'right')}'>"
                              f"{html.escape(text)}</td>" for i, text in enumerate(row)) + "</tr>"
             for row in body]
    return f"<thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody>"


def distributions_figure(comparison: Comparison) -> Figure:
    """Histograms of purchase ease (all deals), deal size and regret (purchases)."""
    figure = Figure(figsize=(11, 3.2), dpi=FIGURE_DPI)
    panels = figure.subplots(1, len(DISTRIBUTIONS))
    for axes, metric in zip(panels, DISTRIBUTIONS, strict=True):
        values = {name: run.deals[metric].dropna().to_numpy(dtype=float)
                  for name, run in comparison.runs.items()}
        pooled = np.concatenate([v for v in values.values() if len(v)] or [np.zeros(1)])
        bins = np.histogram_bin_edges(pooled, bins=30)
        for name, data in values.items():
            if len(data):
                axes.hist(data, bins=bins, histtype="step", linewidth=1.6, density=True,
                          color=STRATEGY_COLOURS[name], label=name)
                axes.axvline(data.mean(), color=STRATEGY_COLOURS[name], linestyle="--", linewidth=1)
        label, over = METRICS[metric]
        axes.set_title(f"{label} ({over}; dashed = mean)", fontsize=9)
        axes.set_yticks([])
    panels[0].legend(fontsize=8)
    figure.tight_layout()
    return figure


def intervals_figure(comparison: Comparison) -> Figure:
    """Mean and 95% CI of each headline metric, one panel per metric, one point per strategy."""
    figure = Figure(figsize=(11, 2.8), dpi=FIGURE_DPI)
    panels = figure.subplots(1, len(HEADLINE))
    positions = np.arange(len(STRATEGIES))
    for axes, metric in zip(panels, HEADLINE, strict=True):
        row = comparison.table.loc[metric]
        scale = 100 if metric in RATES else 1
        for position, name in zip(positions, STRATEGIES, strict=True):
            mean = row[name] * scale
            error = [[mean - row[f"{name}_ci_low"] * scale], [row[f"{name}_ci_high"] * scale - mean]]
            axes.errorbar(position, mean, yerr=error, fmt="o", capsize=5,
                          color=STRATEGY_COLOURS[name])
        axes.set_xticks(positions, [name.replace("_", "\n") for name in STRATEGIES], fontsize=8)
        axes.set_xlim(-0.6, len(STRATEGIES) - 0.4)
        axes.set_title(METRICS[metric][0] + (" (%)" if metric in RATES else ""), fontsize=9)
    figure.tight_layout()
    return figure


@solara.component
def Page() -> None:  # noqa: N802 (Solara components)
    """The compare page: controls, then the table, intervals and distributions."""
    scenario, set_scenario = solara.use_state("baseline")
    n_deals, set_n_deals = solara.use_state(DEFAULT_DEALS)
    seed_text, set_seed_text = solara.use_state("0")

    def compute() -> Iterator[Comparison]:
        seed = int(seed_text) if seed_text.strip().isdigit() else -1
        yield from iter_comparison(scenario, n_deals, seed)

    # A threaded generator task: each yielded (partial, then full) comparison is shown at once.
    task = solara.lab.use_task(compute, dependencies=[scenario, n_deals, seed_text])
    latest: Comparison | None = task.latest

    with solara.AppBar():
        solara.AppBarTitle("Compare strategies")
    with solara.Sidebar(), solara.Card("Comparison"):
        names = sorted(path.stem for path in SCENARIO_DIR.glob("*.toml"))
        solara.Select("Scenario", value=scenario, values=names, on_value=set_scenario)
        solara.Select("Deals per strategy", value=n_deals, values=DEAL_CHOICES, on_value=set_n_deals)
        solara.InputText("Seed (press Enter)", value=seed_text, on_value=set_seed_text)
        solara.Text("Each strategy meets the same customers (same seed): the differences "
                    "come from the strategy alone.")

    with solara.Column(classes=["compare-page"]):
        if task.error:
            message = str(task.exception) if isinstance(task.exception, ScenarioError) else repr(
                task.exception)
            solara.Error(message.splitlines()[0] if message else "comparison failed")
            return
        if task.pending:
            solara.ProgressLinear(True)
            shown = (f"showing the first {latest.n_deals:,}; " if latest is not None
                     and latest.target == n_deals and not latest.complete else "")
            solara.Text(f"Simulating {n_deals:,} deals under each of {len(STRATEGIES)} "
                        f"strategies ({shown}the intervals narrow as deals finish)...")
        if latest is not None:
            ComparisonView(latest)


@solara.component
def ComparisonView(comparison: Comparison) -> None:  # noqa: N802 (Solara components)
    """The table, the intervals and the distributions of one comparison (partial or full)."""
    figures = solara.use_memo(
        lambda: (intervals_figure(comparison), distributions_figure(comparison)),
        dependencies=[comparison],
    )
    part = "" if comparison.complete else f" (first {comparison.n_deals:,} of {comparison.target:,})"
    with solara.Card(f"{comparison.scenario}: {comparison.target:,} deals per strategy{part}, "
                     f"seed {comparison.seed}", classes=["compare-results"]):
        state = "complete" if comparison.complete else "partial"
        solara.HTML(tag="table", unsafe_innerHTML=summary_html(comparison),
                    classes=["summary", state])
        timing = (f"Simulated {len(STRATEGIES) * comparison.n_deals:,} deals in "
                  f"{comparison.seconds:.1f} s" + (" (cached afterwards)." if comparison.complete
                                                   else f"; continuing to {comparison.target:,} each."))
        solara.Text(timing, style={"font-size": "0.8em", "color": "grey"})
    with solara.Card("Means with 95% confidence intervals"):
        solara.FigureMatplotlib(figures[0], dependencies=[comparison], format="png")
    with solara.Card("Distributions"):
        solara.FigureMatplotlib(figures[1], dependencies=[comparison], format="png")
