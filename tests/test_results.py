"""Results: summaries with confidence intervals, paired comparisons, files and plots."""

from __future__ import annotations

import json
import math

import matplotlib
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import sim  # noqa: E402
from sim.outcomes import COLUMNS  # noqa: E402
from sim.results import HEADLINE, METRICS, Z95, Results, compare_strategies, mean_ci  # noqa: E402


@pytest.fixture(scope="module")
def seller(baseline) -> Results:
    return sim.simulate(baseline, 600, seed=3, strategy="seller_led")


@pytest.fixture(scope="module")
def sense(baseline) -> Results:
    return sim.simulate(baseline, 600, seed=3, strategy="sense_making")


def subset(deals: pd.DataFrame, over: str) -> pd.DataFrame:
    return deals[deals["purchased"]] if over == "purchases" else deals


# --- mean_ci --------------------------------------------------------------------------------

def test_mean_ci_on_known_values():
    mean, low, high, n = mean_ci(np.array([1.0, 2.0, 3.0, np.nan]))
    half = Z95 * 1.0 / math.sqrt(3)  # sample sd of 1, 2, 3 is 1
    assert n == 3 and mean == pytest.approx(2.0)
    assert low == pytest.approx(2.0 - half) and high == pytest.approx(2.0 + half)
    assert abs(Z95 - 1.96) < 1e-3


def test_mean_ci_degenerate_inputs():
    mean, low, high, n = mean_ci(np.array([5.0]))
    assert (mean, n) == (5.0, 1) and math.isnan(low) and math.isnan(high)
    mean, low, high, n = mean_ci(np.array([np.nan, np.nan]))
    assert n == 0 and math.isnan(mean)
    mean, low, high, n = mean_ci(pd.Series([True, False, True, True]))
    assert n == 4 and mean == pytest.approx(0.75) and low < 0.75 < high


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=50))
def test_mean_ci_brackets_the_mean(values):
    mean, low, high, n = mean_ci(np.array(values))
    assert n == len(values)
    assert mean == pytest.approx(float(np.mean(values)), rel=1e-9, abs=1e-6)
    assert low <= mean + 1e-9 and mean <= high + 1e-9
    assert high - low == pytest.approx(2 * Z95 * np.std(values, ddof=1) / math.sqrt(n), rel=1e-6, abs=1e-6)


# --- summary --------------------------------------------------------------------------------

def test_summary_means_lie_in_their_intervals(seller):
    table = seller.summary()
    assert list(table.index) == list(METRICS)
    for metric, row in table.iterrows():
        values = subset(seller.deals, row["over"])[metric].astype(float).dropna()
        assert row["n"] == len(values), metric
        assert row["mean"] == pytest.approx(values.mean(), rel=1e-6, abs=1e-9), metric
        if row["n"] > 1:
            assert row["ci_low"] <= row["mean"] <= row["ci_high"], metric
            assert row["label"] == METRICS[metric][0]


def test_summary_counts_purchase_metrics_on_purchases(seller):
    table = seller.summary(["regret", "deal_size", "no_decision"])
    purchases = int(seller.deals["purchased"].sum())
    assert table.loc["regret", "n"] == purchases == table.loc["deal_size", "n"]
    assert table.loc["no_decision", "n"] == len(seller)
    # No decision (abandonment) excludes deals still open at the horizon.
    open_deals = int(seller.deals["reached_horizon"].sum())
    assert table.loc["no_decision", "mean"] == pytest.approx(1 - (purchases + open_deals) / len(seller))


# --- compare --------------------------------------------------------------------------------

def test_compare_with_itself_is_zero(seller):
    table = seller.compare(seller)
    assert (table["difference"] == 0).all()
    assert (table["ci_low"] == 0).all() and (table["ci_high"] == 0).all()
    summary = seller.summary()
    assert (table["n"] == summary["n"]).all()


