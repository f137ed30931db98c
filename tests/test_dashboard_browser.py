"""The dashboards in a real browser: Debian's chromium driven by Playwright.

The server is started with ``buyingsim dashboard`` on a free local port. Every request that
leaves 127.0.0.1 is blocked and recorded, so the pages must render from local assets only.
Screenshots go to output/screenshots/ (ignored by git). ``make test`` installs chromium with
apt when it is missing; Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
from playwright.sync_api import Browser, Page

from tests.browser_support import SCREENSHOTS, chromium, free_port, start_server, stop_server

QUIET_SECONDS = 1.5  # like Playwright's "networkidle", which only works for the first load
WAIT_MS = 60_000  # generous for a loaded 2-core CI machine; waits end as soon as the page is ready


@dataclass
class Server:
    url: str
    log: Path
    process: subprocess.Popen

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``buyingsim dashboard`` on a free port, stopped (with its children) at the end."""
    port = free_port()
    log = tmp_path_factory.mktemp("dashboard") / "server.log"
    url = f"http://127.0.0.1:{port}"
    process = start_server(["dashboard", "--port", str(port)], url, log)
    try:
        yield Server(url, log, process)
    finally:
        stop_server(process)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@dataclass
class Problems:
    """What went wrong in a page: script errors, failed responses, requests to the internet."""

    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    failed_responses: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    pending: set = field(default_factory=set)  # requests sent and not yet answered
    last_request: float = field(default_factory=time.monotonic)

    def check(self, page: Page) -> None:
        """Wait until the network is quiet (nothing pending, nothing new for QUIET_SECONDS:
        components load some assets lazily, and an asset the server has to look for on the
        internet ends as an error), then close the session and report."""
        deadline = time.monotonic() + WAIT_MS / 1000
        while time.monotonic() < deadline and (
            self.pending or time.monotonic() - self.last_request < QUIET_SECONDS
        ):
            page.wait_for_timeout(100)  # lets Playwright deliver events; a condition, not a pause
        unanswered = sorted(request.url for request in self.pending)
        page.context.close()
        assert not unanswered, f"requests never answered: {unanswered}"
        assert not self.page_errors, f"page errors: {self.page_errors}"
        assert not self.failed_responses, f"failed responses: {self.failed_responses}"
        assert not self.external_requests, f"requests beyond this machine: {self.external_requests}"
        assert not self.console_errors, f"console errors: {self.console_errors}"


LOCAL = re.compile(r"^(https?|wss?)://127\.0\.0\.1[:/]|^(data|blob):")


def open_page(browser: Browser, url: str, width: int = 1400,
              height: int = 1000) -> tuple[Page, Problems]:
    """A new browser session (own cookies, so its own Solara session) watching for problems."""
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    problems = Problems()

    def only_local(route) -> None:
        if LOCAL.match(route.request.url):
            route.continue_()
        else:
            problems.external_requests.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.on("pageerror", lambda error: problems.page_errors.append(str(error)))
    page.on("console", lambda message: problems.console_errors.append(message.text)
            if message.type == "error" else None)
    page.on("response", lambda response: problems.failed_responses.append(
        f"{response.status} {response.url}") if response.status >= 400 else None)
    def sent(request) -> None:
        problems.pending.add(request)
        problems.last_request = time.monotonic()

    page.on("request", sent)
    page.on("requestfinished", lambda request: problems.pending.discard(request))

    def failed(request) -> None:
        problems.pending.discard(request)
        if LOCAL.match(request.url):
            problems.failed_responses.append(f"{request.failure} {request.url}")

    page.on("requestfailed", failed)
    page.goto(url)
    return page, problems


@pytest.fixture
def explorer(server: Server, browser: Browser) -> Iterator[tuple[Page, Problems]]:
    page, problems = open_page(browser, server.url + "/")
    page.wait_for_selector(".deal-status")
    yield page, problems
    problems.check(page)
    assert "Could not load URL" not in server.output(), "an asset was fetched from the internet"


def week_shown(page: Page) -> int:
    return int(page.locator(".deal-facts").get_attribute("data-week"))


