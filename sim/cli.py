"""Command line: ``buyingsim run|compare|scenarios``.

User mistakes (bad scenario, unknown strategy, unwritable output) print one line on stderr
and exit with code 2; no traceback.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from sim import simulate
from sim.results import HEADLINE, METRICS, PERCENT_METRICS, Results, compare_strategies
from sim.scenario import SCENARIO_DIR, Scenario, ScenarioError, load_scenario

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Simulate B2B buying groups looping through the six buying jobs, and compare how "
    "vendor strategies (seller-led, digital-first, sense-making) change purchase ease, deal "
    "size and regret.",
)
console = Console()
error_console = Console(stderr=True)
PROGRESS_AFTER_SECONDS = 2.0
CLI_CHUNK = 2048  # results do not depend on it; small chunks give a smooth progress bar

ScenarioArg = Annotated[
    str, typer.Argument(help="Scenario file or bundled name (see `buyingsim scenarios`).")
]
DealsOpt = Annotated[int, typer.Option("--deals", "-n", min=1, help="Deals to simulate.")]
SeedOpt = Annotated[int, typer.Option("--seed", "-s", min=0, help="Seed: fixes every result.")]


def fail(message: str) -> None:
    """Print a one-line error and exit with code 2."""
    error_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


@contextmanager
def user_errors() -> Iterator[None]:
    try:
        yield
    except ScenarioError as error:
        fail(str(error))
    except (OSError, ValueError) as error:
        fail(str(error))


class DelayedProgress:
    """A progress bar that appears only once work has taken longer than about two seconds."""

    def __init__(self, total: int, description: str):
        self.total, self.description = total, description
        self.started = time.perf_counter()
        self.done = 0
        self.bar: Progress | None = None

    def __call__(self, finished: int) -> None:
        self.done += finished
        if self.bar is None and time.perf_counter() - self.started > PROGRESS_AFTER_SECONDS:
            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed:,}/{task.total:,} deals"),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=error_console,
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task(self.description, total=self.total, rate="")
        if self.bar is not None:
            rate = self.done / max(time.perf_counter() - self.started, 1e-9)
            self.bar.update(self.task, completed=self.done, rate=f"{rate:,.0f} deals/s")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _load(scenario: str) -> Scenario:
    with user_errors():
        return load_scenario(scenario)


def _fmt(value: float, name: str) -> str:
    if pd.isna(value):
        return "n/a"
    if name in ("cycle_weeks", "loops_total", "unresolved_contradictions"):
        return f"{value:.2f}"
    if name in ("deal_size",):
        return f"{value:.3f}"
    if name in PERCENT_METRICS:
        return f"{100 * value:.1f}%"
    return f"{value:.3f}"


def _with_ci(mean: float, low: float, high: float, name: str) -> str:
    """``mean ± half-width`` of the 95% CI, in the metric's own unit."""
    if pd.isna(low):
        return _fmt(mean, name)
    half = _fmt((high - low) / 2, name)
    return f"{_fmt(mean, name)} ± {half}"


def _run(
    scenario: Scenario, deals: int, seed: int, strategy: str | None, progress: Callable[[int], None]
) -> Results:
    with user_errors():
        return simulate(scenario, deals, seed, strategy, chunk_size=CLI_CHUNK, progress=progress)


def _save(results: Results | list[Results], out: Path | None) -> None:
    if out is None:
        return
    frame = (
        results
        if isinstance(results, Results)
        else Results(pd.concat([r.deals for r in results], ignore_index=True))
    )
    with user_errors():
        frame.save(out)
    console.print(f"wrote {out}")


