"""The dashboard app served by ``buyingsim dashboard``: the explorer, the compare page and the
strategy designer."""

from __future__ import annotations

import functools

import solara

from dashboards import compare, design, designer, explorer
from dashboards.inputs import SafeView

compare.prewarm()  # the default comparison is ready by the time someone opens the page
design.prewarm()  # and the designer's presets
designer.prewarm_charts()

PAGES = {"/": "Explore one deal", "/compare": "Compare strategies", "/design": "Design a strategy"}


@solara.component
def Layout(children: list | None = None) -> None:  # noqa: N802 (Solara component)
    """The app layout behind the last safety net: whatever fails anywhere in the app (also
    in Mesa's own controls in the sidebar) shows a short message, never a traceback."""
    SafeView(functools.partial(TabbedLayout, children or []), "The dashboard")


@solara.component
def TabbedLayout(children: list) -> solara.Element:  # noqa: N802 (Solara component)
    """Solara's app layout with named tabs for the pages."""
    with solara.AppLayout(navigation=True) as layout:
        with solara.AppBar(), solara.lab.Tabs(align="center"):
            for path, label in PAGES.items():
                solara.lab.Tab(label, path_or_route=path)
        for child in children:
            solara.display(child)
    return layout


routes = [
    solara.Route(path="/", component=explorer.Page, label=PAGES["/"], layout=Layout),
    solara.Route(path="compare", component=compare.Page, label=PAGES["/compare"]),
    solara.Route(path="design", component=designer.Page, label=PAGES["/design"]),
]
