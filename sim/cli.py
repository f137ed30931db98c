"""Command line: ``buyingsim run|compare|scenarios``.

User mistakes (bad scenario, unknown strategy, bad flag, unwritable output) print one line on
stderr and exit with code 2; no traceback. User text (paths, names, descriptions) is escaped
before Rich prints it, so ``[/x]`` in a file name is shown, not parsed as markup.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from typer._click import Context  # typer bundles its own click; its errors are these classes
from typer._click.exceptions import NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from sim import check_in_memory_deals, simulate
from sim.engine import MAX_SEED
from sim.results import HEADLINE, METRICS, OUT_FORMATS, PERCENT_METRICS, Results, compare_strategies
from sim.scenario import SCENARIO_DIR, Scenario, ScenarioError, bundled_scenarios, load_scenario


def shown(text: object) -> str:
    """User text made safe to print with Rich: markup escaped, and control characters (line
    breaks, terminal escapes) written as backslash escapes so that it stays on one line."""
    plain = "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in str(text)
    )
    return escape(plain)


class OneLineUsageErrors(TyperGroup):
    """Usage mistakes (unknown flag, value out of range, missing argument) as one line on
    stderr with exit code 2, like every other user mistake; help requests pass through."""

    def make_context(self, *args: Any, **kwargs: Any) -> Context:
        with _one_line_usage_errors():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Context) -> Any:
        with _one_line_usage_errors():
            return super().invoke(ctx)


@contextmanager
def _one_line_usage_errors() -> Iterator[None]:
    try:
        yield
    except NoArgsIsHelpError:
        raise
    except UsageError as error:
        command = error.ctx.command_path if error.ctx is not None else "buyingsim"
        fail(f"{command}: {error.format_message()} (see {command} --help)")


app = typer.Typer(
    cls=OneLineUsageErrors,
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
SeedOpt = Annotated[
    int, typer.Option("--seed", "-s", min=0, max=MAX_SEED, help="Seed: fixes every result.")
]


def fail(message: str) -> None:
    """Print a one-line error (user text escaped) and exit with code 2."""
    error_console.print(f"[bold red]error:[/] {shown(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn a user mistake raised inside (bad scenario, value or file) into ``fail``."""
    try:
        yield
    except ScenarioError as error:
        fail(str(error))
    except (OSError, ValueError) as error:
        fail(str(error))


class DelayedProgress:
    """One progress display for a whole command, shown once the work has taken longer than
    about two seconds. Each stage (simulating deals, bootstrapping CIs) is one row counted in
    its own unit; rows of later stages show 0 done until they start, so the display is honest
    about what remains. Calling the object advances the first stage."""

    def __init__(self, total: int, description: str, unit: str = "deals"):
        self.created = time.perf_counter()
        self.bar: Progress | None = None
        self.stages: list[dict[str, Any]] = []
        self.tasks: list[TaskID] = []
        self._first = self.stage(total, description, unit)

    def stage(self, total: int, description: str, unit: str) -> Callable[[int], None]:
        """Add a row; the returned callable advances it by the units just finished."""
        index = len(self.stages)
        self.stages.append(
            {"total": total, "description": shown(description), "unit": unit, "done": 0, "started": None}
        )
        if self.bar is not None:
            self.tasks.append(self._add_task(self.stages[index]))
        return lambda finished: self._advance(index, finished)

    def __call__(self, finished: int) -> None:
        self._first(finished)

    def _add_task(self, stage: dict[str, Any]) -> TaskID:
        assert self.bar is not None
        return self.bar.add_task(
            stage["description"], total=stage["total"], unit=stage["unit"], rate="", elapsed=""
        )

    def _advance(self, index: int, finished: int) -> None:
        now = time.perf_counter()
        stage = self.stages[index]
        if stage["started"] is None:
            # A stage started when the one before it ended (or when the command started).
            previous = self.stages[index - 1] if index else None
            stage["started"] = previous.get("ended", now) if previous else self.created
        stage["done"] += finished
        if stage["done"] >= stage["total"]:
            stage["ended"] = now
        if self.bar is None and now - self.created > PROGRESS_AFTER_SECONDS:
            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed:,}/{task.total:,} {task.fields[unit]}"),
                TextColumn("{task.fields[rate]}"),
                TextColumn("{task.fields[elapsed]}"),
                TimeRemainingColumn(),
                console=error_console,
                transient=True,
            )
            self.bar.start()
            self.tasks = [self._add_task(each) for each in self.stages]
        if self.bar is not None:
            for task, each in zip(self.tasks, self.stages, strict=True):
                elapsed = (each.get("ended", now) - each["started"]) if each["started"] is not None else 0
                rate = f"{each['done'] / elapsed:,.0f} {each['unit']}/s" if elapsed > 0 else ""
                shown_elapsed = str(dt.timedelta(seconds=int(elapsed))) if each["started"] is not None else ""
                self.bar.update(task, completed=each["done"], rate=rate, elapsed=shown_elapsed)

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


