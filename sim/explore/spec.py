"""Sweep specs: the TOML a user writes, validated.

A *sweep spec* names a base scenario, the buyer conditions to vary, the strategies to compare
and how many deals to simulate at each point. The vocabulary follows exploratory modelling
(EMA Workbench): *uncertainties* are the conditions a vendor does not control (the swept
parameters), the *levers* are the strategies it chooses between (all run on the same deals at
a point: common random numbers), and *outcomes* are the per-deal metrics. This module holds
the spec's schema, its limits and the sweep's user-facing error; it imports nothing else of
the exploration layer.
"""

from __future__ import annotations

from typing import Any, Literal

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

from sim.engine import BLOCK_SIZE, MAX_SEED
from sim.outcomes import COLUMNS
from sim.results import HEADLINE
from sim.scenario import (
    format_validation_error,
)
from sim.strategies import BUILTIN_STRATEGIES

MAX_POINTS = 100_000


MAX_UNCERTAINTIES = 50


DEFAULT_CHUNK_DEALS = 2048


GROUP_SIZE = "group_size"


NON_OUTCOME_COLUMNS = ("deal", "strategy", "outcome", "end_reason")


OUTCOME_COLUMNS = tuple(name for name in COLUMNS if name not in NON_OUTCOME_COLUMNS)


# not parameters: an uncertainty may not take one of these names (nor an outcome's name).
RESERVED_NAMES = (
    "point", "seed", "strategy", "deal", "metric", "over", "mean", "ci_low", "ci_high", "n",
    "best", "best_mean", "runner_up", "runner_up_mean", "difference", "n_paired", "clear",
    "points", "target", "outcome", "parameter", "value", "filled_points",
)  # fmt: skip


SweepKind = Literal["sweep", "sensitivity"]


class SweepError(ValueError):
    """A user-facing sweep problem (bad spec, refused directory, failed point): one line."""


class SweepWarning(UserWarning):
    """Something a run repaired on its own (e.g. a damaged chunk it recomputes)."""


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
        if self.method == "sobol" and self.points is not None and self.points & (self.points - 1):
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
        default_factory=lambda: list(BUILTIN_STRATEGIES), min_length=1
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


def _validated_spec(data: dict[str, Any], source: str) -> SweepSpec:
    try:
        return SweepSpec.model_validate({**data, "source": source})
    except ValidationError as error:
        raise SweepError(format_validation_error(source, error, SweepSpec)) from None

