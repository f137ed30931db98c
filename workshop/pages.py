"""The workshop's Solara pages: the team page, the facilitator console and the projector view.

Every page calls the same ``Workshop`` methods the bots call. A team's credentials live in its
page address (``/team?code=..&team=..&token=..``, like an oTree participant link): a reload or
a server restart keeps the team in, and nothing else identifies it. The facilitator's key lives
in the console's address the same way. User text (team names above all) is shown as text or
escaped into HTML, never interpreted; a failure shows one line, never a traceback.
"""

from __future__ import annotations

import html
import io
import os
import threading
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import solara

from dashboards.inputs import SafeView
from sim.jobs import JOB_NAMES
from sim.strategies import Strategy
from workshop.debrief import render_html, write_exports
from workshop.game import PRESETS, SessionConfig, WorkshopError, lever_bounds, parse_strategy, scenario_names
from workshop.service import PRESET_LEVERS, Workshop, effort
from workshop.shocks import SHOCKS
from workshop.store import DATA_DIR_VARIABLE, DEFAULT_DATA_DIR, EventStore

REFRESH_SECONDS = 2.0
NO_MESSAGE: str | None = None  # the initial state of a page's one-line message
LEVER_STEP = 0.01  # fine enough that a slider never snaps a preset's value to another
_service: Workshop | None = None
_service_lock = threading.Lock()


def data_dir() -> Path:
    """Where the event store lives (set by ``buyingsim workshop --data-dir``)."""
    return Path(os.environ.get(DATA_DIR_VARIABLE) or DEFAULT_DATA_DIR)


def service() -> Workshop:
    """The server's one Workshop over the data directory's event store."""
    global _service
    with _service_lock:
        if _service is None:
            _service = Workshop(EventStore.in_directory(data_dir()))
        return _service


# Helpers ---------------------------------------------------------------------------------
def query() -> dict[str, str]:
    """The page address's query parameters (first value of each)."""
    search = solara.use_router().search or ""
    return {key: values[0] for key, values in parse_qs(search).items()}


def use_version(code: str) -> tuple[int, Callable[[], None]]:
    """The session's event count, re-read every REFRESH_SECONDS (a page re-renders only when it
    changes), and a function that re-reads it at once (after the page's own action)."""
    version, set_version = solara.use_state(-1)

    def read() -> None:
        try:
            set_version(service().version(code))
        except WorkshopError:
            set_version(-2)

    def loop(cancel: threading.Event) -> None:
        while not cancel.wait(REFRESH_SECONDS):
            read()

    solara.use_thread(loop, dependencies=[code])
    return version, read


def use_ticking(seconds: float = 1.0) -> float:
    """The time now, re-read every ``seconds`` (for a clock: only its own component re-renders)."""
    now, set_now = solara.use_state(time.time())

    def loop(cancel: threading.Event) -> None:
        while not cancel.wait(seconds):
            set_now(time.time())

    solara.use_thread(loop, dependencies=[])
    return now


def load(fetch: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any] | None, str | None]:
    """A view of the session, or the one-line reason it was refused."""
    try:
        return fetch(), None
    except WorkshopError as error:
        return None, str(error)


@solara.component
def RoundClock(status: dict[str, Any], style: dict[str, str] | None = None) -> None:  # noqa: N802
    """Time left in the round, ticking each second on its own."""
    now = use_ticking()
    if status["finished"]:
        return
    left = max(0.0, status["round_ends_at"] - now)
    solara.Text(
        f"Time left in the round: {clock(left)}", classes=["round-clock"], style=style or {"display": "block"}
    )


def number(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) >= 1):
        return f"{int(value):,}"
    if isinstance(value, float):
        return "–" if value != value else f"{value:.{digits}g}"
    return str(value)


def _td(value: Any) -> str:
    """One escaped cell; text left-aligned, numbers right-aligned."""
    text = "left" if isinstance(value, str) else "right"
    return f'<td style="text-align:{text}">{html.escape(number(value))}</td>'