# Python's error output, as it would show if a traceback reached the page.
TRACEBACK_SIGNS = ("Traceback", 'File "/', "Error:", "site-packages")
BAD_SEEDS = ["abc", "-5", "1e3", "1.5", "9" * 5000, str(2**63), "  "]
# Sends a value for the control labelled ``label`` (a slider's label goes on with ": value")
# as the browser's own control would, but without its checks: how a forged message (or a
# scripted client) reaches the server.
FORGE = """([label, value]) => {
    const field = [...document.querySelectorAll('.v-input')].find(element => {
        const text = element.querySelector('label')?.innerText.trim();
        return text === label || text?.startsWith(label + ': '); });
    const bound = vm => vm && vm.$vnode && vm.$vnode.data && vm.$vnode.data.model;
    const vm = bound(field.__vue__) ? field.__vue__ : field.__vue__.$children.find(bound);
    vm.$vnode.data.model.callback(value);
}"""


def assert_no_traceback(page: Page) -> None:
    text = page.locator("body").inner_text()
    for sign in TRACEBACK_SIGNS:
        assert sign not in text, f"{sign!r} in the page: {text[:2000]}"


def type_seed(page: Page, label: str, text: str) -> None:
    """Type ``text`` into the seed field and press Enter; wait for its message."""
    field = page.get_by_label(label)
    field.fill(text)
    field.press("Enter")
    shown = text.strip()[:10]
    page.wait_for_selector(f".field-error:has-text(\"seed '{shown}\")")


def choose(page: Page, label: str, option: str) -> None:
    """Pick ``option`` in the Vuetify select labelled ``label``."""
    page.locator(f".v-select:has-text('{label}')").click()
    page.get_by_role("option", name=option, exact=True).click()


def test_cli_prints_the_local_url(server: Server) -> None:
    assert f"{server.url}/" in server.output().splitlines()[0]


def test_explorer_loads_without_errors(explorer: tuple[Page, Problems]) -> None:
    page, problems = explorer
    description = page.locator(".deal-description").inner_text()
    assert "baseline" in description and "seller_led" in description
    assert week_shown(page) == 0
    for button in ("Reset", "Step"):
        assert page.get_by_role("button", name=button).is_enabled()
    for chart in ("network", "jobs", "strain"):
        page.wait_for_selector(f".explorer-{chart} .vega-chart[data-rendered='yes'] svg")
    assert not page.get_by_text("Page 0", exact=True).is_visible()  # Mesa's lone page tab
    assert not page.get_by_text("This website runs on").is_visible()  # no banner over a chart
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "explorer.png", full_page=True)


def test_step_advances_exactly_one_week(explorer: tuple[Page, Problems]) -> None:
    page, _ = explorer
    page.get_by_role("button", name="Step").click()
    page.wait_for_selector(".deal-facts[data-week='1']")
    page.wait_for_selector("text=Step: 1")
    assert week_shown(page) == 1
    page.get_by_role("button", name="Step").click()
    page.wait_for_selector(".deal-facts[data-week='2']")


def test_play_runs_the_deal_to_its_outcome(explorer: tuple[Page, Problems]) -> None:
    page, _ = explorer
    page.get_by_role("button", name="▶").click()
    card = page.wait_for_selector(".outcome-card")
    text = card.inner_text()
    for label in ("Decision", "Cycle weeks", "Purchase ease", "Deal size", "Regret"):
        assert label in text
    assert "wins" in text or "No decision" in text
    weeks = int(re.search(r"Cycle weeks\s+(\d+)", text).group(1))
    assert week_shown(page) == weeks  # the final week is drawn, not an earlier frame
    assert "Press Reset" in page.locator(".play-ended").inner_text()
    page.wait_for_selector(f"text=Step: {weeks}")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "explorer-outcome.png", full_page=True)


def test_reset_rebuilds_the_model_with_the_chosen_strategy(explorer: tuple[Page, Problems]) -> None:
    page, _ = explorer
    page.get_by_role("button", name="Step").click()
    page.wait_for_selector(".deal-facts[data-week='1']")
    choose(page, "Focal vendor strategy", "sense_making")
    page.get_by_role("button", name="Reset").click()
    page.wait_for_selector(".deal-description:has-text('sense_making')")
    assert week_shown(page) == 0
    # Reset keeps the chosen controls: step, reset again, still sense-making.
    page.get_by_role("button", name="Step").click()
    page.wait_for_selector(".deal-facts[data-week='1']")
    page.get_by_role("button", name="Reset").click()
    page.wait_for_selector(".deal-facts[data-week='0']")
    assert "sense_making" in page.locator(".deal-description").inner_text()
    assert "sense_making" in page.locator(".v-select:has-text('Focal vendor strategy')").inner_text()


