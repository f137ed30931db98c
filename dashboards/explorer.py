"""Explorer: watch one buying group work through the six jobs, week by week (Mesa SolaraViz).

The page shows the consensus network (node colour = job in focus, size = influence, edge
width = trust, a red ring = holds evidence on an unresolved contradiction), the six jobs'
completion over the weeks with every reopening marked, disagreement / contradictions /
overload, and an outcome card when the deal ends. The deal settings are checked as they
change (:func:`check_field`): a refused value gets a message beside its field and the last
valid value stays; Reset builds the next deal from the valid settings. The charts
are interactive (tooltips) and drawn in the browser (:mod:`dashboards.charts`), so a week
costs the server only the chart specifications.

Every browser session builds its own model and settings inside :func:`Page`; nothing
per-session lives at module level, because Solara shares module globals between sessions, so
closing a session frees its model.
"""

from __future__ import annotations

import contextlib
import functools
import html
import json
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import altair as alt
import networkx as nx
import numpy as np
import pandas as pd
import solara

from dashboards.charts import SpecChart, to_spec
from dashboards.design import CONDITIONS, condition_overrides
from dashboards.inputs import (
    FieldError,
    FieldMessage,
    SafeView,
    bundled_scenarios,
    failure_message,
    in_range,
    parse_seed,
    pick,
)
from sim.model import JOB_LABELS, BuyingGroupModel
from sim.scenario import JOB_NAMES, ScenarioError, load_scenario
from sim.strategies import BUILTIN_STRATEGIES

with warnings.catch_warnings():  # Mesa 3.3.1's own tab view trips Solara's hook checker
    warnings.filterwarnings("ignore", message=".*ComponentsView: `use_state` found despite",
                            category=UserWarning)
    from mesa.visualization import SolaraViz
    from mesa.visualization.utils import force_update

SCENARIO_MIX = "scenario mix"
JOB_COLOURS = ("#4c72b0", "#55a868", "#c44e52", "#8172b2", "#ccb974", "#64b5cd")
ROLE_SHORT = {
    "executive_sponsor": "Sponsor", "finance": "Finance", "it": "IT", "operations": "Ops",
    "procurement": "Procure", "legal_security": "Legal",
}
END_REASONS = {
    "purchase": "all six jobs complete", "horizon": "ran out of time", "exhausted": "group exhausted",
}
PLAY_INTERVAL_MS = 100  # Play: one week every 100 ms (8-9 weeks a second with the redraw)
LAYOUT_SEEDS = 2**32  # networkx layouts take seeds below 2**32; the deal itself uses the full seed


@dataclass(frozen=True)
class ExplorerSettings:
    """Checked values of the deal settings: what Reset builds the next deal from."""

    scenario: str = "baseline"
    strategy: str = "seller_led"  # or SCENARIO_MIX: the scenario's own mix draws it
    group_size: int = 7
    conflict_level: float = 0.5
    information_volume: float = 1.0
    seed: int = 0


def setting_fields() -> dict[str, dict[str, Any]]:
    """Each setting's control: its kind, label and allowed values (used to draw and to check)."""
    return {
        "scenario": {"type": "Select", "label": "Scenario", "values": bundled_scenarios()},
        "strategy": {"type": "Select", "label": "Focal vendor strategy",
                     "values": [*BUILTIN_STRATEGIES, SCENARIO_MIX]},
        **{name: {"type": "SliderInt" if condition.whole else "SliderFloat",
                  "label": condition.label, "min": condition.low, "max": condition.high,
                  "step": condition.step}  # the bounds the designer's conditions use
           for name, condition in CONDITIONS.items() if name in ExplorerSettings.__dataclass_fields__},
        "seed": {"type": "InputText", "label": "Seed (press Enter, then Reset)"},
    }


