"""Integrity of the results store: damaged, swapped or forged chunks and damaged manifests are
detected, then recomputed (resume) or refused with a one-line message saying how to repair,
and the repaired store reports exactly what a clean run reports."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from sim.analysis import point_summary
from sim.cli import app
from sim.sweep import (
    CHUNK_DIR,
    JOURNAL_NAME,
    MANIFEST_NAME,
    META_CHUNK,
    ChunkResult,
    ChunkTask,
    SweepError,
    compute_chunk,
    load_sweep,
    parse_sweep_spec,
    plan_sweep,
    run_sweep,
)

# 2 points x 2 strategies x 512 deals in chunks of 256: 8 chunks.
SPEC = """
name = "integrity"
scenario = "baseline"
seed = 3
deals_per_point = 512
chunk_deals = 256
strategies = ["seller_led", "sense_making"]

[overrides]
"simulation.horizon_weeks" = 12

[uncertainties.conflict_level]
values = [0.3, 0.7]
"""
CHUNKS = 8
runner = CliRunner()


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("spec") / "integrity.toml"
    path.write_text(SPEC)
    return path


@pytest.fixture(scope="module")
def clean(spec_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean run, computed in this test session (the model code may change between
    sessions, so no figure is hard-coded)."""
    out = tmp_path_factory.mktemp("clean") / "results"
    assert run_sweep(spec_file, out, workers=1).chunks_computed == CHUNKS
    return out


@pytest.fixture
def store(clean: Path, tmp_path: Path) -> Path:
    """A copy of the clean store to damage."""
    copy = tmp_path / "store"
    shutil.copytree(clean, copy)
    return copy


def chunk(store: Path, index: int) -> Path:
    return sorted((store / CHUNK_DIR).glob("p*.parquet"))[index]


def assert_same_results(store: Path, clean: Path) -> None:
    repaired, reference = load_sweep(store), load_sweep(clean)
    assert repaired.complete
    pd.testing.assert_frame_equal(repaired.deals, reference.deals)
    pd.testing.assert_frame_equal(point_summary(repaired), point_summary(reference))


def one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def resume(spec_file: Path, store: Path) -> tuple[int, list[str]]:
    """Resume the run; the chunks it computed and the warnings it gave."""
    warnings: list[str] = []
    run = run_sweep(spec_file, store, workers=1, warn=warnings.append)
    return run.chunks_computed, warnings


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_flipped_byte_is_refused_on_load_and_recomputed_on_resume(spec_file, clean, store):
    damaged = chunk(store, 5)
    flip_byte(damaged)
    with pytest.raises(SweepError, match=rf"{damaged.name}: damaged chunk \(its content differs from "
                       rf"the SHA-256 .*resume the run to recompute it: buyingsim sweep .* --out"):
        load_sweep(store)
    line = one_line_error(runner.invoke(app, ["report", str(store)]))
    assert damaged.name in line and "damaged chunk" in line
    computed, warnings = resume(spec_file, store)
    assert computed == 1
    assert len(warnings) == 1 and damaged.name in warnings[0] and "recomputing" in warnings[0]
    assert_same_results(store, clean)
    result = runner.invoke(app, ["report", str(store), "--out", str(store / "report")])
    assert result.exit_code == 0, result.output
    clean_report = runner.invoke(app, ["report", str(clean), "--out", str(store / "clean-report")])
    assert clean_report.exit_code == 0
    for name in ("summary.csv", "best.csv", "wins.csv", "experiments.csv"):
        assert (store / "report" / name).read_text() == (store / "clean-report" / name).read_text()


def test_a_chunk_copied_over_another_is_refused_and_recomputed(spec_file, clean, store):
    source, target = chunk(store, 0), chunk(store, 3)
    shutil.copyfile(source, target)
    with pytest.raises(SweepError, match=f"{target.name}: damaged chunk"):
        load_sweep(store)
    computed, warnings = resume(spec_file, store)
    assert computed == 1 and target.name in warnings[0]
    results = load_sweep(store)
    assert not results.deals.duplicated(["point", "strategy", "deal"]).any()
    assert_same_results(store, clean)


