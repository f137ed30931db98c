"""End-to-end sweep benchmark: deals/s including Parquet writing with 1 and 2 workers, and the
wall time and peak memory of a 1,000,000-deal sweep.

    python benchmarks/sweep.py                       # both parts (the big one takes minutes)
    python benchmarks/sweep.py --skip-million        # throughput only
    python benchmarks/sweep.py --million-deals 200000  # a smaller "big" sweep

Targets (on a 2-core machine): 2 workers >= 1.6x one worker; the 1,000,000-deal sweep under
90 s with peak memory (runner plus workers, summed) under 2 GB. Results go to a
temporary directory that is removed afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from sim.explore.design import parse_sweep_spec
from sim.explore.runner import run_sweep
from sim.explore.spec import SweepSpec
from sim.explore.store import load_sweep
from sim.strategies import BUILTIN_STRATEGIES

STRATEGIES = list(BUILTIN_STRATEGIES)  # seller-led, digital-first, sense-making


def spec(name: str, points_per_axis: tuple[int, int], deals_per_point: int,
         strategies: list[str]) -> SweepSpec:
    """A grid over group size and conflict level on the baseline scenario."""
    sizes, conflicts = points_per_axis
    return parse_sweep_spec({
        "name": name, "scenario": "baseline", "seed": 1, "deals_per_point": deals_per_point,
        "strategies": strategies,
        "uncertainties": {
            "group_size": {"low": 6, "high": 10, "levels": sizes},
            "conflict_level": {"low": 0.2, "high": 0.8, "levels": conflicts},
        },
    })


class PeakMemory:
    """Samples the summed resident memory of this process and its children (the workers)."""

    def __init__(self, interval: float = 0.2):
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for process in [me, *me.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):  # a process may end meanwhile
                    total += process.memory_info().rss
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Measure:
    """One sweep from scratch: wall seconds, CPU seconds (runner plus workers), peak memory."""

    deals: int
    seconds: float
    cpu_seconds: float
    peak_bytes: int

    @property
    def rate(self) -> float:
        return self.deals / self.seconds

    def describe(self) -> str:
        return (f"{self.deals:,} deals in {self.seconds:.1f} s = {self.rate:,.0f} deals/s; "
                f"{self.cpu_seconds:.1f} CPU-s ({self.deals / self.cpu_seconds:,.0f} deals per "
                f"CPU-second, {self.cpu_seconds / self.seconds:.2f} cores busy)")


def cpu_seconds() -> float:
    """CPU time of this process and of its finished (joined) children, i.e. the workers."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def timed_run(sweep: SweepSpec, workers: int, folder: Path) -> Measure:
    """Run one sweep from scratch and check that every deal row is stored."""
    out = folder / f"{sweep.name}-{workers}"
    shutil.rmtree(out, ignore_errors=True)
    with PeakMemory() as memory:
        cpu = cpu_seconds()
        started = time.perf_counter()
        run = run_sweep(sweep, out, workers=workers)
        seconds = time.perf_counter() - started
        cpu = cpu_seconds() - cpu
    rows = len(load_sweep(out, columns=["purchased"]).deals)
    assert rows == run.plan.deals_total, f"expected {run.plan.deals_total} rows, found {rows}"
    return Measure(run.plan.deals_total, seconds, cpu, memory.peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    # Large enough that starting the worker processes (about 1 s each) does not hide scaling.
    parser.add_argument("--throughput-deals", type=int, default=3 * 8 * 8192,
                        help="deals per throughput run (default: 8 points x 3 strategies x 8192)")
    parser.add_argument("--million-deals", type=int, default=1_000_000)
    parser.add_argument("--skip-million", action="store_true")
    args = parser.parse_args()

    load = psutil.getloadavg()[0]
    print(f"machine: {psutil.cpu_count()} logical cores, {platform.python_version()}, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GB RAM, load average {load:.1f}")
    if load > 0.5:
        print("warning: the machine is busy with other work; wall-clock figures will understate "
              "the sweep (the deals per CPU-second do not)")
    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as folder:
        per_point = max(args.throughput_deals // (8 * len(STRATEGIES)), 1)
        small = spec("throughput", (4, 2), per_point, STRATEGIES)
        measures = {}
        for workers in (1, 2):
            measures[workers] = timed_run(small, workers, Path(folder))
            print(f"throughput, {workers} worker(s), incl. Parquet writing: "
                  f"{measures[workers].describe()}")
        speedup = measures[2].rate / measures[1].rate
        print(f"speed-up with 2 workers: {speedup:.2f}x (target >= 1.6x)")

        if not args.skip_million:
            points, strategies = 20, STRATEGIES[::2]  # 5 sizes x 4 conflict levels, 2 strategies
            per_point = -(-args.million_deals // (points * len(strategies)))
            big = spec("million", (5, 4), per_point, strategies)
            big_run = timed_run(big, 2, Path(folder))
            print(f"big sweep ({points} points x {len(strategies)} strategies, 2 workers): "
                  f"{big_run.describe()}; {big_run.seconds / 60:.1f} min, peak memory "
                  f"{big_run.peak_bytes / 2**30:.2f} GB (targets: < 90 s, < 2 GB)")
        print("\nFor the README (section 'Sweep benchmark'):\n")
        print("| measure | result | target |\n|---|---|---|")
        print(f"| throughput, 1 worker | {measures[1].rate:,.0f} deals/s | |")
        print(f"| throughput, 2 workers | {measures[2].rate:,.0f} deals/s ({speedup:.2f}x) | "
              ">= 1.6x one worker |")
        if not args.skip_million:
            print(f"| {big_run.deals:,}-deal sweep, 2 workers | {big_run.seconds / 60:.1f} min "
                  f"({big_run.rate:,.0f} deals/s), peak memory {big_run.peak_bytes / 2**30:.2f} "
                  "GB | < 90 s, < 2 GB |")


if __name__ == "__main__":
    main()