def check_field(name: str, value: object) -> Any:
    """The value of setting ``name`` if the browser sent an allowed one; else FieldError."""
    spec = setting_fields().get(name)
    if spec is None:
        raise FieldError(f"{name}: not a setting of the explorer ({', '.join(setting_fields())})")
    field = spec["label"].lower()
    if spec["type"] == "Select":
        return pick(field, value, spec["values"])
    if spec["type"] in ("SliderInt", "SliderFloat"):
        return in_range(field, value, spec["min"], spec["max"], whole=spec["type"] == "SliderInt")
    return parse_seed(value)


def scenario_problem(settings: ExplorerSettings) -> str | None:
    """Why the scenario cannot run these settings (one line), or None when it can."""
    try:
        loaded = load_scenario(pick("scenario", settings.scenario, bundled_scenarios()))
        if settings.strategy != SCENARIO_MIX:
            loaded.strategy(settings.strategy)
        loaded.with_overrides(model_overrides(settings))
    except (ScenarioError, FieldError) as error:
        return str(error).splitlines()[0]
    return None


def model_overrides(settings: ExplorerSettings) -> dict[str, Any]:
    """The scenario changes the settings make (group size, conflict, information volume)."""
    return condition_overrides({"group_size": settings.group_size,
                                "conflict_level": settings.conflict_level,
                                "information_volume": settings.information_volume})


class ExplorerModel(BuyingGroupModel):
    """The one-deal model built from the explorer's settings (see :class:`ExplorerSettings`).

    ``settings`` may be a function returning the current settings: Mesa's Reset button
    builds ``ExplorerModel(settings=...)`` from the session's controls that way. The model
    never fails to build: settings the scenario cannot run, or an unexpected error, give the
    default deal with a message (``problem``) shown on the deal card."""

    def __init__(self, settings: ExplorerSettings | Callable[[], ExplorerSettings] | None = None):
        chosen = settings() if callable(settings) else settings or ExplorerSettings()
        problem = scenario_problem(chosen)
        if problem is not None:
            problem, chosen = f"{problem}; showing the default deal instead", ExplorerSettings()
        try:
            self._build(chosen)
        except Exception as error:  # noqa: BLE001 (a message in the page, the details in the log)
            if chosen == ExplorerSettings():
                raise
            problem = failure_message(error, "Building the deal") + " Showing the default deal."
            chosen = ExplorerSettings()
            self._build(chosen)
        self.settings = chosen
        self.problem = problem

    def _build(self, settings: ExplorerSettings) -> None:
        strategy = None if settings.strategy == SCENARIO_MIX else settings.strategy
        super().__init__(scenario=settings.scenario, strategy=strategy,
                         group_size=settings.group_size, seed=settings.seed,
                         overrides=model_overrides(settings))
        self.strategy_label = strategy or f"{SCENARIO_MIX}: {self.deal_strategy}"
        # Fixed positions for the whole run, so only colours and sizes move week to week.
        self.layout = nx.spring_layout(self.graph, weight="trust", seed=settings.seed % LAYOUT_SEEDS)
        # Play steps the model in one thread while another draws it: the lock keeps every
        # drawing to one consistent week.
        self.lock = threading.RLock()

    def step(self) -> None:
        """One week; when the deal ends, ask for a redraw so the final week is always shown
        (while playing with threads, intermediate weeks may be skipped, the last never). An
        unexpected error stops the deal with a short message instead of a traceback."""
        with self.lock:
            try:
                super().step()
            except Exception as error:  # noqa: BLE001 (a message in the page, the details in the log)
                self.problem = failure_message(error, f"Week {self.week + 1}")
                self.running = False
            ended = not self.running
        if ended:
            force_update()

    @property
    def deal_strategy(self) -> str:
        """The focal strategy this deal runs under (drawn from the mix when none was chosen)."""
        return self.cohort.plan.names[int(self.deal_state.strategy_code[0])]


def _lock_of(model: BuyingGroupModel) -> threading.RLock | contextlib.nullcontext:
    return getattr(model, "lock", None) or contextlib.nullcontext()


