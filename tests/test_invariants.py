"""Invariants of the simulator that must hold for every seed, group size, conflict level,
information volume and strategy: ranges of the outcome columns, a well-formed consensus
network and influence weights, the starting information and the week-by-week state."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.engine import STREAM_CUSTOMER, Cohort, block_plan, stream
from sim.kernels import END_RUNNING
from sim.network import influence_matrix, topology_library
from sim.outcomes import COLUMNS
from sim.scenario import JOB_NAMES, MAX_GROUP_SIZE, Scenario
from sim.state import new_customers
from sim.strategies import BUILTIN_STRATEGIES

FAST = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOL = 1e-5  # single-precision state

seeds = st.integers(0, 2**32 - 1)
group_sizes = st.lists(st.integers(1, MAX_GROUP_SIZE), min_size=1, max_size=3, unique=True)
conflicts = st.floats(0.0, 1.0)
volumes = st.floats(0.0, 10.0)
strategies = st.sampled_from(sorted(BUILTIN_STRATEGIES))
networks = st.sampled_from(["small_world", "hierarchy", "complete"])

PROBABILITY_COLUMNS = [
    "purchase_ease", "helpful_share", "peak_overload", "supplier_time_share",
    "focal_rep_time_share", "digital_time_share", "internal_time_share", "third_party_time_share",
]
PURCHASE_ONLY_FLAGS = [
    "settled_for_less", "expectations_not_met", "high_regret", "high_quality_deal",
    "bigger_deal_less_regret", "focal_win",
]


def variant(base: Scenario, sizes: list[int], conflict: float, volume: float,
            network: str = "small_world") -> Scenario:
    return base.with_overrides({
        "population.group_sizes": sizes,
        "population.group_size_weights": [1.0] * len(sizes),
        "population.conflict_level": conflict,
        "population.information_volume": volume,
        "population.network": network,
    })


# --- the per-deal outcome table ------------------------------------------------------------

@FAST
@given(seed=seeds, sizes=group_sizes, conflict=conflicts, volume=volumes, strategy=strategies,
       network=networks)
def test_outcome_columns_are_well_formed(baseline, seed, sizes, conflict, volume, strategy, network):
    scenario = variant(baseline, sizes, conflict, volume, network)
    n, horizon = 40, scenario.simulation.horizon_weeks
    deals = sim.simulate(scenario, n, seed=seed, strategy=strategy).deals
    b = scenario.behaviour

    assert list(deals.columns) == list(COLUMNS)
    assert deals["deal"].tolist() == list(range(n))
    assert (deals["strategy"] == strategy).all()

    # The customer population is the one asked for.
    assert deals["group_size"].isin(sizes).all()
    assert deals["group_size"].between(1, MAX_GROUP_SIZE).all()
    np.testing.assert_allclose(deals["conflict_level"], conflict, rtol=1e-6, atol=1e-7)
    # The volume each group meets: spread around the scenario's, zero when it is zero.
    met = deals["information_volume"]
    assert (met >= 0).all() and np.isfinite(met).all()
    if volume == 0:
        assert (met == 0).all()

    # Probability-like columns.
    for column in PROBABILITY_COLUMNS:
        values = deals[column].astype(float)
        assert values.notna().all(), column
        assert values.between(0.0, 1.0).all(), (column, values.min(), values.max())
    purchased = deals["purchased"].astype(bool)
    regret = deals["regret"].astype(float)
    assert regret[purchased].notna().all()
    assert regret[~purchased].isna().all()
    assert regret[purchased].between(0.0, 1.0).all()

    # Time shares partition the buying time; the focal rep is one of the suppliers.
    shares = deals[["internal_time_share", "third_party_time_share", "digital_time_share",
                    "supplier_time_share"]].sum(axis=1)
    np.testing.assert_allclose(shares, 1.0, atol=1e-4)
    assert (deals["focal_rep_time_share"] <= deals["supplier_time_share"] + 1e-6).all()

    # Deal size exists exactly for purchases and is never negative.
    size = deals["deal_size"].astype(float)
    assert size[purchased].notna().all() and (size[purchased] >= 0).all()
    assert size[~purchased].isna().all()

    # Ending: a cycle lasts 1..horizon weeks; outcome fields agree with each other.
    assert deals["cycle_weeks"].between(1, horizon).all()
    assert set(deals["end_reason"]) <= {"purchase", "horizon", "exhausted", "status_quo"}
    assert (purchased == (deals["end_reason"] == "purchase")).all()
    # Every deal ends one way: a purchase, abandonment (no decision) or still open at the horizon.
    at_horizon = deals["end_reason"] == "horizon"
    assert (deals["no_decision"] == deals["end_reason"].isin(["exhausted", "status_quo"])).all()
    assert (deals["reached_horizon"] == at_horizon).all()
    assert (purchased.astype(int) + deals["no_decision"] + deals["reached_horizon"] == 1).all()
    assert ((deals["outcome"] == "no_decision") == deals["no_decision"]).all()
    assert ((deals["outcome"] == "open") == at_horizon).all()
    # A purchase of the favourite needs a favourite: supplier selection was done at some point.
    assert not (deals["favourite_won"] & ~purchased).any()
    assert deals["jobs_reopened"].between(0, len(JOB_NAMES)).all()
    assert ((deals["jobs_reopened"] > 0) == deals["revisited_any_job"]).all()
    assert ((deals["outcome"] == "focal_win") == deals["focal_win"]).all()
    assert ((deals["winner"] == 1) == deals["focal_win"]).all()
    assert (deals.loc[~purchased, "winner"] == 0).all()
    assert deals.loc[purchased, "winner"].between(1, scenario.simulation.n_options).all()
    assert (deals.loc[at_horizon, "cycle_weeks"] == horizon).all()

    # Survey-like flags describe purchases only; high quality and high regret exclude each other.
    for flag in PURCHASE_ONLY_FLAGS:
        assert not (deals[flag] & ~purchased).any(), flag
    assert not (deals["high_quality_deal"] & deals["high_regret"]).any()
    assert ((deals["purchase_ease"] >= b.high_ease_threshold) == deals["high_ease"]).all()
    assert ((deals["purchase_ease"] < b.difficult_threshold) == deals["complex_or_difficult"]).all()
    assert ((deals["peak_overload"] >= b.overwhelmed_threshold) == deals["overwhelmed"]).all()

    # Loops and contradictions are counts that agree with their summaries.
    loops = deals[[f"loops_{job}" for job in JOB_NAMES]]
    assert (loops >= 0).all().all()
    assert (loops.sum(axis=1) == deals["loops_total"]).all()
    assert (deals["revisited_any_job"] == (deals["loops_total"] > 0)).all()
    assert (deals["unresolved_contradictions"] >= 0).all()
    assert (deals["unresolved_contradictions"] <= deals["contradictions_met"]).all()
    assert (deals["met_contradiction"] == (deals["contradictions_met"] > 0)).all()

    # Misalignment: stages ahead of the group, at most the number of later jobs.
    assert deals["misalignment_stages"].between(0, len(JOB_NAMES) - 1).all()
    assert (deals.loc[deals["focal_meetings"] == 0, "misalignment_stages"] == 0).all()


# --- the customers at the start -----------------------------------------------------------

def check_weights(weights: np.ndarray, member: np.ndarray, adjacency: np.ndarray,
                  tol: float = TOL) -> None:
    """Influence weights: non-negative, row-stochastic, on network edges, none on non-members."""
    weights = weights.astype(float)
    S = member.shape[1]
    eye = np.eye(S, dtype=bool)[None]
    assert (weights >= 0).all()
    np.testing.assert_allclose(weights.sum(axis=2), 1.0, atol=tol)
    # Nobody listens to a non-member (a non-member only "listens" to itself).
    assert (weights[~member[:, None, :] & ~eye] == 0).all()
    assert (weights[~member] == np.eye(S)[np.nonzero(~member)[1]]).all()
    # Off-diagonal weight only along edges of the consensus network.
    assert (weights[~adjacency & ~eye] == 0).all()


def customers_of(scenario: Scenario, n: int, seed: int) -> dict[str, np.ndarray]:
    """The first block's customers, as the engine draws them (padded to the largest group)."""
    return new_customers(scenario, n, stream(seed, 0, STREAM_CUSTOMER), seed)


