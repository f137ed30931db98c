"""What the pages and the bots call: create a session, join, decide, advance, shock, views.

Every change is first stored as an event, then applied to the in-memory game, which is rebuilt
from the store on first use (after a restart, or in another process) and caught up with any
newer events before every call. Access: only the facilitator key administers a session; a team
token acts and sees for its own team only. Secrets are made with ``secrets`` and stored hashed.
"""

from __future__ import annotations

import hmac
import math
import secrets
import threading
import time
from typing import Any

from sim.effort import effort_used, lever_costs, within_budget
from sim.jobs import JOB_NAMES
from sim.strategies import BUILTIN_STRATEGIES
from workshop.debrief import Debrief, build_debrief
from workshop.game import (
    MAX_TEAMS,
    PRESETS,
    TEAM_NAME_LENGTH,
    AccessDeniedError,
    Game,
    SessionConfig,
    WorkshopError,
    model_version,
    parse_strategy,
    pipeline,
    scorecard,
)
from workshop.shocks import SHOCKS
from workshop.store import EventStore, secret_hash

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud in a room
CODE_LENGTH = 6


def _table(frame) -> list[dict[str, Any]]:
    """A DataFrame as plain rows with its index as ``team``; NaN as None (JSON-friendly)."""
    rows = []
    for name, row in frame.iterrows():
        values = {
            key: (None if isinstance(value, float) and math.isnan(value) else value)
            for key, value in row.items()
        }
        rows.append({"team": name, **values})
    return rows


