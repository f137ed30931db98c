"""Scenario discovery on a sweep: *where* in the swept buyer conditions something happens.

A question marks each swept point as a case of interest or not: a *contrast* (strategy A beats
strategy B on a metric, by more than a threshold or clearly, the paired 95% CI excluding zero)
or an *outcome* (a metric's mean above or below a value, under one strategy or each). PRIM
(EMA Workbench) then peels the space of swept parameters down to boxes that hold mostly cases
of interest; the chosen box is the one with the largest coverage (share of all cases of
interest inside it) among those whose density (share of its points that are cases) reaches
the target, with limits that are not significant dropped while it stays that dense. CART
gives a second view of the same split, and extra-trees feature scoring ranks the parameters by
how much they explain the value behind the question. Everything is returned as data
(:class:`Discovery`) led by sentences, and written as CSVs and a self-contained HTML page.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from sim.explore.spec import SweepError
from sim.palette import strategy_label

if TYPE_CHECKING:
    from sim.explore.store import SweepResults

DEFAULT_DENSITY = 0.8  # share of a box's points that must be cases of interest
DEFAULT_MASS_MIN = 0.05  # smallest box, as a share of all points
MAX_BOXES = 3
SIGNIFICANT = 0.05  # a limit whose quasi-p value exceeds this is reported as not significant
FEATURE_TREES = 200
QuestionKind = Literal["contrast", "outcome"]


class DiscoveryError(SweepError):
    """A user-facing discovery problem (unknown strategy or metric, nothing qualifies): one line."""


# --------------------------------------------------------------------------------------------
# The question
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    """What makes a point a case of interest.

    ``contrast``: ``first`` beats ``second`` on ``metric`` (in the metric's better direction)
    by more than ``threshold``, or, with ``clear``, with a paired 95% CI clear of zero.
    ``outcome``: the metric's mean is above (``above``) or below ``threshold``, under
    ``strategy`` (None: every strategy, which becomes a condition of its own).
    """

    kind: QuestionKind
    metric: str
    threshold: float = 0.0
    first: str | None = None
    second: str | None = None
    clear: bool = False
    above: bool = True
    strategy: str | None = None
    direction: int = 1

    def describe(self) -> str:
        """The question as the start of a sentence."""
        name = _metric_name(self.metric)
        if self.kind == "contrast":
            better = "" if self.direction > 0 else " (lower is better)"
            first, second = strategy_label(self.first or ""), strategy_label(self.second or "")
            if self.clear:
                return f"{first} beats {second} on {name}{better} clearly (paired 95% CI clear of zero)"
            if self.threshold == 0:
                return f"{first} beats {second} on {name}{better}"
            return f"{first} beats {second} on {name}{better} by more than {_number(self.threshold)}"
        under = f" under {strategy_label(self.strategy)}" if self.strategy else ""
        side = "above" if self.above else "below"
        return f"{name} is {side} {_number(self.threshold)}{under}"


def _metric_name(metric: str) -> str:
    from sim.explore.analysis import label

    return label(metric).lower()


def level_text(value: Any) -> str:
    """A swept value as prose: whole numbers without decimals, others to three figures."""
    return _number(float(value)) if isinstance(value, int | float | np.integer | np.floating) else str(value)


def _number(value: float) -> str:
    if isinstance(value, bool | np.bool_):
        return str(value).lower()
    whole = isinstance(value, float | np.floating) and float(value).is_integer() and abs(value) >= 1
    if isinstance(value, int | np.integer) or whole:
        return f"{int(value)}"
    return f"{value:.3g}"


def contrast_question(
    results: SweepResults,
    first: str,
    second: str,
    metric: str,
    threshold: float | None = None,
    clear: bool = False,
) -> Question:
    """A checked contrast question: both strategies and the metric (with a direction) exist."""
    from sim.explore.analysis import DIRECTION

    for name in (first, second):
        if name not in results.strategies:
            raise DiscoveryError(
                f"--contrast: unknown strategy {name!r}; allowed: {', '.join(results.strategies)}"
            )
    if first == second:
        raise DiscoveryError(f"--contrast {first},{second}: name two different strategies")
    allowed = [m for m in results.outcomes if m in DIRECTION and m in results.deals.columns]
    if metric not in allowed:
        raise DiscoveryError(f"--metric {metric!r}: unknown for a contrast; allowed: {', '.join(allowed)}")
    if clear and threshold is not None:
        raise DiscoveryError("--threshold and --clear exclude each other; choose one")
    _finite("--threshold", threshold)
    return Question(
        "contrast", metric, threshold or 0.0, first, second, clear=clear, direction=DIRECTION[metric]
    )


def outcome_question(
    results: SweepResults,
    metric: str,
    above: float | None = None,
    below: float | None = None,
    strategy: str | None = None,
) -> Question:
    """A checked outcome question: the metric exists, exactly one of above/below is given."""
    allowed = [m for m in results.outcomes if m in results.deals.columns]
    if metric not in allowed:
        raise DiscoveryError(f"--metric {metric!r}: unknown; allowed: {', '.join(allowed)}")
    if (above is None) == (below is None):
        raise DiscoveryError(
            f"--metric {metric} without --contrast needs one of --above X or --below X "
            "(or give --contrast A,B)"
        )
    if strategy is not None and strategy not in results.strategies:
        raise DiscoveryError(f"--strategy: unknown {strategy!r}; allowed: {', '.join(results.strategies)}")
    value = above if above is not None else below
    _finite("--above" if above is not None else "--below", value)
    return Question("outcome", metric, float(value), above=above is not None, strategy=strategy)  # type: ignore[arg-type]


def _finite(flag: str, value: float | None) -> None:
    if value is not None and not math.isfinite(value):
        raise DiscoveryError(f"{flag} {value}: give a finite number")


def cases(results: SweepResults, question: Question) -> pd.DataFrame:
    """One row per swept point (per point and strategy for an outcome question over every
    strategy): the parameters, the ``value`` behind the question with its 95% CI, and
    ``qualifies`` (a case of interest). Points without a value (e.g. no paired purchases) are
    left out."""
    from sim.explore.analysis import point_contrast, point_summary

    if question.kind == "contrast":
        table = point_contrast(results, question.first, question.second, question.metric)  # type: ignore[arg-type]
        table = table.rename(columns={"mean": "value"})
        favour = question.direction * table["value"]
        if question.clear:
            bound = table["ci_low"] if question.direction > 0 else -table["ci_high"]
            qualifies = bound > 0
        else:
            qualifies = favour > question.threshold
    else:
        summary = point_summary(results, [question.metric])
        if question.strategy is not None:
            summary = summary[summary["strategy"] == question.strategy].drop(columns="strategy")
        table = summary.drop(columns=["metric", "over"]).rename(columns={"mean": "value"})
        values = table["value"]
        qualifies = values > question.threshold if question.above else values < question.threshold
    table = table.assign(qualifies=qualifies.to_numpy(dtype=bool))
    return table[table["value"].notna()].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Boxes
# --------------------------------------------------------------------------------------------


@dataclass
class Box:
    """A region of the swept conditions: per-parameter limits (only the restricted ones), its
    coverage, density and size, and the sentence that states it. ``n`` and ``k`` count the
    points (and the qualifying ones) in the box; for a second or later PRIM box, among the
    points the earlier boxes left, as PRIM searches them; ``coverage`` is ``k`` over all
    qualifying points."""

    method: str  # "PRIM" or "CART"
    limits: pd.DataFrame  # parameter, kind, lower, upper, categories, qp_lower, qp_upper, text
    coverage: float
    density: float
    mass: float
    n: int
    k: int
    meets_target: bool
    sentence: str = ""

    @property
    def condition(self) -> str:
        """The limits joined as prose: ``conflict level >= 0.5 and group size <= 8``."""
        texts = list(self.limits["text"]) if not self.limits.empty else []
        return " and ".join(texts) if texts else "anywhere in the swept conditions"


@dataclass
class Discovery:
    """What :func:`discover` found: sentences first, then the data behind them."""

    question: Question
    sentences: list[str]
    cases: pd.DataFrame
    boxes: list[Box]
    trajectories: list[pd.DataFrame]
    cart_boxes: list[Box]
    feature_scores: pd.DataFrame
    parameters: list[str]
    density_target: float  # as applied (see effective_target)
    cart_tree: Any = field(default=None, repr=False)

    @property
    def prim_limits(self) -> pd.DataFrame:
        """Every PRIM box's limits in one table (``box`` numbers them from 1)."""
        return _limits_table(self.boxes)

    @property
    def cart_limits(self) -> pd.DataFrame:
        return _limits_table(self.cart_boxes)


def _limits_table(boxes: list[Box]) -> pd.DataFrame:
    frames = [
        box.limits.assign(
            box=number, coverage=box.coverage, density=box.density, mass=box.mass, n=box.n, k=box.k
        )
        for number, box in enumerate(boxes, start=1)
    ]
    columns = ["box", "parameter", "lower", "upper", "categories", "qp_lower", "qp_upper", "text"]
    if not frames:
        return pd.DataFrame(columns=columns)
    table = pd.concat(frames, ignore_index=True)
    return table[[*columns, "coverage", "density", "mass", "n", "k"]]


def _features(table: pd.DataFrame, parameters: list[str]) -> pd.DataFrame:
    """The conditions as PRIM and CART read them: numbers as floats or ints, anything else
    (categories, booleans) as strings; parameters with a single value are left out."""
    x = pd.DataFrame(index=table.index)
    for name in parameters:
        column = table[name]
        if column.nunique(dropna=False) < 2:
            continue
        if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
            x[name] = column.astype(str).astype("category")
        elif pd.api.types.is_integer_dtype(column):
            x[name] = column.astype(np.int64)
        else:
            x[name] = column.astype(np.float64)
    return x.reset_index(drop=True)


def _limit_rows(box_lim: pd.DataFrame, x: pd.DataFrame, qp: dict[str, list[float]] | None) -> pd.DataFrame:
    """The restricted limits of a box (rows 0 and 1 of ``box_lim`` are lower and upper, both
    inclusive) as a table with a prose text for each, the limits moved to the nearest swept
    values inside the box."""
    rows = []
    for name in x.columns:
        lower, upper = box_lim.loc[0, name], box_lim.loc[1, name]
        qp_lower, qp_upper = (qp or {}).get(name, [np.nan, np.nan])
        qp_lower = np.nan if qp_lower is None or qp_lower < 0 else float(qp_lower)
        qp_upper = np.nan if qp_upper is None or qp_upper < 0 else float(qp_upper)
        label = name.replace("_", " ")
        if isinstance(lower, set):
            every = set(x[name].unique())
            chosen = sorted(lower)
            if set(lower) >= every:
                continue
            shown = [strategy_label(c) if name == "strategy" else c for c in chosen]
            text = f"{label} is {shown[0]}" if len(shown) == 1 else f"{label} is one of {', '.join(shown)}"
            rows.append({"parameter": name, "lower": np.nan, "upper": np.nan,
                         "categories": "|".join(chosen), "qp_lower": qp_lower, "qp_upper": qp_upper,
                         "text": text})
            continue
        low_data, high_data = x[name].min(), x[name].max()
        restricted_low, restricted_high = lower > low_data, upper < high_data
        if not (restricted_low or restricted_high):
            continue
        # Limits as the swept values they let in (a grid's 0.75 between 0.5 and 1 reads ">= 1").
        values = x[name]
        inside = values[(values >= lower) & (values <= upper)]
        if inside.empty:
            continue
        lower, upper = inside.min(), inside.max()
        if restricted_low and restricted_high and lower == upper:
            text = f"{label} = {_number(lower)}"
        elif restricted_low and restricted_high:
            text = f"{_number(lower)} <= {label} <= {_number(upper)}"
        elif restricted_low:
            text = f"{label} >= {_number(lower)}"
        else:
            text = f"{label} <= {_number(upper)}"
        rows.append({"parameter": name, "lower": float(lower) if restricted_low else np.nan,
                     "upper": float(upper) if restricted_high else np.nan, "categories": "",
                     "qp_lower": qp_lower if restricted_low else np.nan,
                     "qp_upper": qp_upper if restricted_high else np.nan, "text": text})
    columns = ["parameter", "lower", "upper", "categories", "qp_lower", "qp_upper", "text"]
    return pd.DataFrame(rows, columns=columns)


def effective_target(target: float, share: float) -> float:
    """The density a box must reach: ``target``, raised halfway from the overall share of
    qualifying points to 100% when that share already reaches it (else the whole space would
    be the answer, and "everywhere, give or take" says nothing about where)."""
    return max(target, share + (1 - share) / 2) if share >= target else target


def _choose(trajectory: pd.DataFrame, target: float) -> tuple[int, bool]:
    """The box on a peeling trajectory to report: the largest coverage among the boxes whose
    density reaches ``target`` (ties: fewer restricted parameters, then higher density); when
    none reaches it, the densest box."""
    meeting = trajectory[trajectory["density"] >= target - 1e-12]
    if meeting.empty:
        return int(trajectory["density"].idxmax()), False
    ranked = meeting.sort_values(
        ["coverage", "res_dim", "density"], ascending=[False, True, False], kind="stable"
    )
    return int(ranked.index[0]), True


def _prim_boxes(
    x: pd.DataFrame, y: np.ndarray, target: float, mass_min: float, max_boxes: int
) -> tuple[list[Box], list[pd.DataFrame]]:
    """Up to ``max_boxes`` PRIM boxes, each found among the points the earlier boxes leave;
    the search stops at the first later box that does not reach the density target."""
    from ema_workbench.analysis import prim

    # In binary mode PRIM counts y >= threshold as cases (so any cut in (0, 1] reads 0/1 right)
    # and drops a box less dense than it: a region under half qualifying is no finding.
    finder = prim.Prim(x, y, threshold=0.5, mass_min=mass_min)
    boxes: list[Box] = []
    trajectories: list[pd.DataFrame] = []
    total = int(y.sum())
    covered = np.zeros(len(y), dtype=bool)
    while len(boxes) < max_boxes:
        if boxes and not y[~covered].any():
            break  # the boxes so far hold every case of interest
        found = finder.find_box()
        if found is None:
            break
        index, meets = _choose(found.peeling_trajectory, target)
        if boxes and not meets:
            break
        if meets:
            index = _drop_weak_limits(found, index, target)
        found.select(index)
        covered[found.yi] = True
        trajectory = found.peeling_trajectory.copy()
        row = trajectory.loc[index]
        limits = _limit_rows(found.box_lims[index], x, found.qp[index])
        boxes.append(Box("PRIM", limits, float(row["k"]) / total, float(row["density"]),
                         float(row["mass"]), int(row["n"]), int(row["k"]), meets))
        trajectories.append(trajectory.assign(box=len(boxes), chosen=trajectory.index == index))
        if row["res_dim"] == 0:
            break  # the whole remaining space: nothing narrower to find
    return boxes, trajectories


def _drop_weak_limits(found: Any, index: int, target: float) -> int:
    """Drop the box's limits that are not significant (quasi-p above :data:`SIGNIFICANT`),
    weakest first, as long as the box stays at least ``target`` dense: a simpler box that says
    as much. Each box tried joins the peeling trajectory; returns the index of the box kept."""
    while True:
        weakest = sorted(
            ((max(float(v) for v in values if v is not None and v >= 0), name)
             for name, values in found.qp[index].items()
             if any(v is not None and v >= 0 for v in values)),
            reverse=True,
        )
        for p_value, name in weakest:
            if p_value <= SIGNIFICANT:
                return index
            found.drop_restriction(name, index)  # appends the wider box and selects it
            tried = len(found.peeling_trajectory) - 1
            if found.peeling_trajectory.loc[tried, "density"] >= target - 1e-12:
                index = tried
                break
            found.select(index)
        else:
            return index


def _cart_boxes(
    x: pd.DataFrame, y: np.ndarray, target: float, mass_min: float, seed: int
) -> tuple[list[Box], Any]:
    """The leaves of a classification tree (fitted with a fixed seed on EMA Workbench's CART
    encoding: numbers as they are, categories as indicator columns) whose density reaches the
    target, largest coverage first; and the tree. Each leaf's limits are read from its path and
    its counts from the points that land in it (the wrapper's own box extraction mixes up the
    categories of different leaves, and fails with a single feature). A split's limit is the
    swept value nearest its threshold on the leaf's side, found by sending the values the way
    the tree does (as float32, left when <= threshold), so the limits are inclusive and select
    exactly the leaf's points."""
    from ema_workbench.analysis import cart
    from sklearn.tree import DecisionTreeClassifier

    tree = cart.CART(x, y, mass_min=mass_min)
    tree.clf = DecisionTreeClassifier(min_samples_leaf=max(1, int(mass_min * len(x))), random_state=seed)
    tree.clf.fit(tree._x, y)
    structure = tree.clf.tree_
    parent: dict[int, tuple[int, bool]] = {}
    for node in range(structure.node_count):
        left, right = structure.children_left[node], structure.children_right[node]
        for child, is_left in ((left, True), (right, False)):
            if child >= 0:
                parent[int(child)] = (node, is_left)
    leaf_of_point = tree.clf.apply(tree._x)
    total = int(y.sum())
    boxes = []
    for leaf in np.unique(leaf_of_point):
        inside = leaf_of_point == leaf
        n, k = int(inside.sum()), int(y[inside].sum())
        if k == 0 or k / n < target - 1e-12:
            continue
        box_lim = _initial_box(x)
        node = int(leaf)
        while node in parent:
            node, is_left = parent[node]
            name, threshold = tree.feature_names[structure.feature[node]], structure.threshold[node]
            if name in x.columns:  # a number: the largest value sent left, or the smallest sent right
                values = x[name].to_numpy()
                goes_left = tree._x[:, structure.feature[node]].astype(np.float32) <= threshold
                if is_left:
                    box_lim.loc[1, name] = min(box_lim.loc[1, name], values[goes_left].max())
                else:
                    box_lim.loc[0, name] = max(box_lim.loc[0, name], values[~goes_left].min())
            else:  # an indicator column "parameter<sep>category": left is "not this category"
                column, category = name.split(tree.sep)
                value = tree.dummiesmap[column][category]
                allowed = box_lim.loc[0, column] - {value} if is_left else box_lim.loc[0, column] & {value}
                box_lim.loc[0, column], box_lim.loc[1, column] = set(allowed), set(allowed)
        limits = _limit_rows(box_lim, x, None)
        boxes.append(Box("CART", limits, k / total, k / n, n / len(x), n, k, True))
    boxes.sort(key=lambda box: (-box.coverage, -box.density))
    return boxes, tree


def _initial_box(x: pd.DataFrame) -> pd.DataFrame:
    """Rows 0 and 1 (lower and upper) spanning every point: the data's range of a number, the
    set of every category (a fresh set per cell)."""
    columns: dict[str, list[Any]] = {}
    for name in x.columns:
        if isinstance(x[name].dtype, pd.CategoricalDtype):
            columns[name] = [set(x[name].unique()), set(x[name].unique())]
        else:
            columns[name] = [x[name].min(), x[name].max()]
    return pd.DataFrame(columns, index=[0, 1], dtype=object)


def _feature_scores(x: pd.DataFrame, values: np.ndarray, seed: int) -> pd.DataFrame:
    """Extra-trees feature scores of the value behind the question (regression), which
    conditions explain it; scores sum to 1."""
    from ema_workbench.analysis import feature_scoring

    if x.shape[1] == 0:
        return pd.DataFrame(columns=["parameter", "score"])
    scores, _ = feature_scoring.get_ex_feature_scores(
        x, values, mode=feature_scoring.RuleInductionType.REGRESSION, nr_trees=FEATURE_TREES,
        max_features=max(1, round(x.shape[1] / 3)), random_state=seed,
    )
    table = scores.reset_index()
    table.columns = ["parameter", "score"]
    return table


def discover_cases(
    table: pd.DataFrame,
    parameters: list[str],
    question: Question,
    density: float = DEFAULT_DENSITY,
    mass_min: float = DEFAULT_MASS_MIN,
    max_boxes: int = MAX_BOXES,
    seed: int = 0,
) -> Discovery:
    """Scenario discovery on a cases table (one row per point: ``parameters``, ``value`` and
    ``qualifies``), as made by :func:`cases`. Raises :class:`DiscoveryError` when no point
    qualifies."""
    if not 0 < density <= 1:
        raise DiscoveryError(f"--density {density}: give a share above 0 and at most 1")
    if not 0 < mass_min < 1:
        raise DiscoveryError(f"--mass-min {mass_min}: give a share above 0 and below 1")
    y = table["qualifies"].to_numpy(dtype=bool)
    if len(table) == 0 or not y.any():
        best = ""
        if len(table) and question.kind == "contrast":
            favour = question.direction * table["value"]
            best = f"; the largest margin in {strategy_label(question.first or '')}'s favour is " \
                   f"{_number(float(favour.max()))}"
        elif len(table):
            extreme = table["value"].max() if question.above else table["value"].min()
            best = f"; the {'highest' if question.above else 'lowest'} value is {_number(float(extreme))}"
        raise DiscoveryError(
            f"no swept point qualifies ({question.describe()}) among {len(table)} points{best}"
        )
    chosen = [p for p in parameters if p in table.columns]
    if question.kind == "outcome" and question.strategy is None and "strategy" in table.columns:
        chosen = [*chosen, "strategy"]
    x = _features(table, chosen)
    describe = question.describe()
    share = y.mean()
    if x.shape[1] == 0 or y.all():
        sentence = (f"{_capital(describe)} at {int(y.sum())} of {len(y)} swept points ({share:.0%}); "
                    "there is no narrower region to find.")
        no_scores = pd.DataFrame(columns=["parameter", "score"])
        return Discovery(question, [sentence], table, [], [], [], no_scores,
                         list(x.columns), density)
    target = effective_target(density, share)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("EMA").setLevel(logging.WARNING)
        boxes, trajectories = _prim_boxes(x, y.astype(int), target, mass_min, max_boxes)
        cart_boxes, tree = _cart_boxes(x, y.astype(int), target, mass_min, seed)
        scores = _feature_scores(x, table["value"].to_numpy(dtype=float), seed)
    sentences = []
    for number, box in enumerate(boxes, start=1):
        box.sentence = _box_sentence(describe, box, number, len(y), share, target)
        sentences.append(box.sentence)
    for box in cart_boxes:
        box.sentence = _box_sentence(describe, box, 0, len(y), share, target)
    if cart_boxes:
        top = cart_boxes[0]
        sentences.append(f"CART's largest qualifying leaf: {top.condition} (covers {top.coverage:.0%}; "
                         f"{top.density:.0%} qualify).")
    if len(scores) and scores["score"].iloc[0] > 0:  # a constant value has nothing to explain
        lead = scores.iloc[0]
        sentences.append(
            f"The condition that explains most of the variation in the {_value_name(question)} is "
            f"{lead['parameter'].replace('_', ' ')} (feature score {lead['score']:.2f} of 1)."
        )
    return Discovery(question, sentences, table, boxes, trajectories, cart_boxes, scores, list(x.columns),
                     target, tree)


def _value_name(question: Question) -> str:
    if question.kind == "contrast":
        return (f"paired difference {strategy_label(question.first or '')} - "
                f"{strategy_label(question.second or '')} in {_metric_name(question.metric)}")
    return _metric_name(question.metric)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _box_sentence(describe: str, box: Box, number: int, points: int, share: float, target: float) -> str:
    """One box as a sentence: the question, the region, coverage and density, and any limit
    that is not significant."""
    if box.limits.empty:
        return (f"{_capital(describe)} at {box.k} of {points} swept points ({share:.0%}), scattered: "
                "no region of the swept conditions concentrates it.")
    lead = _capital(describe) if number <= 1 else f"Also: {describe}"
    text = (f"{lead} when {box.condition} (covers {box.coverage:.0%} of such points; "
            f"{box.density:.0%} of points in the region qualify, against {share:.0%} overall).")
    if not box.meets_target:
        text += f" No region reaches a density of {target:.0%}; this is the densest PRIM found."
    weak = []
    for row in box.limits.itertuples():
        values = [v for v in (row.qp_lower, row.qp_upper) if not pd.isna(v)]
        if values and max(values) > SIGNIFICANT:
            weak.append(f"{row.parameter.replace('_', ' ')} (quasi-p {max(values):.2f})")
    if weak:
        text += f" Not significant at 5%: the limit on {', '.join(weak)}."
    return text


def discover(
    results: SweepResults | str | Path,
    metric: str,
    contrast: tuple[str, str] | None = None,
    threshold: float | None = None,
    clear: bool = False,
    above: float | None = None,
    below: float | None = None,
    strategy: str | None = None,
    density: float = DEFAULT_DENSITY,
    mass_min: float = DEFAULT_MASS_MIN,
    max_boxes: int = MAX_BOXES,
) -> Discovery:
    """Where in a sweep's conditions a contrast holds (``contrast=(a, b)``: a beats b on the
    metric by more than ``threshold``, or ``clear``ly) or an outcome happens (the metric
    ``above`` or ``below`` a value, under ``strategy`` or each strategy). ``results`` is a
    loaded sweep or its results directory. Mistakes raise a one-line :class:`DiscoveryError`.
    """
    from sim.explore.store import SweepResults, load_sweep

    if not isinstance(results, SweepResults):
        results = load_sweep(results)
    if results.deals.empty:
        raise DiscoveryError(f"{results.directory}: no finished chunks yet; run `buyingsim sweep` first")
    if contrast is not None:
        if above is not None or below is not None or strategy is not None:
            raise DiscoveryError(
                "--above, --below and --strategy are for an outcome question, not --contrast"
            )
        question = contrast_question(results, contrast[0], contrast[1], metric, threshold, clear)
    else:
        if threshold is not None or clear:
            raise DiscoveryError("--threshold and --clear need --contrast A,B")
        question = outcome_question(results, metric, above, below, strategy)
    seed = int(results.manifest.get("spec", {}).get("seed", 0))
    return discover_cases(cases(results, question), results.parameters, question, density, mass_min,
                          max_boxes, seed)


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def plot_trajectory(discovery: Discovery) -> Any:
    """The coverage/density trade-off along each PRIM peeling trajectory, coloured by the
    number of restricted parameters, the chosen boxes ringed."""
    from sim.explore.html import _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    for trajectory in discovery.trajectories:
        points = ax.scatter(trajectory["coverage"], trajectory["density"], c=trajectory["res_dim"],
                            cmap="viridis", s=18, zorder=2)
        chosen = trajectory[trajectory["chosen"]]
        ax.scatter(chosen["coverage"], chosen["density"], s=120, facecolors="none", edgecolors="red",
                   linewidths=1.5, zorder=3)
        for row in chosen.itertuples():
            ax.annotate(f"box {row.box}", (row.coverage, row.density), textcoords="offset points",
                        xytext=(6, -12), fontsize=8, color="red")
    if discovery.trajectories:
        fig.colorbar(points, ax=ax, label="restricted parameters")
    ax.axhline(discovery.density_target, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("coverage (share of all qualifying points in the box)")
    ax.set_ylabel("density (share of the box that qualifies)")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_feature_scores(discovery: Discovery) -> Any:
    from sim.explore.html import _pyplot

    plt = _pyplot()
    scores = discovery.feature_scores.iloc[::-1]
    fig, ax = plt.subplots(figsize=(5.2, 0.45 * len(scores) + 1.0))
    ax.barh(scores["parameter"], scores["score"], color="#4c72b0")
    ax.set_xlabel("feature score (extra trees; sums to 1)")
    ax.set_xlim(0, 1)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_cases(discovery: Discovery) -> Any:
    """The swept points on the two highest-scoring parameters, qualifying ones filled, with the
    first PRIM box drawn where it restricts those two."""
    from sim.explore.html import _pyplot

    plt = _pyplot()
    numeric = [p for p in discovery.feature_scores["parameter"]
               if pd.api.types.is_numeric_dtype(discovery.cases[p])]
    if len(numeric) < 2:
        return None
    x_name, y_name = numeric[:2]
    table = discovery.cases
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    rng = np.random.default_rng(0)
    jitter = lambda column: table[column] + rng.normal(0, 0.01 * (np.ptp(table[column]) or 1), len(table))  # noqa: E731
    hits = table["qualifies"].to_numpy()
    ax.scatter(jitter(x_name)[~hits], jitter(y_name)[~hits], s=16, facecolors="none", edgecolors="grey",
               label="does not qualify")
    ax.scatter(jitter(x_name)[hits], jitter(y_name)[hits], s=16, color="#c44e52", label="qualifies")
    if discovery.boxes:
        limits = discovery.boxes[0].limits.set_index("parameter")
        x_low, x_high = _span(limits, x_name, table[x_name])
        y_low, y_high = _span(limits, y_name, table[y_name])
        from matplotlib.patches import Rectangle

        ax.add_patch(Rectangle((x_low, y_low), x_high - x_low, y_high - y_low, fill=False, edgecolor="red",
                               linewidth=1.5, label="PRIM box 1"))
    ax.set_xlabel(x_name)
    ax.set_ylabel(y_name)
    ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _span(limits: pd.DataFrame, name: str, values: pd.Series) -> tuple[float, float]:
    pad = 0.03 * (np.ptp(values) or 1)
    low, high = float(values.min()) - pad, float(values.max()) + pad
    if name in limits.index:
        row = limits.loc[name]
        low = float(row["lower"]) - pad if not pd.isna(row["lower"]) else low
        high = float(row["upper"]) + pad if not pd.isna(row["upper"]) else high
    return low, high


def cart_text(discovery: Discovery) -> str:
    """The CART tree as indented rules (scikit-learn's text export)."""
    if discovery.cart_tree is None:
        return ""
    from sklearn.tree import export_text

    return export_text(discovery.cart_tree.clf, feature_names=list(discovery.cart_tree.feature_names),
                       class_names=["no", "yes"])


def write_discovery(discovery: Discovery, out: str | Path, name: str = "") -> Path:
    """Write ``index.html`` (charts embedded) and the CSVs ``cases.csv``, ``prim_trajectory.csv``,
    ``prim_boxes.csv``, ``cart_boxes.csv`` and ``feature_scores.csv`` into ``out``."""
    from sim.explore.html import figure_png, html_table, png_data_uri, render_page

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    discovery.cases.to_csv(out / "cases.csv", index=False)
    trajectories = discovery.trajectories
    trajectory = pd.concat(trajectories, ignore_index=True) if trajectories else pd.DataFrame()
    trajectory.to_csv(out / "prim_trajectory.csv", index=False)
    discovery.prim_limits.to_csv(out / "prim_boxes.csv", index=False)
    discovery.cart_limits.to_csv(out / "cart_boxes.csv", index=False)
    discovery.feature_scores.to_csv(out / "feature_scores.csv", index=False)
    images = []
    if discovery.trajectories:
        images.append({"alt": "PRIM peeling trajectory: coverage against density",
                       "image": png_data_uri(figure_png(plot_trajectory(discovery)))})
    scatter = plot_cases(discovery) if len(discovery.feature_scores) else None
    if scatter is not None:
        images.append({"alt": "swept points on the two leading conditions",
                       "image": png_data_uri(figure_png(scatter))})
    if len(discovery.feature_scores):
        images.append({"alt": "feature scores",
                       "image": png_data_uri(figure_png(plot_feature_scores(discovery)))})
    float_format = lambda v: f"{v:.3f}"  # noqa: E731
    boxes = [
        {"title": f"PRIM box {number}", "sentence": box.sentence,
         "table": html_table(box.limits.drop(columns="categories"), index=False, float_format=float_format)}
        for number, box in enumerate(discovery.boxes, start=1)
    ]
    cart_boxes = [
        {"title": f"CART leaf {number}", "sentence": box.sentence,
         "table": html_table(box.limits.drop(columns=["categories", "qp_lower", "qp_upper"]), index=False,
                             float_format=float_format)}
        for number, box in enumerate(discovery.cart_boxes, start=1)
    ]
    document = render_page(
        "discovery.html",
        name=name,
        question=discovery.question.describe(),
        sentences=discovery.sentences,
        n_cases=int(discovery.cases["qualifies"].sum()),
        n_points=len(discovery.cases),
        density=discovery.density_target,
        boxes=boxes,
        cart_boxes=cart_boxes,
        cart_tree=cart_text(discovery),
        images=images,
        scores=html_table(discovery.feature_scores, index=False, float_format=float_format)
        if len(discovery.feature_scores) else None,
    )
    path = out / "index.html"
    path.write_text(document, encoding="utf-8")
    return path