def html_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]], size: str = "1em") -> str:
    """An HTML table with every cell escaped (team names are user text)."""
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in columns)
    body = "".join("<tr>" + "".join(_td(row.get(key)) for key, _ in columns) + "</tr>" for row in rows)
    return (
        f'<table class="workshop-table" style="font-size:{size};border-collapse:collapse">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


MODEL_CHANGED = (
    "The model or this scenario changed since the session was created: its figures are now "
    "recomputed with the current model and may differ from what teams saw."
)
TABLE_STYLE = (
    "<style>.workshop-table td,.workshop-table th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
    ".workshop-table td:first-child,.workshop-table th:first-child{text-align:left}"
    ".workshop-table th{background:#f2f2f2}</style>"
)
LEADERBOARD_COLUMNS = (
    ("rank", "Rank"), ("team", "Team"), ("wins", "Wins"), ("revenue", "Revenue (deal size)"),
    ("regret", "Regret (won deals)"), ("ease", "Purchase ease"), ("no_decision", "No decision"),
    ("lost", "Lost"), ("open", "Still open"),
)  # fmt: skip
JOURNEY_COLUMNS = (
    ("round", "Round"), ("week", "Week"), ("status", "Status"), ("bought_from", "Bought from"),
    ("job", "Stuck on"), ("jobs_reopened", "Jobs reopened"), ("contradictions_met", "Contradictions"),
    ("peak_overload", "Peak overload"),
)  # fmt: skip


@solara.component
def Table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]], size: str = "1em") -> None:  # noqa: N802
    solara.HTML(tag="div", unsafe_innerHTML=TABLE_STYLE + html_table(rows, columns, size))


@solara.component
def Heading(text: str, level: int = 2) -> None:  # noqa: N802
    """A heading without Markdown (whose maths renderer would fetch assets from the internet)."""
    solara.HTML(tag=f"h{level}", unsafe_innerHTML=html.escape(text), style={"margin": "0.6em 0 0.3em"})


@solara.component
def Message(text: str | None, kind: str = "error") -> None:  # noqa: N802
    """One line for the user (a refused action, a saved decision)."""
    if text:
        (solara.Error if kind == "error" else solara.Success)(text, classes=[f"workshop-{kind}"])


def attempt(action: Callable[[], Any], set_message: Callable[[str | None], None]) -> Any:
    """Run a user action; a user mistake or refusal becomes the page's one-line message."""
    try:
        result = action()
    except WorkshopError as error:
        set_message(str(error))
        return None
    set_message(None)
    return result


def clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


@solara.component
def Leaderboard(rows: Sequence[dict[str, Any]], size: str = "1em") -> None:  # noqa: N802
    if rows:
        Table(rows, LEADERBOARD_COLUMNS, size)
    else:
        solara.Text("No results yet.")


# Team page -------------------------------------------------------------------------------
@solara.component
def JoinForm(code: str) -> None:  # noqa: N802
    router = solara.use_router()
    code_text, set_code = solara.use_state(code)
    name, set_name = solara.use_state("")
    message, set_message = solara.use_state(NO_MESSAGE)

    def join() -> None:
        joined = attempt(lambda: service().join(code_text, name), set_message)
        if joined:
            team, token = joined
            router.push(
                "/team?" + urlencode({"code": code_text.strip().upper(), "team": team, "token": token})
            )

    Heading("Join the workshop", 2)
    solara.InputText("Join code", value=code_text, on_value=set_code, continuous_update=True)
    solara.InputText("Team name", value=name, on_value=set_name, continuous_update=True)
    solara.Button("Join", on_click=join, color="primary", classes=["join-button"])
    Message(message)