# --- figures (pure functions of the model, so they can be tested without a browser) --------

def role_labels(agents: list) -> list[str]:
    """A short label per stakeholder, numbered where a role occurs more than once
    ("Legal 1", "Legal 2"), so every node is named uniquely."""
    names = [ROLE_SHORT.get(agent.role, agent.role) for agent in agents]
    seen: dict[str, int] = {}
    labels = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        labels.append(f"{name} {seen[name]}" if names.count(name) > 1 else name)
    return labels


def _job_colour(title: str | None = "job") -> alt.Color:
    return alt.Color("job:N", title=title, sort=list(JOB_LABELS), scale=alt.Scale(
        domain=list(JOB_LABELS), range=list(JOB_COLOURS)), legend=alt.Legend(columns=2))


def _weeks_axis(horizon: int, title: str | None = "week") -> alt.X:
    """Weeks from 0 to the horizon: a fixed axis, so the chart does not rescale as weeks pass."""
    return alt.X("week:Q", title=title, scale=alt.Scale(domain=[0, max(horizon, 1)], nice=False))


# Each chart is a layout built once per deal (marks, axes, scales: the layout of the network
# is fixed for the deal) that draws named data sets, and the data sets and title of the
# week. A Step then costs only the week's rows, not a new Altair chart.


@dataclass(frozen=True)
class WeekChart:
    """One explorer chart: ``layout(horizon)`` (an Altair chart drawing named data sets, the
    same for every deal with that many weeks) and ``week(model)`` (the data sets by name and
    the title for the current week)."""

    name: str
    layout: Callable[[int], alt.TopLevelMixin]
    week: Callable[[BuyingGroupModel], tuple[dict[str, pd.DataFrame], list[str]]]

    def chart(self, model: BuyingGroupModel) -> alt.TopLevelMixin:
        """The whole chart of this week as an Altair chart (data and title included)."""
        frames, title = self.week(model)
        return self.layout(model.scenario.simulation.horizon_weeks).properties(title=title, datasets={
            name: _records(frame) for name, frame in frames.items()})

    def spec(self, model: BuyingGroupModel, template: dict[str, Any]) -> dict[str, Any]:
        """This week's specification from the deal's ``template`` (``to_spec(layout)``)."""
        frames, title = self.week(model)
        return {**template, "title": title,
                "datasets": {name: _records(frame) for name, frame in frames.items()}}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain records (missing values as None, which JSON can carry)."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _data(name: str) -> alt.NamedData:
    return alt.NamedData(name=name)


def _network_layout_of(model: BuyingGroupModel) -> dict:
    return getattr(model, "layout", None) or nx.spring_layout(model.graph, weight="trust", seed=0)


def network_week(model: BuyingGroupModel) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """The network's edges (trust) and stakeholders (job in focus, influence, contradicted
    evidence) this week."""
    layout = _network_layout_of(model)
    agents = model.stakeholders
    edges = pd.DataFrame([{"x": layout[i][0], "y": layout[i][1], "x2": layout[j][0],
                           "y2": layout[j][1], "trust": float(data.get("trust", 0.2))}
                          for i, j, data in model.graph.edges(data=True)],
                         columns=["x", "y", "x2", "y2", "trust"])
    nodes = pd.DataFrame([{"x": layout[agent.slot][0], "y": layout[agent.slot][1],
                           "stakeholder": label, "job": JOB_LABELS[agent.job],
                           "influence": float(agent.influence),
                           "contradicted": "yes" if agent.holds_contradiction else "no"}
                          for agent, label in zip(agents, role_labels(agents), strict=True)])
    return ({"edges": edges, "nodes": nodes, "rings": nodes[nodes["contradicted"] == "yes"]},
            [f"Consensus network, week {model.week}", "red ring = holds contradicted evidence"])


