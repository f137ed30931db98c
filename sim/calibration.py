"""Calibration: fit the free behavioural parameters so the market reproduces the research.

``Calibration(...).calibrate()`` runs an Optuna study (TPE, seeded) whose objective simulates
the ``market`` population with trial parameters (several seeds, pooled) and sums the squared
misses of every research figure in :mod:`sim.research`, each measured in half-widths of its
band (steeper across a band's edge, ``figure_cost``), plus penalties for degenerate or
unmeasurable fits (``judgement_penalty``). Nothing in the objective refers to strategies: how
the strategies differ is a prediction (``buyingsim validate`` reports it apart, as not fitted).
Trials run in parallel worker processes sharing a journal file, so a study can be interrupted
and resumed. ``check`` re-evaluates the best trials on seeds the study never used and ranks
them by robustness; the most robust becomes the defaults.
``write_defaults`` stores the best parameters, with provenance, in ``scenarios/defaults.toml``
(which every bundled scenario extends) and the ensemble of acceptable fits in
``scenarios/ensemble.toml``. ``fit_check`` re-simulates with committed parameters.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import signal
import sys
import threading
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
JUDGEMENT_TRIALS = 60  # TPE evaluations of the four ease weights per trial
# Fits whose objective is within this of the best (in squared half-bands) form the ensemble.
ENSEMBLE_TOLERANCE = 5.0
ENSEMBLE_SIZE = 16
ENSEMBLE_FILE = DEFAULTS_FILE.with_name("ensemble.toml")
# Candidate fits are checked again on seeds the study never used (seed + CHECK_OFFSET, ...),
# VALIDATION_DEALS market deals each: the study's best objective is optimistic (the winner of
# hundreds of noisy trials), and the replication table is judged seed by seed.
CHECK_SEEDS = 4
CHECK_OFFSET = 1000
# CMA-ES refinement: initial step as a share of each parameter's range.
REFINE_SIGMA = 0.1
HELPFUL_SHARE = (0.15, 0.85)  # plausible share of purchases whose buyers found supplier info helpful
MIN_BASE_RATE = 0.05  # an outcome compared in a ratio must not be rarer than this
# A figure past this share of its half-band costs extra (EDGE_WEIGHT x excess squared, the
# excess counted up to EDGE_SPAN): a fit on a band's edge passes at one seed and fails at the
# next. Beyond the edge zone the extra is constant, so a figure far out steers nothing.
EDGE_MARGIN = 0.85
EDGE_SPAN = 0.3
EDGE_WEIGHT = 100.0
# The replication table is judged on this many market deals; the ratio figures' 95% CIs there
# should be at most +/-0.25x, so the fit aims at RATIO_PRECISION (a margin for the bootstrap).
VALIDATION_DEALS = 20_000
RATIO_PRECISION = 0.20
RATIO_PRECISION_UNIT = 0.02  # the penalty is the squared excess in these units
RATIO_OUTCOMES = ("high_ease", "bigger_deal_less_regret")


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
    FreeParameter("setback", 0.02, 0.4, "completion lost on a job that buyers call going back to it"),
    FreeParameter("contradiction_shock", 0.0, 0.5, "a contradiction sets a job back at most by half"),
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
    FreeParameter("veto_margin", 0.1, 1.5, "loss vs status quo at which a member would block"),
    FreeParameter(
        "status_quo_pull", 0.0, 0.3, "weekly chance that blockers holding all influence stop the effort"
    ),
    FreeParameter(
        "coverage_weight", 0.5, 3.0, "evidence on a cell that feels covered (an item weighs 0.6-0.9)"
    ),
    FreeParameter("scope_headroom", 0.0, 0.6, "scope a united, confident group adds to its ambition"),
    FreeParameter("confidence_weight", 1.0, 12.0, "evidence on the chosen option for full confidence"),
    FreeParameter(
        "contradiction_tolerance", 0.5, 5.0, "unresolved contradictions that halve validation readiness"
    ),
    FreeParameter("prior_weight", 0.2, 4.0, "how much a member discounts what it was told (neutral prior)"),
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
# simulated deals without simulating again. Only the weights of the ease scale are free: the
# research gives no number for them. Thresholds follow the research's own definitions and are
# fixed (FIXED_JUDGEMENTS below), never fitted.
JUDGEMENT_PARAMETERS: list[FreeParameter] = [
    FreeParameter("ease_loops", 0.0, 0.4, "ease lost per loop"),
    FreeParameter("ease_time", 0.0, 1.5, "ease lost per year of journey"),
    FreeParameter("ease_overload", 0.0, 1.5, "ease lost at full peak overload"),
    FreeParameter("ease_contradictions", 0.0, 0.5, "ease lost per contradiction met"),
]
# Judgement thresholds fixed by definition (field -> value, why); defaults of the Behaviour model.
FIXED_JUDGEMENTS: dict[str, str] = {
    "high_ease_threshold": "high ease is the top box: the top fifth of the ease scale",
    "difficult_threshold": "complex or difficult: below the middle of the ease scale",
    "settle_threshold": "settled for less: bought at least 10% less than the initial ambition",
    "expectation_tolerance": "expectations not met: true value below belief by more than 0.1",
    "strong_expectation_margin": "strongly met: true value at or above belief",
    "helpful_threshold": "helpful: at least half of the supplier's items advanced a job",
    "overwhelmed_threshold": "overwhelmed: peak load at or beyond capacity (overload 0.5)",
}
FREE_PARAMETERS = DYNAMICS_PARAMETERS + JUDGEMENT_PARAMETERS
# Supplier time and one rep's time are read from the same time accounting: 12 figures, 11
# independent targets.
INDEPENDENT_FIGURES = 11
# Per-deal measures the judgements are made from (columns of the results).
MEASURE_COLUMNS = (
    "purchased", "cycle_weeks", "loops_total", "peak_overload", "contradictions_met",
    "supplier_items", "helpful_share", "acceptance", "deal_size", "value_shortfall", "expectation_gap",
)  # fmt: skip


def dynamics_penalty(deals: pd.DataFrame) -> float:
    """Penalty for degenerate dynamics: nobody (or everybody) buys, journeys without length."""
    penalty = 0.0
    purchased = deals["purchased"].mean()
    if purchased < 0.05 or purchased > 0.95:
        penalty += DEGENERATE_PENALTY
    if deals["cycle_weeks"].median() <= 2:
        penalty += DEGENERATE_PENALTY
    return penalty


def figure_cost(figure, value: float) -> float:
    """What one figure adds to the objective: its squared miss in half-bands (capped), plus a
    steep extra across the edge of its band (EDGE_MARGIN to EDGE_MARGIN + EDGE_SPAN)."""
    miss = figure.miss(value)
    excess = min(max(0.0, abs(miss) - EDGE_MARGIN), EDGE_SPAN)
    return min(miss**2, MISS_CAP) + EDGE_WEIGHT * excess**2


def ratio_half_width(helpful: np.ndarray, outcome: np.ndarray, n_deals: int) -> float:
    """Approximate 95% CI half-width of P(outcome | helpful) / P(outcome | not helpful) among
    purchases, scaled from ``n_deals`` market deals to VALIDATION_DEALS (delta method on the
    log ratio: the variance of each log rate is (1 - p) / (n p))."""
    given, given_not = outcome[helpful], outcome[~helpful]
    if not given.sum() or not given_not.sum():
        return float("inf")
    p1, p0 = given.mean(), given_not.mean()
    variance = (1 - p1) / given.sum() + (1 - p0) / given_not.sum()
    return float(1.96 * (p1 / p0) * np.sqrt(variance * n_deals / VALIDATION_DEALS))


def judgement_penalty(purchased: np.ndarray, judged) -> float:
    """Penalty for ratio figures that cannot be measured: the helpful share among purchases
    must stay between 15% and 85%, the outcomes compared must not be rare among the others
    (or a ratio of 3 could come from a handful of deals), and each ratio's 95% CI at
    VALIDATION_DEALS market deals should be within +/-RATIO_PRECISION (squared excess in
    units of RATIO_PRECISION_UNIT)."""
    purchased = np.asarray(purchased, dtype=bool)
    helpful = np.asarray(judged["helpful_info"], dtype=bool)[purchased]
    share = helpful.mean() if len(helpful) else 0.0
    penalty = DEGENERATE_PENALTY * max(0.0, HELPFUL_SHARE[0] - share, share - HELPFUL_SHARE[1]) / 0.1
    for outcome in RATIO_OUTCOMES:
        happened = np.asarray(judged[outcome], dtype=bool)[purchased]
        rate = happened[~helpful].mean() if (~helpful).any() else 0.0
        penalty += DEGENERATE_PENALTY * max(0.0, MIN_BASE_RATE - rate) / MIN_BASE_RATE
        width = ratio_half_width(helpful, happened, len(purchased))
        penalty += min(max(0.0, width - RATIO_PRECISION) / RATIO_PRECISION_UNIT, 10.0) ** 2
    return float(penalty)


def objective_value(deals: pd.DataFrame) -> float:
    """Sum of figure costs (squared misses in half-bands, steeper near a band's edge), plus
    degeneracy and measurability penalties."""
    values = figure_values(deals)
    total = sum(figure_cost(figure, values[figure.key]) for figure in FIGURES)
    total += dynamics_penalty(deals) + judgement_penalty(deals["purchased"], deals)
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

    def __init__(self, deals: pd.DataFrame, behaviour):
        self.behaviour = behaviour
        values = figure_values(deals)
        self.fixed = sum(figure_cost(f, values[f.key]) for f in FIGURES if not f.judged)
        self.fixed += dynamics_penalty(deals)
        self.measures = {name: deals[name].to_numpy() for name in MEASURE_COLUMNS}
        self.measures["scope"] = self.measures.pop("deal_size")
        self.purchased = deals["purchased"].to_numpy()

    def objective(self, parameters: dict[str, float]) -> tuple[float, dict[str, float]]:
        """Objective and judged figure values with these judgement parameters."""
        judged = judge(self.measures, self.behaviour.model_copy(update=parameters))
        frame = pd.DataFrame({"purchased": self.purchased, **judged})
        values = {f.key: float(f.compute(frame)) for f in FIGURES if f.judged}
        total = self.fixed + sum(figure_cost(FIGURE_BY_KEY[k], v) for k, v in values.items())
        return total + judgement_penalty(self.purchased, judged), values

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


def simulate_pooled(scenario: Scenario, n_deals: int, seeds: tuple[int, ...]) -> pd.DataFrame:
    """``n_deals`` deals of the scenario for each seed, in one table (the objective's sample)."""
    from sim.engine import simulate_frame

    return pd.concat([simulate_frame(scenario, n_deals, seed) for seed in seeds], ignore_index=True)


def evaluate(
    base: Scenario,
    dynamics: dict[str, float],
    n_deals: int,
    seeds: tuple[int, ...],
    judgement_trials: int = JUDGEMENT_TRIALS,
) -> tuple[float, dict[str, float], dict[str, float]]:
    """Simulate the market with dynamics parameters (``n_deals`` per seed, pooled), then fit
    the judgement parameters. Returns the objective, the judgement parameters and every
    figure's value."""
    scenario = scenario_with(base, dynamics)
    deals = simulate_pooled(scenario, n_deals, seeds)
    seed = seeds[0]
    rejudge = Rejudge(deals, scenario.behaviour)
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
    seeds: tuple[int, ...],
    n_trials: int,
    sampler_seed: int,
    start: dict[str, float] | None = None,
    step: float = REFINE_SIGMA,
) -> None:
    """Run trials in one process until the study holds ``n_trials`` finished trials: a TPE
    search, or with ``start`` a CMA-ES search around those dynamics parameters (refinement)."""
    import optuna
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # Optuna 4.9 deprecates CmaEsSampler's x0/sigma0 (still supported, no replacement to start
    # around a point); the warning would otherwise reach the user once per worker.
    warnings.filterwarnings("ignore", message=".*deprecated in v4.9.0", category=FutureWarning)
    storage = _storage(storage_path)
    sampler: optuna.samplers.BaseSampler
    if start is None:
        sampler = optuna.samplers.TPESampler(seed=sampler_seed, multivariate=True, n_startup_trials=24)
    else:
        sampler = optuna.samplers.CmaEsSampler(
            x0=start, sigma0=step, seed=sampler_seed, warn_independent_sampling=False
        )
    study = optuna.load_study(study_name=study_name, storage=storage, sampler=sampler)
    base = load_scenario(scenario_path)

    def objective(trial: optuna.Trial) -> float:
        dynamics = {p.name: p.suggest(trial) for p in DYNAMICS_PARAMETERS}
        value, judgement, figures = evaluate(base, dynamics, n_deals, seeds)
        trial.set_user_attr("judgement", judgement)
        for key, figure_value in figures.items():
            trial.set_user_attr(key, figure_value)
        return value

    study.optimize(
        objective,
        callbacks=[MaxTrialsCallback(n_trials, states=(TrialState.COMPLETE,))],
        catch=(ValueError,),
    )


def _check_one(task: tuple[str, dict[str, float], int, int]) -> tuple[float, int]:
    """Objective and figures in band of one candidate fit at one check seed (a pool task)."""
    from sim.engine import simulate_frame

    scenario_path, parameters, seed, n_deals = task
    try:
        deals = simulate_frame(scenario_with(load_scenario(scenario_path), parameters), n_deals, seed)
    except ValueError:  # as in the study: a candidate the model cannot run ranks last
        return float("inf"), 0
    values = figure_values(deals)
    return objective_value(deals), sum(figure.passes(values[figure.key]) for figure in FIGURES)


def checked_ensemble(
    checked: list[dict], tolerance: float = ENSEMBLE_TOLERANCE, size: int = ENSEMBLE_SIZE
) -> list[dict]:
    """The acceptable fits among checked candidates (``Calibration.check``): the most robust
    one first (the defaults), then every other within ``tolerance`` of its checked objective,
    in rank order, at most ``size``; each as {"objective", "parameters"}."""
    if not checked:
        return []
    limit = checked[0]["objective"] + tolerance
    return [
        {"objective": fit["objective"], "parameters": fit["parameters"]}
        for fit in checked
        if fit["objective"] <= limit
    ][:size]


def _exit_on_terminate(signum, frame) -> None:
    """SIGTERM handler: leave through ``finally`` blocks, which stop the worker processes."""
    sys.exit(128 + signum)


def _storage(path: str):
    import optuna
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(path))


