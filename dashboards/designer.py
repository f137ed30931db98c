"""Designer page: shape a vendor strategy lever by lever and see its paired effect at once.

The designed strategy runs on the same deals as the three presets (common random numbers);
the page shows each headline metric's mean with its 95% CI and the paired difference against
a chosen reference with its CI and a verdict. Moving a slider re-runs only the designed
strategy, after a short pause (:data:`dashboards.design.DEBOUNCE_SECONDS`) so a dragged slider
runs once. The buyer conditions can be fixed for every deal; a design is saved as a TOML
scenario file the command line runs, and loaded back. The logic lives in
:mod:`dashboards.design`; this module only draws it.
"""

from __future__ import annotations

import functools
import html
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import altair as alt
import pandas as pd
import solara

from dashboards import design
from dashboards.charts import Chart, SpecChart, to_spec
from dashboards.design import CONDITIONS, DESIGNED, NETWORKS, PRESETS, Evaluation
from dashboards.inputs import (
    FieldError,
    FieldMessage,
    SafeView,
    accept_field,
    bundled_scenarios,
    failure_message,
    parse_seed,
    pick,
)
from sim.results import HEADLINE, METRICS, PERCENT_METRICS
from sim.scenario import load_scenario
from sim.strategies import BUILTIN_STRATEGIES, Strategy

DEFAULT_START = "sense_making"
DEFAULT_REFERENCE = "seller_led"
VERDICT_COLOURS = {"better": "#1b7a3a", "worse": "#b00020", "unclear": "#555555",
                   "higher": "#1f4e8c", "lower": "#1f4e8c", "none": "#555555"}


@dataclass(frozen=True)
class Failure:
    """What the page shows instead of an evaluation that could not be computed."""

    message: str


def _cell(text: str, align: str = "right", extra: str = "") -> str:
    return f"<td style='padding:3px 10px;text-align:{align}'{extra}>{html.escape(text)}</td>"


def paired_html(evaluation: Evaluation, reference: str) -> str:
    """Per headline metric: the design's and the reference's mean with CI, the paired
    difference with CI, and the verdict (an HTML table body, every text escaped)."""
    paired = evaluation.paired(reference)
    table = evaluation.table
    head = "".join(f"<th style='padding:3px 10px;text-align:{align}'>{html.escape(text)}</th>"
                   for text, align in (("metric", "left"), ("designed", "right"),
                                       (reference, "right"), ("designed - " + reference, "right"),
                                       ("paired on", "right"), ("verdict", "left")))
    rows = []
    for metric in HEADLINE:
        row = paired.loc[metric]
        kind, sentence = design.verdict(metric, row, reference)
        interval = (f"{design.format_value(row['difference'], metric, True)} "
                    f"[{design.format_value(row['ci_low'], metric, True)}, "
                    f"{design.format_value(row['ci_high'], metric, True)}]")
        means = [f"{design.format_value(table.loc[metric, name], metric)} "
                 f"[{design.format_value(table.loc[metric, f'{name}_ci_low'], metric)}, "
                 f"{design.format_value(table.loc[metric, f'{name}_ci_high'], metric)}]"
                 for name in (DESIGNED, reference)]
        colour = VERDICT_COLOURS[kind]
        rows.append(
            f"<tr class='paired-row' data-metric='{metric}' data-kind='{kind}' "
            f"data-difference='{float(row['difference'])!r}'>"
            + _cell(METRICS[metric][0], "left") + "".join(_cell(mean) for mean in means)
            + _cell(interval) + _cell(f"{int(row['n']):,} " + (
                "deals" if METRICS[metric][1] == "all" else "purchases by both"))
            + _cell(sentence, "left", f" style='color:{colour}'") + "</tr>")
    return f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody>"


def means_html(evaluation: Evaluation) -> str:
    """Every strategy's mean and 95% CI per headline metric (an HTML table body)."""
    names = list(evaluation.runs)
    head = "".join(f"<th style='padding:3px 10px;text-align:{'left' if i == 0 else 'right'}'>"
                   f"{html.escape(text)}</th>" for i, text in enumerate(["metric", *names]))
    rows = []
    for metric, row in evaluation.table.iterrows():
        cells = [f"{design.format_value(row[name], metric)} "
                 f"[{design.format_value(row[f'{name}_ci_low'], metric)}, "
                 f"{design.format_value(row[f'{name}_ci_high'], metric)}]" for name in names]
        rows.append("<tr>" + _cell(row["label"], "left") + "".join(map(_cell, cells)) + "</tr>")
    return f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody>"


