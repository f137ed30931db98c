"""Fuzzing scenario files and command-line arguments.

Whatever a scenario file holds (wrong types, NaN and infinity, huge, negative or empty values,
unicode, bracketed text such as ``[/x]``, deep nesting, broken bytes) and whatever the
arguments of ``run``, ``compare``, ``scenarios`` and ``validate`` are (special files such as
/dev/zero and a FIFO included), the command ends quickly with exit code 0 and finite outputs,
or with exit code 2 and exactly one line on stderr, never a traceback. Deliberately valid
scenarios must simulate to finite outputs.

The default profile runs a few examples per test, derandomised so CI is repeatable; set
``FUZZ_EXAMPLES`` (``make fuzz`` uses 1000) for a longer, randomised search.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, get_args

import numpy as np
import pandas as pd
import pytest
from annotated_types import Ge, Gt, Le, Lt
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.scenario import SCENARIO_DIR, Behaviour, Population, Range, Simulation, bundled_scenarios
from sim.strategies import BUILTIN_STRATEGIES, Strategy
from tests.toml_text import toml_string, toml_value

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0"))
_COMMON = {
    "deadline": None,  # the time bound is asserted per example, below
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile("inputs-ci", max_examples=15, derandomize=True, **_COMMON)
settings.register_profile("inputs-fuzz", max_examples=max(EXAMPLES, 1), derandomize=False, **_COMMON)
PROFILE = settings.get_profile("inputs-fuzz" if EXAMPLES else "inputs-ci")
SECONDS_PER_EXAMPLE = 30  # a bad input fails in well under a second; a valid one runs 8 deals
DEALS = 8
runner = CliRunner()

# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------

BRACKETED = ["[/x]", "[bold]", "[red]x[/red]", "\\[", "x\\", "[/]", "[link=file:///etc/passwd]a[/link]"]
texts = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=16),
    st.sampled_from([*BRACKETED, "", " ", "é🙂", "a\nb", "\x1b[2J", "x" * 300]),
)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 2, 16, 17, 260, 261, 0.5, -0.0, 1e-300, 5e-324, 1e308, math.nan, math.inf]),
)
scalars = st.one_of(numbers, st.booleans(), texts)


def nested(depth: int) -> Any:
    """A list ``depth`` levels deep (deep nesting must be refused, not crash)."""
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


anything = st.one_of(
    scalars,
    st.lists(scalars, max_size=5),
    st.dictionaries(texts, scalars, max_size=3),
    st.integers(min_value=20, max_value=60).map(nested),
)


def toml_document(data: dict[str, Any]) -> str:
    """Top-level scalars first, then one ``[table]`` per section (and ``[strategies.NAME]``)."""
    lines = [f"{toml_string(k)} = {toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for section, table in data.items():
        if not isinstance(table, dict):
            continue
        if section == "strategies":
            for name, fields in table.items():
                lines.append(f"[strategies.{toml_string(name)}]")
                if isinstance(fields, dict):
                    lines += [f"{toml_string(k)} = {toml_value(v)}" for k, v in fields.items()]
            continue
        lines.append(f"[{toml_string(section)}]")
        lines += [f"{toml_string(k)} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Scenario files, from the schema
# --------------------------------------------------------------------------------------------

def bounds(model: type[BaseModel], name: str) -> tuple[float, float, bool, bool]:
    """(low, high, low excluded, high excluded) of a numeric field, from its metadata."""
    low, high, open_low, open_high = -1e6, 1e6, False, False
    for item in model.model_fields[name].metadata:
        if isinstance(item, Ge):
            low = float(item.ge)
        elif isinstance(item, Gt):
            low, open_low = float(item.gt), True
        elif isinstance(item, Le):
            high = float(item.le)
        elif isinstance(item, Lt):
            high, open_high = float(item.lt), True
    return low, high, open_low, open_high


def valid_value(model: type[BaseModel], name: str) -> st.SearchStrategy[Any]:
    """Values a field accepts on its own (cross-field rules are handled by the callers)."""
    annotation = model.model_fields[name].annotation
    if annotation is float:
        low, high, open_low, open_high = bounds(model, name)
        floats = st.floats(low, high, exclude_min=open_low, exclude_max=open_high)
        first = math.floor(low) + 1 if open_low else math.ceil(low)
        last = math.ceil(high) - 1 if open_high else math.floor(high)
        return st.one_of(floats, st.integers(first, last)) if first <= last else floats
    if annotation is int:
        low, high, _, _ = bounds(model, name)
        return st.integers(int(low), int(high))
    if annotation is Range:
        return st.tuples(st.floats(0, 1), st.floats(0, 1)).map(sorted).map(list)
    if annotation is str:
        return texts
    literal = get_args(annotation)
    if literal and all(isinstance(option, str) for option in literal):
        return st.sampled_from(literal)
    return anything


def section(model: type[BaseModel], valid_share: float) -> st.SearchStrategy[dict[str, Any]]:
    """Some fields of a model, each valid or anything at all, plus now and then an unknown one."""
    names = sorted(model.model_fields)

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        chosen = draw(st.lists(st.sampled_from(names), max_size=4, unique=True))
        table = {}
        for name in chosen:
            keep_valid = draw(st.floats(0, 1)) < valid_share
            table[name] = draw(valid_value(model, name) if keep_valid else anything)
        if draw(st.integers(0, 9)) == 0:
            table[draw(texts)] = draw(anything)
        return table

    return build()


@st.composite
def scenario_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A scenario file's data: mostly a child of a bundled scenario with a few fields set."""
    data: dict[str, Any] = {}
    parent = draw(st.sampled_from(["baseline.toml", "market.toml", None, "defaults.toml", "[/x].toml"]))
    if parent is not None:
        data["extends"] = parent
    if draw(st.booleans()):
        data["name"] = draw(texts)
    for key, model in (("simulation", Simulation), ("population", Population), ("behaviour", Behaviour)):
        if draw(st.booleans()):
            data[key] = draw(section(model, valid_share=0.85))
    if draw(st.integers(0, 3)) == 0:
        data["strategies"] = {draw(texts): draw(section(Strategy, valid_share=0.85))}
        if draw(st.booleans()):
            data.setdefault("population", {})["strategy_mix"] = {next(iter(data["strategies"])): 1.0}
    return data