@app.command()
def run(
    scenario: ScenarioArg = "baseline",
    deals: DealsOpt = 5000,
    seed: SeedOpt = 0,
    strategy: Annotated[
        str | None, typer.Option(help="Focal strategy for every deal (default: the scenario's mix).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write the per-deal table to FILE.csv, FILE.parquet or FILE.json.")
    ] = None,
) -> None:
    """Simulate a scenario and print each metric with its 95% confidence interval."""
    loaded = _load(scenario)
    if out is not None and out.suffix not in (".csv", ".parquet", ".json"):
        fail(f"--out {out}: unsupported format {out.suffix!r}; allowed: .csv, .parquet, .json")
    progress = DelayedProgress(deals, f"{loaded.name}")
    started = time.perf_counter()
    try:
        results = _run(loaded, deals, seed, strategy, progress)
    finally:
        progress.close()
    elapsed = time.perf_counter() - started
    table = Table(title=f"{loaded.name}: {results.label()}, {deals:,} deals, seed {seed}")
    table.add_column("metric")
    table.add_column("over")
    table.add_column("mean ± 95% CI", justify="right")
    for name, row in results.summary().iterrows():
        table.add_row(row["label"], row["over"], _with_ci(row["mean"], row["ci_low"], row["ci_high"], name))
    console.print(table)
    console.print(f"{deals:,} deals in {elapsed:.1f} s ({deals / elapsed:,.0f} deals/s)")
    _save(results, out)


@app.command()
def compare(
    scenario: ScenarioArg = "baseline",
    strategies: Annotated[
        str, typer.Option(help="Comma-separated focal strategies to compare on the same deals.")
    ] = "seller_led,digital_first,sense_making",
    deals: DealsOpt = 5000,
    seed: SeedOpt = 0,
    out: Annotated[
        Path | None, typer.Option(help="Write all strategies' per-deal rows to FILE.csv, .parquet or .json.")
    ] = None,
) -> None:
    """Compare strategies on the same simulated deals (paired, common random numbers)."""
    loaded = _load(scenario)
    names = [name.strip() for name in strategies.split(",") if name.strip()]
    if not names:
        fail("--strategies: give at least one strategy name")
    for name in names:
        with user_errors():
            loaded.strategy(name)
    progress = DelayedProgress(deals * len(names), f"{loaded.name}: {len(names)} strategies")
    started = time.perf_counter()
    try:
        runs = {name: _run(loaded, deals, seed, name, progress) for name in names}
    finally:
        progress.close()
    elapsed = time.perf_counter() - started
    side = compare_strategies(runs, HEADLINE + ["focal_win", "cycle_weeks", "loops_total"])
    table = Table(title=f"{loaded.name}: {deals:,} deals per strategy, seed {seed} (mean ± 95% CI)")
    table.add_column("metric")
    for name in names:
        table.add_column(name, justify="right")
    for metric, row in side.iterrows():
        table.add_row(
            row["label"], *[_with_ci(row[n], row[f"{n}_ci_low"], row[f"{n}_ci_high"], metric) for n in names]
        )
    console.print(table)
    if len(names) > 1:
        base = runs[names[0]]
        diff = Table(title=f"paired difference vs {names[0]} on the same deals (± 95% CI)")
        diff.add_column("metric")
        for name in names[1:]:
            diff.add_column(f"{name} - {names[0]}", justify="right")
        comparisons = {name: base.compare(runs[name], HEADLINE) for name in names[1:]}
        for metric in HEADLINE:
            cells = []
            for name in names[1:]:
                row = comparisons[name].loc[metric]
                half = (row["ci_high"] - row["ci_low"]) / 2
                cells.append(f"{row['difference']:+.3f} ± {half:.3f}")
            diff.add_row(METRICS[metric][0], *cells)
        console.print(diff)
    total = deals * len(names)
    console.print(f"{total:,} deals in {elapsed:.1f} s ({total / elapsed:,.0f} deals/s)")
    _save(list(runs.values()), out)


@app.command()
def scenarios() -> None:
    """List the bundled scenarios."""
    table = Table(title=f"scenarios in {SCENARIO_DIR}")
    table.add_column("name")
    table.add_column("description")
    for path in sorted(SCENARIO_DIR.glob("*.toml")):
        try:
            table.add_row(path.stem, load_scenario(path).description)
        except ScenarioError as error:
            table.add_row(path.stem, f"[red]{error}[/]")
    console.print(table)


def _register_extensions() -> None:
    """Commands that live next to their feature (sweeps, dashboard, calibration)."""
    import importlib

    for module in ("sim.sweep_cli", "sim.dashboard_cli", "sim.calibration_cli"):
        try:
            extension = importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name == module:
                continue
            raise
        extension.register(app)


_register_extensions()


def main() -> None:  # pragma: no cover - entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
