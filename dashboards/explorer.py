"""Explorer: watch one buying group work through the six jobs, week by week (Mesa SolaraViz).

The page shows the consensus network (node colour = job in focus, size = influence, edge
width = trust, a red ring = holds evidence on an unresolved contradiction), the six jobs'
completion over the weeks with every reopening marked, disagreement / contradictions /
overload, and an outcome card when the deal ends. The deal settings are checked as they
change (:func:`check_field`): a refused value gets a message beside its field and the last
valid value stays; Reset builds the next deal from the valid settings. Figures use fixed
margins: ``tight_layout`` would cost a full extra draw every week, which made Play several
times slower.

Every browser session builds its own model and settings inside :func:`Page`; nothing
per-session lives at module level, because Solara shares module globals between sessions, so
closing a session frees its model.
"""

from __future__ import annotations

import contextlib
import functools
import html
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import networkx as nx
import numpy as np
import solara
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

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
from sim.scenario import JOB_NAMES, MAX_GROUP_SIZE, ScenarioError, load_scenario
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
FIGURE_DPI = 90
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
        "group_size": {"type": "SliderInt", "label": "Group size", "min": 1,
                       "max": MAX_GROUP_SIZE, "step": 1},
        "conflict_level": {"type": "SliderFloat", "label": "Conflict level", "min": 0.0,
                           "max": 1.0, "step": 0.05},
        "information_volume": {"type": "SliderFloat", "label": "Information volume", "min": 0.0,
                               "max": 4.0, "step": 0.1},
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
    return {"population.conflict_level": float(settings.conflict_level),
            "population.information_volume": float(settings.information_volume),
            "population.group_sizes": [int(settings.group_size)],
            "population.group_size_weights": [1.0]}


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

# Text sizes in points: at FIGURE_DPI a point is 1.25 px, so these give 14-15 px text.
LABEL_PT, TITLE_PT = 11.5, 12


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


def network_figure(model: BuyingGroupModel) -> Figure:
    """The consensus network this week: colour = job in focus, size = influence, edge width
    = trust, red ring = holds evidence on a cell with an unresolved contradiction."""
    figure = Figure(figsize=(5.6, 5.8), dpi=FIGURE_DPI)
    axes = figure.subplots()
    graph = model.graph
    layout = getattr(model, "layout", None) or nx.spring_layout(graph, weight="trust", seed=0)
    agents = model.stakeholders
    for i, j, data in graph.edges(data=True):
        (x0, y0), (x1, y1) = layout[i], layout[j]
        axes.plot([x0, x1], [y0, y1], color="#9aa0a6", zorder=1,
                  linewidth=0.5 + 12 * data.get("trust", 0.2), alpha=0.7)
    positions = np.array([layout[agent.slot] for agent in agents])
    influence = np.array([agent.influence for agent in agents])
    sizes = 250 + 450 * influence / max(influence.max(), 1e-9)
    colours = [JOB_COLOURS[agent.job] for agent in agents]
    conflicted = np.array([agent.holds_contradiction for agent in agents])
    axes.scatter(positions[:, 0], positions[:, 1], s=sizes, c=colours, zorder=2,
                 edgecolors=np.where(conflicted, "#d62728", "white"),
                 linewidths=np.where(conflicted, 3.0, 1.0))
    for label, (x, y) in zip(role_labels(agents), positions, strict=True):
        axes.annotate(label, (x, y), xytext=(0, -19), textcoords="offset points", ha="center",
                      fontsize=LABEL_PT, zorder=3)
    legend = [Line2D([], [], marker="o", linestyle="", color=colour, label=label)
              for colour, label in zip(JOB_COLOURS, JOB_LABELS, strict=True)]
    legend.append(Line2D([], [], marker="o", linestyle="", markerfacecolor="white",
                         markeredgecolor="#d62728", markeredgewidth=2, label="holds contradicted evidence"))
    axes.legend(handles=legend, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=2,
                fontsize=LABEL_PT, frameon=False)
    axes.set_title(f"Consensus network, week {model.week} (colour = job in focus)", fontsize=TITLE_PT)
    axes.margins(0.15)
    axes.set_axis_off()
    figure.subplots_adjust(left=0.02, right=0.98, top=0.94, bottom=0.3)
    return figure


def jobs_figure(model: BuyingGroupModel) -> Figure:
    """Completion of the six jobs over the weeks; an x marks each reopened (looped) job."""
    table = model.datacollector.get_model_vars_dataframe()
    behaviour = model.scenario.behaviour
    figure = Figure(figsize=(5.6, 5.2), dpi=FIGURE_DPI)
    axes = figure.subplots()
    weeks = np.arange(len(table))
    for index, job in enumerate(JOB_NAMES):
        completion = table[f"completion_{job}"].to_numpy()
        axes.plot(weeks, completion, color=JOB_COLOURS[index], label=JOB_LABELS[index], linewidth=1.6)
        reopened = np.nonzero(np.diff(table[f"loops_{job}"].to_numpy(), prepend=0) > 0)[0]
        axes.scatter(weeks[reopened], completion[reopened], marker="x", s=50,
                     color=JOB_COLOURS[index], zorder=3)
    axes.axhline(behaviour.done_threshold, color="black", linestyle="--", linewidth=0.8)
    axes.axhline(behaviour.reopen_threshold, color="grey", linestyle=":", linewidth=0.8)
    axes.text(0, behaviour.done_threshold + 0.01, "done", fontsize=LABEL_PT)
    axes.text(0, behaviour.reopen_threshold - 0.05, "reopens below", fontsize=LABEL_PT, color="grey")
    axes.set_xlim(0, max(model.scenario.simulation.horizon_weeks, 1))
    axes.set_ylim(0, 1.02)
    axes.set_xlabel("week", fontsize=LABEL_PT)
    axes.set_ylabel("completion (0-1)", fontsize=LABEL_PT)
    axes.tick_params(labelsize=LABEL_PT)
    loops = int(sum(table[f"loops_{job}"].iloc[-1] for job in JOB_NAMES))
    axes.set_title(f"The six buying jobs ({loops} loops so far; x = job reopened)", fontsize=TITLE_PT)
    axes.legend(fontsize=LABEL_PT, loc="upper center", bbox_to_anchor=(0.45, -0.14), ncol=2,
                frameon=False)  # below the axes, never over a curve
    figure.subplots_adjust(left=0.13, right=0.98, top=0.93, bottom=0.36)
    return figure


