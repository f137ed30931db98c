"""Scenarios as data: TOML files validated into typed objects.

A scenario describes a population of deals (group sizes, conflict, information volume, the
focal vendor's strategy mix), the behavioural constants of the model, and the vendor
strategies. A file may ``extends = "other.toml"`` and override any field; tables are merged
key by key. Every mistake becomes a :class:`ScenarioError` whose message names the file, the
field, the value and what is allowed, on one line.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sim.effort import DEFAULT_EFFORT_BUDGET
from sim.jobs import JOB_NAMES  # noqa: F401  (re-exported: the job table lives in sim/jobs.py)
from sim.strategies import BUILTIN_STRATEGIES, Strategy

# An installed wheel carries the bundled scenarios inside the package (sim/scenarios); a checkout
# or an editable install reads (and calibration writes) the repository's scenarios/ folder.
_PACKAGED_SCENARIOS = Path(__file__).resolve().parent / "scenarios"
SCENARIO_DIR = (
    _PACKAGED_SCENARIOS
    if _PACKAGED_SCENARIOS.is_dir()
    else Path(__file__).resolve().parent.parent / "scenarios"
)
# The calibrated behavioural base that bundled scenarios extend: not a scenario to run.
DEFAULTS_FILE = SCENARIO_DIR / "defaults.toml"
# Files in scenarios/ that are not scenarios: the fitted defaults and the ensemble of fits.
NOT_SCENARIOS = (DEFAULTS_FILE.name, "ensemble.toml")
MAX_GROUP_SIZE = 16
ROLE_NAMES = ("executive_sponsor", "finance", "it", "operations", "procurement", "legal_security")
# Limits on input files (documented in docs/reliability.md): real scenario and sweep files are
# a few KiB and a few levels deep, so anything beyond these is a mistake or an attack.
MAX_TOML_BYTES = 1 << 20  # 1 MiB
MAX_TOML_NESTING = 32  # tables and arrays inside one another
MAX_EXTENDS_DEPTH = 32  # files in one ``extends`` chain, the scenario itself included


class ScenarioError(ValueError):
    """A user mistake in a scenario or its file: the message is one line, ready to print."""


class _Strict(BaseModel):
    """Strict input: no unknown fields, no coercion (``"52"`` is not a number, ``true`` is not
    a number; a TOML integer is a valid float), and only finite numbers."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_default=True, strict=True, allow_inf_nan=False
    )


def normalised_weights(weights: Sequence[float]) -> np.ndarray:
    """Weights scaled to sum to one; a ValueError unless every weight is finite and
    non-negative and their sum is finite and positive (so every share is a finite number)."""
    values = np.asarray(weights, dtype=np.float64)
    if values.size == 0 or not np.isfinite(values).all() or (values < 0).any():
        raise ValueError("weights must be finite, non-negative numbers")
    with np.errstate(over="ignore"):
        total = values.sum()
    if not (np.isfinite(total) and total > 0):
        raise ValueError("weights must have a finite, positive sum")
    return values / total