def metric_unit(metric: str, difference: bool = False) -> str:
    """How a metric is measured on a chart axis."""
    if metric in PERCENT_METRICS:
        return "percentage points" if difference else "% of " + METRICS[metric][1].replace(
            "all", "deals")
    return {"deal_size": "x ambition"}.get(metric, "index 0-1")


def paired_frame(evaluation: Evaluation, reference: str) -> pd.DataFrame:
    """One row per headline metric: the paired difference and its CI as charted (rates in
    percentage points), with the verdict."""
    paired = evaluation.paired(reference)
    rows = []
    for metric in HEADLINE:
        row = paired.loc[metric]
        scale = 100.0 if metric in PERCENT_METRICS else 1.0
        kind, sentence = design.verdict(metric, row, reference)
        rows.append({"metric": METRICS[metric][0], "unit": metric_unit(metric, True),
                     "difference": row["difference"] * scale, "low": row["ci_low"] * scale,
                     "high": row["ci_high"] * scale, "verdict": kind, "says": sentence})
    return pd.DataFrame(rows)


PAIRED_KINDS = ("better", "worse", "unclear", "none")  # every headline metric has a direction


def paired_layout(reference: str) -> alt.VConcatChart:
    """The paired-difference chart without its data: one panel per headline metric (each on
    its own scale, zero always shown), drawing the named data set ``paired_METRIC``."""
    colour = alt.Color("verdict:N", title="verdict", scale=alt.Scale(
        domain=list(PAIRED_KINDS), range=[VERDICT_COLOURS[kind] for kind in PAIRED_KINDS]))
    tooltip = [alt.Tooltip("metric:N"), alt.Tooltip("difference:Q", format="+.3f"),
               alt.Tooltip("low:Q", title="95% CI from", format="+.3f"),
               alt.Tooltip("high:Q", title="95% CI to", format="+.3f"), alt.Tooltip("says:N")]
    panels = []
    for metric in HEADLINE:
        base = alt.Chart(alt.NamedData(name=f"paired_{metric}"))
        axis = alt.X("low:Q", scale=alt.Scale(zero=True, nice=True), title=(
            f"{METRICS[metric][0]}: designed - {reference} ({metric_unit(metric, True)})"))
        panels.append(alt.layer(
            base.mark_rule(color="#333", strokeDash=[4, 3]).encode(x=alt.datum(0)),
            base.mark_rule(strokeWidth=3).encode(x=axis, x2="high:Q", color=colour, tooltip=tooltip),
            base.mark_point(filled=True, size=140).encode(x="difference:Q", color=colour,
                                                          tooltip=tooltip),
        ).properties(width=560, height=28))
    return alt.vconcat(*panels, spacing=14).resolve_scale(x="independent")


@functools.lru_cache(maxsize=16)
def _paired_template(reference: str) -> str:
    return json.dumps(to_spec(paired_layout(reference)))


def prewarm_charts() -> threading.Thread:
    """Build the paired chart's layouts in the background (about half a second each), so
    the first designer visit does not wait for them."""
    def work() -> None:
        for reference in PRESETS:
            _paired_template(reference)
    thread = threading.Thread(target=work, name="designer-charts", daemon=True)
    thread.start()
    return thread


def paired_spec(evaluation: Evaluation, reference: str) -> dict[str, Any]:
    """The paired-difference chart of ``evaluation`` (its layout built once per reference and
    shared by every session, so a new evaluation costs only its rows)."""
    frame = paired_frame(evaluation, reference)
    rows = frame.astype(object).where(frame.notna(), None)
    datasets = {f"paired_{metric}": [record] for metric, record in zip(
        HEADLINE, rows.to_dict("records"), strict=True)}
    return {**json.loads(_paired_template(reference)), "datasets": datasets}