def network_layout(horizon: int) -> alt.LayerChart:
    """The consensus network: colour = job in focus, size = influence, edge width = trust,
    red ring = holds evidence on a cell with an unresolved contradiction. Positions are fixed
    for the deal and the axes for every deal (networkx scales a layout into [-1, 1]), so only
    colours, sizes and rings move week to week."""
    del horizon  # no time axis
    x = alt.X("x:Q", axis=None, scale=alt.Scale(domain=[-1.25, 1.25]))
    y = alt.Y("y:Q", axis=None, scale=alt.Scale(domain=[-1.25, 1.25]))
    size = alt.Size("influence:Q", legend=None, scale=alt.Scale(range=[180, 650]))
    tooltip = ["stakeholder:N", "job:N", alt.Tooltip("influence:Q", format=".2f"),
               alt.Tooltip("contradicted:N", title="holds contradicted evidence")]
    return alt.layer(
        alt.Chart(_data("edges")).mark_rule(color="#9aa0a6", opacity=0.7).encode(
            x=x, y=y, x2="x2:Q", y2="y2:Q",
            strokeWidth=alt.StrokeWidth("trust:Q", legend=None, scale=alt.Scale(range=[0.5, 9])),
            tooltip=[alt.Tooltip("trust:Q", format=".2f")]),
        alt.Chart(_data("nodes")).mark_circle(opacity=1).encode(
            x=x, y=y, size=size, color=_job_colour("job in focus"), tooltip=tooltip),
        alt.Chart(_data("rings")).mark_circle(filled=False, stroke="#d62728", strokeWidth=3)
        .encode(x=x, y=y, size=size, tooltip=tooltip),
        alt.Chart(_data("nodes")).mark_text(dy=22, fontSize=14).encode(x=x, y=y, text="stakeholder:N"),
    ).properties(width=330, height=210)


def jobs_week(model: BuyingGroupModel) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Each job's completion per week so far, the weeks it was reopened, and the thresholds."""
    table = model.datacollector.get_model_vars_dataframe()
    behaviour = model.scenario.behaviour
    weeks = np.arange(len(table))
    lines, loops = [], []
    for index, job in enumerate(JOB_NAMES):
        completion = table[f"completion_{job}"].to_numpy(dtype=float)
        lines.append(pd.DataFrame({"week": weeks, "job": JOB_LABELS[index], "completion": completion}))
        reopened = np.nonzero(np.diff(table[f"loops_{job}"].to_numpy(), prepend=0) > 0)[0]
        loops.append(pd.DataFrame({"week": weeks[reopened], "job": JOB_LABELS[index],
                                   "completion": completion[reopened]}))
    thresholds = pd.DataFrame({"completion": [behaviour.done_threshold, behaviour.reopen_threshold],
                               "label": ["done", "reopens below"], "week": [0, 0]})
    total = int(sum(table[f"loops_{job}"].iloc[-1] for job in JOB_NAMES))
    return ({"lines": pd.concat(lines, ignore_index=True), "loops": pd.concat(loops, ignore_index=True),
             "thresholds": thresholds},
            [f"The six buying jobs: {total} loops so far", "cross = job reopened (a loop)"])


def jobs_layout(horizon: int) -> alt.LayerChart:
    """Completion of the six jobs over the weeks (0-1, weeks to the horizon); a cross marks
    each reopened (looped) job; dashed lines mark when a job is done and when it reopens."""
    x = _weeks_axis(horizon)
    y = alt.Y("completion:Q", title="completion (0-1)", scale=alt.Scale(domain=[0, 1]))
    def threshold_text(label: str, baseline: str) -> alt.Chart:  # "done" above its line
        return alt.Chart(_data("thresholds")).transform_filter(alt.datum.label == label).mark_text(
            align="right", baseline=baseline, dx=-4, fontSize=14, color="#555").encode(
            x=alt.value(320), y=y, text="label:N")

    return alt.layer(
        alt.Chart(_data("thresholds")).mark_rule(color="#555", strokeDash=[5, 3]).encode(y=y),
        threshold_text("done", "bottom"), threshold_text("reopens below", "top"),
        alt.Chart(_data("lines")).mark_line(strokeWidth=2).encode(
            x=x, y=y, color=_job_colour(),
            tooltip=["job:N", "week:Q", alt.Tooltip("completion:Q", format=".2f")]),
        alt.Chart(_data("loops")).mark_point(shape="cross", size=160, filled=True).encode(
            x=x, y=y, color=_job_colour(),
            tooltip=["job:N", alt.Tooltip("week:Q", title="reopened in week")]),
    ).properties(width=320, height=170)


