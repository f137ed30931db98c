"""The strategy designer's logic, without a browser: levers, conditions, runs and verdicts.

The levers are read from :class:`sim.strategies.Strategy` itself (each field's bounds and
description), so a lever the model gains appears in the designer without a change here. A
designed strategy runs on the same deals as the presets (same scenario, seed and deal count:
common random numbers), so the paired difference per deal isolates the strategy. Runs are
cached per strategy within :data:`CACHE_BUDGET_BYTES`: moving one slider simulates only the
designed strategy again, the presets come from the cache.

A design is saved as a scenario file that ``extends`` a bundled scenario and holds the
strategy as a ``[strategies.NAME]`` table (and the buyer conditions set on the page), which
``buyingsim compare FILE --strategies NAME`` runs; loading reads such a file back through the
scenario loader, so the page refuses exactly what the command line refuses.
"""

from __future__ import annotations

import contextlib
import math
import re
import tempfile
import threading
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import numpy as np
import pandas as pd

import sim
from dashboards.cache import BoundedCache
from dashboards.inputs import FieldError, bundled_scenarios, in_range, pick
from sim.analysis import DIRECTION
from sim.effort import DEFAULT_EFFORT_BUDGET, effort_used, within_budget
from sim.engine import BLOCK_SIZE, iter_chunks
from sim.results import HEADLINE, METRICS, PERCENT_METRICS, Results, compare_strategies
from sim.scenario import MAX_GROUP_SIZE, Population, Scenario, ScenarioError, load_scenario
from sim.strategies import BUILTIN_STRATEGIES, Strategy

DESIGNED = "designed"  # the designed strategy's name while it lives only in the page
PRESETS = tuple(BUILTIN_STRATEGIES)
DEFAULT_DEALS = 2000
DEAL_CHOICES = [500, 1000, 2000, 5000]
DEBOUNCE_SECONDS = 0.15  # a slider being dragged sends many values; only the last one runs
# Finished single-strategy runs kept for every session, least recently used dropped first.
# One run of 2,000 deals holds about 1 MB, so the budget keeps well over a hundred.
CACHE_BUDGET_BYTES = 150 * 2**20
SWEEP_POINTS = 5
SWEEP_DEALS = 512  # per strategy and point: two whole engine blocks
MAX_NAME_LENGTH = 40
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
MAX_LOADED_BYTES = 64 * 1024


# --- levers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lever:
    """One number of a vendor strategy, as the designer's slider shows it."""

    name: str
    label: str
    description: str
    low: float
    high: float
    step: float


def _bound(metadata: list[Any], kind: str) -> float:
    return float(next(getattr(item, kind) for item in metadata if hasattr(item, kind)))


def _step(span: float) -> float:
    """A round slider step giving 50-500 positions over ``span``."""
    return 10.0 ** math.floor(math.log10(span / 50))


def levers() -> list[Lever]:
    """Every field of :class:`Strategy`, in declaration order, with its bounds (ge/le)."""
    found = []
    for name, info in Strategy.model_fields.items():
        low, high = _bound(info.metadata, "ge"), _bound(info.metadata, "le")
        found.append(Lever(name, name.replace("_", " ").capitalize(), info.description or "",
                           low, high, _step(high - low)))
    return found


def set_lever(strategy: Strategy, name: str, value: object) -> Strategy:
    """``strategy`` with lever ``name`` at ``value`` if the browser sent an allowed number;
    otherwise FieldError naming the lever and its range."""
    lever = next((lever for lever in levers() if lever.name == name), None)
    if lever is None:
        raise FieldError(f"{name}: not a lever ({', '.join(lever.name for lever in levers())})")
    checked = in_range(lever.label.lower(), value, lever.low, lever.high)
    return Strategy(**{**strategy.model_dump(), name: round(float(checked), 6)})


@dataclass(frozen=True)
class Effort:
    """What a design spends of the vendor's effort budget, and what is delivered."""

    used: float
    budget: float
    delivered: Strategy  # scaled down to the budget when over it

    @property
    def over(self) -> bool:
        return self.used > self.budget

    @property
    def share(self) -> float:
        return self.used / self.budget

    def message(self) -> str:
        spent = f"Effort {self.used:.2f} of {self.budget:.2f} per week"
        if not self.over:
            return f"{spent}: within budget."
        return (f"{spent}: over budget; every costly lever will be scaled down by "
                f"the factor {self.budget / self.used:.3f} "
                "when the deals run.")


def effort_of(strategy: Strategy, budget: float = DEFAULT_EFFORT_BUDGET) -> Effort:
    """The effort ``strategy`` asks for against ``budget`` (see :mod:`sim.effort`)."""
    return Effort(effort_used(strategy), budget, within_budget(strategy, budget))


