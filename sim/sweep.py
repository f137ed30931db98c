"""The former home of the sweep code, now in :mod:`sim.explore` (spec, design, chunks, store,
executors, runner). These names stay importable from here for code written against it."""

from sim.explore.chunks import META_CHUNK, ChunkResult, compute_chunk, model_fingerprint
from sim.explore.design import ChunkTask, load_sweep_plan, load_sweep_spec, parse_sweep_spec, plan_sweep
from sim.explore.runner import run_sweep
from sim.explore.spec import OUTCOME_COLUMNS, RESERVED_NAMES, SweepError, SweepSpec
from sim.explore.store import CHUNK_DIR, JOURNAL_NAME, MANIFEST_NAME, SweepResults, load_sweep

__all__ = [
    "CHUNK_DIR",
    "JOURNAL_NAME",
    "MANIFEST_NAME",
    "META_CHUNK",
    "OUTCOME_COLUMNS",
    "RESERVED_NAMES",
    "ChunkResult",
    "ChunkTask",
    "SweepError",
    "SweepResults",
    "SweepSpec",
    "compute_chunk",
    "load_sweep",
    "load_sweep_plan",
    "load_sweep_spec",
    "model_fingerprint",
    "parse_sweep_spec",
    "plan_sweep",
    "run_sweep",
]