STRAIN_SHARES = {"disagreement": "disagreement on priorities", "dissent": "dissent from leading option",
                 "overload": "mean overload", "supplier_time_share": "time with suppliers"}
STRAIN_COUNTS = {"unresolved_contradictions": "unresolved contradictions",
                 "contradictions_met": "contradictions met (total)"}


def strain_week(model: BuyingGroupModel) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """The shares (0-1) and the contradiction counts per week so far, in long form."""
    table = model.datacollector.get_model_vars_dataframe()
    weeks = np.arange(len(table))

    def long(columns: dict[str, str]) -> pd.DataFrame:
        return pd.concat([pd.DataFrame({"week": weeks, "measure": label,
                                        "value": table[column].to_numpy(dtype=float)})
                          for column, label in columns.items()], ignore_index=True)

    return ({"shares": long(STRAIN_SHARES), "counts": long(STRAIN_COUNTS)},
            ["Disagreement, overload and contradictions"])


def strain_layout(horizon: int) -> alt.VConcatChart:
    """Disagreement, dissent, overload and time with suppliers (shares, 0-1) above;
    contradictions (counts, from zero) below."""
    def panel(data: str, columns: dict[str, str], title: str, domain: list[float] | None,
              week_title: str | None) -> alt.Chart:
        scale = alt.Scale(domain=domain) if domain else alt.Scale(zero=True)
        return alt.Chart(_data(data)).mark_line(strokeWidth=2, interpolate="step-after").encode(
            x=_weeks_axis(horizon, week_title), y=alt.Y("value:Q", title=title, scale=scale),
            color=alt.Color("measure:N", title=None, sort=list(columns.values()),
                            legend=alt.Legend(columns=2)),
            tooltip=["measure:N", "week:Q", alt.Tooltip("value:Q", format=".2f")],
        ).properties(width=320, height=62)

    return alt.vconcat(panel("shares", STRAIN_SHARES, "share (0-1)", [0, 1], None),
                       panel("counts", STRAIN_COUNTS, "count", None, "week"), spacing=6,
                       ).resolve_scale(color="independent")


@functools.lru_cache(maxsize=32)
def _template(chart: WeekChart, horizon: int) -> str:
    return json.dumps(to_spec(chart.layout(horizon)))


def layout_template(chart: WeekChart, model: BuyingGroupModel) -> dict[str, Any]:
    """``to_spec(chart.layout(model))``, built once per horizon and shared by every session
    (a fresh copy each time, so no session can change another's)."""
    return json.loads(_template(chart, model.scenario.simulation.horizon_weeks))


NETWORK = WeekChart("network", network_layout, network_week)
JOBS = WeekChart("jobs", jobs_layout, jobs_week)
STRAIN = WeekChart("strain", strain_layout, strain_week)
WEEK_CHARTS = (NETWORK, JOBS, STRAIN)


def outcome_summary(model: BuyingGroupModel) -> dict[str, str]:
    """The outcome card's lines (empty while the deal runs)."""
    outcome = model.outcome
    if outcome is None:
        return {}
    if outcome["purchased"]:
        decision = f"Purchase: {model.option_names[int(outcome['winner'])]} wins"
    else:
        decision = "No decision: status quo kept"
    return {
        "Decision": f"{decision} ({END_REASONS.get(outcome['end_reason'], outcome['end_reason'])})",
        "Cycle weeks": str(outcome["cycle_weeks"]),
        "Purchase ease": f"{outcome['purchase_ease']:.2f}",
        "Deal size": "n/a (no purchase)" if np.isnan(outcome["deal_size"])
        else f"{outcome['deal_size']:.2f} x ambition",
        "Regret": "n/a (no purchase)" if np.isnan(outcome["regret"]) else f"{outcome['regret']:.2f}",
    }


