"""The workshop app served by ``buyingsim workshop``: team page, facilitator console, projector."""

from __future__ import annotations

import solara

from workshop.pages import FacilitatorPage, HomePage, ProjectorPage, TeamPage, safe

routes = [
    solara.Route(path="/", component=safe(HomePage, "The workshop"), label="Workshop"),
    solara.Route(path="team", component=safe(TeamPage, "The team page"), label="Team"),
    solara.Route(path="facilitator", component=safe(FacilitatorPage, "The console"), label="Facilitator"),
    solara.Route(path="projector", component=safe(ProjectorPage, "The projector view"), label="Projector"),
]