def test_each_browser_session_has_its_own_model(
    explorer: tuple[Page, Problems], server: Server, browser: Browser
) -> None:
    page, _ = explorer
    page.get_by_role("button", name="Step").click()
    page.wait_for_selector(".deal-facts[data-week='1']")
    other, problems = open_page(browser, server.url + "/")
    other.wait_for_selector(".deal-status")
    assert week_shown(other) == 0
    other.get_by_role("button", name="Step").click()
    other.wait_for_selector(".deal-facts[data-week='1']")
    other.get_by_role("button", name="Step").click()
    other.wait_for_selector(".deal-facts[data-week='2']")
    assert week_shown(page) == 1
    problems.check(other)


def test_compare_page_shows_the_three_strategies(server: Server, browser: Browser) -> None:
    page, problems = open_page(browser, server.url + "/")
    page.wait_for_selector(".deal-status")
    page.get_by_role("tab", name="Compare strategies").click()  # navigation between the pages
    page.wait_for_selector(".summary.complete")
    table = page.locator(".summary")
    header = table.locator("th").all_inner_texts()
    assert header == ["metric", "over", "seller_led", "digital_first", "sense_making"]
    rows = table.locator("tbody tr").all_inner_texts()
    for label in ("Purchase ease", "Deal size", "Regret", "No-decision rate", "High-quality deals"):
        assert any(row.startswith(label) for row in rows), rows
    assert all(row.count("[") == 3 for row in rows)  # a 95% CI for each strategy
    assert "2,000 deals per strategy" in page.locator(".compare-results").first.inner_text()
    page.wait_for_selector(".distributions-chart .vega-chart[data-rendered='yes'] svg")
    page.wait_for_selector(".intervals-chart .vega-chart[data-rendered='yes'] svg")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "compare.png", full_page=True)
    problems.check(page)
    assert "Could not load URL" not in server.output()


def test_explorer_refuses_bad_values_beside_each_field_and_still_steps(
    explorer: tuple[Page, Problems], server: Server
) -> None:
    page, _ = explorer
    label = "Seed (press Enter, then Reset)"
    for text in BAD_SEEDS:
        type_seed(page, label, text)
        message = page.locator(".deal-settings .field-error").inner_text()
        assert "whole number from 0 to 9,223,372,036,854,775,807" in message
        assert message.endswith("keeping 0")
    page.evaluate(FORGE, ["Scenario", "../../../etc/passwd"])
    page.wait_for_selector(".field-error:has-text(\"scenario '../../../etc/passwd': not one of\")")
    page.evaluate(FORGE, ["Focal vendor strategy", "cold_calling"])
    page.wait_for_selector(".field-error:has-text(\"focal vendor strategy 'cold_calling'\")")
    for slider in ("Group size", "Conflict level", "Information volume"):
        page.evaluate(FORGE, [slider, "lots"])  # the slider's own cast fails on the server
        page.wait_for_selector(f".page-failure:has-text('{slider}: the browser sent an unusable')")
    assert page.locator(".deal-settings .field-error").count() == 3  # seed, scenario, strategy
    assert_no_traceback(page)
    page.get_by_role("button", name="Reset").click()
    page.get_by_role("button", name="Step").click()
    page.wait_for_selector(".deal-facts[data-week='1']")
    description = page.locator(".deal-description").inner_text()
    assert description.startswith("baseline · seller_led · group of 7 · conflict 0.50")
    assert description.endswith("seed 0")
    page.get_by_label(label).fill(str(2**32))  # a valid seed clears the message, reaches the deal
    page.get_by_label(label).press("Enter")
    page.wait_for_selector(".deal-settings .field-error:has-text('seed')", state="detached")
    page.get_by_role("button", name="Reset").click()
    page.wait_for_selector(f".deal-description:has-text('seed {2**32}')")
    page.get_by_role("button", name="Step").click()
    page.wait_for_selector(".deal-facts[data-week='1']")
    assert_no_traceback(page)
    assert "could not convert string to float: 'lots'" in server.output()  # detail: the log
    # Mesa's own controls: the app's last safety net catches what their widgets let through.
    page.evaluate(FORGE, ["Play Interval (ms)", "abc"])
    page.wait_for_selector(".page-failure:has-text('The dashboard failed. Something went wrong')")
    assert_no_traceback(page)
    page.get_by_role("button", name="Try again").click()
    page.get_by_role("button", name="Step").click()
    page.wait_for_selector(".deal-facts[data-week='1']")


