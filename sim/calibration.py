"""Calibration: fit the free behavioural parameters so the market reproduces the research.

``Calibration(...).calibrate()`` runs an Optuna study (TPE, seeded) whose objective simulates
the ``market`` population with trial parameters and sums the squared misses of every research
figure in :mod:`sim.research`, each measured in half-widths of its band. Trials run in
parallel worker processes sharing a journal file, so a study can be interrupted and resumed.
``write_defaults`` stores the best parameters, with provenance, in ``scenarios/defaults.toml``,
which every bundled scenario extends. ``fit_check`` re-simulates with committed parameters.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.outcomes import judge
from sim.research import FIGURE_BY_KEY, FIGURES, figure_table, figure_values
from sim.scenario import DEFAULTS_FILE, Scenario, load_scenario, read_toml_file

MISS_CAP = 25.0  # a figure cannot cost more than 5 half-bands squared
DEGENERATE_PENALTY = 100.0
DIRECTION_PENALTY = 50.0
HELPFUL_SHARE = (0.15, 0.85)  # plausible share of purchases whose buyers found supplier info helpful
MIN_BASE_RATE = 0.05  # an outcome compared in a ratio must not be rarer than this


@dataclass(frozen=True)
class FreeParameter:
    """A behavioural constant the calibration may move, within a plausible range."""

    name: str  # field of the [behaviour] table
    low: float
    high: float
    why: str  # what bounds the plausible range
    integer: bool = False

    def suggest(self, trial) -> float:
        if self.integer:
            return trial.suggest_int(self.name, int(self.low), int(self.high))
        return trial.suggest_float(self.name, self.low, self.high)


# Parameters of the weekly dynamics: each trial simulates the market with them.
DYNAMICS_PARAMETERS: list[FreeParameter] = [
    FreeParameter("base_share_suppliers", 0.06, 0.16, "supplier meetings are a minority of buying time"),
    FreeParameter("contradiction_gap", 1.2, 3.5, "2-6 standard deviations of an unbiased item's error"),
    FreeParameter("reopen_threshold", 0.55, 0.74, "below the done threshold (0.75): hysteresis"),
    FreeParameter("contradiction_shock", 0.0, 0.5, "a contradiction sets a job back at most by half"),
    FreeParameter(
        "attention_share", 0.15, 0.6, "a job is being worked on when a sizeable part of the group is on it"
    ),
    FreeParameter(
        "revisit_gap", 1, 6, "weeks away from a job before coming back counts as a loop", integer=True
    ),
    FreeParameter(
        "choice_change_shock", 0.0, 0.6, "a switch of supplier undoes at most part of the later jobs"
    ),
    FreeParameter(
        "enablement_gain",
        0.0,
        3.0,
        "helpful information speeds the current job, up to several people's effort",
    ),
    FreeParameter("dissent_pull", 0.0, 3.0, "dissenters can undo at most a few weeks of work"),
    FreeParameter("need_margin", 0.0, 0.8, "gain over the status quo, in item-claim units"),
    FreeParameter("preference_tolerance", 0.0, 0.6, "how far below one's favourite one still accepts"),
    FreeParameter("veto_margin", 0.1, 1.5, "loss vs status quo at which a member vetoes"),
    FreeParameter("capacity", 6.0, 18.0, "items a person holds without strain (4-5 at the start)"),
    FreeParameter("misalignment_penalty", 0.0, 0.4, "attitude loss per stage a rep is ahead"),
    FreeParameter("items_per_week", 0.4, 1.6, "new items per person-week at volume 1"),
    FreeParameter(
        "self_resolve_rate", 0.0, 0.1, "groups rarely settle a contradiction alone (weekly chance)"
    ),
    FreeParameter("exhaustion_overload", 0.0, 0.2, "exhaustion per week of full overload"),
    FreeParameter("exhaustion_loop", 0.0, 0.3, "exhaustion per reopened job"),
]
# Parameters of how groups judge their journey (sim.outcomes.judge): fitted per trial on the
# simulated deals without simulating again.
JUDGEMENT_PARAMETERS: list[FreeParameter] = [
    FreeParameter("overwhelmed_threshold", 0.05, 0.6, "peak overload that people call overwhelming"),
    FreeParameter("ease_loops", 0.0, 0.4, "ease lost per loop"),
    FreeParameter("ease_time", 0.0, 1.5, "ease lost by a journey as long as the horizon"),
    FreeParameter("ease_overload", 0.0, 1.5, "ease lost at full peak overload"),
    FreeParameter("ease_contradictions", 0.0, 0.5, "ease lost per contradiction met"),
    FreeParameter("high_ease_threshold", 0.4, 0.85, "ease a buyer calls high"),
    FreeParameter("difficult_threshold", 0.3, 0.8, "ease below which a buyer calls it complex or difficult"),
    FreeParameter("scope_clarity_gain", 0.0, 1.0, "scope added by fully helpful supplier information"),
    FreeParameter("scope_loop_shrink", 0.0, 0.15, "scope lost per loop"),
    FreeParameter("settle_threshold", 0.7, 1.0, "deal size below which the group settled for less"),
    FreeParameter("expectation_tolerance", 0.0, 0.5, "shortfall vs belief that breaks expectations"),
    FreeParameter("strong_expectation_margin", -0.2, 0.5, "margin over belief that counts as strongly met"),
    FreeParameter("helpful_threshold", 0.2, 0.8, "share of helpful supplier items for 'helpful'"),
]
FREE_PARAMETERS = DYNAMICS_PARAMETERS + JUDGEMENT_PARAMETERS
# Per-deal measures the judgements are made from (columns of the results).
MEASURE_COLUMNS = (
    "purchased", "cycle_weeks", "loops_total", "peak_overload", "contradictions_met",
    "supplier_items", "helpful_share", "acceptance", "value_shortfall", "expectation_gap",
)  # fmt: skip


# Directions the research describes (seeds 001, 003, 004), checked between the strategy groups
# of the market sample: (measure, strategy expected lower, strategy expected higher).
STRATEGY_DIRECTIONS = (
    ("no_decision", "sense_making", "seller_led"),
    ("contradictions_met", "sense_making", "digital_first"),
    ("unresolved_contradictions", "sense_making", "digital_first"),
    ("peak_overload", "sense_making", "digital_first"),
    ("focal_win", "seller_led", "sense_making"),
)
JUDGED_DIRECTIONS = (("purchase_ease", "seller_led", "sense_making"),)


def direction_penalty(deals, directions=STRATEGY_DIRECTIONS) -> float:
    """Penalty when the strategies of the market stop differing in the research's directions
    (each must differ by at least 5% of the larger mean)."""
    if "strategy" not in deals:
        return 0.0
    strategy = np.asarray(deals["strategy"])
    penalty = 0.0
    for measure, lower, higher in directions:
        values = np.asarray(deals[measure], dtype=float)
        low = values[strategy == lower].mean() if (strategy == lower).any() else np.nan
        high = values[strategy == higher].mean() if (strategy == higher).any() else np.nan
        if np.isfinite(low) and np.isfinite(high):
            shortfall = low - high + 0.05 * max(abs(low), abs(high))
            penalty += DIRECTION_PENALTY * max(0.0, shortfall) / max(abs(low), abs(high), 1e-9)
    return penalty


def dynamics_penalty(deals: pd.DataFrame) -> float:
    """Penalty for degenerate dynamics: nobody (or everybody) buys, journeys without length,
    strategies that no longer differ as the research says."""
    penalty = direction_penalty(deals)
    purchased = deals["purchased"].mean()
    if purchased < 0.05 or purchased > 0.95:
        penalty += DEGENERATE_PENALTY
    if deals["cycle_weeks"].median() <= 2:
        penalty += DEGENERATE_PENALTY
    return penalty


def judgement_penalty(purchased: np.ndarray, judged, strategy: np.ndarray | None = None) -> float:
    """Penalty for ratio figures measured on tiny groups: the helpful share among purchases
    must stay between 15% and 85%, and the outcomes compared must not be rare among the
    others, or a ratio of 3 could come from a handful of deals."""
    purchased = np.asarray(purchased, dtype=bool)
    helpful = np.asarray(judged["helpful_info"], dtype=bool)[purchased]
    share = helpful.mean() if len(helpful) else 0.0
    penalty = DEGENERATE_PENALTY * max(0.0, HELPFUL_SHARE[0] - share, share - HELPFUL_SHARE[1]) / 0.1
    for outcome in ("high_ease", "bigger_deal_less_regret"):
        rate = np.asarray(judged[outcome], dtype=bool)[purchased][~helpful]
        rate = rate.mean() if len(rate) else 0.0
        penalty += DEGENERATE_PENALTY * max(0.0, MIN_BASE_RATE - rate) / MIN_BASE_RATE
    if strategy is not None:
        penalty += direction_penalty({"strategy": strategy, **judged}, JUDGED_DIRECTIONS)
    return float(penalty)


def objective_value(deals: pd.DataFrame) -> float:
    """Sum of capped squared misses (in half-bands) over all figures, plus degeneracy penalties."""
    values = figure_values(deals)
    total = sum(min(figure.miss(values[figure.key]) ** 2, MISS_CAP) for figure in FIGURES)
    total += dynamics_penalty(deals) + judgement_penalty(deals["purchased"], deals, deals["strategy"])
    return float(total)


def scenario_with(base: Scenario, parameters: dict[str, float]) -> Scenario:
    """The base scenario with behavioural parameters replaced."""
    return base.with_overrides({f"behaviour.{name}": value for name, value in parameters.items()})


class Rejudge:
    """Fits the judgement parameters to one set of simulated deals.

    Judgements (ease, deal size, regret, ...) are a function of per-deal measures
    (``sim.outcomes.judge``), so trying judgement parameters needs no new simulation; figures
    that depend only on the dynamics are computed once.
    """

    def __init__(self, deals: pd.DataFrame, behaviour, horizon: int):
        self.behaviour, self.horizon = behaviour, horizon
        values = figure_values(deals)
        self.fixed = sum(min(f.miss(values[f.key]) ** 2, MISS_CAP) for f in FIGURES if not f.judged)
        self.fixed += dynamics_penalty(deals)
        self.measures = {name: deals[name].to_numpy() for name in MEASURE_COLUMNS}
        self.purchased = deals["purchased"].to_numpy()
        self.strategy = deals["strategy"].to_numpy()

    def objective(self, parameters: dict[str, float]) -> tuple[float, dict[str, float]]:
        """Objective and judged figure values with these judgement parameters."""
        judged = judge(self.measures, self.behaviour.model_copy(update=parameters), self.horizon)
        frame = pd.DataFrame({"purchased": self.purchased, **judged})
        values = {f.key: float(f.compute(frame)) for f in FIGURES if f.judged}
        total = self.fixed + sum(min(FIGURE_BY_KEY[k].miss(v) ** 2, MISS_CAP) for k, v in values.items())
        return total + judgement_penalty(self.purchased, judged, self.strategy), values

    def fit(self, trials: int, seed: int, start: dict[str, float]) -> tuple[dict[str, float], float]:
        """Best judgement parameters found by a seeded TPE search of ``trials`` evaluations."""
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=20))
        study.enqueue_trial(start)
        study.optimize(
            lambda trial: self.objective({p.name: p.suggest(trial) for p in JUDGEMENT_PARAMETERS})[0],
            n_trials=trials,
        )
        return dict(study.best_params), float(study.best_value)


def evaluate(
    base: Scenario, dynamics: dict[str, float], n_deals: int, seed: int, judgement_trials: int = 150
) -> tuple[float, dict[str, float], dict[str, float]]:
    """Simulate the market with dynamics parameters, then fit the judgement parameters.

    Returns the objective, the judgement parameters and every figure's value."""
    from sim import simulate

    scenario = scenario_with(base, dynamics)
    deals = simulate(scenario, n_deals, seed).deals
    rejudge = Rejudge(deals, scenario.behaviour, scenario.simulation.horizon_weeks)
    start = {
        p.name: float(np.clip(getattr(scenario.behaviour, p.name), p.low, p.high))
        for p in JUDGEMENT_PARAMETERS
    }
    judgement, value = rejudge.fit(judgement_trials, seed, start)
    figures = figure_values(deals)
    figures.update(rejudge.objective(judgement)[1])
    return value, judgement, figures