def test_swapped_manifest_records_do_not_pass_for_each_other(spec_file, clean, store):
    """Swap two chunk files and their recorded hashes: the rows still betray them."""
    first, second = chunk(store, 1), chunk(store, 2)
    a, b = first.read_bytes(), second.read_bytes()
    first.write_bytes(b)
    second.write_bytes(a)
    manifest = json.loads((store / MANIFEST_NAME).read_text())
    entries = manifest["chunks"]
    entries[first.stem]["sha256"], entries[second.stem]["sha256"] = (
        entries[second.stem]["sha256"], entries[first.stem]["sha256"])
    (store / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(SweepError, match=r"damaged chunk \(holds rows of another"):
        load_sweep(store)


def other_chunk(task: ChunkTask) -> ChunkTask:
    """The task of the same deals under the other strategy."""
    tasks = plan_sweep(parse_sweep_spec(tomllib.loads(SPEC))).tasks()
    return next(t for t in tasks if t.point == task.point and t.first_deal == task.first_deal
                and t.strategy != task.strategy)


def forged_rows(task: ChunkTask) -> ChunkResult:
    """A worker that answers with another chunk's result."""
    if task.point == 1:
        return compute_chunk(other_chunk(task))
    return compute_chunk(task)


def relabelled_rows(task: ChunkTask) -> ChunkResult:
    """A worker that answers with another chunk's rows labelled as this chunk."""
    result = compute_chunk(task)
    if task.point != 1:
        return result
    other = compute_chunk(other_chunk(task))
    table = pq.read_table(pa.BufferReader(other.payload))
    table = table.replace_schema_metadata({**table.schema.metadata, META_CHUNK.encode(): task.key.encode()})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return ChunkResult(task.key, sink.getvalue().to_pybytes(), other.rows, 0.0, result.model)


def misnamed_reply(task: ChunkTask) -> ChunkResult:
    """A worker whose reply names another chunk (or one that does not exist): the runner files
    the result under the task it sent."""
    result = compute_chunk(task)
    return ChunkResult("p99999-nonexistent", result.payload, result.rows, result.seconds, result.model)


@pytest.mark.parametrize("worker, problem", [
    (forged_rows, r"is labelled as chunk 'p00001-s\d-\w+-c000\d', not p00001"),
    (relabelled_rows, r"holds rows of another strategy"),
])
def test_a_forged_worker_result_is_refused_and_nothing_else_is_lost(spec_file, clean, tmp_path,
                                                                    worker, problem):
    out = tmp_path / "forged"
    with pytest.raises(SweepError, match=rf"point 1 .*failed: the worker's result {problem}"):
        run_sweep(spec_file, out, workers=1, compute=worker)
    partial = load_sweep(out)
    assert not partial.complete and set(partial.deals["point"]) == {0}
    computed, warnings = resume(spec_file, out)
    assert computed == CHUNKS // 2 and not warnings
    assert_same_results(out, clean)


def test_the_chunk_name_comes_from_the_task_not_the_reply(spec_file, clean, tmp_path):
    out = tmp_path / "misnamed"
    run = run_sweep(spec_file, out, workers=1, compute=misnamed_reply)
    assert run.chunks_computed == CHUNKS
    assert_same_results(out, clean)


def test_a_truncated_chunk_is_refused_then_recomputed(spec_file, clean, store):
    damaged = chunk(store, 6)
    damaged.write_bytes(damaged.read_bytes()[:300])
    line = one_line_error(runner.invoke(app, ["report", str(store)]))
    assert damaged.name in line and "resume the run" in line
    computed, _ = resume(spec_file, store)
    assert computed == 1
    assert_same_results(store, clean)


@pytest.mark.parametrize("damage", ["truncated", "empty object", "deleted", "wrong chunk table",
                                    "renamed parameter"])
def test_a_damaged_manifest_is_refused_everywhere_and_repair_rebuilds_it(spec_file, clean, store,
                                                                         damage):
    manifest = store / MANIFEST_NAME
    text = manifest.read_text()
    if damage == "truncated":
        manifest.write_text(text[: len(text) // 2])
    elif damage == "empty object":
        manifest.write_text("{}")
    elif damage == "deleted":
        manifest.unlink()
    elif damage == "wrong chunk table":
        data = json.loads(text)
        data["chunks"]["p00000-s0-seller_led-c0000"]["first_deal"] = 256
        manifest.write_text(json.dumps(data))
    else:
        data = json.loads(text)
        data["parameters"][0]["name"] = "point"
        manifest.write_text(json.dumps(data))
    expected = "missing" if damage == "deleted" else "damaged manifest"
    with pytest.raises(SweepError, match=rf"{expected}.*--repair"):
        load_sweep(store)
    for command in (["report", str(store)],
                    ["sweep", str(spec_file), "--out", str(store), "--workers", "1"]):
        line = one_line_error(runner.invoke(app, command))
        assert expected in line and f"--out {store} --repair" in line
    chunks_before = sorted(p.name for p in (store / CHUNK_DIR).glob("p*.parquet"))
    assert len(chunks_before) == CHUNKS  # the refusals lost nothing

    result = runner.invoke(app, ["sweep", str(spec_file), "--out", str(store), "--workers", "1",
                                 "--repair"])
    assert result.exit_code == 0, result.output
    assert f"nothing to do: all {CHUNKS} chunks" in result.stdout
    assert f"{CHUNKS} of {CHUNKS} chunk files verified and kept" in result.stderr
    assert_same_results(store, clean)


def test_repair_recomputes_chunks_that_do_not_verify(spec_file, clean, store):
    (store / MANIFEST_NAME).unlink()
    flip_byte(chunk(store, 4))
    shutil.copyfile(chunk(store, 0), chunk(store, 7))
    warnings: list[str] = []
    run = run_sweep(spec_file, store, workers=1, repair=True, warn=warnings.append)
    assert run.chunks_computed == 2 and run.chunks_resumed == CHUNKS - 2
    assert any("6 of 8 chunk files verified" in w for w in warnings)
    assert_same_results(store, clean)


def test_repair_with_another_spec_is_refused_and_deletes_nothing(spec_file, store, tmp_path):
    (store / MANIFEST_NAME).unlink()
    other = tmp_path / "other.toml"
    other.write_text(SPEC.replace("seed = 3", "seed = 4"))
    before = {p.name: p.read_bytes() for p in (store / CHUNK_DIR).iterdir()}
    with pytest.raises(SweepError, match="computed for another spec.*nothing was changed"):
        run_sweep(other, store, workers=1, repair=True)
    assert {p.name: p.read_bytes() for p in (store / CHUNK_DIR).iterdir()} == before


def test_the_journal_records_chunks_the_manifest_has_not_saved_yet(spec_file, clean, store):
    """A runner killed between manifest saves: the journal vouches for its last chunks."""
    manifest = json.loads((store / MANIFEST_NAME).read_text())
    last = chunk(store, 7).stem
    entry = manifest["chunks"][last]
    journal = {"key": last, "sha256": entry["sha256"], "rows": 256, "seconds": 0.1}
    entry.update(status="pending")
    entry.pop("sha256")
    (store / MANIFEST_NAME).write_text(json.dumps(manifest))
    (store / JOURNAL_NAME).write_text(json.dumps(journal) + "\n{\"key\": \"torn")
    assert load_sweep(store).complete
    computed, warnings = resume(spec_file, store)
    assert computed == 0 and not warnings and not (store / JOURNAL_NAME).exists()
    assert json.loads((store / MANIFEST_NAME).read_text())["chunks"][last]["status"] == "done"
    assert_same_results(store, clean)
