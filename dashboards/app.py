"""The dashboard app served by ``buyingsim dashboard``: the explorer and the compare page."""

from __future__ import annotations

import solara

from dashboards import compare, explorer

compare.prewarm()  # the default comparison is ready by the time someone opens the page

PAGES = {"/": "Explore one deal", "/compare": "Compare strategies"}


@solara.component
def Layout(children: list | None = None) -> solara.Element:  # noqa: N802 (Solara component)
    """Solara's app layout with named tabs for the two pages."""
    with solara.AppLayout(navigation=True) as layout:
        with solara.AppBar(), solara.lab.Tabs(align="center"):
            for path, label in PAGES.items():
                solara.lab.Tab(label, path_or_route=path)
        for child in children or []:
            solara.display(child)
    return layout


routes = [
    solara.Route(path="/", component=explorer.Page, label=PAGES["/"], layout=Layout),
    solara.Route(path="compare", component=compare.Page, label=PAGES["/compare"]),
]
