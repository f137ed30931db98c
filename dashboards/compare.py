"""Compare page: the three strategies on the same N customers, with 95% confidence intervals
(interactive charts, see :mod:`dashboards.charts`).

Each strategy runs through the compiled engine on the same seed, the three in parallel
threads, so the deals differ only by the focal vendor's strategy (common random numbers). Results are cached
by scenario content, deal count and seed; they are plain data, so sharing the cache between
browser sessions is safe, and the default comparison is computed once when the server starts.
The cache (:class:`dashboards.cache.BoundedCache`) keeps the most recently used comparisons
within :data:`CACHE_BUDGET_BYTES`.

The page's fields accept only the listed scenarios and deal counts and a seed that
:func:`dashboards.inputs.parse_seed` accepts; anything else gets a message beside the field
and the comparison shown stays the last valid one.
"""

from __future__ import annotations

import contextlib
import functools
import html
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd
import solara

from dashboards.cache import BoundedCache
from dashboards.charts import Chart
from dashboards.inputs import (
    FieldMessage,
    SafeView,
    accept_field,
    bundled_scenarios,
    failure_message,
    parse_seed,
    pick,
)
from sim.engine import BLOCK_SIZE, iter_chunks
from sim.palette import strategy_colour
from sim.results import HEADLINE, METRICS, Results, compare_strategies
from sim.scenario import Scenario, ScenarioError, load_scenario

STRATEGIES = ("seller_led", "digital_first", "sense_making")
DEFAULT_DEALS = 2000
# Counts above this get a first look at this many deals per strategy (whole engine blocks),
# then all; a comparison of up to 2,048 deals per strategy answers in one go.
FIRST_LOOK = 8 * BLOCK_SIZE
DEAL_CHOICES = [500, 1000, 2000, 5000, 10000]
DISTRIBUTIONS = ("purchase_ease", "deal_size", "regret")
RATES = ("no_decision", "high_quality_deal")
# Finished comparisons kept for every session, least recently used dropped first, counted
# with pandas' memory_usage. One of 10,000 deals per strategy holds about 12 MB (and costs
# the server about 25 MB of resident memory), so about 17 of the largest fit.
CACHE_BUDGET_BYTES = 200 * 2**20


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

    @property
    def nbytes(self) -> int:
        """Memory held by the deals and the table (what the cache budget counts)."""
        frames = [run.deals for run in self.runs.values()] + [self.table]
        return int(sum(frame.memory_usage(index=True, deep=True).sum() for frame in frames))


@dataclass(frozen=True)
class Failure:
    """What the page shows instead of a comparison that could not be computed."""

    message: str


CacheKey = tuple[str, int, int]
_cache: BoundedCache[Comparison] = BoundedCache(CACHE_BUDGET_BYTES, lambda comparison: comparison.nbytes)
_in_progress: dict[CacheKey, threading.Event] = {}
_registry_lock = threading.Lock()


def cache_bytes() -> int:
    """Bytes held by the cached comparisons (at most the cache's budget)."""
    return _cache.nbytes


def _rounds(n_deals: int) -> list[int]:
    """Deal counts per strategy after each round: a first look for large counts, then all.

    A partial count is whole engine blocks, so every deal is simulated exactly as in a full
    run (its results depend only on the seed and its index)."""
    return ([FIRST_LOOK] if n_deals > FIRST_LOOK else []) + [n_deals]


def _simulate_strategies(scenario: Scenario, n_deals: int, seed: int,
                         first_deal: int) -> dict[str, list[pd.DataFrame]]:
    """Deals [first_deal, first_deal + n_deals) under each strategy, the strategies in
    parallel threads (the compiled engine releases the interpreter lock while it runs)."""
    with ThreadPoolExecutor(max_workers=len(STRATEGIES), thread_name_prefix="compare") as pool:
        futures = {name: pool.submit(lambda name=name: list(
            iter_chunks(scenario, n_deals, seed, name, first_deal=first_deal))) for name in STRATEGIES}
        return {name: future.result() for name, future in futures.items()}


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
        cached = _cache.get(key)
        waiting = _in_progress.get(key) if cached is None else None
        if cached is None and waiting is None:
            _in_progress[key] = threading.Event()
    if cached is not None:
        yield cached
        return
    if waiting is not None:
        waiting.wait()
        cached = _cache.get(key)
        if cached is not None:
            yield cached
        else:  # the other computation failed, or its result was too large to keep
            yield from iter_comparison(loaded, n_deals, seed)
        return
    try:
        started = time.perf_counter()
        frames: dict[str, list[pd.DataFrame]] = {name: [] for name in STRATEGIES}
        done = 0
        for count in _rounds(n_deals):
            for name, parts in _simulate_strategies(loaded, count - done, seed, done).items():
                frames[name].extend(parts)
            done = count
            runs = {name: Results(deals=pd.concat(parts, ignore_index=True), scenario=loaded.name,
                                  seed=seed, strategy=name,
                                  metadata={"n_deals": done, "source": loaded.source})
                    for name, parts in frames.items()}
            comparison = Comparison(loaded.name, done, n_deals, seed, runs,
                                    compare_strategies(runs, HEADLINE), time.perf_counter() - started)
            if comparison.complete:
                _cache.put(key, comparison)
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