@FAST
@given(seed=seeds, sizes=group_sizes, conflict=conflicts, volume=volumes,
       items=st.tuples(st.integers(1, 6), st.integers(0, 3)))
def test_customers_are_well_formed(baseline, seed, sizes, conflict, volume, items):
    low, high = items[0], items[0] + items[1]
    scenario = variant(baseline, sizes, conflict, volume).with_overrides(
        {"population.initial_items": [low, high]})
    c = customers_of(scenario, 48, seed)
    member, size = c["member"], c["group_size"]
    S = member.shape[1]
    assert max(sizes) == S

    # Group size respected; members occupy the first slots.
    assert np.isin(size, sizes).all() and ((size >= 1) & (size <= MAX_GROUP_SIZE)).all()
    np.testing.assert_array_equal(member.sum(axis=1), size)
    np.testing.assert_array_equal(member, np.arange(S)[None, :] < size[:, None])

    # Consensus network: symmetric, no self loops, nothing outside the group.
    adjacency = c["adjacency"]
    np.testing.assert_array_equal(adjacency, adjacency.transpose(0, 2, 1))
    assert not adjacency[:, np.arange(S), np.arange(S)].any()
    assert not (adjacency & ~member[:, :, None]).any()
    check_weights(c["weights"], member, adjacency)
    assert (c["influence"][~member] == 0).all() and (c["influence"][member] > 0).all()

    # Starting information: low..high items per member, gathered alone; nothing for non-members.
    held = c["items_held"][member]
    assert ((held >= low) & (held <= high)).all()
    np.testing.assert_array_equal(np.round(held), held)
    assert (c["items_held"][~member] == 0).all()
    assert (c["evidence_weight"][~member] == 0).all()
    assert (c["evidence_weight"][member].sum(axis=1) > 0).all()

    # Priorities: a distribution over the requirement dimensions.
    assert (c["priority0"] >= 0).all()
    np.testing.assert_allclose(c["priority0"][member].sum(axis=1), 1.0, atol=1e-9)
    assert ((c["stubbornness"] >= 0) & (c["stubbornness"] <= 1)).all()
    np.testing.assert_allclose(c["conflict_level"], conflict)
    # The volume a group meets: the scenario's, times a log-normal factor (never negative).
    assert (c["information_volume"] >= 0).all() and np.isfinite(c["information_volume"]).all()
    flat = customers_of(scenario.with_overrides({"behaviour.volume_spread": 0.0}), 48, seed)
    np.testing.assert_allclose(flat["information_volume"], volume)
    # The spread is drawn last: every other customer draw is the same with or without it.
    for name in ("group_size", "role", "priority0", "true_value", "capacity", "evidence_claims"):
        np.testing.assert_array_equal(flat[name], c[name])


