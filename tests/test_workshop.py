"""Workshop mode without a browser: bots play sessions through the calls the pages make."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.strategies import BUILTIN_STRATEGIES
from workshop.bots import play_round, play_session, start_bot_session
from workshop.debrief import render_html, write_exports
from workshop.game import DEFAULT_PRESET, AccessDeniedError, WorkshopError, lever_bounds
from workshop.service import PRESET_LEVERS, Workshop
from workshop.shocks import SHOCKS
from workshop.store import EventStore

REPO = Path(__file__).resolve().parent.parent
SMALL = {"groups": 40, "rounds": 3, "weeks_per_round": 8, "seed": 3}
SHOCK_FIELDS = {  # the state arrays each shock changes
    "sponsor_leaves": ("influence", "weights"),
    "stakeholder_joins": ("priority0", "priority", "role"),
    "budget_freeze": ("scope", "true_value"),
    "competitor_sense_making": ("vendor", "sources"),
    "information_flood": ("information_volume",),
}


@pytest.fixture
def workshop(tmp_path: Path) -> Workshop:
    return Workshop(EventStore.in_directory(tmp_path))


def test_bots_play_a_whole_session(workshop: Workshop) -> None:
    session = play_session(workshop, n_teams=4, settings=SMALL, shocks={2: "budget_freeze"}, seed=1)
    status = workshop.facilitator_status(session.code, session.key)
    assert status["finished"] and status["round"] == SMALL["rounds"]
    assert [shock["shock"] for shock in status["shocks"]] == ["budget_freeze"]
    assert len(status["leaderboard"]) == 4
    for bot in session.teams:
        team = workshop.team_status(session.code, bot.team, bot.token)
        assert [row["round"] for row in team["history"]] == [1, 2, 3]
        assert len(team["journey"]) == 3
        # Every group is somewhere: stuck on a job, won, lost, no decision or open at the end.
        assert sum(team["pipeline"].values()) == SMALL["groups"]
        # Wins never shrink from round to round.
        wins = [row["wins"] for row in team["history"]]
        assert wins == sorted(wins)
        # The last decision the bot submitted is the one the team holds.
        last = [entry["levers"] for entry in session.submitted if entry["team"] == bot.name][-1]
        assert team["decision"] == pytest.approx(last)
    with pytest.raises(WorkshopError, match="all 3 rounds"):
        workshop.advance(session.code, session.key)


def test_a_team_playing_a_preset_matches_that_preset_on_the_same_groups(workshop: Workshop) -> None:
    code, key = workshop.create_session(SMALL)
    sense = workshop.join(code, "Sense")
    other = workshop.join(code, "Other")
    workshop.submit(code, *sense, PRESET_LEVERS["sense_making"])
    workshop.submit(code, *other, {"meeting_time": 4.0, "persuasion": 2.5, "digital_volume": 6.0})
    workshop.fire_shock(code, key, "information_flood")
    for _ in range(SMALL["rounds"]):
        workshop.advance(code, key)
    debrief = workshop.debrief(code, key)
    final = debrief.final.set_index("team")
    assert final.loc["Sense"].to_dict() == final.loc["preset: sense_making"].to_dict()
    assert final.loc["Other"].to_dict() != final.loc["Sense"].to_dict()
    paired = debrief.paired.set_index(["team", "preset"])
    row = paired.loc[("Sense", "sense_making")]
    assert row["won_only_by_team"] == 0 and row["won_only_by_preset"] == 0
    assert row["wins_difference"] == 0
    # The deals table pairs the same groups: same deal ids for every team and preset.
    per_track = debrief.deals.groupby("team")["deal"].apply(lambda deals: tuple(sorted(deals)))
    assert per_track.nunique() == 1


def test_a_team_that_does_not_submit_keeps_its_last_decision(workshop: Workshop) -> None:
    code, key = workshop.create_session(SMALL)
    team = workshop.join(code, "Late")
    workshop.join(code, "Silent")
    levers = dict(PRESET_LEVERS["digital_first"])
    workshop.submit(code, *team, levers)
    workshop.advance(code, key)
    workshop.advance(code, key)
    debrief = workshop.debrief(code, key)
    played = debrief.decisions.set_index(["team", "round"])
    for number in (1, 2):
        assert played.loc[("Late", number), "meeting_time"] == levers["meeting_time"]
        assert (
            played.loc[("Silent", number), "meeting_time"] == BUILTIN_STRATEGIES[DEFAULT_PRESET].meeting_time
        )
    assert bool(played.loc[("Late", 1), "submitted"]) and not bool(played.loc[("Late", 2), "submitted"])


def test_a_team_cannot_act_or_look_for_another(workshop: Workshop) -> None:
    code, key = workshop.create_session(SMALL)
    first, first_token = workshop.join(code, "First")
    second, second_token = workshop.join(code, "Second")
    before = workshop.team_status(code, second, second_token)["decision"]
    with pytest.raises(AccessDeniedError):
        workshop.submit(code, second, first_token, {"meeting_time": 3.0})
    with pytest.raises(AccessDeniedError):
        workshop.team_status(code, second, first_token)
    with pytest.raises(AccessDeniedError):
        workshop.submit(code, "nosuchteam", first_token, {"meeting_time": 3.0})
    assert workshop.team_status(code, second, second_token)["decision"] == before
    # A token of another session is refused too.
    other_code, _ = workshop.create_session(SMALL)
    stranger, stranger_token = workshop.join(other_code, "Stranger")
    with pytest.raises(AccessDeniedError):
        workshop.submit(code, stranger, stranger_token, {"meeting_time": 3.0})
    assert len(first_token) >= 32 and first_token != second_token


def test_a_wrong_facilitator_key_is_refused(workshop: Workshop) -> None:
    code, key = workshop.create_session(SMALL)
    team = workshop.join(code, "Only")
    for action in (
        lambda wrong: workshop.advance(code, wrong),
        lambda wrong: workshop.fire_shock(code, wrong, "budget_freeze"),
        lambda wrong: workshop.reset(code, wrong),
        lambda wrong: workshop.debrief(code, wrong),
        lambda wrong: workshop.facilitator_status(code, wrong),
    ):
        for wrong in ("", key[:-1], key + "x", team[1]):
            with pytest.raises(AccessDeniedError):
                action(wrong)
    assert workshop.projector(code)["round"] == 0 and not workshop.projector(code)["shocks"]


def test_a_restart_gives_the_same_leaderboard(tmp_path: Path) -> None:
    workshop = Workshop(EventStore.in_directory(tmp_path))
    session = start_bot_session(workshop, n_teams=4, settings=SMALL, seed=5)
    play_round(workshop, session)
    workshop.fire_shock(session.code, session.key, "sponsor_leaves")
    play_round(workshop, session, skip={"Bot team 2"})
    expected = workshop.projector(session.code)["leaderboard"]
    # A new store object in this process ...
    again = Workshop(EventStore.in_directory(tmp_path)).projector(session.code)["leaderboard"]
    assert again == expected
    # ... and a new process replay the events to the same figures.
    script = (
        "import json, sys; from workshop.service import Workshop; from workshop.store import EventStore; "
        "w = Workshop(EventStore.in_directory(sys.argv[1])); "
        "print(json.dumps(w.projector(sys.argv[2])['leaderboard']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), session.code],
        capture_output=True, text=True, cwd=REPO, timeout=120, check=True,
    )  # fmt: skip
    assert json.loads(result.stdout) == json.loads(json.dumps(expected))
    # The restarted session carries on: the next round plays from where it was.
    resumed = Workshop(EventStore.in_directory(tmp_path))
    play_round(resumed, session)
    assert resumed.projector(session.code)["round"] == 3


@pytest.mark.parametrize("shock", list(SHOCKS))
def test_a_shock_changes_every_teams_groups_alike(workshop: Workshop, shock: str) -> None:
    code, key = workshop.create_session(SMALL)
    a, b = workshop.join(code, "A"), workshop.join(code, "B")
    workshop.submit(code, *a, PRESET_LEVERS["seller_led"])
    workshop.submit(code, *b, PRESET_LEVERS["sense_making"])
    workshop.advance(code, key)
    game = workshop._game(code)
    tracks = game.tracks()
    before = [{name: getattr(t.cohort._all, name).copy() for name in SHOCK_FIELDS[shock]} for t in tracks]
    workshop.fire_shock(code, key, shock)
    for track, old in zip(tracks, before, strict=True):
        state, running = track.cohort._all, track.cohort.active
        ended = np.setdiff1d(np.arange(state.n_deals), running)
        changed = np.zeros(state.n_deals, dtype=bool)
        for name, array in old.items():
            new = getattr(state, name)
            differs = (new != array).reshape(state.n_deals, -1).any(axis=1)
            changed |= differs
            assert not differs[ended].any(), f"{shock} changed {name} of ended deals"
        assert changed[running].all(), f"{shock} left some running deals of {track.name} unchanged"
    # The same change lands on the same customers: the rows a shock touches are the ones
    # running in each copy, and copies that were still identical stay identical.
    fresh_code, fresh_key = workshop.create_session(SMALL)
    workshop.join(fresh_code, "X")
    workshop.join(fresh_code, "Y")
    workshop.fire_shock(fresh_code, fresh_key, shock)
    fresh = workshop._game(fresh_code).tracks()
    for name in SHOCK_FIELDS[shock]:
        reference = getattr(fresh[0].cohort._all, name)
        for track in fresh[1:]:
            assert np.array_equal(getattr(track.cohort._all, name), reference)


def test_a_shock_changes_the_results(workshop: Workshop) -> None:
    calm = play_session(workshop, n_teams=2, settings=SMALL, seed=2)
    shocked = play_session(workshop, n_teams=2, settings=SMALL, shocks={1: "information_flood"}, seed=2)
    calm_deals = workshop.debrief(calm.code, calm.key).deals
    shocked_deals = workshop.debrief(shocked.code, shocked.key).deals
    assert not calm_deals["outcome"].equals(shocked_deals["outcome"])


def test_debrief_escapes_team_names_and_exports_csv(workshop: Workshop, tmp_path: Path) -> None:
    code, key = workshop.create_session(SMALL)
    workshop.join(code, "<script>alert('x')</script>")
    workshop.join(code, "Fair & Square")
    workshop.advance(code, key)
    debrief = workshop.debrief(code, key)
    page = render_html(debrief)
    assert "<script>" not in page and "&lt;script&gt;" in page and "Fair &amp; Square" in page
    assert "http://" not in page and "https://" not in page  # self-contained
    paths = write_exports(debrief, tmp_path / "export")
    names = {path.name for path in paths}
    assert {"debrief.html", "decisions.csv", "paired.csv", "deals.csv"} <= names
    deals = (tmp_path / "export" / "deals.csv").read_text().splitlines()
    assert len(deals) == 1 + SMALL["groups"] * (2 + len(PRESET_LEVERS))


def test_user_mistakes_are_one_line_errors(workshop: Workshop) -> None:
    for settings_, field in (
        ({"rounds": 0}, "rounds"),
        ({"groups": 5}, "groups"),
        ({"scenario": "nope"}, "scenario"),
        ({"budget": "lots"}, "budget"),
        ({"colour": 1}, "colour"),
        ({"rounds": 12, "weeks_per_round": 52}, "horizon"),
    ):
        with pytest.raises(WorkshopError, match=field) as caught:
            workshop.create_session(settings_)
        assert "\n" not in str(caught.value)
    with pytest.raises(WorkshopError, match="no such session"):
        workshop.join("ZZZZZZ", "Team")
    code, key = workshop.create_session(SMALL)
    workshop.join(code, "Taken")
    with pytest.raises(WorkshopError, match="already taken"):
        workshop.join(code.lower(), " taken ")
    with pytest.raises(WorkshopError, match="team name"):
        workshop.join(code, "   ")
    with pytest.raises(WorkshopError, match="shock 'meteor'"):
        workshop.fire_shock(code, key, "meteor")
    workshop.fire_shock(code, key, "budget_freeze")
    with pytest.raises(WorkshopError, match="already fired before round 1"):
        workshop.fire_shock(code, key, "budget_freeze")
    workshop.advance(code, key, expected_round=1)
    with pytest.raises(WorkshopError, match="round 1 has already been played"):
        workshop.advance(code, key, expected_round=1)  # a double click plays one round only
    assert workshop.projector(code)["round"] == 1


@pytest.fixture(scope="module")
def one_team(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workshop, str, str, str]:
    workshop = Workshop(EventStore.in_directory(tmp_path_factory.mktemp("levers")))
    code, _ = workshop.create_session(SMALL)
    return (workshop, code, *workshop.join(code, "Levers"))


@settings(max_examples=15, deadline=None)
@given(lever=st.sampled_from(sorted(lever_bounds())), value=st.floats(-20, 20, allow_nan=False))
def test_lever_values_are_taken_or_refused_by_their_bounds(
    one_team: tuple[Workshop, str, str, str], lever: str, value: float
) -> None:
    workshop, code, team, token = one_team
    low, high = lever_bounds()[lever]
    before = workshop.team_status(code, team, token)["decision"]
    if low <= value <= high:
        workshop.submit(code, team, token, {lever: value})
        assert workshop.team_status(code, team, token)["decision"] == {**before, lever: value}
    else:
        with pytest.raises(WorkshopError, match=lever):
            workshop.submit(code, team, token, {lever: value})
        assert workshop.team_status(code, team, token)["decision"] == before


def test_a_changed_model_is_flagged_on_replay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workshop = Workshop(EventStore.in_directory(tmp_path))
    code, key = workshop.create_session(SMALL)
    assert workshop.projector(code)["model_changed"] is False
    monkeypatch.setattr("workshop.game.model_fingerprint", lambda: "edited-model")
    replayed = Workshop(EventStore.in_directory(tmp_path))
    assert replayed.projector(code)["model_changed"] is True
    assert "recomputed with the current model" in render_html(replayed.debrief(code, key))


@pytest.mark.parametrize(
    ("arguments", "named"),
    [(["--data-dir", "/proc/no-such-dir"], "--data-dir"), (["--port", "0"], "--port")],
)
def test_the_workshop_command_refuses_bad_options_in_one_line(arguments: list[str], named: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sim.cli", "workshop", *arguments],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0] and "Traceback" not in result.stderr


@settings(max_examples=5, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    preset=st.sampled_from(sorted(PRESET_LEVERS)),
    shock=st.sampled_from(sorted(SHOCKS)),
    shock_round=st.integers(1, SMALL["rounds"]),
)
def test_copying_a_preset_always_matches_it_on_the_same_groups(
    tmp_path_factory: pytest.TempPathFactory, seed: int, preset: str, shock: str, shock_round: int
) -> None:
    """Whatever the seed, shock and its timing, a team that plays a preset every round has that
    preset's figures exactly, and every group is counted once in its pipeline."""
    workshop = Workshop(EventStore.in_directory(tmp_path_factory.mktemp("copy")))
    code, key = workshop.create_session({**SMALL, "seed": seed})
    copier = workshop.join(code, "Copier")
    workshop.join(code, "Other")
    workshop.submit(code, *copier, PRESET_LEVERS[preset])
    for number in range(1, SMALL["rounds"] + 1):
        if number == shock_round:
            workshop.fire_shock(code, key, shock)
        workshop.advance(code, key)
    final = workshop.debrief(code, key).final.set_index("team")
    # Same figures, NaN where neither bought anything (regret of no purchase).
    pd.testing.assert_series_equal(final.loc["Copier"], final.loc[f"preset: {preset}"], check_names=False)
    assert sum(workshop.team_status(code, *copier)["pipeline"].values()) == SMALL["groups"]