@solara.component
def DecisionForm(  # noqa: N802
    status: dict[str, Any], code: str, team: str, token: str, refresh: Callable[[], None]
) -> None:
    """Sliders for every lever of the model's Strategy, effort against the budget, presets."""
    values, set_state = solara.use_state(dict(status["decision"]))
    # The latest values, read by the submit handler: a click right after a preset or a slider
    # change must submit what the team sees, whichever render's handler the click reaches.
    latest = solara.use_ref(values)
    message, set_message = solara.use_state(NO_MESSAGE)

    def set_values(new: dict[str, float]) -> None:
        latest.current = new
        set_state(new)

    saved, set_saved = solara.use_state(NO_MESSAGE)
    budget = status["config"]["budget"]
    bounds = lever_bounds()

    def submit() -> None:
        result = attempt(lambda: service().submit(code, team, token, latest.current), set_message)
        if result is not None:
            set_saved(f"Decision saved for round {status['round'] + 1}.")
            refresh()

    def lever_setter(name: str) -> Callable[[float], None]:
        return lambda value: set_values({**latest.current, name: value})

    try:
        spent = effort(parse_strategy(values), budget)
    except WorkshopError as error:
        spent = None
        set_message(str(error))
    Heading(f"Your decision for round {status['round'] + 1}", 3)
    with solara.Row():
        for preset in PRESETS:
            solara.Button(
                f"Start from {preset.replace('_', ' ')}",
                on_click=lambda preset=preset: set_values(dict(PRESET_LEVERS[preset])),
                small=True,
                classes=[f"preset-{preset}"],
            )
    for name, info in Strategy.model_fields.items():
        low, high = bounds[name]
        solara.SliderFloat(
            f"{name.replace('_', ' ')} = {values[name]:.2f}: {info.description}",
            value=float(values[name]),
            min=low,
            max=high,
            step=LEVER_STEP,
            on_value=lever_setter(name),
        )
    if spent is not None:
        verdict = (
            "over budget: every costly lever is scaled down to fit" if spent["over"] else "within budget"
        )
        solara.Text(
            f"Effort used: {spent['asked']:.2f} of {budget:g} per week ({verdict}).", classes=["effort-line"]
        )
        costly = ", ".join(
            f"{name.replace('_', ' ')} {cost:.2f}" for name, cost in spent["levers"].items() if cost > 0
        )
        solara.Text(f"Effort by lever: {costly or 'none'}.", style={"display": "block", "color": "#555"})
    solara.Button("Submit decision", on_click=submit, color="primary", classes=["submit-button"])
    Message(message)
    Message(saved, "success")


@solara.component
def TeamView(code: str, team: str, token: str) -> None:  # noqa: N802
    version, refresh = use_version(code)
    status, problem = solara.use_memo(
        lambda: load(lambda: service().team_status(code, team, token)), [version]
    )
    if status is None:
        Message(problem or "This team link is not valid.")
        return
    config = status["config"]
    Heading("Team", 2)
    solara.Text(status["name"], classes=["team-name"], style={"font-size": "1.6em", "font-weight": "bold"})
    state = (
        "The session has ended."
        if status["finished"]
        else f"Round {status['round'] + 1} of {config['rounds']} is open. "
        + ("Your decision is in." if status["submitted"] else "No decision yet: you keep your last one.")
    )
    solara.Text(state, classes=["round-line"], style={"display": "block"})
    RoundClock(status)
    for line in status["story"]:
        solara.Text(line, style={"display": "block"})
    with solara.Columns([1, 1]):
        with solara.Column():
            if not status["finished"]:
                DecisionForm(status, code, team, token, refresh).key(f"form-{status['round']}")
        with solara.Column():
            Heading("Your scorecard", 3)
            Table([{"team": status["name"], **status["scorecard"]}], LEADERBOARD_COLUMNS[1:])
            Heading("Your pipeline (groups)", 3)
            pipe = status["pipeline"]
            Table(
                [{"where": f"stuck on {job.replace('_', ' ')}", "groups": pipe[job]} for job in JOB_NAMES]
                + [
                    {"where": key.replace("_", " "), "groups": pipe[key]}
                    for key in ("won", "lost", "no_decision")
                ],
                (("where", "Where"), ("groups", "Groups")),
            )
            Heading(f"Spotlight: group {config['spotlight']}", 3)
            Table(
                status["journey"],
                JOURNEY_COLUMNS,
            )
            Heading("Leaderboard", 3)
            Leaderboard(status["leaderboard"])


@solara.component
def TeamPage() -> None:  # noqa: N802
    params = query()
    if params.get("team") and params.get("token") and params.get("code"):
        TeamView(params["code"], params["team"], params["token"])
    else:
        JoinForm(params.get("code", ""))


