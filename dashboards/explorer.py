"""Explorer: watch one buying group work through the six jobs, week by week (Mesa SolaraViz).

The page shows the consensus network (node colour = job in focus, size = influence, edge
width = trust, a red ring = holds evidence on an unresolved contradiction), the six jobs'
completion over the weeks with every reopening marked, disagreement / contradictions /
overload, and an outcome card when the deal ends. Controls rebuild the model on Reset and
keep their values. Figures use fixed margins: ``tight_layout`` would cost a full extra draw
every week, which made Play several times slower.

Every browser session builds its own model inside :func:`Page`; nothing model-like lives at
module level, because Solara shares module globals between sessions.
"""

from __future__ import annotations

import contextlib
import html
import threading
import warnings
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import solara
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sim.model import JOB_LABELS, BuyingGroupModel
from sim.scenario import JOB_NAMES, SCENARIO_DIR, ScenarioError, load_scenario
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
DEFAULTS: dict[str, Any] = {
    "scenario": "baseline", "strategy": "seller_led", "group_size": 7,
    "conflict_level": 0.5, "information_volume": 1.0, "seed": "0",
}
FIGURE_DPI = 90


def bundled_scenarios() -> list[str]:
    """Names of the scenarios shipped in ``scenarios/``, baseline first."""
    names = sorted(path.stem for path in SCENARIO_DIR.glob("*.toml"))
    return sorted(names, key=lambda name: name != "baseline")


def model_params() -> dict[str, dict[str, Any]]:
    """SolaraViz controls; their values are passed to :class:`ExplorerModel` on Reset."""
    return {
        "scenario": {"type": "Select", "label": "Scenario", "value": DEFAULTS["scenario"],
                     "values": bundled_scenarios()},
        "strategy": {"type": "Select", "label": "Focal vendor strategy",
                     "value": DEFAULTS["strategy"], "values": [*BUILTIN_STRATEGIES, SCENARIO_MIX]},
        "group_size": {"type": "SliderInt", "label": "Group size", "value": DEFAULTS["group_size"],
                       "min": 1, "max": 16, "step": 1},
        "conflict_level": {"type": "SliderFloat", "label": "Conflict level",
                           "value": DEFAULTS["conflict_level"], "min": 0.0, "max": 1.0, "step": 0.05},
        "information_volume": {"type": "SliderFloat", "label": "Information volume",
                               "value": DEFAULTS["information_volume"], "min": 0.0, "max": 4.0,
                               "step": 0.1},
        "seed": {"type": "InputText", "label": "Seed (press Enter, then Reset)",
                 "value": DEFAULTS["seed"]},
    }


@dataclass(frozen=True)
class ExplorerInputs:
    """Control values turned into model arguments, with a message for anything unusable."""

    scenario: str
    strategy: str | None
    group_size: int
    overrides: dict[str, float]
    seed: int
    problem: str | None = None


def resolve_inputs(scenario: str, strategy: str, group_size: int, conflict_level: float,
                   information_volume: float, seed: str | int) -> ExplorerInputs:
    """Check the controls before building a model, so a bad value becomes a visible message
    (and the baseline deal) rather than an exception inside the button handler."""
    problem = None
    try:
        seed_value = int(str(seed).strip())
        if seed_value < 0:
            raise ValueError
    except ValueError:
        problem, seed_value = f"seed {seed!r} is not a non-negative integer; using 0", 0
    chosen = None if strategy == SCENARIO_MIX else strategy
    overrides = {"population.conflict_level": float(conflict_level),
                 "population.information_volume": float(information_volume)}
    try:
        loaded = load_scenario(scenario)
        if chosen is not None:
            loaded.strategy(chosen)
        loaded.with_overrides({**overrides, "population.group_sizes": [int(group_size)],
                               "population.group_size_weights": [1.0]})
    except ScenarioError as error:
        return ExplorerInputs("baseline", "seller_led", DEFAULTS["group_size"], {}, seed_value,
                              f"{error}; showing the baseline deal instead")
    return ExplorerInputs(scenario, chosen, int(group_size), overrides, seed_value, problem)


class ExplorerModel(BuyingGroupModel):
    """The one-deal model built from the dashboard's controls (see :func:`model_params`)."""

    def __init__(
        self,
        scenario: str = DEFAULTS["scenario"],
        strategy: str = DEFAULTS["strategy"],
        group_size: int = DEFAULTS["group_size"],
        conflict_level: float = DEFAULTS["conflict_level"],
        information_volume: float = DEFAULTS["information_volume"],
        seed: str | int = DEFAULTS["seed"],
    ):
        inputs = resolve_inputs(scenario, strategy, group_size, conflict_level,
                                information_volume, seed)
        super().__init__(scenario=inputs.scenario, strategy=inputs.strategy,
                         group_size=inputs.group_size, seed=inputs.seed, overrides=inputs.overrides)
        self.problem = inputs.problem
        self.strategy_label = inputs.strategy or f"{SCENARIO_MIX}: {self.deal_strategy}"
        # Fixed positions for the whole run, so only colours and sizes move week to week.
        self.layout = nx.spring_layout(self.graph, weight="trust", seed=inputs.seed)
        # Play steps the model in one thread while another draws it: the lock keeps every
        # drawing to one consistent week.
        self.lock = threading.RLock()

    def step(self) -> None:
        """One week; when the deal ends, ask for a redraw so the final week is always shown
        (while playing with threads, intermediate weeks may be skipped, the last never)."""
        with self.lock:
            super().step()
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