# --- Solara components -------------------------------------------------------------------


# SolaraViz re-renders plain functions (not components) after every step; each passes the
# week on as a prop, so the component below redraws exactly when the model or week changes.


@solara.component
def _Chart(model: BuyingGroupModel, week: int, chart: WeekChart) -> None:  # noqa: N802 (Solara components)
    """A chart whose layout is built once per deal and whose data follow the week."""
    template = solara.use_memo(lambda: layout_template(chart, model), dependencies=[model])

    def draw() -> dict[str, Any]:
        with _lock_of(model):
            return chart.spec(model, template)

    spec = solara.use_memo(draw, dependencies=[model, week])
    SpecChart(spec, classes=[f"explorer-{chart.name}"])


def NetworkView(model: BuyingGroupModel) -> solara.Element:  # noqa: N802 (Solara components)
    return _Chart(model, model.steps, NETWORK)


def JobsChart(model: BuyingGroupModel) -> solara.Element:  # noqa: N802 (Solara components)
    return _Chart(model, model.steps, JOBS)


def StrainChart(model: BuyingGroupModel) -> solara.Element:  # noqa: N802 (Solara components)
    return _Chart(model, model.steps, STRAIN)


def DealCard(model: BuyingGroupModel) -> solara.Element:  # noqa: N802 (Solara components)
    return _DealCard(model, model.steps)


def html_rows(rows: dict[str, str]) -> str:
    """A two-column HTML table body (escaped), for cards without Markdown (whose maths
    renderer would fetch KaTeX from the internet)."""
    return "".join(f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(label)}</th>"
                   f"<td>{html.escape(value)}</td></tr>" for label, value in rows.items())


def deal_description(model: BuyingGroupModel) -> str:
    """Scenario, strategy, group size, conflict, information volume and seed of the deal. The
    volume is the one this group meets: the setting times the group's own spread factor."""
    state = model.deal_state
    strategy = getattr(model, "strategy_label", model.strategy or SCENARIO_MIX)
    setting = model.scenario.population.information_volume
    market = f"{setting.low:.1f}" if setting.low == setting.high else f"{setting.low:.1f}-{setting.high:.1f}"
    return (f"{model.scenario.name} · {strategy} · group of {model.group_size} · conflict "
            f"{float(state.conflict_level[0]):.2f} · information volume "
            f"{float(state.information_volume[0]):.1f} for this group (setting {market}) · seed {model.seed}")


@solara.component
def _DealCard(model: BuyingGroupModel, week: int) -> None:  # noqa: N802 (Solara components)
    """What is being simulated, the week, and the outcome card once the deal has ended."""
    with _lock_of(model):
        _deal_card_body(model)


def _deal_card_body(model: BuyingGroupModel) -> None:
    """The card's content: the week and jobs done, or the outcome once the deal has ended."""
    problem = getattr(model, "problem", None)
    ended = model.outcome is not None
    title, kind = ("Outcome", "outcome-card") if ended else ("Deal in progress", "deal-status")
    with solara.Card(title, classes=[kind]):
        solara.Text(deal_description(model), classes=["deal-description"])
        status = {"Week": str(model.week),
                  "Jobs done": f"{int(model.deal_state.done[0].sum())} of 6"}
        rows = outcome_summary(model) if ended else status
        solara.HTML(tag="table", unsafe_innerHTML=html_rows(rows), classes=["deal-facts"],
                    attributes={"data-week": str(model.week)})
        if problem:
            solara.Warning(problem)
        if ended:
            solara.Info("The deal has ended, so Play stops here. Press Reset in the sidebar for a "
                        "new deal from the settings.", classes=["play-ended"])


