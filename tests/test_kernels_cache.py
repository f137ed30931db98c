"""Compilation stays out of the user's way: cached kernels, one notice, fast later starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sim import engine
from sim.engine import COMPILING_NOTICE, Cohort, block_plan, kernels_cached, warm_up

ROOT = Path(__file__).resolve().parent.parent


def test_warm_up_leaves_every_kernel_in_the_disk_cache():
    assert warm_up() >= 0
    assert kernels_cached()


def test_the_compiling_notice_is_printed_once_and_only_when_compiling(baseline, monkeypatch, capsys):
    monkeypatch.setattr(engine, "_compile_checked", False)
    monkeypatch.setattr(engine, "kernels_cached", lambda: False)
    Cohort(baseline, 0, block_plan(3))
    Cohort(baseline, 1, block_plan(3))
    assert capsys.readouterr().err.count(COMPILING_NOTICE) == 1
    monkeypatch.setattr(engine, "_compile_checked", False)
    monkeypatch.setattr(engine, "kernels_cached", lambda: True)
    Cohort(baseline, 0, block_plan(3))
    assert COMPILING_NOTICE not in capsys.readouterr().err


@pytest.mark.slow
def test_a_later_process_loads_the_kernels_without_compiling():
    warm_up()
    script = (
        "import time; started = time.perf_counter(); import sim; from sim.engine import warm_up; "
        "warm_up(); print(time.perf_counter() - started)"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=True)
    assert COMPILING_NOTICE not in done.stderr
    assert float(done.stdout) < 10  # about 1 s on a quiet machine (README, Performance)
