"""The dashboards' logic without a browser: controls, figures, the comparison and the CLI."""

from __future__ import annotations

import socket
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import sim
from sim.cli import app

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # dashboards/ is the app folder next to sim/, not installed
    sys.path.insert(0, str(REPO_ROOT))

from dashboards import compare, explorer  # noqa: E402


def test_controls_and_the_model_agree_on_defaults() -> None:
    params = explorer.model_params()
    model = explorer.ExplorerModel()
    assert {name: spec["value"] for name, spec in params.items()} == explorer.DEFAULTS
    assert model.scenario.name == params["scenario"]["value"]
    assert model.strategy == params["strategy"]["value"]
    assert model.group_size == params["group_size"]["value"]
    assert "baseline" in params["scenario"]["values"]
    assert set(sim.BUILTIN_STRATEGIES) <= set(params["strategy"]["values"])


def test_controls_reach_the_deal() -> None:
    model = explorer.ExplorerModel(strategy="digital_first", group_size=4, conflict_level=0.9,
                                   information_volume=2.0, seed="12")
    assert (model.strategy, model.group_size, model.seed) == ("digital_first", 4, 12)
    assert float(model.deal_state.conflict_level[0]) == pytest.approx(0.9)
    assert float(model.deal_state.information_volume[0]) == pytest.approx(2.0)
    assert model.problem is None
    assert "digital_first" in explorer.deal_description(model)


def test_scenario_mix_lets_the_scenario_draw_the_strategy() -> None:
    model = explorer.ExplorerModel(strategy=explorer.SCENARIO_MIX)
    assert model.strategy is None
    assert model.strategy_label == f"{explorer.SCENARIO_MIX}: {model.deal_strategy}"


@pytest.mark.parametrize(
    ("controls", "message"),
    [({"seed": "abc"}, "not a non-negative integer"), ({"seed": "-3"}, "not a non-negative integer"),
     ({"scenario": "no_such_scenario"}, "no such scenario file"),
     ({"strategy": "cold_calling"}, "unknown")],
)
def test_bad_control_values_become_a_message_not_a_crash(controls: dict, message: str) -> None:
    model = explorer.ExplorerModel(**controls)
    assert message in model.problem
    assert "\n" not in model.problem
    assert model.running


def test_figures_draw_every_week_and_the_outcome() -> None:
    model = explorer.ExplorerModel(seed="3")
    for make in (explorer.network_figure, explorer.jobs_figure, explorer.strain_figure):
        assert make(model).axes
    assert explorer.outcome_summary(model) == {}
    model.run()
    lines = explorer.outcome_summary(model)
    assert set(lines) == {"Decision", "Cycle weeks", "Purchase ease", "Deal size", "Regret"}
    assert lines["Cycle weeks"] == str(model.week)
    network = explorer.network_figure(model)
    assert f"week {model.week}" in network.axes[0].get_title()
    jobs = explorer.jobs_figure(model).axes[0]
    assert len(jobs.get_lines()) >= 6
    assert all(len(line.get_xdata()) == model.week + 1 for line in jobs.get_lines()[:6])
    assert "<script" not in explorer.html_rows({"<script>": "x"})


def test_comparison_is_the_engine_on_the_same_deals(monkeypatch: pytest.MonkeyPatch) -> None:
    """Partial rounds are whole engine blocks: the final rows equal a plain sim.simulate run."""
    monkeypatch.setattr(compare, "_cache", {})
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
    for make in (compare.intervals_figure, compare.distributions_figure):
        assert make(final).axes


def test_comparisons_are_cached_and_computed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compare, "_cache", {})
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
