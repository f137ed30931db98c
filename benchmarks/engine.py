"""Engine throughput (deals per second on one core) and peak memory for large runs.

Usage: python benchmarks/engine.py [--deals N] [--repeats R] [--million] [--profile]
Prints the median of several runs; the machine is noisy, so quote medians. ``--million``
also streams 1,000,000 deals chunk by chunk (as ``buyingsim run`` and sweeps do) in a child
process and reports its peak resident memory. ``--profile`` splits the time of one run into
kernels, customers, outcomes and the rest (pandas, Python).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core: no BLAS threads
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the frozen reference

HEADLINE = ["purchased", "purchase_ease", "deal_size", "regret", "cycle_weeks", "loops_total"]


def throughput(simulate, scenario, deals: int, repeats: int, strategy: str | None) -> list[float]:
    """Deals per second of ``simulate(scenario, n, seed, strategy)`` over ``repeats`` runs."""
    simulate(scenario, 512, 0, strategy)  # warm caches (kernels, network library, imports)
    rates = []
    for repeat in range(repeats):
        started = time.perf_counter()
        simulate(scenario, deals, repeat + 1, strategy)
        rates.append(deals / (time.perf_counter() - started))
    return rates


def summary(label: str, rates: list[float]) -> str:
    return (
        f"{label}: median {statistics.median(rates):,.0f} deals/s on one core "
        f"(min {min(rates):,.0f}, max {max(rates):,.0f}, {len(rates)} runs)"
    )


def profile(scenario, deals: int, strategy: str | None) -> None:
    """Where the time of one run goes."""
    from sim.engine import simulate_frame

    simulate_frame(scenario, 512, 0, strategy)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.runcall(simulate_frame, scenario, deals, 1, strategy)
    total = time.perf_counter() - started
    stats = pstats.Stats(profiler).stats
    parts = {
        "kernels (weekly dynamics, start)": ("run_deals", "start_deals"),
        "customers (new_customers, networks)": ("new_customers",),
        "outcomes (deal_outcomes)": ("deal_outcomes",),
    }
    print(f"profile of {deals:,} deals: {total:.2f} s ({deals / total:,.0f} deals/s under the profiler)")
    accounted = 0.0
    for label, names in parts.items():
        seconds = sum(entry[3] for key, entry in stats.items() if key[2] in names)
        accounted += seconds
        print(f"  {label:38s} {seconds:6.2f} s  {100 * seconds / total:5.1f}%")
    rest = total - accounted
    print(f"  {'the rest (pandas tables, Python)':38s} {rest:6.2f} s  {100 * rest / total:5.1f}%")


def stream_million(scenario: str, deals: int) -> None:
    """Child process: stream deals chunk by chunk, keep only running sums (like a sweep)."""
    import sim
    from sim.engine import iter_chunks

    loaded = sim.load_scenario(scenario)
    started = time.perf_counter()
    total = purchased = 0
    for frame in iter_chunks(loaded, deals, seed=1):
        total += len(frame)
        purchased += int(frame["purchased"].sum())
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{total:,} deals in {elapsed:.0f} s ({total / elapsed:,.0f} deals/s), "
        f"peak memory {peak_mb:,.0f} MB, purchase rate {purchased / total:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="baseline")
    parser.add_argument("--strategy", default=None)
    parser.add_argument("--deals", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--million", action="store_true", help="also stream 1,000,000 deals")
    parser.add_argument("--profile", action="store_true", help="split the time of one run")
    parser.add_argument("--stream", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stream:
        stream_million(args.scenario, args.stream)
        return
    import sim
    from sim.engine import simulate_frame, warm_up

    print(f"kernels ready in {warm_up():.1f} s")
    loaded = sim.load_scenario(args.scenario)
    label = f"{args.scenario} ({args.strategy or 'scenario mix'}): {args.deals:,} deals x {args.repeats}"
    print(summary(label, throughput(simulate_frame, loaded, args.deals, args.repeats, args.strategy)))
    if args.profile:
        profile(loaded, args.deals, args.strategy)
    if args.million:
        subprocess.run(
            [sys.executable, __file__, "--scenario", args.scenario, "--stream", "1000000"], check=True
        )


if __name__ == "__main__":
    main()
