"""Ending a browser session frees its explorer models (without a browser: Solara's own
per-session kernel contexts, opened and closed the way the server does it)."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import ipyvuetify as v
import solara
import solara.server.app  # noqa: F401 (sets ipywidgets up for server-side sessions)
from solara.server import kernel, kernel_context

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # dashboards/ is the app folder next to sim/, not installed
    sys.path.insert(0, str(REPO_ROOT))

from dashboards import explorer  # noqa: E402

SESSIONS = 4


def _live_models() -> int:
    gc.collect()
    return sum(isinstance(item, explorer.ExplorerModel) for item in gc.get_objects())


def _session_that_steps_resets_and_closes(number: int) -> None:
    """One browser session: the explorer page, a Step, a Reset (a second model), then the
    page is closed, which closes the session's kernel context as the server does."""
    context = kernel_context.VirtualKernelContext(
        id=f"test-kernel-{number}", session_id=f"test-session-{number}", kernel=kernel.Kernel(),
        control_sockets=[], widgets={}, templates={})
    kernel_context.contexts[context.id] = context
    with context:
        _, rendered = solara.render(solara.AppLayout(children=[explorer.Page()]),
                                    handle_error=False)
        context.app_object = rendered
        rendered.find(v.Btn, children=["Step"]).widget.click()
        rendered.find(v.Btn, children=["Reset"]).widget.click()
        rendered.find(v.Btn, children=["Step"]).widget.click()
        del rendered
    context.close(reason="page-close")


def test_closed_sessions_do_not_keep_their_models() -> None:
    """Each session makes two models (the first and the one Reset builds). At most the last
    session's may linger briefly (Solara's last render); nothing else keeps them."""
    before = _live_models()
    for number in range(SESSIONS):
        _session_that_steps_resets_and_closes(number)
    assert _live_models() - before <= 2