# Facilitator console ---------------------------------------------------------------------
@solara.component
def CreateForm() -> None:  # noqa: N802
    router = solara.use_router()
    defaults = SessionConfig()
    scenario, set_scenario = solara.use_state(defaults.scenario)
    rounds, set_rounds = solara.use_state(defaults.rounds)
    weeks, set_weeks = solara.use_state(defaults.weeks_per_round)
    groups, set_groups = solara.use_state(defaults.groups)
    budget, set_budget = solara.use_state(defaults.budget)
    seed, set_seed = solara.use_state(defaults.seed)
    minutes, set_minutes = solara.use_state(defaults.round_minutes)
    spotlight, set_spotlight = solara.use_state(defaults.spotlight)
    code, set_code = solara.use_state("")
    key, set_key = solara.use_state("")
    message, set_message = solara.use_state(NO_MESSAGE)

    def create() -> None:
        settings = {"scenario": scenario, "rounds": rounds, "weeks_per_round": weeks, "groups": groups,
                    "budget": float(budget), "seed": seed, "round_minutes": float(minutes),
                    "spotlight": spotlight}  # fmt: skip
        made = attempt(lambda: service().create_session(settings), set_message)
        if made:
            router.push("/facilitator?" + urlencode({"code": made[0], "key": made[1]}))

    def open_session() -> None:
        if attempt(lambda: service().facilitator_status(code, key), set_message) is not None:
            router.push("/facilitator?" + urlencode({"code": code.strip().upper(), "key": key}))

    Heading("Facilitator: create a session", 2)
    solara.Select("Scenario", value=scenario, values=scenario_names(), on_value=set_scenario)
    solara.InputInt("Rounds", value=rounds, on_value=set_rounds, continuous_update=True)
    solara.InputInt("Weeks per round", value=weeks, on_value=set_weeks, continuous_update=True)
    solara.InputInt("Buying groups per team", value=groups, on_value=set_groups, continuous_update=True)
    solara.InputFloat("Effort budget per week", value=budget, on_value=set_budget, continuous_update=True)
    solara.InputInt("Seed", value=seed, on_value=set_seed, continuous_update=True)
    solara.InputFloat("Minutes per round", value=minutes, on_value=set_minutes, continuous_update=True)
    solara.InputInt(
        "Spotlight group (its number)", value=spotlight, on_value=set_spotlight, continuous_update=True
    )
    solara.Button("Create session", on_click=create, color="primary", classes=["create-button"])
    Heading("Or open a session", 2)
    solara.InputText("Join code", value=code, on_value=set_code, continuous_update=True)
    solara.InputText("Facilitator key", value=key, on_value=set_key, password=True, continuous_update=True)
    solara.Button("Open", on_click=open_session, classes=["open-button"])
    Message(message)