@settings(max_examples=10, deadline=None)
@given(seed=seeds, sizes=group_sizes)
def test_members_start_with_four_or_five_items(baseline, seed, sizes):
    """The default population: each member starts with 4 or 5 independently gathered items,
    in the customers drawn and in the engine's week-0 state."""
    assert baseline.population.initial_items == [4, 5]
    scenario = variant(baseline, sizes, 0.5, 1.0)
    c = customers_of(scenario, 64, seed)
    held = c["items_held"][c["member"]]
    assert set(np.unique(held).tolist()) <= {4.0, 5.0}
    if held.size >= 60:  # both counts occur in any sizeable set of people
        assert set(np.unique(held).tolist()) == {4.0, 5.0}
    assert (c["items_held"][~c["member"]] == 0).all()
    state = Cohort(scenario, seed, block_plan(64)).state
    assert set(np.unique(state.items_held[state.member]).tolist()) <= {4.0, 5.0}
    assert (state.items_held[~state.member] == 0).all()
    np.testing.assert_array_equal(state.member.sum(axis=1), state.group_size)


# --- the state, week by week ---------------------------------------------------------------


@FAST
@given(seed=seeds, sizes=group_sizes, conflict=conflicts, volume=st.floats(0.0, 3.0),
       strategy=strategies)
def test_state_invariants_week_by_week(baseline, seed, sizes, conflict, volume, strategy):
    horizon = 20
    scenario = variant(baseline, sizes, conflict, volume).with_overrides(
        {"simulation.horizon_weeks": horizon})
    n = 24
    cohort = Cohort(scenario, seed, block_plan(n), strategy)
    b = scenario.behaviour

    state = cohort.state
    assert np.isin(state.group_size, sizes).all()
    np.testing.assert_array_equal(state.member.sum(axis=1), state.group_size)
    check_weights(state.weights, state.member, state.adjacency)
    assert not state.done.any() and (state.completion == 0).all()
    held_before = dict(zip(state.deal_id.tolist(), state.items_held, strict=True))
    loops_before = dict(zip(state.deal_id.tolist(), state.loops, strict=True))
    assert sorted(held_before) == list(range(n))

    weeks, ended_deals = 0, []
    while cohort.running:
        ended = cohort.step()
        weeks += 1
        assert weeks <= horizon
        views = [cohort.state] + ([cohort.finished_state] if ended is not None else [])
        for s in views:
            member = s.member
            np.testing.assert_array_equal(member.sum(axis=1), s.group_size)
            assert ((s.completion >= 0) & (s.completion <= 1)).all()
            assert (s.completion[s.done] >= b.reopen_threshold - TOL).all()
            assert ((s.overload >= 0) & (s.overload <= 1)).all()
            assert (s.overload[~member] == 0).all()
            assert ((s.peak_overload >= 0) & (s.peak_overload <= 1 + TOL)).all()
            assert (s.priority >= 0).all()
            np.testing.assert_allclose(s.priority[member].sum(axis=1), 1.0, atol=1e-4)
            check_weights(s.weights, member, s.adjacency, tol=1e-4)
            assert (s.items_held[~member] == 0).all()
            assert (s.week == weeks).all()
            for deal, items_now, loops_now in zip(s.deal_id.tolist(), s.items_held, s.loops,
                                                  strict=True):
                assert (items_now >= held_before[deal]).all()  # items received only add up
                assert (loops_now >= loops_before[deal]).all()
                held_before[deal], loops_before[deal] = items_now, loops_now
        assert (cohort.state.end_reason == END_RUNNING).all()
        if ended is not None:
            finished = cohort.finished_state
            assert (finished.end_reason != END_RUNNING).all()
            assert set(finished.deal_id.tolist()) <= set(ended["deal"].tolist())
            ended_deals += ended["deal"].tolist()
    assert sorted(ended_deals) == list(range(n))  # every deal ends exactly once


