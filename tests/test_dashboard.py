"""The dashboards' logic without a browser: controls, figures, the comparison and the CLI."""

from __future__ import annotations

import dataclasses
import socket
import sys
import threading
import types
from pathlib import Path

import ipyvuetify as v
import pandas as pd
import pytest
import solara
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import sim
import sim.model
import sim.scenario
from sim.cli import app

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # dashboards/ is the app folder next to sim/, not installed
    sys.path.insert(0, str(REPO_ROOT))

from dashboards import compare, explorer, inputs  # noqa: E402
from dashboards.cache import BoundedCache  # noqa: E402


def test_settings_fields_and_the_model_agree_on_defaults() -> None:
    fields = explorer.setting_fields()
    defaults = explorer.ExplorerSettings()
    model = explorer.ExplorerModel()
    assert list(fields) == [field.name for field in dataclasses.fields(defaults)]
    for name in fields:  # every default passes its own field's check unchanged
        assert explorer.check_field(name, getattr(defaults, name)) == getattr(defaults, name)
    assert model.settings == defaults and model.problem is None
    assert (model.scenario.name, model.strategy, model.group_size, model.seed) == (
        "baseline", "seller_led", 7, 0)
    assert fields["scenario"]["values"][0] == "baseline"
    assert set(sim.BUILTIN_STRATEGIES) <= set(fields["strategy"]["values"])


def test_settings_reach_the_deal() -> None:
    chosen = explorer.ExplorerSettings(strategy="digital_first", group_size=4, conflict_level=0.9,
                                       information_volume=2.0, seed=12)
    model = explorer.ExplorerModel(chosen)
    assert (model.strategy, model.group_size, model.seed) == ("digital_first", 4, 12)
    assert float(model.deal_state.conflict_level[0]) == pytest.approx(0.9)
    # The group meets the chosen volume times its own spread factor (the same at any volume).
    unit = explorer.ExplorerModel(explorer.ExplorerSettings(
        strategy="digital_first", group_size=4, conflict_level=0.9, information_volume=1.0, seed=12))
    met = float(model.deal_state.information_volume[0])
    assert met == pytest.approx(2.0 * float(unit.deal_state.information_volume[0])) and met > 0
    assert model.problem is None
    description = explorer.deal_description(model)
    assert "digital_first" in description
    assert f"information volume {met:.1f} for this group (setting 2.0)" in description
    # Mesa's Reset passes a function that returns the session's settings at that moment.
    assert explorer.ExplorerModel(settings=lambda: chosen).settings == chosen


def test_scenario_mix_lets_the_scenario_draw_the_strategy() -> None:
    model = explorer.ExplorerModel(explorer.ExplorerSettings(strategy=explorer.SCENARIO_MIX))
    assert model.strategy is None
    assert model.strategy_label == f"{explorer.SCENARIO_MIX}: {model.deal_strategy}"


@pytest.mark.parametrize("seed", [2**32, inputs.MAX_SEED])
def test_seeds_beyond_32_bits_build_and_step(seed: int) -> None:
    """The layout once took the seed as it was, and numpy refuses seeds of 2**32 or more."""
    model = explorer.ExplorerModel(explorer.ExplorerSettings(seed=seed))
    assert model.seed == seed and model.problem is None
    assert set(model.layout) == set(model.graph.nodes)
    model.step()
    assert model.week == 1


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [("seed", "abc", "whole number from 0"), ("seed", "-5", "whole number from 0"),
     ("seed", "1e3", "whole number from 0"), ("seed", "1.5", "whole number from 0"),
     ("seed", "9" * 5000, "too large"), ("seed", str(2**63), "too large"), ("seed", "", "whole"),
     ("seed", "\u0663", "whole number"),  # a digit to str.isdigit, not to the seed
     ("scenario", "../../etc/passwd", "baseline"), ("scenario", "no_such_scenario", "baseline"),
     ("strategy", "cold_calling", "sense_making"), ("strategy", None, "sense_making"),
     ("group_size", 0, "from 1 to 16"), ("group_size", 17, "from 1 to 16"),
     ("group_size", 2.5, "whole number"), ("group_size", True, "whole number"),
     ("group_size", "7", "whole number"), ("conflict_level", float("nan"), "from 0 to 1"),
     ("conflict_level", -0.1, "from 0 to 1"), ("information_volume", float("inf"), "from 0 to 4"),
     ("information_volume", "2", "from 0 to 4"), ("no_such_setting", 1, "not a setting")],
)
def test_refused_settings_name_the_field_and_what_is_allowed(name: str, value: object,
                                                             allowed: str) -> None:
    with pytest.raises(inputs.FieldError) as refused:
        explorer.check_field(name, value)
    message = str(refused.value)
    assert allowed in message
    assert "\n" not in message and len(message) < 200
    field = explorer.setting_fields().get(name, {"label": name})["label"].lower()
    assert message.startswith(field.split(" (")[0])