class Workshop:
    """The workshop's sessions over one event store."""

    def __init__(self, store: EventStore):
        self.store = store
        self._games: dict[str, Game] = {}
        self._lock = threading.RLock()

    # Loading -------------------------------------------------------------------------------
    def _game(self, code: str) -> Game:
        """The session's game, rebuilt from the store or caught up with its newest events."""
        code = normalise_code(code)
        game = self._games.get(code)
        if game is None:
            found = self.store.session(code)
            if found is None:
                raise WorkshopError(f"join code {code!r}: no such session")
            game = Game(SessionConfig.from_dict(found[1]), code)
            self._games[code] = game
        for event in self.store.events(code, after=game.last_seq):
            game.apply(event.seq, event.kind, event.payload, event.at)
        return game

    def _facilitator(self, code: str, key: str) -> Game:
        found = self.store.session(normalise_code(code))
        if found is None:
            raise WorkshopError(f"join code {normalise_code(code)!r}: no such session")
        if not hmac.compare_digest(found[0], secret_hash(str(key))):
            raise AccessDeniedError("facilitator key: wrong key for this session")
        return self._game(code)

    def _team(self, code: str, team: str, token: str) -> Game:
        game = self._game(code)
        stored = game.token_hashes.get(str(team))
        if stored is None or not hmac.compare_digest(stored, secret_hash(str(token))):
            raise AccessDeniedError("team token: not valid for this team; a team acts only for itself")
        return game

    def _record(self, code: str, kind: str, payload: dict[str, Any]) -> Game:
        self.store.append(normalise_code(code), kind, payload)
        return self._game(code)

    # Facilitator ---------------------------------------------------------------------------
    def create_session(self, settings: dict[str, Any] | None = None) -> tuple[str, str]:
        """A new session; returns (join code, facilitator key). Settings as in SessionConfig."""
        config = SessionConfig.from_dict(dict(settings or {}))
        config.scenario_model()  # checks the rounds fit the scenario's horizon
        key = secrets.token_urlsafe(18)
        with self._lock:
            while True:
                code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
                if self.store.create_session(code, secret_hash(key), config.to_dict()):
                    break
            self.store.append(code, "created", {"model": model_version(config.scenario_model())})
            self.store.append(code, "start_clock", {})
        return code, key

    def advance(self, code: str, key: str, expected_round: int | None = None) -> dict[str, Any]:
        """Simulate the next round for every team (and the presets); returns the status.
        ``expected_round`` (the round the console showed) keeps a double click, or a second
        console, from playing two rounds."""
        with self._lock:
            game = self._facilitator(code, key)
            if game.finished:
                raise WorkshopError(f"advance: all {game.config.rounds} rounds have been played")
            if expected_round is not None and expected_round != game.round + 1:
                raise WorkshopError(f"advance: round {expected_round} has already been played")
            if not game.teams:
                raise WorkshopError("advance: no team has joined yet")
            self._record(code, "advance", {"round": game.round + 1})
            return self.facilitator_status(code, key)

    def fire_shock(self, code: str, key: str, shock: str) -> int:
        """Apply a shock to every team's groups (and the presets') before the next round;
        returns that round's number."""
        with self._lock:
            game = self._facilitator(code, key)
            if shock not in SHOCKS:
                raise WorkshopError(f"shock {shock!r}: unknown; allowed: {', '.join(SHOCKS)}")
            if game.finished:
                raise WorkshopError("shock: the session has ended")
            if any(
                fired["shock"] == shock and fired["before_round"] == game.round + 1 for fired in game.shocks
            ):
                raise WorkshopError(f"shock {shock}: already fired before round {game.round + 1}")
            self._record(code, "shock", {"shock": shock})
            return game.round + 1

    def reset(self, code: str, key: str) -> int:
        """Back to round 0 with the same teams: decisions, shocks and results are cleared;
        returns the round now open (1)."""
        with self._lock:
            self._facilitator(code, key)
            self._record(code, "reset", {})
            self.store.append(normalise_code(code), "start_clock", {})
            return 1

    def facilitator_status(self, code: str, key: str) -> dict[str, Any]:
        """Who joined and submitted, the round clock, shocks fired, the leaderboard."""
        with self._lock:
            game = self._facilitator(code, key)
            next_round = game.round + 1
            teams = [
                {
                    "team": team_id,
                    "name": game.team_names[team_id],
                    "submitted": next_round in track.decisions,
                }
                for team_id, track in game.teams.items()
            ]
            return {**self._public(game), "teams": teams}

    def debrief(self, code: str, key: str) -> Debrief:
        """The debrief tables of the session so far (facilitator only)."""
        with self._lock:
            return build_debrief(self._facilitator(code, key))

    # Teams ---------------------------------------------------------------------------------
    def join(self, code: str, name: str) -> tuple[str, str]:
        """A team joins with the session's code; returns (team id, token)."""
        name = " ".join(str(name).split())
        if not 1 <= len(name) <= TEAM_NAME_LENGTH:
            raise WorkshopError(f"team name: must be 1 to {TEAM_NAME_LENGTH} characters")
        with self._lock:
            game = self._game(code)
            if game.finished:
                raise WorkshopError("join: the session has ended")
            if len(game.teams) >= MAX_TEAMS:
                raise WorkshopError(f"join: the session already has the most teams ({MAX_TEAMS})")
            if name.casefold() in {taken.casefold() for taken in game.team_names.values()}:
                raise WorkshopError(f"team name {name!r}: already taken in this session; choose another")
            team, token = secrets.token_hex(4), secrets.token_urlsafe(24)
            self._record(code, "join", {"team": team, "name": name, "token_hash": secret_hash(token)})
        return team, token

    def submit(self, code: str, team: str, token: str, levers: dict[str, Any]) -> dict[str, Any]:
        """The team's decision for the next round (levers missing from ``levers`` keep the
        values of the team's current decision); returns its effort against the budget."""
        with self._lock:
            game = self._team(code, team, token)
            if game.finished:
                raise WorkshopError("decision: the session has ended")
            number = game.round + 1
            current = game.teams[team].decision_for(number).model_dump()
            strategy = parse_strategy({**current, **levers})
            self._record(code, "decision", {"team": team, "round": number, "levers": strategy.model_dump()})
            return effort(strategy, game.config.budget)

    def team_status(self, code: str, team: str, token: str) -> dict[str, Any]:
        """Everything one team may see: its decision, scorecard, pipeline, spotlight, history."""
        with self._lock:
            game = self._team(code, team, token)
            track = game.teams[team]
            number = min(game.round + 1, game.config.rounds)
            decision = track.decision_for(number)
            return {
                **self._public(game),
                "team": team,
                "name": game.team_names[team],
                "decision": decision.model_dump(),
                "submitted": (game.round + 1) in track.decisions,
                "effort": effort(decision, game.config.budget),
                "scorecard": scorecard(track),
                "pipeline": pipeline(track),
                "journey": list(track.journey),
                "history": list(track.history),
            }

    def version(self, code: str) -> int:
        """The number of the session's last event: pages re-read the session when it changes."""
        with self._lock:
            return self._game(code).last_seq

    # Everyone (projector) ------------------------------------------------------------------
    def projector(self, code: str) -> dict[str, Any]:
        """The leaderboard and the round's story (no secrets: names and figures only)."""
        with self._lock:
            return self._public(self._game(code))

    def _public(self, game: Game) -> dict[str, Any]:
        elapsed = time.time() - game.round_started if game.round_started is not None else 0.0
        story = []
        if game.round:
            cards = game.cards()
            if cards:
                best = max(cards.items(), key=lambda item: item[1]["wins"])
                story.append(f"Round {game.round}: most wins so far: {best[0]} ({best[1]['wins']}).")
            stuck: dict[str, int] = {}
            for track in game.teams.values():
                for job, count in pipeline(track).items():
                    stuck[job] = stuck.get(job, 0) + count
            jobs = {job: count for job, count in stuck.items() if job in JOB_NAMES}
            if jobs and max(jobs.values()):
                worst = max(jobs, key=lambda job: jobs[job])
                story.append(f"Most open groups are stuck on {worst.replace('_', ' ')}.")
        for shock in game.shocks:
            if shock["before_round"] == game.round + 1:
                story.append(f"Shock before round {shock['before_round']}: {shock['label']}.")
        return {
            "code": game.code,
            "config": game.config.to_dict(),
            "round": game.round,
            "finished": game.finished,
            "clock_left": max(0.0, game.config.round_minutes * 60 - elapsed),
            "round_ends_at": (game.round_started or time.time()) + game.config.round_minutes * 60,
            "shocks": list(game.shocks),
            "leaderboard": _table(game.leaderboard()),
            "story": story,
            "team_count": len(game.teams),
            "model_changed": game.model_changed,
        }


def effort(strategy, budget: float) -> dict[str, Any]:
    """A decision's effort per lever, total asked and delivered under the budget (sim.effort)."""
    delivered = within_budget(strategy, budget)
    return {
        "levers": lever_costs(strategy),
        "asked": effort_used(strategy),
        "delivered": effort_used(delivered),
        "budget": budget,
        "over": effort_used(strategy) > budget,
    }


def normalise_code(code: str) -> str:
    return str(code).strip().upper()


PRESET_LEVERS = {name: BUILTIN_STRATEGIES[name].model_dump() for name in PRESETS}
