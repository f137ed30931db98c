"""Scenario sweeps: which strategy wins where, across buyer conditions, and by how much.

A *sweep spec* (TOML) names a base scenario, the buyer conditions to vary, the strategies to
compare and how many deals to simulate at each point. The vocabulary follows exploratory
modelling (EMA Workbench): *uncertainties* are the conditions a vendor does not control (the
swept parameters), the *levers* are the strategies it chooses between (all run on the same
deals at a point: common random numbers), and *outcomes* are the per-deal metrics. A sweep has
a flat *experiments* table (one row per point: its seed and parameter values) and a *deals*
table (one row per point, strategy and deal).

Execution: points x strategies are cut into chunks of whole engine blocks. A chunk's rows
depend only on the spec, so results are identical for any worker count or executor (in
process, local worker processes, a Dask cluster). Each finished chunk becomes one Parquet
file, written atomically; a manifest records the spec, its hash, the package version, the
seeds and the chunk status. Rerunning resumes; a different spec on the same directory is
refused.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import itertools
import json
import multiprocessing
import os
import re
import threading
import time
import traceback
import uuid
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_origin

import numpy as np
import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from sim.engine import BLOCK_SIZE, MAX_SEED, iter_chunks
from sim.outcomes import COLUMNS
from sim.results import HEADLINE
from sim.scenario import (
    Behaviour,
    Population,
    Range,
    Scenario,
    ScenarioError,
    Simulation,
    format_validation_error,
    load_scenario,
    read_toml_file,
)
from sim.strategies import Strategy

MANIFEST_NAME = "manifest.json"
CHUNK_DIR = "chunks"
LOCK_NAME = ".lock"
JOURNAL_NAME = "chunks.journal"
# Keys of the Parquet metadata that tie a chunk file to its chunk, sweep and model code.
META_CHUNK, META_SPEC, META_MODEL = "buyingsim.chunk", "buyingsim.spec_hash", "buyingsim.model"
STORE_FORMAT = 2
# Limits that keep a spec's validation and planning quick and its manifest small.
MAX_POINTS = 100_000
MAX_CHUNKS = 300_000
MAX_UNCERTAINTIES = 50
TEMP_PREFIX = ".tmp-"
DEFAULT_CHUNK_DEALS = 2048
MANIFEST_SAVE_SECONDS = 2.0
POINT_STREAM, SAMPLING_STREAM = 0, 1
GROUP_SIZE = "group_size"
NON_OUTCOME_COLUMNS = ("deal", "strategy", "outcome", "end_reason")
OUTCOME_COLUMNS = tuple(name for name in COLUMNS if name not in NON_OUTCOME_COLUMNS)
# Column names of the experiments, deals, summary, best, wins and sensitivity tables that are
# not parameters: an uncertainty may not take one of these names (nor an outcome's name).
RESERVED_NAMES = (
    "point", "seed", "strategy", "deal", "metric", "over", "mean", "ci_low", "ci_high", "n",
    "best", "best_mean", "runner_up", "runner_up_mean", "difference", "n_paired", "clear",
    "points", "target", "outcome", "parameter", "value", "filled_points",
)  # fmt: skip
SweepKind = Literal["sweep", "sensitivity"]
# The modules whose code decides a deal's rows (see model_fingerprint).
MODEL_MODULES = ("scenario", "strategies", "network", "state", "dynamics", "outcomes", "engine")


class SweepError(ValueError):
    """A user-facing sweep problem (bad spec, refused directory, failed point): one line."""


class SweepWarning(UserWarning):
    """Something a run repaired on its own (e.g. a damaged chunk it recomputes)."""


# --------------------------------------------------------------------------------------------
# The spec
# --------------------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


GridValue = StrictBool | StrictInt | float | str


class Uncertainty(_Strict):
    """One swept buyer condition: explicit values, or a [low, high] range.

    ``field`` is a dotted scenario field (``population.conflict_level``,
    ``behaviour.voice_probability``, ``strategies.sense_making.resolve_contradictions``) or
    ``group_size``; it defaults to the table's name, where a bare field name such as
    ``conflict_level`` is looked up in the simulation, population and behaviour tables.
    On a grid, a range needs ``levels`` (evenly spaced values, ends included).
    """

    field: str | None = None
    values: list[GridValue] | None = Field(None, min_length=1)
    low: float | None = None
    high: float | None = None
    levels: int | None = Field(None, ge=2, le=1000)

    @model_validator(mode="after")
    def _values_or_range(self) -> Uncertainty:
        has_range = self.low is not None or self.high is not None
        if self.values is not None and (has_range or self.levels is not None):
            raise ValueError("give either values or low and high (with levels on a grid), not both")
        if self.values is None and (self.low is None or self.high is None):
            raise ValueError("needs values = [...] or both low and high")
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.values is not None and len(set(map(repr, self.values))) != len(self.values):
            raise ValueError("values must not repeat")
        return self


class Sampling(_Strict):
    """How points are chosen: a full grid, or ``points`` samples of a Latin hypercube or Sobol
    sequence (scrambled, seeded by the spec's seed)."""

    method: Literal["grid", "latin_hypercube", "sobol"] = "grid"
    points: int | None = Field(None, ge=1, le=MAX_POINTS)

    @model_validator(mode="after")
    def _points(self) -> Sampling:
        if self.method == "grid" and self.points is not None:
            raise ValueError("points is only for latin_hypercube and sobol; a grid has all combinations")
        if self.method != "grid" and self.points is None:
            raise ValueError(f"method {self.method!r} needs points = N")
        if self.method == "sobol" and self.points & (self.points - 1):
            raise ValueError(f"points = {self.points}: sobol needs a power of two (e.g. 32, 64, 128)")
        return self


class Sensitivity(_Strict):
    """Global sensitivity analysis (``buyingsim sensitivity``) with SALib.

    ``samples`` is the base sample N (Sobol: N x (parameters + 2) points, a power of two) or the
    number of trajectories (Morris: N x (parameters + 1) points). ``contrast = [a, b]`` also
    analyses the paired difference a - b of each outcome at each point.
    """

    method: Literal["sobol", "morris"] = "sobol"
    samples: int = Field(32, ge=2, le=65536)
    levels: int = Field(4, ge=2, le=20, description="Morris grid levels")
    outcomes: list[str] | None = None
    contrast: list[str] | None = Field(None, min_length=2, max_length=2)

    @model_validator(mode="after")
    def _power_of_two(self) -> Sensitivity:
        if self.method == "sobol" and self.samples & (self.samples - 1):
            raise ValueError(f"samples = {self.samples}: sobol needs a power of two (e.g. 32, 64)")
        return self


class SweepSpec(_Strict):
    """A validated sweep spec. ``deals_per_point`` deals run under every strategy at a point."""

    name: str = "sweep"
    description: str = ""
    scenario: str = "baseline"
    seed: int = Field(0, ge=0, le=MAX_SEED)
    deals_per_point: int = Field(ge=1, le=100_000_000)
    chunk_deals: int = Field(DEFAULT_CHUNK_DEALS, ge=BLOCK_SIZE, le=1 << 22)
    strategies: list[str] = Field(
        default_factory=lambda: ["seller_led", "digital_first", "sense_making"], min_length=1
    )
    outcomes: list[str] = Field(default_factory=lambda: list(HEADLINE), min_length=1)
    overrides: dict[str, Any] = Field(default_factory=dict)
    sampling: Sampling = Sampling()
    uncertainties: dict[str, Uncertainty] = Field(default_factory=dict, max_length=MAX_UNCERTAINTIES)
    sensitivity: Sensitivity | None = None
    source: str = Field("<memory>", exclude=True)

    @field_validator("chunk_deals")
    @classmethod
    def _whole_blocks(cls, value: int) -> int:
        if value % BLOCK_SIZE:
            raise ValueError(f"must be a multiple of {BLOCK_SIZE} (the engine's block of deals)")
        return value

    @field_validator("strategies")
    @classmethod
    def _distinct(cls, names: list[str]) -> list[str]:
        if len(set(names)) != len(names):
            raise ValueError("strategies must not repeat")
        return names

    @field_validator("outcomes")
    @classmethod
    def _known_outcomes(cls, names: list[str]) -> list[str]:
        _check_outcomes(names)
        return names

    @field_validator("sensitivity")
    @classmethod
    def _sensitivity_outcomes(cls, value: Sensitivity | None) -> Sensitivity | None:
        if value is not None and value.outcomes is not None:
            _check_outcomes(value.outcomes)
        return value

    @model_validator(mode="after")
    def _free_names(self) -> SweepSpec:
        """Uncertainty names become columns beside the tables' own columns and the outcomes."""
        outcomes = {*self.outcomes, *((self.sensitivity and self.sensitivity.outcomes) or ())}
        for name in self.uncertainties:
            if not name.strip():
                raise ValueError("an uncertainty needs a name (a table [uncertainties.NAME])")
            if name in RESERVED_NAMES or name in outcomes:
                raise ValueError(
                    f"uncertainty name {name!r} is taken by a results column; rename it (and set "
                    f"field = ...). Reserved: {', '.join(RESERVED_NAMES)} and the spec's outcomes"
                )
        return self


def _check_outcomes(names: list[str]) -> None:
    for name in names:
        if name not in OUTCOME_COLUMNS:
            raise ValueError(f"unknown outcome {name!r}; allowed: {', '.join(OUTCOME_COLUMNS)}")


def load_sweep_spec(path: str | Path, kind: SweepKind = "sweep") -> SweepSpec:
    """Read and validate a sweep spec file; mistakes raise a one-line :class:`SweepError`."""
    return load_sweep_plan(path, kind).spec


def load_sweep_plan(path: str | Path, kind: SweepKind = "sweep") -> SweepPlan:
    """Read, validate and plan a sweep spec file in one pass (a large design is planned once)."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise SweepError(f"{path}: no such sweep spec file")
    try:
        data = read_toml_file(path)
    except ScenarioError as error:
        raise SweepError(str(error)) from None
    data.setdefault("name", path.stem)
    return plan_sweep(_validated_spec(data, str(path)), kind)


def parse_sweep_spec(data: dict[str, Any], source: str = "<memory>", kind: SweepKind = "sweep") -> SweepSpec:
    """Validate spec data (as read from TOML) and check it against its base scenario, for a
    sweep or a sensitivity run."""
    spec = _validated_spec(data, source)
    plan_sweep(spec, kind)  # resolves the scenario, fields, strategies and points, or raises
    return spec


def _validated_spec(data: dict[str, Any], source: str) -> SweepSpec:
    try:
        return SweepSpec.model_validate({**data, "source": source})
    except ValidationError as error:
        raise SweepError(format_validation_error(source, error, SweepSpec)) from None


# --------------------------------------------------------------------------------------------
# Parameters and the design of points
# --------------------------------------------------------------------------------------------

ParameterKind = Literal["int", "float", "category"]
_SECTIONS: dict[str, type[BaseModel]] = {
    "simulation": Simulation,
    "population": Population,
    "behaviour": Behaviour,
}


@dataclass(frozen=True)
class Parameter:
    """A resolved uncertainty: its column name, scenario field, kind and domain."""

    name: str
    field: str
    kind: ParameterKind
    values: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    levels: int | None = None

    def grid(self) -> list[Any]:
        """The values a grid uses."""
        if self.values is not None:
            return list(self.values)
        points = np.linspace(self.low, self.high, self.levels)
        return [self._cast(v) for v in points]

    def from_unit(self, unit: np.ndarray) -> list[Any]:
        """Map samples in [0, 1) to values: ranges scale linearly (integers: each value in
        [low, high] equally likely), value lists pick an entry."""
        if self.values is not None:
            index = np.minimum((unit * len(self.values)).astype(int), len(self.values) - 1)
            return [self.values[i] for i in index]
        low, high = self.sampling_bounds()
        return [self._cast(v) for v in low + unit * (high - low)]

    def sampling_bounds(self) -> tuple[float, float]:
        """The continuous range samples are drawn from: an integer range is widened by half a
        step on each side so that rounding makes its end values as likely as the others."""
        if self.kind == "int":
            return self.low - 0.5, self.high + 0.5
        return self.low, self.high

    def from_range(self, raw: np.ndarray) -> list[Any]:
        """Values from raw samples already in [low, high] (integers rounded)."""
        return [self._cast(v) for v in raw]

    def _cast(self, value: float) -> Any:
        if self.kind == "int":
            return int(np.clip(np.floor(value + 0.5), np.ceil(self.low), np.floor(self.high)))
        return float(value)

    def describe(self) -> dict[str, Any]:
        data = {"name": self.name, "field": self.field, "kind": self.kind}
        if self.values is not None:
            data["values"] = list(self.values)
        else:
            data.update(low=self.low, high=self.high, levels=self.levels)
        return data


def resolve_field(name: str, base: Scenario) -> tuple[str, ParameterKind]:
    """The dotted scenario field a swept name refers to, and whether it is an integer, a real
    number or a category. Raises ValueError with the allowed forms."""
    if name in (GROUP_SIZE, "population.group_size"):
        return GROUP_SIZE, "int"
    if "." not in name:
        owners = [section for section, model in _SECTIONS.items() if name in model.model_fields]
        if len(owners) != 1:
            raise ValueError(
                f"no scenario field {name!r}; use group_size or a dotted field such as "
                "population.conflict_level, behaviour.voice_probability or "
                "strategies.sense_making.resolve_contradictions"
            )
        name = f"{owners[0]}.{name}"
    parts = name.split(".")
    if parts[0] == "strategies":
        known = base.all_strategies()
        if len(parts) != 3 or parts[1] not in known or parts[2] not in Strategy.model_fields:
            raise ValueError(
                f"{name!r}: use strategies.NAME.FIELD with NAME one of {', '.join(sorted(known))} "
                f"and FIELD one of {', '.join(Strategy.model_fields)}"
            )
        return name, _kind(Strategy.model_fields[parts[2]].annotation, name)
    model = _SECTIONS.get(parts[0])
    if model is None or len(parts) != 2 or parts[1] not in model.model_fields:
        allowed = (
            ", ".join(model.model_fields)
            if model is not None and len(parts) == 2
            else "simulation, population, behaviour, strategies"
        )
        raise ValueError(f"no scenario field {name!r}; allowed: {allowed}")
    return name, _kind(model.model_fields[parts[1]].annotation, name)


def _kind(annotation: Any, name: str) -> ParameterKind:
    if annotation is bool:
        return "category"
    if annotation is int:
        return "int"
    if annotation is float or annotation is Range:
        return "float"
    if get_origin(annotation) is Literal or annotation is str:
        return "category"
    raise ValueError(f"{name!r} is a list or table; it cannot be swept")


def parameters_of(spec: SweepSpec, base: Scenario) -> list[Parameter]:
    """Resolve the spec's uncertainties against the base scenario, in spec order."""
    parameters = []
    for name, uncertainty in spec.uncertainties.items():
        where = f"{spec.source}: field uncertainties.{name}"
        try:
            field_name, kind = resolve_field(uncertainty.field or name, base)
        except ValueError as error:
            raise SweepError(f"{where}: {error}") from None
        if kind == "category" and uncertainty.values is None:
            raise SweepError(f"{where}: {field_name} takes names or flags; give values = [...]")
        values = tuple(uncertainty.values) if uncertainty.values is not None else None
        if values is not None and kind in ("int", "float"):
            bad = [v for v in values if isinstance(v, bool | str) or kind == "int" and not isinstance(v, int)]
            if bad:
                raise SweepError(f"{where}.values: {bad[0]!r} is not a valid {kind} for {field_name}")
        parameter = Parameter(
            name, field_name, kind, values, uncertainty.low, uncertainty.high, uncertainty.levels
        )
        parameters.append(parameter)
        probes = list(values) if values is not None else parameter.from_unit(np.array([0.0, 1.0]))
        for probe in probes:
            try:
                apply_point(base, [parameter], {name: probe})
            except ScenarioError as error:
                detail = str(error).split(": ", 1)[-1]
                raise SweepError(f"{where}: value {probe!r} is not allowed: {detail}") from None
    return parameters


def apply_point(base: Scenario, parameters: list[Parameter], values: dict[str, Any]) -> Scenario:
    """The base scenario with one point's values set (validated)."""
    overrides: dict[str, Any] = {}
    strategies = base.all_strategies()
    for parameter in parameters:
        value = values[parameter.name]
        if parameter.field == GROUP_SIZE:
            overrides["population.group_sizes"] = [int(value)]
            overrides["population.group_size_weights"] = [1.0]
            continue
        parts = parameter.field.split(".")
        if parts[0] == "strategies":
            table = f"strategies.{parts[1]}"
            if table not in overrides:
                overrides = {table: strategies[parts[1]].model_dump(), **overrides}
        overrides[parameter.field] = value
    return base.with_overrides(overrides) if overrides else base


def point_seed(spec_seed: int, point: int) -> int:
    """The seed of one point: derived from the spec's seed and the point's index only, so it
    does not depend on execution order. Every strategy at the point uses it (common random
    numbers)."""
    state = np.random.SeedSequence([spec_seed, POINT_STREAM, point]).generate_state(2, np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


def design_points(spec: SweepSpec, parameters: list[Parameter]) -> list[dict[str, Any]]:
    """Parameter values at each point of a sweep, in point order."""
    if not parameters:
        return [{}]
    method = spec.sampling.method
    if method == "grid":
        combos = itertools.product(*(parameter.grid() for parameter in parameters))
        return [dict(zip([p.name for p in parameters], combo, strict=True)) for combo in combos]
    from scipy.stats import qmc

    rng = np.random.default_rng(np.random.SeedSequence([spec.seed, SAMPLING_STREAM]))
    n, d = spec.sampling.points, len(parameters)
    if method == "latin_hypercube":
        unit = qmc.LatinHypercube(d, rng=rng).random(n)
    else:
        unit = qmc.Sobol(d, scramble=True, rng=rng).random_base2(int(np.log2(n)))
    columns = [parameter.from_unit(unit[:, j]) for j, parameter in enumerate(parameters)]
    return [{p.name: columns[j][i] for j, p in enumerate(parameters)} for i in range(n)]


@dataclass(frozen=True)
class ChunkSlot:
    """Where one chunk sits in a sweep: its name (key), point, strategy and deal range. The
    layout follows from the number of points, the strategies and the deal counts alone, so
    the runner, a resume, ``--repair`` and :func:`load_sweep` all derive it the same way."""

    key: str
    point: int
    strategy: str
    first_deal: int
    n_deals: int

    @property
    def file_name(self) -> str:
        return f"{self.key}.parquet"


def chunk_layout(
    n_points: int, strategies: list[str], deals_per_point: int, chunk_deals: int
) -> list[ChunkSlot]:
    """All chunks, point by point (so points finish early), strategies interleaved."""
    slots = []
    for point in range(n_points):
        for chunk, first in enumerate(range(0, deals_per_point, chunk_deals)):
            count = min(chunk_deals, deals_per_point - first)
            for index, strategy in enumerate(strategies):
                key = f"p{point:05d}-s{index}-{_safe(strategy)}-c{chunk:04d}"
                slots.append(ChunkSlot(key, point, strategy, first, count))
    return slots


@dataclass(frozen=True)
class ChunkTask:
    """One unit of work: a range of whole blocks of deals, at one point, under one strategy.
    ``spec_hash`` is written into the chunk's Parquet metadata, tying the file to its sweep."""

    key: str
    point: int
    strategy: str
    first_deal: int
    n_deals: int
    seed: int
    scenario: Scenario
    label: str
    spec_hash: str = ""

    @property
    def file_name(self) -> str:
        return f"{self.key}.parquet"

    @property
    def slot(self) -> ChunkSlot:
        return ChunkSlot(self.key, self.point, self.strategy, self.first_deal, self.n_deals)


@dataclass(frozen=True)
class ChunkResult:
    """A finished chunk: its Parquet bytes (encoded on the worker), row count, and the
    fingerprint of the model code that computed it."""

    key: str
    payload: bytes
    rows: int
    seconds: float
    model: str


@dataclass
class SweepPlan:
    """Everything a sweep will compute, resolved from a spec: points, seeds and chunks."""

    spec: SweepSpec
    kind: SweepKind
    base: Scenario
    parameters: list[Parameter]
    points: list[dict[str, Any]]
    seeds: list[int]
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. the sensitivity design
    _tasks: list[ChunkTask] | None = None

    @property
    def deals_total(self) -> int:
        return len(self.points) * len(self.spec.strategies) * self.spec.deals_per_point

    def point_label(self, point: int) -> str:
        values = ", ".join(f"{k}={_short(v)}" for k, v in self.points[point].items())
        return f"point {point}" + (f" ({values})" if values else "")

    def slots(self) -> list[ChunkSlot]:
        """The chunk layout (see :func:`chunk_layout`)."""
        spec = self.spec
        return chunk_layout(len(self.points), list(spec.strategies), spec.deals_per_point, spec.chunk_deals)

    def tasks(self) -> list[ChunkTask]:
        """All chunks as tasks, in layout order."""
        if self._tasks is None:
            digest = self.spec_hash()
            scenarios: dict[int, Scenario] = {}
            tasks = []
            for slot in self.slots():
                if slot.point not in scenarios:
                    scenarios[slot.point] = apply_point(self.base, self.parameters, self.points[slot.point])
                deals = f"deals {slot.first_deal}-{slot.first_deal + slot.n_deals - 1}"
                label = f"{self.point_label(slot.point)}, strategy {slot.strategy}, {deals}"
                tasks.append(
                    ChunkTask(
                        slot.key,
                        slot.point,
                        slot.strategy,
                        slot.first_deal,
                        slot.n_deals,
                        self.seeds[slot.point],
                        scenarios[slot.point],
                        label,
                        digest,
                    )
                )
            self._tasks = tasks
        return self._tasks

    def spec_hash(self) -> str:
        """Hash of everything that defines the results: the spec (not its description), the
        resolved base scenario, the kind of run and the design (points and seeds)."""
        identity = {
            "kind": self.kind,
            "spec": self.spec.model_dump(mode="json", exclude={"description"}),
            "base_scenario": self.base.model_dump(mode="json"),
            "points": self.points,
            "seeds": self.seeds,
        }
        text = json.dumps(identity, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "-", name)[:40]


def resolve_base(spec: SweepSpec) -> Scenario:
    """Load the spec's base scenario (a path relative to the spec file, or a bundled name) and
    apply its fixed overrides."""
    candidate = Path(spec.source).parent / spec.scenario if spec.source != "<memory>" else None
    where = candidate if candidate is not None and candidate.is_file() else spec.scenario
    try:
        base = load_scenario(where)
        if spec.overrides:
            base = base.with_overrides(_with_strategy_tables(base, spec.overrides))
    except ScenarioError as error:
        raise SweepError(f"{spec.source}: field scenario/overrides: {error}") from None
    return base


def _with_strategy_tables(base: Scenario, overrides: dict[str, Any]) -> dict[str, Any]:
    """Overrides of one strategy field keep that strategy's other fields."""
    filled: dict[str, Any] = {}
    strategies = base.all_strategies()
    for key in overrides:
        parts = key.split(".")
        if parts[0] == "strategies" and len(parts) == 3 and parts[1] in strategies:
            filled.setdefault(f"strategies.{parts[1]}", strategies[parts[1]].model_dump())
    return {**filled, **overrides}


def design_size(spec: SweepSpec, parameters: list[Parameter], kind: SweepKind = "sweep") -> tuple[int, str]:
    """How many points the spec's design has, and how that number comes about, computed from
    counts alone (the design is not built)."""
    if kind == "sensitivity":
        settings, d = spec.sensitivity, len(parameters)
        if settings is None:
            return 0, "no [sensitivity] table"  # refused with its own message when planned
        extra = d + 2 if settings.method == "sobol" else d + 1
        return settings.samples * extra, f"{settings.method}: samples {settings.samples} x {extra}"
    if spec.sampling.method != "grid":
        return spec.sampling.points or 0, f"points = {spec.sampling.points}"
    counts = [len(p.values) if p.values is not None else p.levels or 1 for p in parameters]
    return int(np.prod(counts, dtype=object)) if counts else 1, " x ".join(map(str, counts)) or "1"


def check_design_size(spec: SweepSpec, parameters: list[Parameter], kind: SweepKind = "sweep") -> None:
    """Refuse a design above :data:`MAX_POINTS` points or a plan above :data:`MAX_CHUNKS`
    chunks before anything is built."""
    points, how = design_size(spec, parameters, kind)
    if points > MAX_POINTS:
        raise SweepError(
            f"{spec.source}: field uncertainties: the design has {points:,} points ({how}); at "
            f"most {MAX_POINTS:,}: use fewer values or levels, or a sampled design with points = N"
        )
    chunks = points * len(spec.strategies) * -(-spec.deals_per_point // spec.chunk_deals)
    if chunks > MAX_CHUNKS:
        raise SweepError(
            f"{spec.source}: field chunk_deals = {spec.chunk_deals}: the sweep would have "
            f"{chunks:,} chunk files; at most {MAX_CHUNKS:,}: raise chunk_deals or lower "
            "deals_per_point or the number of points"
        )


def plan_sweep(spec: SweepSpec, kind: SweepKind = "sweep") -> SweepPlan:
    """Resolve a spec into points, seeds and chunks, checking everything against the base
    scenario so mistakes surface before any deal runs."""
    base = resolve_base(spec)
    known = base.all_strategies()
    for name in spec.strategies:
        if name not in known:
            raise SweepError(
                f"{spec.source}: field strategies = {spec.strategies!r}: unknown "
                f"strategy {name!r}; allowed: {', '.join(sorted(known))}"
            )
    parameters = parameters_of(spec, base)
    check_design_size(spec, parameters, kind)
    extra: dict[str, Any] = {}
    if kind == "sensitivity":
        from sim.sensitivity import sensitivity_design

        points, extra = sensitivity_design(spec, parameters)
    else:
        if spec.sampling.method == "grid":
            for parameter in parameters:
                if parameter.values is None and parameter.levels is None:
                    raise SweepError(
                        f"{spec.source}: field uncertainties.{parameter.name}: a grid needs "
                        "values = [...] or low, high and levels (or set [sampling] method)"
                    )
        points = design_points(spec, parameters)
    for index, values in enumerate(points):
        try:
            apply_point(base, parameters, values)
        except ScenarioError as error:
            shown = ", ".join(f"{k}={_short(v)}" for k, v in values.items())
            detail = str(error).split(": ", 1)[-1]
            raise SweepError(
                f"{spec.source}: point {index} ({shown}) is not a valid scenario: {detail}"
            ) from None
    seeds = [point_seed(spec.seed, index) for index in range(len(points))]
    return SweepPlan(spec, kind, base, parameters, points, seeds, extra)


# --------------------------------------------------------------------------------------------
# Computing one chunk (runs on a worker)
# --------------------------------------------------------------------------------------------


def compute_chunk(task: ChunkTask) -> ChunkResult:
    """Simulate one chunk and encode its rows as Parquet (on the worker, so encoding runs in
    parallel and only compact bytes travel back)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    started = time.perf_counter()
    frames = list(
        iter_chunks(
            task.scenario,
            task.n_deals,
            task.seed,
            task.strategy,
            chunk_size=task.n_deals,
            first_deal=task.first_deal,
        )
    )
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    frame.insert(0, "point", np.int64(task.point))
    table = pa.Table.from_pandas(frame, preserve_index=False)
    stamp = {META_CHUNK: task.key, META_SPEC: task.spec_hash, META_MODEL: model_fingerprint()}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **stamp})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", write_page_checksum=True)
    return ChunkResult(
        task.key, sink.getvalue().to_pybytes(), len(frame), time.perf_counter() - started, model_fingerprint()
    )


@functools.cache
def model_fingerprint() -> str:
    """A hash of the model's source files. The package version alone does not change with
    every edit of the dynamics; this does, so a resume, or a cluster worker, running different
    model code is caught instead of silently mixing results."""
    import sim.engine

    folder = Path(sim.engine.__file__).parent
    digest = hashlib.sha256()
    for name in MODEL_MODULES:
        path = folder / f"{name}.py"
        if path.exists():
            digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# The results store
# --------------------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _package_version() -> str:
    import sim

    return getattr(sim, "__version__", "unknown")


def _write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same directory, then rename over ``path``: readers and
    a later resume see either the old file or the whole new one, never a partial file."""
    temp = path.with_name(f"{TEMP_PREFIX}{path.name}.{os.getpid()}")
    with open(temp, "wb") as handle:
        handle.write(data)
    os.replace(temp, path)


CHUNK_COLUMNS = ("point", *COLUMNS)
_ID_COLUMNS = ["point", "strategy", "deal"]


def sha256_of(data: bytes) -> str:
    """The content hash recorded for every chunk file."""
    return hashlib.sha256(data).hexdigest()


def _stamp(parquet: Any) -> dict[str, str]:
    """The buyingsim keys of a chunk file's Parquet metadata."""
    metadata = parquet.schema_arrow.metadata or {}
    return {
        key.decode("utf-8", "replace"): value.decode("utf-8", "replace")
        for key, value in metadata.items()
        if key.startswith(b"buyingsim.")
    }


def chunk_stamp(data: bytes) -> dict[str, str] | None:
    """The chunk, spec hash and model fingerprint a chunk file says it holds (None when the
    bytes are not readable Parquet)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return _stamp(pq.ParquetFile(pa.BufferReader(data)))
    except (pa.ArrowException, OSError, ValueError):
        return None


def rows_problem(table: Any, slot: ChunkSlot) -> str | None:
    """Why a table's rows are not exactly the chunk's (None when they are): the slot's point
    and strategy on every row, and deals first..first+n-1 in order."""
    if table.num_rows != slot.n_deals:
        return f"holds {table.num_rows} rows, expected {slot.n_deals}"
    try:
        point = table.column("point").to_numpy()
        strategy = table.column("strategy").to_pylist()
        deal = table.column("deal").to_numpy()
    except (KeyError, ValueError) as error:
        return f"lacks the point, strategy or deal column ({error})"
    if not (point == slot.point).all():
        return f"holds rows of another point (expected point {slot.point})"
    if any(name != slot.strategy for name in strategy):
        return f"holds rows of another strategy (expected {slot.strategy!r})"
    if not np.array_equal(deal, np.arange(slot.first_deal, slot.first_deal + slot.n_deals)):
        return f"holds other deals (expected deals {slot.first_deal}-{slot.first_deal + slot.n_deals - 1})"
    return None


def chunk_problem(
    data: bytes, slot: ChunkSlot, spec_hash: str | None = None, model: str | None = None, full: bool = False
) -> str | None:
    """Why bytes are not a valid file of the chunk ``slot`` (None when they are): readable
    Parquet with the engine's columns, metadata naming this chunk (and, when given, this spec
    hash and model fingerprint), and exactly the chunk's rows. ``full`` reads every value with
    Parquet's page checksums verified (for ``--repair``, where no content hash is recorded)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(pa.BufferReader(data), page_checksum_verification=full)
        stamp = _stamp(parquet)
        names = set(parquet.schema_arrow.names)
        table = parquet.read() if full else parquet.read(columns=_ID_COLUMNS)
    except (pa.ArrowException, OSError, ValueError) as error:
        return f"is not a readable Parquet chunk ({str(error).splitlines()[0][:200]})"
    if names != set(CHUNK_COLUMNS):
        return "does not have the engine's columns"
    if stamp.get(META_CHUNK) != slot.key:
        return f"is labelled as chunk {stamp.get(META_CHUNK)!r}, not {slot.key}"
    if spec_hash is not None and stamp.get(META_SPEC) != spec_hash:
        return "was computed for another sweep spec"
    if model is not None and stamp.get(META_MODEL) != model:
        return "was computed by different model code"
    return rows_problem(table, slot)


class _ManifestChunk(BaseModel):
    point: int
    strategy: str
    first_deal: int
    deals: int
    status: Literal["pending", "done", "failed"]
    sha256: str | None = None


class _ManifestPoint(BaseModel):
    point: int
    seed: int
    values: dict[str, Any]


class _ManifestParameter(BaseModel):
    name: str
    field: str
    kind: ParameterKind


class _Problem(BaseModel):
    num_vars: int
    names: list[str]
    bounds: list[tuple[float, float]]


class _Design(BaseModel):
    """A sensitivity run's design (empty for a sweep)."""

    method: Literal["sobol", "morris"]
    problem: _Problem
    levels: int
    matrix: list[list[float]]


class _Manifest(BaseModel):
    """The fields of ``manifest.json`` this code relies on (others are for people)."""

    format: Literal[2]
    kind: Literal["sweep", "sensitivity"]
    spec_hash: str
    package_version: str
    model_fingerprint: str
    spec: SweepSpec
    spec_source: str | None = None
    base_scenario: dict[str, Any]
    parameters: list[_ManifestParameter]
    strategies: list[str]
    points: list[_ManifestPoint]
    design: dict[str, Any]
    chunks: dict[str, _ManifestChunk]

    @model_validator(mode="after")
    def _consistent(self) -> _Manifest:
        """Parameters, point values and the design agree with the spec (the reports index
        one by the other)."""
        names = list(self.spec.uncertainties)
        if [p.name for p in self.parameters] != names:
            raise ValueError("parameters differ from the spec's uncertainties")
        if any(list(point.values) != names for point in self.points):
            raise ValueError("point values differ from the spec's uncertainties")
        if self.kind == "sensitivity":
            try:
                design = _Design.model_validate(self.design)
            except ValidationError:
                raise ValueError("the sensitivity design is incomplete") from None
            if design.problem.names != names or len(design.matrix) != len(self.points):
                raise ValueError("the sensitivity design does not match the spec and points")
        return self


def _rerun_hint(manifest: dict[str, Any] | None, directory: Path) -> str:
    """The command that resumes the sweep stored in ``directory``."""
    kind = (manifest or {}).get("kind", "sweep")
    source = (manifest or {}).get("spec_source")
    spec = source if isinstance(source, str) and source != "<memory>" else "SPEC"
    return f"buyingsim {kind} {spec} --out {directory}"


def _repair_hint(directory: Path, kind: str = "sweep") -> str:
    return (
        f"rebuild it from the spec and the verified chunks with `buyingsim {kind} SPEC --out "
        f"{directory} --repair` (SPEC: the spec that produced it), or use a new --out directory"
    )


def read_manifest(directory: str | Path, kind: SweepKind | None = None) -> dict[str, Any]:
    """Read and check a store's manifest: its fields and types, and a chunk table that is
    exactly the layout its spec and points give. A missing or damaged manifest raises a
    one-line :class:`SweepError` saying how to rebuild it (with ``buyingsim KIND``: ``kind``,
    else the kind the manifest records, else ``sweep``)."""
    directory = Path(directory)
    path = directory / MANIFEST_NAME
    data: Any = None
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        if _chunk_files(directory / CHUNK_DIR):
            raise SweepError(f"{path}: missing; {_repair_hint(directory, kind or 'sweep')}") from None
        raise SweepError(f"{directory}: not a sweep results directory (no {MANIFEST_NAME})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        detail = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise SweepError(
            f"{path}: damaged manifest ({detail}); {_repair_hint(directory, kind or 'sweep')}"
        ) from None
    stored = data if isinstance(data, dict) else {}
    hint = _repair_hint(
        directory, kind or (stored.get("kind") if stored.get("kind") == "sensitivity" else "sweep")
    )
    stored_format = stored.get("format")
    if isinstance(stored_format, int) and stored_format != STORE_FORMAT:
        raise SweepError(
            f"{directory}: written in store format {stored_format}, this version reads format "
            f"{STORE_FORMAT}; use a new --out directory"
        )
    try:
        checked = _Manifest.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(map(str, first["loc"]))
        message = str(first["msg"]).removeprefix("Value error, ").splitlines()[0][:300]
        detail = f"field {where}: {message}" if where else message
        raise SweepError(f"{path}: damaged manifest ({detail}); {hint}") from None
    spec = checked.spec
    layout = chunk_layout(
        len(checked.points), list(checked.strategies), spec.deals_per_point, spec.chunk_deals
    )
    chunks = checked.chunks
    matches = (
        [p.point for p in checked.points] == list(range(len(checked.points)))
        and checked.strategies == list(spec.strategies)
        and len(layout) == len(chunks)
        and all(
            (entry := chunks.get(slot.key)) is not None
            and (entry.point, entry.strategy, entry.first_deal, entry.deals)
            == (slot.point, slot.strategy, slot.first_deal, slot.n_deals)
            for slot in layout
        )
    )
    if not matches:
        raise SweepError(
            f"{path}: damaged manifest (its chunk table does not match its spec and points); {hint}"
        )
    return data


def _chunk_files(chunk_dir: Path) -> list[Path]:
    return sorted(chunk_dir.glob("p*.parquet")) if chunk_dir.is_dir() else []


def read_journal(directory: Path) -> dict[str, dict[str, Any]]:
    """Chunks recorded in the journal since the manifest was last saved, by key. Each line is
    written before its chunk file is renamed into place; a torn last line is ignored."""
    path = directory / JOURNAL_NAME
    entries: dict[str, dict[str, Any]] = {}
    try:
        lines = path.read_bytes().decode("utf-8", "replace").splitlines()
    except FileNotFoundError:
        return entries
    for line in lines:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if (
            isinstance(entry, dict)
            and isinstance(entry.get("key"), str)
            and isinstance(entry.get("sha256"), str)
        ):
            entries[entry["key"]] = entry
    return entries


def _fold_journal(manifest: dict[str, Any], journal: dict[str, dict[str, Any]]) -> None:
    """Mark the journal's chunks done with their recorded hashes (keys the manifest lacks are
    ignored)."""
    for key, entry in journal.items():
        chunk = manifest["chunks"].get(key)
        if chunk is not None:
            chunk.update(
                status="done", sha256=entry["sha256"], rows=entry.get("rows"), seconds=entry.get("seconds")
            )
            chunk.pop("error", None)


class SweepStore:
    """A results directory: ``manifest.json``, ``chunks/*.parquet`` (one file per chunk) and,
    while a run goes on, ``chunks.journal``.

    Every finished chunk's SHA-256 is recorded: first as a journal line written before the
    file is renamed into place, then in the manifest (saved every couple of seconds and at
    the end; the journal is folded into it whenever the store is opened). A chunk counts as
    done only when its file's content hash matches the record; anything else is recomputed.
    """

    def __init__(self, directory: str | Path, warn: Callable[[str], None] | None = None):
        self.directory = Path(directory)
        self.chunk_dir = self.directory / CHUNK_DIR
        self.manifest_path = self.directory / MANIFEST_NAME
        self.journal_path = self.directory / JOURNAL_NAME
        self.manifest: dict[str, Any] = {}
        self.warn = warn or _warn
        self._lock_handle: Any = None
        self._journal: Any = None
        self._last_save = 0.0
        self._dirty = False

    # opening -----------------------------------------------------------------------------
    @classmethod
    def open_for_run(
        cls,
        directory: str | Path,
        plan: SweepPlan,
        *,
        repair: bool = False,
        warn: Callable[[str], None] | None = None,
    ) -> SweepStore:
        """Create the store or check that it holds this very sweep; lock it for this run.
        ``repair``: rebuild a missing or damaged manifest from the plan and the chunk files
        that verify against it."""
        store = cls(directory, warn)
        store._prepare_directory()
        store._lock()
        try:
            digest = plan.spec_hash()
            stored, damage = store._stored_manifest(plan.kind)
            if stored is not None:
                store.manifest = stored
                store._check_same(plan, digest)
                _fold_journal(store.manifest, read_journal(store.directory))
                store._remove_temporaries()
                store._reconcile()
            elif damage == "absent":
                store.manifest = store._new_manifest(plan, digest)
                store._remove_temporaries()
            elif repair:
                store.manifest = store._new_manifest(plan, digest)
                store._remove_temporaries()
                store._repair(plan, digest)
            else:
                raise SweepError(damage)
            store.save(force=True)
            store.journal_path.unlink(missing_ok=True)  # folded into the saved manifest
        except BaseException:
            store.close(save=False)
            raise
        return store

    def _stored_manifest(self, kind: SweepKind) -> tuple[dict[str, Any] | None, str]:
        """The stored manifest when it reads and checks; else ``"absent"`` for a new store,
        or the refusal saying how to repair."""
        if not self.manifest_path.exists():
            if not _chunk_files(self.chunk_dir):
                return None, "absent"
            hint = _repair_hint(self.directory, kind)
            return None, f"{self.manifest_path}: missing while chunk files exist; {hint}"
        try:
            return read_manifest(self.directory, kind), ""
        except SweepError as error:
            return None, str(error)

    def _prepare_directory(self) -> None:
        """Create the directory (refusing a foreign one before touching it)."""
        if self.directory.exists() and not self.directory.is_dir():
            raise SweepError(f"{self.directory}: exists and is not a directory")
        if self.directory.is_dir():
            names = {p.name for p in self.directory.iterdir()}
            if names and not names & {LOCK_NAME, MANIFEST_NAME, CHUNK_DIR}:
                raise self._foreign()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SweepError(f"{self.directory}: cannot create the results directory ({error})") from None

    def _foreign(self) -> SweepError:
        return SweepError(
            f"{self.directory}: not empty and not a sweep results directory "
            f"(no {MANIFEST_NAME}); choose a new or empty --out directory"
        )

    def _lock(self) -> None:
        """Take the directory's lock, then (holding it) check and create its contents, so a
        second run started at the same instant is told the directory is in use."""
        try:
            handle = open(self.directory / LOCK_NAME, "a+")  # noqa: SIM115 - held until close()
        except OSError as error:
            raise SweepError(f"{self.directory}: cannot create the lock file ({error})") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            handle.close()
            raise SweepError(
                f"{self.directory}: another run (pid {holder}) is writing to this "
                "directory; wait for it or choose another --out"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_handle = handle
        try:
            if not self.manifest_path.exists():
                ours = {LOCK_NAME, JOURNAL_NAME, CHUNK_DIR}
                if any(
                    p.name not in ours and not p.name.startswith(TEMP_PREFIX)
                    for p in self.directory.iterdir()
                ):
                    raise self._foreign()
            self.chunk_dir.mkdir(exist_ok=True)
        except OSError as error:
            self.close(save=False)
            raise SweepError(f"{self.directory}: cannot create the results directory ({error})") from None
        except SweepError:
            self.close(save=False)
            raise

    def close(self, save: bool = True) -> None:
        """Save the manifest (then drop the journal it now covers) and release the lock."""
        if self._journal is not None:
            with contextlib.suppress(OSError):
                self._journal.close()
            self._journal = None
        if self._lock_handle is None:
            return
        if save and self.manifest:
            with contextlib.suppress(OSError):
                self.save(force=True)
                self.journal_path.unlink(missing_ok=True)
        fcntl.flock(self._lock_handle, fcntl.LOCK_UN)
        self._lock_handle.close()
        self._lock_handle = None

    def __enter__(self) -> SweepStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _new_manifest(self, plan: SweepPlan, digest: str) -> dict[str, Any]:
        spec = plan.spec
        source = Path(spec.source)
        chunks = {
            slot.key: {
                "point": slot.point,
                "strategy": slot.strategy,
                "first_deal": slot.first_deal,
                "deals": slot.n_deals,
                "file": f"{CHUNK_DIR}/{slot.file_name}",
                "status": "pending",
            }
            for slot in plan.slots()
        }
        spec_text = None
        if spec.source != "<memory>" and source.is_file():
            with contextlib.suppress(OSError):
                spec_text = source.read_text(encoding="utf-8", errors="replace")
        return {
            "format": STORE_FORMAT,
            "kind": plan.kind,
            "spec_hash": digest,
            "package_version": _package_version(),
            "model_fingerprint": model_fingerprint(),
            "created": _now(),
            "updated": _now(),
            "spec_source": spec.source,
            "spec_text": spec_text,
            "spec": spec.model_dump(mode="json"),
            "base_scenario": plan.base.model_dump(mode="json"),
            "parameters": [parameter.describe() for parameter in plan.parameters],
            "strategies": list(spec.strategies),
            "points": [
                {"point": index, "seed": seed, "values": values}
                for index, (values, seed) in enumerate(zip(plan.points, plan.seeds, strict=True))
            ],
            "design": plan.extra,
            "chunks": chunks,
        }

    def _check_same(self, plan: SweepPlan, digest: str) -> None:
        stored = self.manifest
        where = self.directory
        if (
            stored.get("spec_hash") == digest
            and stored.get("package_version") == _package_version()
            and stored.get("model_fingerprint") == model_fingerprint()
        ):
            return
        hint = "use a new --out directory, or delete it to start over"
        if stored.get("kind") != plan.kind:
            raise SweepError(f"{where}: holds a {stored.get('kind')} run, not a {plan.kind}; {hint}")
        if stored.get("package_version") != _package_version():
            raise SweepError(
                f"{where}: written by buying-group-sim {stored.get('package_version')}"
                f", this is {_package_version()}; results of two model versions must "
                f"not mix; {hint}"
            )
        new_spec = plan.spec.model_dump(mode="json")
        old_spec = stored.get("spec", {})
        changed = sorted(
            k
            for k in set(new_spec) | set(old_spec)
            if k != "description" and new_spec.get(k) != old_spec.get(k)
        )
        if changed:
            raise SweepError(
                f"{where}: holds results of a different spec "
                f"({stored.get('spec_source')}; fields that differ: "
                f"{', '.join(changed)}); {hint}"
            )
        if stored.get("base_scenario") != plan.base.model_dump(mode="json"):
            raise SweepError(
                f"{where}: the base scenario {plan.spec.scenario!r} changed since these "
                f"results were written (model defaults or its file); {hint}"
            )
        if stored.get("spec_hash") == digest:
            raise SweepError(
                f"{where}: the model code changed since these results were written "
                f"(fingerprint {stored.get('model_fingerprint')}, now "
                f"{model_fingerprint()}); results of two model versions must not "
                f"mix; {hint}"
            )
        raise SweepError(
            f"{where}: the spec's points or seeds differ from the stored ones "
            f"(a different sampling library version?); {hint}"
        )

    def _remove_temporaries(self) -> None:
        for temp in self.chunk_dir.glob(f"{TEMP_PREFIX}*"):
            temp.unlink(missing_ok=True)
        for temp in self.directory.glob(f"{TEMP_PREFIX}*"):
            temp.unlink(missing_ok=True)

    def _reconcile(self) -> None:
        """Chunk status from the files: done only when the file's SHA-256 matches the record.
        A damaged, swapped or unrecorded file is deleted (with a warning) and recomputed."""
        for key, chunk in self.manifest["chunks"].items():
            path = self.chunk_dir / f"{key}.parquet"
            done = False
            if path.exists():
                recorded = chunk.get("sha256") if chunk["status"] == "done" else None
                done = recorded is not None and sha256_of(path.read_bytes()) == recorded
                if not done:
                    why = (
                        "its content differs from the SHA-256 in the manifest"
                        if recorded
                        else "not recorded as done"
                    )
                    self.warn(f"{path}: {why}; recomputing it")
                    path.unlink()
            if done:
                chunk.pop("error", None)
            elif chunk["status"] == "done":
                chunk["status"] = "pending"
                chunk.pop("sha256", None)

    def _repair(self, plan: SweepPlan, digest: str) -> None:
        """Adopt every chunk file that verifies against the plan (its label, spec hash, model
        fingerprint, every page checksum and exactly its rows); delete the others. A file
        computed for another spec or model refuses the repair before anything is deleted."""
        found = [(slot, self.chunk_dir / slot.file_name) for slot in plan.slots()]
        found = [(slot, path, path.read_bytes()) for slot, path in found if path.exists()]
        fingerprint = model_fingerprint()
        for _slot, path, data in found:
            stamp = chunk_stamp(data)
            if stamp is not None and (stamp.get(META_SPEC), stamp.get(META_MODEL)) not in (
                (digest, fingerprint),
                (None, None),
            ):
                raise SweepError(
                    f"{path}: computed for another spec or other model code; --repair needs the "
                    f"spec that produced {self.directory} and the same model version (nothing "
                    "was changed)"
                )
        adopted = 0
        for slot, path, data in found:
            problem = chunk_problem(data, slot, digest, fingerprint, full=True)
            if problem is None:
                self.manifest["chunks"][slot.key].update(
                    status="done", sha256=sha256_of(data), rows=slot.n_deals
                )
                adopted += 1
            else:
                self.warn(f"{path}: {problem}; recomputing it")
                path.unlink()
        self.warn(
            f"{self.manifest_path}: rebuilt from the spec; {adopted} of {len(found)} chunk "
            "files verified and kept"
        )

    # writing -----------------------------------------------------------------------------
    def done_keys(self) -> set[str]:
        return {key for key, chunk in self.manifest["chunks"].items() if chunk["status"] == "done"}

    def check(self, task: ChunkTask, result: ChunkResult) -> str | None:
        """Why a worker's result for ``task`` may not be stored (None when it may): it must come
        from the same model code and hold exactly the task's chunk. The chunk's name comes
        from the task the runner sent, never from the reply."""
        fingerprint = self.manifest["model_fingerprint"]
        if result.model != fingerprint:
            return (
                f"the worker runs different model code (fingerprint {result.model}, the "
                f"runner's is {fingerprint}); install the same version everywhere"
            )
        if not isinstance(result.payload, bytes):
            return "the worker's result holds no Parquet bytes"
        problem = chunk_problem(result.payload, task.slot, task.spec_hash or None, fingerprint)
        return None if problem is None else f"the worker's result {problem}"

    def write_chunk(self, task: ChunkTask, result: ChunkResult) -> None:
        """Record the chunk's hash in the journal, then rename its file into place."""
        digest = sha256_of(result.payload)
        seconds = round(float(result.seconds), 3)
        if self._journal is None:
            self._journal = open(self.journal_path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        line = {"key": task.key, "sha256": digest, "rows": task.n_deals, "seconds": seconds}
        self._journal.write(json.dumps(line) + "\n")
        self._journal.flush()
        _write_atomic(self.chunk_dir / task.file_name, result.payload)
        chunk = self.manifest["chunks"][task.key]
        chunk.update(status="done", sha256=digest, rows=task.n_deals, seconds=seconds)
        chunk.pop("error", None)
        self._dirty = True
        self.save()

    def mark_failed(self, key: str, error: str) -> None:
        chunk = self.manifest["chunks"][key]
        chunk.update(status="failed", error=error)
        chunk.pop("sha256", None)
        self._dirty = True
        self.save(force=True)

    def save(self, force: bool = False) -> None:
        """Rewrite the manifest atomically (at most every couple of seconds unless forced)."""
        now = time.monotonic()
        if not force and (not self._dirty or now - self._last_save < MANIFEST_SAVE_SECONDS):
            return
        self.manifest["updated"] = _now()
        text = json.dumps(self.manifest, indent=1, default=str)
        _write_atomic(self.manifest_path, text.encode("utf-8"))
        self._last_save = now
        self._dirty = False


def _warn(message: str) -> None:
    warnings.warn(message, SweepWarning, stacklevel=3)


# --------------------------------------------------------------------------------------------
# Executors: in process, local worker processes, Dask
# --------------------------------------------------------------------------------------------

ChunkOutcome = ChunkResult | BaseException
Compute = Callable[[ChunkTask], ChunkResult]


class ChunkError(Exception):
    """A chunk raised on a worker; carries the worker's traceback text."""

    def __init__(self, summary: str, details: str = ""):
        super().__init__(summary)
        self.details = details


class SerialExecutor:
    """Runs chunks one after another in this process (``--workers 1``)."""

    workers = 1

    def __init__(self, compute: Compute):
        self.compute = compute
        self.stopping = False

    def __enter__(self) -> SerialExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def stop(self) -> None:
        self.stopping = True

    def run(self, tasks: Iterable[ChunkTask]) -> Iterator[tuple[ChunkTask, ChunkOutcome]]:
        for task in tasks:
            if self.stopping:
                return
            try:
                outcome: ChunkOutcome = self.compute(task)
            except Exception as error:  # a failing chunk is reported with its point
                outcome = ChunkError(f"{type(error).__name__}: {error}", traceback.format_exc())
            yield task, outcome


def _exit_with_parent() -> None:
    """End this worker as soon as its parent (the runner) dies, even by SIGKILL."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def _worker_main(connection: Any, compute: Compute) -> None:
    """A local worker: receive a task, compute it, send the result; None ends the loop."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner handles Ctrl-C and ends us
    _exit_with_parent()
    while True:
        try:
            task = connection.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        try:
            message: tuple[str, Any] = ("ok", compute(task))
        except Exception as error:
            message = ("error", (f"{type(error).__name__}: {error}", traceback.format_exc()))
        try:
            connection.send(message)
        except (BrokenPipeError, OSError):
            return


@contextlib.contextmanager
def _single_threaded_children() -> Iterator[None]:
    """Worker processes use one thread each for numeric libraries: the processes are the
    parallelism, and oversubscribed BLAS threads only slow a small machine down."""
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    saved = {name: os.environ.get(name) for name in names}
    for name in names:
        os.environ.setdefault(name, "1")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class ProcessExecutor:
    """Local worker processes (spawned), one task each at a time over its own pipe, so the
    runner always knows which chunk a worker holds: a crashed worker is reported with its
    point, and on interrupt the workers are ended at once."""

    def __init__(self, workers: int, compute: Compute):
        self.workers = workers
        self.compute = compute
        self.context = multiprocessing.get_context("spawn")
        self.processes: list[Any] = []
        self.connections: list[Any] = []
        self.stopping = False

    def __enter__(self) -> ProcessExecutor:
        with _single_threaded_children():
            for _ in range(self.workers):
                parent_end, child_end = self.context.Pipe()
                process = self.context.Process(
                    target=_worker_main,
                    args=(child_end, self.compute),
                    daemon=True,
                    name="buyingsim-sweep-worker",
                )
                process.start()
                child_end.close()
                self.processes.append(process)
                self.connections.append(parent_end)
        return self

    def __exit__(self, *exc: object) -> None:
        for process, connection in zip(self.processes, self.connections, strict=True):
            with contextlib.suppress(OSError):
                connection.close()
            if process.is_alive():
                process.terminate()
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()

    def stop(self) -> None:
        self.stopping = True

    def run(self, tasks: Iterable[ChunkTask]) -> Iterator[tuple[ChunkTask, ChunkOutcome]]:
        queue = deque(tasks)
        busy: dict[int, ChunkTask] = {}  # worker index -> its task

        def hand_out(worker: int) -> None:
            if queue and not self.stopping:
                task = queue.popleft()
                self.connections[worker].send(task)
                busy[worker] = task

        for worker in range(self.workers):
            hand_out(worker)
        while busy:
            waitables = {}
            for worker in busy:
                waitables[self.connections[worker]] = worker
                waitables[self.processes[worker].sentinel] = worker
            for ready in multiprocessing.connection.wait(list(waitables)):
                worker = waitables[ready]
                if worker not in busy:
                    continue
                task = busy.pop(worker)
                connection = self.connections[worker]
                try:
                    status, payload = connection.recv()
                except (EOFError, OSError):
                    process = self.processes[worker]
                    process.join(timeout=5)
                    self.stopping = True
                    yield task, ChunkError(f"the worker process died (exit code {process.exitcode})")
                    continue
                if status == "ok":
                    hand_out(worker)  # the worker computes on while the runner stores this result
                    yield task, payload
                else:
                    yield task, ChunkError(*payload)
                    hand_out(worker)


class DaskExecutor:
    """Chunks as Dask futures on an existing scheduler (``tcp://HOST:PORT``, or ``tls://``
    with a :class:`distributed.security.Security`) or on a LocalCluster of ``workers``
    single-threaded processes. Workers need this package installed; only compact Parquet
    bytes travel back to the runner, but Dask moves them as pickles: a scheduler must be one
    you control (see docs/reliability.md)."""

    def __init__(
        self, compute: Compute, scheduler: str | None = None, workers: int = 2, security: Any = None
    ):
        self.compute = compute
        self.scheduler = scheduler
        self.security = security
        self.local_workers = workers
        self.cluster: Any = None
        self.client: Any = None
        self.futures: dict[Any, ChunkTask] = {}
        self.stopping = False
        self.workers = workers
        self.run_id = uuid.uuid4().hex[:12]

    def __enter__(self) -> DaskExecutor:
        import logging

        from distributed import Client, LocalCluster

        try:
            if self.scheduler is None:
                with _single_threaded_children():
                    self.cluster = LocalCluster(
                        n_workers=self.local_workers,
                        threads_per_worker=1,
                        processes=True,
                        host="127.0.0.1",
                        dashboard_address=None,
                        silence_logs=logging.ERROR,
                    )
                self.client = Client(self.cluster)
            else:
                self.client = Client(self.scheduler, timeout="20s", security=self.security)
        except (OSError, TimeoutError, ValueError, TypeError) as error:
            self.__exit__()
            target = self.scheduler or "a local Dask cluster"
            raise SweepError(f"cannot connect to {target}: {error}") from None
        threads = sum(self.client.nthreads().values())
        self.workers = max(threads, 1)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                if self.futures:
                    self.client.cancel(list(self.futures))
            with contextlib.suppress(Exception):
                self.client.close()
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close()

    def stop(self) -> None:
        self.stopping = True

    def run(self, tasks: Iterable[ChunkTask]) -> Iterator[tuple[ChunkTask, ChunkOutcome]]:
        from distributed import as_completed

        queue = deque(tasks)
        window = max(2 * self.workers, 4)
        completed = as_completed()

        def submit() -> None:
            task = queue.popleft()
            future = self.client.submit(
                self.compute, task, key=f"buyingsim-{self.run_id}-{task.key}", pure=False, retries=0
            )
            self.futures[future] = task
            completed.add(future)

        while queue and len(self.futures) < window:
            submit()
        for future in completed:
            task = self.futures.pop(future)
            if future.status == "finished":
                outcome: ChunkOutcome = future.result()
            elif future.status == "error":
                error = future.exception()
                outcome = ChunkError(f"{type(error).__name__}: {error}")
            else:
                outcome = ChunkError(f"the Dask task was {future.status}")
            future.release()
            yield task, outcome
            if queue and not self.stopping:
                submit()


SCHEDULER_PROTOCOLS = ("tcp", "tls")


def check_scheduler_address(address: str, tls: bool = False) -> None:
    """Refuse a ``--scheduler`` value that is not ``tcp://HOST:PORT`` or ``tls://HOST:PORT``
    (``tls://`` exactly when a security file is given)."""
    match = re.fullmatch(r"(?:(\w+)://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+):(\d{1,5})", address)
    protocol = (match.group(1) or "tcp") if match else None
    if match is None or protocol not in SCHEDULER_PROTOCOLS or not 0 < int(match.group(3)) < 65536:
        raise SweepError(
            f"--scheduler {address!r}: not a Dask scheduler address; use tcp://HOST:PORT or, "
            "with --scheduler-security, tls://HOST:PORT"
        )
    if tls and protocol != "tls":
        raise SweepError(f"--scheduler {address!r}: --scheduler-security needs a tls://HOST:PORT address")
    if not tls and protocol == "tls":
        raise SweepError(f"--scheduler {address!r}: a tls:// scheduler needs --scheduler-security FILE")


class SchedulerSecurity(_Strict):
    """A ``--scheduler-security`` file: the TLS files this runner presents to the scheduler
    (paths relative to the file). Turned into :class:`distributed.security.Security`."""

    ca_file: str = Field(min_length=1)
    cert_file: str = Field(min_length=1)
    key_file: str | None = Field(None, min_length=1)


def load_scheduler_security(path: str | Path) -> Any:
    """Read a ``--scheduler-security`` TOML file (``ca_file``, ``cert_file``, optional
    ``key_file`` when the certificate file lacks the key) into a Dask ``Security`` that
    requires encryption; missing files are one-line :class:`SweepError` s."""
    path = Path(path)
    try:
        data = read_toml_file(path)
    except ScenarioError as error:
        raise SweepError(f"--scheduler-security {error}") from None
    try:
        settings = SchedulerSecurity.model_validate(data)
    except ValidationError as error:
        raise SweepError(format_validation_error(str(path), error, SchedulerSecurity)) from None
    files = {}
    for name in ("ca_file", "cert_file", "key_file"):
        value = getattr(settings, name)
        if value is None:
            continue
        target = Path(value) if Path(value).is_absolute() else path.parent / value
        if not target.is_file():
            raise SweepError(f"{path}: field {name} = {value!r}: no such file ({target})")
        files[name] = str(target)
    from distributed.security import Security

    return Security(
        tls_ca_file=files["ca_file"],
        tls_client_cert=files["cert_file"],
        tls_client_key=files.get("key_file"),
        require_encryption=True,
    )


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # pragma: no cover - not Linux
        return max(os.cpu_count() or 1, 1)


# --------------------------------------------------------------------------------------------
# The runner
# --------------------------------------------------------------------------------------------


@dataclass
class SweepProgress:
    """Where a run stands; passed to the progress callback after each finished chunk."""

    points_total: int
    points_done: int
    deals_total: int
    deals_done: int
    deals_resumed: int  # done before this run started (not counted in this run's rate)
    chunks_total: int
    chunks_done: int
    workers: int


@dataclass
class SweepRun:
    """What a call to :func:`run_sweep` did."""

    directory: Path
    plan: SweepPlan
    chunks_computed: int
    chunks_resumed: int
    deals_computed: int
    seconds: float
    workers: int

    @property
    def deals_per_second(self) -> float:
        return self.deals_computed / self.seconds if self.seconds > 0 else float("nan")


def run_sweep(
    spec: SweepSpec | str | Path,
    out: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    dask_local: bool = False,
    kind: SweepKind = "sweep",
    progress: Callable[[SweepProgress], None] | None = None,
    compute: Compute = compute_chunk,
    repair: bool = False,
    security: str | Path | None = None,
    warn: Callable[[str], None] | None = None,
) -> SweepRun:
    """Run (or resume) a sweep into the results directory ``out``.

    ``workers``: local processes (default: all cores; 1 runs in this process). ``scheduler``:
    address of a Dask scheduler you control; ``security``: a TOML file naming the TLS CA,
    certificate and key for it (see :func:`load_scheduler_security`); ``dask_local``: start a
    Dask LocalCluster of ``workers``. ``repair``: rebuild a missing or damaged manifest from
    the spec and the chunk files that verify. ``warn`` receives what the run repaired on its
    own (default: :class:`SweepWarning`). Finished chunks are kept whatever happens;
    rerunning the same call resumes. A failing chunk stops the run with a
    :class:`SweepError` naming its point.
    """
    if scheduler is not None and dask_local:
        raise SweepError("--scheduler and --dask-local exclude each other; choose one")
    tls = load_scheduler_security(security) if security is not None else None
    if tls is not None and scheduler is None:
        raise SweepError("--scheduler-security is for a remote cluster; give --scheduler tls://HOST:PORT too")
    if scheduler is not None:
        check_scheduler_address(scheduler, tls is not None)
    plan = plan_sweep(spec, kind) if isinstance(spec, SweepSpec) else load_sweep_plan(spec, kind)
    started = time.perf_counter()
    with SweepStore.open_for_run(out, plan, repair=repair, warn=warn) as store:
        tasks = plan.tasks()
        done = store.done_keys()
        pending = [task for task in tasks if task.key not in done]
        chunks_left = {point: 0 for point in range(len(plan.points))}
        for task in pending:
            chunks_left[task.point] += 1
        deals_resumed = sum(t.n_deals for t in tasks if t.key in done)
        n_workers = workers or default_workers()
        executor = _executor(compute, n_workers, scheduler, dask_local, len(pending), tls)
        status = SweepProgress(
            len(plan.points),
            sum(1 for n in chunks_left.values() if n == 0),
            plan.deals_total,
            deals_resumed,
            deals_resumed,
            len(tasks),
            len(done),
            n_workers,
        )
        failure: tuple[ChunkTask, ChunkError] | None = None
        computed = 0
        with executor:
            status.workers = executor.workers
            if progress is not None:
                progress(status)
            for task, outcome in executor.run(pending):
                if not isinstance(outcome, BaseException):
                    problem = store.check(task, outcome)
                    outcome = ChunkError(problem) if problem else outcome
                if isinstance(outcome, BaseException):
                    message = str(outcome)
                    store.mark_failed(task.key, message)
                    if failure is None:
                        failure = (task, outcome if isinstance(outcome, ChunkError) else ChunkError(message))
                    executor.stop()  # finish what is in flight, start nothing new
                    continue
                store.write_chunk(task, outcome)
                computed += 1
                chunks_left[task.point] -= 1
                status.chunks_done += 1
                status.deals_done += task.n_deals
                status.points_done += chunks_left[task.point] == 0
                if progress is not None:
                    progress(status)
        if failure is not None:
            task, error = failure
            left = status.chunks_total - status.chunks_done
            raise SweepError(
                f"{task.label} failed: {error}; {status.chunks_done} chunks are "
                f"kept, {left} left: rerun the same command to resume",
            ) from error
    return SweepRun(
        Path(out),
        plan,
        computed,
        len(done),
        status.deals_done - deals_resumed,
        time.perf_counter() - started,
        status.workers,
    )


def _executor(
    compute: Compute,
    workers: int,
    scheduler: str | None,
    dask_local: bool,
    pending: int,
    security: Any = None,
) -> SerialExecutor | ProcessExecutor | DaskExecutor:
    if pending == 0:
        return SerialExecutor(compute)
    if scheduler is not None or dask_local:
        return DaskExecutor(compute, scheduler, workers, security)
    workers = min(workers, max(pending, 1))
    if workers <= 1:
        return SerialExecutor(compute)
    return ProcessExecutor(workers, compute)


# --------------------------------------------------------------------------------------------
# Loading results
# --------------------------------------------------------------------------------------------


@dataclass
class SweepResults:
    """A sweep's results as pandas frames.

    ``experiments``: one row per point (``point``, ``seed`` and one column per parameter).
    ``deals``: one row per point, strategy and deal (``point`` plus the engine's columns).
    ``complete``: every chunk is done (an interrupted sweep loads what it has).
    """

    directory: Path
    manifest: dict[str, Any]
    experiments: pd.DataFrame
    deals: pd.DataFrame
    complete: bool

    @property
    def parameters(self) -> list[str]:
        return [parameter["name"] for parameter in self.manifest["parameters"]]

    @property
    def strategies(self) -> list[str]:
        return list(self.manifest["strategies"])

    @property
    def outcomes(self) -> list[str]:
        return list(self.manifest["spec"]["outcomes"])

    @property
    def name(self) -> str:
        return str(self.manifest["spec"]["name"])

    def summary(self, metrics: list[str] | None = None) -> pd.DataFrame:
        """Each metric per point and strategy with its 95% CI (see :mod:`sim.analysis`)."""
        from sim.analysis import point_summary

        return point_summary(self, metrics)

    def best(self, metrics: list[str] | None = None) -> pd.DataFrame:
        """The best strategy per point and metric, with the paired difference to the runner-up."""
        from sim.analysis import best_strategies

        return best_strategies(self, metrics)

    def robustness(
        self, metrics: list[str] | None = None, thresholds: dict[str, float] | None = None
    ) -> pd.DataFrame:
        """Each strategy across all points: mean, worst case, maximum (paired) regret against
        the best strategy, and satisficing shares for the metrics given thresholds."""
        from sim.analysis import robustness

        return robustness(self, metrics, thresholds)


def load_sweep(directory: str | Path, columns: list[str] | None = None) -> SweepResults:
    """Load a sweep's results directory: the experiments table and the deal rows of every
    finished chunk (``columns`` limits which deal columns are read).

    Every chunk file is checked against the SHA-256 recorded for it and its rows against its
    place in the sweep; a damaged store raises a one-line :class:`SweepError` saying how to
    repair it (nothing is loaded from a chunk that does not verify).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    directory = Path(directory)
    if not directory.is_dir():
        raise SweepError(f"{directory}: no such results directory")
    manifest = read_manifest(directory)
    _fold_journal(manifest, read_journal(directory))
    if columns is not None:
        unknown = [name for name in columns if name not in CHUNK_COLUMNS]
        if unknown:
            raise SweepError(f"columns: unknown {unknown[0]!r}; allowed: {', '.join(CHUNK_COLUMNS)}")
    strategies = list(manifest["strategies"])
    experiments = pd.DataFrame(
        [{"point": p["point"], "seed": p["seed"], **p["values"]} for p in manifest["points"]]
    )
    if experiments.empty:
        experiments = pd.DataFrame(columns=["point", "seed"])
    wanted = None if columns is None else list(dict.fromkeys([*_ID_COLUMNS, *columns]))
    spec = manifest["spec"]
    layout = chunk_layout(len(manifest["points"]), strategies, spec["deals_per_point"], spec["chunk_deals"])
    tables, complete = [], True
    for slot in layout:
        chunk = manifest["chunks"][slot.key]
        path = directory / CHUNK_DIR / slot.file_name
        if chunk["status"] != "done" or not chunk.get("sha256") or not path.exists():
            complete = False
            continue
        try:
            data = path.read_bytes()
        except OSError as error:
            raise SweepError(f"{path}: cannot be read ({error.strerror or error})") from None
        problem = "its content differs from the SHA-256 recorded in the manifest"
        if sha256_of(data) == chunk["sha256"]:
            table = pq.read_table(pa.BufferReader(data), columns=wanted)
            problem = rows_problem(table, slot)
        if problem is not None:
            raise SweepError(
                f"{path}: damaged chunk ({problem}); resume the run to recompute it: "
                f"{_rerun_hint(manifest, directory)}"
            )
        tables.append(table.replace_schema_metadata(None))
    if tables:
        deals = pa.concat_tables(tables).to_pandas()
        order = deals["strategy"].map({name: i for i, name in enumerate(strategies)})
        deals = deals.assign(_order=order).sort_values(["point", "_order", "deal"])
        deals = deals.drop(columns="_order").reset_index(drop=True)
    else:
        deals = pd.DataFrame(columns=wanted or list(CHUNK_COLUMNS))
    return SweepResults(directory, manifest, experiments, deals, complete)