@given(seed=st.integers(min_value=0, max_value=inputs.MAX_SEED), pad=st.sampled_from(["", " ", "00"]))
@settings(max_examples=50, deadline=None)
def test_every_seed_in_range_is_accepted_as_typed(seed: int, pad: str) -> None:
    text = f"{pad}{seed} " if pad.strip() else f"{pad}{seed}"
    assert inputs.parse_seed(text) == seed
    assert explorer.check_field("seed", text) == seed


@given(text=st.text(max_size=30))
@settings(max_examples=100, deadline=None)
def test_a_seed_is_never_accepted_unless_it_is_plain_digits(text: str) -> None:
    try:
        seed = inputs.parse_seed(text)
    except inputs.FieldError as refused:
        assert "\n" not in str(refused)
    else:
        assert text.strip().isascii() and text.strip().isdigit()
        assert 0 <= seed <= inputs.MAX_SEED


BROWSER_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=5,
)  # anything a (forged) widget message can carry


@given(name=st.sampled_from(list(explorer.setting_fields())), value=BROWSER_VALUES)
@settings(max_examples=300, deadline=None)
def test_any_value_from_the_browser_is_accepted_as_allowed_or_refused_in_one_line(
    name: str, value: object
) -> None:
    try:
        checked = explorer.check_field(name, value)
    except inputs.FieldError as refused:
        assert "\n" not in str(refused) and len(str(refused)) < 300
        return
    spec = explorer.setting_fields()[name]
    if spec["type"] == "Select":
        assert checked in spec["values"] and type(checked) is type(value)
    elif spec["type"] == "InputText":
        assert 0 <= checked <= inputs.MAX_SEED
    else:
        assert spec["min"] <= checked <= spec["max"]


def test_settings_the_scenario_refuses_give_the_default_deal_and_a_message() -> None:
    model = explorer.ExplorerModel(explorer.ExplorerSettings(scenario="no_such_scenario", seed=9))
    assert "not one of the choices" in model.problem and "default deal" in model.problem
    assert model.settings == explorer.ExplorerSettings()
    assert model.running


