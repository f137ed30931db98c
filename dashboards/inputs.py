"""Checks for what the browser sends, shared by both pages, and the pages' safety net.

A value from the browser is untrusted: a typed seed can be anything, and a forged message can
put any value into a drop-down. Every field goes through one of the checks below; a refused
value raises :class:`FieldError`, whose one-line message the page shows beside the field while
it keeps the last valid value. Unexpected exceptions become a short generic message in the
page, with the traceback only in the server log (:func:`failure_message`, :func:`SafeView`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import solara

from sim.engine import MAX_SEED
from sim.scenario import ScenarioError
from sim.scenario import bundled_scenarios as scenario_files

logger = logging.getLogger("dashboards")

GENERIC_FAILURE = "Something went wrong on the server (the details are in its log)."
T = TypeVar("T")


class FieldError(ValueError):
    """A value the page refuses; the message is one line, shown beside the field."""


def accept_field(
    refused: Any, field: str, current: object, check: Callable[[], Any], store: Callable[[Any], None]
) -> None:
    """Store the checked value, or keep ``current`` and show why the value was refused.
    ``refused`` is the page's reactive map of field -> message about its last refused value."""
    try:
        value = check()
    except FieldError as error:
        refused.value = {**refused.value, field: f"{error}; keeping {current}"}
        return
    refused.value = {name: text for name, text in refused.value.items() if name != field}
    store(value)


def bundled_scenarios() -> list[str]:
    """Names of the scenarios shipped in ``scenarios/``, baseline first: the only scenario
    names a page accepts."""
    names = [path.stem for path in scenario_files()]  # not defaults.toml, the base they extend
    return sorted(names, key=lambda name: name != "baseline")


def parse_seed(text: object) -> int:
    """A seed typed by the user: a whole number from 0 to :data:`MAX_SEED`."""
    cleaned = str(text).strip()
    allowed = f"a whole number from 0 to {MAX_SEED:,}"
    if not cleaned.isascii() or not cleaned.isdigit():
        raise FieldError(f"seed {_shown(cleaned)}: must be {allowed}")
    if len(cleaned.lstrip("0")) > len(str(MAX_SEED)) or int(cleaned) > MAX_SEED:
        raise FieldError(f"seed {_shown(cleaned)}: too large; must be {allowed}")
    return int(cleaned)


def pick(field: str, value: T, allowed: Sequence[T]) -> T:
    """``value`` if it is one of the listed choices (compared by type and value, so the
    string "500" is not the number 500); nothing else is looked up or opened."""
    for choice in allowed:
        if type(choice) is type(value) and choice == value:
            return choice
    shown = ", ".join(str(choice) for choice in allowed)
    raise FieldError(f"{field} {_shown(value)}: not one of the choices ({shown})")


def in_range(field: str, value: Any, low: float, high: float, *, whole: bool = False) -> float | int:
    """A slider value: a finite number from ``low`` to ``high`` (a whole number if ``whole``)."""
    kind = "a whole number" if whole else "a number"
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if (not is_number or not math.isfinite(value) or not low <= value <= high
            or (whole and value != int(value))):
        raise FieldError(f"{field} {_shown(value)}: must be {kind} from {low:g} to {high:g}")
    return int(value) if whole else float(value)


def _shown(value: object, limit: int = 24) -> str:
    """A refused value as quoted in a message: short, one line (the page escapes it)."""
    text = repr(value)
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return text.replace("\n", " ")


def failure_message(error: BaseException, doing: str) -> str:
    """The one line a page shows for ``error``: a scenario problem as it is, anything else
    logged with its traceback and shown as a generic message."""
    if isinstance(error, ScenarioError | FieldError):
        return str(error).splitlines()[0] if str(error) else doing + " failed"
    logger.error("%s failed", doing, exc_info=error)
    return f"{doing} failed. {GENERIC_FAILURE}"


@solara.component
def FieldMessage(message: str | None) -> None:  # noqa: N802 (Solara components)
    """The message under a field whose last value was refused (nothing when it was valid)."""
    if message:
        solara.Text(message, classes=["field-error"],
                    style={"display": "block", "color": "#b00020", "font-size": "0.8em"})


@solara.component
def SafeView(page: Callable[[], Any], doing: str, message: str | None = None) -> None:  # noqa: N802
    """Show what ``page()`` makes (a component); if it raises (rendering or in an event handler),
    show ``message`` (by default a short generic one) and a retry button instead of Solara's
    traceback page. Sidebar content needs its own SafeView: it is rendered apart from the
    page's own tree."""
    error, clear = solara.use_exception()
    solara.use_memo(lambda: message and error and failure_message(error, doing), [error])  # log
    if error is not None:
        solara.Error(message or failure_message(error, doing), classes=["page-failure"])
        solara.Button("Try again", on_click=clear, small=True)
        return
    page()