# --- the network pieces on their own -------------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(seed=seeds, deals=st.integers(1, 6), size=st.integers(1, MAX_GROUP_SIZE),
       self_weight=st.floats(0.1, 3.0))
def test_influence_matrix_is_row_stochastic(seed, deals, size, self_weight):
    rng = np.random.default_rng(seed)
    adjacency = rng.random((deals, size, size)) < 0.4
    adjacency = np.triu(adjacency, 1)
    adjacency = adjacency | adjacency.transpose(0, 2, 1)
    trust = rng.uniform(0.0, 1.0, (deals, size, size))
    group = rng.integers(1, size + 1, deals)
    member = np.arange(size)[None, :] < group[:, None]
    adjacency &= member[:, :, None] & member[:, None, :]
    influence = rng.uniform(0.1, 3.0, (deals, size)) * member
    weights = influence_matrix(adjacency, trust, influence, member, self_weight)

    assert weights.shape == (deals, size, size)
    assert (weights >= 0).all()
    np.testing.assert_allclose(weights.sum(axis=2), 1.0, rtol=1e-12, atol=1e-12)
    eye = np.eye(size, dtype=bool)[None]
    assert (weights[~member[:, None, :] & ~eye] == 0).all()
    assert (weights[~adjacency & ~eye] == 0).all()
    # Every member keeps some weight on its own view.
    assert (weights[:, np.arange(size), np.arange(size)][member] > 0).all()


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**31), kind=networks, max_size=st.integers(1, 9))
def test_topology_library_holds_connected_groups(seed, kind, max_size):
    library = topology_library(kind, max_size, seed)
    assert library.shape[:3] == (max_size + 1, library.shape[1], max_size)
    assert not library[0].any()
    for size in range(1, max_size + 1):
        for graph in library[size, :8]:
            np.testing.assert_array_equal(graph, graph.T)
            assert not np.diag(graph).any()
            assert not graph[size:].any() and not graph[:, size:].any()
            assert nx.is_connected(nx.from_numpy_array(graph[:size, :size].astype(int)))
    # A library of some sizes holds the same graphs for those sizes and nothing for the rest.
    some = tuple(range(1, max_size + 1, 2))
    partial = topology_library(kind, max_size, seed, some)
    for size in range(max_size + 1):
        expected = library[size] if size in some else np.zeros_like(library[size])
        np.testing.assert_array_equal(partial[size], expected)


@pytest.mark.parametrize("size", [1, 2, 16])
def test_extreme_group_sizes_run(baseline, size):
    """A lone buyer and the largest group both finish with sane outcomes."""
    scenario = variant(baseline, [size], 0.5, 1.0)
    deals = sim.simulate(scenario, 64, seed=size).deals
    assert (deals["group_size"] == size).all()
    assert deals["purchase_ease"].between(0, 1).all()
    assert deals["cycle_weeks"].between(1, scenario.simulation.horizon_weeks).all()



def test_groups_meet_a_log_normal_spread_of_information_around_the_market_volume(baseline):
    """volume_spread is the log-sd of the factor; its mean is 1, so the scenario's volume stays
    the average a group meets."""
    scenario = baseline.with_overrides({"population.information_volume": 1.5, "behaviour.volume_spread": 0.5})
    volume = customers_of(scenario, 20_000, 4)["information_volume"]
    assert np.log(volume).std() == pytest.approx(0.5, abs=0.01)
    assert volume.mean() == pytest.approx(1.5, rel=0.02)
