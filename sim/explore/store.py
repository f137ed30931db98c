"""The results store: a directory with one atomically written Parquet file per finished chunk,
a manifest (spec, hash, package version, seeds, chunk status) and a journal; rerunning
resumes, a different spec on the same directory is refused. Loading (:func:`load_sweep`)
verifies every chunk and returns :class:`SweepResults`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import (
    BaseModel,
    ValidationError,
    model_validator,
)

from sim.explore.chunks import (
    _ID_COLUMNS,
    CHUNK_COLUMNS,
    META_MODEL,
    META_SPEC,
    _package_version,
    chunk_problem,
    chunk_stamp,
    model_fingerprint,
    rows_problem,
    sha256_of,
)
from sim.explore.design import ChunkResult, ChunkTask, ParameterKind, SweepPlan, chunk_layout
from sim.explore.spec import SweepError, SweepKind, SweepSpec, SweepWarning

MANIFEST_NAME = "manifest.json"


CHUNK_DIR = "chunks"


LOCK_NAME = ".lock"


JOURNAL_NAME = "chunks.journal"


STORE_FORMAT = 2


TEMP_PREFIX = ".tmp-"


MANIFEST_SAVE_SECONDS = 2.0


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same directory, then rename over ``path``: readers and
    a later resume see either the old file or the whole new one, never a partial file."""
    temp = path.with_name(f"{TEMP_PREFIX}{path.name}.{os.getpid()}")
    with open(temp, "wb") as handle:
        handle.write(data)
    os.replace(temp, path)


class _ManifestChunk(BaseModel):
    point: int
    strategy: str
    first_deal: int
    deals: int
    status: Literal["pending", "done", "failed"]
    sha256: str | None = None


class _ManifestPoint(BaseModel):
    point: int
    seed: int
    values: dict[str, Any]


class _ManifestParameter(BaseModel):
    name: str
    field: str
    kind: ParameterKind


class _Problem(BaseModel):
    num_vars: int
    names: list[str]
    bounds: list[tuple[float, float]]


class _Design(BaseModel):
    """A sensitivity run's design (empty for a sweep)."""

    method: Literal["sobol", "morris"]
    problem: _Problem
    levels: int
    matrix: list[list[float]]


class _Manifest(BaseModel):
    """The fields of ``manifest.json`` this code relies on (others are for people)."""

    format: Literal[2]
    kind: Literal["sweep", "sensitivity"]
    spec_hash: str
    package_version: str
    model_fingerprint: str
    spec: SweepSpec
    spec_source: str | None = None
    base_scenario: dict[str, Any]
    parameters: list[_ManifestParameter]
    strategies: list[str]
    points: list[_ManifestPoint]
    design: dict[str, Any]
    chunks: dict[str, _ManifestChunk]

    @model_validator(mode="after")
    def _consistent(self) -> _Manifest:
        """Parameters, point values and the design agree with the spec (the reports index
        one by the other)."""
        names = list(self.spec.uncertainties)
        if [p.name for p in self.parameters] != names:
            raise ValueError("parameters differ from the spec's uncertainties")
        if any(list(point.values) != names for point in self.points):
            raise ValueError("point values differ from the spec's uncertainties")
        if self.kind == "sensitivity":
            try:
                design = _Design.model_validate(self.design)
            except ValidationError:
                raise ValueError("the sensitivity design is incomplete") from None
            if design.problem.names != names or len(design.matrix) != len(self.points):
                raise ValueError("the sensitivity design does not match the spec and points")
        return self


def _rerun_hint(manifest: dict[str, Any] | None, directory: Path) -> str:
    """The command that resumes the sweep stored in ``directory``."""
    kind = (manifest or {}).get("kind", "sweep")
    source = (manifest or {}).get("spec_source")
    spec = source if isinstance(source, str) and source != "<memory>" else "SPEC"
    return f"buyingsim {kind} {spec} --out {directory}"


def _repair_hint(directory: Path, kind: str = "sweep") -> str:
    return (
        f"rebuild it from the spec and the verified chunks with `buyingsim {kind} SPEC --out "
        f"{directory} --repair` (SPEC: the spec that produced it), or use a new --out directory"
    )


