"""The former home of the sweep analysis and report code, now in :mod:`sim.explore` (analysis,
plots, html, report). These names stay importable from here for code written against it."""

from sim.explore.analysis import (
    DIRECTION,
    best_strategies,
    outcomes_table,
    paired_difference,
    point_summary,
    robustness,
)
from sim.explore.html import figure_png, html_table, png_data_uri, render_page
from sim.explore.report import write_report

__all__ = [
    "DIRECTION",
    "best_strategies",
    "figure_png",
    "html_table",
    "outcomes_table",
    "paired_difference",
    "png_data_uri",
    "point_summary",
    "render_page",
    "robustness",
    "write_report",
]