COMPONENTS = [(NetworkView, 0), (JobsChart, 0), (StrainChart, 0), (DealCard, 0)]


@solara.component
def SettingsCard(settings: solara.Reactive[ExplorerSettings]) -> None:  # noqa: N802 (Solara components)
    """The deal settings, each checked as it changes: a refused value keeps the last valid
    one and gets a message under its field."""
    refused = solara.use_reactive({})  # setting -> message about its last refused value
    seed_text = solara.use_reactive(str(settings.value.seed))

    def change(name: str, value: object) -> None:
        current = getattr(settings.value, name)
        try:
            checked = check_field(name, value)
        except FieldError as error:
            refused.value = {**refused.value, name: f"{error}; keeping {current}"}
            return
        refused.value = {key: text for key, text in refused.value.items() if key != name}
        settings.value = replace(settings.value, **{name: checked})

    def on_seed(text: object) -> None:
        seed_text.value = str(text)
        change("seed", text)

    with solara.Card("Deal settings (used on Reset)", classes=["deal-settings"]):
        for name, spec in setting_fields().items():
            current = getattr(settings.value, name)
            text = seed_text.value if name == "seed" else str(current)
            on_value = on_seed if name == "seed" else functools.partial(change, name)
            control = functools.partial(SettingControl, spec, current, text, on_value)
            # The sliders turn what the browser sends into a number before calling back; a
            # forged value that is no number fails there, so each field has its own net.
            SafeView(control, spec["label"].lower(),
                     message=f"{spec['label']}: the browser sent an unusable value; keeping "
                             f"{current}")
            FieldMessage(refused.value.get(name))


@solara.component
def SettingControl(spec: dict[str, Any], value: Any, text: str,  # noqa: N802 (Solara components)
                   on_value: Callable[[Any], None]) -> None:
    """One setting's control (see :func:`setting_fields`); a text field shows ``text``."""
    label = spec["label"]
    if spec["type"] == "Select":
        solara.Select(label, value=value, values=spec["values"], on_value=on_value)
    elif spec["type"] == "SliderInt":  # the label shows the value
        solara.SliderInt(f"{label}: {value:g}", value=value, min=spec["min"], max=spec["max"],
                         step=spec["step"], on_value=on_value)
    elif spec["type"] == "SliderFloat":
        solara.SliderFloat(f"{label}: {value:g}", value=value, min=spec["min"], max=spec["max"],
                           step=spec["step"], on_value=on_value)
    else:
        solara.InputText(label, value=text, on_value=on_value)


@solara.component
def Page() -> None:  # noqa: N802 (Solara components)
    """The explorer page; any unexpected failure becomes a short message, not a traceback."""
    SafeView(ExplorerPage, "The explorer")


@solara.component
def ExplorerPage() -> None:  # noqa: N802 (Solara components)
    """The explorer. The model and the settings are made here, once per browser session;
    Mesa's Reset rebuilds the model from the session's current settings."""
    settings = solara.use_reactive(ExplorerSettings())
    first = solara.use_memo(lambda: ExplorerModel(settings.value), dependencies=[])
    model = solara.use_reactive(first)  # Mesa's Reset replaces its value
    with solara.Sidebar():
        SettingsCard(settings)
    # Mesa's own "Model Parameters" card stays empty (the settings card replaces it), and its
    # page tabs show a lone "Page 0" tab (one tab and the tab slider): hide both.
    solara.Style(".v-card:has(> .v-card__text > .v-sheet:only-child:empty) { display: none; }"
                 ".v-tabs:has(.v-tabs-bar__content > :nth-child(2):last-child) { display: none; }")
    SolaraViz(model, components=COMPONENTS, model_params={"settings": settings.get},
              name="Buying group explorer", play_interval=PLAY_INTERVAL_MS, use_threads=True)