def test_compare_gives_paired_differences(seller, sense):
    table = seller.compare(sense)
    s_seller, s_sense = seller.summary(), sense.summary()
    for metric, row in table.iterrows():
        assert row["ci_low"] <= row["difference"] <= row["ci_high"], metric
        if row["over"] == "all":
            expected = s_sense.loc[metric, "mean"] - s_seller.loc[metric, "mean"]
            assert row["difference"] == pytest.approx(expected, abs=1e-6), metric
            assert row["n"] == len(seller)
        else:
            both = seller.deals["purchased"] & sense.deals["purchased"]
            assert row["n"] == both.sum(), metric
            a = seller.deals.loc[both, metric].astype(float)
            b = sense.deals.loc[both, metric].astype(float)
            assert row["difference"] == pytest.approx((b - a).mean(), abs=1e-6), metric
    # The paired interval is narrower than the two runs' intervals would suggest apart.
    ease = table.loc["purchase_ease"]
    half_paired = (ease["ci_high"] - ease["ci_low"]) / 2
    halves = [(s.loc["purchase_ease", "ci_high"] - s.loc["purchase_ease", "ci_low"]) / 2
              for s in (s_seller, s_sense)]
    assert half_paired < math.hypot(*halves)


def test_compare_refuses_different_deals(baseline, seller):
    other_seed = sim.simulate(baseline, 600, seed=4, strategy="seller_led")
    with pytest.raises(ValueError, match="same"):
        seller.compare(other_seed)
    fewer = sim.simulate(baseline, 300, seed=3, strategy="seller_led")
    with pytest.raises(ValueError):
        seller.compare(fewer)


def test_compare_strategies_side_by_side(seller, sense):
    table = compare_strategies({"seller_led": seller, "sense_making": sense})
    assert list(table.index) == HEADLINE
    for name, run in (("seller_led", seller), ("sense_making", sense)):
        summary = run.summary(HEADLINE)
        np.testing.assert_allclose(table[name], summary["mean"])
        np.testing.assert_allclose(table[f"{name}_ci_low"], summary["ci_low"])
        np.testing.assert_allclose(table[f"{name}_ci_high"], summary["ci_high"])


# --- files ----------------------------------------------------------------------------------

def read_back(path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.DataFrame(json.loads(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".json"])
def test_save_and_load_round_trip(tmp_path, seller, suffix):
    path = seller.save(tmp_path / "nested" / f"deals{suffix}")
    assert path.exists()
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    loaded = read_back(path)
    if suffix == ".parquet":
        pd.testing.assert_frame_equal(loaded, seller.deals)
    else:
        expected = seller.deals.copy()
        for column in expected:
            if expected[column].dtype == np.float32:
                expected[column] = expected[column].astype(float)
        loaded = loaded.astype({c: float for c in expected if expected[c].dtype == float})
        pd.testing.assert_frame_equal(loaded, expected, check_dtype=False, rtol=1e-6, atol=1e-9)
    # The loaded table gives the same summary.
    again = Results(deals=loaded, scenario=seller.scenario, seed=seller.seed, strategy=seller.strategy)
    pd.testing.assert_frame_equal(again.summary(), seller.summary(), rtol=1e-6)


def test_save_refuses_unknown_formats(tmp_path, seller):
    with pytest.raises(ValueError, match=r"\.csv.*\.parquet.*\.json"):
        seller.save(tmp_path / "deals.xlsx")
    assert list(tmp_path.iterdir()) == []


# --- the table itself ----------------------------------------------------------------------

def test_results_describe_every_column(seller):
    assert list(seller.deals.columns) == list(Results.columns) == list(COLUMNS)
    assert all(isinstance(text, str) and text for text in COLUMNS.values())
    assert len(seller) == 600
    assert seller.label() == "seller_led"
    assert sim.simulate("baseline", 10, seed=0).label() == "scenario mix"
    assert seller.metadata["n_deals"] == 600


# --- plots ----------------------------------------------------------------------------------

def test_plot_returns_a_figure(seller):
    figure = seller.plot()
    try:
        assert isinstance(figure, Figure)
        (ax,) = figure.axes
        assert len(ax.patches) == len(HEADLINE)  # one bar per headline metric
        heights = [bar.get_height() for bar in ax.patches]
        np.testing.assert_allclose(heights, seller.summary(HEADLINE)["mean"], rtol=1e-6)
    finally:
        plt.close(figure)


def test_plot_on_a_given_axis(seller):
    figure, ax = plt.subplots()
    try:
        returned = seller.plot(["purchase_ease", "no_decision"], ax=ax)
        assert returned is figure
        assert len(ax.patches) == 2
    finally:
        plt.close(figure)
