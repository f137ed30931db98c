"""Executors that compute chunks: in this process, in local worker processes, or on a Dask
cluster (with an optional TLS security file). They only compute; the runner stores.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
import threading
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import (
    Field,
    ValidationError,
)

from sim.explore.design import ChunkResult, ChunkTask
from sim.explore.spec import SweepError, _Strict
from sim.scenario import (
    ScenarioError,
    format_validation_error,
    read_toml_file,
)

ChunkOutcome = ChunkResult | BaseException


Compute = Callable[[ChunkTask], ChunkResult]


class ChunkError(Exception):
    """A chunk raised on a worker; carries the worker's traceback text."""

    def __init__(self, summary: str, details: str = ""):
        super().__init__(summary)
        self.details = details


class SerialExecutor:
    """Runs chunks one after another in this process (``--workers 1``)."""

    workers = 1

    def __init__(self, compute: Compute):
        self.compute = compute
        self.stopping = False

    def __enter__(self) -> SerialExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def stop(self) -> None:
        self.stopping = True

    def run(self, tasks: Iterable[ChunkTask]) -> Iterator[tuple[ChunkTask, ChunkOutcome]]:
        for task in tasks:
            if self.stopping:
                return
            try:
                outcome: ChunkOutcome = self.compute(task)
            except Exception as error:  # a failing chunk is reported with its point
                outcome = ChunkError(f"{type(error).__name__}: {error}", traceback.format_exc())
            yield task, outcome


def _exit_with_parent() -> None:
    """End this worker as soon as its parent (the runner) dies, even by SIGKILL."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def _worker_main(connection: Any, compute: Compute) -> None:
    """A local worker: receive a task, compute it, send the result; None ends the loop."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner handles Ctrl-C and ends us
    _exit_with_parent()
    while True:
        try:
            task = connection.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        try:
            message: tuple[str, Any] = ("ok", compute(task))
        except Exception as error:
            message = ("error", (f"{type(error).__name__}: {error}", traceback.format_exc()))
        try:
            connection.send(message)
        except (BrokenPipeError, OSError):
            return


@contextlib.contextmanager
def _single_threaded_children() -> Iterator[None]:
    """Worker processes use one thread each for numeric libraries: the processes are the
    parallelism, and oversubscribed BLAS threads only slow a small machine down."""
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    saved = {name: os.environ.get(name) for name in names}
    for name in names:
        os.environ.setdefault(name, "1")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class ProcessExecutor:
    """Local worker processes (spawned), one task each at a time over its own pipe, so the
    runner always knows which chunk a worker holds: a crashed worker is reported with its
    point, and on interrupt the workers are ended at once."""

    def __init__(self, workers: int, compute: Compute):
        self.workers = workers
        self.compute = compute
        self.context = multiprocessing.get_context("spawn")
        self.processes: list[Any] = []
        self.connections: list[Any] = []
        self.stopping = False

    def __enter__(self) -> ProcessExecutor:
        with _single_threaded_children():
            for _ in range(self.workers):
                parent_end, child_end = self.context.Pipe()
                process = self.context.Process(
                    target=_worker_main,
                    args=(child_end, self.compute),
                    daemon=True,
                    name="buyingsim-sweep-worker",
                )
                process.start()
                child_end.close()
                self.processes.append(process)
                self.connections.append(parent_end)
        return self

    def __exit__(self, *exc: object) -> None:
        for process, connection in zip(self.processes, self.connections, strict=True):
            with contextlib.suppress(OSError):
                connection.close()
            if process.is_alive():
                process.terminate()
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()

    def stop(self) -> None:
        self.stopping = True

    def run(self, tasks: Iterable[ChunkTask]) -> Iterator[tuple[ChunkTask, ChunkOutcome]]:
        queue = deque(tasks)
        busy: dict[int, ChunkTask] = {}  # worker index -> its task

        def hand_out(worker: int) -> None:
            if queue and not self.stopping:
                task = queue.popleft()
                self.connections[worker].send(task)
                busy[worker] = task

        for worker in range(self.workers):
            hand_out(worker)
        while busy:
            waitables = {}
            for worker in busy:
                waitables[self.connections[worker]] = worker
                waitables[self.processes[worker].sentinel] = worker
            for ready in multiprocessing.connection.wait(list(waitables)):
                worker = waitables[ready]
                if worker not in busy:
                    continue
                task = busy.pop(worker)
                connection = self.connections[worker]
                try:
                    status, payload = connection.recv()
                except (EOFError, OSError):
                    process = self.processes[worker]
                    process.join(timeout=5)
                    self.stopping = True
                    yield task, ChunkError(f"the worker process died (exit code {process.exitcode})")
                    continue
                if status == "ok":
                    hand_out(worker)  # the worker computes on while the runner stores this result
                    yield task, payload
                else:
                    yield task, ChunkError(*payload)
                    hand_out(worker)


