"""The command line: bad input exits with code 2 and one clear line (file, field, what is
allowed, no traceback); good input prints the metrics and writes the per-deal table."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.engine import MAX_SEED
from sim.outcomes import COLUMNS
from sim.results import HEADLINE, METRICS
from sim.scenario import SCENARIO_DIR, ScenarioError, bundled_scenarios, load_scenario
from sim.strategies import BUILTIN_STRATEGIES

BUILTIN = sorted(BUILTIN_STRATEGIES)
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def one_error_line(result) -> str:
    """The run failed as a user error: code 2, a single stderr line, no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr, result.exception)
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


# Each case: file name, file text, what the message must mention (besides the file's path).
BAD_FILES = {
    "unknown key": (
        "unknown.toml", 'extends = "baseline.toml"\n[population]\ngroup_sizez = [6]\n',
        ["population.group_sizez", "group_sizes", "strategy_mix"],
    ),
    "unknown top-level key": ("top.toml", 'nmae = "x"\n', ["nmae", "population", "behaviour"]),
    "wrong type": (
        "type.toml", '[simulation]\nhorizon_weeks = "long"\n',
        ["simulation.horizon_weeks", "long", "integer"],
    ),
    "group size 0": (
        "size0.toml", "[population]\ngroup_sizes = [0]\ngroup_size_weights = [1.0]\n",
        ["population.group_sizes", "0", "1", "16"],
    ),
    "group size 40": (
        "size40.toml", "[population]\ngroup_sizes = [6, 40]\ngroup_size_weights = [0.5, 0.5]\n",
        ["population.group_sizes", "40", "1", "16"],
    ),
    "probability 1.5": (
        "prob.toml", "[behaviour]\nvoice_probability = 1.5\n",
        ["behaviour.voice_probability", "1.5"],
    ),
    "hybrid strategy probability": (
        "hybrid.toml", "[strategies.hybrid]\nresolve_contradictions = 1.5\n",
        ["strategies.hybrid.resolve_contradictions", "1.5"],
    ),
    "unknown strategy field": (
        "hybrid_key.toml", "[strategies.hybrid]\nresolve = 0.5\n",
        ["strategies.hybrid.resolve", "resolve_contradictions", "meeting_time"],
    ),
    "unknown strategy in mix": (
        "mix.toml", "[population]\nstrategy_mix = { seller_led = 0.5, hard_sell = 0.5 }\n",
        ["population.strategy_mix", "hard_sell", *BUILTIN],
    ),
    "unknown competitor strategy": (
        "competitor.toml", '[population]\ncompetitor_strategy = "hard_sell"\n',
        ["population.competitor_strategy", "hard_sell", *BUILTIN],
    ),
    "range out of order": (
        "range.toml", "[population]\nconflict_level = { low = 0.8, high = 0.2 }\n",
        ["population.conflict_level", "0.8", "0.2"],
    ),
    "unparsable TOML": ("broken.toml", "[population\ngroup_sizes = [6\n", ["TOML"]),
    "NaN group-size weight": (
        "nan_weight.toml", "[population]\ngroup_sizes = [6, 7]\ngroup_size_weights = [nan, 1.0]\n",
        ["population.group_size_weights", "finite"],
    ),
    "infinite group-size weight": (
        "inf_weight.toml", "[population]\ngroup_sizes = [6, 7]\ngroup_size_weights = [inf, 1.0]\n",
        ["population.group_size_weights", "finite"],
    ),
    "NaN strategy weight": (
        "nan_mix.toml", "[population]\nstrategy_mix = { seller_led = nan, sense_making = 1.0 }\n",
        ["population.strategy_mix.seller_led", "finite"],
    ),
    "strategy weights whose sum overflows": (
        "huge_mix.toml",
        "[population]\nstrategy_mix = { seller_led = 1e308, sense_making = 1e308 }\n",
        ["population.strategy_mix", "finite, positive sum"],
    ),
    "group-size weights whose sum overflows": (
        "huge_weights.toml",
        "[population]\ngroup_sizes = [6, 7]\ngroup_size_weights = [1.7e308, 1.7e308]\n",
        ["population.group_size_weights", "finite, positive sum"],
    ),
    "vanishing time weight": (
        "tiny_share.toml", "[behaviour]\nbase_share_internal = 1e-300\n",
        ["behaviour.base_share_internal", "0.001"],
    ),
    "number given as text": (
        "text_number.toml", '[simulation]\nhorizon_weeks = "52"\n',
        ["simulation.horizon_weeks", "'52'", "integer"],
    ),
    "boolean given for a number": (
        "bool_number.toml", "[behaviour]\nstubbornness = true\n",
        ["behaviour.stubbornness", "True", "number"],
    ),
    "fraction given for an integer": (
        "float_int.toml", "[simulation]\nn_options = 2.5\n", ["simulation.n_options", "2.5", "integer"],
    ),
    "infinite range end": (
        "inf_range.toml", "[population]\nconflict_level = { low = 0.1, high = inf }\n",
        ["population.conflict_level.high", "finite"],
    ),
    "NaN in a hybrid strategy": (
        "nan_hybrid.toml", "[strategies.hybrid]\nmeeting_time = nan\n",
        ["strategies.hybrid.meeting_time", "finite"],
    ),
    "boolean in a hybrid strategy": (
        "bool_hybrid.toml", "[strategies.hybrid]\npersuasion = false\n",
        ["strategies.hybrid.persuasion", "False", "number"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_scenario_file_exits_2_with_one_clear_line(tmp_path, case):
    name, text, mentions = BAD_FILES[case]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    line = one_error_line(invoke("run", path, "--deals", 20))
    assert name in line, line
    for fragment in mentions:
        assert fragment in line, (fragment, line)


def test_probability_error_states_the_allowed_bound(tmp_path):
    path = tmp_path / "prob.toml"
    path.write_text("[behaviour]\nvoice_probability = 1.5\n", encoding="utf-8")
    line = one_error_line(invoke("run", path))
    assert re.search(r"(less than or equal to|<=|at most|between 0(\.0)? and) ?1(\.0)?\b", line), line


def test_group_size_error_states_the_allowed_range(tmp_path):
    path = tmp_path / "size.toml"
    path.write_text("[population]\ngroup_sizes = [40]\ngroup_size_weights = [1.0]\n", encoding="utf-8")
    line = one_error_line(invoke("run", path))
    assert re.search(r"\b1\s*(-|–|to|and|\.\.)\s*16\b", line), line


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.toml"
    line = one_error_line(invoke("run", path))
    assert "nowhere.toml" in line
    assert "baseline" in line  # what is available instead


def test_extends_loop(tmp_path):
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n', encoding="utf-8")
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n', encoding="utf-8")
    line = one_error_line(invoke("run", tmp_path / "a.toml"))
    assert "a.toml" in line and "b.toml" in line and "extends" in line


def test_extends_self(tmp_path):
    (tmp_path / "me.toml").write_text('extends = "me.toml"\n', encoding="utf-8")
    line = one_error_line(invoke("run", tmp_path / "me.toml"))
    assert "me.toml" in line and "extends" in line


def test_extends_a_missing_parent(tmp_path):
    (tmp_path / "child.toml").write_text('extends = "no_such_parent.toml"\n', encoding="utf-8")
    line = one_error_line(invoke("run", tmp_path / "child.toml"))
    assert "no_such_parent" in line


def test_unknown_strategy_option():
    line = one_error_line(invoke("run", "baseline", "--deals", 20, "--strategy", "hard_sell"))
    assert "baseline" in line and "strategy" in line and "hard_sell" in line
    for name in BUILTIN:
        assert name in line


def test_unknown_strategy_in_compare():
    line = one_error_line(invoke("compare", "baseline", "--deals", 20,
                                 "--strategies", "seller_led,hard_sell"))
    assert "hard_sell" in line
    for name in BUILTIN:
        assert name in line


@pytest.mark.parametrize("suffix", [".txt", ".xlsx", ""])
def test_unsupported_output_format(tmp_path, suffix):
    out = tmp_path / f"deals{suffix}"
    line = one_error_line(invoke("run", "baseline", "--deals", 20, "--out", out))
    assert "--out" in line
    for allowed in (".csv", ".parquet", ".json"):
        assert allowed in line
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [["--deals", "0"], ["--seed", "-1"]])
def test_bad_numbers_are_usage_errors(args):
    result = invoke("run", "baseline", *args)
    assert result.exit_code == 2
    assert "Traceback" not in result.stdout + result.stderr


# --- the real console script ---------------------------------------------------------------

def buyingsim() -> list[str]:
    script = Path(sys.executable).with_name("buyingsim")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sim.cli"]


def test_console_script_reports_bad_input_on_one_line(tmp_path):
    path = tmp_path / "prob.toml"
    path.write_text("[behaviour]\nvoice_probability = 1.5\n", encoding="utf-8")
    env = {**os.environ, "COLUMNS": "100"}
    done = subprocess.run([*buyingsim(), "run", str(path)], capture_output=True, text=True,
                          env=env, timeout=120, cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(path) in lines[0] and "voice_probability" in lines[0]


def test_console_script_runs_and_writes(tmp_path):
    out = tmp_path / "deals.csv"
    done = subprocess.run([*buyingsim(), "run", "baseline", "--deals", "50", "--seed", "1",
                           "--out", str(out)], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(pd.read_csv(out)) == 50


# --- happy path ----------------------------------------------------------------------------

def read_table(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.DataFrame(json.loads(path.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def expected_deals() -> pd.DataFrame:
    return sim.simulate(load_scenario("baseline"), 300, seed=1).deals


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".json"])
def test_run_writes_the_per_deal_table(tmp_path, expected_deals, suffix):
    out = tmp_path / "sub" / f"deals{suffix}"
    result = invoke("run", "baseline", "--deals", 300, "--seed", 1, "--out", out)
    assert result.exit_code == 0, result.stderr
    table = read_table(out)
    assert len(table) == 300
    assert list(table.columns) == list(COLUMNS)
    assert table["deal"].tolist() == list(range(300))
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no partial file left
    # The file holds the same figures as the library call with that seed.
    for column in ("group_size", "cycle_weeks", "loops_total", "winner"):
        assert table[column].tolist() == expected_deals[column].tolist(), column
    assert table["outcome"].tolist() == expected_deals["outcome"].tolist()
    pd.testing.assert_series_equal(table["purchase_ease"].astype(float),
                                   expected_deals["purchase_ease"].astype(float), rtol=1e-6)
    if suffix == ".parquet":
        pd.testing.assert_frame_equal(table, expected_deals)
    # The printed table shows the metrics with their CIs.
    for name in HEADLINE:
        assert METRICS[name][0] in result.stdout
    assert "±" in result.stdout


def test_run_with_a_strategy(tmp_path):
    out = tmp_path / "deals.parquet"
    result = invoke("run", "baseline", "--deals", 100, "--strategy", "sense_making", "--out", out)
    assert result.exit_code == 0, result.stderr
    assert (pd.read_parquet(out)["strategy"] == "sense_making").all()
    assert "sense_making" in result.stdout


def test_compare_prints_three_strategies_and_metrics(tmp_path):
    out = tmp_path / "all.json"
    result = invoke("compare", "baseline", "--deals", 300, "--out", out)
    assert result.exit_code == 0, result.stderr
    for name in ("seller_led", "digital_first", "sense_making"):
        assert name in result.stdout
    for name in HEADLINE:
        assert METRICS[name][0] in result.stdout
    table = read_table(out)
    assert len(table) == 900
    assert table["strategy"].value_counts().to_dict() == {
        "seller_led": 300, "digital_first": 300, "sense_making": 300}
    # Paired: each strategy met the same 300 customers.
    sizes = {name: group["group_size"].tolist() for name, group in table.groupby("strategy")}
    assert sizes["seller_led"] == sizes["digital_first"] == sizes["sense_making"]


def test_compare_a_chosen_pair():
    result = invoke("compare", "baseline", "--deals", 100, "--strategies", "sense_making,digital_first")
    assert result.exit_code == 0, result.stderr
    assert "sense_making" in result.stdout and "digital_first" in result.stdout
    assert "seller_led" not in result.stdout


@pytest.mark.parametrize(("command", "options"), [
    ("run", ["--deals", "--seed", "--strategy", "--out"]),
    ("compare", ["--strategies", "--deals", "--seed", "--out"]),
])
def test_help_mentions_the_options(command, options):
    result = invoke(command, "--help")
    assert result.exit_code == 0
    for option in options:
        assert option in result.stdout, option
    assert "SCENARIO" in result.stdout.upper()


def test_top_level_help_lists_the_commands():
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("run", "compare", "scenarios"):
        assert command in result.stdout


def test_scenarios_command_lists_every_bundled_scenario_but_not_the_defaults():
    result = invoke("scenarios")
    assert result.exit_code == 0
    listed = {line.split("│")[1].strip() for line in result.stdout.splitlines() if line.count("│") >= 3}
    not_scenarios = {"defaults", "ensemble"}
    assert listed - {"", "name"} == {path.stem for path in SCENARIO_DIR.glob("*.toml")} - not_scenarios


def test_the_ensemble_of_fits_is_not_a_scenario_to_run():
    line = one_error_line(invoke("run", "ensemble", "--deals", 20))
    assert "ensemble.toml" in line and "acceptable calibration fits" in line and "baseline" in line


@pytest.mark.parametrize("given", ["defaults", "defaults.toml", str(SCENARIO_DIR / "defaults.toml")])
def test_the_defaults_base_is_not_a_scenario_to_run(given):
    line = one_error_line(invoke("run", given, "--deals", 20))
    assert "defaults.toml" in line and "calibrated" in line and "extend" in line
    assert "baseline" in line and "market" in line  # what to run instead
    with pytest.raises(sim.ScenarioError, match="calibrated"):
        load_scenario(given)


def test_bundled_scenarios_still_extend_the_defaults(baseline):
    import tomllib

    fitted = tomllib.loads((SCENARIO_DIR / "defaults.toml").read_text(encoding="utf-8"))["behaviour"]
    assert fitted  # the calibrated values every bundled scenario inherits
    for name, value in fitted.items():
        assert getattr(baseline.behaviour, name) == value, name
    assert baseline.calibration is not None


# --- scenario files ------------------------------------------------------------------------

BUNDLED = bundled_scenarios()


def flatten(data: dict, prefix: str = "") -> dict:
    """Dotted leaf keys of nested tables; a strategy mix is one value (a distribution)."""
    flat = {}
    for key, value in data.items():
        if isinstance(value, dict) and key != "strategy_mix":
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def changed_fields(a, b) -> set[str]:
    fa, fb = flatten(a.model_dump()), flatten(b.model_dump())
    return {key for key in fa.keys() | fb.keys() if fa.get(key) != fb.get(key)}


def raw_toml(path: Path) -> dict:
    import tomllib

    return tomllib.loads(path.read_text(encoding="utf-8"))


def test_the_bundled_scenarios_are_there():
    stems = {path.stem for path in BUNDLED}
    assert {"baseline", "market"} <= stems


@pytest.mark.parametrize("path", BUNDLED, ids=[path.stem for path in BUNDLED])
def test_every_bundled_scenario_loads_and_runs(path):
    scenario = load_scenario(path)
    assert scenario.name
    assert scenario.source == str(path)
    assert load_scenario(path.stem) == scenario  # reachable by its bare name too
    deals = sim.simulate(scenario, 30, seed=0).deals
    assert len(deals) == 30
    assert set(deals["strategy"]) <= set(scenario.population.strategy_mix)


@pytest.mark.parametrize("path", BUNDLED, ids=[path.stem for path in BUNDLED])
def test_bundled_scenarios_hold_the_values_their_file_sets(path):
    """Whatever a file sets is what the loaded scenario holds (extends never overrides it)."""
    raw = raw_toml(path)
    raw.pop("extends", None)
    loaded = flatten(load_scenario(path).model_dump())
    for key, value in flatten(raw).items():
        if key in loaded:
            assert loaded[key] == value, (key, loaded[key], value)
        else:  # a plain number for a range means low == high
            assert loaded[f"{key}.low"] == loaded[f"{key}.high"] == value, key


@pytest.mark.parametrize("path", BUNDLED, ids=[path.stem for path in BUNDLED])
def test_bundled_children_override_only_what_they_set(path):
    raw = raw_toml(path)
    parent_name = raw.pop("extends", None)
    if parent_name is None:
        return  # nothing inherited; loading is covered above
    if parent_name == "defaults.toml":
        return  # the calibrated base is not a scenario; test_bundled_scenarios_still_extend_the_defaults
    child, parent = load_scenario(path), load_scenario(SCENARIO_DIR / parent_name)
    set_here = set(flatten(raw))
    new_strategies = {f"strategies.{name}." for name in raw.get("strategies", {})}
    for key in changed_fields(child, parent):
        assert (key in set_here or any(key.startswith(f"{s}.") for s in set_here)
                or any(key.startswith(prefix) for prefix in new_strategies)), key


def test_child_overrides_only_the_given_fields(tmp_path, baseline):
    (tmp_path / "child.toml").write_text(
        'extends = "baseline.toml"\nname = "child"\n'
        "[population]\nconflict_level = 0.9\n[behaviour]\ncapacity = 12.0\n",
        encoding="utf-8",
    )
    child = load_scenario(tmp_path / "child.toml")
    assert child.population.conflict_level.low == child.population.conflict_level.high == 0.9
    assert child.behaviour.capacity == 12.0
    assert child.description == baseline.description  # inherited
    assert child.population.group_sizes == baseline.population.group_sizes  # merged key by key
    assert changed_fields(child, baseline) == {
        "name", "population.conflict_level.low", "population.conflict_level.high", "behaviour.capacity"}


def test_extends_chains_and_absolute_paths(tmp_path, baseline):
    parent = SCENARIO_DIR / "baseline.toml"
    (tmp_path / "mid.toml").write_text(
        f'extends = "{parent.as_posix()}"\n[simulation]\nhorizon_weeks = 30\n'
        "[behaviour]\nvoice_probability = 0.4\n", encoding="utf-8")
    (tmp_path / "leaf.toml").write_text(
        'extends = "mid.toml"\n[behaviour]\nvoice_probability = 0.1\n', encoding="utf-8")
    leaf = load_scenario(tmp_path / "leaf.toml")
    assert leaf.source == str(tmp_path / "leaf.toml")
    assert leaf.simulation.horizon_weeks == 30
    assert leaf.behaviour.voice_probability == 0.1  # the nearest file wins
    assert leaf.name == "leaf"  # a file is named after itself unless it sets a name
    expected = {"name", "simulation.horizon_weeks", "behaviour.voice_probability"}
    assert changed_fields(leaf, baseline) == expected


def test_a_child_can_define_a_hybrid_strategy(tmp_path):
    """A child that sets ``strategy_mix`` replaces the parent's mix (the mix is one field, a
    distribution over strategies), so all its deals use the hybrid."""
    (tmp_path / "hybrid.toml").write_text(
        'extends = "baseline.toml"\n[population]\nstrategy_mix = { hybrid = 1.0 }\n'
        "[strategies.hybrid]\nmeeting_time = 1.2\nresolve_contradictions = 0.2\n", encoding="utf-8")
    scenario = load_scenario(tmp_path / "hybrid.toml")
    assert scenario.population.strategy_mix == {"hybrid": 1.0}
    hybrid = scenario.strategy("hybrid")
    assert hybrid.resolve_contradictions == 0.2 and hybrid.meeting_time == 1.2
    deals = sim.simulate(scenario, 30, seed=1).deals
    assert (deals["strategy"] == "hybrid").all()


def test_overrides_change_only_the_named_field(baseline):
    changed = baseline.with_overrides({"behaviour.stubbornness": 0.7})
    assert changed_fields(changed, baseline) == {"behaviour.stubbornness"}
    assert load_scenario("baseline", behaviour__stubbornness=0.7) == changed
    with pytest.raises(sim.ScenarioError, match=r"population\.group_sizes"):
        baseline.with_overrides({"population.group_sizes": [17], "population.group_size_weights": [1.0]})


def test_integers_are_valid_numbers_but_text_and_booleans_are_not(tmp_path):
    (tmp_path / "ints.toml").write_text(
        'extends = "baseline.toml"\n[behaviour]\ncapacity = 8\nhours_per_week = 3\n'
        "[population]\ngroup_sizes = [6, 7]\ngroup_size_weights = [0, 2]\nconflict_level = [0, 1]\n",
        encoding="utf-8")
    scenario = load_scenario(tmp_path / "ints.toml")
    assert scenario.behaviour.capacity == 8.0 and isinstance(scenario.behaviour.capacity, float)
    assert (scenario.population.conflict_level.low, scenario.population.conflict_level.high) == (0.0, 1.0)
    assert scenario.population.group_size_weights == [0.0, 2.0]  # a zero weight is allowed
    assert set(sim.simulate(scenario, 20, seed=0).deals["group_size"]) == {7}


def test_overrides_accept_numpy_scalars(baseline):
    import numpy as np

    changed = baseline.with_overrides({"simulation.horizon_weeks": np.int64(30),
                                       "behaviour.capacity": np.float32(7.5)})
    assert changed.simulation.horizon_weeks == 30 and changed.behaviour.capacity == 7.5
    with pytest.raises(sim.ScenarioError, match=r"behaviour\.stubbornness"):
        baseline.with_overrides({"behaviour.stubbornness": np.bool_(True)})


# --- unbounded input: special files, long chains, deep nesting, huge sizes -----------------

@pytest.mark.parametrize("special", ["/dev/zero", "/dev/urandom", "/dev/stdin", "directory", "fifo"])
def test_special_files_are_refused_without_reading_them(tmp_path, special):
    path = {"directory": tmp_path, "fifo": tmp_path / "pipe.toml"}.get(special, Path(special))
    if special == "fifo":
        os.mkfifo(path)
    line = one_error_line(invoke("run", path, "--deals", 20))
    assert str(path) in line and "not a regular file" in line, line


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_extends_refuses_special_files(tmp_path, special):
    parent = tmp_path / "pipe" if special == "fifo" else Path(special)
    if special == "fifo":
        os.mkfifo(parent)
    (tmp_path / "child.toml").write_text(f'extends = "{parent}"\n', encoding="utf-8")
    line = one_error_line(invoke("run", tmp_path / "child.toml", "--deals", 20))
    assert str(parent) in line and "not a regular file" in line, line


def test_console_script_refuses_a_fifo_at_once(tmp_path):
    """A real process: opening a FIFO would block forever; it must be refused before."""
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    done = subprocess.run([*buyingsim(), "run", str(fifo)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "not a regular file" in lines[0] and "Traceback" not in done.stderr


def test_a_long_extends_chain_is_refused(tmp_path):
    from sim.scenario import MAX_EXTENDS_DEPTH

    for index in range(1500):
        (tmp_path / f"f{index}.toml").write_text(f'extends = "f{index + 1}.toml"\n', encoding="utf-8")
    (tmp_path / "f1500.toml").write_text('name = "end"\n', encoding="utf-8")
    line = one_error_line(invoke("run", tmp_path / "f0.toml", "--deals", 20))
    assert "extends chain longer than" in line and str(MAX_EXTENDS_DEPTH) in line, line
    # A chain just within the cap still loads.
    (tmp_path / f"f{MAX_EXTENDS_DEPTH - 1}.toml").write_text("[behaviour]\ncapacity = 7\n", encoding="utf-8")
    chained = load_scenario(tmp_path / "f0.toml")
    assert chained.name == "f0" and chained.behaviour.capacity == 7.0


def test_an_extends_loop_through_a_relative_path_is_found(tmp_path):
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "self.toml").write_text('extends = "../dir/self.toml"\n', encoding="utf-8")
    line = one_error_line(invoke("run", tmp_path / "dir" / "self.toml", "--deals", 20))
    assert "extends itself" in line and "self.toml" in line, line


@pytest.mark.parametrize("text", [
    "x = " + "[" * 5000 + "]" * 5000,
    "x = " + "{a = " * 5000 + "1" + "}" * 5000,
    "[" + ".".join(["a"] * 5000) + "]\nb = 1\n",
])
def test_deep_nesting_is_refused(tmp_path, text):
    from sim.scenario import MAX_TOML_NESTING

    path = tmp_path / "deep.toml"
    path.write_text(text, encoding="utf-8")
    line = one_error_line(invoke("run", path, "--deals", 20))
    assert "nested deeper than" in line and str(MAX_TOML_NESTING) in line, line


def test_oversized_and_non_utf8_files_are_refused(tmp_path):
    from sim.scenario import MAX_TOML_BYTES

    big = tmp_path / "big.toml"
    big.write_text("# padding\n" * (MAX_TOML_BYTES // 10 + 1), encoding="utf-8")
    assert "larger than 1,048,576 bytes" in one_error_line(invoke("run", big))
    latin = tmp_path / "latin.toml"
    latin.write_bytes('name = "Müller"\n'.encode("latin-1"))
    assert "not UTF-8" in one_error_line(invoke("run", latin))


@pytest.mark.parametrize(("args", "flag"), [
    (["run", "baseline", "--deals", str(10**12)], "--deals"),
    (["compare", "baseline", "--deals", str(2_000_000)], "--deals times 3 strategies"),
])
def test_too_many_deals_for_memory_fail_at_once(args, flag):
    line = one_error_line(invoke(*args))
    assert flag in line and f"{sim.MAX_IN_MEMORY_DEALS:,}" in line and "sweep" in line, line
    with pytest.raises(ValueError, match="at most"):
        sim.simulate("baseline", 10**12)
    with pytest.raises(ValueError, match="whole number"):
        sim.simulate("baseline", True)


# --- user text is printed, never parsed as Rich markup ---------------------------------------

def test_bracketed_paths_and_names_are_printed_as_given(tmp_path):
    folder = tmp_path / "[draft]"
    folder.mkdir()
    path = folder / "x.toml"
    path.write_text(
        'extends = "baseline.toml"\nname = "[/x] [bold]draft"\n[population]\n'
        'strategy_mix = { "[b]old" = 1.0 }\n[strategies."[b]old"]\nmeeting_time = 1.2\n',
        encoding="utf-8")
    result = invoke("run", path, "--deals", 30)
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert "[/x] [bold]draft" in result.stdout
    result = invoke("compare", path, "--deals", 30, "--strategies", "[b]old,seller_led")
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert "[b]old" in result.stdout and "seller_led - [b]old" in result.stdout
    missing = folder / "[/x].toml"
    line = one_error_line(invoke("run", missing))
    assert str(missing) in line, line


@pytest.mark.parametrize("command", ["run", "compare"])
def test_bracketed_strategy_flags_are_named_in_one_line(command):
    flag = "--strategy" if command == "run" else "--strategies"
    line = one_error_line(invoke(command, "baseline", "--deals", 20, flag, "[/x]"))
    assert f"{flag} '[/x]'" in line and "unknown strategy" in line, line
    for name in BUILTIN:
        assert name in line


def test_control_characters_in_user_text_stay_on_one_line(tmp_path):
    line = one_error_line(invoke("run", str(tmp_path / "a\nb\x1b[2J.toml")))
    assert "a\\nb\\x1b[2J.toml" in line, line


@pytest.mark.parametrize("args", [
    ["run", "--bogus"], ["run", "baseline", "--deals", "x"], ["run", "a", "b"], ["nosuchcommand"],
    ["compare", "--deals"], ["validate", "--deals", "10"],
])
def test_usage_mistakes_are_one_line(args):
    line = one_error_line(invoke(*args))
    assert "--help" in line, line


# --- calibrate writes only when asked; validate counts all of its work ----------------------

class FakeCalibration:
    """Stands in for the Optuna study: the command's own logic is what is tested."""

    def __init__(self, **settings):
        self.settings = settings

    def calibrate(self, progress):
        progress(1, 1, 3.0)

    def best(self):
        return {"capacity": 8.5}, 3.0

    def polish(self, parameters, n_deals):
        return parameters, 2.5

    def ensemble(self):
        return [{"objective": 3.0, "parameters": {"capacity": 8.5}}]

    def check(self, top, progress):
        progress(top * 4)
        return [{"trial": 0, "objective": 2.9, "fewest_in_band": 10, "parameters": {"capacity": 8.4}}]


@pytest.mark.parametrize("check", [16, 0])
@pytest.mark.parametrize("write", [False, True])
def test_calibrate_writes_the_defaults_only_with_write(monkeypatch, tmp_path, write, check):
    import sim.calibration_cli as calibration_cli

    written = []
    monkeypatch.setattr(calibration_cli, "Calibration", FakeCalibration)
    monkeypatch.setattr(calibration_cli, "write_defaults",
                        lambda parameters, *args, **kwargs: written.append(parameters) or tmp_path / "d.toml")
    monkeypatch.setattr(calibration_cli, "write_ensemble",
                        lambda members, *args, **kwargs: written.append(members) or tmp_path / "e.toml")
    args = ["calibrate", "--trials", 1, "--storage", tmp_path / "study.journal", "--polish", 0,
            "--check", check]
    result = invoke(*args, *(["--write"] if write else []))
    assert result.exit_code == 0, (result.stderr, result.exception)
    if check:  # the most robust checked fit, and the ensemble around it
        expected = [{"capacity": 8.4}, [{"objective": 2.9, "parameters": {"capacity": 8.4}}]]
        assert "most robust: trial 0" in result.stdout.replace("\n", " ")
    else:  # the study's best trial and its ensemble
        expected = [{"capacity": 8.5}, [{"objective": 3.0, "parameters": {"capacity": 8.5}}]]
    assert written == (expected if write else [])
    if not write:
        assert "not written" in result.stdout and "--write" in result.stdout
        assert "defaults.toml" in result.stdout.replace("\n", "")


def test_replicate_reports_every_deal_and_every_resample():
    from sim.replication import replicate
    from sim.research import FIGURES

    counted = {"deals": 0, "resamples": 0}
    replicate("market", 600, seed=2, extra_seeds=[3], samples=4, chunk_size=256,
              progress=lambda n: counted.__setitem__("deals", counted["deals"] + n),
              bootstrap_progress=lambda n: counted.__setitem__("resamples", counted["resamples"] + n))
    assert counted == {"deals": 2 * 600, "resamples": len(FIGURES) * 4}


def test_progress_display_counts_each_stage_in_its_own_row(monkeypatch):
    import sim.cli as cli

    monkeypatch.setattr(cli, "PROGRESS_AFTER_SECONDS", -1.0)  # show at once
    progress = cli.DelayedProgress(100, "simulating [x]")
    bootstrap = progress.stage(24, "bootstrap", "resamples")
    progress(60)
    progress(40)
    bootstrap(6)
    try:
        tasks = progress.bar.tasks
        assert [(t.description, t.completed, t.total) for t in tasks] == [
            ("simulating \\[x]", 100, 100), ("bootstrap", 6, 24)]
        assert tasks[1].fields["unit"] == "resamples"
    finally:
        progress.close()


def test_compare_refuses_an_output_format_before_simulating(tmp_path, monkeypatch):
    import sim.cli as cli

    monkeypatch.setattr(cli, "simulate", lambda *args, **kwargs: pytest.fail("simulated anyway"))
    line = one_error_line(invoke("compare", "baseline", "--deals", 20, "--out", tmp_path / "all.xlsx"))
    assert "--out" in line and ".parquet" in line


@pytest.mark.parametrize("seed", [str(2**63), str(2**64), "9" * 40])
def test_seeds_beyond_64_bits_are_refused_in_one_line(seed: str) -> None:
    result = runner.invoke(app, ["run", "baseline", "--deals", "10", "--seed", seed])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "--seed" in result.output and str(MAX_SEED) in result.output


def test_every_entry_point_refuses_a_seed_the_kernels_cannot_take() -> None:
    from sim.model import BuyingGroupModel

    with pytest.raises(ScenarioError, match="from 0 to"):
        sim.simulate("baseline", 10, seed=MAX_SEED + 1)
    with pytest.raises(ScenarioError, match="from 0 to"):
        BuyingGroupModel(seed=MAX_SEED + 1)
    assert len(sim.simulate("baseline", 3, seed=MAX_SEED).deals) == 3