def test_a_late_team_catches_up_with_the_default_preset_and_the_shocks(workshop: Workshop) -> None:
    code, key = workshop.create_session(SMALL)
    workshop.join(code, "Early")
    workshop.fire_shock(code, key, "sponsor_leaves")
    workshop.advance(code, key)
    workshop.fire_shock(code, key, "information_flood")
    workshop.advance(code, key)
    workshop.fire_shock(code, key, "budget_freeze")  # before round 3, not yet played
    late = workshop.join(code, "Late")
    status = workshop.team_status(code, *late)
    assert [row["round"] for row in status["history"]] == [1, 2]
    workshop.advance(code, key)
    final = workshop.debrief(code, key).final.set_index("team")
    # Early never decided either: both played the default preset on the same groups and shocks.
    # (NaN where nobody bought: regret of no purchase.)
    pd.testing.assert_series_equal(final.loc["Late"], final.loc["Early"], check_names=False)
    preset = final.loc[f"preset: {DEFAULT_PRESET}"]
    pd.testing.assert_series_equal(final.loc["Late"], preset, check_names=False)
    # The catch-up replays the same way after a restart.
    again = Workshop(EventStore(workshop.store.path)).debrief(code, key).final.set_index("team")
    pd.testing.assert_series_equal(again.loc["Late"], final.loc["Late"], check_names=False)
    with pytest.raises(WorkshopError, match="has ended"):
        workshop.join(code, "Too late")