def network_figure(model: BuyingGroupModel) -> Figure:
    """The consensus network this week: colour = job in focus, size = influence, edge width
    = trust, red ring = holds evidence on a cell with an unresolved contradiction."""
    figure = Figure(figsize=(5.4, 4.6), dpi=FIGURE_DPI)
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
    for agent, (x, y) in zip(agents, positions, strict=True):
        axes.annotate(ROLE_SHORT.get(agent.role, agent.role), (x, y), xytext=(0, -17),
                      textcoords="offset points", ha="center", fontsize=7, zorder=3)
    legend = [Line2D([], [], marker="o", linestyle="", color=colour, label=label)
              for colour, label in zip(JOB_COLOURS, JOB_LABELS, strict=True)]
    legend.append(Line2D([], [], marker="o", linestyle="", markerfacecolor="white",
                         markeredgecolor="#d62728", markeredgewidth=2, label="holds contradicted evidence"))
    axes.legend(handles=legend, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=3,
                fontsize=7, frameon=False)
    axes.set_title(f"Consensus network, week {model.week} (colour = job in focus)", fontsize=9)
    axes.margins(0.15)
    axes.set_axis_off()
    figure.subplots_adjust(left=0.02, right=0.98, top=0.93, bottom=0.2)
    return figure


def jobs_figure(model: BuyingGroupModel) -> Figure:
    """Completion of the six jobs over the weeks; an x marks each reopened (looped) job."""
    table = model.datacollector.get_model_vars_dataframe()
    behaviour = model.scenario.behaviour
    figure = Figure(figsize=(5.4, 4.0), dpi=FIGURE_DPI)
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
    axes.text(0, behaviour.done_threshold + 0.01, "done", fontsize=7)
    axes.text(0, behaviour.reopen_threshold - 0.05, "reopens below", fontsize=7, color="grey")
    axes.set_xlim(0, max(model.scenario.simulation.horizon_weeks, 1))
    axes.set_ylim(0, 1.02)
    axes.set_xlabel("week")
    axes.set_ylabel("completion")
    loops = int(sum(table[f"loops_{job}"].iloc[-1] for job in JOB_NAMES))
    axes.set_title(f"The six buying jobs ({loops} loops so far; x = job reopened)", fontsize=9)
    axes.legend(fontsize=7, loc="lower right", ncol=2)
    figure.subplots_adjust(left=0.11, right=0.98, top=0.92, bottom=0.12)
    return figure


def strain_figure(model: BuyingGroupModel) -> Figure:
    """Disagreement and overload (0-1) above, contradictions (counts) below."""
    table = model.datacollector.get_model_vars_dataframe()
    figure = Figure(figsize=(5.4, 4.0), dpi=FIGURE_DPI)
    top, bottom = figure.subplots(2, 1, sharex=True)
    weeks = np.arange(len(table))
    top.plot(weeks, table["disagreement"], label="disagreement on priorities", color="#8172b2")
    top.plot(weeks, table["dissent"], label="dissent from leading option", color="#c44e52")
    top.plot(weeks, table["overload"], label="mean overload", color="#dd8452")
    top.plot(weeks, table["supplier_time_share"], label="time with suppliers", color="#55a868",
             linestyle="--")
    top.set_ylim(0, 1.02)
    top.legend(fontsize=7, loc="upper right")
    top.set_title("Disagreement, overload and contradictions", fontsize=9)
    bottom.step(weeks, table["unresolved_contradictions"], where="post", color="#d62728",
                label="unresolved contradictions")
    bottom.plot(weeks, table["contradictions_met"], color="#7f7f7f", linestyle=":",
                label="contradictions met (total)")
    bottom.set_xlim(0, max(model.scenario.simulation.horizon_weeks, 1))
    bottom.set_ylim(bottom=0)
    bottom.set_xlabel("week")
    bottom.legend(fontsize=7, loc="upper left")
    figure.subplots_adjust(left=0.09, right=0.98, top=0.92, bottom=0.12, hspace=0.12)
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


COMPONENTS = [(NetworkView, 0), (JobsChart, 0), (StrainChart, 0), (DealCard, 0)]


@solara.component
def Page() -> None:  # noqa: N802 (Solara components)
    """The explorer page. The model is made here, once per browser session."""
    model = solara.use_memo(ExplorerModel, dependencies=[])
    SolaraViz(model, components=COMPONENTS, model_params=model_params(),
              name="Buying group explorer", play_interval=60, use_threads=True)
