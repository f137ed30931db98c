"""Scenario discovery: a region planted in synthetic sweep tables is recovered as the right box
(PRIM, CART and feature scores), on a cases table and through the paired per-point contrast of
a synthetic sweep; questions are checked with one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from sim.explore.discovery import (
    Box,
    DiscoveryError,
    Question,
    discover,
    discover_cases,
    effective_target,
    write_discovery,
)
from sim.explore.store import SweepResults

PARAMETERS = ["conflict_level", "information_volume", "group_size"]


def planted_cases(n: int = 300, seed: int = 1) -> pd.DataFrame:
    """Points spread over three conditions; the margin is large only where conflict > 0.55
    and information volume > 1.2."""
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({
        "conflict_level": rng.uniform(0, 1, n),
        "information_volume": rng.uniform(0.5, 2, n),
        "group_size": rng.integers(4, 11, n),
    })
    inside = (table.conflict_level > 0.55) & (table.information_volume > 1.2)
    table["value"] = np.where(inside, 0.1, -0.02) + rng.normal(0, 0.01, n)
    table["qualifies"] = table["value"] > 0.05
    return table


def inside(box: Box, table: pd.DataFrame) -> pd.Series:
    """Which rows of ``table`` lie in a box, read back from its limits table."""
    mask = pd.Series(True, index=table.index)
    for row in box.limits.itertuples():
        if row.categories:
            mask &= table[row.parameter].astype(str).isin(row.categories.split("|"))
            continue
        if not pd.isna(row.lower):
            mask &= table[row.parameter] >= row.lower
        if not pd.isna(row.upper):
            mask &= table[row.parameter] <= row.upper
    return mask


def test_planted_box_is_recovered_by_prim_cart_and_feature_scores():
    table = planted_cases()
    question = Question("contrast", "purchase_ease", 0.05, "sense_making", "seller_led")
    found = discover_cases(table, PARAMETERS, question)
    box = found.boxes[0]
    limits = box.limits.set_index("parameter")
    assert set(limits.index) == {"conflict_level", "information_volume"}  # group size left free
    assert limits.loc["conflict_level", "lower"] == pytest.approx(0.55, abs=0.03)
    assert limits.loc["information_volume", "lower"] == pytest.approx(1.2, abs=0.05)
    assert limits["upper"].isna().all()
    assert (limits[["qp_lower"]] < 0.001).all().all()  # both limits are significant
    # coverage and density are what the limits select in the table
    mask, hits = inside(box, table), table["qualifies"]
    assert box.n == mask.sum() and box.k == (mask & hits).sum()
    assert box.coverage == pytest.approx((mask & hits).sum() / hits.sum())
    assert box.density == pytest.approx((mask & hits).sum() / mask.sum())
    assert box.coverage > 0.95 and box.density > 0.95
    assert found.sentences[0].startswith(
        "Sense-making beats seller-led on purchase ease by more than 0.05 when conflict level >= 0.5"
    )
    assert f"covers {box.coverage:.0%} of such points; {box.density:.0%} of points in the region qualify" in (
        found.sentences[0]
    )
    cart = found.cart_boxes[0].limits.set_index("parameter")
    assert set(cart.index) == {"conflict_level", "information_volume"}
    assert cart.loc["conflict_level", "lower"] == pytest.approx(0.55, abs=0.03)
    assert list(found.feature_scores["parameter"][:2]) in (
        ["conflict_level", "information_volume"], ["information_volume", "conflict_level"])
    assert found.feature_scores["score"].sum() == pytest.approx(1)
    chosen = found.trajectories[0][found.trajectories[0]["chosen"]]
    assert len(chosen) == 1 and chosen["density"].item() == pytest.approx(box.density)


def test_a_second_region_becomes_a_second_box():
    # PRIM peels from the edges, so the second region sits in the opposite corner, where
    # peeling towards the first one removes it: low conflict and low information volume.
    table = planted_cases(600, seed=3)
    second = (table.conflict_level < 0.3) & (table.information_volume < 0.9)
    table.loc[second, "qualifies"] = True
    found = discover_cases(table, PARAMETERS, Question("outcome", "no_decision", 0.5))
    assert len(found.boxes) >= 2
    first = found.boxes[0].limits.set_index("parameter")
    assert set(first.index) == {"conflict_level", "information_volume"}
    assert first.loc["information_volume", "lower"] == pytest.approx(1.2, abs=0.05)
    limits = found.boxes[1].limits.set_index("parameter")
    assert set(limits.index) == {"conflict_level", "information_volume"}
    assert limits.loc["information_volume", "upper"] == pytest.approx(0.9, abs=0.05)
    assert limits.loc["conflict_level", "upper"] == pytest.approx(0.3, abs=0.05)
    assert found.sentences[1].startswith("Also: no-decision rate is above 0.5 when ")


def test_an_answer_true_almost_everywhere_still_names_where_it_always_holds():
    table = planted_cases()
    table["qualifies"] = ~((table.conflict_level < 0.15) & (table.information_volume < 1.0)) | (
        table.group_size > 100)
    share = table["qualifies"].mean()
    assert share > 0.85
    found = discover_cases(table, PARAMETERS, Question("outcome", "no_decision", 0.5), density=0.8)
    assert found.density_target == pytest.approx(share + (1 - share) / 2)
    assert effective_target(0.8, 0.3) == 0.8
    assert not found.boxes[0].limits.empty and found.boxes[0].density >= found.density_target


def synthetic_sweep(direction: int = 1) -> SweepResults:
    """A 6 x 6 x 3 grid x two strategies x 60 deals on the same customers. Strategy A's ease
    (or, with direction -1, its regret, lower being better) beats B's by 0.1 on every deal
    where conflict >= 0.5 and information volume >= 1.1, and trails by 0.02 elsewhere."""
    rng = np.random.default_rng(5)
    grid = pd.MultiIndex.from_product(
        [np.linspace(0.1, 0.9, 6).round(2), np.linspace(0.5, 2.0, 6).round(2), [6, 8, 10]],
        names=["conflict_level", "information_volume", "group_size"],
    ).to_frame(index=False)
    experiments = grid.assign(point=np.arange(len(grid)), seed=0)[["point", "seed", *PARAMETERS]]
    rows = []
    for point in experiments.itertuples():
        margin = 0.1 if point.conflict_level >= 0.5 and point.information_volume >= 1.1 else -0.02
        customer = rng.uniform(0.2, 0.6, 60)
        noise = rng.normal(0, 0.01, 60)
        purchased = np.ones(60, dtype=bool)
        for strategy, shift in (("A", margin + noise), ("B", 0.0)):
            value = customer + direction * shift
            rows.append(pd.DataFrame({"point": point.point, "strategy": strategy, "deal": np.arange(60),
                                      "purchase_ease": value, "regret": value, "purchased": purchased,
                                      "no_decision": ~purchased}))
    manifest = {"parameters": [{"name": p} for p in PARAMETERS], "strategies": ["A", "B"],
                "spec": {"name": "planted", "seed": 3,
                         "outcomes": ["purchase_ease", "regret", "no_decision"]}}
    return SweepResults(Path("."), manifest, experiments, pd.concat(rows, ignore_index=True), complete=True)


@pytest.mark.parametrize("metric, direction", [("purchase_ease", 1), ("regret", -1)])
def test_paired_contrast_of_a_sweep_recovers_the_planted_region(metric, direction):
    results = synthetic_sweep(direction)
    for options in ({"threshold": 0.05}, {"clear": True}):
        found = discover(results, metric, ("A", "B"), **options)
        # conflict >= 0.5: 3 of the 6 levels; volume >= 1.1: 4 of 6; every group size
        assert found.cases["qualifies"].sum() == 3 * 4 * 3
        box = found.boxes[0]
        assert box.coverage == 1 and box.density == 1
        texts = set(box.limits["text"])
        assert texts == {"conflict level >= 0.58", "information volume >= 1.1"}  # the grid values let in
    assert "lower is better" in found.sentences[0] if direction < 0 else "lower" not in found.sentences[0]
    # the value is the paired per-point difference A - B: the planted margin, signed by the metric
    row = found.cases.sort_values("value").iloc[-1 if direction > 0 else 0]
    assert row["value"] == pytest.approx(0.1 * direction, abs=0.01)


def test_sim_discover_is_the_discovery_entry_point():
    import sim

    found = sim.discover(synthetic_sweep(), "purchase_ease", contrast=("A", "B"), threshold=0.05)
    assert sim.discover is discover and found.boxes[0].coverage == 1


def test_outcome_question_over_every_strategy_finds_the_strategy_as_a_condition():
    results = synthetic_sweep()
    deals = results.deals
    high = (deals["strategy"] == "B") & deals["point"].isin(
        results.experiments.query("information_volume >= 1.4")["point"])
    results.deals = deals.assign(purchased=~high, no_decision=high)
    found = discover(results, "no_decision", above=0.5)
    assert len(found.cases) == 2 * len(results.experiments)
    limits = found.boxes[0].limits.set_index("parameter")
    assert set(limits.index) == {"strategy", "information_volume"}
    assert limits.loc["strategy", "categories"] == "B"
    assert "strategy is B" in found.sentences[0]


@pytest.mark.parametrize("call, message", [
    (lambda r: discover(r, "purchase_ease", ("A", "magic")),
     "--contrast: unknown strategy 'magic'; allowed: A, B"),
    (lambda r: discover(r, "ease", ("A", "B")), "--metric 'ease': unknown for a contrast; allowed: "),
    (lambda r: discover(r, "purchase_ease", ("A", "B"), threshold=0.5),
     "no swept point qualifies (A beats B on purchase ease by more than 0.5) among 108 points; "
     "the largest margin in A's favour is 0.1"),
    (lambda r: discover(r, "purchase_ease", ("A", "B"), threshold=0.1, clear=True),
     "--threshold and --clear exclude each other"),
    (lambda r: discover(r, "no_decision", above=0.5, below=0.2), "needs one of --above X or --below X"),
    (lambda r: discover(r, "no_decision", above=0.5, strategy="C"), "--strategy: unknown 'C'; allowed: A, B"),
    (lambda r: discover(r, "purchase_ease", threshold=0.1), "--threshold and --clear need --contrast A,B"),
    (lambda r: discover(r, "purchase_ease", ("A", "B"), density=1.5), "--density 1.5: give a share"),
])
def test_mistakes_are_one_line_discovery_errors(call, message):
    with pytest.raises(DiscoveryError) as error:
        call(synthetic_sweep())
    assert message in str(error.value) and "\n" not in str(error.value)


def test_page_and_csvs_escape_user_text(tmp_path):
    table = planted_cases().rename(columns={"group_size": "<b>size</b>"})
    found = discover_cases(table, ["conflict_level", "information_volume", "<b>size</b>"],
                           Question("outcome", "no_decision", 0.5))
    path = write_discovery(found, tmp_path, name="<script>alert(1)</script>")
    page = path.read_text()
    assert "<script>alert" not in page and "&lt;script&gt;" in page and "<b>size" not in page
    assert page.count("data:image/png;base64,") >= 2
    boxes = pd.read_csv(tmp_path / "prim_boxes.csv")
    assert set(boxes["parameter"]) == {"conflict_level", "information_volume"}
    for name in ("cases.csv", "prim_trajectory.csv", "cart_boxes.csv", "feature_scores.csv"):
        assert (tmp_path / name).stat().st_size > 0


def test_findings_agree_with_the_tables_they_come_from():
    from sim.explore.analysis import best_strategies, marginal, robustness, win_counts
    from sim.explore.findings import findings

    results = synthetic_sweep()
    best = best_strategies(results, ["purchase_ease"])
    wins = win_counts(best)
    robust = robustness(results, ["purchase_ease"])
    found = {f.topic: f for f in findings(results, ["purchase_ease"], best, wins, robust)}
    # best overall: the strategy winning most points, counted from the best-per-point table
    counts = best["best"].value_counts()
    assert found["best"].data["strategy"] == counts.index[0] == "B"  # A leads only in the planted corner
    assert found["best"].data["points"] == counts.iloc[0] == 108 - 36
    assert found["best"].data["clear"] == int(best.loc[best["best"] == "B", "clear"].sum())
    assert found["best"].text.startswith("Purchase ease: B is best at 72 of 108 points")
    # where it is not: the discovery box of "A beats B" is the planted corner
    assert found["where"].data["pair"] == ("A", "B")
    assert set(found["where"].data["limits"]) == {"conflict level >= 0.58", "information volume >= 1.1"}
    # the strongest condition effect is the parameter with the widest range of B's pooled means
    ranges = {p: np.ptp(marginal(results, p, ["purchase_ease"]).query("strategy == 'B'")["mean"])
              for p in PARAMETERS}
    assert found["effect"].data["parameter"] == max(ranges, key=ranges.get)
    assert found["effect"].data["range"] == pytest.approx(max(ranges.values()))
    # robustness: the smallest maximum regret in the robustness table
    top = robust.sort_values("max_regret").iloc[0]
    assert found["robustness"].data["strategy"] == top["strategy"]
    assert found["robustness"].data["max_regret"] == pytest.approx(top["max_regret"])


def test_categories_and_booleans_are_conditions_too():
    rng = np.random.default_rng(2)
    table = pd.DataFrame({"conflict_level": rng.uniform(0, 1, 300),
                          "network": rng.choice(["small_world", "hierarchy", "complete"], 300),
                          "reach": rng.choice([True, False], 300)})
    table["value"] = rng.normal(0, 1, 300)
    table["qualifies"] = (table.network == "hierarchy") & (table.conflict_level > 0.5)
    found = discover_cases(table, ["conflict_level", "network", "reach"],
                           Question("outcome", "no_decision", 0.5))
    for box in (found.boxes[0], found.cart_boxes[0]):
        limits = box.limits.set_index("parameter")
        assert set(limits.index) == {"conflict_level", "network"}
        assert limits.loc["network", "categories"] == "hierarchy"
        assert limits.loc["conflict_level", "lower"] == pytest.approx(0.5, abs=0.03)
        mask, hits = inside(box, table), table["qualifies"]
        assert (box.n, box.k) == (mask.sum(), (mask & hits).sum())
    assert "network is hierarchy" in found.sentences[0]


def test_a_single_swept_condition_is_enough():
    table = planted_cases()[["conflict_level", "value"]]
    table["qualifies"] = table["conflict_level"] > 0.6
    found = discover_cases(table, ["conflict_level"], Question("outcome", "no_decision", 0.5))
    smallest = table.loc[table["qualifies"], "conflict_level"].min()
    assert found.cart_boxes[0].limits["lower"].item() == smallest  # the split, as the first value in
    box = found.boxes[0]  # PRIM keeps the most coverage at a density of at least 80%
    assert box.coverage == 1 and box.density >= 0.8
    assert 0.5 < box.limits["lower"].item() <= smallest


@settings(max_examples=10, deadline=None)
@given(n=st.integers(40, 160), low=st.floats(0.05, 0.7), high_volume=st.floats(0.8, 1.8),
       seed=st.integers(0, 10_000), noise=st.floats(0, 0.15))
# a leaf cut only below a parameter's smallest value (group size <= 4.5, 4 the least)
@example(n=143, low=0.25, high_volume=1.0, seed=273, noise=0.03125)
def test_every_box_states_what_its_limits_select(n, low, high_volume, seed, noise):
    """Whatever the table, each box's counts, coverage and density are what its limits select,
    a box said to reach the density target does, and the same table gives the same answer."""
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({"conflict_level": rng.uniform(0, 1, n).round(2),
                          "information_volume": rng.uniform(0.5, 2, n).round(2),
                          "group_size": rng.integers(4, 11, n)})
    planted = (table.conflict_level > low) & (table.information_volume < high_volume)
    table["qualifies"] = planted ^ (rng.uniform(size=n) < noise)
    table["value"] = table["qualifies"] + rng.normal(0, 0.1, n)
    assume(table["qualifies"].any())
    question = Question("outcome", "no_decision", 0.5)
    found = discover_cases(table, PARAMETERS, question)
    hits = table["qualifies"]
    for box in [*found.boxes, *found.cart_boxes]:
        mask = inside(box, table)
        if box.method == "CART":  # leaves do not overlap earlier boxes: counts hold on all points
            assert (box.n, box.k) == (mask.sum(), (mask & hits).sum())
            assert box.coverage == pytest.approx((mask & hits).sum() / hits.sum())
        assert 0 < box.coverage <= 1 and 0 <= box.density <= 1
        if box.meets_target:
            assert box.density >= found.density_target - 1e-9
    if found.boxes:  # the first PRIM box is found among all points
        mask = inside(found.boxes[0], table)
        assert (found.boxes[0].n, found.boxes[0].k) == (mask.sum(), (mask & hits).sum())
    again = discover_cases(table, PARAMETERS, question)
    assert again.sentences == found.sentences


@pytest.mark.filterwarnings("ignore:ipyparallel")
def test_a_limit_that_is_not_significant_is_dropped_when_the_box_stays_dense():
    from ema_workbench.analysis import prim
    from ema_workbench.analysis import scenario_discovery_util as sdutil

    from sim.explore.discovery import _choose, _drop_weak_limits, _limit_rows

    table = planted_cases()
    x, y = table[PARAMETERS], (table.conflict_level > 0.5).to_numpy(dtype=int)
    finder = prim.Prim(x, y, threshold=0.5, mass_min=0.05)
    found = finder.find_box()
    index, meets = _choose(found.peeling_trajectory, 0.8)
    assert meets
    padded = found.box_lims[index].copy()
    padded.loc[1, "group_size"] = 9  # a limit with no bearing on the outcome
    found.update(padded, finder.yi_remaining[sdutil._in_box(x.loc[finder.yi_remaining], padded)])
    padded_index = len(found.peeling_trajectory) - 1
    assert set(_limit_rows(found.box_lims[padded_index], x, found.qp[padded_index])["parameter"]) == {
        "conflict_level", "group_size"}
    kept = _drop_weak_limits(found, padded_index, 0.8)
    limits = _limit_rows(found.box_lims[kept], x, found.qp[kept])
    assert list(limits["parameter"]) == ["conflict_level"]
    assert found.peeling_trajectory.loc[kept, "density"] >= 0.8