def test_an_unexpected_build_error_is_a_short_message_and_a_logged_traceback(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = explorer.nx.spring_layout

    def failing(graph, weight, seed):  # as the layout did for seeds of 2**32 or more
        if seed != 0:
            raise ValueError("Seed must be between 0 and 2**32 - 1 (/srv/secret/path.py)")
        return real(graph, weight=weight, seed=seed)

    monkeypatch.setattr(explorer.nx, "spring_layout", failing)
    model = explorer.ExplorerModel(explorer.ExplorerSettings(seed=5))
    assert model.problem == f"Building the deal failed. {inputs.GENERIC_FAILURE} Showing the default deal."
    assert model.seed == 0 and model.running
    assert "/srv/secret/path.py" in caplog.text and "Traceback" in caplog.text


def test_an_unexpected_error_during_a_week_stops_the_deal_with_a_message(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    model = explorer.ExplorerModel()
    model.step()

    def broken(self) -> None:
        raise RuntimeError("kernel exploded in /srv/secret/engine.py")

    monkeypatch.setattr(sim.model.BuyingGroupModel, "step", broken)
    model.step()  # does not raise
    assert not model.running
    assert model.problem == f"Week 2 failed. {inputs.GENERIC_FAILURE}"
    assert "/srv/secret/engine.py" in caplog.text


def test_charts_draw_every_week_and_the_outcome() -> None:
    from dashboards import charts
    model = explorer.ExplorerModel(explorer.ExplorerSettings(seed=3))
    templates = {chart.name: explorer.layout_template(chart, model) for chart in explorer.WEEK_CHARTS}
    assert explorer.outcome_summary(model) == {}
    for _ in range(3):
        model.step()
    for chart in explorer.WEEK_CHARTS:  # the week's spec is the whole chart, built faster
        whole = charts.to_spec(chart.chart(model))
        assert chart.spec(model, templates[chart.name]) == whole
        assert explorer.layout_template(chart, model) is not templates[chart.name]  # a copy
    layout = model.layout  # networkx scales positions into the network chart's fixed axes
    assert max(abs(value) for point in layout.values() for value in point) <= 1 + 1e-9
    model.run()
    lines = explorer.outcome_summary(model)
    assert set(lines) == {"Decision", "Cycle weeks", "Purchase ease", "Deal size", "Regret"}
    assert lines["Cycle weeks"] == str(model.week)
    frames, title = explorer.network_week(model)
    assert f"week {model.week}" in title[0]
    assert len(frames["nodes"]) == model.group_size == len(set(frames["nodes"]["stakeholder"]))
    frames, title = explorer.jobs_week(model)
    assert (frames["lines"].groupby("job")["week"].max() == model.week).all()
    table = model.datacollector.get_model_vars_dataframe()
    assert len(frames["loops"]) == sum(  # one cross per reopening
        int((table[f"loops_{job}"].diff().fillna(table[f"loops_{job}"]) > 0).sum())
        for job in sim.scenario.JOB_NAMES)
    assert f"{int(sum(table[f'loops_{job}'].iloc[-1] for job in sim.scenario.JOB_NAMES))} loops" in title[0]
    assert "<script" not in explorer.html_rows({"<script>": "x"})


def test_role_labels_are_unique_and_short() -> None:
    agents = [type("Agent", (), {"role": role}) for role in
              ["legal_security", "finance", "legal_security", "it", "legal_security"]]
    assert explorer.role_labels(agents) == ["Legal 1", "Finance", "Legal 2", "IT", "Legal 3"]


def chart_rows(spec: dict, part: dict) -> list[dict]:
    """The data rows a part of an Altair specification draws (Altair keeps them by name)."""
    data = part.get("data") or part["layer"][0]["data"]
    return data["values"] if "values" in data else spec["datasets"][data["name"]]


def fresh_cache() -> BoundedCache:
    return BoundedCache(compare.CACHE_BUDGET_BYTES, lambda comparison: comparison.nbytes)


def test_comparison_is_the_engine_on_the_same_deals(monkeypatch: pytest.MonkeyPatch) -> None:
    """A first look is whole engine blocks; the final rows equal a plain sim.simulate run."""
    monkeypatch.setattr(compare, "_cache", fresh_cache())
    monkeypatch.setattr(compare, "FIRST_LOOK", 256)
    shown = list(compare.iter_comparison("baseline", 300, seed=11))
    assert [c.n_deals for c in shown] == [256, 300]
    assert [c.complete for c in shown] == [False, True]
    final = shown[-1]
    assert list(final.runs) == list(compare.STRATEGIES)
    reference = sim.simulate("baseline", n_deals=300, seed=11, strategy="sense_making").deals
    pd.testing.assert_frame_equal(final.runs["sense_making"].deals, reference, check_exact=True)
    for name in compare.STRATEGIES:
        assert final.runs[name].deals["deal"].tolist() == list(range(300))
    row = final.table.loc["purchase_ease"]
    for name in compare.STRATEGIES:
        assert row[f"{name}_ci_low"] <= row[name] <= row[f"{name}_ci_high"]
    header, *rows = compare.summary_rows(final)
    assert header == ["metric", "over", *compare.STRATEGIES]
    assert len(rows) == len(sim.results.HEADLINE)
    spec = compare.intervals_chart(final).to_dict()
    for panel, metric in zip(spec["vconcat"], sim.results.HEADLINE, strict=True):  # the table, charted
        scale = 100 if metric in compare.RATES else 1
        shown = {row["strategy"]: row["mean"] for row in chart_rows(spec, panel)}
        assert shown == pytest.approx({name: final.table.loc[metric, name] * scale
                                       for name in compare.STRATEGIES})
        assert panel["layer"][0]["encoding"]["x"]["scale"]["zero"] is True
    spec = compare.distributions_chart(final).to_dict()
    assert len(spec["hconcat"]) == len(compare.DISTRIBUTIONS)
    for panel in spec["hconcat"]:
        rows = pd.DataFrame(chart_rows(spec, panel["layer"][0]))
        assert rows.groupby("strategy")["share"].sum().to_numpy() == pytest.approx(100.0)
        assert "(" in panel["layer"][0]["encoding"]["x"]["title"]  # a unit on every axis


def test_comparisons_are_cached_and_computed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compare, "_cache", fresh_cache())
    calls = []
    real = compare.iter_chunks

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(compare, "iter_chunks", counting)
    results = []
    workers = [threading.Thread(target=lambda: results.append(compare.run_comparison("baseline", 256, 4)))
               for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(calls) == len(compare.STRATEGIES)  # one engine run per strategy, not per request
    assert all(result is results[0] for result in results)
    assert compare.run_comparison("baseline", 256, 4) is results[0]


@pytest.mark.parametrize(("deals", "seed", "message"), [(0, 0, "at least 1"), (10, -1, "non-negative")])
def test_comparison_rejects_bad_input_with_one_line(deals: int, seed: int, message: str) -> None:
    with pytest.raises(sim.ScenarioError, match=message):
        compare.run_comparison("baseline", deals, seed)


def test_the_cache_keeps_the_most_recently_used_comparisons_within_its_budget(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compare, "_cache", fresh_cache())
    first = compare.run_comparison("baseline", 256, 1)
    assert first.nbytes > 100_000  # three runs of 256 deals: the budget counts real data
    monkeypatch.setattr(compare._cache, "budget", int(2.5 * first.nbytes))
    second = compare.run_comparison("baseline", 256, 2)
    assert compare.run_comparison("baseline", 256, 1) is first  # a hit: now the most recent
    third = compare.run_comparison("baseline", 256, 3)  # over budget: drops seed 2, not seed 1
    assert [key[2] for key in compare._cache] == [1, 3]
    assert compare.cache_bytes() == first.nbytes + third.nbytes <= compare._cache.budget
    assert compare.run_comparison("baseline", 256, 2) is not second  # computed again
    assert compare.cache_bytes() <= compare._cache.budget


def test_a_comparison_larger_than_the_budget_is_shown_but_not_kept(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compare, "_cache", fresh_cache())
    monkeypatch.setattr(compare._cache, "budget", 1000)
    assert compare.run_comparison("baseline", 256, 5).complete
    assert not compare._cache and compare.cache_bytes() == 0
    assert not compare._in_progress


def _rendered(page: solara.Element):
    """The page rendered in this process, inside Solara's app layout (where the sidebar lives)."""
    _, rendered = solara.render(solara.AppLayout(children=[page]), handle_error=False)
    return rendered


def _type(rendered, label: str, text: str) -> None:
    """Type ``text`` into the text field ``label`` and press Enter."""
    field = rendered.find(v.TextField, label=label).widget
    field.v_model = text
    field.fire_event("keyup.enter", None)


def _field_messages(rendered) -> list[str]:
    return [widget.children[0] for widget in rendered.find(v.Html, class_="field-error").widgets]


def test_forged_compare_choices_are_refused_without_opening_a_file(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = []

    def recording(scenario, n_deals, seed):
        asked.append((scenario, n_deals, seed))
        yield from ()

    monkeypatch.setattr(compare, "iter_comparison", recording)
    opened = []
    monkeypatch.setattr(sim.scenario, "read_toml_file", lambda path: opened.append(path))
    rendered = _rendered(compare.Page())
    rendered.find(v.Select, label="Scenario").widget.v_model = "../../../etc/passwd"
    rendered.find(v.Select, label="Deals per strategy").widget.v_model = "500"  # a string
    _type(rendered, "Seed (press Enter)", "1e3")
    messages = _field_messages(rendered)
    assert len(messages) == 3
    assert messages[0].startswith("scenario '../../../etc/passwd': not one of the choices (baseline")
    assert messages[1].startswith("deals per strategy '500': not one of the choices (500, 1000")
    assert messages[2].startswith("seed '1e3': must be a whole number from 0 to")
    assert all(message.endswith(kept) for message, kept in zip(
        messages, ["keeping baseline", "keeping 2000", "keeping 0"], strict=True))
    assert not opened
    assert {request for request in asked} == {("baseline", compare.DEFAULT_DEALS, 0)}
    _type(rendered, "Seed (press Enter)", " 7 ")
    assert len(_field_messages(rendered)) == 2  # the seed's message goes once it is valid
    assert asked[-1] == ("baseline", compare.DEFAULT_DEALS, 7)


# The sliders' labels as shown with the default settings (a slider's label shows its value).
SHOWN = {"Group size": "Group size: 7", "Conflict level": "Conflict level: 0.5",
         "Information volume": "Information volume: 1"}


def test_forged_explorer_settings_are_refused_and_the_last_valid_ones_kept() -> None:
    rendered = _rendered(explorer.Page())
    forged = {"Scenario": "/etc/passwd", "Focal vendor strategy": "cold_calling",
              "Group size": 99, "Conflict level": float("nan"), "Information volume": "lots",
              "Seed (press Enter, then Reset)": str(2**70)}
    for label, value in forged.items():
        if label.startswith("Seed"):
            _type(rendered, label, value)
        else:
            kind = v.Select if label in ("Scenario", "Focal vendor strategy") else v.Slider
            rendered.find(kind, label=SHOWN.get(label, label)).widget.v_model = value
    messages = _field_messages(rendered)
    for message, start in zip(messages, ["scenario", "focal vendor strategy", "group size",
                                         "conflict level", "seed"], strict=True):
        assert message.startswith(start) and "keeping" in message
    # A slider turns the value into a number before calling back; "lots" fails there.
    assert rendered.find(v.Alert).widget.children == [
        "Information volume: the browser sent an unusable value; keeping 1.0"]
    rendered.find(v.Btn, children=["Try again"]).widget.click()
    assert rendered.find(v.Slider, label=SHOWN["Information volume"]).widget.v_model == 1.0
    rendered.find(v.Btn, children=["Reset"]).widget.click()
    rendered.find(v.Btn, children=["Step"]).widget.click()
    card = rendered.find(v.Html, class_="deal-description").widget.children[0]
    assert card.startswith("baseline · seller_led · group of 7") and card.endswith("seed 0")
    rendered.find(tag="table", attributes={"class": "deal-facts", "data-week": "1"}).assert_single()


def test_a_failing_comparison_is_one_generic_line_in_the_page(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def failing(scenario, n_deals, seed):
        raise RuntimeError("numba exploded in /srv/secret/kernels.py")
        yield

    monkeypatch.setattr(compare, "iter_comparison", failing)
    rendered = _rendered(compare.Page())
    rendered.find(v.Alert).wait_for(timeout=20)  # the comparison runs in a thread
    shown = rendered.find(v.Alert).widget.children
    assert shown == [f"The comparison failed. {inputs.GENERIC_FAILURE}"]
    assert "/srv/secret/kernels.py" in caplog.text


@pytest.mark.parametrize("when", ["render", "click"])
def test_the_safety_net_turns_any_page_error_into_a_short_message(
    when: str, caplog: pytest.LogCaptureFixture
) -> None:
    @solara.component
    def Broken() -> None:  # noqa: N802 (Solara components)
        def fail() -> None:
            raise KeyError("/srv/secret/path.py")

        if when == "render":
            fail()
        solara.Button("go", on_click=fail)

    _, rendered = solara.render(inputs.SafeView(Broken, "The test page"), handle_error=False)
    if when == "click":
        rendered.find(v.Btn, children=["go"]).widget.click()
    assert rendered.find(v.Alert).widget.children == [
        f"The test page failed. {inputs.GENERIC_FAILURE}"]
    assert "/srv/secret/path.py" in caplog.text
    rendered.find(v.Btn, children=["Try again"]).assert_single()


def test_dashboard_command_is_registered() -> None:
    result = CliRunner().invoke(app, ["dashboard", "--help"])
    assert result.exit_code == 0
    assert "--port" in result.output and "--host" in result.output


def test_busy_port_is_a_one_line_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["dashboard", "--port", str(port)])
    assert result.exit_code == 2
    assert "cannot listen on 127.0.0.1" in result.output
    assert "Traceback" not in result.output


def test_out_of_range_port_is_rejected() -> None:
    result = CliRunner().invoke(app, ["dashboard", "--port", "70000"])
    assert result.exit_code == 2
    assert "65535" in result.output


def test_a_refused_field_keeps_its_value_and_says_why_until_a_good_value_arrives() -> None:
    refused = types.SimpleNamespace(value={"other": "kept"})
    stored: list[int] = []
    inputs.accept_field(refused, "seed", 7, lambda: inputs.parse_seed("abc"), stored.append)
    assert stored == [] and refused.value["seed"].endswith("; keeping 7") and refused.value["other"] == "kept"
    inputs.accept_field(refused, "seed", 7, lambda: inputs.parse_seed("12"), stored.append)
    assert stored == [12] and refused.value == {"other": "kept"}
