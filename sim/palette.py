"""Strategy names and colours, in one place: every chart and page shows a strategy in the same
colour and under the same label."""

from __future__ import annotations

# The built-in strategies keep their colours wherever they appear; other (custom) strategies
# take the spare colours in the order they are listed.
STRATEGY_COLOURS: dict[str, str] = {
    "seller_led": "#4c72b0",
    "digital_first": "#dd8452",
    "sense_making": "#55a868",
}
SPARE_COLOURS = ("#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")


def strategy_colour(strategy: str, strategies: list[str] | None = None) -> str:
    """The colour of a strategy; a custom one takes a spare colour by its place among the
    custom strategies of ``strategies`` (the run's list), so a chart never repeats a colour."""
    if strategy in STRATEGY_COLOURS:
        return STRATEGY_COLOURS[strategy]
    custom = [name for name in (strategies or [strategy]) if name not in STRATEGY_COLOURS]
    index = custom.index(strategy) if strategy in custom else len(custom)
    return SPARE_COLOURS[index % len(SPARE_COLOURS)]


def strategy_label(strategy: str) -> str:
    """A strategy's name as prose writes it: ``sense_making`` -> ``sense-making``."""
    return strategy.replace("_", "-")
