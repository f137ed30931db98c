"""Running a sweep: plan, open the store, hand pending chunks to an executor, store each
result as it arrives, report progress; a failing chunk stops the run with a one-line error
and keeps everything finished.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.explore.chunks import compute_chunk
from sim.explore.design import ChunkTask, SweepPlan, load_sweep_plan, plan_sweep
from sim.explore.executors import (
    ChunkError,
    Compute,
    DaskExecutor,
    ProcessExecutor,
    SerialExecutor,
    check_scheduler_address,
    default_workers,
    load_scheduler_security,
)
from sim.explore.spec import SweepError, SweepKind, SweepSpec
from sim.explore.store import SweepStore


@dataclass
class SweepProgress:
    """Where a run stands; passed to the progress callback after each finished chunk."""

    points_total: int
    points_done: int
    deals_total: int
    deals_done: int
    deals_resumed: int  # done before this run started (not counted in this run's rate)
    chunks_total: int
    chunks_done: int
    workers: int


@dataclass
class SweepRun:
    """What a call to :func:`run_sweep` did."""

    directory: Path
    plan: SweepPlan
    chunks_computed: int
    chunks_resumed: int
    deals_computed: int
    seconds: float
    workers: int

    @property
    def deals_per_second(self) -> float:
        return self.deals_computed / self.seconds if self.seconds > 0 else float("nan")


def run_sweep(
    spec: SweepSpec | str | Path,
    out: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    dask_local: bool = False,
    kind: SweepKind = "sweep",
    progress: Callable[[SweepProgress], None] | None = None,
    compute: Compute = compute_chunk,
    repair: bool = False,
    security: str | Path | None = None,
    warn: Callable[[str], None] | None = None,
) -> SweepRun:
    """Run (or resume) a sweep into the results directory ``out``.

    ``workers``: local processes (default: all cores; 1 runs in this process). ``scheduler``:
    address of a Dask scheduler you control; ``security``: a TOML file naming the TLS CA,
    certificate and key for it (see :func:`load_scheduler_security`); ``dask_local``: start a
    Dask LocalCluster of ``workers``. ``repair``: rebuild a missing or damaged manifest from
    the spec and the chunk files that verify. ``warn`` receives what the run repaired on its
    own (default: :class:`SweepWarning`). Finished chunks are kept whatever happens;
    rerunning the same call resumes. A failing chunk stops the run with a
    :class:`SweepError` naming its point.
    """
    if scheduler is not None and dask_local:
        raise SweepError("--scheduler and --dask-local exclude each other; choose one")
    tls = load_scheduler_security(security) if security is not None else None
    if tls is not None and scheduler is None:
        raise SweepError("--scheduler-security is for a remote cluster; give --scheduler tls://HOST:PORT too")
    if scheduler is not None:
        check_scheduler_address(scheduler, tls is not None)
    plan = plan_sweep(spec, kind) if isinstance(spec, SweepSpec) else load_sweep_plan(spec, kind)
    started = time.perf_counter()
    with SweepStore.open_for_run(out, plan, repair=repair, warn=warn) as store:
        tasks = plan.tasks()
        done = store.done_keys()
        pending = [task for task in tasks if task.key not in done]
        chunks_left = {point: 0 for point in range(len(plan.points))}
        for task in pending:
            chunks_left[task.point] += 1
        deals_resumed = sum(t.n_deals for t in tasks if t.key in done)
        n_workers = workers or default_workers()
        executor = _executor(compute, n_workers, scheduler, dask_local, len(pending), tls)
        status = SweepProgress(
            len(plan.points),
            sum(1 for n in chunks_left.values() if n == 0),
            plan.deals_total,
            deals_resumed,
            deals_resumed,
            len(tasks),
            len(done),
            n_workers,
        )
        failure: tuple[ChunkTask, ChunkError] | None = None
        computed = 0
        with executor:
            status.workers = executor.workers
            if progress is not None:
                progress(status)
            for task, outcome in executor.run(pending):
                if not isinstance(outcome, BaseException):
                    problem = store.check(task, outcome)
                    outcome = ChunkError(problem) if problem else outcome
                if isinstance(outcome, BaseException):
                    message = str(outcome)
                    store.mark_failed(task.key, message)
                    if failure is None:
                        failure = (task, outcome if isinstance(outcome, ChunkError) else ChunkError(message))
                    executor.stop()  # finish what is in flight, start nothing new
                    continue
                store.write_chunk(task, outcome)
                computed += 1
                chunks_left[task.point] -= 1
                status.chunks_done += 1
                status.deals_done += task.n_deals
                status.points_done += chunks_left[task.point] == 0
                if progress is not None:
                    progress(status)
        if failure is not None:
            task, error = failure
            left = status.chunks_total - status.chunks_done
            raise SweepError(
                f"{task.label} failed: {error}; {status.chunks_done} chunks are "
                f"kept, {left} left: rerun the same command to resume",
            ) from error
    return SweepRun(
        Path(out),
        plan,
        computed,
        len(done),
        status.deals_done - deals_resumed,
        time.perf_counter() - started,
        status.workers,
    )


def _executor(
    compute: Compute,
    workers: int,
    scheduler: str | None,
    dask_local: bool,
    pending: int,
    security: Any = None,
) -> SerialExecutor | ProcessExecutor | DaskExecutor:
    if pending == 0:
        return SerialExecutor(compute)
    if scheduler is not None or dask_local:
        return DaskExecutor(compute, scheduler, workers, security)
    workers = min(workers, max(pending, 1))
    if workers <= 1:
        return SerialExecutor(compute)
    return ProcessExecutor(workers, compute)