# --- buyer conditions ---------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """A buyer condition the page can fix for every deal (a point instead of the scenario's
    range), and sweep over."""

    name: str
    label: str
    unit: str
    low: float
    high: float
    step: float
    whole: bool = False


CONDITIONS: dict[str, Condition] = {
    condition.name: condition for condition in (
        Condition("group_size", "Group size", "people", 1, MAX_GROUP_SIZE, 1, whole=True),
        Condition("conflict_level", "Conflict level", "0-1", 0.0, 1.0, 0.05),
        Condition("information_volume", "Information volume", "x average", 0.0, 4.0, 0.1),
        Condition("need_for_change", "Need for change", "0-1", 0.0, 1.0, 0.05),
    )
}
NETWORKS: tuple[str, ...] = get_args(Population.model_fields["network"].annotation)


def check_condition(name: str, value: object) -> float | int | str:
    """A condition's value if the browser sent an allowed one; else FieldError."""
    if name == "network":
        return pick("network", value, list(NETWORKS))
    condition = CONDITIONS.get(name)
    if condition is None:
        raise FieldError(f"{name}: not a condition ({', '.join([*CONDITIONS, 'network'])})")
    return in_range(condition.label.lower(), value, condition.low, condition.high,
                    whole=condition.whole)


def condition_overrides(conditions: dict[str, Any]) -> dict[str, Any]:
    """Scenario overrides (dotted keys) that fix the given conditions for every deal."""
    overrides: dict[str, Any] = {}
    for name, value in conditions.items():
        if name == "group_size":
            overrides["population.group_sizes"] = [int(value)]
            overrides["population.group_size_weights"] = [1.0]
        elif name == "network":
            overrides["population.network"] = value
        else:
            overrides[f"population.{name}"] = float(value)
    return overrides


def scenario_conditions(scenario: Scenario) -> dict[str, str]:
    """How the scenario itself draws each condition, as shown beside its control."""
    population = scenario.population
    sizes = population.group_sizes
    shown = {"group_size": f"{min(sizes)}-{max(sizes)}" if len(sizes) > 1 else str(sizes[0]),
             "network": population.network}
    for name in ("conflict_level", "information_volume", "need_for_change"):
        span = getattr(population, name)
        shown[name] = f"{span.low:g}" if span.low == span.high else f"{span.low:g}-{span.high:g}"
    return shown


def conditioned(scenario: str | Scenario, conditions: dict[str, Any]) -> Scenario:
    """The scenario with the conditions fixed (validated by the scenario code)."""
    loaded = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    return loaded.with_overrides(condition_overrides(conditions)) if conditions else loaded


def with_design(scenario: Scenario, strategy: Strategy, name: str = DESIGNED) -> Scenario:
    """The scenario with ``strategy`` added under ``name``."""
    return scenario.with_overrides({f"strategies.{name}": strategy.model_dump()})


# --- runs: bounded cache, common random numbers -------------------------------------------


def run_size(run: Results) -> int:
    """Bytes a run's per-deal table holds (what the cache budget counts)."""
    return int(run.deals.memory_usage(index=True, deep=True).sum())


runs_cache: BoundedCache[Results] = BoundedCache(CACHE_BUDGET_BYTES, run_size)


def run_key(scenario: Scenario, name: str, n_deals: int, seed: int) -> tuple:
    """What a run of strategy ``name`` depends on: the scenario apart from its strategy
    table, the focal and competitor strategies' levers, the deal count and the seed."""
    competitor = scenario.population.competitor_strategy
    return (scenario.model_dump_json(exclude={"strategies", "source", "name", "description"}),
            name, scenario.strategy(name).model_dump_json(),
            scenario.strategy(competitor).model_dump_json(), int(n_deals), int(seed))


def run_strategy(scenario: Scenario, name: str, n_deals: int, seed: int) -> Results:
    """``n_deals`` deals of ``scenario`` under strategy ``name`` (cached)."""
    key = run_key(scenario, name, n_deals, seed)
    cached = runs_cache.get(key)
    if cached is not None:
        return cached
    sim.check_in_memory_deals(n_deals)
    # Two halves on whole engine blocks, in parallel threads (the compiled engine releases
    # the interpreter lock): every deal depends only on the seed and its index, so the rows
    # are those of one sim.simulate call.
    half = -(-n_deals // (2 * BLOCK_SIZE)) * BLOCK_SIZE
    parts = [(0, min(half, n_deals)), (half, n_deals - half)] if n_deals > half else [(0, n_deals)]
    with ThreadPoolExecutor(max_workers=len(parts), thread_name_prefix="design-part") as pool:
        frames = list(pool.map(lambda part: pd.concat(list(iter_chunks(
            scenario, part[1], seed, name, first_deal=part[0])), ignore_index=True), parts))
    run = Results(deals=pd.concat(frames, ignore_index=True), scenario=scenario.name, seed=seed,
                  strategy=name, metadata={"n_deals": n_deals, "source": scenario.source})
    runs_cache.put(key, run)
    return run


def run_strategies(scenario: Scenario, names: list[str], n_deals: int,
                   seed: int) -> dict[str, Results]:
    """Each named strategy on the same deals, in parallel threads (the compiled engine
    releases the interpreter lock while it runs)."""
    with ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="design") as pool:
        futures = {name: pool.submit(run_strategy, scenario, name, n_deals, seed) for name in names}
        return {name: future.result() for name, future in futures.items()}


