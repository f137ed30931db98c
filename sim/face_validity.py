"""Face validity: how the model responds to each input, one input at a time.

Each :class:`Response` varies one scenario field (or one lever of the focal strategy) across
its range with everything else at the ``baseline`` values, and simulates the same deals
(common random numbers) for each value and strategy. The expected direction of every response
is written in docs/validation.md before the runs; ``experiments/face_validity/run.py`` plots
the measured curves and ``tests/test_face_validity.py`` holds the committed directions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.results import mean_ci
from sim.scenario import Scenario, load_scenario
from sim.strategies import BUILTIN_STRATEGIES, STRATEGY_FIELDS, Strategy

# Measures of a curve: column, the deals it is averaged over ("all" or "purchases").
MEASURES: dict[str, str] = {
    "purchased": "all",
    "no_decision": "all",
    "status_quo": "all",
    "reached_horizon": "all",
    "purchase_ease": "purchases",
    "cycle_weeks": "purchases",
    "loops_total": "all",
    "loops_per_week": "all",
    "overwhelmed": "all",
    "peak_overload": "all",
    "deal_size": "purchases",
    "regret": "purchases",
    "acceptance": "purchases",
    "high_quality_deal": "purchases",
    "value_shortfall": "purchases",
    "focal_win": "all",
    "unresolved_contradictions": "all",
    "misalignment_stages": "all",
    "supplier_time_share": "all",
}


@dataclass(frozen=True)
class Response:
    """One input varied across its range: a scenario field (dotted) or a strategy lever."""

    name: str
    field: str  # "population.conflict_level", or "lever.meeting_time" for a focal strategy lever
    values: tuple[float, ...]
    strategies: tuple[str, ...] = tuple(BUILTIN_STRATEGIES)

    def scenario(self, base: Scenario, value: float, strategy: str) -> tuple[Scenario, str]:
        """The scenario and focal strategy name for one value."""
        if self.field.startswith("lever."):
            lever = self.field.removeprefix("lever.")
            designed = base.strategy(strategy).model_copy(update={lever: float(value)})
            Strategy.model_validate(designed.model_dump())  # the value must be a valid lever
            name = f"{strategy}_{lever}"
            return base.with_overrides({f"strategies.{name}": designed.model_dump()}), name
        if self.field == "population.group_sizes":
            overrides = {self.field: [int(value)], "population.group_size_weights": [1.0]}
        elif self.field == "simulation.horizon_weeks":
            overrides = {self.field: int(value)}
        else:
            overrides = {self.field: float(value)}
        return base.with_overrides(overrides), strategy


RESPONSES: tuple[Response, ...] = (
    Response("group size", "population.group_sizes", (1, 2, 3, 4, 6, 8, 10, 12, 14, 16)),
    Response("conflict", "population.conflict_level", (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)),
    Response("information volume", "population.information_volume",
             tuple(float(v) for v in np.arange(0.25, 10.01, 0.25))),
    Response("need for change", "population.need_for_change", (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)),
    Response("horizon", "simulation.horizon_weeks", (26, 52, 78, 104, 156)),
    *(
        Response(lever, f"lever.{lever}", values, ("seller_led",))
        for lever, values in (
            ("meeting_time", (0.0, 0.5, 1.0, 2.0, 3.0, 5.0)),
            ("digital_volume", (0.0, 0.5, 1.0, 2.0, 5.0, 10.0)),
            ("digital_quality", (0.0, 0.25, 0.5, 0.75, 1.0)),
            ("tailoring", (0.0, 0.25, 0.5, 0.75, 1.0)),
            ("persuasion", (0.0, 0.5, 1.0, 2.0, 3.0)),
            ("stage_alignment", (0.0, 0.25, 0.5, 0.75, 1.0)),
            ("group_level", (0.0, 0.25, 0.5, 0.75, 1.0)),
            ("resolve_contradictions", (0.0, 0.25, 0.5, 0.75, 1.0)),
            ("surface_unshared", (0.0, 0.25, 0.5, 0.75, 1.0)),
            ("prune_overload", (0.0, 0.25, 0.5, 0.75, 1.0)),
        )
    ),
)  # fmt: skip
RESPONSE_BY_NAME = {response.name: response for response in RESPONSES}
assert {r.name for r in RESPONSES} >= set(STRATEGY_FIELDS)


def _measures(deals: pd.DataFrame) -> pd.DataFrame:
    """The per-deal columns of MEASURES (derived ones added)."""
    return deals.assign(
        status_quo=deals["end_reason"] == "status_quo",
        loops_per_week=deals["loops_total"] / deals["cycle_weeks"].clip(lower=1),
    )


def response_curve(
    response: Response,
    n_deals: int = 2000,
    seed: int = 0,
    base: Scenario | None = None,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Mean and 95% CI of every measure at each value and strategy (long table: value,
    strategy, measure, mean, ci_low, ci_high, n), all on the same deals."""
    from sim.engine import simulate_frame

    base = base or load_scenario("baseline")
    rows = []
    for value in response.values:
        for strategy in response.strategies:
            scenario, name = response.scenario(base, value, strategy)
            deals = _measures(simulate_frame(scenario, n_deals, seed, name))
            purchased = deals["purchased"].to_numpy(bool)
            for measure, over in MEASURES.items():
                values = deals[measure].to_numpy(float)
                if over == "purchases":
                    values = values[purchased]
                mean, low, high, n = mean_ci(values)
                rows.append({"input": response.name, "value": value, "strategy": strategy, "measure": measure,
                             "mean": mean, "ci_low": low, "ci_high": high, "n": n})  # fmt: skip
            if progress is not None:
                progress(n_deals)
    return pd.DataFrame(rows)


def curve(table: pd.DataFrame, measure: str, strategy: str) -> pd.Series:
    """One measure's means by value for one strategy, from a response_curve table."""
    rows = table[(table["measure"] == measure) & (table["strategy"] == strategy)]
    return rows.set_index("value")["mean"]


def largest_step(table: pd.DataFrame, measure: str) -> float:
    """The largest change of a measure between neighbouring values, over strategies."""
    return max(float(curve(table, measure, s).diff().abs().max()) for s in table["strategy"].unique())
