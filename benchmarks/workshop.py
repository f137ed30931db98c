"""Workshop round times: advancing a round for 12 teams x 200 groups x 13 weeks (the target is
under 1 s, presets' cohorts included), and rebuilding a 4-round session from its events after
a restart.

Usage: python benchmarks/workshop.py [--teams 12] [--groups 200] [--repeats 3]
Prints the median and the slowest advance per round, and the replay time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.engine import warm_up  # noqa: E402
from workshop.bots import start_bot_session  # noqa: E402
from workshop.service import Workshop  # noqa: E402
from workshop.store import EventStore  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, default=12)
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    warm_up()
    advances, replays = [], []
    for repeat in range(args.repeats):
        with tempfile.TemporaryDirectory() as directory:
            workshop = Workshop(EventStore.in_directory(directory))
            session = start_bot_session(workshop, args.teams, {"groups": args.groups, "seed": repeat}, repeat)
            for number in range(1, 5):
                if number == 3:
                    workshop.fire_shock(session.code, session.key, "information_flood")
                for bot in session.teams:
                    workshop.submit(session.code, bot.team, bot.token, bot.decide())
                started = time.perf_counter()
                workshop.advance(session.code, session.key)
                advances.append(time.perf_counter() - started)
            started = time.perf_counter()
            Workshop(EventStore.in_directory(directory)).projector(session.code)
            replays.append(time.perf_counter() - started)
    print(
        f"advance a round ({args.teams} teams + 3 presets x {args.groups} groups x 13 weeks): "
        f"median {statistics.median(advances):.3f} s, slowest {max(advances):.3f} s over {len(advances)}"
    )
    print(f"rebuild a 4-round session from its events: median {statistics.median(replays):.3f} s")


if __name__ == "__main__":
    main()