@dataclass(frozen=True)
class Evaluation:
    """The designed strategy and the presets on the same deals."""

    scenario: str
    n_deals: int
    seed: int
    strategy: Strategy
    runs: dict[str, Results]  # DESIGNED first, then the presets
    table: pd.DataFrame  # compare_strategies: mean and 95% CI per metric and strategy
    seconds: float

    def paired(self, reference: str) -> pd.DataFrame:
        """Designed minus ``reference`` per headline metric, on the same deals, with 95% CI."""
        return self.runs[reference].compare(self.runs[DESIGNED], HEADLINE)


def evaluate(scenario: str | Scenario, strategy: Strategy, conditions: dict[str, Any],
             n_deals: int = DEFAULT_DEALS, seed: int = 0) -> Evaluation:
    """Run the design and the three presets on the same deals under the conditions."""
    started = time.perf_counter()
    loaded = with_design(conditioned(scenario, conditions), strategy)
    runs = run_strategies(loaded, [DESIGNED, *PRESETS], n_deals, seed)
    return Evaluation(loaded.name, n_deals, seed, strategy, runs,
                      compare_strategies(runs, HEADLINE), time.perf_counter() - started)


def prewarm(scenario: str = "baseline") -> threading.Thread:
    """Run the presets of the default design in the background, so the first visit of the
    designer only simulates the designed strategy."""
    def work() -> None:
        with contextlib.suppress(ScenarioError):  # the page shows it when someone opens it
            run_strategies(load_scenario(scenario), list(PRESETS), DEFAULT_DEALS, 0)
    thread = threading.Thread(target=work, name="design-prewarm", daemon=True)
    thread.start()
    return thread


def sweep_values(name: str) -> list[float | int]:
    """The points a sweep over condition ``name`` visits: the middles of SWEEP_POINTS equal
    slices of its range (whole numbers for group size)."""
    condition = CONDITIONS[name]
    span = condition.high - condition.low
    points = [condition.low + (i + 0.5) * span / SWEEP_POINTS for i in range(SWEEP_POINTS)]
    if condition.whole:
        return sorted({int(round(point)) for point in points})
    return [round(point, 6) for point in points]


def sweep(scenario: str | Scenario, strategy: Strategy, conditions: dict[str, Any],
          reference: str, condition: str, seed: int = 0,
          n_deals: int = SWEEP_DEALS) -> pd.DataFrame:
    """The paired difference (designed minus ``reference``) of every headline metric at each
    value of ``condition``, the other conditions as given: one row per value and metric."""
    if condition not in CONDITIONS:
        raise FieldError(f"sweep over {condition!r}: not a condition ({', '.join(CONDITIONS)})")
    reference = pick("reference", reference, list(PRESETS))
    loaded = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    rows = []
    for value in sweep_values(condition):
        point = with_design(conditioned(loaded, {**conditions, condition: value}), strategy)
        runs = run_strategies(point, [DESIGNED, reference], n_deals, seed)
        paired = runs[reference].compare(runs[DESIGNED], HEADLINE)
        for metric, row in paired.iterrows():
            rows.append({"value": value, "metric": metric, "difference": row["difference"],
                         "ci_low": row["ci_low"], "ci_high": row["ci_high"], "n": row["n"],
                         "verdict": verdict(metric, row, reference)[0]})
    frame = pd.DataFrame(rows)
    frame.attrs["condition"] = condition
    return frame


# --- verdicts -----------------------------------------------------------------------------


def format_value(value: float, metric: str, signed: bool = False) -> str:
    """A metric's value as the page shows it: percentages for shares, three decimals else."""
    if value is None or np.isnan(value):
        return "n/a"
    sign = "+" if signed else ""
    if metric in PERCENT_METRICS:
        return f"{100 * value:{sign}.1f}" + (" pts" if signed else "%")
    return f"{value:{sign}.3f}"


