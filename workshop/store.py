"""The workshop's event store: one SQLite file (standard library) holding sessions and events.

Nothing but what people did is stored: a session's settings, teams joining, decisions,
shocks, round advances and resets, each an event with a sequence number. Every figure a page
shows is recomputed from these events and the session's seed (``workshop.game``), so a server
restart resumes exactly where the session was and a debrief can be regenerated later.
Secrets (the facilitator key, team tokens) are stored only as SHA-256 hashes.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    code TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL,
    config TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    code TEXT NOT NULL REFERENCES sessions(code),
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (code, seq)
);
"""
DATABASE_NAME = "workshop.sqlite"
# The data directory: ``buyingsim workshop --data-dir`` sets this variable for the pages.
DATA_DIR_VARIABLE = "BUYINGSIM_WORKSHOP_DATA"
DEFAULT_DATA_DIR = Path.home() / ".buyingsim" / "workshop"


def secret_hash(secret: str) -> str:
    """The stored form of a key or token (the secret itself is never stored)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Event:
    """One thing that happened in a session, in order."""

    seq: int
    kind: str
    payload: dict[str, Any]
    at: float


class EventStore:
    """Sessions and their events in one SQLite file; safe to share between threads (every call
    opens its own connection) and between processes (SQLite's locking)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=10)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
        finally:
            db.close()

    @classmethod
    def in_directory(cls, directory: str | Path) -> EventStore:
        """The store of a data directory (one file, ``workshop.sqlite``)."""
        return cls(Path(directory) / DATABASE_NAME)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def create_session(self, code: str, key_hash: str, config: dict[str, Any]) -> bool:
        """Store a new session; False if the code is taken."""
        with self._connect() as db:
            if db.execute("SELECT 1 FROM sessions WHERE code = ?", (code,)).fetchone():
                return False
            db.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?)", (code, key_hash, json.dumps(config), time.time())
            )
        return True

    def session(self, code: str) -> tuple[str, dict[str, Any]] | None:
        """(key hash, config) of a session, or None if there is no such code."""
        with self._connect() as db:
            row = db.execute("SELECT key_hash, config FROM sessions WHERE code = ?", (code,)).fetchone()
        return None if row is None else (row[0], json.loads(row[1]))

    def codes(self) -> list[str]:
        """Every session's join code, oldest first."""
        with self._connect() as db:
            return [row[0] for row in db.execute("SELECT code FROM sessions ORDER BY created")]

    def append(self, code: str, kind: str, payload: dict[str, Any]) -> Event:
        """Add an event at the end of the session's history."""
        with self._connect() as db:
            (last,) = db.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM events WHERE code = ?", (code,)
            ).fetchone()
            event = Event(last + 1, kind, payload, time.time())
            db.execute(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?)",
                (code, event.seq, kind, json.dumps(payload), event.at),
            )
        return event

    def events(self, code: str, after: int = 0) -> list[Event]:
        """The session's events after sequence number ``after``, in order."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT seq, kind, payload, at FROM events WHERE code = ? AND seq > ? ORDER BY seq",
                (code, after),
            ).fetchall()
        return [Event(seq, kind, json.loads(payload), at) for seq, kind, payload, at in rows]