def _worker(
    storage_path: str,
    study_name: str,
    scenario_path: str,
    n_deals: int,
    seed: int,
    n_trials: int,
    sampler_seed: int,
) -> None:
    """Run trials in one process until the study holds ``n_trials`` finished trials."""
    import optuna
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    storage = _storage(storage_path)
    sampler = optuna.samplers.TPESampler(seed=sampler_seed, multivariate=True, n_startup_trials=24)
    study = optuna.load_study(study_name=study_name, storage=storage, sampler=sampler)
    base = load_scenario(scenario_path)

    def objective(trial: optuna.Trial) -> float:
        dynamics = {p.name: p.suggest(trial) for p in DYNAMICS_PARAMETERS}
        value, judgement, figures = evaluate(base, dynamics, n_deals, seed)
        trial.set_user_attr("judgement", judgement)
        for key, figure_value in figures.items():
            trial.set_user_attr(key, figure_value)
        return value

    study.optimize(
        objective,
        callbacks=[MaxTrialsCallback(n_trials, states=(TrialState.COMPLETE,))],
        catch=(ValueError,),
    )


def _storage(path: str):
    import optuna
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(path))


@dataclass
class Calibration:
    """An Optuna calibration of the market scenario against the research figures."""

    scenario: str | Path = "market"
    n_trials: int = 150
    n_deals: int = 4000
    seed: int = 7
    workers: int = field(default_factory=lambda: multiprocessing.cpu_count())
    storage: Path = Path("output/calibration/study.journal")
    study_name: str = "market-calibration"

    def calibrate(self, progress: Callable[[int, int, float], None] | None = None) -> dict[str, float]:
        """Run (or resume) the study until ``n_trials`` trials are complete; returns the best
        parameters. ``progress(done, total, best)`` is called about once a second."""
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.storage.parent.mkdir(parents=True, exist_ok=True)
        storage = _storage(str(self.storage))
        study = optuna.create_study(
            study_name=self.study_name, storage=storage, direction="minimize", load_if_exists=True
        )
        if not study.trials:
            dynamics = {p.name for p in DYNAMICS_PARAMETERS}
            current = {k: v for k, v in self.current_parameters().items() if k in dynamics}
            study.enqueue_trial(current)  # start from the committed defaults
        scenario_path = str(load_scenario(self.scenario).source)
        context = multiprocessing.get_context("spawn")
        processes = [
            context.Process(
                target=_worker,
                args=(
                    str(self.storage),
                    self.study_name,
                    scenario_path,
                    self.n_deals,
                    self.seed,
                    self.n_trials,
                    self.seed + index,
                ),
            )
            for index in range(max(1, self.workers))
        ]
        for process in processes:
            process.start()
        try:
            while any(process.is_alive() for process in processes):
                time.sleep(1.0)
                if progress is not None:
                    done, best = self._status(study)
                    progress(done, self.n_trials, best)
        finally:
            for process in processes:
                if process.is_alive():
                    process.terminate()
                process.join()
        failed = [p.exitcode for p in processes if p.exitcode not in (0, None)]
        if failed:
            raise RuntimeError(f"calibration workers failed with exit codes {failed}")
        if progress is not None:
            done, best = self._status(study)
            progress(done, self.n_trials, best)
        return self.best()[0]

    def _status(self, study) -> tuple[int, float]:
        from optuna.trial import TrialState

        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        best = min((t.value for t in trials), default=float("nan"))
        return len(trials), best

    def current_parameters(self) -> dict[str, float]:
        """The committed values of the free parameters (the defaults every scenario extends)."""
        behaviour = load_scenario(self.scenario).behaviour
        values = {p.name: float(np.clip(getattr(behaviour, p.name), p.low, p.high)) for p in FREE_PARAMETERS}
        return {p.name: int(values[p.name]) if p.integer else values[p.name] for p in FREE_PARAMETERS}

    def best(self) -> tuple[dict[str, float], float]:
        import optuna

        study = optuna.load_study(study_name=self.study_name, storage=_storage(str(self.storage)))
        best = study.best_trial
        return {**best.params, **best.user_attrs["judgement"]}, float(best.value)

    def polish(
        self, parameters: dict[str, float], n_deals: int, trials: int = 300
    ) -> tuple[dict[str, float], float]:
        """Refit the judgement parameters of the best trial on a larger sample of deals.

        The study fits judgements on ``n_deals`` per trial, which overfits the ratio figures
        measured on small groups; refitting on many more deals (same dynamics) removes most
        of that. Returns all parameters and the objective on the larger sample."""
        from sim import simulate

        scenario = scenario_with(load_scenario(self.scenario), parameters)
        deals = simulate(scenario, n_deals, self.seed + 1).deals
        rejudge = Rejudge(deals, scenario.behaviour, scenario.simulation.horizon_weeks)
        start = {p.name: parameters[p.name] for p in JUDGEMENT_PARAMETERS}
        judgement, objective = rejudge.fit(trials, self.seed, start)
        return {**parameters, **judgement}, objective

    def fit_check(self, n_deals: int | None = None, seed: int | None = None) -> pd.DataFrame:
        """Target, band, simulated value and pass/miss of every figure with committed defaults."""
        from sim import simulate

        deals = simulate(
            load_scenario(self.scenario), n_deals or self.n_deals, self.seed if seed is None else seed
        ).deals
        return figure_table(deals)


