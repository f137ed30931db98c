"""The replication report is a self-contained page in which user text is escaped."""

from __future__ import annotations

import dataclasses

from sim.replication import replicate, write_report

HOSTILE = "<img src=x onerror=alert(1)>"


def test_replication_page_escapes_the_scenario_name_and_embeds_every_plot(tmp_path):
    replication = replicate("market", n_deals=512, seed=0, samples=20)
    hostile = dataclasses.replace(replication, scenario=HOSTILE)
    markdown, page = write_report(hostile, tmp_path)
    text = page.read_text(encoding="utf-8")
    assert HOSTILE not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert text.count("data:image/png;base64,") == len(replication.table)
    assert (tmp_path / "replication.csv").exists() and markdown.exists()
