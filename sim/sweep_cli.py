"""Command line for sweeps: ``buyingsim sweep``, ``buyingsim report``, ``buyingsim sensitivity``,
``buyingsim discover``.

``sim.cli`` calls :func:`register` to add these commands. As elsewhere in the CLI, user
mistakes (bad spec, refused directory) print one line on stderr and exit with code 2; an
interrupted run (Ctrl-C or SIGTERM) keeps its finished chunks and exits with code 130.
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from sim.explore.design import load_sweep_plan
from sim.explore.runner import SweepProgress, SweepRun, run_sweep
from sim.explore.spec import SweepError, SweepKind
from sim.explore.store import load_sweep
from sim.scenario import ScenarioError

console = Console()
error_console = Console(stderr=True)
EXIT_USAGE, EXIT_INTERRUPTED = 2, 130

SpecArg = Annotated[Path, typer.Argument(help="Sweep spec file (TOML).", show_default=False)]
WorkersOpt = Annotated[
    int | None,
    typer.Option(
        "--workers",
        "-w",
        min=1,
        help="Local worker processes (default: all cores; 1 runs in this "
        "process). With --dask-local: Dask workers.",
    ),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        help="Run on an existing Dask cluster you control, e.g. tcp://HOST:8786 (results come back "
        "as pickles; workers need this package)."
    ),
]
DaskLocalOpt = Annotated[
    bool,
    typer.Option("--dask-local", help="Start a Dask LocalCluster (tries the cluster path on one machine)."),
]
SecurityOpt = Annotated[
    Path | None,
    typer.Option(
        "--scheduler-security",
        help="TOML file naming the TLS ca_file, cert_file (and key_file) for a tls:// --scheduler.",
        show_default=False,
    ),
]
RepairOpt = Annotated[
    bool,
    typer.Option(
        "--repair",
        help="Rebuild a missing or damaged manifest.json from the spec and the chunk files that verify.",
    ),
]
CheckOpt = Annotated[
    bool,
    typer.Option("--check", help="Validate the spec and show the size of the run; run nothing."),
]


def _fail(message: str) -> NoReturn:
    """Print a one-line error and exit with code 2."""
    error_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_USAGE)


def _say(message: str) -> None:
    console.print(message, highlight=False, soft_wrap=True, markup=False)


def _warn(message: str) -> None:
    """What a run repaired on its own (e.g. a damaged chunk it recomputes), on stderr."""
    error_console.print(f"warning: {message}", highlight=False, soft_wrap=True, markup=False)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: finished chunks are kept, workers are ended."""