def sweep_chart(frame: pd.DataFrame, metric: str, condition: str, reference: str) -> alt.LayerChart:
    """The paired difference of ``metric`` across the swept condition: a band for the 95% CI,
    the mean difference as a line with points, and a line at zero."""
    scale = 100.0 if metric in PERCENT_METRICS else 1.0
    rows = frame[frame["metric"] == metric].assign(
        difference=lambda f: f["difference"] * scale, ci_low=lambda f: f["ci_low"] * scale,
        ci_high=lambda f: f["ci_high"] * scale)
    spec = CONDITIONS[condition]
    x = alt.X("value:Q", title=f"{spec.label} ({spec.unit})",
              scale=alt.Scale(domain=[spec.low, spec.high]))
    y_title = f"{METRICS[metric][0]}: designed - {reference} ({metric_unit(metric, True)})"
    tooltip = [alt.Tooltip("value:Q", title=spec.label),
               alt.Tooltip("difference:Q", format="+.3f"),
               alt.Tooltip("ci_low:Q", title="95% CI from", format="+.3f"),
               alt.Tooltip("ci_high:Q", title="95% CI to", format="+.3f"),
               alt.Tooltip("n:Q", title="deals paired"), alt.Tooltip("verdict:N")]
    base = alt.Chart(rows)
    return alt.layer(
        base.mark_area(opacity=0.25, color="#1f4e8c").encode(
            x=x, y=alt.Y("ci_low:Q", title=y_title, scale=alt.Scale(zero=True)), y2="ci_high:Q"),
        alt.Chart(pd.DataFrame({"zero": [0.0]})).mark_rule(color="#333", strokeDash=[4, 3])
        .encode(y="zero:Q"),
        base.mark_line(color="#1f4e8c").encode(x=x, y="difference:Q"),
        base.mark_point(filled=True, size=110, color="#1f4e8c").encode(
            x=x, y="difference:Q", tooltip=tooltip),
    ).properties(width=560, height=260)


@solara.component
def SweepView(scenario: str, strategy: Strategy, conditions: dict, reference: str,  # noqa: N802
              seed: int, paused: bool) -> None:
    """Where in one buyer condition the design beats the reference, and by how much. While
    the comparison above is being computed (``paused``), the sweep waits and its last chart
    stays: the comparison answers first."""
    condition = solara.use_reactive("conflict_level")
    metric = solara.use_reactive("purchase_ease")
    refused = solara.use_reactive({})
    last = solara.use_ref(None)  # the last finished sweep, shown while the next one runs
    others = {name: value for name, value in conditions.items() if name != condition.value}

    def compute() -> pd.DataFrame | Failure | None:
        if paused:
            return None
        time.sleep(design.DEBOUNCE_SECONDS)
        if not task.is_current():
            return None
        try:
            return design.sweep(scenario, strategy, others, reference, condition.value, seed)
        except Exception as error:  # noqa: BLE001 (one line in the page, the rest in the log)
            return Failure(failure_message(error, "The sweep"))

    task = solara.lab.use_task(compute, dependencies=[
        scenario, strategy, tuple(sorted(others.items())), reference, condition.value, seed, paused])

    def choose(field: str, target: solara.Reactive[str], allowed: list[str]) -> Callable[[Any], None]:
        def on_value(value: object) -> None:
            try:
                target.value = pick(field, value, allowed)
                refused.value = {k: text for k, text in refused.value.items() if k != field}
            except FieldError as error:
                refused.value = {**refused.value, field: f"{error}; keeping {target.value}"}
        return on_value

    labels = {spec.label: name for name, spec in CONDITIONS.items()}
    metric_labels = {METRICS[name][0]: name for name in HEADLINE}
    with solara.Card(f"Where does the design beat {reference}? Paired difference across one "
                     f"condition ({design.SWEEP_DEALS} deals per point and strategy)",
                     classes=["sweep-card"]):
        with solara.Row():
            solara.Select("Condition to sweep", value=CONDITIONS[condition.value].label,
                          values=list(labels), on_value=lambda label: choose(
                              "condition", condition, list(CONDITIONS))(labels.get(label, label)))
            solara.Select("Metric", value=METRICS[metric.value][0], values=list(metric_labels),
                          on_value=lambda label: choose("metric", metric, HEADLINE)(
                              metric_labels.get(label, label)))
        FieldMessage(refused.value.get("condition") or refused.value.get("metric"))
        latest = task.latest
        if isinstance(latest, pd.DataFrame):
            last.current = latest
        elif latest is None:
            latest = last.current
        if task.pending or paused:
            solara.ProgressLinear(True)
        if isinstance(latest, Failure):
            solara.Error(latest.message)
        elif isinstance(latest, pd.DataFrame):
            state = "stale" if task.pending or paused or latest is not task.latest else "current"
            swept = latest.attrs.get("condition", condition.value)
            Chart(sweep_chart(latest, metric.value, swept, reference),
                  classes=["sweep-chart", state, f"sweep-{swept}", f"metric-{metric.value}"])
            solara.Text("The band is the 95% CI of the paired difference; where it lies clear of "
                        "the dashed zero line the design is clearly better or worse there.",
                        style={"font-size": "14px", "color": "#444"})