@solara.component
def Console(code: str, key: str) -> None:  # noqa: N802
    version, refresh = use_version(code)
    router = solara.use_router()
    message, set_message = solara.use_state(NO_MESSAGE)
    notice, set_notice = solara.use_state(NO_MESSAGE)
    shock_label, set_shock_label = solara.use_state(next(iter(SHOCKS.values())).label)
    shock = next(key for key, item in SHOCKS.items() if item.label == shock_label)
    confirm_reset, set_confirm_reset = solara.use_state(False)
    status, problem = solara.use_memo(
        lambda: load(lambda: service().facilitator_status(code, key)), [version]
    )
    if status is None:
        Message(problem or "This console link is not valid.")
        solara.Button("Back", on_click=lambda: router.push("/facilitator"), small=True)
        return
    config = status["config"]

    def advance() -> None:
        if attempt(lambda: service().advance(code, key, status["round"] + 1), set_message) is not None:
            set_notice(f"Round {status['round'] + 1} played.")
            refresh()

    def fire() -> None:
        if attempt(lambda: service().fire_shock(code, key, shock), set_message) is not None:
            set_notice(f"Shock fired: {SHOCKS[shock].label}.")
            refresh()

    def reset() -> None:
        if confirm_reset and attempt(lambda: service().reset(code, key), set_message) is not None:
            set_notice("Session reset to round 0.")
            set_confirm_reset(False)
            refresh()

    def export() -> None:
        folder = data_dir() / "exports" / code
        written = attempt(lambda: write_exports(service().debrief(code, key), folder), set_message)
        if written:
            set_notice(f"Debrief written to {folder}")

    Heading("Facilitator console", 2)
    if status["model_changed"]:
        solara.Warning(MODEL_CHANGED)
    solara.Text(
        f"Join code: {status['code']}",
        classes=["join-code"],
        style={"font-size": "2em", "font-weight": "bold"},
    )
    solara.Text(f"Teams open /team and enter the code. Projector: /projector?code={status['code']}")
    phase = (
        "Session ended." if status["finished"] else f"Round {status['round'] + 1} of {config['rounds']} open."
    )
    solara.Text(phase, classes=["round-line"], style={"display": "block"})
    RoundClock(status)
    Heading("Teams", 3)
    Table(
        [{"team": team["name"], "submitted": team["submitted"]} for team in status["teams"]],
        (("team", "Team"), ("submitted", "Decision in for the next round")),
    )
    with solara.Row():
        solara.Button("Advance round", on_click=advance, color="primary", disabled=status["finished"],
                      classes=["advance-button"])  # fmt: skip
    with solara.Row():
        solara.Select(
            "Shock",
            value=shock_label,
            values=[item.label for item in SHOCKS.values()],
            on_value=set_shock_label,
        )
        solara.Button("Fire shock", on_click=fire, disabled=status["finished"], classes=["shock-button"])
    solara.Text(SHOCKS[shock].effect)
    for fired in status["shocks"]:
        solara.Text(
            f"Fired before round {fired['before_round']}: {fired['label']}", style={"display": "block"}
        )
    Heading("Leaderboard", 3)
    Leaderboard(status["leaderboard"])
    Heading("Debrief", 3)
    with solara.Row():
        solara.Button("Write debrief (HTML and CSV)", on_click=export, classes=["export-button"])
        solara.FileDownload(
            lambda: render_html(service().debrief(code, key)).encode("utf-8"),
            filename=f"debrief-{code}.html",
            label="Download debrief HTML",
        )
        solara.FileDownload(lambda: csv_zip(code, key), filename=f"debrief-{code}.zip", label="Download CSVs")
    with solara.Row():
        solara.Checkbox(
            label="Yes, clear every decision and result", value=confirm_reset, on_value=set_confirm_reset
        )
        solara.Button("Reset session", on_click=reset, disabled=not confirm_reset, color="error",
                      classes=["reset-button"])  # fmt: skip
    Message(message)
    Message(notice, "success")


def csv_zip(code: str, key: str) -> bytes:
    """The debrief's CSV files in one zip archive."""
    debrief = service().debrief(code, key)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ("decisions", "rounds", "paired", "final", "figures", "deals"):
            archive.writestr(f"{name}.csv", getattr(debrief, name).to_csv(index=False))
    return buffer.getvalue()


@solara.component
def FacilitatorPage() -> None:  # noqa: N802
    params = query()
    if params.get("code") and params.get("key"):
        Console(params["code"], params["key"])
    else:
        CreateForm()


# Projector -------------------------------------------------------------------------------
@solara.component
def ProjectorPage() -> None:  # noqa: N802
    code = query().get("code", "")
    version, _ = use_version(code)
    status, problem = solara.use_memo(lambda: load(lambda: service().projector(code)), [version])
    if not code or status is None:
        solara.Text("Open /projector?code=JOINCODE (the code is on the facilitator console).")
        Message(problem if code else None)
        return
    config = status["config"]
    big = {"font-size": "2.2em", "font-weight": "bold", "display": "block"}
    phase = "Final results" if status["finished"] else f"Round {status['round'] + 1} of {config['rounds']}"
    solara.Text(f"Join code {status['code']} · {phase}", style=big, classes=["projector-title"])
    RoundClock(status, big)
    for line in status["story"]:
        solara.Text(line, style={"font-size": "1.6em", "display": "block"})
    Leaderboard(status["leaderboard"], size="1.6em")


@solara.component
def HomePage() -> None:  # noqa: N802
    solara.HTML(
        tag="div",
        unsafe_innerHTML=(
            "<h1>Buying-group workshop</h1><ul>"
            '<li><b>Teams</b>: <a href="/team">join with the code</a></li>'
            '<li><b>Facilitator</b>: <a href="/facilitator">create or open a session</a></li>'
            "<li><b>Projector</b>: /projector?code=JOINCODE</li></ul>"
        ),
    )


def safe(page: Callable[[], Any], doing: str) -> Callable[[], Any]:
    """A page behind the dashboard's safety net (one line on failure, never a traceback)."""

    @solara.component
    def Safe() -> None:  # noqa: N802
        SafeView(page, doing)

    Safe.__name__ = page.__name__
    return Safe