def metric_axis_title(metric: str) -> str:
    """A metric's name with its unit, as an axis title."""
    label, over = METRICS[metric]
    unit = f"% of {'deals' if over == 'all' else 'purchases'}" if metric in RATES else (
        "x ambition" if metric == "deal_size" else "index 0-1")
    return f"{label.split(' (')[0]} ({unit})"


def _strategy_colour() -> alt.Color:
    return alt.Color("strategy:N", title="strategy", sort=list(STRATEGIES), scale=alt.Scale(
        domain=list(STRATEGIES), range=[strategy_colour(name) for name in STRATEGIES]))


def distributions_chart(comparison: Comparison) -> alt.HConcatChart:
    """Histograms (as step lines) of purchase ease (all deals), deal size and regret
    (purchases): the share of deals in each bin, from zero, one panel per metric."""
    panels = []
    for metric in DISTRIBUTIONS:
        values = {name: run.deals[metric].dropna().to_numpy(dtype=float)
                  for name, run in comparison.runs.items()}
        pooled = np.concatenate([v for v in values.values() if len(v)] or [np.zeros(1)])
        edges = np.histogram_bin_edges(pooled, bins=30)
        rows = []
        for name, data in values.items():
            counts = np.histogram(data, bins=edges)[0] if len(data) else np.zeros(len(edges) - 1)
            share = 100 * counts / max(len(data), 1)
            rows += [{"strategy": name, "from": float(low), "to": float(high), "share": float(value),
                      "mean": float(data.mean()) if len(data) else np.nan}
                     for low, high, value in zip(edges[:-1], edges[1:], share, strict=True)]
        frame = pd.DataFrame(rows)
        over = "deals" if METRICS[metric][1] == "all" else "purchases"
        x = alt.X("from:Q", title=metric_axis_title(metric), axis=alt.Axis(tickCount=5))
        panels.append(alt.layer(
            alt.Chart(frame).mark_line(interpolate="step-after", strokeWidth=2).encode(
                x=x, y=alt.Y("share:Q", title=f"% of {over} per bin", scale=alt.Scale(zero=True)),
                color=_strategy_colour(), tooltip=[
                    "strategy:N", alt.Tooltip("from:Q", format=".3f"),
                    alt.Tooltip("to:Q", format=".3f"),
                    alt.Tooltip("share:Q", title=f"% of {over}", format=".1f")]),
            alt.Chart(frame.drop_duplicates("strategy")).mark_rule(strokeDash=[5, 3]).encode(
                x="mean:Q", color=_strategy_colour(),
                tooltip=["strategy:N", alt.Tooltip("mean:Q", format=".3f")]),
        ).properties(width=175, height=200, title=f"{METRICS[metric][0].split(' (')[0]} (dashed = mean)"))
    return alt.hconcat(*panels, spacing=16)


def intervals_chart(comparison: Comparison) -> alt.VConcatChart:
    """Mean and 95% CI of each headline metric per strategy, one panel per metric, every
    axis from zero (rates in percent)."""
    panels = []
    for metric in HEADLINE:
        row = comparison.table.loc[metric]
        scale = 100 if metric in RATES else 1
        frame = pd.DataFrame([{"strategy": name, "mean": row[name] * scale,
                               "low": row[f"{name}_ci_low"] * scale,
                               "high": row[f"{name}_ci_high"] * scale} for name in STRATEGIES])
        y = alt.Y("strategy:N", title=None, sort=list(STRATEGIES))
        tooltip = ["strategy:N", alt.Tooltip("mean:Q", format=".3f"),
                   alt.Tooltip("low:Q", title="95% CI from", format=".3f"),
                   alt.Tooltip("high:Q", title="95% CI to", format=".3f")]
        base = alt.Chart(frame)
        panels.append(alt.layer(
            base.mark_rule(strokeWidth=3).encode(
                x=alt.X("low:Q", title=metric_axis_title(metric), scale=alt.Scale(zero=True)),
                x2="high:Q", y=y, color=_strategy_colour(), tooltip=tooltip),
            base.mark_point(filled=True, size=120).encode(x="mean:Q", y=y, color=_strategy_colour(),
                                                          tooltip=tooltip),
        ).properties(width=520, height=90))
    return alt.vconcat(*panels, spacing=12).resolve_scale(x="independent")