@solara.component
def Page() -> None:  # noqa: N802 (Solara components)
    """The designer page; any unexpected failure becomes a short message, not a traceback."""
    SafeView(DesignerPage, "The designer")


@solara.component
def DesignerPage() -> None:  # noqa: N802 (Solara components)
    """Controls in the sidebar (start, reference, scenario, levers, conditions, save/load);
    the paired comparison in the page."""
    strategy = solara.use_reactive(BUILTIN_STRATEGIES[DEFAULT_START])
    start = solara.use_reactive(DEFAULT_START)
    reference = solara.use_reactive(DEFAULT_REFERENCE)
    scenario = solara.use_reactive("baseline")
    n_deals = solara.use_reactive(design.DEFAULT_DEALS)
    seed = solara.use_reactive(0)
    seed_text = solara.use_reactive("0")
    conditions = solara.use_reactive({})  # condition -> fixed value (absent: the scenario's)
    refused = solara.use_reactive({})  # field -> message about its last refused value

    accept = functools.partial(accept_field, refused)

    def compute() -> Evaluation | Failure | None:
        time.sleep(design.DEBOUNCE_SECONDS)  # debounce: a newer change cancels this run
        if not task.is_current():
            return None
        try:
            return design.evaluate(scenario.value, strategy.value, conditions.value,
                                   n_deals.value, seed.value)
        except Exception as error:  # noqa: BLE001 (one line in the page, the rest in the log)
            return Failure(failure_message(error, "The comparison"))

    task = solara.lab.use_task(compute, dependencies=[
        scenario.value, strategy.value, tuple(sorted(conditions.value.items())), n_deals.value,
        seed.value])
    latest = task.latest

    with solara.AppBar():
        solara.AppBarTitle("Design a strategy")

    def controls() -> None:
        DesignControls(strategy, start, reference, scenario, n_deals, seed, seed_text,
                       conditions, refused, accept)

    with solara.Sidebar():  # rendered apart from the page, so it needs its own safety net
        SafeView(controls, "The designer settings")

    with solara.Column(classes=["designer-page"]):
        EffortCard(strategy.value)
        if isinstance(latest, Failure):
            if not task.pending:
                solara.Error(latest.message, classes=["designer-failure"])
            latest = None
        if task.pending:
            solara.ProgressLinear(True)
        if isinstance(latest, Evaluation):
            state = "stale" if task.pending else "current"
            EvaluationView(latest, reference.value, state)
            SweepView(scenario.value, strategy.value, conditions.value, reference.value,
                      seed.value, paused=task.pending)


@solara.component
def EffortCard(strategy: Strategy) -> None:  # noqa: N802 (Solara components)
    """Effort used against the budget: a bar with the numbers, and a plain warning when the
    design is over budget and will be scaled down."""
    effort = design.effort_of(strategy)
    colour = "#b00020" if effort.over else "#1b7a3a"
    with solara.Card("Effort budget", classes=["effort-card"]):
        solara.ProgressLinear(value=min(100.0, 100 * effort.share), color=colour)
        solara.Text(effort.message(), classes=["effort-message", "over" if effort.over else "within"],
                    style={"color": colour, "font-size": "16px"})


