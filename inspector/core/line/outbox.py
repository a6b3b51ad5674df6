"""A bounded, durable queue of messages waiting for a broker (or any receiver that can be down).

SQLite in WAL mode with synchronous=FULL: a message put() survives a crash or power cut once put()
returned, and leaves only after the receiver acknowledged it (remove), so results made while the
broker is down arrive later, in order. Bounded: beyond max_rows the oldest waiting messages are
dropped and counted (`overflowed`) — the results log still holds every part; the outbox only
bridges outages (1,000,000 rows ≈ 14 hours at 20 parts/s)."""
from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from inspector.core.errors import ConfigError, ProjectError

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,   -- AUTOINCREMENT: ids never reused, so order is put order
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class Outbox:
    def __init__(self, path: str | Path, *, max_rows: int = 1_000_000):
        if max_rows < 1:
            raise ConfigError(f"outbox size {max_rows} must be at least 1 message")
        self.path = Path(path)
        self.max_rows = int(max_rows)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA busy_timeout = 30000")
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = FULL")
            self.db.executescript(SCHEMA)
        except (sqlite3.DatabaseError, OSError) as e:
            raise ProjectError(f"outbox {self.path} cannot be opened ({e}) — move it aside; a new one is made") from None
        self._count = self.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        row = self.db.execute("SELECT value FROM outbox_meta WHERE key = 'overflowed'").fetchone()
        self.overflowed = row[0] if row else 0

    def __len__(self) -> int:
        return self._count

    def put(self, topic: str, payload: bytes | str) -> int:
        data = payload.encode() if isinstance(payload, str) else bytes(payload)
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                rid = self.db.execute("INSERT INTO outbox (topic, payload, created_at) VALUES (?, ?, ?)",
                                     (topic, data, time.time())).lastrowid
                over = self._count + 1 - self.max_rows
                if over > 0:
                    self.db.execute("DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT ?)", (over,))
                    self.db.execute("INSERT INTO outbox_meta VALUES ('overflowed', ?) ON CONFLICT(key) DO UPDATE "
                                    "SET value = value + excluded.value", (over,))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            if over > 0:
                self.overflowed += over
                self._count -= over
            self._count += 1
        return rid

    def peek(self, n: int = 100) -> list[tuple[int, str, bytes]]:
        """The oldest n waiting messages: (id, topic, payload)."""
        with self._lock:
            return [(i, t, bytes(p)) for i, t, p in
                    self.db.execute("SELECT id, topic, payload FROM outbox ORDER BY id LIMIT ?", (n,))]

    def remove(self, ids: list[int]) -> None:
        """Acknowledged: these leave the outbox."""
        if not ids:
            return
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                gone = self.db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids]).rowcount
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self._count -= max(gone, 0)

    def close(self) -> None:
        with self._lock:
            self.db.close()