@contextmanager
def _interruptible() -> Iterator[None]:
    """Turn SIGTERM into an interrupt while a run is going, and report either one briefly."""

    def on_sigterm(signum: int, frame: Any) -> None:
        raise _Terminated()

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    except KeyboardInterrupt as interrupt:
        what = "terminated" if isinstance(interrupt, _Terminated) else "interrupted"
        error_console.print(
            f"{what}: finished chunks are kept; rerun the same command to resume",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except (SweepError, ScenarioError) as error:
        _fail(str(error))
    except OSError as error:
        _fail(str(error))
    finally:
        signal.signal(signal.SIGTERM, previous)


class ProgressBar:
    """Points done, deals done, deals/s of this run and ETA, on stderr."""

    def __init__(self, description: str):
        self.description = description
        self.bar: Progress | None = None
        self.task: Any = None
        self.started = time.perf_counter()
        self.resumed = 0

    def __call__(self, status: SweepProgress) -> None:
        if self.bar is None:
            self.resumed = status.deals_done
            self.started = time.perf_counter()
            self.bar = Progress(
                TextColumn("{task.description}"),
                TextColumn("points {task.fields[points]}"),
                BarColumn(),
                TextColumn("{task.completed:,}/{task.total:,} deals"),
                TextColumn("{task.fields[rate]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=error_console,
            )
            self.bar.start()
            self.task = self.bar.add_task(
                escape(self.description),
                total=status.deals_total,
                completed=status.deals_done,
                rate="",
                points="",
            )
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        rate = (status.deals_done - self.resumed) / elapsed
        self.bar.update(
            self.task,
            completed=status.deals_done,
            points=f"{status.points_done}/{status.points_total}",
            rate=f"{rate:,.0f} deals/s" if status.deals_done > self.resumed else "",
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _run(
    spec: Path,
    out: Path,
    workers: int | None,
    scheduler: str | None,
    dask_local: bool,
    kind: SweepKind,
    security: Path | None = None,
    repair: bool = False,
) -> SweepRun:
    bar = ProgressBar(f"{kind} {spec.stem}")
    try:
        run = run_sweep(
            spec,
            out,
            workers=workers,
            scheduler=scheduler,
            dask_local=dask_local,
            kind=kind,
            progress=bar,
            repair=repair,
            security=security,
            warn=_warn,
        )
    finally:
        bar.close()
    if run.chunks_computed == 0:
        _say(f"nothing to do: all {run.chunks_resumed} chunks in {out} are done")
        return run
    resumed = f"; {run.chunks_resumed} were already done" if run.chunks_resumed else ""
    _say(
        f"{run.deals_computed:,} deals in {run.chunks_computed} chunks, {run.seconds:.1f} s "
        f"({run.deals_per_second:,.0f} deals/s), {run.workers} worker(s){resumed}: results in "
        f"{out}"
    )
    return run


def sweep(
    spec: SpecArg,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Results directory (created; rerun to resume).", show_default=False),
    ] = None,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    dask_local: DaskLocalOpt = False,
    scheduler_security: SecurityOpt = None,
    repair: RepairOpt = False,
    check: CheckOpt = False,
) -> None:
    """Run a sweep spec into a resumable Parquet results directory.

    Every point of the spec runs under every strategy on the same deals. Rerunning the same
    command resumes (damaged chunks are recomputed); a different spec on the same directory
    is refused.
    """
    with _interruptible():
        if check:
            _check(spec, "sweep")
            return
        if out is None:
            _fail("--out DIR is required: the results directory to create or resume")
        _run(spec, out, workers, scheduler, dask_local, "sweep", scheduler_security, repair)
    _say(f"next: buyingsim report {out}")


def _check(spec: Path, kind: SweepKind) -> None:
    """Validate a spec and describe the run it would make."""
    plan = load_sweep_plan(spec, kind)
    chunks = len(plan.slots())
    _say(
        f"{spec}: valid; {len(plan.points):,} points x {len(plan.spec.strategies)} strategies x "
        f"{plan.spec.deals_per_point:,} deals = {plan.deals_total:,} deals in {chunks:,} chunks"
    )


def report(
    directory: Annotated[Path, typer.Argument(help="Results directory of a sweep.", show_default=False)],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Report directory (default: DIR/report).")
    ] = None,
    metrics: Annotated[
        str | None, typer.Option(help="Comma-separated metrics (default: the spec's outcomes).")
    ] = None,
    satisfice: Annotated[
        list[str] | None,
        typer.Option(
            help="METRIC=VALUE: also report the share of points where each strategy meets it "
            "(at least VALUE where higher is better, at most where lower is); repeatable."
        ),
    ] = None,
) -> None:
    """Write an HTML report with embedded plots, and CSVs, for a sweep's results.

    Metrics per point and strategy with 95% CIs, the best strategy per point with its paired
    margin over the runner-up, line plots against each parameter, heatmaps over pairs.
    """
    from sim.explore.report import write_report

    with _interruptible():
        results = load_sweep(directory)
        chosen = _metric_list(metrics, [c for c in results.deals.columns if c not in results.parameters])
        if results.deals.empty:
            _fail(f"{directory}: no finished chunks yet; run `buyingsim sweep` first")
        thresholds = _thresholds(satisfice or [], chosen or results.outcomes)
        path = write_report(results, out or directory / "report", chosen, thresholds)
    _warn_if_incomplete(results.complete, "the report")
    _say(f"wrote {path} (and CSVs beside it)")


def _warn_if_incomplete(complete: bool, what: str) -> None:
    """Say on stderr that an interrupted sweep's output covers only its finished chunks."""
    if not complete:
        _warn(f"the sweep is incomplete; {what} covers finished chunks")


def _thresholds(entries: list[str], metrics: list[str]) -> dict[str, float]:
    """``--satisfice METRIC=VALUE`` entries as a mapping; one-line errors for bad entries."""
    from sim.explore.analysis import DIRECTION

    thresholds: dict[str, float] = {}
    for entry in entries:
        metric, _, text = entry.partition("=")
        metric = metric.strip()
        if metric not in metrics or metric not in DIRECTION:
            allowed = ", ".join(m for m in metrics if m in DIRECTION)
            _fail(f"--satisfice {entry!r}: unknown metric {metric!r}; allowed: {allowed}")
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not math.isfinite(value):
            _fail(f"--satisfice {entry!r}: give METRIC=VALUE with a finite number, e.g. {metric}=0.3")
        thresholds[metric] = value
    return thresholds


def sensitivity(
    spec: SpecArg,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Results directory (default: output/<spec name>-sensitivity)."),
    ] = None,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    dask_local: DaskLocalOpt = False,
    scheduler_security: SecurityOpt = None,
    repair: RepairOpt = False,
    check: CheckOpt = False,
) -> None:
    """Global sensitivity analysis of outcomes to the spec's parameter ranges (SALib).

    Sobol or Morris, as the spec's sensitivity table says; writes indices, plots and an HTML
    page, and keeps the simulated points in a resumable results directory.
    """
    from sim.explore.sensitivity import write_sensitivity_report

    out = out or Path("output") / f"{spec.stem}-sensitivity"
    with _interruptible():
        if check:
            _check(spec, "sensitivity")
            return
        _run(spec, out, workers, scheduler, dask_local, "sensitivity", scheduler_security, repair)
        path, indices = write_sensitivity_report(load_sweep(out), out / "sensitivity")
    main_index = "ST" if "ST" in indices else "mu_star"
    top = indices.sort_values(main_index, ascending=False).groupby(["target", "outcome"], sort=False).head(1)
    for row in top.itertuples():
        _say(
            f"{row.target} / {row.outcome}: most influential {row.parameter} "
            f"({main_index} = {getattr(row, main_index):.2f})"
        )
    _say(f"wrote {path}")