@solara.component
def EvaluationView(evaluation: Evaluation, reference: str, state: str) -> None:  # noqa: N802
    """The paired comparison against the reference, then every strategy's means."""
    with solara.Card(f"Designed strategy vs {reference}: {evaluation.scenario}, "
                     f"{evaluation.n_deals:,} deals per strategy, seed {evaluation.seed}",
                     classes=["designer-results", state]):
        solara.HTML(tag="table", unsafe_innerHTML=paired_html(evaluation, reference),
                    classes=["paired", state], style={"font-size": "16px"},
                    attributes={"data-levers": evaluation.strategy.model_dump_json()})
        spec = solara.use_memo(lambda: paired_spec(evaluation, reference), [evaluation, reference])
        SpecChart(spec, classes=["paired-chart"])
        solara.Text("Paired: every strategy meets the same customers and random numbers, so each "
                    "difference is measured deal by deal (95% CI of the mean difference). Deal "
                    "size, regret and high-quality deals are paired on the deals both "
                    "strategies purchased, so their difference need not equal the difference "
                    "of the means beside it. "
                    f"Simulated in {evaluation.seconds:.2f} s.",
                    style={"font-size": "14px", "color": "#444"})
    with solara.Card("All strategies: mean [95% CI]"):
        solara.HTML(tag="table", unsafe_innerHTML=means_html(evaluation), classes=["means"],
                    style={"font-size": "15px"})


@solara.component
def DesignControls(strategy: solara.Reactive[Strategy], start: solara.Reactive[str],  # noqa: N802
                   reference: solara.Reactive[str], scenario: solara.Reactive[str],
                   n_deals: solara.Reactive[int], seed: solara.Reactive[int],
                   seed_text: solara.Reactive[str], conditions: solara.Reactive[dict],
                   refused: solara.Reactive[dict], accept: Callable[..., None]) -> None:
    """The sidebar: what to compare, the levers, the buyer conditions, save and load."""
    names = bundled_scenarios()

    def on_start(value: object) -> None:
        def store(name: str) -> None:
            start.value = name
            strategy.value = BUILTIN_STRATEGIES[name]
        accept("start", start.value, lambda: pick("start from", value, list(PRESETS)), store)

    def on_seed(text: object) -> None:
        seed_text.value = str(text)
        accept("seed", seed.value, lambda: parse_seed(text), seed.set)

    with solara.Card("Compare", classes=["designer-settings"]):
        solara.Select("Start from", value=start.value, values=list(PRESETS), on_value=on_start)
        FieldMessage(refused.value.get("start"))
        solara.Button(f"Reset levers to {start.value}", small=True, text=True,
                      on_click=lambda: strategy.set(BUILTIN_STRATEGIES[start.value]))
        solara.Select("Reference", value=reference.value, values=list(PRESETS),
                      on_value=lambda value: accept("reference", reference.value, lambda: pick(
                          "reference", value, list(PRESETS)), reference.set))
        FieldMessage(refused.value.get("reference"))
        solara.Select("Scenario", value=scenario.value, values=names,
                      on_value=lambda value: accept("scenario", scenario.value, lambda: pick(
                          "scenario", value, names), scenario.set))
        FieldMessage(refused.value.get("scenario"))
        solara.Select("Deals per strategy", value=n_deals.value, values=design.DEAL_CHOICES,
                      on_value=lambda value: accept("deals", n_deals.value, lambda: pick(
                          "deals per strategy", value, design.DEAL_CHOICES), n_deals.set))
        FieldMessage(refused.value.get("deals"))
        solara.InputText("Seed (press Enter)", value=seed_text.value, on_value=on_seed)
        FieldMessage(refused.value.get("seed"))

    with solara.Card("Levers", classes=["designer-levers"]):
        for lever in design.levers():
            value = getattr(strategy.value, lever.name)

            def on_lever(new: object, name: str = lever.name, current: float = value) -> None:
                accept(name, current, lambda: design.set_lever(strategy.value, name, new),
                       strategy.set)

            def slider(lever: design.Lever = lever, value: float = value,
                       on_lever: Callable[[object], None] = on_lever) -> None:
                solara.SliderFloat(f"{lever.label}: {value:g}", value=value, min=lever.low,
                                   max=lever.high, step=lever.step, on_value=on_lever)

            # The slider turns what the browser sends into a number before calling back; a
            # forged value that is no number fails there, so each slider has its own net.
            SafeView(slider, lever.label.lower(),
                     message=f"{lever.label}: the browser sent an unusable value; keeping {value:g}")
            solara.Text(lever.description, style={"font-size": "14px", "color": "#555",
                                                  "display": "block", "margin-top": "-12px"})
            FieldMessage(refused.value.get(lever.name))

    ConditionControls(scenario.value, conditions, refused, accept)
    SaveLoad(strategy, scenario, conditions)