def test_compare_refuses_bad_values_beside_each_field_and_still_compares(
    server: Server, browser: Browser
) -> None:
    page, problems = open_page(browser, server.url + "/compare")
    page.wait_for_selector(".summary.complete")
    for text in BAD_SEEDS:
        type_seed(page, "Seed (press Enter)", text)
        assert page.locator(".field-error").inner_text().endswith("keeping 0")
    page.evaluate(FORGE, ["Scenario", "../../../etc/passwd"])
    page.wait_for_selector(".field-error:has-text(\"scenario '../../../etc/passwd': not one of\")")
    page.evaluate(FORGE, ["Deals per strategy", 123])
    page.wait_for_selector(".field-error:has-text('deals per strategy 123: not one of the choices')")
    page.evaluate(FORGE, ["Deals per strategy", "500"])
    page.wait_for_selector(".field-error:has-text(\"deals per strategy '500'\")")
    assert_no_traceback(page)
    assert page.locator(".summary.complete").count() == 1  # the last valid comparison stays
    field = page.get_by_label("Seed (press Enter)")
    field.fill("3")
    field.press("Enter")
    page.wait_for_selector(".compare-results:has-text('seed 3') .summary.complete")
    assert page.locator(".field-error:has-text('seed')").count() == 0
    assert "2,000 deals per strategy" in page.locator(".compare-results").inner_text()
    assert_no_traceback(page)
    problems.check(page)


SESSIONS = 50
AT_ONCE = 5  # sessions open at the same time
# Growth of the server's resident memory over the second half of the sessions (25 opened
# and closed), once the first half has warmed up its allocator. Measured on the 2-core test
# machine under load: 10-15 MB when closed sessions are freed; 176 MB (about 7 MB a session)
# when they are kept (pages opened with ?solara-no-close-beacon, so no session ever ends).
# The bound leaves room on both sides. Models that Mesa alone kept (well under 1 MB each) are
# too small for this measure: tests/test_dashboard_sessions.py counts them instead.
GROWTH_BOUND_MB = 60