broken_files = st.one_of(
    st.binary(max_size=200),
    st.sampled_from([
        b"\xff\xfe[population]\n", b"[population\n", b"x = " + b"[" * 3000 + b"]" * 3000,
        b"[" + b".".join([b"a"] * 200) + b"]\n", b'extends = "/dev/zero"\n', b"extends = 5\n",
        b'extends = ""\n', b'extends = "' + b"../" * 50 + b'x.toml"\n', b"= 1\n",
    ]),
)


# --------------------------------------------------------------------------------------------
# What every outcome must look like
# --------------------------------------------------------------------------------------------

def assert_finite_deals(deals: pd.DataFrame) -> None:
    """Every number is finite, except measures of a purchase (NaN) on deals without one."""
    numeric = deals.select_dtypes("number")
    assert not np.isinf(numeric.to_numpy(dtype=float)).any(), "infinite output"
    missing = numeric.isna()
    purchased = deals["purchased"].astype(bool)
    assert not missing[purchased].any().any(), list(missing.columns[missing[purchased].any()])


def assert_clean_outcome(result, seconds: float, out: Path | None = None) -> None:
    """Exit 0 with finite outputs, or exit 2 with exactly one stderr line; no traceback; fast."""
    event(f"exit code {result.exit_code}")
    assert seconds < SECONDS_PER_EXAMPLE, f"took {seconds:.1f} s"
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    if result.exit_code == 0:
        assert result.exception is None
        if out is not None and out.exists() and out.suffix == ".parquet":
            assert_finite_deals(pd.read_parquet(out))
        return
    assert result.exit_code == 2, (result.exit_code, output, repr(result.exception))
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]


def invoke(args: list[str]):
    started = time.perf_counter()
    result = runner.invoke(app, args)
    return result, time.perf_counter() - started


@pytest.fixture(scope="module", autouse=True)
def warm_engine() -> None:
    """Compile and load the engine once, so the time bound measures the inputs, not start-up."""
    sim.simulate("baseline", 2, seed=0)


# --------------------------------------------------------------------------------------------
# Scenario files through the command line
# --------------------------------------------------------------------------------------------