def discover(
    directory: Annotated[Path, typer.Argument(help="Results directory of a sweep.", show_default=False)],
    metric: Annotated[str, typer.Option(help="The metric the question is about, e.g. purchase_ease.")],
    contrast: Annotated[
        str | None,
        typer.Option(help="A,B: find where strategy A beats strategy B on the metric (paired, same deals)."),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(help="With --contrast: A must beat B by more than this margin (default 0)."),
    ] = None,
    clear: Annotated[
        bool, typer.Option("--clear", help="With --contrast: A must beat B, paired 95% CI clear of zero.")
    ] = False,
    above: Annotated[
        float | None, typer.Option(help="Without --contrast: find where the metric's mean is above this.")
    ] = None,
    below: Annotated[
        float | None, typer.Option(help="Without --contrast: find where the metric's mean is below this.")
    ] = None,
    strategy: Annotated[
        str | None,
        typer.Option(help="Without --contrast: only this strategy (default: each, as a condition)."),
    ] = None,
    density: Annotated[
        float, typer.Option(help="Share of a box's points that must qualify for PRIM to choose it.")
    ] = 0.8,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output directory (default: DIR/discovery).")
    ] = None,
) -> None:
    """Scenario discovery: the regions of the swept conditions where a question holds.

    PRIM boxes (with their peeling trajectory, coverage, density and the significance of each
    limit), a CART tree as a second view and feature scores, written as an HTML page and CSVs,
    led by sentences such as "sense-making beats seller-led on purchase ease by more than 0.05
    when conflict level >= 0.5 (covers 81% of such points; 92% of points in the region qualify)".
    """
    from sim.explore.discovery import discover as find
    from sim.explore.discovery import write_discovery

    with _interruptible():
        pair = None
        if contrast is not None:
            names = [name.strip() for name in contrast.split(",")]
            if len(names) != 2 or not all(names):
                _fail(f"--contrast {contrast!r}: give two strategies as A,B, e.g. sense_making,seller_led")
            pair = (names[0], names[1])
        results = load_sweep(directory)
        found = find(results, metric, pair, threshold, clear, above, below, strategy, density)
        path = write_discovery(found, out or directory / "discovery", results.name)
    _warn_if_incomplete(results.complete, "the discovery")
    for sentence in found.sentences:
        _say(f"- {sentence}")
    _say(f"wrote {path} (and CSVs beside it)")


def _metric_list(metrics: str | None, columns: Any) -> list[str] | None:
    if metrics is None:
        return None
    names = [name.strip() for name in metrics.split(",") if name.strip()]
    unknown = [name for name in names if name not in columns]
    if unknown:
        _fail(
            f"--metrics: unknown {unknown[0]!r}; allowed: "
            f"{', '.join(c for c in columns if c not in ('point', 'strategy', 'deal'))}"
        )
    return names


COMMANDS: dict[str, Callable[..., None]] = {
    "sweep": sweep,
    "report": report,
    "sensitivity": sensitivity,
    "discover": discover,
}


def register(app: typer.Typer) -> None:
    """Add the sweep commands to the ``buyingsim`` app."""
    for name, command in COMMANDS.items():
        app.command(name)(command)
