"""The workshop game: session settings, the tracks (teams and presets) and their replay.

A session's state is a pure function of its settings and its events (``workshop.store``): each
team is a *track*, a cohort of the session's buying groups (``sim.engine.Cohort``, same seed for
everyone, so every team sells to the same customers with the same random numbers) whose focal
vendor follows the team's decision round by round (``Cohort.set_focal_strategy``). Each preset
strategy is a track too, fed the same rounds and shocks: the debrief's paired comparison.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from sim.effort import DEFAULT_EFFORT_BUDGET
from sim.engine import MAX_SEED, Cohort, block_plan
from sim.explore.chunks import model_fingerprint
from sim.jobs import JOB_NAMES
from sim.scenario import Scenario, ScenarioError, bundled_scenarios, load_scenario
from sim.strategies import BUILTIN_STRATEGIES, Strategy
from workshop.shocks import SHOCKS

# A team that has never submitted plays this preset (then keeps its last decision).
DEFAULT_PRESET = "seller_led"
PRESETS = tuple(BUILTIN_STRATEGIES)
MAX_TEAMS = 12
TEAM_NAME_LENGTH = 40


class WorkshopError(ValueError):
    """A user mistake (bad setting, unknown code, wrong round): one line for the user."""


class AccessDeniedError(WorkshopError):
    """A wrong facilitator key or team token, or a team acting for another."""


def scenario_names() -> list[str]:
    """The scenarios a facilitator can pick (the bundled library)."""
    return [path.stem for path in bundled_scenarios()]


@dataclass(frozen=True)
class SessionConfig:
    """What the facilitator sets when creating a session."""

    scenario: str = "baseline"
    rounds: int = 4
    weeks_per_round: int = 13
    groups: int = 200
    budget: float = DEFAULT_EFFORT_BUDGET
    seed: int = 0
    round_minutes: float = 15.0
    spotlight: int = 0  # the buying group every team discusses (its index, same for all)

    def __post_init__(self) -> None:
        names = scenario_names()
        if self.scenario not in names:
            raise WorkshopError(f"scenario = {self.scenario!r}: unknown; allowed: {', '.join(names)}")
        checks = (
            ("rounds", self.rounds, 1, 12),
            ("weeks_per_round", self.weeks_per_round, 1, 52),
            ("groups", self.groups, 10, 2000),
            ("seed", self.seed, 0, MAX_SEED),
        )
        for name, value, low, high in checks:
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise WorkshopError(f"{name} = {value!r}: must be a whole number from {low} to {high}")
        ranges: tuple[tuple[str, float, float, float], ...] = (
            ("budget", self.budget, 0.5, 10.0),
            ("round_minutes", self.round_minutes, 1, 120),
        )
        for label, amount, least, most in ranges:
            if isinstance(amount, bool) or not isinstance(amount, int | float) or not least <= amount <= most:
                raise WorkshopError(f"{label} = {amount!r}: must be a number from {least:g} to {most:g}")
        if not isinstance(self.spotlight, int) or not 0 <= self.spotlight < self.groups:
            raise WorkshopError(
                f"spotlight = {self.spotlight!r}: must be a group index from 0 to {self.groups - 1}"
            )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionConfig:
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise WorkshopError(
                f"setting {sorted(unknown)[0]!r}: unknown; allowed: {', '.join(cls.__dataclass_fields__)}"
            )
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def scenario_model(self) -> Scenario:
        """The scenario with the session's effort budget, checked to last all the rounds."""
        try:
            scenario = load_scenario(self.scenario).with_overrides(
                {"population.effort_budget": float(self.budget)}
            )
        except ScenarioError as error:
            raise WorkshopError(str(error)) from None
        weeks = self.rounds * self.weeks_per_round
        if weeks > scenario.simulation.horizon_weeks:
            raise WorkshopError(
                f"rounds x weeks_per_round = {weeks}: must be at most scenario {self.scenario}'s horizon "
                f"of {scenario.simulation.horizon_weeks} weeks"
            )
        return scenario


