"""Interactive charts that render offline: Altair specifications drawn by Vega-Embed.

Solara's own Altair component asks its asset proxy for ``vega@5`` and friends, version
ranges the installed ``solara-assets`` copy does not hold, so offline the proxy would fetch
them from the internet and fail. :class:`VegaChart` is a small widget of our own that loads
the exact versions that copy holds (found on disk when the server starts) through the page's
require.js, and draws the chart as SVG with Vega's tooltips.

Every chart uses :data:`ROOM_CONFIG`: text of at least 14 px, so a projected chart stays
legible at 1280x800; rate axes start at zero (the charts set it per axis).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import altair as alt
import ipyvuetify as v
import solara
import traitlets

FONT_PX = 14
TITLE_PX = 16
ROOM_CONFIG: dict[str, Any] = {
    "font": "Roboto, Helvetica, Arial, sans-serif",
    "axis": {"labelFontSize": FONT_PX, "titleFontSize": FONT_PX, "titleFontWeight": "normal",
             "labelLimit": 260},
    "legend": {"labelFontSize": FONT_PX, "titleFontSize": FONT_PX, "orient": "bottom",
               "labelLimit": 300},
    "header": {"labelFontSize": FONT_PX, "titleFontSize": FONT_PX},
    "title": {"fontSize": TITLE_PX, "anchor": "start", "fontWeight": "normal"},
    "text": {"fontSize": FONT_PX},
    "view": {"stroke": None},
}
# Checking a specification against the Vega-Lite schema costs tens of milliseconds a chart,
# most of a Step's server time; the tests check every chart's specification instead.
VALIDATE = False
LIBRARIES = ("vega", "vega-lite", "vega-embed")
BUILDS = {"vega": "build/vega.min", "vega-lite": "build/vega-lite.min",
          "vega-embed": "build/vega-embed.min"}


def _version_key(folder: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", folder.name.split("@", 1)[1]))


@functools.cache
def library_paths() -> dict[str, str]:
    """Each Vega library's path under the asset proxy (newest copy on disk), without ``.js``,
    as require.js wants it: ``{"vega": "vega@5.21.0/build/vega.min", ...}``."""
    from solara.server.settings import assets

    found = {}
    for library in LIBRARIES:
        copies = [folder for folder in Path(assets.proxy_cache_dir).glob(f"{library}@*")
                  if (folder / f"{BUILDS[library]}.js").exists()]
        if copies:
            found[library] = f"{max(copies, key=_version_key).name}/{BUILDS[library]}"
    return found


TEMPLATE = """
<template>
  <div class="vega-chart" :data-rendered="rendered" :data-draws="draws" :data-ms="drawMs"
       :data-failed="failed">
    <div ref="plot"></div>
  </div>
</template>
<script>
module.exports = {
  data() { return { rendered: "no", draws: 0, drawMs: 0, failed: "" }; },
  mounted() { this.draw(); },
  watch: { spec() { this.draw(); } },
  methods: {
    base() {
      const cdn = (window.solara && window.solara.cdn) || "_solara/cdn";
      return cdn.endsWith("/") ? cdn : cdn + "/";
    },
    draw() {
      const base = this.base();
      const paths = {};
      for (const [name, path] of Object.entries(this.libraries)) { paths[name] = base + path; }
      const context = "buyingsim-vega";
      const load = window.requirejs.config({ context: context, paths: paths });
      load(["vega-embed"], (embed) => {
        const started = performance.now();
        embed(this.$refs.plot, this.spec, { renderer: "svg", actions: false })
          .then((result) => {
            this.drawMs = Math.round(performance.now() - started);
            if (this.view) { this.view.finalize(); }  // the previous drawing's listeners
            this.view = result.view;
            this.rendered = "yes";
            this.draws += 1;
          })
          .catch((error) => { this.failed = String(error); });
      }, (error) => { this.failed = String(error); });
    },
  },
};
</script>
"""


class VegaChart(v.VuetifyTemplate):
    """A Vega-Lite chart drawn in the browser from the local copies of the Vega libraries."""

    template = traitlets.Unicode(TEMPLATE).tag(sync=True)
    spec = traitlets.Dict().tag(sync=True)
    libraries = traitlets.Dict().tag(sync=True)


def to_spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """The Vega-Lite specification of ``chart`` with the room configuration (no schema URL:
    the local Vega-Lite may be an older major version than Altair writes, and the URL would
    only make it warn)."""
    spec = chart.configure(**ROOM_CONFIG).to_dict(validate=VALIDATE)
    spec.pop("$schema", None)
    return spec


@solara.component
def Chart(chart: alt.TopLevelMixin, classes: list[str] | None = None) -> None:  # noqa: N802
    """Show an Altair chart (interactive: tooltips on hover)."""
    spec = solara.use_memo(lambda: to_spec(chart), [chart])
    SpecChart(spec, classes)


@solara.component
def SpecChart(spec: dict[str, Any], classes: list[str] | None = None) -> None:  # noqa: N802
    """Show a chart from its Vega-Lite specification (see :func:`to_spec`)."""
    with solara.Div(classes=["room-chart", *(classes or [])]):
        VegaChart.element(spec=spec, libraries=library_paths())
