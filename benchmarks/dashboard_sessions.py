"""Many browser sessions opening the explorer at once: how long until each shows the page.

Usage: python benchmarks/dashboard_sessions.py [--sessions N] [--rounds R] [--page PATH]

Starts ``buyingsim dashboard`` on a free port and Debian's chromium, opens N sessions (each
its own browser context, so its own Solara session) all at the same moment, and measures for
each the seconds from opening until the page shows its deal card with every chart drawn.
Each round opens N fresh sessions on the same server; the first round also meets a server
that no one has visited yet. Prints every round's slowest and median session, and the CPU
seconds the server and the whole machine spent meanwhile: the browsers run on the same
machine, so on a small one they, not the server, set the pace.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psutil  # noqa: E402
from dashboard_server import running_server  # noqa: E402

READY = {  # what a page shows once it is usable
    "/": ".deal-status",
    "/compare": ".summary.complete",
    "/design": ".paired.current",
}
CHARTS_DRAWN = """() => { const charts = [...document.querySelectorAll('.vega-chart')];
    return charts.length > 0 && charts.every(chart => chart.dataset.rendered === 'yes'); }"""


def open_at_once(browser, url: str, sessions: int, ready: str) -> list[float]:
    """Seconds until each of ``sessions`` pages opened together shows ``ready`` and charts."""
    contexts = [browser.new_context(viewport={"width": 1280, "height": 800}) for _ in range(sessions)]
    pages = [context.new_page() for context in contexts]
    started = time.perf_counter()
    for page in pages:  # navigation starts for all before any is awaited
        page.goto(url, wait_until="commit")
    shown = []
    pending = list(range(sessions))
    while pending:  # poll each page in turn, so a fast page is not timed behind a slow one
        for index in list(pending):
            page = pages[index]
            if page.locator(ready).count() and page.evaluate(CHARTS_DRAWN):
                shown.append(time.perf_counter() - started)
                pending.remove(index)
        if time.perf_counter() - started > 120:
            raise RuntimeError(f"{len(pending)} sessions not shown after 120 s")
        pages[pending[0]].wait_for_timeout(20) if pending else None
    for context in contexts:
        context.close()
    return shown


def _busy(times) -> float:
    return times.user + times.system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--page", default="/", choices=list(READY))
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with running_server() as (url, pid), sync_playwright() as playwright:
        server = psutil.Process(pid)
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=["--no-sandbox", "--disable-gpu"])
        for round_number in range(1, args.rounds + 1):
            server_before, machine_before = _busy(server.cpu_times()), _busy(psutil.cpu_times())
            shown = open_at_once(browser, url + args.page, args.sessions, READY[args.page])
            server_cpu = _busy(server.cpu_times()) - server_before
            machine_cpu = _busy(psutil.cpu_times()) - machine_before
            print(f"round {round_number}: {args.sessions} sessions of {args.page} at once; "
                  f"slowest shown after {max(shown):.2f} s, median {statistics.median(shown):.2f} s; "
                  f"server CPU {server_cpu:.1f} s ({server_cpu / args.sessions:.2f} s a session), "
                  f"machine CPU {machine_cpu:.1f} s on {psutil.cpu_count()} cores")
        browser.close()


if __name__ == "__main__":
    main()
