"""Designer live update: from a slider move until the page shows the new paired differences.

Usage: python benchmarks/dashboard_designer.py [--moves N] [--deals 2000]

Starts ``buyingsim dashboard`` and Debian's chromium at 1280x800, opens the designer, and
moves the tailoring slider one step at a time (arrow key), waiting each time until the
paired table shows a finished evaluation of the new levers. The time includes the page's
debounce pause (``dashboards.design.DEBOUNCE_SECONDS``) and the simulation of the designed
strategy on 2,000 deals (the presets come from the cache). Prints the median.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboard_server import running_server  # noqa: E402

SHOWS = """(tailoring) => { const table = document.querySelector('.paired.current');
    return table !== null && JSON.parse(table.dataset.levers).tailoring === tailoring; }"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=10)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with running_server() as (url, _), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(url + "/design")
        page.wait_for_selector(".paired.current", timeout=120_000)
        thumb = page.locator(".v-input", has=page.locator("label:text-matches('^Tailoring:')")).locator(
            ".v-slider__thumb-container")
        latencies = []
        for _ in range(args.moves):
            before = json.loads(page.locator(".paired.current").get_attribute("data-levers"))["tailoring"]
            thumb.focus()
            started = time.perf_counter()
            page.keyboard.press("ArrowRight")
            page.wait_for_function(SHOWS, arg=round(before + 0.01, 6), timeout=60_000)
            latencies.append(time.perf_counter() - started)
        browser.close()
    print(f"designer, 2,000 deals per strategy: slider move until the new paired differences "
          f"show, median of {len(latencies)}: {statistics.median(latencies):.2f} s "
          f"(min {min(latencies):.2f}, max {max(latencies):.2f})")


if __name__ == "__main__":
    main()
