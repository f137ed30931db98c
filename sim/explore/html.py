"""The one HTML module for report pages (sweep report, discovery, sensitivity, replication):
Jinja2 templates with autoescape (every user string is escaped), the shared stylesheet, escaped
tables and figures embedded as ``data:`` URIs so a page needs no other files."""

from __future__ import annotations

import base64
import functools
import io
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def figure_png(fig: Any) -> bytes:
    """A figure as PNG bytes (the figure is closed)."""
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def png_data_uri(png: bytes) -> str:
    """PNG bytes as a ``data:`` URI, so a report page needs no other files."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def html_table(frame: pd.DataFrame, **options: Any) -> Markup:
    """A frame as an HTML table whose every cell and header is escaped (pandas escapes them),
    marked safe for the page templates."""
    return Markup(frame.to_html(escape=True, **options))


@functools.cache
def _templates() -> jinja2.Environment:
    """The report templates; autoescape puts every user string through HTML escaping."""
    return jinja2.Environment(
        loader=jinja2.DictLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_page(template: str, **context: Any) -> str:
    """Render one of :data:`TEMPLATES` with the shared stylesheet."""
    return _templates().get_template(template).render(css=Markup(REPORT_CSS), **context)


REPORT_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1300px; color: #222; }
table { border-collapse: collapse; font-size: 12px; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; } h2 { border-bottom: 1px solid #ddd; margin-top: 2em; }
.note { color: #555; font-size: 13px; }
"""