def read_manifest(directory: str | Path, kind: SweepKind | None = None) -> dict[str, Any]:
    """Read and check a store's manifest: its fields and types, and a chunk table that is
    exactly the layout its spec and points give. A missing or damaged manifest raises a
    one-line :class:`SweepError` saying how to rebuild it (with ``buyingsim KIND``: ``kind``,
    else the kind the manifest records, else ``sweep``)."""
    directory = Path(directory)
    path = directory / MANIFEST_NAME
    data: Any = None
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        if _chunk_files(directory / CHUNK_DIR):
            raise SweepError(f"{path}: missing; {_repair_hint(directory, kind or 'sweep')}") from None
        raise SweepError(f"{directory}: not a sweep results directory (no {MANIFEST_NAME})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        detail = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise SweepError(
            f"{path}: damaged manifest ({detail}); {_repair_hint(directory, kind or 'sweep')}"
        ) from None
    stored = data if isinstance(data, dict) else {}
    stored_kind = "sensitivity" if stored.get("kind") == "sensitivity" else "sweep"
    hint = _repair_hint(directory, kind or stored_kind)
    stored_format = stored.get("format")
    if isinstance(stored_format, int) and stored_format != STORE_FORMAT:
        raise SweepError(
            f"{directory}: written in store format {stored_format}, this version reads format "
            f"{STORE_FORMAT}; use a new --out directory"
        )
    try:
        checked = _Manifest.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(map(str, first["loc"]))
        message = str(first["msg"]).removeprefix("Value error, ").splitlines()[0][:300]
        detail = f"field {where}: {message}" if where else message
        raise SweepError(f"{path}: damaged manifest ({detail}); {hint}") from None
    spec = checked.spec
    layout = chunk_layout(
        len(checked.points), list(checked.strategies), spec.deals_per_point, spec.chunk_deals
    )
    chunks = checked.chunks
    matches = (
        [p.point for p in checked.points] == list(range(len(checked.points)))
        and checked.strategies == list(spec.strategies)
        and len(layout) == len(chunks)
        and all(
            (entry := chunks.get(slot.key)) is not None
            and (entry.point, entry.strategy, entry.first_deal, entry.deals)
            == (slot.point, slot.strategy, slot.first_deal, slot.n_deals)
            for slot in layout
        )
    )
    if not matches:
        raise SweepError(
            f"{path}: damaged manifest (its chunk table does not match its spec and points); {hint}"
        )
    return data


def _chunk_files(chunk_dir: Path) -> list[Path]:
    return sorted(chunk_dir.glob("p*.parquet")) if chunk_dir.is_dir() else []


def read_journal(directory: Path) -> dict[str, dict[str, Any]]:
    """Chunks recorded in the journal since the manifest was last saved, by key. Each line is
    written before its chunk file is renamed into place; a torn last line is ignored."""
    path = directory / JOURNAL_NAME
    entries: dict[str, dict[str, Any]] = {}
    try:
        lines = path.read_bytes().decode("utf-8", "replace").splitlines()
    except FileNotFoundError:
        return entries
    for line in lines:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if (
            isinstance(entry, dict)
            and isinstance(entry.get("key"), str)
            and isinstance(entry.get("sha256"), str)
        ):
            entries[entry["key"]] = entry
    return entries


def _fold_journal(manifest: dict[str, Any], journal: dict[str, dict[str, Any]]) -> None:
    """Mark the journal's chunks done with their recorded hashes (keys the manifest lacks are
    ignored)."""
    for key, entry in journal.items():
        chunk = manifest["chunks"].get(key)
        if chunk is not None:
            chunk.update(
                status="done", sha256=entry["sha256"], rows=entry.get("rows"), seconds=entry.get("seconds")
            )
            chunk.pop("error", None)