def strain_figure(model: BuyingGroupModel) -> Figure:
    """Disagreement and overload (0-1) above, contradictions (counts) below."""
    table = model.datacollector.get_model_vars_dataframe()
    figure = Figure(figsize=(5.6, 6.0), dpi=FIGURE_DPI)
    top, bottom = figure.subplots(2, 1, sharex=True)
    weeks = np.arange(len(table))
    top.plot(weeks, table["disagreement"], label="disagreement on priorities", color="#8172b2")
    top.plot(weeks, table["dissent"], label="dissent from leading option", color="#c44e52")
    top.plot(weeks, table["overload"], label="mean overload", color="#dd8452")
    top.plot(weeks, table["supplier_time_share"], label="time with suppliers", color="#55a868",
             linestyle="--")
    top.set_ylim(0, 1.02)

    top.set_title("Disagreement, overload and contradictions", fontsize=TITLE_PT)
    bottom.step(weeks, table["unresolved_contradictions"], where="post", color="#d62728",
                label="unresolved contradictions")
    bottom.plot(weeks, table["contradictions_met"], color="#7f7f7f", linestyle=":",
                label="contradictions met (total)")
    bottom.set_xlim(0, max(model.scenario.simulation.horizon_weeks, 1))
    bottom.set_ylim(bottom=0)
    bottom.set_xlabel("week", fontsize=LABEL_PT)
    top.set_ylabel("share (0-1)", fontsize=LABEL_PT)
    bottom.set_ylabel("contradictions", fontsize=LABEL_PT)
    for panel in (top, bottom):
        panel.tick_params(labelsize=LABEL_PT)
    handles = top.get_legend_handles_labels()[0] + bottom.get_legend_handles_labels()[0]
    figure.legend(handles=handles, fontsize=LABEL_PT, loc="lower center", ncol=2,
                  frameon=False)  # below both panels, never over a curve
    figure.subplots_adjust(left=0.12, right=0.98, top=0.94, bottom=0.24, hspace=0.12)
    return figure


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
def _Figure(model: BuyingGroupModel, week: int, make: Any) -> None:  # noqa: N802 (Solara components)
    """A matplotlib figure rebuilt only when the model or its week changes."""
    def draw() -> Figure:
        with _lock_of(model):
            return make(model)

    figure = solara.use_memo(draw, dependencies=[model, week])
    solara.FigureMatplotlib(figure, dependencies=[model, week], format="png")


def NetworkView(model: BuyingGroupModel) -> solara.Element:  # noqa: N802 (Solara components)
    return _Figure(model, model.steps, network_figure)


def JobsChart(model: BuyingGroupModel) -> solara.Element:  # noqa: N802 (Solara components)
    return _Figure(model, model.steps, jobs_figure)


def StrainChart(model: BuyingGroupModel) -> solara.Element:  # noqa: N802 (Solara components)
    return _Figure(model, model.steps, strain_figure)


def DealCard(model: BuyingGroupModel) -> solara.Element:  # noqa: N802 (Solara components)
    return _DealCard(model, model.steps)


def html_rows(rows: dict[str, str]) -> str:
    """A two-column HTML table body (escaped), for cards without Markdown (whose maths
    renderer would fetch KaTeX from the internet)."""
    return "".join(f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(label)}</th>"
                   f"<td>{html.escape(value)}</td></tr>" for label, value in rows.items())


def deal_description(model: BuyingGroupModel) -> str:
    """Scenario, strategy, group size, conflict, information volume and seed of the deal."""
    state = model.deal_state
    strategy = getattr(model, "strategy_label", model.strategy or SCENARIO_MIX)
    return (f"{model.scenario.name} · {strategy} · group of {model.group_size} · conflict "
            f"{float(state.conflict_level[0]):.2f} · information volume "
            f"{float(state.information_volume[0]):.1f} · seed {model.seed}")


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
    elif spec["type"] == "SliderInt":
        solara.SliderInt(label, value=value, min=spec["min"], max=spec["max"], step=spec["step"],
                         on_value=on_value)
    elif spec["type"] == "SliderFloat":
        solara.SliderFloat(label, value=value, min=spec["min"], max=spec["max"], step=spec["step"],
                           on_value=on_value)
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
              name="Buying group explorer", play_interval=60, use_threads=True)