def parse_strategy(levers: dict[str, Any]) -> Strategy:
    """A strategy from lever values (numbers); a mistake names the lever and its bounds."""
    values: dict[str, float] = {}
    for name, value in levers.items():
        if name not in Strategy.model_fields:
            raise WorkshopError(f"lever {name!r}: unknown; allowed: {', '.join(Strategy.model_fields)}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise WorkshopError(f"lever {name} = {value!r}: must be a number")
        values[name] = float(value)
    try:
        return Strategy(**values)
    except ValidationError as error:
        problem = error.errors()[0]
        name = str(problem["loc"][0]) if problem["loc"] else "?"
        bounds = lever_bounds().get(name, (float("nan"), float("nan")))
        raise WorkshopError(
            f"lever {name} = {values.get(str(name))!r}: must be from {bounds[0]:g} to {bounds[1]:g}"
        ) from None


def lever_bounds() -> dict[str, tuple[float, float]]:
    """Each lever's (low, high) from the Strategy model's own constraints."""
    bounds = {}
    for name, info in Strategy.model_fields.items():
        low = next(m.ge for m in info.metadata if hasattr(m, "ge"))
        high = next(m.le for m in info.metadata if hasattr(m, "le"))
        bounds[name] = (float(low), float(high))
    return bounds


def stuck_job(done: np.ndarray) -> np.ndarray:
    """The job each group is stuck on: the first of the six jobs it has not got done."""
    open_jobs = ~done
    return np.where(open_jobs.any(axis=1), open_jobs.argmax(axis=1), len(JOB_NAMES) - 1)


@dataclass
class Track:
    """One copy of the session's buying groups and the vendor strategy it plays."""

    name: str
    cohort: Cohort
    decisions: dict[int, Strategy] = field(default_factory=dict)  # round -> the team's decision
    played: dict[int, Strategy] = field(default_factory=dict)  # round -> the strategy used
    ended: list[pd.DataFrame] = field(default_factory=list)  # outcome rows of ended deals
    journey: list[dict[str, Any]] = field(default_factory=list)  # the spotlight group per round
    history: list[dict[str, Any]] = field(default_factory=list)  # scorecard after each round

    def decision_for(self, round_number: int) -> Strategy:
        """The strategy the track plays in a round: its decision, else its last one, else the
        default preset."""
        earlier = [r for r in self.decisions if r <= round_number]
        if earlier:
            return self.decisions[max(earlier)]
        return BUILTIN_STRATEGIES[DEFAULT_PRESET]

    _deals: pd.DataFrame | None = None

    def add_ended(self, frame: pd.DataFrame) -> None:
        """Record the outcome rows of deals that ended in a round."""
        self.ended.append(frame)
        self._deals = None

    def deals(self) -> pd.DataFrame:
        """Outcome rows of the deals that have ended so far (empty frame if none)."""
        if not self.ended:
            return pd.DataFrame()
        if self._deals is None:
            self._deals = pd.concat(self.ended, ignore_index=True)
        return self._deals


def scorecard(track: Track) -> dict[str, float]:
    """The balanced scorecard of a track so far: wins, revenue (deal size of wins), regret of
    its won deals, ease of ended deals, no-decisions, and what is still open."""
    deals = track.deals()
    groups = track.cohort.size
    running = len(track.cohort.active)
    if deals.empty:
        return {"wins": 0, "revenue": 0.0, "regret": float("nan"), "ease": float("nan"), "no_decision": 0,
                "lost": 0, "open": running, "groups": groups}  # fmt: skip
    won = deals[deals["focal_win"].astype(bool)]
    return {
        "wins": int(len(won)),
        "revenue": float(won["deal_size"].sum()),
        "regret": float(won["regret"].mean()) if len(won) else float("nan"),
        "ease": float(deals["purchase_ease"].mean()),
        "no_decision": int(deals["no_decision"].sum()),
        "lost": int((deals["outcome"] == "competitor_win").sum()),
        "open": running,
        "groups": groups,
    }


# Scorecard figures ranked on the leaderboard and whether more is better.
RANKED = {"wins": True, "revenue": True, "regret": False, "ease": True, "no_decision": False}


def leaderboard(cards: dict[str, dict[str, float]]) -> pd.DataFrame:
    """Teams ranked by the mean of their ranks on the five scorecard figures (1 is best on each;
    a figure nobody has yet, such as regret before any win, counts as last)."""
    table = pd.DataFrame(cards).T
    if table.empty:
        return table
    ranks = pd.DataFrame(index=table.index)
    for name, higher in RANKED.items():
        values = table[name].astype(float)
        ranks[name] = values.rank(ascending=not higher, method="min", na_option="bottom")
    table["score"] = ranks.mean(axis=1)
    table["rank"] = table["score"].rank(method="min").astype(int)
    return table.sort_values(["rank", "wins"], ascending=[True, False])


def pipeline(track: Track) -> dict[str, int]:
    """Groups by where they are: stuck on each job (still running), won, lost, no decision."""
    cohort = track.cohort
    counts: dict[str, int] = {job: 0 for job in JOB_NAMES}
    if len(cohort.active):
        jobs = stuck_job(cohort.full_state.done[cohort.active])
        for index, job in enumerate(JOB_NAMES):
            counts[job] = int((jobs == index).sum())
    card = scorecard(track)
    counts.update(won=int(card["wins"]), lost=int(card["lost"]), no_decision=int(card["no_decision"]))
    counts["open_at_end"] = int((track.deals()["end_reason"] == "horizon").sum()) if track.ended else 0
    return counts


def spotlight_snapshot(track: Track, deal: int, round_number: int) -> dict[str, Any]:
    """Where the spotlight group stands after a round: its job, reopened jobs, contradictions."""
    state = track.cohort.full_state
    row = int(np.flatnonzero(state.deal_id == deal)[0])
    end = ("running", "purchase", "horizon", "exhausted", "status_quo")
    reason = int(state.end_reason[row])
    winner = int(state.choice[row]) if reason == 1 else 0
    return {
        "round": round_number,
        "week": int(state.week[row]),
        "status": end[reason] if reason < len(end) else str(reason),
        "bought_from": "you" if winner == 1 else ("a competitor" if winner > 1 else ""),
        "job": JOB_NAMES[int(stuck_job(state.done[row : row + 1])[0])],
        "jobs_reopened": int((state.loops[row] > 0).sum()),
        "loops": int(state.loops[row].sum()),
        "contradictions_met": int(state.contradictions_met[row]),
        "peak_overload": round(float(state.peak_overload[row]), 3),
        "group_size": int(state.group_size[row]),
    }


def model_version(scenario: Scenario) -> str:
    """A hash of the model's code and the scenario's settings: if it differs from the one stored
    when a session was created, a replay recomputes its figures with a changed model."""
    settings = hashlib.sha256(scenario.model_dump_json().encode()).hexdigest()[:16]
    return f"{model_fingerprint()}-{settings}"


class Game:
    """The state of one session, rebuilt by applying its events in order."""

    def __init__(self, config: SessionConfig, code: str = ""):
        self.config = config
        self.code = code
        self.scenario = config.scenario_model()
        self.teams: dict[str, Track] = {}
        self.team_names: dict[str, str] = {}  # team id -> name
        self.token_hashes: dict[str, str] = {}
        self._start_rounds()
        self.last_seq = 0
        self.created_with = model_version(self.scenario)  # the model the session was created with

    @property
    def model_changed(self) -> bool:
        """Whether the model or scenario differs from the session's creation (see model_version)."""
        return self.created_with != model_version(self.scenario)

    def _new_cohort(self) -> Cohort:
        # Every track starts from the same customers (same seed, same deals); the focal
        # strategy is set each round before any week is simulated.
        return Cohort(self.scenario, self.config.seed, block_plan(self.config.groups), DEFAULT_PRESET)

    def _start_rounds(self) -> None:
        """Round 0: fresh cohorts for every team and preset; decisions and shocks forgotten."""
        self.round = 0  # rounds played
        self.shocks: list[dict[str, Any]] = []
        self.round_started: float | None = None
        self.presets = {name: Track(name, self._new_cohort()) for name in PRESETS}
        for name, preset in self.presets.items():
            preset.decisions[1] = BUILTIN_STRATEGIES[name]
        for team_id in list(self.teams):
            self.teams[team_id] = Track(self.team_names[team_id], self._new_cohort())

    @property
    def finished(self) -> bool:
        return self.round >= self.config.rounds

    def tracks(self) -> list[Track]:
        return [*self.teams.values(), *self.presets.values()]

    # Events -------------------------------------------------------------------------------
    def apply(self, seq: int, kind: str, payload: dict[str, Any], at: float) -> None:
        """Apply one stored event (the only way the game's state changes)."""
        if kind == "join":
            team_id = payload["team"]
            self.team_names[team_id] = payload["name"]
            self.token_hashes[team_id] = payload["token_hash"]
            self.teams[team_id] = Track(payload["name"], self._new_cohort())
            self._catch_up(self.teams[team_id])
        elif kind == "decision":
            self.teams[payload["team"]].decisions[payload["round"]] = Strategy(**payload["levers"])
        elif kind == "shock":
            self._shock(payload["shock"])
        elif kind == "advance":
            self._advance()
            self.round_started = at
        elif kind == "start_clock":
            self.round_started = at
        elif kind == "created":
            self.created_with = payload["model"]
        elif kind == "reset":
            self._start_rounds()
        self.last_seq = seq

    def _shock(self, key: str) -> None:
        shock = SHOCKS[key]
        for track in self.tracks():
            shock.apply(track.cohort)
        self.shocks.append({"before_round": self.round + 1, "shock": key, "label": shock.label})

    def _advance(self) -> None:
        """Simulate the next round's weeks for every track."""
        for track in self.tracks():
            self._play_round(track, self.round + 1)
        self.round += 1

    def _play_round(self, track: Track, number: int) -> None:
        """One round's weeks for one track, with the strategy it plays in that round."""
        strategy = track.decision_for(number)
        track.played[number] = strategy
        track.cohort.set_focal_strategy(strategy)
        weeks = [track.cohort.step() for _ in range(self.config.weeks_per_round)]
        ended = [week for week in weeks if week is not None]
        if ended:
            frame = pd.DataFrame({name: np.concatenate([week[name] for week in ended]) for name in ended[0]})
            frame["round"] = number
            track.add_ended(frame)
        track.journey.append(spotlight_snapshot(track, self.config.spotlight, number))
        track.history.append({"round": number, **scorecard(track)})

    def _catch_up(self, track: Track) -> None:
        """Bring a team that joins late to where the others are: the rounds it missed are
        played with the default preset, with every shock at its place, on the same groups."""
        for number in range(1, self.round + 1):
            for fired in self.shocks:
                if fired["before_round"] == number:
                    SHOCKS[fired["shock"]].apply(track.cohort)
            self._play_round(track, number)
        for fired in self.shocks:
            if fired["before_round"] == self.round + 1:
                SHOCKS[fired["shock"]].apply(track.cohort)

    # Views ---------------------------------------------------------------------------------
    def cards(self, with_presets: bool = False) -> dict[str, dict[str, float]]:
        tracks = {team_id: track for team_id, track in self.teams.items()}
        cards = {self.team_names[team_id]: scorecard(track) for team_id, track in tracks.items()}
        if with_presets:
            cards.update({f"preset: {name}": scorecard(track) for name, track in self.presets.items()})
        return cards

    def leaderboard(self) -> pd.DataFrame:
        return leaderboard(self.cards())