def verdict(metric: str, row: pd.Series, reference: str) -> tuple[str, str]:
    """(kind, sentence) for one paired difference: kind is ``better``, ``worse``,
    ``higher``/``lower`` (no direction), ``unclear`` or ``none`` (not enough deals)."""
    difference, low, high = row["difference"], row["ci_low"], row["ci_high"]
    if any(np.isnan(value) for value in (difference, low, high)):
        return "none", f"Not enough {METRICS[metric][1]} under both strategies to compare."
    if low <= 0 <= high:
        return "unclear", f"No clear difference from {reference} (the 95% CI includes zero)."
    direction = DIRECTION.get(metric)
    kind = (("higher" if difference > 0 else "lower") if direction is None
            else "better" if direction * difference > 0 else "worse")
    return kind, f"Clearly {kind} than {reference} (the 95% CI excludes zero)."


# --- saving and loading -------------------------------------------------------------------


def check_name(text: object) -> str:
    """A name for a saved strategy: lower-case letters, digits and _, starting with a letter,
    not a preset's name (which the file would then replace)."""
    name = str(text).strip()
    allowed = (f"lower-case letters, digits and _, starting with a letter, at most "
               f"{MAX_NAME_LENGTH} characters")
    if not NAME_PATTERN.fullmatch(name) or len(name) > MAX_NAME_LENGTH:
        raise FieldError(f"name {name[:MAX_NAME_LENGTH]!r}: must be {allowed}")
    if name in BUILTIN_STRATEGIES or name == DESIGNED:
        raise FieldError(f"name {name!r}: taken by a built-in strategy; choose another")
    return name


def _toml_number(value: float | int) -> str:
    return str(int(value)) if isinstance(value, int) else repr(round(float(value), 6))


def strategy_toml(name: str, strategy: Strategy, scenario: str,
                  conditions: dict[str, Any] | None = None) -> str:
    """A scenario file extending bundled ``scenario`` with the strategy under ``name``."""
    name = check_name(name)
    scenario = pick("scenario", scenario, bundled_scenarios())
    lines = ["# A vendor strategy designed in the buyingsim dashboard. Compare it with:",
             f"#   buyingsim compare {name}.toml --strategies "
             f"{','.join([name, *PRESETS])}",
             f'extends = "{scenario}.toml"', f'name = "{scenario}_{name}"', ""]
    overrides = condition_overrides(conditions or {})
    if overrides:
        lines.append("[population]")
        for dotted, value in overrides.items():
            field = dotted.removeprefix("population.")
            if isinstance(value, list):
                shown = "[" + ", ".join(_toml_number(item) for item in value) + "]"
            elif isinstance(value, str):
                shown = f'"{pick("network", value, list(NETWORKS))}"'
            else:
                shown = _toml_number(value)
            lines.append(f"{field} = {shown}")
        lines.append("")
    lines.append(f"[strategies.{name}]")
    lines += [f"{field} = {_toml_number(value)}" for field, value in strategy.model_dump().items()]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Loaded:
    """A strategy read back from a saved file, and the scenario it extends."""

    name: str
    strategy: Strategy
    scenario: str
    note: str  # what was loaded, one line


LOADED_SOURCE = "the loaded file"


def load_strategy_toml(text: str) -> Loaded:
    """The strategy in a saved file's text, validated by the scenario loader. The file may
    extend only a bundled scenario (nothing else on the server is read); every problem is one
    line (a FieldError) naming the field and what is allowed."""
    raw = text.encode("utf-8", errors="replace")
    if len(raw) > MAX_LOADED_BYTES:
        raise FieldError(f"{LOADED_SOURCE}: larger than {MAX_LOADED_BYTES:,} bytes")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise FieldError(f"{LOADED_SOURCE}: not valid TOML ({error})") from None
    names = bundled_scenarios()
    parent = data.get("extends")
    allowed = ", ".join(f"{name}.toml" for name in names)
    if not isinstance(parent, str) or Path(parent).stem not in names or parent != f"{Path(parent).stem}.toml":
        raise FieldError(f"{LOADED_SOURCE}: field extends = {parent!r}: must name a bundled "
                         f"scenario ({allowed})")
    strategies = data.get("strategies")
    if not isinstance(strategies, dict) or not strategies:
        raise FieldError(f"{LOADED_SOURCE}: needs a [strategies.NAME] table with the levers "
                         f"({', '.join(Strategy.model_fields)})")
    with tempfile.TemporaryDirectory(prefix="buyingsim-load-") as folder:
        path = Path(folder) / "loaded.toml"
        path.write_text(text, encoding="utf-8")
        try:
            scenario = load_scenario(path)
        except ScenarioError as error:
            message = str(error).splitlines()[0].replace(str(path), LOADED_SOURCE)
            raise FieldError(message) from None
    name = next(iter(strategies))
    others = [other for other in strategies if other != name]
    note = f"Loaded strategy {name!r} (extends {parent})"
    if others:
        note += f"; the file also holds {', '.join(map(repr, others))}, not loaded"
    return Loaded(name, scenario.strategy(name), Path(parent).stem, note + ".")
