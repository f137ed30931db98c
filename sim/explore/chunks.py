"""One chunk of a sweep: computing its rows on a worker, stamping the Parquet file with the
chunk, the spec hash and the model fingerprint, and checking a file against its place in the
sweep.
"""

from __future__ import annotations

import functools
import hashlib
import time
from typing import Any

import numpy as np
import pandas as pd

from sim.engine import iter_chunks
from sim.explore.design import ChunkResult, ChunkSlot, ChunkTask
from sim.explore.sourcegraph import model_files, module_name
from sim.outcomes import COLUMNS

# Keys of the Parquet metadata that tie a chunk file to its chunk, sweep and model code.
META_CHUNK, META_SPEC, META_MODEL = "buyingsim.chunk", "buyingsim.spec_hash", "buyingsim.model"


def compute_chunk(task: ChunkTask) -> ChunkResult:
    """Simulate one chunk and encode its rows as Parquet (on the worker, so encoding runs in
    parallel and only compact bytes travel back)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    started = time.perf_counter()
    frames = list(
        iter_chunks(
            task.scenario,
            task.n_deals,
            task.seed,
            task.strategy,
            chunk_size=task.n_deals,
            first_deal=task.first_deal,
        )
    )
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    frame.insert(0, "point", np.int64(task.point))
    table = pa.Table.from_pandas(frame, preserve_index=False)
    stamp = {META_CHUNK: task.key, META_SPEC: task.spec_hash, META_MODEL: model_fingerprint()}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **stamp})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", write_page_checksum=True)
    return ChunkResult(
        task.key, sink.getvalue().to_pybytes(), len(frame), time.perf_counter() - started, model_fingerprint()
    )


@functools.cache
def model_fingerprint() -> str:
    """A hash of the model's source files: the engine and every module it imports (see
    :func:`sim.explore.sourcegraph.model_files`). The package version alone does not change
    with every edit of the dynamics; this does, so a resume, or a cluster worker, running
    different model code is caught instead of silently mixing results."""
    digest = hashlib.sha256()
    for path in model_files():
        digest.update(module_name(path).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _package_version() -> str:
    import sim

    return getattr(sim, "__version__", "unknown")


CHUNK_COLUMNS = ("point", *COLUMNS)


_ID_COLUMNS = ["point", "strategy", "deal"]


def sha256_of(data: bytes) -> str:
    """The content hash recorded for every chunk file."""
    return hashlib.sha256(data).hexdigest()


def _stamp(parquet: Any) -> dict[str, str]:
    """The buyingsim keys of a chunk file's Parquet metadata."""
    metadata = parquet.schema_arrow.metadata or {}
    return {
        key.decode("utf-8", "replace"): value.decode("utf-8", "replace")
        for key, value in metadata.items()
        if key.startswith(b"buyingsim.")
    }


def chunk_stamp(data: bytes) -> dict[str, str] | None:
    """The chunk, spec hash and model fingerprint a chunk file says it holds (None when the
    bytes are not readable Parquet)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return _stamp(pq.ParquetFile(pa.BufferReader(data)))
    except (pa.ArrowException, OSError, ValueError):
        return None


def rows_problem(table: Any, slot: ChunkSlot) -> str | None:
    """Why a table's rows are not exactly the chunk's (None when they are): the slot's point
    and strategy on every row, and deals first..first+n-1 in order."""
    if table.num_rows != slot.n_deals:
        return f"holds {table.num_rows} rows, expected {slot.n_deals}"
    try:
        point = table.column("point").to_numpy()
        strategy = table.column("strategy").to_pylist()
        deal = table.column("deal").to_numpy()
    except (KeyError, ValueError) as error:
        return f"lacks the point, strategy or deal column ({error})"
    if not (point == slot.point).all():
        return f"holds rows of another point (expected point {slot.point})"
    if any(name != slot.strategy for name in strategy):
        return f"holds rows of another strategy (expected {slot.strategy!r})"
    if not np.array_equal(deal, np.arange(slot.first_deal, slot.first_deal + slot.n_deals)):
        return f"holds other deals (expected deals {slot.first_deal}-{slot.first_deal + slot.n_deals - 1})"
    return None


def chunk_problem(
    data: bytes, slot: ChunkSlot, spec_hash: str | None = None, model: str | None = None, full: bool = False
) -> str | None:
    """Why bytes are not a valid file of the chunk ``slot`` (None when they are): readable
    Parquet with the engine's columns, metadata naming this chunk (and, when given, this spec
    hash and model fingerprint), and exactly the chunk's rows. ``full`` reads every value with
    Parquet's page checksums verified (for ``--repair``, where no content hash is recorded)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(pa.BufferReader(data), page_checksum_verification=full)
        stamp = _stamp(parquet)
        names = set(parquet.schema_arrow.names)
        table = parquet.read() if full else parquet.read(columns=_ID_COLUMNS)
    except (pa.ArrowException, OSError, ValueError) as error:
        return f"is not a readable Parquet chunk ({str(error).splitlines()[0][:200]})"
    if names != set(CHUNK_COLUMNS):
        return "does not have the engine's columns"
    if stamp.get(META_CHUNK) != slot.key:
        return f"is labelled as chunk {stamp.get(META_CHUNK)!r}, not {slot.key}"
    if spec_hash is not None and stamp.get(META_SPEC) != spec_hash:
        return "was computed for another sweep spec"
    if model is not None and stamp.get(META_MODEL) != model:
        return "was computed by different model code"
    return rows_problem(table, slot)