class Range(_Strict):
    """A per-deal value drawn uniformly from [low, high]; a plain number in TOML means low == high."""

    low: float
    high: float

    @model_validator(mode="before")
    @classmethod
    def _from_number(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return {"low": value, "high": value}
        if isinstance(value, list) and len(value) == 2:
            return {"low": value[0], "high": value[1]}
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        return self


def _unit_range(value: Range) -> Range:
    if not (0.0 <= value.low <= 1.0 and 0.0 <= value.high <= 1.0):
        raise ValueError("must lie between 0 and 1")
    return value


class Simulation(_Strict):
    """How long a deal may run and what it chooses between."""

    horizon_weeks: int = Field(
        104, ge=4, le=260, description="weeks simulated; a deal still open then is truncated, not abandoned"
    )
    n_options: int = Field(3, ge=1, le=6, description="solution options: the focal vendor plus competitors")
    n_dimensions: int = Field(5, ge=2, le=8, description="requirement dimensions of each option")


class Population(_Strict):
    """The deals a scenario draws: who buys, how conflicted, how much information, which strategy."""

    group_sizes: list[int] = Field(default_factory=lambda: [6, 7, 8, 9, 10])
    group_size_weights: list[float] = Field(default_factory=lambda: [0.52, 0.27, 0.11, 0.06, 0.04])
    conflict_level: Range = Range(low=0.5, high=0.5)
    information_volume: Range = Range(low=1.0, high=1.0)
    need_for_change: Range = Range(low=0.6, high=0.6)
    initial_items: list[int] = Field(default_factory=lambda: [4, 5])
    strategy_mix: dict[str, float] = Field(default_factory=lambda: {"seller_led": 1.0})
    competitor_strategy: str = "seller_led"
    network: Literal["small_world", "hierarchy", "complete"] = "small_world"
    effort_budget: float = Field(
        DEFAULT_EFFORT_BUDGET,
        gt=0,
        le=50,
        description="weekly effort each vendor can spend (sim/effort.py); strategies over it are scaled down",
    )

    @field_validator("group_sizes")
    @classmethod
    def _sizes(cls, sizes: list[int]) -> list[int]:
        if not sizes:
            raise ValueError("needs at least one group size")
        for size in sizes:
            if not 1 <= size <= MAX_GROUP_SIZE:
                raise ValueError(f"group size {size} is outside 1-{MAX_GROUP_SIZE}")
        return sizes

    @field_validator("group_size_weights")
    @classmethod
    def _weights(cls, weights: list[float]) -> list[float]:
        normalised_weights(weights)
        return weights

    @field_validator("conflict_level", "need_for_change")
    @classmethod
    def _unit(cls, value: Range) -> Range:
        return _unit_range(value)

    @field_validator("information_volume")
    @classmethod
    def _volume(cls, value: Range) -> Range:
        if not (value.low >= 0.0 and value.high <= 10.0):
            raise ValueError("must lie between 0 and 10")
        return value

    @field_validator("initial_items")
    @classmethod
    def _items(cls, items: list[int]) -> list[int]:
        if len(items) != 2 or not 1 <= items[0] <= items[1] <= 12:
            raise ValueError("must be [low, high] with 1 <= low <= high <= 12")
        return items

    @field_validator("strategy_mix")
    @classmethod
    def _mix(cls, mix: dict[str, float]) -> dict[str, float]:
        if not mix:
            raise ValueError("needs at least one strategy name with a weight")
        normalised_weights(list(mix.values()))
        return mix

    @model_validator(mode="after")
    def _paired(self) -> Population:
        if len(self.group_sizes) != len(self.group_size_weights):
            raise ValueError("group_sizes and group_size_weights must have the same length")
        return self


# Time weights are relative, but the dynamics run in float32: weights near 1e-45 all vanish
# and time shares become 0/0. A floor of 0.001 keeps every channel's share finite (at least
# 0.1% of the largest weight) and is far below any plausible value.
MIN_BASE_SHARE = 0.001


class Behaviour(_Strict):
    """Behavioural constants of the weekly dynamics. Calibration fits the free ones."""

    # time and information
    hours_per_week: float = Field(4.0, gt=0, le=40, description="buying hours per stakeholder-week")
    base_share_internal: float = Field(
        0.28, ge=MIN_BASE_SHARE, le=1, description="time weight: buying group and peers"
    )
    base_share_third_party: float = Field(
        0.18, ge=MIN_BASE_SHARE, le=1, description="time weight: third parties"
    )
    base_share_digital: float = Field(
        0.27, ge=MIN_BASE_SHARE, le=1, description="time weight: self-serve digital"
    )
    base_share_suppliers: float = Field(
        0.17, ge=MIN_BASE_SHARE, le=1, description="time weight: supplier meetings"
    )
    items_per_week: float = Field(0.9, ge=0, le=2, description="new items per stakeholder-week at volume 1")
    digital_yield: float = Field(
        1.0, ge=0, le=5, description="items per hour of digital relative to other channels"
    )
    item_noise: float = Field(0.6, gt=0, le=3, description="sd of an unbiased item's claim error")
    noise_internal: float = Field(1.3, gt=0, le=5, description="noise multiplier: peers and colleagues")
    noise_third_party: float = Field(0.8, gt=0, le=5, description="noise multiplier: analysts, reviews")
    noise_rep: float = Field(0.8, gt=0, le=5, description="noise multiplier: vendor reps")
    credibility_internal: float = Field(0.6, gt=0, le=2, description="weight of a peer's item")
    credibility_third_party: float = Field(0.9, gt=0, le=2, description="weight of a third-party item")
    credibility_rep: float = Field(0.7, gt=0, le=2, description="weight of a rep's item")
    credibility_authority: float = Field(
        2.0, gt=0, le=10, description="weight of a resolving, authoritative item"
    )
    contradiction_gap: float = Field(1.1, gt=0, le=5, description="claim gap that makes two items contradict")
    # sharing and beliefs
    voice_probability: float = Field(0.25, ge=0, le=1, description="p in P(voiced) = 1-(1-p)^holders")
    voice_mixing: float = Field(0.5, ge=0, le=1, description="share of neighbours' evidence taken on voicing")
    prior_weight: float = Field(1.0, gt=0, le=10, description="weight of the neutral prior on each cell")
    stubbornness: float = Field(0.45, ge=0, le=1, description="Friedkin-Johnsen anchoring to own evidence")
    confidence_bound: float = Field(1.2, gt=0, le=10, description="bounded confidence on option opinions")
    priority_disagreement_scale: float = Field(
        2.5, gt=0, le=20, description="L1 spread of priorities that means no agreement"
    )
    priority_mixing: float = Field(
        0.15, ge=0, le=1, description="weekly pull of priorities toward neighbours"
    )
    misalignment_penalty: float = Field(
        0.05, ge=0, le=2, description="attitude loss toward a vendor per stage its rep is ahead"
    )
    attitude_memory: float = Field(
        0.9, ge=0, le=1, description="share of last week's attitude kept (the rest is forgotten)"
    )
    # focus and progress
    focus_temperature: float = Field(0.35, gt=0, le=5, description="noise in choosing the job in focus")
    always_on_effort: float = Field(
        0.12, ge=0, le=1, description="effort validation and consensus always get"
    )
    enablement_gain: float = Field(
        0.5,
        ge=0,
        le=5,
        description="effort added to the group's current job per helpful supplier item per member",
    )
    progress_rate: float = Field(0.35, gt=0, le=1, description="weekly catch-up of a job toward readiness")
    fall_rate: float = Field(0.6, gt=0, le=1, description="weekly fall of a job toward lower readiness")
    done_threshold: float = Field(0.75, gt=0, le=1, description="completion at which a job counts as done")
    reopen_threshold: float = Field(0.62, gt=0, le=1, description="completion below which a done job reopens")
    setback: float = Field(
        0.15, gt=0, le=1, description="completion lost since a job's last high that counts as a loop"
    )
    dissent_pull: float = Field(
        1.0, ge=0, le=5, description="completion a job loses when all dissenters work on it"
    )
    choice_change_shock: float = Field(
        0.2,
        ge=0,
        le=1,
        description="completion lost by selection, validation and consensus when the choice switches",
    )
    contradiction_shock: float = Field(
        0.12, ge=0, le=1, description="completion lost by later jobs per new contradiction"
    )
    need_margin: float = Field(0.1, ge=0, le=3, description="utility gain over status quo that signals need")
    acceptance_margin: float = Field(
        0.0, ge=-3, le=3, description="utility over status quo to accept a choice"
    )
    preference_tolerance: float = Field(
        0.15, ge=0, le=5, description="utility below one's favourite that one still accepts"
    )
    veto_margin: float = Field(
        0.4, ge=0, le=5, description="utility below the status quo at which a member would block the purchase"
    )
    status_quo_pull: float = Field(
        0.1,
        ge=0,
        le=1,
        description="weekly chance of a decision to keep the status quo when all influence would block",
    )
    consensus_quorum: float = Field(
        0.67, gt=0, le=1, description="influence share accepting the choice that completes consensus"
    )
    coverage_weight: float = Field(1.5, gt=0, le=20, description="group evidence weight that covers a cell")
    confidence_weight: float = Field(4.0, gt=0, le=50, description="evidence weight for full confidence")
    contradiction_tolerance: float = Field(
        1.5, gt=0, le=50, description="unresolved contradictions halving validation"
    )
    self_resolve_rate: float = Field(0.08, ge=0, le=1, description="weekly deconfliction by the group itself")
    # overload and exhaustion
    capacity: float = Field(9.0, gt=0, le=100, description="items a stakeholder holds without strain")
    forget_rate: float = Field(0.12, ge=0, le=1, description="weekly decay of information load")
    volume_spread: float = Field(
        0.7,
        ge=0,
        le=2,
        description="spread (log-normal sd) of the information each group meets around the market's volume",
    )
    contradiction_load: float = Field(1.0, ge=0, le=10, description="load added per unresolved contradiction")
    overwhelmed_threshold: float = Field(
        0.5, gt=0, le=1, description="peak overload that counts as overwhelmed (0.5: load at capacity)"
    )
    exhaustion_overload: float = Field(0.04, ge=0, le=1, description="exhaustion per week of mean overload")
    exhaustion_loop: float = Field(0.05, ge=0, le=1, description="exhaustion per reopened job")
    # outcomes
    ease_loops: float = Field(0.12, ge=0, le=5, description="ease lost per loop")
    ease_time: float = Field(0.8, ge=0, le=10, description="ease lost per year (52 weeks) of journey")
    ease_overload: float = Field(1.0, ge=0, le=10, description="ease lost at full peak overload")
    ease_contradictions: float = Field(0.15, ge=0, le=5, description="ease lost per contradiction met")
    high_ease_threshold: float = Field(
        0.8, gt=0, le=1, description="ease counted as high (the top fifth of the scale, a top box)"
    )
    difficult_threshold: float = Field(
        0.5, gt=0, le=1, description="ease below which a purchase is complex or difficult"
    )
    scope_headroom: float = Field(
        0.25, ge=0, le=2, description="scope a confident, united group can add to its initial ambition"
    )
    regret_shortfall: float = Field(0.5, ge=0, le=1, description="regret weight of true-value shortfall")
    regret_expectation: float = Field(0.3, ge=0, le=1, description="regret weight of unmet expectations")
    regret_dissent: float = Field(0.2, ge=0, le=1, description="regret weight of dissent at decision")
    settle_threshold: float = Field(
        0.9, gt=0, le=2, description="deal size below which the group settled for less"
    )
    expectation_tolerance: float = Field(
        0.1, ge=0, le=5, description="shortfall of true value below belief that breaks expectations"
    )
    strong_expectation_margin: float = Field(
        0.0, ge=-5, le=5, description="margin over belief for 'strongly met'"
    )
    helpful_threshold: float = Field(
        0.5, ge=0, le=1, description="share of helpful supplier items for helpful_info"
    )

    @model_validator(mode="after")
    def _hysteresis(self) -> Behaviour:
        if self.reopen_threshold >= self.done_threshold:
            raise ValueError("reopen_threshold must be below done_threshold")
        return self


class Provenance(_Strict):
    """Where fitted defaults came from (written by ``buyingsim calibrate``)."""

    date: str
    trials: int
    deals_per_trial: int
    seeds: int = 1
    seed: int
    polish_deals: int = 0
    objective: float
    # The defaults are the most robust of the best trials, checked on this many unused seeds
    # (0: the study's best trial); its mean objective there is ``objective``.
    checked_seeds: int = 0
    selected_trial: int = -1


class Scenario(_Strict):
    """A validated scenario: the population of deals, the behaviour and the strategies."""

    name: str = "scenario"
    description: str = ""
    simulation: Simulation = Simulation()
    population: Population = Population()
    behaviour: Behaviour = Behaviour()
    strategies: dict[str, Strategy] = Field(default_factory=dict)
    calibration: Provenance | None = None
    source: str = Field("<memory>", exclude=True)

    @model_validator(mode="after")
    def _known_strategies(self) -> Scenario:
        known = self.all_strategies()
        for name in [*self.population.strategy_mix, self.population.competitor_strategy]:
            if name not in known:
                field = (
                    "population.competitor_strategy"
                    if name == self.population.competitor_strategy
                    and name not in self.population.strategy_mix
                    else "population.strategy_mix"
                )
                raise ValueError(
                    f"field {field}: unknown strategy {name!r}; allowed: {', '.join(sorted(known))}"
                )
        return self

    def all_strategies(self) -> dict[str, Strategy]:
        """Built-in strategies overlaid with the scenario's own (hybrids or overrides)."""
        return {**BUILTIN_STRATEGIES, **self.strategies}

    def strategy(self, name: str, given_by: str | None = None) -> Strategy:
        """The strategy called ``name``, or a ScenarioError listing the allowed names. The
        error blames ``given_by`` (e.g. a command-line flag) when the name came from there."""
        known = self.all_strategies()
        if name not in known:
            allowed = ", ".join(sorted(known))
            if given_by is not None:
                raise ScenarioError(
                    f"{given_by} {name!r}: unknown strategy; allowed in scenario {self.name}: {allowed}"
                )
            raise ScenarioError(f"{self.source}: strategy = {name!r}: unknown; allowed: {allowed}")
        return known[name]

    def with_overrides(self, overrides: dict[str, Any]) -> Scenario:
        """A copy with dotted-key overrides, e.g. ``{"population.conflict_level": 0.8}``."""
        data = self.model_dump(exclude={"source"})
        for dotted, value in overrides.items():
            _set_dotted(data, dotted, value)
        return _validate(data, self.source)


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = data
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = _plain(value)


def _plain(value: Any) -> Any:
    """NumPy scalars and arrays as plain Python values (validation is strict about types)."""
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    return value


# Tables that are values, not groups of settings: a child file replaces them whole.
LEAF_TABLES = {"strategy_mix"}


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Child settings over parent settings, table by table (``LEAF_TABLES`` are replaced)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key not in LEAF_TABLES:
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def format_validation_error(source: str, error: ValidationError, root: type[BaseModel]) -> str:
    """One line naming the file, the field, the value and what is allowed (first error)."""
    first = error.errors()[0]
    loc = tuple(first["loc"])
    field = ".".join(str(part) for part in loc)
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        parent = model_at(root, loc[:-1])
        allowed = ", ".join(name for name in parent.model_fields if name != "source") if parent else "?"
        return f"{source}: unknown field {field!r}; allowed here: {allowed}"
    if first["type"] == "missing":
        return f"{source}: field {field} is required"
    if not loc:
        return f"{source}: {message}"
    value = first.get("input")
    shown = "" if isinstance(value, dict) else f" = {value!r}"
    return f"{source}: field {field}{shown}: {message}"


def model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model found at a location inside ``root`` (through dict[str, Model] keys
    and optional fields), or None."""
    model = root
    keyed = False  # inside dict[str, Model]: the next part is a key
    for part in loc:
        if keyed:
            keyed = False
            continue
        info = model.model_fields.get(str(part))
        if info is None:
            return None
        annotation = info.annotation
        if get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
            keyed = True
        annotation = next(
            (a for a in get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)), annotation
        )
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _validate(data: dict[str, Any], source: str) -> Scenario:
    try:
        return Scenario.model_validate({**data, "source": source})
    except ValidationError as error:
        raise ScenarioError(format_validation_error(source, error, Scenario)) from None


def bundled_scenarios() -> list[Path]:
    """The bundled scenario files a user can run, by name (the defaults base is not one)."""
    return sorted(path for path in SCENARIO_DIR.glob("*.toml") if path.name not in NOT_SCENARIOS)


def resolve_path(name_or_path: str | Path) -> Path:
    """A scenario path from a path or a bare name found in ``scenarios/`` (``baseline``)."""
    path = Path(name_or_path)
    if path.suffix != ".toml" and not path.exists():
        candidate = SCENARIO_DIR / f"{path.name}.toml"
        if candidate.exists():
            return candidate
    if not path.exists() and not path.is_absolute() and (SCENARIO_DIR / path.name).exists():
        return SCENARIO_DIR / path.name
    return path


def read_toml_file(path: str | Path) -> dict[str, Any]:
    """Parse one TOML input file safely: only a regular file (never a device, FIFO, directory
    or /dev/stdin), at most ``MAX_TOML_BYTES``, UTF-8, nested at most ``MAX_TOML_NESTING``
    deep. Every problem is a one-line :class:`ScenarioError` naming the file. Scenario files,
    their ``extends`` chain and sweep specs all go through here."""
    path = Path(path)
    try:
        before = os.stat(path)
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such file") from None
    except OSError as error:
        raise ScenarioError(f"{path}: cannot be read ({error.strerror or error})") from None
    _require_regular_file(path, before)
    try:
        # O_NONBLOCK: should the path be swapped for a FIFO after the check, opening it does
        # not hang; fstat on the open file then refuses it.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(descriptor, "rb") as handle:
            _require_regular_file(path, os.fstat(handle.fileno()))
            raw = handle.read(MAX_TOML_BYTES + 1)
    except OSError as error:
        raise ScenarioError(f"{path}: cannot be read ({error.strerror or error})") from None
    if len(raw) > MAX_TOML_BYTES:
        raise ScenarioError(f"{path}: larger than {MAX_TOML_BYTES:,} bytes; input files are small TOML files")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ScenarioError(f"{path}: not UTF-8 text (bad byte at offset {error.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(f"{path}: not valid TOML ({error})") from None
    except RecursionError:
        data = None
    if data is None or _nesting_depth(data) > MAX_TOML_NESTING:
        raise ScenarioError(f"{path}: nested deeper than {MAX_TOML_NESTING} levels of tables and arrays")
    return data


def _require_regular_file(path: Path, info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "a device, pipe or socket"
        raise ScenarioError(f"{path}: is {kind}, not a regular file; give a .toml file")


def _nesting_depth(value: Any) -> int:
    """How many tables and arrays are nested inside one another (iterative: no recursion)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TOML_NESTING:
            return depth  # deep enough to refuse; no need to walk further
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        deepest = max(deepest, depth if isinstance(node, dict | list) else 0)
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def _read_toml(path: Path) -> dict[str, Any]:
    """A scenario file merged over its ``extends`` chain (iteratively, at most
    ``MAX_EXTENDS_DEPTH`` files; loops are found on resolved paths, so ``../dir/me.toml``
    counts as ``me.toml``)."""
    layers: list[dict[str, Any]] = []
    seen: list[Path] = []
    while True:
        if not path.exists():
            available = ", ".join(path.stem for path in bundled_scenarios())
            raise ScenarioError(f"{path}: no such scenario file; bundled scenarios: {available}")
        resolved = path.resolve()
        if resolved in seen:
            cycle = " -> ".join(map(str, [*seen[seen.index(resolved) :], resolved]))
            raise ScenarioError(f"{path}: extends itself through {cycle}")
        if len(seen) >= MAX_EXTENDS_DEPTH:
            raise ScenarioError(
                f"{path}: extends chain longer than {MAX_EXTENDS_DEPTH} files (starting at {seen[0]})"
            )
        seen.append(resolved)
        data = read_toml_file(path)
        parent = data.pop("extends", None)
        data.setdefault("name", path.stem)  # a file is named after itself unless it says otherwise
        layers.append(data)
        if parent is None:
            break
        if not isinstance(parent, str) or not parent:
            raise ScenarioError(f"{path}: field extends = {parent!r}: must be a file name")
        parent_path = Path(parent) if Path(parent).is_absolute() else path.parent / parent
        if not parent_path.exists():
            parent_path = resolve_path(parent)
        path = parent_path
    merged = layers.pop()
    while layers:
        merged = _merge(merged, layers.pop())
    return merged


def load_scenario(name_or_path: str | Path = "baseline", **overrides: Any) -> Scenario:
    """Load and validate a scenario by bundled name or path; keyword overrides use dotted keys
    written with double underscores (``population__conflict_level=0.8``)."""
    path = resolve_path(name_or_path)
    if path.exists() and path.resolve() == DEFAULTS_FILE.resolve():
        available = ", ".join(path.stem for path in bundled_scenarios())
        raise ScenarioError(
            f"{path}: the calibrated behavioural defaults that bundled scenarios extend, not a "
            f"scenario to run; run one of: {available}"
        )
    if path.exists() and path.resolve() == (SCENARIO_DIR / NOT_SCENARIOS[1]).resolve():
        available = ", ".join(path.stem for path in bundled_scenarios())
        raise ScenarioError(
            f"{path}: the ensemble of acceptable calibration fits (buyingsim validate --ensemble), "
            f"not a scenario to run; run one of: {available}"
        )
    data = _read_toml(path)
    if "name" not in data:
        data["name"] = path.stem
    scenario = _validate(data, str(path))
    if overrides:
        scenario = scenario.with_overrides({k.replace("__", "."): v for k, v in overrides.items()})
    return scenario
