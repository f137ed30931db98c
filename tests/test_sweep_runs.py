"""Sweep execution and the results store: the same deal rows on every execution path
(1 worker, 2 workers, a Dask LocalCluster, a run killed with SIGKILL and resumed), resume
without recomputation, refusal of a different spec, crash reporting and store integrity."""

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

from sim.explore.chunks import compute_chunk
from sim.explore.design import ChunkResult, ChunkTask, load_sweep_spec, plan_sweep
from sim.explore.runner import run_sweep
from sim.explore.spec import SweepError, SweepWarning
from sim.explore.store import CHUNK_DIR, MANIFEST_NAME, TEMP_PREFIX, SweepStore, load_sweep

# 4 points x 2 strategies x 300 deals; chunks of 256 deals (the last one partial): 16 chunks.
SPEC = """
name = "small"
scenario = "baseline"
seed = 11
deals_per_point = 300
chunk_deals = 256
strategies = ["seller_led", "sense_making"]

[overrides]
"simulation.horizon_weeks" = 20

[uncertainties.group_size]
values = [4, 8]

[uncertainties.conflict_level]
low = 0.2
high = 0.8
levels = 2
"""
TOTAL_CHUNKS = 16


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("spec") / "small.toml"
    path.write_text(SPEC)
    return path


