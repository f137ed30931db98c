"""Commands ``buyingsim calibrate`` and ``buyingsim validate``."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from sim.calibration import (
    CHECK_SEEDS,
    DEFAULTS_FILE,
    DYNAMICS_PARAMETERS,
    ENSEMBLE_SIZE,
    FREE_PARAMETERS,
    INDEPENDENT_FIGURES,
    JUDGEMENT_PARAMETERS,
    Calibration,
    checked_ensemble,
    write_defaults,
    write_ensemble,
)
from sim.engine import MAX_SEED
from sim.research import FIGURES

MAX_WORKERS = 64  # worker processes; more would only exhaust the machine


def register(app: typer.Typer) -> None:
    """Add the calibration commands to the main CLI."""
    from sim.cli import (
        CLI_CHUNK,
        DelayedProgress,
        check_deals,
        console,
        error_console,
        fail,
        shown,
        user_errors,
    )

    @app.command()
    def calibrate(
        trials: Annotated[int, typer.Option(min=1, help="Completed trials the study should hold.")] = 150,
        deals: Annotated[
            int, typer.Option("--deals", "-n", min=500, help="Market deals per seed in each trial.")
        ] = 10_000,
        seeds: Annotated[
            int, typer.Option(min=1, max=16, help="Seeds whose deals each trial pools (seed, seed+1, ...).")
        ] = 2,
        seed: Annotated[
            int, typer.Option("--seed", "-s", min=0, max=MAX_SEED, help="Simulation and sampler seed.")
        ] = 7,
        workers: Annotated[
            int, typer.Option(min=1, max=MAX_WORKERS, help="Worker processes (default: all cores).")
        ] = multiprocessing.cpu_count(),
        storage: Annotated[Path, typer.Option(help="Journal file of the study (resumable).")] = Path(
            "output/calibration/study.journal"
        ),
        refine: Annotated[
            int, typer.Option(min=0, help="CMA-ES trials around the best after the TPE trials (0: none).")
        ] = 0,
        refine_step: Annotated[
            float,
            typer.Option(
                min=0.001, max=0.5, help="CMA-ES initial step as a share of each parameter's range."
            ),
        ] = 0.1,
        check: Annotated[
            int,
            typer.Option(
                min=0,
                help="Check this many best trials again on 4 unused seeds; the most robust becomes "
                "the defaults and the acceptable ones the ensemble (0: the study's best).",
            ),
        ] = ENSEMBLE_SIZE,
        polish: Annotated[
            int,
            typer.Option(min=0, help="Refit judgement parameters on this many deals at the end (0: skip)."),
        ] = 0,
        write: Annotated[
            bool,
            typer.Option(
                "--write",
                help=f"Write the best parameters to scenarios/{DEFAULTS_FILE.name} (default: only print).",
            ),
        ] = False,
    ) -> None:
        """Fit the free behavioural parameters to the research figures (Optuna, resumable).

        Rerunning the same command resumes the study in --storage until it holds --trials
        completed trials. Only with --write do the best parameters replace scenarios/defaults.toml.
        """
        check_deals(deals)
        if polish:
            check_deals(polish, "--polish")
        calibration = Calibration(
            n_trials=trials,
            n_deals=deals,
            seed=seed,
            n_seeds=seeds,
            workers=workers,
            storage=storage,
            refine=refine,
            refine_step=refine_step,
        )
        bar = Progress(
            TextColumn("calibrating"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} trials"),
            TextColumn("best objective {task.fields[best]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=error_console,
        )
        with bar, user_errors():
            task = bar.add_task("calibrate", total=trials + refine, best="-")
            calibration.calibrate(
                progress=lambda done, total, best: bar.update(task, completed=done, best=f"{best:.3f}")
            )
        parameters, objective = calibration.best()
        console.print(
            f"best objective {objective:.4f} after {trials + refine} trials "
            f"({deals:,} deals x {seeds} seeds each)"
        )
        checked: list[dict] = []
        if check:
            progress = DelayedProgress(check * CHECK_SEEDS, "checking the best fits on unused seeds", "runs")
            try:
                with user_errors():
                    checked = calibration.check(check, progress)
            finally:
                progress.close()
            chosen = checked[0]
            parameters, objective = chosen["parameters"], chosen["objective"]
            console.print(
                f"most robust: trial {chosen['trial']}, at least {chosen['fewest_in_band']} of "
                f"{len(FIGURES)} figures in band at each of {CHECK_SEEDS} unused seeds, "
                f"mean objective {objective:.4f} there"
            )
        if polish:
            with error_console.status(f"refitting judgements on {polish:,} deals"), user_errors():
                parameters, objective = calibration.polish(parameters, polish)
            console.print(f"objective {objective:.4f} after refitting judgements on {polish:,} deals")
        if write:
            with user_errors():
                path = write_defaults(
                    parameters, objective, trials + refine, deals, seed, polish_deals=polish, n_seeds=seeds,
                    checked_seeds=CHECK_SEEDS if checked else 0,
                    selected_trial=checked[0]["trial"] if checked else -1,
                )  # fmt: skip
                ensemble = checked_ensemble(checked) if checked else calibration.ensemble()
                ensemble_path = write_ensemble(ensemble, trials + refine)
            console.print(f"wrote {shown(path)} and {shown(ensemble_path)} ({len(ensemble)} acceptable fits)")
        else:
            console.print(
                f"not written: the fit would replace {shown(DEFAULTS_FILE)}; rerun the same command "
                "with --write to write it (the study resumes from --storage, so finished trials are kept)"
            )

    @app.command()
    def validate(
        deals: Annotated[
            int, typer.Option("--deals", "-n", min=1000, help="Market deals to simulate.")
        ] = 20_000,
        seed: Annotated[
            int, typer.Option("--seed", "-s", min=0, max=MAX_SEED, help="Seed of the main run.")
        ] = 0,
        robustness: Annotated[
            str, typer.Option(help="Comma-separated extra seeds whose values are shown for spread.")
        ] = "",
        out: Annotated[Path, typer.Option(help="Folder for replication.md, .html, .csv and plots.")] = Path(
            "output/replication"
        ),
        prediction_deals: Annotated[
            int, typer.Option(min=500, help="Market deals per strategy for the strategy predictions.")
        ] = 5000,
        ensemble: Annotated[
            bool,
            typer.Option(
                "--ensemble",
                help="Also rerun the strategy comparison under every acceptable fit "
                "(scenarios/ensemble.toml).",
            ),
        ] = False,
        ensemble_deals: Annotated[
            int, typer.Option(min=200, help="Baseline deals per strategy and fit for --ensemble.")
        ] = 2000,
    ) -> None:
        """Print the replication table (each research figure, its band, the simulated value with
        a 95% CI and pass/miss), the held-out patterns and the strategy differences, which are
        predictions (nothing about strategies is fitted); with --ensemble, how robust each
        strategy conclusion is across the acceptable fits. Writes Markdown, HTML and CSVs."""
        from sim.ensemble import conclusions, load_ensemble, strategy_robustness
        from sim.replication import (
            BOOTSTRAP_SAMPLES,
            formatted,
            formatted_held_out,
            formatted_predictions,
            held_out_patterns,
            replicate,
            strategy_predictions,
            write_report,
        )
        from sim.research import FIGURES, HELD_OUT
        from sim.strategies import BUILTIN_STRATEGIES

        try:
            extra = [int(s) for s in robustness.split(",") if s.strip()]
        except ValueError:
            extra = [-1]
        if any(s < 0 for s in extra):
            fail(f"--robustness {robustness!r}: give comma-separated non-negative integer seeds, e.g. 1,2,3")
        total = deals * (1 + len(extra))
        check_deals(total, f"--deals times {1 + len(extra)} seeds" if extra else "--deals")
        members = []
        if ensemble:
            with user_errors():
                members = load_ensemble()
        extra_runs = sum(1 for pattern in HELD_OUT if pattern.overrides)
        progress = DelayedProgress(total + extra_runs * deals, "simulating market")
        bootstrap = progress.stage(len(FIGURES) * BOOTSTRAP_SAMPLES, "bootstrap 95% CIs", "resamples")
        predicting = progress.stage(
            prediction_deals * len(BUILTIN_STRATEGIES), "strategy predictions", "deals"
        )
        across = progress.stage(len(members), "ensemble of fits", "fits") if members else None
        started = time.perf_counter()
        try:
            with user_errors():
                replication = replicate(
                    "market",
                    deals,
                    seed,
                    extra,
                    progress=progress,
                    bootstrap_progress=bootstrap,
                    chunk_size=CLI_CHUNK,
                )
                replication.held_out = held_out_patterns(replication.deals, "market", deals, seed, progress)
                replication.predictions = strategy_predictions("market", prediction_deals, seed, predicting)
                if members:
                    replication.ensemble = strategy_robustness(
                        "baseline", ensemble_deals, seed, members=members, progress=across
                    )
        finally:
            progress.close()
        table = Table(title=shown(f"Replication of the research figures: {replication.summary()}"))
        frame = formatted(replication)
        for column in frame.columns:
            table.add_column(shown(column), justify="left" if column == "figure" else "right")
        for row in frame.itertuples(index=False):
            style = None if row.result == "pass" else "bold red"
            table.add_row(*[shown(value) for value in row], style=style)
        console.print(table)
        console.print(
            f"fitted: {len(DYNAMICS_PARAMETERS)} dynamics parameters + {len(JUDGEMENT_PARAMETERS)} ease "
            f"weights = {len(FREE_PARAMETERS)} free parameters against {len(FIGURES)} figures "
            f"({INDEPENDENT_FIGURES} independent); nothing about strategies is fitted"
        )
        for title, frame in (
            ("Held-out patterns (not fitted)", formatted_held_out(replication.held_out)),
            (
                f"Strategy differences on the same {prediction_deals:,} market deals: predictions, "
                "not fitted (95% CIs)",
                formatted_predictions(replication.predictions),
            ),
        ):
            section = Table(title=shown(title))
            for column in frame.columns:
                section.add_column(shown(column), justify="left")
            for row in frame.itertuples(index=False):
                section.add_row(*[shown(value) for value in row])
            console.print(section)
        if replication.ensemble is not None:
            console.print(
                f"Strategy conclusions across {len(members)} acceptable fits (baseline, same deals):"
            )
            for sentence in conclusions(replication.ensemble):
                console.print(f"  {shown(sentence)}")
        with user_errors():
            markdown, html_path = write_report(replication, out)
        console.print(
            f"wrote {shown(markdown)} and {shown(html_path)} ({time.perf_counter() - started:.0f} s)"
        )
        if not replication.table["pass"].all():
            missed = ", ".join(replication.table.index[~replication.table["pass"]])
            error_console.print(f"figures outside their bands: {shown(missed)}")
            raise typer.Exit(1)


__all__ = ["register"]