class DaskExecutor:
    """Chunks as Dask futures on an existing scheduler (``tcp://HOST:PORT``, or ``tls://``
    with a :class:`distributed.security.Security`) or on a LocalCluster of ``workers``
    single-threaded processes. Workers need this package installed; only compact Parquet
    bytes travel back to the runner, but Dask moves them as pickles: a scheduler must be one
    you control (see docs/reliability.md)."""

    def __init__(
        self, compute: Compute, scheduler: str | None = None, workers: int = 2, security: Any = None
    ):
        self.compute = compute
        self.scheduler = scheduler
        self.security = security
        self.local_workers = workers
        self.cluster: Any = None
        self.client: Any = None
        self.futures: dict[Any, ChunkTask] = {}
        self.stopping = False
        self.workers = workers
        self.run_id = uuid.uuid4().hex[:12]

    def __enter__(self) -> DaskExecutor:
        import logging

        from distributed import Client, LocalCluster

        try:
            if self.scheduler is None:
                with _single_threaded_children():
                    self.cluster = LocalCluster(
                        n_workers=self.local_workers,
                        threads_per_worker=1,
                        processes=True,
                        host="127.0.0.1",
                        dashboard_address=None,
                        silence_logs=logging.ERROR,
                    )
                self.client = Client(self.cluster)
            else:
                self.client = Client(self.scheduler, timeout="20s", security=self.security)
        except (OSError, TimeoutError, ValueError, TypeError) as error:
            self.__exit__()
            target = self.scheduler or "a local Dask cluster"
            raise SweepError(f"cannot connect to {target}: {error}") from None
        threads = sum(self.client.nthreads().values())
        self.workers = max(threads, 1)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                if self.futures:
                    self.client.cancel(list(self.futures))
            with contextlib.suppress(Exception):
                self.client.close()
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close()

    def stop(self) -> None:
        self.stopping = True

    def run(self, tasks: Iterable[ChunkTask]) -> Iterator[tuple[ChunkTask, ChunkOutcome]]:
        from distributed import as_completed

        queue = deque(tasks)
        window = max(2 * self.workers, 4)
        completed = as_completed()

        def submit() -> None:
            task = queue.popleft()
            future = self.client.submit(
                self.compute, task, key=f"buyingsim-{self.run_id}-{task.key}", pure=False, retries=0
            )
            self.futures[future] = task
            completed.add(future)

        while queue and len(self.futures) < window:
            submit()
        for future in completed:
            task = self.futures.pop(future)
            if future.status == "finished":
                outcome: ChunkOutcome = future.result()
            elif future.status == "error":
                error = future.exception()
                outcome = ChunkError(f"{type(error).__name__}: {error}")
            else:
                outcome = ChunkError(f"the Dask task was {future.status}")
            future.release()
            yield task, outcome
            if queue and not self.stopping:
                submit()


SCHEDULER_PROTOCOLS = ("tcp", "tls")


def check_scheduler_address(address: str, tls: bool = False) -> None:
    """Refuse a ``--scheduler`` value that is not ``tcp://HOST:PORT`` or ``tls://HOST:PORT``
    (``tls://`` exactly when a security file is given)."""
    match = re.fullmatch(r"(?:(\w+)://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+):(\d{1,5})", address)
    protocol = (match.group(1) or "tcp") if match else None
    if match is None or protocol not in SCHEDULER_PROTOCOLS or not 0 < int(match.group(3)) < 65536:
        raise SweepError(
            f"--scheduler {address!r}: not a Dask scheduler address; use tcp://HOST:PORT or, "
            "with --scheduler-security, tls://HOST:PORT"
        )
    if tls and protocol != "tls":
        raise SweepError(f"--scheduler {address!r}: --scheduler-security needs a tls://HOST:PORT address")
    if not tls and protocol == "tls":
        raise SweepError(f"--scheduler {address!r}: a tls:// scheduler needs --scheduler-security FILE")


class SchedulerSecurity(_Strict):
    """A ``--scheduler-security`` file: the TLS files this runner presents to the scheduler
    (paths relative to the file). Turned into :class:`distributed.security.Security`."""

    ca_file: str = Field(min_length=1)
    cert_file: str = Field(min_length=1)
    key_file: str | None = Field(None, min_length=1)


def load_scheduler_security(path: str | Path) -> Any:
    """Read a ``--scheduler-security`` TOML file (``ca_file``, ``cert_file``, optional
    ``key_file`` when the certificate file lacks the key) into a Dask ``Security`` that
    requires encryption; missing files are one-line :class:`SweepError` s."""
    path = Path(path)
    try:
        data = read_toml_file(path)
    except ScenarioError as error:
        raise SweepError(f"--scheduler-security {error}") from None
    try:
        settings = SchedulerSecurity.model_validate(data)
    except ValidationError as error:
        raise SweepError(format_validation_error(str(path), error, SchedulerSecurity)) from None
    files = {}
    for name in ("ca_file", "cert_file", "key_file"):
        value = getattr(settings, name)
        if value is None:
            continue
        target = Path(value) if Path(value).is_absolute() else path.parent / value
        if not target.is_file():
            raise SweepError(f"{path}: field {name} = {value!r}: no such file ({target})")
        files[name] = str(target)
    from distributed.security import Security

    return Security(
        tls_ca_file=files["ca_file"],
        tls_client_cert=files["cert_file"],
        tls_client_key=files.get("key_file"),
        require_encryption=True,
    )


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # pragma: no cover - not Linux
        return max(os.cpu_count() or 1, 1)

