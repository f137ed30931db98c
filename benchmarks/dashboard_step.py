"""Explorer Step latency: the model week plus the redraw, on the server and in a browser.

Usage: python benchmarks/dashboard_step.py [--weeks N] [--no-browser]

Then Play on a fresh deal: weeks per second, and how many weeks the network chart never drew.

First, in this process: the median time of one model week and of building each chart of
the explorer (what the server does for a Step). Then, unless ``--no-browser``: a
``buyingsim dashboard`` server on a free port and Debian's chromium; the median time from a
click on Step until the page shows the new week with every chart drawn. The machine is
shared and noisy: quote medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # dashboards/
sys.path.insert(0, str(Path(__file__).resolve().parent))  # dashboard_server

from dashboard_server import CHART_DRAWN, running_server  # noqa: E402

# Records every week the network chart draws (its title names the week).
WATCH_WEEKS = r"""() => {
    window.weeksDrawn = new Set();
    new MutationObserver(() => {
        for (const text of document.querySelectorAll('.explorer-network svg text')) {
            const found = text.textContent.match(/^Consensus network, week (\d+)/);
            if (found) window.weeksDrawn.add(Number(found[1]));
        }
    }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def server_side(weeks: int) -> dict[str, float]:
    """Median milliseconds of one week and of each chart's week specification (the layout
    is built once per deal), over ``weeks``."""
    from dashboards import explorer

    model = explorer.ExplorerModel()
    templates = {chart.name: explorer.layout_template(chart, model) for chart in explorer.WEEK_CHARTS}
    times: dict[str, list[float]] = {"week": [], **{name: [] for name in templates}}
    for _ in range(weeks):
        if not model.running:
            break
        started = time.perf_counter()
        model.step()
        times["week"].append(time.perf_counter() - started)
        for chart in explorer.WEEK_CHARTS:
            started = time.perf_counter()
            chart.spec(model, templates[chart.name])
            times[chart.name].append(time.perf_counter() - started)
    return {name: 1000 * statistics.median(values) for name, values in times.items()}


def in_browser(weeks: int) -> tuple[list[float], dict[str, float]]:
    """Milliseconds from each click on Step until the new week is drawn, ``weeks`` times;
    then Play on a fresh deal: weeks played per second and the weeks each chart skipped."""
    from playwright.sync_api import sync_playwright

    with running_server() as (url, _), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(url + "/")
        page.wait_for_selector(".deal-status")
        page.wait_for_function(CHART_DRAWN, arg=0)
        latencies = []
        for week in range(1, weeks + 1):
            if page.locator(".outcome-card").count():
                break
            started = time.perf_counter()
            page.get_by_role("button", name="Step").click()
            page.wait_for_function(CHART_DRAWN, arg=week)
            latencies.append(1000 * (time.perf_counter() - started))
        page.get_by_role("button", name="Reset").click()
        page.wait_for_selector(".deal-facts[data-week='0']")
        page.evaluate(WATCH_WEEKS)
        started = time.perf_counter()
        page.get_by_role("button", name="▶").click()
        page.wait_for_selector(".outcome-card", timeout=300_000)
        played = time.perf_counter() - started
        final = int(page.locator(".deal-facts").get_attribute("data-week"))
        page.wait_for_function(f"() => window.weeksDrawn.has({final})")
        drawn = page.evaluate("() => window.weeksDrawn.size")
        browser.close()
    return latencies, {"weeks": final, "weeks_per_second": final / played,
                       "skipped": final - drawn}  # weeks 1 to final (week 0 drew before)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=20)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    print("server side, median ms per Step:")
    for name, value in server_side(args.weeks).items():
        print(f"  {name:8s} {value:7.1f}")
    if not args.no_browser:
        latencies, play = in_browser(args.weeks)
        print(f"browser: click on Step until the week is drawn, median of {len(latencies)}: "
              f"{statistics.median(latencies):.0f} ms (min {min(latencies):.0f}, "
              f"max {max(latencies):.0f})")
        print(f"Play: {play['weeks']} weeks at {play['weeks_per_second']:.1f} weeks/s; "
              f"weeks the network chart never drew: {play['skipped']}")


if __name__ == "__main__":
    main()
