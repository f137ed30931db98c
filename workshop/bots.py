"""Bots that play a whole session through the same calls the pages make (``Workshop``).

A bot team picks a preset or random lever values each round (its own seeded generator, so a
bot session is reproducible); a facilitator bot creates the session, fires the planned shocks
and advances every round. Used by the tests and the benchmark, and handy for a dry run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workshop.game import PRESETS, lever_bounds
from workshop.service import PRESET_LEVERS, Workshop


@dataclass
class BotTeam:
    """One bot team: its name, its credentials and its generator."""

    name: str
    team: str
    token: str
    rng: np.random.Generator

    def decide(self) -> dict[str, float]:
        """A preset half the time, otherwise random levers within their bounds."""
        if self.rng.random() < 0.5:
            return dict(PRESET_LEVERS[PRESETS[self.rng.integers(len(PRESETS))]])
        return {name: float(self.rng.uniform(low, high)) for name, (low, high) in lever_bounds().items()}


@dataclass
class BotSession:
    """A session played by bots: the code, the key, the teams and what happened."""

    code: str
    key: str
    teams: list[BotTeam]
    submitted: list[dict[str, Any]] = field(default_factory=list)


def start_bot_session(
    workshop: Workshop, n_teams: int = 4, settings: dict[str, Any] | None = None, seed: int = 0
) -> BotSession:
    """Create a session and have ``n_teams`` bot teams join it."""
    code, key = workshop.create_session(settings)
    rng = np.random.default_rng(seed)
    teams = []
    for index in range(n_teams):
        name = f"Bot team {index + 1}"
        team, token = workshop.join(code, name)
        teams.append(BotTeam(name, team, token, np.random.default_rng(rng.integers(2**32))))
    return BotSession(code, key, teams)


def play_round(workshop: Workshop, session: BotSession, skip: set[str] | None = None) -> dict[str, Any]:
    """Every bot team (but those in ``skip``, who keep their last decision) submits, then the
    facilitator bot advances; returns the facilitator's status after the round."""
    for bot in session.teams:
        if skip and bot.name in skip:
            continue
        levers = bot.decide()
        workshop.submit(session.code, bot.team, bot.token, levers)
        session.submitted.append({"team": bot.name, "levers": levers})
    return workshop.advance(session.code, session.key)


def play_session(
    workshop: Workshop,
    n_teams: int = 4,
    settings: dict[str, Any] | None = None,
    shocks: dict[int, str] | None = None,
    seed: int = 0,
) -> BotSession:
    """A whole session: join, then each round decide, fire the shock planned before it (round
    number -> shock key) and advance, until the last round."""
    session = start_bot_session(workshop, n_teams, settings, seed)
    rounds = workshop.projector(session.code)["config"]["rounds"]
    for number in range(1, rounds + 1):
        if shocks and number in shocks:
            workshop.fire_shock(session.code, session.key, shocks[number])
        play_round(workshop, session)
    return session