def write_defaults(
    parameters: dict[str, float],
    objective: float,
    n_trials: int,
    n_deals: int,
    seed: int,
    path: Path = DEFAULTS_FILE,
    polish_deals: int = 0,
) -> Path:
    """Write fitted parameters into the defaults file every bundled scenario extends."""
    existing = read_toml_file(path).get("behaviour", {}) if path.exists() else {}
    ranges = {p.name: p for p in FREE_PARAMETERS}
    fitted = {
        name: int(round(value)) if name in ranges and ranges[name].integer else round(float(value), 6)
        for name, value in parameters.items()
    }
    behaviour = {**existing, **fitted}
    lines = [
        "# Behavioural defaults shared by every bundled scenario (baseline.toml extends this file).",
        "# The free parameters were fitted by `buyingsim calibrate` so that the market scenario",
        "# reproduces the research figures; each line shows its plausible range and why.",
        "",
        "[calibration]",
        f'date = "{dt.date.today().isoformat()}"',
        f"trials = {n_trials}",
        f"deals_per_trial = {n_deals}",
        f"seed = {seed}",
        f"polish_deals = {polish_deals}",
        f"objective = {objective:.4f}",
        "",
        "[behaviour]",
    ]
    for name, value in behaviour.items():
        comment = ""
        if name in ranges:
            p = ranges[name]
            comment = f"  # fitted in [{p.low}, {p.high}]: {p.why}"
        lines.append(f"{name} = {value!r}{comment}")
    tmp = path.with_suffix(".toml.part")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