@solara.component
def ConditionControls(scenario: str, conditions: solara.Reactive[dict],  # noqa: N802
                      refused: solara.Reactive[dict], accept: Callable[..., None]) -> None:
    """Each buyer condition: the scenario's own (shown), or fixed for every deal."""
    own = solara.use_memo(lambda: design.scenario_conditions(load_scenario(scenario)), [scenario])

    def fix(name: str, default: object, on: bool) -> None:
        chosen = {key: value for key, value in conditions.value.items() if key != name}
        conditions.value = {**chosen, name: default} if on else chosen

    def store(name: str) -> Callable[[Any], None]:
        return lambda value: conditions.set({**conditions.value, name: value})

    with solara.Card("Buyer conditions", classes=["designer-conditions"]):
        for name, condition in CONDITIONS.items():
            fixed = name in conditions.value
            default = condition.low if condition.whole else round(
                (condition.low + condition.high) / 2, 6)
            first = int(own[name].split("-")[0]) if condition.whole else default
            solara.Checkbox(label=f"Fix {condition.label.lower()} (scenario: {own[name]})",
                            value=fixed, on_value=lambda on, name=name, first=first: fix(name, first, on))
            if fixed:
                value = conditions.value[name]
                shown = f"{condition.label} ({condition.unit}): {value:g}"

                def on_value(new: object, name: str = name, value: float = value) -> None:
                    accept(name, value, lambda: design.check_condition(name, new), store(name))

                if condition.whole:
                    solara.SliderInt(shown, value=int(value), min=int(condition.low),
                                     max=int(condition.high), on_value=on_value)
                else:
                    solara.SliderFloat(shown, value=float(value), min=condition.low,
                                       max=condition.high, step=condition.step, on_value=on_value)
                FieldMessage(refused.value.get(name))
        network = conditions.value.get("network")
        solara.Checkbox(label=f"Fix network type (scenario: {own['network']})",
                        value=network is not None,
                        on_value=lambda on: fix("network", own["network"], on))
        if network is not None:
            solara.Select("Network type", value=network, values=list(NETWORKS),
                          on_value=lambda new: accept("network", network, lambda: design.check_condition(
                              "network", new), store("network")))
            FieldMessage(refused.value.get("network"))


@solara.component
def SaveLoad(strategy: solara.Reactive[Strategy], scenario: solara.Reactive[str],  # noqa: N802
             conditions: solara.Reactive[dict]) -> None:
    """Save the design as a scenario file the command line runs; load one back."""
    name_text = solara.use_reactive("my_strategy")
    loaded_text = solara.use_reactive("")
    load_message = solara.use_reactive(None)
    load_note = solara.use_reactive(None)
    try:
        name = design.check_name(name_text.value)
        name_problem = None
    except FieldError as error:
        name, name_problem = None, str(error)

    def load() -> None:
        try:
            loaded = design.load_strategy_toml(loaded_text.value)
        except FieldError as error:
            load_message.value, load_note.value = str(error), None
            return
        load_message.value, load_note.value = None, loaded.note
        scenario.value = loaded.scenario
        strategy.value = loaded.strategy
        name_text.value = loaded.name

    with solara.Card("Save and load", classes=["designer-save"]):
        solara.InputText("Strategy name (press Enter)", value=name_text.value,
                         on_value=lambda text: name_text.set(str(text)))
        FieldMessage(name_problem)
        if name is not None:
            text = design.strategy_toml(name, strategy.value, scenario.value, conditions.value)
            solara.FileDownload(text, filename=f"{name}.toml", label=f"Save {name}.toml",
                                mime_type="application/toml")
            solara.Text(f"Then: buyingsim compare {name}.toml --strategies {name},"
                        f"{','.join(PRESETS)}", style={"font-size": "13px", "display": "block"})
        solara.InputTextArea("Paste a saved strategy file", value=loaded_text.value,
                             on_value=lambda text: loaded_text.set(str(text)), rows=4,
                             continuous_update=True)
        solara.Button("Load", on_click=load, small=True, classes=["load-strategy"])
        FieldMessage(load_message.value)
        if load_note.value:
            solara.Text(load_note.value, classes=["load-note"], style={"font-size": "13px"})
