"""The sweep commands: one-line errors with exit code 2, a sweep interrupted by SIGTERM that
resumes, the HTML report and CSVs, and the sensitivity analysis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
from typer.testing import CliRunner

from sim.cli import app
from sim.explore.analysis import DIRECTION
from sim.explore.store import CHUNK_DIR, load_sweep

SPEC = """
name = "cli"
description = "A small grid for the CLI tests."
scenario = "baseline"
seed = 4
deals_per_point = 256
chunk_deals = 256
strategies = ["seller_led", "digital_first", "sense_making"]

[overrides]
"simulation.horizon_weeks" = 16

[uncertainties.group_size]
values = [4, 7]

[uncertainties.information_volume]
values = [0.5, 2.0]
"""
CHUNKS = 4 * 3  # points x strategies, one chunk each

SENSITIVITY = """
name = "sens"
scenario = "baseline"
seed = 2
deals_per_point = 256
chunk_deals = 256
strategies = ["seller_led", "sense_making"]
outcomes = ["purchase_ease", "no_decision"]

[overrides]
"simulation.horizon_weeks" = 16

[uncertainties.conflict_level]
low = 0.1
high = 0.9

[uncertainties.group_size]
low = 3
high = 10

[sensitivity]
method = "morris"
samples = 2
contrast = ["sense_making", "seller_led"]
"""

runner = CliRunner()


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "cli.toml"
    path.write_text(SPEC)
    return path


@pytest.fixture(scope="module")
def swept(spec_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("swept") / "results"
    result = runner.invoke(app, ["sweep", str(spec_file), "--out", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert f"{4 * 3 * 256:,} deals in {CHUNKS} chunks" in result.stdout
    return out


def one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize("text, expected", [
    (SPEC.replace("deals_per_point = 256", "deals_per_point = -3"),
     "field deals_per_point = -3: Input should be greater than or equal to 1"),
    (SPEC.replace("values = [0.5, 2.0]", "values = [0.5, 20.0]"),
     "field uncertainties.information_volume: value 20.0 is not allowed"),
    (SPEC.replace('"sense_making"]', '"sense_making", "magic"]'),
     "unknown strategy 'magic'; allowed: digital_first, seller_led, sense_making"),
    (SPEC + "\n[sampling]\nmethod = \"lhs\"\n",
     "field sampling.method = 'lhs': Input should be 'grid', 'latin_hypercube' or 'sobol'"),
    (SPEC.replace("[uncertainties.group_size]", "[uncertainties.group_size]\nstep = 1"),
     "unknown field 'uncertainties.group_size.step'; allowed here: field, values, low, high"),
    ("deals_per_point = [", "not valid TOML"),
])
def test_bad_spec_is_one_line_with_exit_code_2(text, expected, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    line = one_line_error(runner.invoke(app, ["sweep", str(path), "--out", str(tmp_path / "o")]))
    assert str(path) in line and expected in line
    assert not (tmp_path / "o").exists()


def test_cli_refusals(spec_file, swept, tmp_path):
    line = one_line_error(runner.invoke(app, ["sweep", str(tmp_path / "none.toml"), "--out",
                                              str(tmp_path / "o")]))
    assert "none.toml: no such sweep spec file" in line
    other = tmp_path / "other.toml"
    other.write_text(SPEC.replace("seed = 4", "seed = 5"))
    line = one_line_error(runner.invoke(app, ["sweep", str(other), "--out", str(swept)]))
    assert "holds results of a different spec" in line and "fields that differ: seed" in line
    line = one_line_error(runner.invoke(app, ["sweep", str(spec_file), "--out", str(tmp_path),
                                              "--scheduler", "tcp://x:1", "--dask-local"]))
    assert "exclude each other" in line
    line = one_line_error(runner.invoke(app, ["report", str(tmp_path)]))
    assert "not a sweep results directory" in line
    line = one_line_error(runner.invoke(app, ["report", str(swept), "--metrics", "joy"]))
    assert "--metrics: unknown 'joy'" in line
    line = one_line_error(runner.invoke(app, ["report", str(swept), "--satisfice", "joy=1"]))
    assert "--satisfice 'joy=1': unknown metric 'joy'; allowed: purchase_ease" in line
    line = one_line_error(runner.invoke(app, ["report", str(swept), "--satisfice", "regret=nan"]))
    assert "finite number" in line


def test_rerun_of_a_finished_sweep_does_nothing(spec_file, swept):
    result = runner.invoke(app, ["sweep", str(spec_file), "--out", str(swept), "--workers", "2"])
    assert result.exit_code == 0
    assert f"nothing to do: all {CHUNKS} chunks" in result.stdout


def test_sigterm_keeps_finished_chunks_and_the_rerun_completes(spec_file, swept, tmp_path):
    out = tmp_path / "terminated"
    command = [sys.executable, "-m", "sim.cli", "sweep", str(spec_file), "--out", str(out),
               "--workers", "2"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not list((out / CHUNK_DIR).glob("p*.parquet")):
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline
        time.sleep(0.005)
    workers = psutil.Process(process.pid).children(recursive=True)
    os.kill(process.pid, signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "terminated: finished chunks are kept" in stderr.decode()
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive
    kept = len(list((out / CHUNK_DIR).glob("p*.parquet")))
    assert 0 < kept < CHUNKS

    result = runner.invoke(app, ["sweep", str(spec_file), "--out", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert f"{CHUNKS - kept} chunks" in result.stdout and f"{kept} were already done" in \
        result.stdout
    pd.testing.assert_frame_equal(load_sweep(out).deals, load_sweep(swept).deals)


def test_report_writes_html_with_plots_and_csvs(swept, tmp_path):
    out = tmp_path / "report"
    result = runner.invoke(app, ["report", str(swept), "--out", str(out),
                                 "--satisfice", "purchase_ease=0.25", "--satisfice", "regret=0.2"])
    assert result.exit_code == 0, result.output
    page = (out / "index.html").read_text()
    # one line-plot figure per swept parameter, heatmaps for the pair (3 metrics), robustness
    assert page.count("data:image/png;base64,") == 2 + 3 + 1
    assert "Robustness across the swept conditions" in page
    robust = pd.read_csv(out / "robustness.csv")
    assert len(robust) == 3 * 5  # strategies x outcomes (all have a direction)
    assert (robust["max_regret"] >= 0).all()
    # A satisficing share for each strategy and thresholded metric that has a mean somewhere
    # (regret has none for a strategy that never bought at any point).
    thresholded = robust[robust["metric"].isin(["purchase_ease", "regret"])]
    assert robust["satisficing"].notna().sum() == (thresholded["points"] > 0).sum() >= 3 + 1
    assert robust.groupby("metric")["max_regret"].min().eq(0).any()
    assert "Best strategy per point" in page and "<script" not in page
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 4 * 3 * 5  # points x strategies x outcomes
    assert {"group_size", "information_volume", "mean", "ci_low", "ci_high", "n"} <= \
        set(summary.columns)
    best = pd.read_csv(out / "best.csv")
    assert len(best) == 4 * 5
    assert set(best["best"]) <= {"seller_led", "digital_first", "sense_making"}
    wins = pd.read_csv(out / "wins.csv")
    assert wins.groupby("metric")["points"].sum().eq(4).all()


def test_sensitivity_command_writes_indices(tmp_path):
    spec = tmp_path / "sens.toml"
    spec.write_text(SENSITIVITY)
    out = tmp_path / "sens"
    result = runner.invoke(app, ["sensitivity", str(spec), "--out", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    indices = pd.read_csv(out / "sensitivity" / "indices.csv")
    # targets: 2 strategies + the contrast; 2 outcomes; 2 parameters
    assert len(indices) == 3 * 2 * 2
    assert set(indices["target"]) == {"seller_led", "sense_making", "sense_making - seller_led"}
    assert (indices["mu_star"] >= 0).all() and indices["mu_star"].gt(0).any()
    assert "most influential" in result.stdout
    assert (out / "sensitivity" / "index.html").read_text().count("data:image/png") == 3
    assert len(load_sweep(out).experiments) == 2 * (2 + 1)  # Morris: N (D + 1) points


HOSTILE = "<img src=x onerror=alert(1)>"


def test_report_escapes_every_user_string(tmp_path):
    """Strategy, parameter, spec, description and scenario names reach the page as text."""
    folder = tmp_path / "a[" / "x] <b>dir</b>"  # the path holds "[/x]"
    folder.mkdir(parents=True)
    (folder / "odd.toml").write_text(
        'extends = "baseline"\n'
        f'[strategies."{HOSTILE}"]\nmeeting_time = 2.0\n'
    )
    spec = folder / "[bogus style].toml"
    spec.write_text(
        'name = "<script>alert(2)</script>"\n'
        'description = "<i>described</i> & more"\n'
        'scenario = "odd.toml"\nseed = 1\ndeals_per_point = 256\nchunk_deals = 256\n'
        f'strategies = ["seller_led", "{HOSTILE}"]\n'
        '[overrides]\n"simulation.horizon_weeks" = 12\n'
        '[uncertainties."<u>conflict</u>"]\nfield = "conflict_level"\nvalues = [0.2, 0.8]\n'
    )
    out = folder / "out"
    result = runner.invoke(app, ["sweep", str(spec), "--out", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output  # no MarkupError from "[/x]" either
    assert "a[/x] <b>dir</b>" in result.stdout
    assert "sweep [bogus style]" in result.stderr  # the progress bar shows the name as text
    assert str(out) in result.stdout
    result = runner.invoke(app, ["report", str(out)])
    assert result.exit_code == 0, result.output
    page = (out / "report" / "index.html").read_text()
    for raw in (HOSTILE, "<script>alert(2)", "<i>described", "<u>conflict", "<b>dir"):
        assert raw not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;script&gt;alert(2)&lt;/script&gt; sweep report" in page
    assert "&lt;i&gt;described&lt;/i&gt; &amp; more" in page
    assert page.count("&lt;u&gt;conflict&lt;/u&gt;") >= 2  # heading and table header
    assert "<script" not in page and "onerror=" not in page.replace("onerror=alert(1)&gt;", "")


def test_scheduler_mistakes_are_one_line(spec_file, tmp_path):
    out = tmp_path / "o"
    line = one_line_error(runner.invoke(app, ["sweep", str(spec_file), "--out", str(out),
                                              "--scheduler", "not a url"]))
    assert "--scheduler 'not a url': not a Dask scheduler address" in line
    line = one_line_error(runner.invoke(app, ["sweep", str(spec_file), "--out", str(out),
                                              "--scheduler", "tls://h:8786",
                                              "--scheduler-security", str(tmp_path / "no.toml")]))
    assert "no.toml: no such file" in line
    assert not out.exists()  # refused before the results directory is made


def test_check_validates_without_running(spec_file, tmp_path):
    result = runner.invoke(app, ["sweep", str(spec_file), "--check"])
    assert result.exit_code == 0, result.output
    assert f"valid; 4 points x 3 strategies x 256 deals = {4 * 3 * 256:,} deals in {CHUNKS}" \
        " chunks" in result.stdout
    line = one_line_error(runner.invoke(app, ["sweep", str(spec_file)]))
    assert "--out DIR is required" in line


def test_sensitivity_on_a_damaged_store_is_one_line(tmp_path):
    spec = tmp_path / "sens.toml"
    spec.write_text(SENSITIVITY)
    out = tmp_path / "sens"
    out.mkdir()
    (out / "chunks").mkdir()
    (out / "manifest.json").write_text("{}")
    line = one_line_error(runner.invoke(app, ["sensitivity", str(spec), "--out", str(out)]))
    assert "damaged manifest" in line and f"buyingsim sensitivity SPEC --out {out} --repair" in line


def test_discover_writes_sentences_page_and_csvs(swept, tmp_path):
    results = load_sweep(swept)
    summary = results.summary(["no_decision"])
    cut = float(summary["mean"].median())  # about half the point-strategy rows qualify
    out = tmp_path / "discovery"
    result = runner.invoke(app, ["discover", str(swept), "--metric", "no_decision", "--above", str(cut),
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith(f"- No-decision rate is above {cut:.3g}") and lines[-1].startswith("wrote ")
    cases = pd.read_csv(out / "cases.csv")
    assert len(cases) == len(summary)  # one row per point and strategy
    expected = summary.set_index(["point", "strategy"])["mean"] > cut
    assert (cases.set_index(["point", "strategy"])["qualifies"] == expected.loc[
        list(cases.set_index(["point", "strategy"]).index)]).all()
    page = (out / "index.html").read_text()
    assert "data:image/png;base64," in page and "PRIM" in page
    for name in ("prim_trajectory.csv", "prim_boxes.csv", "cart_boxes.csv", "feature_scores.csv"):
        assert (out / name).exists()


def test_discover_mistakes_are_one_line(swept, tmp_path):
    cases = [
        (["discover", str(tmp_path), "--metric", "regret", "--above", "0.1"],
         "not a sweep results directory"),
        (["discover", str(swept), "--contrast", "sense_making,magic", "--metric", "purchase_ease"],
         "--contrast: unknown strategy 'magic'; allowed: seller_led, digital_first, sense_making"),
        (["discover", str(swept), "--contrast", "sense_making", "--metric", "purchase_ease"],
         "--contrast 'sense_making': give two strategies as A,B"),
        (["discover", str(swept), "--contrast", "sense_making,seller_led", "--metric", "purchase_ease",
          "--threshold", "0.1", "--clear"], "--threshold and --clear exclude each other"),
        (["discover", str(swept), "--metric", "purchase_ease", "--above", "5"],
         "no swept point qualifies (purchase ease is above 5) among 12 points; the highest value is"),
        (["discover", str(swept), "--metric", "loyalty", "--above", "5"], "--metric 'loyalty': unknown"),
    ]
    for arguments, message in cases:
        line = one_line_error(runner.invoke(app, arguments))
        assert message in line, line


def test_report_opens_with_findings_that_agree_with_its_tables(swept, tmp_path):
    out = tmp_path / "report"
    result = runner.invoke(app, ["report", str(swept), "--out", str(out),
                                 "--metrics", "purchase_ease,regret"])
    assert result.exit_code == 0, result.output
    page = (out / "index.html").read_text()
    assert page.index("<h2>Findings</h2>") < page.index("<h2>Points won") < page.index("<h2>Robustness")
    found = pd.read_csv(out / "findings.csv")
    wins = pd.read_csv(out / "wins.csv")
    assert list(found["topic"].unique()) == ["best", "where", "effect", "robustness"]
    for metric, text in found.query("topic == 'best'")[["metric", "finding"]].itertuples(index=False):
        part = wins[wins["metric"] == metric]
        order = ["seller_led", "digital_first", "sense_making"]  # ties go to the earlier strategy
        tied = part[part["points"] == part["points"].max()]
        leader = tied.loc[tied["strategy"].map(order.index).idxmin()]
        assert f"{leader['strategy'].replace('_', '-')} is best at" in text
        assert f" {leader['points']} " in text or f"all {leader['points']} points" in text
    robust = pd.read_csv(out / "robustness.csv")
    for metric, text in found.query("topic == 'robustness'")[["metric", "finding"]].itertuples(index=False):
        part = robust[robust["metric"] == metric]  # ties in regret go to the better mean
        better_mean = -DIRECTION[metric] * part["mean"]
        top = part.assign(better=better_mean).sort_values(["max_regret", "better"], kind="stable").iloc[0]
        assert f": {top['strategy'].replace('_', '-')} (maximum regret {top['max_regret']:.3f}" in text
