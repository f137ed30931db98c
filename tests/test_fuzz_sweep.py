"""Fuzzing sweep specs: whatever a spec file holds (wrong types, NaN and infinity, huge,
negative or empty values, unicode, bracketed or reserved names, broken bytes), the sweep
command ends with exit code 0, or exit code 2 and one line on stderr, never a traceback, and
quickly.

A few dozen examples run by default, derandomised so CI is repeatable; set ``FUZZ_EXAMPLES``
(e.g. ``FUZZ_EXAMPLES=2000``) for a longer, randomised search.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sim.cli import app
from sim.sweep import OUTCOME_COLUMNS, RESERVED_NAMES
from tests.toml_text import toml_inline_document

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0"))
FUZZ = settings(
    max_examples=EXAMPLES or 40,
    derandomize=not EXAMPLES,
    deadline=None,  # the time bound is asserted below, per example
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
RUN_FUZZ = settings(FUZZ, max_examples=max(EXAMPLES // 50, 3))
SECONDS_PER_EXAMPLE = 45  # the largest valid spec (100,000 points) plans in ~7 s of CPU
runner = CliRunner()

# --------------------------------------------------------------------------------------------
# Spec values
# --------------------------------------------------------------------------------------------

names = st.one_of(
    st.text(min_size=0, max_size=12),
    st.sampled_from(["[/x]", "[bold]", "<img src=x onerror=alert(1)>", "a.b", "é🙂", " ", "x" * 200]),
    st.sampled_from(RESERVED_NAMES),
    st.sampled_from(OUTCOME_COLUMNS),
    st.sampled_from(["conflict_level", "group_size", "information_volume", "voice_probability"]),
)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, 2, 255, 256, 300, 512, 1000, 1001, 65536, 100_000, 100_001, 10**9]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.5, -0.0, 1e308]),
)
scalars = st.one_of(numbers, st.booleans(), names)
values = st.one_of(scalars, st.lists(scalars, max_size=4), st.dictionaries(names, scalars, max_size=2))
fields = st.one_of(
    st.sampled_from([
        "conflict_level", "group_size", "population.conflict_level", "behaviour.voice_probability",
        "population.network", "strategies.sense_making.resolve_contradictions",
        "strategies.nobody.x", "population.group_sizes", "simulation.horizon_weeks", "",
    ]),
    names,
)
uncertainty = st.fixed_dictionaries(
    {},
    optional={
        "field": fields,
        "values": st.one_of(st.lists(scalars, max_size=5), scalars),
        "low": numbers,
        "high": numbers,
        "levels": numbers,
        "step": scalars,
    },
)
spec_tables = st.fixed_dictionaries(
    {},
    optional={
        "name": names,
        "description": names,
        "scenario": st.one_of(st.sampled_from(["baseline", "market", "nowhere", "/dev/zero", "."]), names),
        "seed": numbers,
        "deals_per_point": numbers,
        "chunk_deals": numbers,
        "strategies": st.one_of(
            st.lists(st.one_of(st.sampled_from(["seller_led", "digital_first", "sense_making"]), names),
                     max_size=4),
            scalars,
        ),
        "outcomes": st.one_of(st.lists(st.one_of(st.sampled_from(OUTCOME_COLUMNS), names), max_size=3),
                              scalars),
        "overrides": st.dictionaries(fields, scalars, max_size=2),
        "sampling": st.fixed_dictionaries(
            {}, optional={"method": st.one_of(st.sampled_from(["grid", "latin_hypercube", "sobol"]), names),
                          "points": numbers}),
        "uncertainties": st.dictionaries(names, st.one_of(uncertainty, scalars), max_size=4),
        "sensitivity": st.fixed_dictionaries(
            {}, optional={"method": st.sampled_from(["sobol", "morris", "other"]), "samples": numbers,
                          "levels": numbers, "contrast": st.lists(names, max_size=3)}),
        "unknown": values,
    },
)

VALID = {
    "deals_per_point": 256,
    "chunk_deals": 256,
    "strategies": ["seller_led", "sense_making"],
    "uncertainties": {
        "conflict_level": {"values": [0.2, 0.8]},
        "group_size": {"low": 4, "high": 9, "levels": 3},
    },
}
# Mostly a valid spec with a few fields replaced (deep checks), sometimes anything at all.
specs = st.one_of(
    st.builds(lambda changes: {**VALID, **changes}, spec_tables),
    st.builds(
        lambda name, table: {**VALID, "uncertainties": {**VALID["uncertainties"], name: table}},
        names,
        uncertainty,
    ),
    spec_tables,
)


def assert_clean_exit(result, started: float) -> None:
    assert time.perf_counter() - started < SECONDS_PER_EXAMPLE
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 2), (result.exit_code, result.output, result.exception)
    if result.exit_code == 2:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr


@FUZZ
@given(data=specs)
def test_generated_specs_are_accepted_or_refused_in_one_line(data: dict[str, Any]):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.toml"
        path.write_text(toml_inline_document(data), encoding="utf-8")
        started = time.perf_counter()
        result = runner.invoke(app, ["sweep", str(path), "--check"])
        assert_clean_exit(result, started)
        if result.exit_code == 0:
            assert "valid;" in result.stdout


@FUZZ
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes_are_refused_in_one_line(raw: bytes):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bytes.toml"
        path.write_bytes(raw)
        started = time.perf_counter()
        assert_clean_exit(runner.invoke(app, ["sweep", str(path), "--check"]), started)


hostile = st.sampled_from(["<img src=x onerror=alert(1)>", "[/x] & [bold]", "é🙂 <b>"])


@RUN_FUZZ
@given(name=st.one_of(hostile, names), description=st.one_of(hostile, names),
       parameter=st.one_of(hostile, names))
def test_generated_names_survive_a_run_and_its_report(name: str, description: str, parameter: str):
    """Names reach the progress bar, the messages and the report page as plain text."""
    spec = {
        "name": name,
        "description": description,
        "deals_per_point": 256,
        "chunk_deals": 256,
        "strategies": ["seller_led", "sense_making"],
        "overrides": {"simulation.horizon_weeks": 8},
        "uncertainties": {parameter: {"field": "conflict_level", "values": [0.5]}},
    }
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "[named].toml"
        path.write_text(toml_inline_document(spec), encoding="utf-8")
        out = Path(folder) / "out[/x]"
        started = time.perf_counter()
        result = runner.invoke(app, ["sweep", str(path), "--out", str(out), "--workers", "1"])
        assert_clean_exit(result, started)
        if result.exit_code != 0:
            return
        result = runner.invoke(app, ["report", str(out)])
        assert_clean_exit(result, started)
        assert result.exit_code == 0
        page = (out / "report" / "index.html").read_text(encoding="utf-8")
        for text in (name, description, parameter):
            if "<" in text:
                assert text not in page
