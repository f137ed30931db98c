"""Behaviour the model must show, checked as directions on the same deals (same seed), so the
assertions survive re-tuning of the default parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sim
from sim.engine import Cohort, block_plan
from sim.results import mean_ci
from sim.scenario import JOB_NAMES, Scenario

N_DEALS = 1000
SEED = 2024
N_END = 768  # deals stepped one week at a time
EARLY_JOBS = JOB_NAMES[:3]  # problem identification, solution exploration, requirements


@pytest.fixture(scope="module")
def runs(baseline: Scenario) -> dict[str, sim.Results]:
    """The three built-in strategies on the same baseline deals."""
    return {name: sim.simulate(baseline, N_DEALS, seed=SEED, strategy=name)
            for name in ("seller_led", "digital_first", "sense_making")}


@pytest.fixture(scope="module")
def market_run(market: Scenario) -> pd.DataFrame:
    """The heterogeneous market population under its own strategy mix."""
    return sim.simulate(market, 2000, seed=SEED).deals


def paired(a: pd.Series, b: pd.Series) -> tuple[float, float, float]:
    """Mean and 95% CI of the per-deal difference b - a."""
    mean, low, high, _ = mean_ci(b.to_numpy(dtype=float) - a.to_numpy(dtype=float))
    return mean, low, high


def one_size(scenario: Scenario, size: int = 7) -> Scenario:
    """The scenario with one group size, so a cohort keeps all its deals in one state."""
    return scenario.with_overrides({"population.group_sizes": [size],
                                    "population.group_size_weights": [1.0]})



def run_cohort(scenario: Scenario, n: int, seed: int, strategy: str | None):
    """Step a cohort to the end; yields (outcome columns, finished state) for each ending week.
    The scenario must have one group size, so the finished state holds every ended deal."""
    assert len(scenario.population.group_sizes) == 1
    cohort = Cohort(scenario, seed, block_plan(n), strategy)
    while cohort.running:
        ended = cohort.step()
        if ended is not None:
            finished = cohort.finished_state
            np.testing.assert_array_equal(np.asarray(ended["deal"]), finished.deal_id)
            yield ended, finished


# --- contradictions ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def contradiction_runs(baseline: Scenario) -> dict[str, sim.Results]:
    """More deals than ``runs``: the two strategies differ by about 0.015 contradictions a deal."""
    strategies = ("digital_first", "sense_making")
    return {name: sim.simulate(baseline, 8000, seed=SEED, strategy=name) for name in strategies}


def test_sense_making_leaves_fewer_unresolved_contradictions(contradiction_runs):
    runs = contradiction_runs
    digital = runs["digital_first"].deals
    sense = runs["sense_making"].deals
    assert (digital["deal"].to_numpy() == sense["deal"].to_numpy()).all()
    assert sense["unresolved_contradictions"].mean() < digital["unresolved_contradictions"].mean()
    # Paired on the same deals, the difference is clear of zero.
    difference, _, high = paired(digital["unresolved_contradictions"], sense["unresolved_contradictions"])
    assert difference < 0 and high < 0
    # The same through Results.compare (paired differences).
    row = runs["digital_first"].compare(runs["sense_making"], ["unresolved_contradictions"]).iloc[0]
    assert row["difference"] < 0 and row["ci_high"] < 0


def test_contradictions_left_at_the_end_per_deal(baseline):
    """Counted from the final state of each deal, the outcome column reports exactly the
    contradictions left open; summed over the cohort, sense-making leaves no more than
    digital-first (the clear paired difference, about 0.015 a deal, needs the 8,000 deals of
    the test above)."""
    left = {}
    for strategy in ("digital_first", "sense_making"):
        counts = {}
        for ended, finished in run_cohort(one_size(baseline), N_END, 77, strategy):
            open_at_end = finished.contradicted.sum(axis=1)
            np.testing.assert_array_equal(ended["unresolved_contradictions"], open_at_end)
            counts.update(zip(finished.deal_id.tolist(), open_at_end.tolist(), strict=True))
        assert sorted(counts) == list(range(N_END))
        left[strategy] = np.array([counts[d] for d in range(N_END)], dtype=float)
    assert left["sense_making"].mean() <= left["digital_first"].mean()


# --- looping -------------------------------------------------------------------------------

def test_groups_loop_back_to_earlier_jobs(market_run):
    deals = market_run
    assert (deals["loops_total"] > 0).any()
    assert deals["revisited_any_job"].any()
    assert (deals["revisited_any_job"] == (deals["loops_total"] > 0)).all()
    early = deals[[f"loops_{job}" for job in EARLY_JOBS]].sum(axis=1)
    assert (early > 0).any(), "no early job (problem, exploration, requirements) was ever reopened"
    looped_jobs = [job for job in JOB_NAMES if (deals[f"loops_{job}"] > 0).any()]
    assert len(looped_jobs) >= 3, looped_jobs


def test_done_jobs_reopen_in_the_state(baseline):
    """Looping seen directly: a job that was done becomes not done in a later week."""
    cohort = Cohort(one_size(baseline), 5, block_plan(512), "sense_making")
    was_done = {}
    reopened_jobs = np.zeros(len(JOB_NAMES), dtype=int)
    while cohort.running:
        cohort.step()
        for state in [cohort.state, *filter(None, [cohort.finished_state])]:
            for deal, done in zip(state.deal_id.tolist(), state.done, strict=True):
                before = was_done.get(deal)
                if before is not None:
                    reopened_jobs += before & ~done
                was_done[deal] = done.copy()
    assert reopened_jobs.sum() > 0
    assert reopened_jobs[:-1].sum() > 0, "only the last job was ever reopened"


# --- information overload ------------------------------------------------------------------

@pytest.mark.parametrize("strategy", ["seller_led", "digital_first", "sense_making"])
def test_more_information_raises_overload(baseline, strategy):
    def run(volume: float) -> pd.DataFrame:
        scenario = baseline.with_overrides({"population.information_volume": volume})
        return sim.simulate(scenario, 600, seed=SEED, strategy=strategy).deals

    low, high = run(0.5), run(2.0)
    assert high["peak_overload"].mean() > low["peak_overload"].mean()
    _, ci_low, _ = paired(low["peak_overload"], high["peak_overload"])
    assert ci_low > 0
    assert high["overwhelmed"].mean() >= low["overwhelmed"].mean()


# --- the decision --------------------------------------------------------------------------

def test_no_decision_at_the_horizon(runs, baseline):
    horizon = baseline.simulation.horizon_weeks
    for deals in (run.deals for run in runs.values()):
        at_horizon = deals["end_reason"] == "horizon"
        assert not deals.loc[at_horizon, "purchased"].any()
        # Still open at the horizon: truncated, not abandoned (not a no-decision).
        assert (deals.loc[at_horizon, "outcome"] == "open").all()
        assert not deals.loc[at_horizon, "no_decision"].any()
        assert (deals.loc[at_horizon, "cycle_weeks"] == horizon).all()
        assert (deals["cycle_weeks"] <= horizon).all()
        assert (deals.loc[deals["purchased"], "cycle_weeks"] <= horizon).all()


def test_very_short_horizon_stops_every_deal_by_then(baseline):
    scenario = baseline.with_overrides({"simulation.horizon_weeks": 4})
    for strategy in ("seller_led", "sense_making"):
        deals = sim.simulate(scenario, 600, seed=SEED, strategy=strategy).deals
        assert (deals["cycle_weeks"] <= 4).all()
        assert (deals.loc[deals["purchased"], "cycle_weeks"] <= 4).all()
        late = deals["end_reason"] == "horizon"
        assert (deals.loc[late, "cycle_weeks"] == 4).all() and not deals.loc[late, "purchased"].any()
    cohort = Cohort(scenario, SEED, block_plan(600), "sense_making")
    weeks = 0
    while cohort.running:
        cohort.step()
        weeks += 1
    assert weeks <= 4


def test_horizon_only_cuts_journeys_short(baseline):
    """Same deals under a shorter horizon: journeys that ended by then end the same way in the
    same week; the others end at the horizon with no decision."""
    short = 25
    long_run = sim.simulate(baseline, 800, seed=SEED, strategy="sense_making").deals
    short_run = sim.simulate(baseline.with_overrides({"simulation.horizon_weeks": short}), 800,
                             seed=SEED, strategy="sense_making").deals
    early = long_run["cycle_weeks"] <= short
    assert early.any() and (~early).any()
    for column in ("end_reason", "cycle_weeks", "purchased", "winner", "loops_total",
                   "contradictions_met"):
        np.testing.assert_array_equal(short_run.loc[early, column].to_numpy(),
                                      long_run.loc[early, column].to_numpy(), err_msg=column)
    cut = short_run.loc[~early]
    assert (cut["cycle_weeks"] == short).all()
    assert (cut["end_reason"] == "horizon").all() and not cut["purchased"].any()


def test_purchase_only_when_all_six_jobs_are_done(baseline):
    purchases = endings = 0
    for strategy, size in (("seller_led", 6), ("sense_making", 9)):
        for ended, finished in run_cohort(one_size(baseline, size), 512, 3, strategy):
            bought = np.asarray(ended["purchased"], dtype=bool)
            assert (np.asarray(ended["outcome"])[bought] != "no_decision").all()
            all_done = finished.done.all(axis=1)
            assert all_done[bought].all(), "a purchase with an unfinished job"
            assert not all_done[~bought].any(), "all six jobs done but no purchase"
            assert (finished.completion[bought] >= baseline.behaviour.reopen_threshold - 1e-6).all()
            purchases += int(bought.sum())
            endings += len(bought)
    assert endings == 1024
    assert purchases > 0


# --- strategies as data --------------------------------------------------------------------

def test_seller_led_runs_ahead_of_the_group_more_than_sense_making(runs):
    seller = runs["seller_led"].deals
    sense = runs["sense_making"].deals
    assert seller["misalignment_stages"].mean() > sense["misalignment_stages"].mean()
    assert seller["focal_rep_time_share"].mean() > runs["digital_first"].deals["focal_rep_time_share"].mean()
    assert (runs["digital_first"].deals["digital_time_share"].mean()
            > seller["digital_time_share"].mean())


def test_market_mix_assigns_strategies_in_proportion(market, market_run):
    deals = market_run
    mix = market.population.strategy_mix
    total = sum(mix.values())
    shares = deals["strategy"].value_counts(normalize=True)
    assert set(shares.index) <= set(mix)
    for name, weight in mix.items():
        assert abs(shares.get(name, 0.0) - weight / total) < 0.04, (name, shares.get(name, 0.0))