def test_closed_sessions_give_their_memory_back(server: Server, browser: Browser) -> None:
    process = psutil.Process(server.process.pid)
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    context.set_default_timeout(WAIT_MS)
    pages = [context.new_page() for _ in range(AT_ONCE)]
    resident = []
    for _ in range(SESSIONS // AT_ONCE):
        for page in pages:  # leaving a page closes its session; the new visit opens another
            page.goto(server.url + "/", wait_until="commit")
        for page in pages:
            page.wait_for_selector(".deal-status")
        resident.append(process.memory_info().rss / 2**20)
    context.close()
    growth = resident[-1] - resident[len(resident) // 2 - 1]
    assert growth < GROWTH_BOUND_MB, f"resident MB after each {AT_ONCE} sessions: {resident}"


# --- the strategy designer ----------------------------------------------------------------

DESIGNER_READY = ".paired.current"
ROW_DIFFERENCES = """() => Object.fromEntries([...document.querySelectorAll(
    '.paired.current tr.paired-row')].map(row => [row.dataset.metric, row.dataset.difference]))"""


def slider_thumb(page: Page, label: str):
    """The thumb of the slider whose label starts with ``label`` (the label shows the value)."""
    return page.locator(".v-input", has=page.locator(f"label:text-matches('^{label}:')")).locator(
        ".v-slider__thumb-container")


def move_slider(page: Page, label: str, key: str, shown: str) -> None:
    """Press ``key`` on the slider (Home, End, arrows) and wait until its label shows ``shown``."""
    slider_thumb(page, label).focus()
    page.keyboard.press(key)
    page.wait_for_selector(f"label:text-is('{label}: {shown}')")


def differences_for(page: Page, levers: dict[str, float]) -> dict[str, str]:
    """The paired differences once the page shows the finished evaluation of ``levers``."""
    page.wait_for_function("(levers) => { const table = document.querySelector('.paired.current');"
                           " if (!table) return false; const shown = JSON.parse(table.dataset.levers);"
                           " return Object.entries(levers).every(([k, v]) => shown[k] === v); }",
                           arg=levers)
    return page.evaluate(ROW_DIFFERENCES)


def engine_differences(levers: dict[str, float], reference: str, deals: int = 2000,
                       seed: int = 0) -> dict[str, float]:
    """The paired differences computed here, from the engine's per-deal tables."""
    import sim
    from sim.results import HEADLINE
    scenario = sim.load_scenario("baseline").with_overrides({"strategies.probe": levers})
    designed = sim.simulate(scenario, deals, seed, "probe")
    base = sim.simulate(scenario, deals, seed, reference)
    table = base.compare(designed, HEADLINE)
    return {metric: float(table.loc[metric, "difference"]) for metric in HEADLINE}


def test_designer_moving_a_slider_changes_the_paired_difference_to_the_engines(
    server: Server, browser: Browser
) -> None:
    from sim.strategies import BUILTIN_STRATEGIES
    page, problems = open_page(browser, server.url + "/design")
    page.wait_for_selector(DESIGNER_READY)
    before = page.evaluate(ROW_DIFFERENCES)
    assert set(before) == {"purchase_ease", "deal_size", "regret", "no_decision", "high_quality_deal"}
    verdicts = page.locator("tr.paired-row").evaluate_all("rows => rows.map(r => r.dataset.kind)")
    assert set(verdicts) <= {"better", "worse", "unclear", "none"}
    move_slider(page, "Resolve contradictions", "Home", "0")
    move_slider(page, "Meeting time", "End", "5")
    levers = BUILTIN_STRATEGIES["sense_making"].model_dump() | {
        "resolve_contradictions": 0.0, "meeting_time": 5.0}
    after = differences_for(page, levers)
    assert after != before
    expected = engine_differences(levers, "seller_led")
    for metric, value in expected.items():  # the shown difference is the engine's, deal by deal
        assert float(after[metric]) == pytest.approx(value, rel=1e-9, abs=1e-12), metric
    effort = page.locator(".effort-message").inner_text()
    assert "over budget" in effort and "scaled down" in effort  # five hours of meetings
    page.wait_for_selector(".paired-chart .vega-chart[data-rendered='yes'] svg")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "designer.png", full_page=True)
    assert_no_traceback(page)
    problems.check(page)


def test_designer_saves_a_strategy_the_cli_runs_and_loads_it_back(
    server: Server, browser: Browser, tmp_path: Path
) -> None:
    import tomllib
    page, problems = open_page(browser, server.url + "/design")
    page.wait_for_selector(DESIGNER_READY)
    move_slider(page, "Tailoring", "End", "1")
    differences_for(page, {"tailoring": 1.0})  # the page has settled on the new design
    name = page.get_by_label("Strategy name (press Enter)")
    name.fill("Bad Name!")
    name.press("Enter")
    page.wait_for_selector(".field-error:has-text(\"name 'Bad Name!': must be lower-case\")")
    name.fill("room_test")
    name.press("Enter")
    with page.expect_download() as download:
        page.get_by_role("button", name="Save room_test.toml").click()
    saved = tmp_path / "room_test.toml"
    download.value.save_as(saved)
    levers = tomllib.loads(saved.read_text())["strategies"]["room_test"]
    assert levers["tailoring"] == 1.0
    run = subprocess.run(
        [sys.executable, "-m", "sim.cli", "compare", str(saved), "--strategies",
         "room_test,seller_led", "--deals", "256"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert run.returncode == 0, run.stderr
    assert "room_test" in run.stdout and "seller_led - room_test" in run.stdout
    # Loading: a file with a refused value is one line under the field; the levers stay.
    area = page.locator(".designer-save textarea")
    area.fill(saved.read_text().replace("tailoring = 1.0", "tailoring = 7.0"))
    page.get_by_role("button", name="Load").click()
    page.wait_for_selector(".field-error:has-text('the loaded file: field "
                           "strategies.room_test.tailoring = 7.0')")
    assert page.locator("label:text-is('Tailoring: 1')").count() == 1
    assert_no_traceback(page)
    area.fill(saved.read_text().replace("tailoring = 1.0", "tailoring = 0.55"))
    page.get_by_role("button", name="Load").click()
    page.wait_for_selector("label:text-is('Tailoring: 0.55')")
    page.wait_for_selector(".load-note:has-text(\"Loaded strategy 'room_test'\")")
    assert page.locator(".field-error").count() == 0
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_selector(DESIGNER_READY)
    page.screenshot(path=SCREENSHOTS / "designer-load.png", full_page=True)
    problems.check(page)


SMALLEST_TEXT = """(selector) => Math.min(...[...document.querySelectorAll(selector + ' svg text')]
    .filter(text => text.textContent.trim()).map(text => parseFloat(getComputedStyle(text).fontSize)))"""
CHART_TEXTS = """(selector) => [...document.querySelectorAll(selector + ' svg text')]
    .map(text => text.textContent)"""


def test_designer_charts_render_offline_legibly_and_sweep_a_condition(
    server: Server, browser: Browser
) -> None:
    page, problems = open_page(browser, server.url + "/design", 1280, 800)  # a projector's size
    paired = ".paired-chart .vega-chart[data-rendered='yes']"
    sweep = ".sweep-chart.current .vega-chart[data-rendered='yes']"
    page.wait_for_selector(paired + " svg")
    page.wait_for_selector(sweep + " svg")
    for chart in (paired, sweep):
        assert page.evaluate(SMALLEST_TEXT, chart) >= 14
    texts = page.evaluate(CHART_TEXTS, paired)
    assert "No-decision rate: designed - seller_led (percentage points)" in texts
    assert "Conflict level (0-1)" in page.evaluate(CHART_TEXTS, sweep)
    choose(page, "Condition to sweep", "Group size")
    page.wait_for_selector(".sweep-chart.sweep-group_size.current .vega-chart svg")
    page.wait_for_function(f"() => ({CHART_TEXTS})('.sweep-chart').includes('Group size (people)')")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".sweep-card").screenshot(path=SCREENSHOTS / "designer-sweep.png")
    problems.check(page)  # nothing fetched beyond this machine, no script errors


def test_compare_charts_render_offline_and_legibly(server: Server, browser: Browser) -> None:
    page, problems = open_page(browser, server.url + "/compare", 1280, 800)
    for chart in (".intervals-chart", ".distributions-chart"):
        rendered = chart + " .vega-chart[data-rendered='yes']"
        page.wait_for_selector(rendered + " svg")
        assert page.evaluate(SMALLEST_TEXT, rendered) >= 14
    texts = page.evaluate(CHART_TEXTS, ".intervals-chart")
    assert "No-decision rate (% of deals)" in texts and "Deal size (x ambition)" in texts
    assert "0" in texts  # rate axes start at zero
    problems.check(page)


SESSIONS_AT_ONCE = 12
# Server CPU seconds a new explorer session may cost. Measured on the 2-core test machine
# under load: 0.19-0.26 s (0.33-0.41 s before the chart layouts were shared); the bound
# leaves room for a slower machine.
SERVER_CPU_PER_SESSION = 1.0


def test_twelve_sessions_opening_at_once_each_get_their_own_page(
    server: Server, browser: Browser
) -> None:
    process = psutil.Process(server.process.pid)
    before = process.cpu_times()
    contexts = [browser.new_context(viewport={"width": 1280, "height": 800})
                for _ in range(SESSIONS_AT_ONCE)]
    pages = []
    for context in contexts:
        context.set_default_timeout(WAIT_MS)
        pages.append(context.new_page())
    for page in pages:  # all navigations start before any page is awaited
        page.goto(server.url + "/", wait_until="commit")
    for page in pages:
        page.wait_for_selector(".deal-facts[data-week='0']")
        page.wait_for_selector(".explorer-jobs .vega-chart[data-rendered='yes'] svg")
    after = process.cpu_times()
    spent = (after.user + after.system) - (before.user + before.system)
    pages[0].get_by_role("button", name="Step").click()  # each session has its own deal
    pages[0].wait_for_selector(".deal-facts[data-week='1']")
    assert all(page.locator(".deal-facts").get_attribute("data-week") == "0" for page in pages[1:])
    for context in contexts:
        context.close()
    assert spent < SESSIONS_AT_ONCE * SERVER_CPU_PER_SESSION, f"server CPU {spent:.1f} s"
