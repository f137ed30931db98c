"""A wheel built from the project works outside the checkout: the bundled scenarios ship inside
the package, so ``buyingsim run baseline`` runs from any folder."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from sim.results import HEADLINE, METRICS
from sim.scenario import NOT_SCENARIOS, load_scenario

REPO = Path(__file__).resolve().parent.parent
# What the wheel is built from: the build reads nothing else.
SOURCES = ("pyproject.toml", "README.md", "MANIFEST.in", "sim", "workshop", "dashboards", "scenarios")
# Run inside the installed copy: where sim comes from and what it finds there.
PROBE = """
import json, sim
from sim.scenario import SCENARIO_DIR, bundled_scenarios
scenario = sim.load_scenario("baseline")
print(json.dumps({
    "sim_file": sim.__file__,
    "scenario_dir": str(SCENARIO_DIR),
    "bundled": [path.stem for path in bundled_scenarios()],
    "baseline": scenario.name,
    "baseline_here": sim.load_scenario(SCENARIO_DIR / "baseline.toml").name,
}))
"""


def backend_in_venv() -> bool:
    """The build backend the project asks for is installed here (so no download is needed)."""
    try:
        major = int(metadata.version("setuptools").split(".")[0])
    except metadata.PackageNotFoundError:
        return False
    return major >= 77 and importlib.util.find_spec("wheel") is not None


def build_and_install(tmp: Path) -> Path:
    """Build a wheel from a copy of the sources and install it (no dependencies) in tmp/site."""
    source = tmp / "source"
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif (REPO / name).exists():
            source.mkdir(exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    # Without the backend in this environment pip fetches it from its configured package index.
    isolation = ["--no-build-isolation"] if backend_in_venv() else []
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", *isolation, "-w", str(tmp / "dist"), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheels = sorted((tmp / "dist").glob("buying_group_sim-*.whl"))
    assert len(wheels) == 1, wheels
    site = tmp / "site"
    subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(site), str(wheels[0])],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return site


@pytest.mark.slow
def test_installed_wheel_runs_the_bundled_baseline_from_another_folder(tmp_path: Path) -> None:
    site = build_and_install(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # The installed copy comes first; dependencies still come from this environment.
    env = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "200"}
    env.pop("PYTHONHOME", None)

    probe = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120
    )
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout.strip().splitlines()[-1])
    assert Path(found["sim_file"]).is_relative_to(site), found["sim_file"]
    assert Path(found["scenario_dir"]) == site / "sim" / "scenarios"
    expected = sorted(
        path.stem for path in (REPO / "scenarios").glob("*.toml") if path.name not in NOT_SCENARIOS
    )
    assert "baseline" in expected
    assert found["baseline"] == found["baseline_here"] == load_scenario("baseline").name
    assert found["bundled"] == expected
    assert not {Path(name).stem for name in NOT_SCENARIOS} & set(found["bundled"])

    # Every non-Python file the packages read at run time is in the installed copy.
    packaged = site / "sim" / "scenarios"
    for path in (REPO / "scenarios").rglob("*.toml"):
        relative = path.relative_to(REPO / "scenarios")
        assert (packaged / relative).read_bytes() == path.read_bytes(), relative
    assert (site / "sim" / "py.typed").exists()
    for template in (REPO / "workshop" / "templates").glob("*.j2"):
        assert (site / "workshop" / "templates" / template.name).exists(), template.name
    for package in ("sim/explore", "dashboards", "workshop"):
        assert {path.name for path in (REPO / package).glob("*.py")} <= {
            path.name for path in (site / package).glob("*.py")
        }, package

    # The console script the wheel installs, as a user types it.
    run = subprocess.run(
        [str(site / "bin" / "buyingsim"), "run", "baseline", "--deals", "200", "--seed", "1"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    for name in HEADLINE:
        assert METRICS[name][0] in run.stdout, name
    assert "Traceback" not in run.stdout + run.stderr
