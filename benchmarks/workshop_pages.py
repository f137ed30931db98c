"""Workshop page loads while a round computes: 12 team pages, the console and the projector.

Starts ``buyingsim workshop`` on a free port with a fresh data directory, creates a session
with 12 teams (200 groups each) through the same event store, opens the 14 pages in separate
browser contexts (Debian's chromium), then loads them all again at once right after asking for
a round to be advanced, and reports how long each page took to show its content. The target
is under 3 s per page. A benchmark, not a test: the machine's load shows in the figures.

Usage: python benchmarks/workshop_pages.py [--teams 12] [--groups 200]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from workshop.service import Workshop  # noqa: E402
from workshop.store import EventStore  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.25)
    raise SystemExit(f"server at {url} did not answer")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, default=12)
    parser.add_argument("--groups", type=int, default=200)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="workshop-bench-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", "workshop", "--port", str(port), "--data-dir", str(data)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for(url + "/")
        workshop = Workshop(EventStore.in_directory(data))
        code, key = workshop.create_session({"groups": args.groups})
        links = [(f"{url}/facilitator?code={code}&key={key}", ".join-code"),
                 (f"{url}/projector?code={code}", ".projector-title")]  # fmt: skip
        for index in range(args.teams):
            team, token = workshop.join(code, f"Team {index + 1}")
            links.append((f"{url}/team?code={code}&team={team}&token={token}", ".team-name"))
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            pages = [browser.new_context().new_page() for _ in links]
            for page, (link, selector) in zip(pages, links, strict=True):
                page.goto(link)
                page.wait_for_selector(selector, timeout=120_000)
            # Advance the round from the console, and at once reload every other page: each
            # page's time runs from the click until its content shows.
            process = psutil.Process(server.pid)
            cpu_before = sum(process.cpu_times()[:2])
            started = time.perf_counter()
            pages[0].locator(".advance-button").click()
            for page, (link, _) in zip(pages[1:], links[1:], strict=True):
                page.goto(link, wait_until="commit")
            times = []
            for page, (_, selector) in zip(pages[1:], links[1:], strict=True):
                page.wait_for_selector(selector, timeout=120_000)
                times.append(time.perf_counter() - started)
            pages[0].wait_for_selector(".round-line:has-text('Round 2')", timeout=120_000)
            advanced = time.perf_counter() - started
            cpu = sum(process.cpu_times()[:2]) - cpu_before
            browser.close()
        times.sort()
        print(
            f"{len(times)} pages reloaded right after Advance ({args.teams} teams x {args.groups} groups): "
            f"median {times[len(times) // 2]:.2f} s, slowest {times[-1]:.2f} s; "
            f"the console showed round 2 after {advanced:.2f} s; server CPU {cpu:.2f} s in all "
            f"(round and page loads; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=15)


if __name__ == "__main__":
    main()
