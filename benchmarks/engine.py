"""Engine throughput (deals per second on one core) and peak memory for large runs.

Usage: python benchmarks/engine.py [--deals N] [--repeats R] [--million]
Prints the median of several runs; the machine is noisy, so quote medians. ``--million``
also streams 1,000,000 deals chunk by chunk (as ``buyingsim run`` and sweeps do) in a child
process and reports its peak resident memory.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core: no BLAS threads
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def throughput(scenario: str, deals: int, repeats: int, strategy: str | None) -> list[float]:
    import sim
    from sim.engine import simulate_frame

    loaded = sim.load_scenario(scenario)
    simulate_frame(loaded, 512, 0, strategy)  # warm caches (network library, imports)
    rates = []
    for repeat in range(repeats):
        started = time.perf_counter()
        simulate_frame(loaded, deals, repeat + 1, strategy)
        rates.append(deals / (time.perf_counter() - started))
    return rates


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
    parser.add_argument("--stream", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stream:
        stream_million(args.scenario, args.stream)
        return
    rates = throughput(args.scenario, args.deals, args.repeats, args.strategy)
    print(
        f"{args.scenario} ({args.strategy or 'scenario mix'}): {args.deals:,} deals x {args.repeats}: "
        f"median {statistics.median(rates):,.0f} deals/s on one core "
        f"(min {min(rates):,.0f}, max {max(rates):,.0f})"
    )
    if args.million:
        subprocess.run(
            [sys.executable, __file__, "--scenario", args.scenario, "--stream", "1000000"], check=True
        )


if __name__ == "__main__":
    main()
