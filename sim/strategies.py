"""Vendor go-to-market strategies as data.

A strategy is a handful of numbers describing what a vendor supplies to the buying group:
how much rep time and digital content, how good and how tailored, whether it follows the
group's current job or pushes toward supplier selection, and whether it resolves
contradictions, surfaces unshared items and prunes what overloads. The three built-ins follow
the research (seeds 001, 003, 004) and each spends the same budget of vendor effort
(``sim/effort.py``); a scenario may define hybrids under ``[strategies.NAME]``.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class Strategy(BaseModel):
    """One vendor's go-to-market motion."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    meeting_time: float = Field(1.0, ge=0, le=5, description="rep meeting time relative to an average vendor")
    digital_volume: float = Field(
        1.0, ge=0, le=10, description="self-serve content relative to an average vendor"
    )
    digital_quality: float = Field(0.6, ge=0, le=1, description="accuracy and credibility of digital content")
    tailoring: float = Field(
        0.3, ge=0, le=1, description="share of items aimed at each person's own priority"
    )
    persuasion: float = Field(
        0.3, ge=0, le=3, description="upward bias of claims about the vendor's own option"
    )
    stage_alignment: float = Field(
        0.5, ge=0, le=1, description="share of rep meetings that follow the group's job"
    )
    group_level: float = Field(0.1, ge=0, le=1, description="share of items given to the whole group at once")
    resolve_contradictions: float = Field(
        0.0, ge=0, le=1, description="weekly chance to resolve each contradiction"
    )
    surface_unshared: float = Field(
        0.0, ge=0, le=1, description="extra chance that unshared items get voiced"
    )
    prune_overload: float = Field(
        0.0, ge=0, le=1, description="how hard it helps buyers discard what they hold (1: twice as fast)"
    )


# The strategy's fields in declaration order: the columns of strategy_table and vendor arrays.
STRATEGY_FIELDS: tuple[str, ...] = tuple(Strategy.model_fields)

BUILTIN_STRATEGIES: dict[str, Strategy] = {
    # Reps lead: long meetings, persuasive items tailored to each person, pushing to selection.
    "seller_led": Strategy(
        meeting_time=1.7,
        digital_volume=0.6,
        digital_quality=0.55,
        tailoring=0.8,
        persuasion=0.6,
        stage_alignment=0.3,
        group_level=0.1,
    ),
    # Abundant good self-serve content; more volume, nothing resolves the contradictions.
    "digital_first": Strategy(
        meeting_time=0.5,
        digital_volume=2.0,
        digital_quality=0.85,
        tailoring=0.2,
        persuasion=0.2,
        stage_alignment=0.6,
        group_level=0.0,
    ),
    # Fewer, group-level items aligned to the job in focus; deconflicts, surfaces, prunes.
    "sense_making": Strategy(
        meeting_time=1.0,
        digital_volume=0.8,
        digital_quality=0.78,
        tailoring=0.1,
        persuasion=0.1,
        stage_alignment=0.9,
        group_level=0.7,
        resolve_contradictions=0.35,
        surface_unshared=0.3,
        prune_overload=0.25,
    ),
}


def strategy_table(strategies: list[Strategy]) -> np.ndarray:
    """Stack strategies into a float array of shape (len(strategies), len(STRATEGY_FIELDS))."""
    return np.array([[getattr(s, field) for field in STRATEGY_FIELDS] for s in strategies], dtype=np.float64)