@PROFILE
@given(data=scenario_documents(), seed=st.integers(0, 2**64))
def test_generated_scenario_files(data: dict[str, Any], seed: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.toml"
        path.write_text(toml_document(data), encoding="utf-8")
        out = Path(folder) / "deals.parquet"
        result, seconds = invoke(["run", str(path), "--deals", str(DEALS), "--seed", str(seed),
                                  "--out", str(out)])
        assert_clean_outcome(result, seconds, out)


@PROFILE
@given(content=broken_files)
def test_broken_scenario_files(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "[x] broken [bold].toml"
        path.write_bytes(content)
        result, seconds = invoke(["run", str(path), "--deals", str(DEALS)])
        assert_clean_outcome(result, seconds)


# --------------------------------------------------------------------------------------------
# Command-line arguments, from the commands' options
# --------------------------------------------------------------------------------------------

SPECIAL = ["/dev/zero", "/dev/urandom", "/dev/stdin", "/dev/null", "/", "fifo", "dir"]  # in a temp cwd
builtin_names = st.sampled_from(sorted(BUILTIN_STRATEGIES))
bad_deal_counts = st.one_of(
    st.integers(max_value=0),
    st.integers(min_value=sim.MAX_IN_MEMORY_DEALS + 1, max_value=10**30),
    texts,
    st.floats(allow_nan=True).map(repr),
)
# Each argument of run and compare: values that work (small, so fast) and values that may not.
GOOD = {
    "scenario": st.sampled_from([path.stem for path in bundled_scenarios()]),
    "--deals": st.integers(1, 40),
    "--seed": st.integers(0, 2**80),
    "--out": st.sampled_from(["deals.parquet", "[x] [bold].parquet", "sub/dir/d.json", "d.csv"]),
    "--strategy": builtin_names,
    "--strategies": st.lists(builtin_names, min_size=1, max_size=3, unique=True).map(",".join),
}
BAD = {
    "scenario": st.one_of(
        st.sampled_from(["defaults", "defaults.toml", "nonsense", *SPECIAL]),
        texts,
        st.sampled_from(BRACKETED).map(lambda text: f"/tmp/{text}/x.toml"),
    ),
    "--deals": bad_deal_counts,
    "--seed": st.one_of(st.integers(max_value=-1), texts),
    "--out": st.one_of(texts, st.sampled_from(["deals.txt", "/dev/full", "", "dir"])),
    "--strategy": texts,
    "--strategies": st.lists(st.one_of(builtin_names, texts), max_size=4).map(",".join),
}
OPTIONS = {"run": ["--deals", "--seed", "--out", "--strategy"],
           "compare": ["--deals", "--seed", "--out", "--strategies"]}
JUNK = ["--bogus", "-x", "--", "extra", *BRACKETED]


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    """A working ``run`` or ``compare`` command line with at most one thing spoiled (a value,
    the form of a flag, an extra argument), or ``scenarios``/``validate``/an unknown command."""
    command = draw(st.sampled_from(["run", "run", "compare", "compare", "scenarios", "validate", "nonsense"]))
    if command == "validate":
        # Only deal counts that fail before any simulation: a valid validate runs for seconds.
        deals = draw(st.one_of(st.integers(-5, 999), st.integers(sim.MAX_IN_MEMORY_DEALS + 1, 10**20)))
        robustness = draw(st.one_of(st.just([]), texts.map(lambda text: ["--robustness", text])))
        return [command, "--deals", str(deals), *robustness]
    if command not in OPTIONS:
        return [command, *draw(st.lists(st.sampled_from(JUNK), max_size=1))]
    spoil = draw(st.sampled_from([None, None, "scenario", *OPTIONS[command], "form", "extra"]))
    args = [command]
    if spoil == "scenario" or draw(st.booleans()):
        args.append(draw(BAD["scenario"] if spoil == "scenario" else GOOD["scenario"]))
    for option in OPTIONS[command]:
        if option == spoil or option == "--deals" or draw(st.booleans()):  # the default 5,000 is slow
            args += [option, str(draw(BAD[option] if option == spoil else GOOD[option]))]
    if spoil == "form":
        index = draw(st.sampled_from([i for i, arg in enumerate(args) if arg.startswith("--")]))
        args = draw(st.sampled_from([
            [*args[:index], f"{args[index]}={args[index + 1]}", *args[index + 2 :]],  # still valid
            [*args[:index + 1], *args[index + 2 :]],  # the flag loses its value
            args[:index + 1],  # the command line stops after the flag
        ]))
    if spoil == "extra":
        args.insert(draw(st.integers(1, len(args))), draw(st.sampled_from(JUNK)))
    return args


@PROFILE
@given(args=command_lines())
def test_generated_command_lines(args: list[str]) -> None:
    if not args:
        return  # the bare command prints its help, by design
    home = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)  # relative --out paths land here, never in the repository
        try:
            os.mkfifo("fifo")
            os.mkdir("dir")
            result, seconds = invoke(args)
        finally:
            os.chdir(home)
        outs = [b for a, b in zip(args, args[1:], strict=False) if a == "--out"]
        outs += [a.removeprefix("--out=") for a in args if a.startswith("--out=")]
        out = Path(folder, outs[-1]) if outs and outs[-1] else None
        assert_clean_outcome(result, seconds, out)


# --------------------------------------------------------------------------------------------
# Valid scenarios simulate to finite outputs
# --------------------------------------------------------------------------------------------

@st.composite
def valid_scenarios(draw: st.DrawFn) -> sim.Scenario:
    """The baseline with a few behaviour, population, simulation and strategy fields changed
    to values inside their documented ranges."""
    overrides: dict[str, Any] = {}
    free = [name for name in Behaviour.model_fields if name not in ("done_threshold", "reopen_threshold")]
    for name in draw(st.lists(st.sampled_from(free), max_size=6, unique=True)):
        overrides[f"behaviour.{name}"] = draw(valid_value(Behaviour, name))
    if draw(st.booleans()):
        done = draw(st.floats(0.02, 1.0))
        overrides["behaviour.done_threshold"] = done
        overrides["behaviour.reopen_threshold"] = draw(st.floats(0.01, done, exclude_max=True))
    for name in draw(st.lists(st.sampled_from(sorted(Simulation.model_fields)), max_size=2, unique=True)):
        overrides[f"simulation.{name}"] = draw(valid_value(Simulation, name))
    sizes = draw(st.lists(st.integers(1, 16), min_size=1, max_size=4))
    overrides["population.group_sizes"] = sizes
    weights = draw(st.lists(st.floats(0, 1e300), min_size=len(sizes), max_size=len(sizes)))
    overrides["population.group_size_weights"] = [*weights[:-1], weights[-1] or 1.0]  # a positive sum
    for name in ("conflict_level", "need_for_change"):
        overrides[f"population.{name}"] = sorted(draw(st.tuples(st.floats(0, 1), st.floats(0, 1))))
    overrides["population.information_volume"] = sorted(draw(st.tuples(st.floats(0, 10), st.floats(0, 10))))
    overrides["population.network"] = draw(valid_value(Population, "network"))
    names = sorted(BUILTIN_STRATEGIES)
    mix = draw(st.dictionaries(st.sampled_from(names), st.floats(0, 1e300), min_size=1))
    overrides["population.strategy_mix"] = {**mix, min(mix): mix[min(mix)] or 1.0}  # a positive sum
    overrides["population.competitor_strategy"] = draw(st.sampled_from(names))
    strategy = draw(st.sampled_from(names))
    for name in draw(st.lists(st.sampled_from(sorted(Strategy.model_fields)), max_size=4, unique=True)):
        overrides[f"strategies.{strategy}.{name}"] = draw(valid_value(Strategy, name))
    if any(key.startswith("strategies.") for key in overrides):
        overrides = {f"strategies.{strategy}": BUILTIN_STRATEGIES[strategy].model_dump(), **overrides}
    return sim.load_scenario("baseline").with_overrides(overrides)


@PROFILE
@given(scenario=valid_scenarios(), seed=st.integers(0, 2**32))
def test_valid_scenarios_simulate_to_finite_outputs(scenario: sim.Scenario, seed: int) -> None:
    started = time.perf_counter()
    deals = sim.simulate(scenario, DEALS, seed=seed).deals
    assert time.perf_counter() - started < SECONDS_PER_EXAMPLE
    assert len(deals) == DEALS
    assert_finite_deals(deals)


# --------------------------------------------------------------------------------------------
# The real console script, in its own process
# --------------------------------------------------------------------------------------------

def buyingsim() -> list[str]:
    script = Path(sys.executable).with_name("buyingsim")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sim.cli"]


@pytest.mark.parametrize("case", ["urandom", "deep", "markup", "huge deals"])
def test_console_script_on_hostile_input(tmp_path: Path, case: str) -> None:
    path = tmp_path / "[x] [bold].toml"
    if case == "deep":
        path.write_text("x = " + "[" * 5000 + "]" * 5000, encoding="utf-8")
    elif case == "markup":
        path.write_text('extends = "baseline.toml"\n[population]\nstrategy_mix = { "[/x]" = nan }\n',
                        encoding="utf-8")
    args = {"urandom": ["run", "/dev/urandom"], "huge deals": ["run", "baseline", "--deals", str(10**12)]}
    args = args.get(case, ["run", str(path)])
    started = time.perf_counter()
    done = subprocess.run([*buyingsim(), *args], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, env={**os.environ, "COLUMNS": "80"})
    assert time.perf_counter() - started < 60
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr + done.stdout, done.stderr
    if case == "markup":
        assert "[/x]" in lines[0] and "finite" in lines[0], lines[0]


def test_bundled_scenario_directory_is_what_the_generators_extend() -> None:
    """The generators extend bundled files by name; they must exist for the test to mean much."""
    assert (SCENARIO_DIR / "baseline.toml").is_file() and (SCENARIO_DIR / "market.toml").is_file()