def check_out(out: Path | None) -> None:
    """Refuse an --out format the table cannot be written in before any work is done."""
    if out is not None and out.suffix not in OUT_FORMATS:
        fail(f"--out {out}: unsupported format {out.suffix!r}; allowed: {', '.join(OUT_FORMATS)}")


def check_deals(total: int, flag: str = "--deals") -> None:
    """Refuse at once a command that would hold more deals in memory than the cap."""
    with user_errors():
        check_in_memory_deals(total, flag)


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
    console.print(f"wrote {shown(out)}")


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
    check_deals(deals)
    check_out(out)
    loaded = _load(scenario)
    if strategy is not None:
        with user_errors():
            loaded.strategy(strategy, given_by="--strategy")
    progress = DelayedProgress(deals, loaded.name)
    started = time.perf_counter()
    try:
        results = _run(loaded, deals, seed, strategy, progress)
    finally:
        progress.close()
    elapsed = time.perf_counter() - started
    table = Table(title=shown(f"{loaded.name}: {results.label()}, {deals:,} deals, seed {seed}"))
    table.add_column("metric")
    table.add_column("over")
    table.add_column("mean ± 95% CI", justify="right")
    for name, row in results.summary().iterrows():
        table.add_row(
            shown(row["label"]),
            shown(row["over"]),
            _with_ci(row["mean"], row["ci_low"], row["ci_high"], name),
        )
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
    names = list(dict.fromkeys(name.strip() for name in strategies.split(",") if name.strip()))
    if not names:
        fail(f"--strategies {strategies!r}: give at least one strategy name")
    held = "--deals" if len(names) == 1 else f"--deals times {len(names)} strategies"
    check_deals(deals * len(names), held)
    check_out(out)
    loaded = _load(scenario)
    for name in names:
        with user_errors():
            loaded.strategy(name, given_by="--strategies")
    progress = DelayedProgress(deals * len(names), f"{loaded.name}: {len(names)} strategies")
    started = time.perf_counter()
    try:
        runs = {name: _run(loaded, deals, seed, name, progress) for name in names}
    finally:
        progress.close()
    elapsed = time.perf_counter() - started
    side = compare_strategies(runs, HEADLINE + ["focal_win", "cycle_weeks", "loops_total"])
    table = Table(title=shown(f"{loaded.name}: {deals:,} deals per strategy, seed {seed} (mean ± 95% CI)"))
    table.add_column("metric")
    for name in names:
        table.add_column(shown(name), justify="right")
    for metric, row in side.iterrows():
        table.add_row(
            shown(row["label"]),
            *[_with_ci(row[n], row[f"{n}_ci_low"], row[f"{n}_ci_high"], metric) for n in names],
        )
    console.print(table)
    if len(names) > 1:
        base = runs[names[0]]
        diff = Table(title=shown(f"paired difference vs {names[0]} on the same deals (± 95% CI)"))
        diff.add_column("metric")
        for name in names[1:]:
            diff.add_column(shown(f"{name} - {names[0]}"), justify="right")
        comparisons = {name: base.compare(runs[name], HEADLINE) for name in names[1:]}
        for metric in HEADLINE:
            cells = []
            for name in names[1:]:
                row = comparisons[name].loc[metric]
                half = (row["ci_high"] - row["ci_low"]) / 2
                cells.append(f"{row['difference']:+.3f} ± {half:.3f}")
            diff.add_row(shown(METRICS[metric][0]), *cells)
        console.print(diff)
    total = deals * len(names)
    console.print(f"{total:,} deals in {elapsed:.1f} s ({total / elapsed:,.0f} deals/s)")
    _save(list(runs.values()), out)


@app.command()
def scenarios() -> None:
    """List the bundled scenarios (defaults.toml, the calibrated base they extend, is not one)."""
    table = Table(title=shown(f"scenarios in {SCENARIO_DIR}"))
    table.add_column("name")
    table.add_column("description")
    for path in bundled_scenarios():
        try:
            table.add_row(shown(path.stem), shown(load_scenario(path).description))
        except ScenarioError as error:
            table.add_row(shown(path.stem), f"[red]{shown(error)}[/]")
    console.print(table)


def _register_extensions() -> None:
    """Commands that live next to their feature (sweeps, dashboard, calibration, workshop)."""
    import importlib

    for module in ("sim.sweep_cli", "sim.dashboard_cli", "sim.calibration_cli", "sim.workshop_cli"):
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