@solara.component
def Page() -> None:  # noqa: N802 (Solara components)
    """The compare page; any unexpected failure becomes a short message, not a traceback."""
    SafeView(ComparePage, "The compare page")


@solara.component
def ComparePage() -> None:  # noqa: N802 (Solara components)
    """The compare page: controls, then the table, intervals and distributions."""
    scenario, set_scenario = solara.use_state("baseline")
    n_deals, set_n_deals = solara.use_state(DEFAULT_DEALS)
    seed, set_seed = solara.use_state(0)
    seed_text, set_seed_text = solara.use_state("0")
    refused = solara.use_reactive({})  # field -> message about its last refused value
    names = bundled_scenarios()

    accept = functools.partial(accept_field, refused)

    def on_seed(text: str) -> None:
        set_seed_text(str(text))
        accept("seed", seed, lambda: parse_seed(text), set_seed)

    def compute() -> Iterator[Comparison | Failure]:
        try:
            yield from iter_comparison(scenario, n_deals, seed)
        except Exception as error:  # noqa: BLE001 (one line in the page, the rest in the log)
            yield Failure(failure_message(error, "The comparison"))

    # A threaded generator task: each yielded (partial, then full) comparison is shown at once.
    task = solara.lab.use_task(compute, dependencies=[scenario, n_deals, seed])
    latest = task.latest

    with solara.AppBar():
        solara.AppBarTitle("Compare strategies")
    def controls() -> solara.Element:
        with solara.Card("Comparison") as card:
            solara.Select("Scenario", value=scenario, values=names, on_value=lambda value: accept(
                "scenario", scenario, lambda: pick("scenario", value, names), set_scenario))
            FieldMessage(refused.value.get("scenario"))
            solara.Select("Deals per strategy", value=n_deals, values=DEAL_CHOICES,
                          on_value=lambda value: accept(
                              "deals", n_deals, lambda: pick("deals per strategy", value, DEAL_CHOICES),
                              set_n_deals))
            FieldMessage(refused.value.get("deals"))
            solara.InputText("Seed (press Enter)", value=seed_text, on_value=on_seed)
            FieldMessage(refused.value.get("seed"))
            solara.Text("Each strategy meets the same customers (same seed): the differences "
                        "come from the strategy alone.")
        return card

    with solara.Sidebar():  # rendered apart from the page, so it needs its own safety net
        SafeView(controls, "The comparison settings")

    with solara.Column(classes=["compare-page"]):
        if task.error:  # compute() catches everything; this is the last safety net
            solara.Error(failure_message(task.exception or RuntimeError(), "The comparison"))
            return
        if isinstance(latest, Failure):
            if not task.pending:
                solara.Error(latest.message, classes=["compare-failure"])
            latest = None
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
    charts = solara.use_memo(
        lambda: (intervals_chart(comparison), distributions_chart(comparison)),
        dependencies=[comparison],
    )
    part = "" if comparison.complete else f" (first {comparison.n_deals:,} of {comparison.target:,})"
    with solara.Card(f"{comparison.scenario}: {comparison.target:,} deals per strategy{part}, "
                     f"seed {comparison.seed}", classes=["compare-results"]):
        state = "complete" if comparison.complete else "partial"
        solara.HTML(tag="table", unsafe_innerHTML=summary_html(comparison),
                    classes=["summary", state], style={"font-size": "15px"})
        timing = (f"Simulated {len(STRATEGIES) * comparison.n_deals:,} deals in "
                  f"{comparison.seconds:.1f} s" + (" (cached afterwards)." if comparison.complete
                                                   else f"; continuing to {comparison.target:,} each."))
        solara.Text(timing, style={"font-size": "0.8em", "color": "grey"})
    with solara.Card("Means with 95% confidence intervals (every axis from zero)"):
        Chart(charts[0], classes=["intervals-chart"])
    with solara.Card("Distributions"):
        Chart(charts[1], classes=["distributions-chart"])
