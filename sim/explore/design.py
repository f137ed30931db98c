"""The design of a sweep: parameters resolved against the base scenario, the points (grid,
Latin hypercube, Sobol, or a SALib sensitivity design), their seeds, and the plan of chunks
(points x strategies cut into whole engine blocks). A chunk's rows depend only on the spec,
so results are identical for any worker count or executor.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_origin

import numpy as np
from pydantic import (
    BaseModel,
)

from sim.explore.spec import GROUP_SIZE, MAX_POINTS, SweepError, SweepKind, SweepSpec, _validated_spec
from sim.scenario import (
    Behaviour,
    Population,
    Range,
    Scenario,
    ScenarioError,
    Simulation,
    load_scenario,
    read_toml_file,
)
from sim.strategies import Strategy


def _problem(parameters: list[Parameter]) -> dict[str, Any]:
    return {
        "num_vars": len(parameters),
        "names": [p.name for p in parameters],
        "bounds": [list(p.sampling_bounds()) for p in parameters],
    }


def sensitivity_design(
    spec: SweepSpec, parameters: list[Parameter]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The SALib design as sweep points, plus what the analysis needs (method, problem and the
    raw sample matrix) to store in the manifest."""
    from sim.explore.spec import SweepError

    settings = spec.sensitivity
    if settings is None:
        raise SweepError(
            f"{spec.source}: a sensitivity run needs a [sensitivity] table "
            '(method = "sobol" or "morris", samples = N)'
        )
    if not parameters:
        raise SweepError(f"{spec.source}: a sensitivity run needs at least one uncertainty")
    for parameter in parameters:
        if parameter.values is not None:
            raise SweepError(
                f"{spec.source}: field uncertainties.{parameter.name}: sensitivity "
                "analysis needs a range (low and high), not values"
            )
    problem = _problem(parameters)
    seed = spec.seed % 2**32
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if settings.method == "sobol":
            from SALib.sample import sobol as sobol_sample

            matrix = sobol_sample.sample(problem, settings.samples, calc_second_order=False, seed=seed)
        else:
            from SALib.sample import morris as morris_sample

            matrix = morris_sample.sample(problem, settings.samples, num_levels=settings.levels, seed=seed)
    columns = [p.from_range(matrix[:, j]) for j, p in enumerate(parameters)]
    points = [{p.name: columns[j][i] for j, p in enumerate(parameters)} for i in range(len(matrix))]
    extra = {
        "method": settings.method,
        "problem": problem,
        "levels": settings.levels,
        "matrix": matrix.tolist(),
    }
    return points, extra


MAX_CHUNKS = 300_000


POINT_STREAM, SAMPLING_STREAM = 0, 1


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
        low, high = self._range()
        if self.levels is None:
            raise SweepError(f"uncertainties.{self.name}: a range on a grid needs levels = N")
        return [self._cast(v) for v in np.linspace(low, high, self.levels)]

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
        low, high = self._range()
        if self.kind == "int":
            return low - 0.5, high + 0.5
        return low, high

    def _range(self) -> tuple[float, float]:
        """``low`` and ``high`` of a range (a list of values has none)."""
        if self.low is None or self.high is None:
            raise SweepError(f"uncertainties.{self.name}: a list of values has no range")
        return self.low, self.high

    def from_range(self, raw: np.ndarray) -> list[Any]:
        """Values from raw samples already in [low, high] (integers rounded)."""
        return [self._cast(v) for v in raw]

    def _cast(self, value: float) -> Any:
        if self.kind == "int":
            low, high = self._range()
            return int(np.clip(np.floor(value + 0.5), np.ceil(low), np.floor(high)))
        return float(value)

    def describe(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "field": self.field, "kind": self.kind}
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
    if n is None:  # the spec's validation requires points for these methods
        raise SweepError(f"{spec.source}: field sampling.points: {method} needs points = N")
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

