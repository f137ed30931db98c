"""The strategy designer's logic without a browser: levers from the model, effort, paired
differences against the engine, the bounded cache, verdicts, saving and loading."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.effort import DEFAULT_EFFORT_BUDGET, effort_used, within_budget
from sim.results import HEADLINE
from sim.strategies import BUILTIN_STRATEGIES, Strategy

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # dashboards/ is the app folder next to sim/, not installed
    sys.path.insert(0, str(REPO_ROOT))

from dashboards import design  # noqa: E402
from dashboards.cache import BoundedCache  # noqa: E402
from dashboards.inputs import FieldError  # noqa: E402

DEALS = 256  # one engine block: fast, and enough deals to pair


def test_levers_are_the_strategy_fields_with_their_bounds() -> None:
    levers = design.levers()
    assert [lever.name for lever in levers] == list(Strategy.model_fields)
    for lever in levers:
        info = Strategy.model_fields[lever.name]
        with pytest.raises(ValueError):
            Strategy(**{lever.name: lever.high + lever.step})
        with pytest.raises(ValueError):
            Strategy(**{lever.name: lever.low - lever.step})
        assert lever.description == info.description
        assert 50 <= (lever.high - lever.low) / lever.step <= 500


@pytest.mark.parametrize("value", [-0.5, 99.0, "0.5", None, float("nan"), True])
def test_a_lever_out_of_range_or_not_a_number_is_refused_in_one_line(value: object) -> None:
    with pytest.raises(FieldError) as refused:
        design.set_lever(BUILTIN_STRATEGIES["seller_led"], "tailoring", value)
    assert "tailoring" in str(refused.value) and "from 0 to 1" in str(refused.value)
    assert "\n" not in str(refused.value)


def test_setting_a_lever_changes_only_that_lever() -> None:
    start = BUILTIN_STRATEGIES["digital_first"]
    changed = design.set_lever(start, "prune_overload", 0.4)
    assert changed.prune_overload == 0.4
    assert changed.model_dump() | {"prune_overload": start.prune_overload} == start.model_dump()


@given(st.fixed_dictionaries({lever.name: st.floats(lever.low, lever.high)
                              for lever in design.levers()}))
@settings(max_examples=50, deadline=None)
def test_effort_is_the_models_budget_rule(levers: dict[str, float]) -> None:
    strategy = Strategy(**levers)
    effort = design.effort_of(strategy)
    assert effort.used == effort_used(strategy) and effort.budget == DEFAULT_EFFORT_BUDGET
    assert effort.over == (effort_used(strategy) > DEFAULT_EFFORT_BUDGET)
    assert effort.delivered == within_budget(strategy, DEFAULT_EFFORT_BUDGET)
    assert ("over budget" in effort.message()) == effort.over
    assert ("scaled down" in effort.message()) == effort.over


def test_paired_difference_is_the_engines_deal_by_deal() -> None:
    strategy = design.set_lever(BUILTIN_STRATEGIES["sense_making"], "surface_unshared", 0.9)
    evaluation = design.evaluate("baseline", strategy, {}, DEALS, 3)
    scenario = sim.load_scenario("baseline").with_overrides({"strategies.mine": strategy.model_dump()})
    mine = sim.simulate(scenario, DEALS, 3, "mine").deals
    for reference in design.PRESETS:
        theirs = sim.simulate(scenario, DEALS, 3, reference).deals
        paired = evaluation.paired(reference)
        for metric in HEADLINE:
            both = (mine["purchased"] & theirs["purchased"]) if metric in (
                "deal_size", "regret", "high_quality_deal") else pd.Series(True, index=mine.index)
            expected = (mine.loc[both, metric].astype(float) - theirs.loc[both, metric].astype(float)).mean()
            shown = paired.loc[metric, "difference"]
            assert shown == pytest.approx(expected, nan_ok=True), (reference, metric)
            assert paired.loc[metric, "n"] == both.sum()


def test_moving_a_lever_runs_only_the_designed_strategy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(design, "runs_cache", BoundedCache(design.CACHE_BUDGET_BYTES, design.run_size))
    calls: list[str | None] = []
    engine = design.iter_chunks
    monkeypatch.setattr(design, "iter_chunks", lambda *args, **kwargs: calls.append(args[3]) or engine(
        *args, **kwargs))
    first = design.evaluate("baseline", BUILTIN_STRATEGIES["seller_led"], {}, DEALS, 0)
    assert sorted(set(calls)) == sorted([design.DESIGNED, *design.PRESETS])
    calls.clear()
    moved = design.set_lever(BUILTIN_STRATEGIES["seller_led"], "persuasion", 2.0)
    second = design.evaluate("baseline", moved, {}, DEALS, 0)
    assert set(calls) == {design.DESIGNED}
    assert not first.paired("seller_led")["difference"].abs().sum()  # the same levers: no difference
    assert second.paired("seller_led")["difference"].abs().sum() > 0


def test_the_cache_keeps_the_most_recently_used_runs_within_its_budget() -> None:
    runs = [sim.simulate("baseline", 64 * (i + 1), 0, "seller_led") for i in range(3)]
    sizes = [design.run_size(run) for run in runs]
    cache = BoundedCache(sizes[1] + sizes[2], design.run_size)
    for key, run in enumerate(runs):
        cache.put(key, run)
    assert cache.get(0) is None and cache.get(1) is runs[1] and cache.get(2) is runs[2]
    cache.get(1)  # now the most recently used: the next put drops 2
    cache.put(0, runs[0])
    assert cache.get(2) is None and cache.get(1) is runs[1]
    assert cache.nbytes <= cache.budget
    assert list(cache) == [0, 1]  # least recently used first (1 was just read)
    tiny = BoundedCache(10, design.run_size)
    tiny.put("big", runs[0])  # larger than the whole budget: not kept
    assert len(tiny) == 0


def _row(difference: float, low: float, high: float) -> pd.Series:
    return pd.Series({"difference": difference, "ci_low": low, "ci_high": high})


@pytest.mark.parametrize(("metric", "row", "kind"), [
    ("purchase_ease", _row(0.05, 0.01, 0.09), "better"),
    ("purchase_ease", _row(-0.05, -0.09, -0.01), "worse"),
    ("regret", _row(-0.05, -0.09, -0.01), "better"),
    ("no_decision", _row(0.05, 0.01, 0.09), "worse"),
    ("deal_size", _row(0.01, -0.02, 0.04), "unclear"),
    ("regret", _row(np.nan, np.nan, np.nan), "none"),
])
def test_verdicts_follow_the_interval_and_the_metrics_direction(metric: str, row: pd.Series,
                                                                kind: str) -> None:
    found, sentence = design.verdict(metric, row, "seller_led")
    assert found == kind
    assert ("seller_led" in sentence) == (kind != "none")
    assert ("includes zero" in sentence) == (kind == "unclear")


def test_conditions_reach_every_deal() -> None:
    conditions = {"group_size": 4, "conflict_level": 0.9, "information_volume": 2.5,
                  "need_for_change": 0.2, "network": "complete"}
    scenario = design.conditioned("baseline", conditions)
    assert scenario.population.network == "complete"
    assert scenario.population.need_for_change.low == scenario.population.need_for_change.high == 0.2
    deals = design.evaluate("baseline", BUILTIN_STRATEGIES["seller_led"], conditions, DEALS, 0).runs[
        design.DESIGNED].deals
    assert (deals["group_size"] == 4).all()
    assert np.allclose(deals["conflict_level"], 0.9)
    # Each group meets a log-normal spread of information around the chosen volume.
    assert np.exp(np.log(deals["information_volume"]).mean()) == pytest.approx(
        2.5 * np.exp(-scenario.behaviour.volume_spread**2 / 2), rel=0.15
    )


@pytest.mark.parametrize(("name", "value"), [("group_size", 0), ("group_size", 2.5),
                                             ("conflict_level", 1.5), ("network", "ring"),
                                             ("weather", 1.0)])
def test_refused_conditions_name_the_field(name: str, value: object) -> None:
    with pytest.raises(FieldError) as refused:
        design.check_condition(name, value)
    assert name.split("_")[0] in str(refused.value).lower()


@given(st.fixed_dictionaries({lever.name: st.floats(lever.low, lever.high)
                              for lever in design.levers()}),
       st.sampled_from(["baseline", "market", "hotel_fixtures"]),
       st.fixed_dictionaries({}, optional={"group_size": st.integers(1, 10),
                                           "conflict_level": st.floats(0, 1),
                                           "network": st.sampled_from(design.NETWORKS)}))
@settings(max_examples=30, deadline=None)
def test_a_saved_strategy_loads_back_and_the_scenario_loader_accepts_it(
    levers: dict[str, float], scenario: str, conditions: dict
) -> None:
    strategy = Strategy(**levers)
    text = design.strategy_toml("my_design", strategy, scenario, conditions)
    loaded = design.load_strategy_toml(text)
    assert loaded.name == "my_design" and loaded.scenario == scenario
    for name, value in loaded.strategy.model_dump().items():  # saved to six decimals
        assert value == pytest.approx(levers[name], abs=1e-6)


def test_a_saved_file_runs_with_its_conditions(tmp_path: Path) -> None:
    strategy = BUILTIN_STRATEGIES["sense_making"]
    path = tmp_path / "mine.toml"
    path.write_text(design.strategy_toml("mine", strategy, "baseline",
                                         {"group_size": 3, "network": "hierarchy"}))
    scenario = sim.load_scenario(path)  # what `buyingsim compare FILE --strategies mine` loads
    assert scenario.strategy("mine") == strategy
    assert scenario.population.group_sizes == [3] and scenario.population.network == "hierarchy"


@pytest.mark.parametrize(("text", "message"), [
    ("x = [", "the loaded file: not valid TOML"),
    ("[strategies.a]\ntailoring = 0.5\n", "field extends = None: must name a bundled scenario"),
    ('extends = "/etc/passwd"\n[strategies.a]\n', "field extends = '/etc/passwd'"),
    ('extends = "../baseline.toml"\n[strategies.a]\n', "field extends = '../baseline.toml'"),
    ('extends = "baseline.toml"\n', "needs a [strategies.NAME] table"),
    ('extends = "baseline.toml"\n[strategies.a]\ntailoring = 1.5\n',
     "the loaded file: field strategies.a.tailoring = 1.5"),
    ('extends = "baseline.toml"\n[strategies.a]\ncharm = 1.0\n',
     "the loaded file: unknown field 'strategies.a.charm'; allowed here: meeting_time"),
    ('extends = "baseline.toml"\n[strategies.a]\ntailoring = "high"\n',
     "the loaded file: field strategies.a.tailoring = 'high'"),
])
def test_a_refused_file_is_one_line_naming_the_field(text: str, message: str) -> None:
    with pytest.raises(FieldError) as refused:
        design.load_strategy_toml(text)
    assert message in str(refused.value)
    assert "\n" not in str(refused.value) and "buyingsim-load" not in str(refused.value)


@pytest.mark.parametrize("name", ["", "Bad", "9lives", "has space", "a" * 41, "seller_led",
                                  design.DESIGNED, "x;rm"])
def test_refused_names(name: str) -> None:
    with pytest.raises(FieldError):
        design.check_name(name)


def test_a_sweep_visits_each_value_and_pairs_on_the_same_deals() -> None:
    strategy = BUILTIN_STRATEGIES["sense_making"]
    frame = design.sweep("baseline", strategy, {"network": "complete"}, "seller_led",
                         "group_size", seed=1, n_deals=DEALS)
    values = design.sweep_values("group_size")
    assert values == sorted(set(values)) and all(isinstance(value, int) for value in values)
    assert list(frame["value"].unique()) == values
    assert set(frame["metric"]) == set(HEADLINE)
    point = frame[(frame["value"] == values[0]) & (frame["metric"] == "purchase_ease")].iloc[0]
    scenario = design.with_design(design.conditioned(
        "baseline", {"network": "complete", "group_size": values[0]}), strategy)
    mine = sim.simulate(scenario, DEALS, 1, design.DESIGNED).deals["purchase_ease"]
    theirs = sim.simulate(scenario, DEALS, 1, "seller_led").deals["purchase_ease"]
    assert point["difference"] == pytest.approx((mine - theirs).mean())
    assert point["ci_low"] <= point["difference"] <= point["ci_high"]
    with pytest.raises(FieldError):
        design.sweep("baseline", strategy, {}, "seller_led", "weather")


def test_the_paired_chart_draws_the_paired_table() -> None:
    from dashboards import designer
    evaluation = design.evaluate("baseline", BUILTIN_STRATEGIES["digital_first"], {}, DEALS, 2)
    spec = designer.paired_spec(evaluation, "sense_making")
    paired = evaluation.paired("sense_making")
    for metric in HEADLINE:
        [row] = spec["datasets"][f"paired_{metric}"]
        scale = 100 if metric in sim.results.PERCENT_METRICS else 1
        for shown, column in (("difference", "difference"), ("low", "ci_low"), ("high", "ci_high")):
            assert row[shown] == pytest.approx(paired.loc[metric, column] * scale)
        assert row["verdict"] == design.verdict(metric, paired.loc[metric], "sense_making")[0]
    titles = [panel["layer"][1]["encoding"]["x"]["title"] for panel in spec["vconcat"]]
    assert "No-decision rate: designed - sense_making (percentage points)" in titles
    assert all(panel["layer"][1]["encoding"]["x"]["scale"]["zero"] for panel in spec["vconcat"])
    assert designer.paired_spec(evaluation, "sense_making")["vconcat"] is not spec["vconcat"]


@pytest.mark.parametrize("deals", [1, 255, 256, 700, 1024])
def test_a_run_in_parallel_halves_is_one_engine_run(deals: int,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(design, "runs_cache", BoundedCache(design.CACHE_BUDGET_BYTES, design.run_size))
    scenario = sim.load_scenario("baseline")
    run = design.run_strategy(scenario, "sense_making", deals, 5)
    reference = sim.simulate(scenario, deals, 5, "sense_making")
    pd.testing.assert_frame_equal(run.deals, reference.deals, check_exact=True)
    assert (run.seed, run.strategy, run.metadata) == (reference.seed, reference.strategy,
                                                      reference.metadata)