TEMPLATES = {
    "page.html": """<!doctype html>
<html><head><meta charset="utf-8"><title>{% block title %}{% endblock %}</title>
<style>{{ css }}</style></head>
<body>
{% block body %}{% endblock %}
</body></html>
""",
    "report.html": """{% extends "page.html" %}
{% block title %}{{ name }} sweep report{% endblock %}
{% block body %}
<h1>Sweep report: {{ name }}</h1>
<p>{{ description }}</p>
<p class="note">{{ n_points }} points x {{ strategies | length }} strategies ({{ strategies | join(", ") }})
x {{ "{:,}".format(deals_per_point) }} deals; base scenario {{ scenario }}; seed {{ seed }}; sampling
{{ sampling }}; buying-group-sim {{ version }}; spec hash {{ spec_hash }}.
{% if not complete %}<b>Incomplete: some chunks are missing; figures cover the finished ones.</b>
{% endif %}</p>
<p class="note">Means with 95% confidence intervals (normal approximation). Deal size, regret,
high-quality deals and high regret are measured over purchases. Strategies meet the same deals
at each point, so differences are paired. CSVs: <a href="summary.csv">summary.csv</a>,
<a href="best.csv">best.csv</a>, <a href="wins.csv">wins.csv</a>,
<a href="experiments.csv">experiments.csv</a>, <a href="findings.csv">findings.csv</a>.</p>
{% if findings %}
<h2>Findings</h2>
<p class="note">Written from the tables below: the best strategy per metric and where it is not
best (scenario discovery with PRIM on the paired per-point differences; see
<code>buyingsim discover</code>), the condition that moves each metric most, and robustness.</p>
<ul>
{% for finding in findings %}
<li>{{ finding }}</li>
{% endfor %}
</ul>
{% endif %}
{% if wins_table %}
<h2>Points won by each strategy</h2>
<p class="note">A win is clear when the paired 95% CI of the difference to the runner-up excludes zero.</p>
{{ wins_table }}
{% endif %}
{% if best_table %}
<h2>Best strategy per point</h2>
<p class="note">Difference = best - runner-up on the same deals (95% CI).</p>
{{ best_table }}
{% endif %}
{% if robust_table %}
<h2>Robustness across the swept conditions</h2>
<p class="note">Per strategy over all points: the mean and the worst of its point means, its
maximum regret (the largest paired shortfall against the best strategy at a point, on the same
deals; 0 when it is best everywhere) and the point where that happens{% if thresholds %}, and the
share of points where it meets the threshold{% endif %}. CSV: <a href="robustness.csv">robustness.csv</a>.</p>
{{ robust_table }}
<img alt="maximum regret per metric and strategy" src="{{ robust_image }}">
{% endif %}
{% for figure in marginals %}
<h2>Metrics against {{ figure.parameter }}</h2>
<p class="note">Deals pooled over the other parameters at each level; bands are 95% CIs.</p>
<img alt="{{ figure.parameter }}" src="{{ figure.image }}">
{% endfor %}
{% for pair in heatmaps %}
<h2>{{ pair.x }} x {{ pair.y }}</h2>
{% for figure in pair.images %}
<img alt="{{ figure.alt }}" src="{{ figure.image }}">
{% endfor %}
{% endfor %}
<h2>All points</h2>
{{ all_points }}
{% endblock %}
""",
    "sensitivity.html": """{% extends "page.html" %}
{% block title %}{{ name }} sensitivity{% endblock %}
{% block body %}
<h1>Sensitivity analysis: {{ name }}</h1>
<p>{{ description }}</p>
<p class="note">{{ method | capitalize }} method, {{ n_points }} points x {{ "{:,}".format(deals_per_point) }}
deals under {{ strategies | join(", ") }}; parameters: {{ parameters | join(", ") }}. Indices in
<a href="indices.csv">indices.csv</a>, point outcomes in <a href="point_outcomes.csv">point_outcomes.csv</a>.
{% if method == "sobol" %} S1: share of outcome variance due to the parameter alone; ST: including
its interactions (95% bootstrap CIs).{% endif %}
{% if method == "morris" %} mu*: mean absolute elementary effect (overall influence); sigma: spread
of effects (non-linearity and interactions).{% endif %}</p>
{% for section in targets %}
<h2>{{ section.target }}</h2>
<img alt="{{ section.target }}" src="{{ section.image }}">
{{ section.table }}
{% endfor %}
{% endblock %}
""",
    "discovery.html": """{% extends "page.html" %}
{% block title %}{{ name }} scenario discovery{% endblock %}
{% block body %}
<h1>Scenario discovery{% if name %}: {{ name }}{% endif %}</h1>
<p class="note">Question: where does it hold that {{ question }}? {{ n_cases }} of {{ n_points }}
swept points qualify. PRIM (EMA Workbench) peels the swept conditions down to boxes of mostly
qualifying points; the chosen box has the largest coverage (share of all qualifying points
inside it) among the boxes whose density (share of the box that qualifies) is at least
{{ "{:.0%}".format(density) }} (the target, raised halfway to 100% when the share of qualifying
points overall already reaches it). Quasi-p values test each limit (one-sided binomial; small is
significant); limits above 0.05 are dropped, weakest first, while the box stays that dense
(the boxes tried join the trajectory). CSVs: <a href="cases.csv">cases.csv</a>,
<a href="prim_trajectory.csv">prim_trajectory.csv</a>,
<a href="prim_boxes.csv">prim_boxes.csv</a>, <a href="cart_boxes.csv">cart_boxes.csv</a>,
<a href="feature_scores.csv">feature_scores.csv</a>.</p>
<h2>Findings</h2>
<ul>
{% for sentence in sentences %}
<li>{{ sentence }}</li>
{% endfor %}
</ul>
{% for box in boxes %}
<h2>{{ box.title }}</h2>
<p>{{ box.sentence }}</p>
{{ box.table }}
{% endfor %}
{% for figure in images %}
<img alt="{{ figure.alt }}" src="{{ figure.image }}">
{% endfor %}
{% if scores %}
<h2>Which conditions matter</h2>
<p class="note">Extra-trees feature scores of the value behind the question (they sum to 1).</p>
{{ scores }}
{% endif %}
{% if cart_boxes or cart_tree %}
<h2>CART: a second view</h2>
<p class="note">Leaves of a classification tree whose density reaches the target.</p>
{% for box in cart_boxes %}
<h3>{{ box.title }}</h3>
<p>{{ box.sentence }}</p>
{{ box.table }}
{% endfor %}
<pre>{{ cart_tree }}</pre>
{% endif %}
{% endblock %}
""",
    "replication.html": """{% extends "page.html" %}
{% block title %}Replication table{% endblock %}
{% block body %}
<h1>Replication of the buying-journey research figures</h1>
<p>{{ summary }}; scenario <code>{{ scenario }}</code>.</p>
{{ table }}
{% for figure in figures %}
<h3>{{ figure.label }}</h3>
<img alt="{{ figure.label }}" src="{{ figure.image }}">
{% endfor %}
{% endblock %}
""",
}

