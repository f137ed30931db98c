"""The debrief: per team and round, decisions and outcomes, and each team against what every
preset strategy achieved on the same buying groups (paired: same customers, same random
numbers, same shocks). Exported as one self-contained HTML page (Jinja2, autoescaped: team
names are user text) and CSV files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape

from sim.effort import effort_used, within_budget
from sim.research import FIGURES
from workshop.game import PRESETS, RANKED, Game, Track, scorecard
from workshop.shocks import SHOCKS

TEMPLATES = Path(__file__).parent / "templates"
DEAL_COLUMNS = (
    "deal",
    "round",
    "outcome",
    "focal_win",
    "no_decision",
    "deal_size",
    "regret",
    "purchase_ease",
)


@dataclass(frozen=True)
class Debrief:
    """The debrief's tables (plain DataFrames, one row per item)."""

    code: str
    config: dict
    rounds_played: int
    decisions: pd.DataFrame  # team, round, levers, effort asked and delivered
    rounds: pd.DataFrame  # team or preset, round, scorecard after the round
    paired: pd.DataFrame  # team x preset: differences on the same groups
    final: pd.DataFrame  # final scorecard of teams and presets
    figures: pd.DataFrame  # research figures: target, band, and the session's own values
    deals: pd.DataFrame  # every group's result per team and preset
    shocks: list[dict]
    model_changed: bool  # the model changed since the session was created (figures recomputed)


def _deal_table(track: Track, groups: int) -> pd.DataFrame:
    """One row per group: its result so far (groups still running are 'open')."""
    table = pd.DataFrame({"deal": np.arange(groups)})
    ended = track.deals()
    if not ended.empty:
        table = table.merge(ended[list(DEAL_COLUMNS)], on="deal", how="left")
    else:
        table = table.assign(**{name: np.nan for name in DEAL_COLUMNS[1:]})
    table["outcome"] = table["outcome"].fillna("running")
    table["focal_win"] = table["focal_win"].eq(True)
    table["no_decision"] = table["no_decision"].eq(True)
    return table


def _figure(figure, deals: pd.DataFrame) -> float:
    """A research figure on the session's deals; NaN where too few deals carry it."""
    if deals.empty:
        return float("nan")
    with np.errstate(all="ignore"):
        try:
            return float(figure.compute(deals))
        except (ZeroDivisionError, ValueError, KeyError, IndexError):
            return float("nan")


def build_debrief(game: Game) -> Debrief:
    """Every table of the debrief from a game's current state."""
    budget = game.config.budget
    groups = game.config.groups
    decisions: list[dict[str, Any]] = []
    rounds: list[dict[str, Any]] = []
    deals: list[pd.DataFrame] = []
    named = {game.team_names[team_id]: track for team_id, track in game.teams.items()}
    presets = {f"preset: {name}": track for name, track in game.presets.items()}
    for name, track in {**named, **presets}.items():
        kind = "preset" if name in presets else "team"
        for number, strategy in sorted(track.played.items()):
            decisions.append(
                {
                    "team": name,
                    "kind": kind,
                    "round": number,
                    "submitted": number in track.decisions,
                    **strategy.model_dump(),
                    "effort_asked": effort_used(strategy),
                    "effort_delivered": effort_used(within_budget(strategy, budget)),
                }
            )
        rounds.extend({"team": name, "kind": kind, **row} for row in track.history)
        deals.append(_deal_table(track, groups).assign(team=name, kind=kind))
    final = pd.DataFrame({name: scorecard(track) for name, track in {**named, **presets}.items()}).T
    paired = []
    for name, track in named.items():
        mine = _deal_table(track, groups)
        for preset_name in PRESETS:
            theirs = _deal_table(game.presets[preset_name], groups)
            row: dict[str, Any] = {"team": name, "preset": preset_name}
            card, other = scorecard(track), scorecard(game.presets[preset_name])
            for metric in RANKED:
                row[f"{metric}_difference"] = float(card[metric]) - float(other[metric])
            row["won_only_by_team"] = int((mine["focal_win"] & ~theirs["focal_win"]).sum())
            row["won_only_by_preset"] = int((~mine["focal_win"] & theirs["focal_win"]).sum())
            paired.append(row)
    all_team_deals = pd.concat([track.deals() for track in named.values() if track.ended] or [pd.DataFrame()])
    figures = []
    for figure in FIGURES:
        line: dict[str, Any] = {
            "figure": figure.label,
            "target": figure.target,
            "low": figure.low,
            "high": figure.high,
        }
        line["session"] = _figure(figure, all_team_deals)
        for name, track in presets.items():
            line[name] = _figure(figure, track.deals())
        figures.append(line)
    return Debrief(
        code=game.code,
        config=game.config.to_dict(),
        rounds_played=game.round,
        decisions=pd.DataFrame(decisions),
        rounds=pd.DataFrame(rounds),
        paired=pd.DataFrame(paired),
        final=final.rename_axis("team").reset_index(),
        figures=pd.DataFrame(figures),
        deals=pd.concat(deals, ignore_index=True) if deals else pd.DataFrame(),
        shocks=[{**shock, "effect": SHOCKS[shock["shock"]].effect} for shock in game.shocks],
        model_changed=game.model_changed,
    )


def _cell(value) -> str:
    """A table cell as text: numbers rounded, missing values as a dash."""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        return "–" if math.isnan(value) else f"{float(value):,.3g}"
    return str(value)


def render_html(debrief: Debrief) -> str:
    """The debrief as one self-contained HTML page (no external assets; user text escaped)."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]), trim_blocks=True
    )
    environment.filters["cell"] = _cell
    template = environment.get_template("debrief.html.j2")
    tables = {
        "Final scorecard (teams and presets on the same groups)": debrief.final,
        "Each team against each preset, paired on the same groups (team minus preset)": debrief.paired,
        "Decisions per round (effort in rep-time units per week)": debrief.decisions,
        "Scorecard after each round": debrief.rounds,
        "Research figures beside the session's own": debrief.figures,
    }
    return template.render(debrief=debrief, tables=tables)


def write_exports(debrief: Debrief, directory: str | Path) -> list[Path]:
    """The debrief's HTML page and CSV files in ``directory``; returns the paths written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in ("decisions", "rounds", "paired", "final", "figures", "deals"):
        path = directory / f"{name}.csv"
        getattr(debrief, name).to_csv(path, index=False)
        written.append(path)
    page = directory / "debrief.html"
    page.write_text(render_html(debrief), encoding="utf-8")
    written.append(page)
    return written