@dataclass
class Calibration:
    """An Optuna calibration of the market scenario against the research figures."""

    scenario: str | Path = "market"
    n_trials: int = 150
    n_deals: int = 10_000  # per seed
    seed: int = 7
    n_seeds: int = 2  # the objective pools n_deals from each of seeds seed, seed + 1, ...
    refine: int = 0  # CMA-ES trials around the best TPE trial after the n_trials TPE trials
    refine_step: float = REFINE_SIGMA  # CMA-ES initial step, as a share of each parameter's range
    workers: int = field(default_factory=lambda: multiprocessing.cpu_count())
    storage: Path = Path("output/calibration/study.journal")
    study_name: str = "market-calibration"

    def calibrate(self, progress: Callable[[int, int, float], None] | None = None) -> dict[str, float]:
        """Run (or resume) the study until ``n_trials`` TPE trials are complete, then ``refine``
        CMA-ES trials around the best; returns the best parameters. ``progress(done, total,
        best)`` is called about once a second."""
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
        total = self.n_trials + self.refine
        if self._status(study)[0] < self.n_trials:
            self._run_workers(study, scenario_path, self.n_trials, total, None, progress)
        if self.refine and self._status(study)[0] < total:
            dynamics = {p.name for p in DYNAMICS_PARAMETERS}
            start = {k: v for k, v in self.best()[0].items() if k in dynamics}
            self._run_workers(study, scenario_path, total, total, start, progress)
        return self.best()[0]

    @property
    def seeds(self) -> tuple[int, ...]:
        """The seeds whose deals the objective pools."""
        return tuple(self.seed + index for index in range(self.n_seeds))

    def check(
        self,
        top: int = ENSEMBLE_SIZE,
        progress: Callable[[int], None] | None = None,
        n_deals: int = VALIDATION_DEALS,
    ) -> list[dict]:
        """Re-evaluate the ``top`` trials of the study on CHECK_SEEDS seeds it never used
        (VALIDATION_DEALS market deals each). Returns them ranked, most robust first: by the
        fewest figures in band at any check seed (higher first), then by the mean objective.
        Each is {"trial", "objective", "fewest_in_band", "parameters"}; ``progress(1)`` after
        each candidate-seed."""
        import optuna
        from optuna.trial import TrialState

        study = optuna.load_study(study_name=self.study_name, storage=_storage(str(self.storage)))
        completed = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        scored = [(float(t.value), t) for t in completed if t.value is not None]
        candidates = [t for _, t in sorted(scored, key=lambda pair: pair[0])][:top]
        seeds = [self.seed + CHECK_OFFSET + index for index in range(CHECK_SEEDS)]
        jobs = [({**t.params, **t.user_attrs["judgement"]}, seed) for t in candidates for seed in seeds]
        scenario_path = str(load_scenario(self.scenario).source)
        tasks = [(scenario_path, parameters, seed, n_deals) for parameters, seed in jobs]
        context = multiprocessing.get_context("spawn")
        results: list[tuple[float, int]] = []
        with context.Pool(max(1, min(self.workers, len(jobs)))) as pool:
            for result in pool.imap(_check_one, tasks):
                results.append(result)
                if progress is not None:
                    progress(1)
        checked = []
        for index, trial in enumerate(candidates):
            mine = results[index * len(seeds) : (index + 1) * len(seeds)]
            checked.append({
                "trial": trial.number,
                "objective": float(np.mean([objective for objective, _ in mine])),
                "fewest_in_band": min(passed for _, passed in mine),
                "parameters": jobs[index * len(seeds)][0],
            })  # fmt: skip
        return sorted(checked, key=lambda fit: (-fit["fewest_in_band"], fit["objective"]))

    def ensemble(self, tolerance: float = ENSEMBLE_TOLERANCE, size: int = ENSEMBLE_SIZE) -> list[dict]:
        """The acceptable fits: completed trials within ``tolerance`` of the best objective
        (at most ``size``, best first), each as {"objective", "parameters"}."""
        import optuna
        from optuna.trial import TrialState

        study = optuna.load_study(study_name=self.study_name, storage=_storage(str(self.storage)))
        scored = sorted(
            (
                (float(t.value), t)
                for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                if t.value is not None
            ),
            key=lambda pair: pair[0],
        )
        if not scored:
            return []
        best = scored[0][0]
        return [
            {"objective": value, "parameters": {**t.params, **t.user_attrs["judgement"]}}
            for value, t in scored[:size]
            if value <= best + tolerance
        ]

    def _run_workers(
        self,
        study,
        scenario_path: str,
        target: int,
        total: int,
        start: dict[str, float] | None,
        progress: Callable[[int, int, float], None] | None,
    ) -> None:
        """Worker processes add trials until the study holds ``target`` completed ones (TPE, or
        CMA-ES around ``start``); ``progress(done, total, best)`` about once a second."""
        context = multiprocessing.get_context("spawn")
        processes = [
            context.Process(
                target=_worker,
                args=(
                    str(self.storage),
                    self.study_name,
                    scenario_path,
                    self.n_deals,
                    self.seeds,
                    target,
                    self.seed + index + (1000 if start else 0),
                    start,
                    self.refine_step,
                ),
            )
            for index in range(max(1, self.workers))
        ]
        for process in processes:
            process.start()
        # A terminate signal ends the study like Ctrl-C: workers are stopped, finished trials kept.
        previous_handler = signal.getsignal(signal.SIGTERM)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _exit_on_terminate)
        try:
            while any(process.is_alive() for process in processes):
                time.sleep(1.0)
                if progress is not None:
                    done, best = self._status(study)
                    progress(done, total, best)
        finally:
            for process in processes:
                if process.is_alive():
                    process.terminate()
                process.join()
            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGTERM, previous_handler)
        failed = [p.exitcode for p in processes if p.exitcode not in (0, None)]
        if failed:
            raise RuntimeError(f"calibration workers failed with exit codes {failed}")
        if progress is not None:
            done, best = self._status(study)
            progress(done, total, best)

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
        assert best.value is not None  # the best trial is a completed one
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
        deals = simulate(scenario, n_deals, self.seed + self.n_seeds).deals
        rejudge = Rejudge(deals, scenario.behaviour)
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
    n_seeds: int = 1,
    checked_seeds: int = 0,
    selected_trial: int = -1,
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
        "# reproduces the research figures (no strategy enters the objective); each line shows its",
        "# plausible range and why. Judgement thresholds are fixed by definition (sim/calibration.py).",
        "",
        "[calibration]",
        f'date = "{dt.date.today().isoformat()}"',
        f"trials = {n_trials}",
        f"deals_per_trial = {n_deals}",
        f"seeds = {n_seeds}",
        f"seed = {seed}",
        f"polish_deals = {polish_deals}",
        f"objective = {objective:.4f}",
        f"checked_seeds = {checked_seeds}",
        f"selected_trial = {selected_trial}",
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


def write_ensemble(members: list[dict], n_trials: int, path: Path = ENSEMBLE_FILE) -> Path:
    """Write the acceptable fits (``Calibration.ensemble``) as ``[[member]]`` tables of
    behaviour overrides; ``sim.ensemble`` reruns strategy comparisons over them."""
    ranges = {p.name: p for p in FREE_PARAMETERS}
    lines = [
        "# The ensemble of acceptable fits: every calibration trial whose objective was within",
        f"# {ENSEMBLE_TOLERANCE} (squared half-bands) of the best, best first, at most {ENSEMBLE_SIZE}.",
        "# `buyingsim validate --ensemble` reruns the strategy comparison with each member.",
        "",
        "[ensemble]",
        f'date = "{dt.date.today().isoformat()}"',
        f"trials = {n_trials}",
        f"tolerance = {ENSEMBLE_TOLERANCE}",
    ]
    for member in members:
        lines += ["", "[[member]]", f"objective = {member['objective']:.4f}", "[member.behaviour]"]
        for name, value in member["parameters"].items():
            integer = name in ranges and ranges[name].integer
            lines.append(f"{name} = {int(round(value)) if integer else round(float(value), 6)!r}")
    tmp = path.with_suffix(".toml.part")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