class SweepStore:
    """A results directory: ``manifest.json``, ``chunks/*.parquet`` (one file per chunk) and,
    while a run goes on, ``chunks.journal``.

    Every finished chunk's SHA-256 is recorded: first as a journal line written before the
    file is renamed into place, then in the manifest (saved every couple of seconds and at
    the end; the journal is folded into it whenever the store is opened). A chunk counts as
    done only when its file's content hash matches the record; anything else is recomputed.
    """

    def __init__(self, directory: str | Path, warn: Callable[[str], None] | None = None):
        self.directory = Path(directory)
        self.chunk_dir = self.directory / CHUNK_DIR
        self.manifest_path = self.directory / MANIFEST_NAME
        self.journal_path = self.directory / JOURNAL_NAME
        self.manifest: dict[str, Any] = {}
        self.warn = warn or _warn
        self._lock_handle: Any = None
        self._journal: Any = None
        self._last_save = 0.0
        self._dirty = False

    # opening -----------------------------------------------------------------------------
    @classmethod
    def open_for_run(
        cls,
        directory: str | Path,
        plan: SweepPlan,
        *,
        repair: bool = False,
        warn: Callable[[str], None] | None = None,
    ) -> SweepStore:
        """Create the store or check that it holds this very sweep; lock it for this run.
        ``repair``: rebuild a missing or damaged manifest from the plan and the chunk files
        that verify against it."""
        store = cls(directory, warn)
        store._prepare_directory()
        store._lock()
        try:
            digest = plan.spec_hash()
            stored, damage = store._stored_manifest(plan.kind)
            if stored is not None:
                store.manifest = stored
                store._check_same(plan, digest)
                _fold_journal(store.manifest, read_journal(store.directory))
                store._remove_temporaries()
                store._reconcile()
            elif damage == "absent":
                store.manifest = store._new_manifest(plan, digest)
                store._remove_temporaries()
            elif repair:
                store.manifest = store._new_manifest(plan, digest)
                store._remove_temporaries()
                store._repair(plan, digest)
            else:
                raise SweepError(damage)
            store.save(force=True)
            store.journal_path.unlink(missing_ok=True)  # folded into the saved manifest
        except BaseException:
            store.close(save=False)
            raise
        return store

    def _stored_manifest(self, kind: SweepKind) -> tuple[dict[str, Any] | None, str]:
        """The stored manifest when it reads and checks; else ``"absent"`` for a new store,
        or the refusal saying how to repair."""
        if not self.manifest_path.exists():
            if not _chunk_files(self.chunk_dir):
                return None, "absent"
            hint = _repair_hint(self.directory, kind)
            return None, f"{self.manifest_path}: missing while chunk files exist; {hint}"
        try:
            return read_manifest(self.directory, kind), ""
        except SweepError as error:
            return None, str(error)

    def _prepare_directory(self) -> None:
        """Create the directory (refusing a foreign one before touching it)."""
        if self.directory.exists() and not self.directory.is_dir():
            raise SweepError(f"{self.directory}: exists and is not a directory")
        if self.directory.is_dir():
            names = {p.name for p in self.directory.iterdir()}
            if names and not names & {LOCK_NAME, MANIFEST_NAME, CHUNK_DIR}:
                raise self._foreign()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SweepError(f"{self.directory}: cannot create the results directory ({error})") from None

    def _foreign(self) -> SweepError:
        return SweepError(
            f"{self.directory}: not empty and not a sweep results directory "
            f"(no {MANIFEST_NAME}); choose a new or empty --out directory"
        )

    def _lock(self) -> None:
        """Take the directory's lock, then (holding it) check and create its contents, so a
        second run started at the same instant is told the directory is in use."""
        try:
            handle = open(self.directory / LOCK_NAME, "a+")  # noqa: SIM115 - held until close()
        except OSError as error:
            raise SweepError(f"{self.directory}: cannot create the lock file ({error})") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            handle.close()
            raise SweepError(
                f"{self.directory}: another run (pid {holder}) is writing to this "
                "directory; wait for it or choose another --out"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_handle = handle
        try:
            if not self.manifest_path.exists():
                ours = {LOCK_NAME, JOURNAL_NAME, CHUNK_DIR}
                if any(
                    p.name not in ours and not p.name.startswith(TEMP_PREFIX)
                    for p in self.directory.iterdir()
                ):
                    raise self._foreign()
            self.chunk_dir.mkdir(exist_ok=True)
        except OSError as error:
            self.close(save=False)
            raise SweepError(f"{self.directory}: cannot create the results directory ({error})") from None
        except SweepError:
            self.close(save=False)
            raise

    def close(self, save: bool = True) -> None:
        """Save the manifest (then drop the journal it now covers) and release the lock."""
        if self._journal is not None:
            with contextlib.suppress(OSError):
                self._journal.close()
            self._journal = None
        if self._lock_handle is None:
            return
        if save and self.manifest:
            with contextlib.suppress(OSError):
                self.save(force=True)
                self.journal_path.unlink(missing_ok=True)
        fcntl.flock(self._lock_handle, fcntl.LOCK_UN)
        self._lock_handle.close()
        self._lock_handle = None

    def __enter__(self) -> SweepStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _new_manifest(self, plan: SweepPlan, digest: str) -> dict[str, Any]:
        spec = plan.spec
        source = Path(spec.source)
        chunks = {
            slot.key: {
                "point": slot.point,
                "strategy": slot.strategy,
                "first_deal": slot.first_deal,
                "deals": slot.n_deals,
                "file": f"{CHUNK_DIR}/{slot.file_name}",
                "status": "pending",
            }
            for slot in plan.slots()
        }
        spec_text = None
        if spec.source != "<memory>" and source.is_file():
            with contextlib.suppress(OSError):
                spec_text = source.read_text(encoding="utf-8", errors="replace")
        return {
            "format": STORE_FORMAT,
            "kind": plan.kind,
            "spec_hash": digest,
            "package_version": _package_version(),
            "model_fingerprint": model_fingerprint(),
            "created": _now(),
            "updated": _now(),
            "spec_source": spec.source,
            "spec_text": spec_text,
            "spec": spec.model_dump(mode="json"),
            "base_scenario": plan.base.model_dump(mode="json"),
            "parameters": [parameter.describe() for parameter in plan.parameters],
            "strategies": list(spec.strategies),
            "points": [
                {"point": index, "seed": seed, "values": values}
                for index, (values, seed) in enumerate(zip(plan.points, plan.seeds, strict=True))
            ],
            "design": plan.extra,
            "chunks": chunks,
        }

    def _check_same(self, plan: SweepPlan, digest: str) -> None:
        stored = self.manifest
        where = self.directory
        if (
            stored.get("spec_hash") == digest
            and stored.get("package_version") == _package_version()
            and stored.get("model_fingerprint") == model_fingerprint()
        ):
            return
        hint = "use a new --out directory, or delete it to start over"
        if stored.get("kind") != plan.kind:
            raise SweepError(f"{where}: holds a {stored.get('kind')} run, not a {plan.kind}; {hint}")
        if stored.get("package_version") != _package_version():
            raise SweepError(
                f"{where}: written by buying-group-sim {stored.get('package_version')}"
                f", this is {_package_version()}; results of two model versions must "
                f"not mix; {hint}"
            )
        new_spec = plan.spec.model_dump(mode="json")
        old_spec = stored.get("spec", {})
        changed = sorted(
            k
            for k in set(new_spec) | set(old_spec)
            if k != "description" and new_spec.get(k) != old_spec.get(k)
        )
        if changed:
            raise SweepError(
                f"{where}: holds results of a different spec "
                f"({stored.get('spec_source')}; fields that differ: "
                f"{', '.join(changed)}); {hint}"
            )
        if stored.get("base_scenario") != plan.base.model_dump(mode="json"):
            raise SweepError(
                f"{where}: the base scenario {plan.spec.scenario!r} changed since these "
                f"results were written (model defaults or its file); {hint}"
            )
        if stored.get("spec_hash") == digest:
            raise SweepError(
                f"{where}: the model code changed since these results were written "
                f"(fingerprint {stored.get('model_fingerprint')}, now "
                f"{model_fingerprint()}); results of two model versions must not "
                f"mix; {hint}"
            )
        raise SweepError(
            f"{where}: the spec's points or seeds differ from the stored ones "
            f"(a different sampling library version?); {hint}"
        )

    def _remove_temporaries(self) -> None:
        for temp in self.chunk_dir.glob(f"{TEMP_PREFIX}*"):
            temp.unlink(missing_ok=True)
        for temp in self.directory.glob(f"{TEMP_PREFIX}*"):
            temp.unlink(missing_ok=True)

    def _reconcile(self) -> None:
        """Chunk status from the files: done only when the file's SHA-256 matches the record.
        A damaged, swapped or unrecorded file is deleted (with a warning) and recomputed."""
        for key, chunk in self.manifest["chunks"].items():
            path = self.chunk_dir / f"{key}.parquet"
            done = False
            if path.exists():
                recorded = chunk.get("sha256") if chunk["status"] == "done" else None
                done = recorded is not None and sha256_of(path.read_bytes()) == recorded
                if not done:
                    why = (
                        "its content differs from the SHA-256 in the manifest"
                        if recorded
                        else "not recorded as done"
                    )
                    self.warn(f"{path}: {why}; recomputing it")
                    path.unlink()
            if done:
                chunk.pop("error", None)
            elif chunk["status"] == "done":
                chunk["status"] = "pending"
                chunk.pop("sha256", None)

    def _repair(self, plan: SweepPlan, digest: str) -> None:
        """Adopt every chunk file that verifies against the plan (its label, spec hash, model
        fingerprint, every page checksum and exactly its rows); delete the others. A file
        computed for another spec or model refuses the repair before anything is deleted."""
        paths = [(slot, self.chunk_dir / slot.file_name) for slot in plan.slots()]
        found = [(slot, path, path.read_bytes()) for slot, path in paths if path.exists()]
        fingerprint = model_fingerprint()
        for _slot, path, data in found:
            stamp = chunk_stamp(data)
            if stamp is not None and (stamp.get(META_SPEC), stamp.get(META_MODEL)) not in (
                (digest, fingerprint),
                (None, None),
            ):
                raise SweepError(
                    f"{path}: computed for another spec or other model code; --repair needs the "
                    f"spec that produced {self.directory} and the same model version (nothing "
                    "was changed)"
                )
        adopted = 0
        for slot, path, data in found:
            problem = chunk_problem(data, slot, digest, fingerprint, full=True)
            if problem is None:
                self.manifest["chunks"][slot.key].update(
                    status="done", sha256=sha256_of(data), rows=slot.n_deals
                )
                adopted += 1
            else:
                self.warn(f"{path}: {problem}; recomputing it")
                path.unlink()
        self.warn(
            f"{self.manifest_path}: rebuilt from the spec; {adopted} of {len(found)} chunk "
            "files verified and kept"
        )

    # writing -----------------------------------------------------------------------------
    def done_keys(self) -> set[str]:
        return {key for key, chunk in self.manifest["chunks"].items() if chunk["status"] == "done"}

    def check(self, task: ChunkTask, result: ChunkResult) -> str | None:
        """Why a worker's result for ``task`` may not be stored (None when it may): it must come
        from the same model code and hold exactly the task's chunk. The chunk's name comes
        from the task the runner sent, never from the reply."""
        fingerprint = self.manifest["model_fingerprint"]
        if result.model != fingerprint:
            return (
                f"the worker runs different model code (fingerprint {result.model}, the "
                f"runner's is {fingerprint}); install the same version everywhere"
            )
        if not isinstance(result.payload, bytes):
            return "the worker's result holds no Parquet bytes"
        problem = chunk_problem(result.payload, task.slot, task.spec_hash or None, fingerprint)
        return None if problem is None else f"the worker's result {problem}"

    def write_chunk(self, task: ChunkTask, result: ChunkResult) -> None:
        """Record the chunk's hash in the journal, then rename its file into place."""
        digest = sha256_of(result.payload)
        seconds = round(float(result.seconds), 3)
        if self._journal is None:
            self._journal = open(self.journal_path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        line = {"key": task.key, "sha256": digest, "rows": task.n_deals, "seconds": seconds}
        self._journal.write(json.dumps(line) + "\n")
        self._journal.flush()
        _write_atomic(self.chunk_dir / task.file_name, result.payload)
        chunk = self.manifest["chunks"][task.key]
        chunk.update(status="done", sha256=digest, rows=task.n_deals, seconds=seconds)
        chunk.pop("error", None)
        self._dirty = True
        self.save()

    def mark_failed(self, key: str, error: str) -> None:
        chunk = self.manifest["chunks"][key]
        chunk.update(status="failed", error=error)
        chunk.pop("sha256", None)
        self._dirty = True
        self.save(force=True)

    def save(self, force: bool = False) -> None:
        """Rewrite the manifest atomically (at most every couple of seconds unless forced)."""
        now = time.monotonic()
        if not force and (not self._dirty or now - self._last_save < MANIFEST_SAVE_SECONDS):
            return
        self.manifest["updated"] = _now()
        text = json.dumps(self.manifest, indent=1, default=str)
        _write_atomic(self.manifest_path, text.encode("utf-8"))
        self._last_save = now
        self._dirty = False


def _warn(message: str) -> None:
    warnings.warn(message, SweepWarning, stacklevel=3)


@dataclass
class SweepResults:
    """A sweep's results as pandas frames.

    ``experiments``: one row per point (``point``, ``seed`` and one column per parameter).
    ``deals``: one row per point, strategy and deal (``point`` plus the engine's columns).
    ``complete``: every chunk is done (an interrupted sweep loads what it has).
    """

    directory: Path
    manifest: dict[str, Any]
    experiments: pd.DataFrame
    deals: pd.DataFrame
    complete: bool

    @property
    def parameters(self) -> list[str]:
        return [parameter["name"] for parameter in self.manifest["parameters"]]

    @property
    def strategies(self) -> list[str]:
        return list(self.manifest["strategies"])

    @property
    def outcomes(self) -> list[str]:
        return list(self.manifest["spec"]["outcomes"])

    @property
    def name(self) -> str:
        return str(self.manifest["spec"]["name"])

    def summary(self, metrics: list[str] | None = None) -> pd.DataFrame:
        """Each metric per point and strategy with its 95% CI (see :mod:`sim.analysis`)."""
        from sim.explore.analysis import point_summary

        return point_summary(self, metrics)

    def best(self, metrics: list[str] | None = None) -> pd.DataFrame:
        """The best strategy per point and metric, with the paired difference to the runner-up."""
        from sim.explore.analysis import best_strategies

        return best_strategies(self, metrics)

    def robustness(
        self, metrics: list[str] | None = None, thresholds: dict[str, float] | None = None
    ) -> pd.DataFrame:
        """Each strategy across all points: mean, worst case, maximum (paired) regret against
        the best strategy, and satisficing shares for the metrics given thresholds."""
        from sim.explore.analysis import robustness

        return robustness(self, metrics, thresholds)


def load_sweep(directory: str | Path, columns: list[str] | None = None) -> SweepResults:
    """Load a sweep's results directory: the experiments table and the deal rows of every
    finished chunk (``columns`` limits which deal columns are read).

    Every chunk file is checked against the SHA-256 recorded for it and its rows against its
    place in the sweep; a damaged store raises a one-line :class:`SweepError` saying how to
    repair it (nothing is loaded from a chunk that does not verify).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    directory = Path(directory)
    if not directory.is_dir():
        raise SweepError(f"{directory}: no such results directory")
    manifest = read_manifest(directory)
    _fold_journal(manifest, read_journal(directory))
    if columns is not None:
        unknown = [name for name in columns if name not in CHUNK_COLUMNS]
        if unknown:
            raise SweepError(f"columns: unknown {unknown[0]!r}; allowed: {', '.join(CHUNK_COLUMNS)}")
    strategies = list(manifest["strategies"])
    experiments = pd.DataFrame(
        [{"point": p["point"], "seed": p["seed"], **p["values"]} for p in manifest["points"]]
    )
    if experiments.empty:
        experiments = pd.DataFrame(columns=["point", "seed"])
    wanted = None if columns is None else list(dict.fromkeys([*_ID_COLUMNS, *columns]))
    spec = manifest["spec"]
    layout = chunk_layout(len(manifest["points"]), strategies, spec["deals_per_point"], spec["chunk_deals"])
    tables: list[Any] = []
    complete = True
    for slot in layout:
        chunk = manifest["chunks"][slot.key]
        path = directory / CHUNK_DIR / slot.file_name
        if chunk["status"] != "done" or not chunk.get("sha256") or not path.exists():
            complete = False
            continue
        try:
            data = path.read_bytes()
        except OSError as error:
            raise SweepError(f"{path}: cannot be read ({error.strerror or error})") from None
        problem: str | None = "its content differs from the SHA-256 recorded in the manifest"
        if sha256_of(data) == chunk["sha256"]:
            table = pq.read_table(pa.BufferReader(data), columns=wanted)
            problem = rows_problem(table, slot)
        if problem is not None:
            raise SweepError(
                f"{path}: damaged chunk ({problem}); resume the run to recompute it: "
                f"{_rerun_hint(manifest, directory)}"
            )
        tables.append(table.replace_schema_metadata(None))
    if tables:
        deals = pa.concat_tables(tables).to_pandas()
        order = deals["strategy"].map({name: i for i, name in enumerate(strategies)})
        deals = deals.assign(_order=order).sort_values(["point", "_order", "deal"])
        deals = deals.drop(columns="_order").reset_index(drop=True)
    else:
        deals = pd.DataFrame(columns=wanted or list(CHUNK_COLUMNS))
    return SweepResults(directory, manifest, experiments, deals, complete)