@pytest.fixture(scope="module")
def reference(spec_file: Path, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """A clean run in this process (one worker)."""
    out = tmp_path_factory.mktemp("reference") / "results"
    run = run_sweep(spec_file, out, workers=1)
    assert run.chunks_computed == TOTAL_CHUNKS
    return load_sweep(out).deals


def chunk_files(out: Path) -> list[Path]:
    return sorted((out / CHUNK_DIR).glob("p*.parquet"))


def test_reference_has_every_deal_once_with_common_random_numbers(reference: pd.DataFrame):
    assert len(reference) == 4 * 2 * 300
    assert not reference.duplicated(["point", "strategy", "deal"]).any()
    assert set(reference.groupby(["point", "strategy"]).size()) == {300}
    # Both strategies meet the same customers at each point (common random numbers).
    by_strategy = {name: part.set_index(["point", "deal"]) for name, part in
                   reference.groupby("strategy")}
    customer = ["group_size", "conflict_level", "information_volume"]
    pd.testing.assert_frame_equal(by_strategy["seller_led"][customer],
                                  by_strategy["sense_making"][customer])
    # ...and the strategies do change outcomes.
    assert not by_strategy["seller_led"]["purchase_ease"].equals(
        by_strategy["sense_making"]["purchase_ease"])
    assert set(reference["group_size"]) == {4, 8}


def test_two_worker_processes_give_identical_rows(spec_file, reference, tmp_path):
    run = run_sweep(spec_file, tmp_path / "two", workers=2)
    assert run.workers == 2 and run.chunks_computed == TOTAL_CHUNKS
    pd.testing.assert_frame_equal(load_sweep(tmp_path / "two").deals, reference)


def test_dask_local_cluster_gives_identical_rows(spec_file, reference, tmp_path):
    run = run_sweep(spec_file, tmp_path / "dask", workers=2, dask_local=True)
    assert run.workers == 2 and run.chunks_computed == TOTAL_CHUNKS
    pd.testing.assert_frame_equal(load_sweep(tmp_path / "dask").deals, reference)


def test_runner_killed_with_sigkill_resumes_to_identical_rows(spec_file, reference, tmp_path):
    out = tmp_path / "killed"
    script = (f"from sim.explore.runner import run_sweep; "
              f"run_sweep({str(spec_file)!r}, {str(out)!r}, workers=2)")
    runner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not chunk_files(out):  # wait for the first finished chunk, then kill at once
        assert runner.poll() is None, runner.stderr.read().decode()
        assert time.monotonic() < deadline, "no chunk was written in time"
        time.sleep(0.005)
    workers = psutil.Process(runner.pid).children(recursive=True)
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait()
    runner.stderr.close()
    done_at_kill = len(chunk_files(out))
    assert 0 < done_at_kill < TOTAL_CHUNKS
    # Orphaned workers notice their runner died and exit.
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive

    resumed = run_sweep(spec_file, out, workers=1)
    assert resumed.chunks_resumed >= done_at_kill
    assert resumed.chunks_computed == TOTAL_CHUNKS - resumed.chunks_resumed > 0
    assert not list((out / CHUNK_DIR).glob(f"{TEMP_PREFIX}*"))
    pd.testing.assert_frame_equal(load_sweep(out).deals, reference)


def test_rerun_resumes_without_recomputing_and_repairs_damaged_chunks(spec_file, reference,
                                                                     tmp_path):
    out = tmp_path / "resume"
    run_sweep(spec_file, out, workers=1)
    files = chunk_files(out)
    stamps = {path: path.stat().st_mtime_ns for path in files}
    again = run_sweep(spec_file, out, workers=1)
    assert (again.chunks_computed, again.chunks_resumed) == (0, TOTAL_CHUNKS)
    assert {path: path.stat().st_mtime_ns for path in files} == stamps

    damaged, missing = files[3], files[10]
    damaged.write_bytes(damaged.read_bytes()[:100])  # e.g. a disk that lost the tail
    missing.unlink()
    (out / CHUNK_DIR / f"{TEMP_PREFIX}left-behind.parquet").write_bytes(b"partial")
    with pytest.warns(SweepWarning, match=f"{damaged.name}: its content differs from the SHA-256"):
        repaired = run_sweep(spec_file, out, workers=1)
    assert repaired.chunks_computed == 2
    assert not list((out / CHUNK_DIR).glob(f"{TEMP_PREFIX}*"))
    pd.testing.assert_frame_equal(load_sweep(out).deals, reference)


def test_a_different_spec_on_the_same_directory_is_refused(spec_file, tmp_path):
    out = tmp_path / "refuse"
    run_sweep(spec_file, out, workers=1)
    manifest = (out / MANIFEST_NAME).read_bytes()
    other = tmp_path / "other.toml"
    other.write_text(SPEC.replace("deals_per_point = 300", "deals_per_point = 512"))
    with pytest.raises(SweepError, match=r"different spec .*deals_per_point.*new --out"):
        run_sweep(other, out, workers=1)
    assert (out / MANIFEST_NAME).read_bytes() == manifest
    assert len(chunk_files(out)) == TOTAL_CHUNKS
    # A description is documentation: changing it is not a different sweep.
    described = tmp_path / "described.toml"
    described.write_text(SPEC.replace('name = "small"', 'name = "small"\ndescription = "x"'))
    assert run_sweep(described, out, workers=1).chunks_computed == 0


def test_directory_in_use_or_foreign_is_refused(spec_file, tmp_path):
    out = tmp_path / "busy"
    plan = plan_sweep(load_sweep_spec(spec_file))
    with SweepStore.open_for_run(out, plan), pytest.raises(SweepError, match="another run"):
        run_sweep(spec_file, out, workers=1)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(SweepError, match="not a sweep results directory"):
        run_sweep(spec_file, foreign, workers=1)


def die_at_point_2(task: ChunkTask) -> ChunkResult:
    """A worker that crashes hard (no Python exception) on point 2."""
    if task.point == 2:
        os._exit(3)
    return compute_chunk(task)


def fail_at_point_1(task: ChunkTask) -> ChunkResult:
    if task.point == 1:
        raise FloatingPointError("diverged")
    return compute_chunk(task)


def test_a_crashing_worker_names_its_point_and_leaves_a_resumable_store(spec_file, reference,
                                                                        tmp_path):
    out = tmp_path / "crash"
    with pytest.raises(SweepError, match=r"point 2 \(group_size=8, conflict_level=0.2\), "
                       r"strategy \w+, deals \d+-\d+ failed: the worker process died "
                       r"\(exit code 3\)"):
        run_sweep(spec_file, out, workers=2, compute=die_at_point_2)
    results = load_sweep(out)
    assert not results.complete
    assert 0 < len(results.deals) < len(reference)
    assert set(results.deals["point"]) <= {0, 1, 2}
    failed = [c for c in results.manifest["chunks"].values() if c["status"] == "failed"]
    assert failed and all(c["point"] == 2 for c in failed)
    run_sweep(spec_file, out, workers=2)
    pd.testing.assert_frame_equal(load_sweep(out).deals, reference)


def test_an_exception_in_a_chunk_names_its_point(spec_file, tmp_path):
    with pytest.raises(SweepError, match=r"point 1 \(group_size=4, conflict_level=0.8\).*"
                       "FloatingPointError: diverged.*rerun the same command to resume"):
        run_sweep(spec_file, tmp_path / "raise", workers=1, compute=fail_at_point_1)


def test_load_sweep_returns_experiments_and_selected_columns(spec_file, reference, tmp_path):
    out = tmp_path / "load"
    run_sweep(spec_file, out, workers=1)
    results = load_sweep(out, columns=["purchase_ease", "purchased"])
    assert list(results.deals.columns) == ["point", "strategy", "deal", "purchase_ease",
                                           "purchased"]
    assert results.complete and results.parameters == ["group_size", "conflict_level"]
    assert list(results.experiments.columns) == ["point", "seed", "group_size", "conflict_level"]
    assert results.experiments[["group_size", "conflict_level"]].values.tolist() == [
        [4, 0.2], [4, 0.8], [8, 0.2], [8, 0.8]]
    pd.testing.assert_series_equal(results.deals["purchase_ease"], reference["purchase_ease"])
    manifest = results.manifest
    assert manifest["package_version"] and len(manifest["spec_hash"]) == 64
    assert [p["seed"] for p in manifest["points"]] == list(results.experiments["seed"])
    assert {c["status"] for c in manifest["chunks"].values()} == {"done"}


def test_changed_model_code_is_refused_on_resume_and_on_workers(spec_file, tmp_path,
                                                                 monkeypatch):
    out = tmp_path / "model"
    run_sweep(spec_file, out, workers=1)
    monkeypatch.setattr("sim.explore.store.model_fingerprint", lambda: "edited-model")
    with pytest.raises(SweepError, match="model code changed"):
        run_sweep(spec_file, out, workers=1)
    monkeypatch.undo()
    with pytest.raises(SweepError, match=r"point 0 .*worker runs different model code"):
        run_sweep(spec_file, tmp_path / "mixed", workers=1, compute=stale_worker)


def stale_worker(task: ChunkTask) -> ChunkResult:
    """A worker with another version of the model installed."""
    result = compute_chunk(task)
    return ChunkResult(result.key, result.payload, result.rows, result.seconds, "old-model")


def test_a_run_starting_at_the_same_instant_is_told_the_directory_is_in_use(spec_file, tmp_path):
    """The other run has just created the directory and taken its lock, but written no
    manifest yet: the lock, not the contents, decides."""
    import fcntl

    out = tmp_path / "race"
    (out / CHUNK_DIR).mkdir(parents=True)
    with open(out / ".lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("4242")
        held.flush()
        with pytest.raises(SweepError, match=r"another run \(pid 4242\) is writing"):
            run_sweep(spec_file, out, workers=1)
    # Once the lock is free, the leftovers of a run that never finished a chunk are no obstacle.
    plan = plan_sweep(load_sweep_spec(spec_file))
    with SweepStore.open_for_run(out, plan) as store:
        assert store.done_keys() == set()
    assert (out / MANIFEST_NAME).exists()


def test_two_runs_started_together_never_mistake_the_directory(spec_file, reference, tmp_path):
    import threading

    out = tmp_path / "together"
    start = threading.Barrier(2)
    outcomes: list[object] = [None, None]

    def run(index: int) -> None:
        start.wait()
        try:
            outcomes[index] = run_sweep(spec_file, out, workers=1)
        except SweepError as error:
            outcomes[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    errors = [str(o) for o in outcomes if isinstance(o, SweepError)]
    assert len(errors) <= 1 and all("another run" in e and "is writing" in e for e in errors), errors
    pd.testing.assert_frame_equal(load_sweep(out).deals, reference)
