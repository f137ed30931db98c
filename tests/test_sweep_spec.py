"""Sweep specs: validation with one-line messages, parameter resolution and the design of
points (grid, Latin hypercube, Sobol, SALib) with seeds that do not depend on execution."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from sim.explore.design import apply_point, load_sweep_spec, parse_sweep_spec, plan_sweep, point_seed
from sim.explore.executors import check_scheduler_address, load_scheduler_security
from sim.explore.spec import SweepError

BASE = {"name": "t", "scenario": "baseline", "seed": 5, "deals_per_point": 500,
        "strategies": ["seller_led", "sense_making"]}


def spec_of(kind="sweep", **changes):
    return parse_sweep_spec({**BASE, **changes}, kind=kind)


def test_grid_is_the_full_product_in_spec_order():
    spec = spec_of(uncertainties={"group_size": {"values": [6, 8, 10]},
                                  "conflict_level": {"low": 0.2, "high": 0.8, "levels": 4}})
    plan = plan_sweep(spec)
    assert len(plan.points) == 12
    assert plan.points[0] == {"group_size": 6, "conflict_level": 0.2}
    assert plan.points[1]["conflict_level"] == pytest.approx(0.4)
    assert plan.points[-1] == {"group_size": 10, "conflict_level": 0.8}
    # chunks: 12 points x 2 strategies x ceil(500 / 2048) chunks
    assert len(plan.tasks()) == 24
    assert {t.n_deals for t in plan.tasks()} == {500}


def test_points_set_the_scenario_fields():
    spec = spec_of(uncertainties={
        "group_size": {"values": [3]},
        "voice_probability": {"values": [0.4]},
        "resolve": {"field": "strategies.sense_making.resolve_contradictions", "values": [0.9]},
        "network": {"field": "population.network", "values": ["hierarchy"]},
    })
    plan = plan_sweep(spec)
    scenario = apply_point(plan.base, plan.parameters, plan.points[0])
    assert scenario.population.group_sizes == [3]
    assert scenario.population.group_size_weights == [1.0]
    assert scenario.behaviour.voice_probability == 0.4
    assert scenario.population.network == "hierarchy"
    sense_making = scenario.strategy("sense_making")
    assert sense_making.resolve_contradictions == 0.9
    # the strategy's other fields keep their built-in values
    assert sense_making.prune_overload == plan.base.strategy("sense_making").prune_overload > 0
    assert plan.tasks()[0].scenario == scenario


@pytest.mark.parametrize("method, points", [("latin_hypercube", 20), ("sobol", 16)])
def test_sampled_designs_cover_the_ranges_reproducibly(method, points):
    uncertainties = {"conflict_level": {"low": 0.1, "high": 0.9},
                     "information_volume": {"low": 0.5, "high": 2.0},
                     "group_size": {"low": 4, "high": 12},
                     "network": {"field": "population.network",
                                 "values": ["small_world", "hierarchy", "complete"]}}
    plan = plan_sweep(spec_of(uncertainties=uncertainties,
                              sampling={"method": method, "points": points}))
    again = plan_sweep(spec_of(uncertainties=uncertainties,
                               sampling={"method": method, "points": points}))
    other_seed = plan_sweep(spec_of(uncertainties=uncertainties, seed=6,
                                    sampling={"method": method, "points": points}))
    assert plan.points == again.points and plan.points != other_seed.points
    assert len(plan.points) == points
    conflict = np.array([p["conflict_level"] for p in plan.points])
    assert conflict.min() >= 0.1 and conflict.max() <= 0.9
    # space-filling: every tenth of the range... at least most of them, is visited
    assert len(set(np.floor((conflict - 0.1) / 0.08).astype(int))) >= 8
    sizes = [p["group_size"] for p in plan.points]
    assert all(isinstance(s, int) and 4 <= s <= 12 for s in sizes)
    assert {p["network"] for p in plan.points} == {"small_world", "hierarchy", "complete"}
    if method == "latin_hypercube":  # one sample in each of the n strata
        strata = np.floor((conflict - 0.1) / 0.8 * points).astype(int)
        assert sorted(strata) == list(range(points))


def test_point_seeds_depend_only_on_spec_seed_and_index():
    seeds = [point_seed(5, i) for i in range(200)]
    assert len(set(seeds)) == 200 and all(0 <= s < 2**63 for s in seeds)
    plan = plan_sweep(spec_of(uncertainties={"group_size": {"values": [6, 7, 8]}}))
    assert plan.seeds == seeds[:3]
    tasks = plan.tasks()
    # every strategy at a point uses the point's seed: common random numbers
    assert {t.seed for t in tasks if t.point == 1} == {seeds[1]}


def test_sensitivity_design_uses_salib():
    spec = spec_of(uncertainties={"conflict_level": {"low": 0.1, "high": 0.9},
                                  "group_size": {"low": 4, "high": 10}},
                   sensitivity={"method": "sobol", "samples": 8}, kind="sensitivity")
    plan = plan_sweep(spec, "sensitivity")
    assert len(plan.points) == 8 * (2 + 2)  # Saltelli without second order: N (D + 2)
    assert plan.extra["method"] == "sobol" and len(plan.extra["matrix"]) == 32
    morris = plan_sweep(spec_of(uncertainties=spec.model_dump()["uncertainties"],
                                sensitivity={"method": "morris", "samples": 5},
                                kind="sensitivity"), "sensitivity")
    assert len(morris.points) == 5 * (2 + 1)


SPEC_ERRORS = [
    ({"dealz": 5}, "unknown field 'dealz'; allowed here: name, description, scenario"),
    ({"sampling": {"method": "random"}},
     "field sampling.method = 'random': Input should be 'grid', 'latin_hypercube' or 'sobol'"),
    ({"sampling": {"method": "sobol", "points": 30}}, "sobol needs a power of two"),
    ({"sampling": {"method": "latin_hypercube"}}, "needs points = N"),
    ({"uncertainties": {"conflict_level": {"values": [0.2, 1.5]}}},
     "field uncertainties.conflict_level: value 1.5 is not allowed: field "
     "population.conflict_level = 1.5: must lie between 0 and 1"),
    ({"uncertainties": {"conflict_level": {"low": 0.5}}},
     "uncertainties.conflict_level: needs values = [...] or both low and high"),
    ({"uncertainties": {"conflict_level": {"low": 0.5, "high": 0.9}}},
     "uncertainties.conflict_level: a grid needs values = [...] or low, high and levels"),
    ({"uncertainties": {"mood": {"values": [1]}}}, "uncertainties.mood: no scenario field 'mood'"),
    ({"uncertainties": {"x": {"field": "behaviour.voice_prob", "values": [1]}}},
     "no scenario field 'behaviour.voice_prob'; allowed: hours_per_week"),
    ({"uncertainties": {"x": {"field": "population.group_sizes", "values": [1]}}},
     "cannot be swept"),
    ({"uncertainties": {"conflict_level": {"values": [0.2], "colour": 1}}},
     "unknown field 'uncertainties.conflict_level.colour'; allowed here: field, values, low"),
    ({"strategies": ["seller_led", "hard_sell"]},
     "unknown strategy 'hard_sell'; allowed: digital_first, seller_led, sense_making"),
    ({"outcomes": ["happiness"]}, "unknown outcome 'happiness'; allowed: group_size, conflict_level"),
    ({"chunk_deals": 300}, "field chunk_deals = 300: must be a multiple of 256"),
    ({"deals_per_point": 0}, "field deals_per_point = 0: Input should be greater than or equal"),
    ({"scenario": "nowhere"}, "no such scenario file"),
    ({"overrides": {"behaviour.stubbornness": 3}},
     "field behaviour.stubbornness = 3: Input should be less than or equal to 1"),
    # names that would collide with the results tables' own columns
    ({"uncertainties": {"seed": {"field": "conflict_level", "values": [0.2]}}},
     "uncertainty name 'seed' is taken by a results column"),
    ({"uncertainties": {"strategy": {"field": "conflict_level", "values": [0.2]}}},
     "Reserved: point, seed, strategy, deal"),
    ({"uncertainties": {"point": {"field": "conflict_level", "values": [0.2]}}}, "'point' is taken"),
    ({"uncertainties": {"regret": {"field": "conflict_level", "values": [0.2]}}},
     "'regret' is taken by a results column"),
    # sizes: refused from the counts alone, before anything is built
    ({"uncertainties": {f"u{i}": {"field": "conflict_level", "low": 0.0, "high": 1.0, "levels": 1000}
                        for i in range(3)}},
     "the design has 1,000,000,000 points (1000 x 1000 x 1000); at most 100,000"),
    ({"sampling": {"method": "latin_hypercube", "points": 1_000_000},
      "uncertainties": {"conflict_level": {"low": 0.1, "high": 0.9}}},
     "field sampling.points = 1000000: Input should be less than or equal to 100000"),
    ({"deals_per_point": 100_000_000, "chunk_deals": 256},
     "the sweep would have 781,250 chunk files; at most 300,000"),
    ({"scenario": "/dev/zero"}, "/dev/zero: is a device, pipe or socket, not a regular file"),
]


@pytest.mark.parametrize("changes, message", SPEC_ERRORS)
def test_bad_specs_give_one_line_messages(changes, message, tmp_path: Path):
    path = tmp_path / "bad.toml"
    path.write_text(_toml({**BASE, **changes}))
    with pytest.raises(SweepError) as caught:
        load_sweep_spec(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: ") and "\n" not in text
    assert message in text


def test_spec_file_problems(tmp_path: Path):
    with pytest.raises(SweepError, match="no such sweep spec file"):
        load_sweep_spec(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("deals_per_point = [1,\n")
    with pytest.raises(SweepError, match="broken.toml: not valid TOML"):
        load_sweep_spec(broken)
    partial = tmp_path / "partial.toml"
    partial.write_text('scenario = "baseline"\n')
    with pytest.raises(SweepError, match="field deals_per_point is required"):
        load_sweep_spec(partial)


def test_an_uncertainty_needs_a_name():
    with pytest.raises(SweepError, match="an uncertainty needs a name"):
        spec_of(uncertainties={" ": {"field": "conflict_level", "values": [0.2]}})


def test_sensitivity_sizes_are_bounded():
    uncertainties = {f"u{i}": {"field": "conflict_level", "low": 0.1, "high": 0.9} for i in range(40)}
    started = time.perf_counter()
    with pytest.raises(SweepError, match=r"the design has 2,752,512 points \(sobol: samples 65536 x 42\)"):
        spec_of(uncertainties=uncertainties, sensitivity={"method": "sobol", "samples": 65536},
                kind="sensitivity")
    with pytest.raises(SweepError, match=r"morris: samples 4000 x 41"):
        spec_of(uncertainties=uncertainties, sensitivity={"method": "morris", "samples": 4000},
                kind="sensitivity")
    assert time.perf_counter() - started < 5


def test_spec_files_are_read_safely(tmp_path: Path):
    with pytest.raises(SweepError, match="/dev/zero: is a device, pipe or socket"):
        load_sweep_spec("/dev/zero")
    with pytest.raises(SweepError, match="is a directory"):
        load_sweep_spec(tmp_path)
    huge = tmp_path / "huge.toml"
    huge.write_text("deals_per_point = 1\n" + "#" * 2_000_000)
    with pytest.raises(SweepError, match="huge.toml: larger than"):
        load_sweep_spec(huge)


@pytest.mark.parametrize("address, message", [
    ("not a url", "not a Dask scheduler address"),
    ("http://host:8786", "not a Dask scheduler address"),
    ("tcp://host:99999", "not a Dask scheduler address"),
    ("tls://host:8786", "a tls:// scheduler needs --scheduler-security"),
])
def test_scheduler_addresses_are_checked(address, message):
    with pytest.raises(SweepError, match=message):
        check_scheduler_address(address)
    check_scheduler_address("tcp://10.0.0.5:8786")
    check_scheduler_address("[::1]:8786")
    check_scheduler_address("tls://sched.example:8786", tls=True)


def test_scheduler_security_file(tmp_path: Path):
    for name in ("ca.pem", "client.pem", "client.key"):
        (tmp_path / name).write_text("-----BEGIN-----\n")
    good = tmp_path / "tls.toml"
    good.write_text('ca_file = "ca.pem"\ncert_file = "client.pem"\nkey_file = "client.key"\n')
    security = load_scheduler_security(good)
    assert security.require_encryption
    assert security.tls_ca_file == str(tmp_path / "ca.pem")
    assert security.tls_client_cert == str(tmp_path / "client.pem")
    assert security.tls_client_key == str(tmp_path / "client.key")
    missing = tmp_path / "missing.toml"
    missing.write_text('ca_file = "nowhere.pem"\ncert_file = "client.pem"\n')
    with pytest.raises(SweepError, match=r"missing.toml: field ca_file = 'nowhere.pem': no such file"):
        load_scheduler_security(missing)
    typo = tmp_path / "typo.toml"
    typo.write_text('ca = "ca.pem"\ncert_file = "client.pem"\n')
    with pytest.raises(SweepError, match=r"typo.toml: field ca_file is required"):
        load_scheduler_security(typo)
    with pytest.raises(SweepError, match="no such file"):
        load_scheduler_security(tmp_path / "absent.toml")


def test_scenario_path_is_relative_to_the_spec(tmp_path: Path):
    (tmp_path / "mine.toml").write_text('extends = "baseline"\nname = "mine"\n'
                                       '[population]\nconflict_level = 0.9\n')
    spec_path = tmp_path / "spec.toml"
    spec_path.write_text('scenario = "mine.toml"\ndeals_per_point = 10\n')
    spec = load_sweep_spec(spec_path)
    assert spec.name == "spec"
    assert plan_sweep(spec).base.population.conflict_level.low == 0.9


def _toml(data: dict) -> str:
    """Tiny TOML writer for the spec shapes used here."""
    lines, tables = [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        else:
            lines.append(f"{key} = {_value(value)}")
    for key, table in tables:
        flat = {k: v for k, v in table.items() if not isinstance(v, dict)}
        lines.append(f"[{key}]")
        lines += [f'"{k}" = {_value(v)}' for k, v in flat.items()]
        for sub, inner in ((k, v) for k, v in table.items() if isinstance(v, dict)):
            lines.append(f"[{key}.{sub}]")
            lines += [f"{k} = {_value(v)}" for k, v in inner.items()]
    return "\n".join(lines) + "\n"


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return repr(value)


ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted([*ROOT.glob("scenarios/sweeps/*.toml"), *ROOT.glob("experiments/*/spec.toml")])


@pytest.mark.parametrize("path", SHIPPED, ids=[str(p.relative_to(ROOT)) for p in SHIPPED])
def test_shipped_specs_are_valid(path: Path):
    import tomllib

    kind = "sensitivity" if "sensitivity" in tomllib.loads(path.read_text()) else "sweep"
    plan = plan_sweep(load_sweep_spec(path, kind), kind)
    assert plan.points and plan.deals_total > 0
