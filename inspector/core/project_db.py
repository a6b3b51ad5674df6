"""The SQLite side of a project: connection settings, the schema and its version."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from inspector.core.errors import ProjectError

DB_NAME = "project.sqlite"
SCHEMA_VERSION = 2  # 2: audit_log (hash-chained, every change) replaces the label-only audit; accounts
# A second process (the CLI while the GUI runs) waits this long for the write lock before giving up.
BUSY_TIMEOUT_S = 30.0
DEFAULT_VAL_FRACTION = "0.2"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS classes (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('ok', 'defect')),
    color TEXT NOT NULL,
    shortcut TEXT UNIQUE
);
CREATE TABLE IF NOT EXISTS samples (
    id INTEGER PRIMARY KEY,
    image_hash TEXT NOT NULL UNIQUE,
    ext TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    byte_size INTEGER NOT NULL,
    source TEXT NOT NULL,
    captured_at REAL,
    added_at REAL NOT NULL,
    label_id INTEGER REFERENCES classes(id),
    labelled_by TEXT,
    labelled_at REAL,
    status TEXT NOT NULL DEFAULT 'unreviewed' CHECK (status IN ('unreviewed', 'labelled', 'discarded')),
    split TEXT CHECK (split IN ('train', 'val', 'golden')),
    suggestion_id INTEGER REFERENCES classes(id),
    suggestion_score REAL
);
CREATE INDEX IF NOT EXISTS samples_by_label ON samples(label_id, split);
CREATE INDEX IF NOT EXISTS samples_by_status ON samples(status);
"""


def connect(db_path: Path) -> sqlite3.Connection:
    """Open the database in autocommit mode; Project.transaction() issues BEGIN IMMEDIATE itself."""
    try:
        db = sqlite3.connect(str(db_path), timeout=BUSY_TIMEOUT_S, isolation_level=None,
                             check_same_thread=False)
        db.row_factory = sqlite3.Row
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        db.execute("PRAGMA synchronous = FULL")
        db.execute("PRAGMA foreign_keys = ON")
    except (sqlite3.DatabaseError, UnicodeDecodeError) as e:  # SQLite's message about a damaged file may not be UTF-8
        raise ProjectError(f"{db_path} cannot be opened ({e}) — restore the project folder from a backup") from None
    if str(mode).lower() != "wal":
        db.close()
        raise ProjectError(f"{db_path} cannot use write-ahead logging (got {mode!r}) — "
                           "keep projects on a local disk, not a network share")
    return db


# Indexes a big project needs (200,000 samples; bench/big_project.py), made when a project opens, so
# older projects get them too: Review's newest-first page of one status or of all parts, counts()
# per class and split, and the per-class count that chooses a new label's split — index-only reads
# (measured at 200,000 samples: a page 2 ms instead of 170, counts() 27 ms instead of 134).
INDEXES = (
    "CREATE INDEX IF NOT EXISTS samples_by_status_added ON samples(status, added_at)",
    "CREATE INDEX IF NOT EXISTS samples_by_added ON samples(added_at)",
    "CREATE INDEX IF NOT EXISTS samples_by_status_label ON samples(status, label_id, split)",
)


def ensure_indexes(db: sqlite3.Connection) -> None:
    """Create missing indexes (a no-op when they exist; a few hundred ms once on a big old project)."""
    for statement in INDEXES:
        db.execute(statement)


def create_schema(db: sqlite3.Connection, *, name: str, created_at: float) -> None:
    """Create tables and the meta rows of a new project; the caller holds a transaction."""
    from inspector.core import accounts, audit

    for statement in SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)
    audit.create(db)
    accounts.create(db)
    ensure_indexes(db)
    db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", [
        ("schema_version", str(SCHEMA_VERSION)),
        ("name", name),
        ("created_at", repr(created_at)),
        ("val_fraction", DEFAULT_VAL_FRACTION),
    ])


def check_schema(db: sqlite3.Connection, db_path: Path) -> None:
    """Refuse databases that are not ours or that a newer Inspector wrote."""
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except (sqlite3.DatabaseError, UnicodeDecodeError) as e:
        raise ProjectError(f"{db_path} is not an Inspector project database ({e}) — "
                           "open the project folder, not another file") from None
    if row is None:
        raise ProjectError(f"{db_path} has no schema version — it was not made by Inspector")
    version = int(row[0])
    if version > SCHEMA_VERSION:
        raise ProjectError(f"this project was written by a newer Inspector (schema {version}, this one reads "
                           f"{SCHEMA_VERSION}) — update Inspector to open it")


def migrate(db: sqlite3.Connection) -> int:
    """Bring an older project's schema up to SCHEMA_VERSION; the caller holds a write transaction.
    Returns the version found. 1 -> 2: the label audit (table `audit`) moves into `audit_log`, row by
    row in its order and chained, then the old table goes; nothing of it is lost."""
    from inspector.core import accounts, audit

    version = int(db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
    if version < 2:
        audit.create(db)
        accounts.create(db)
        has_old = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit'").fetchone()
        if has_old:
            for old_id, sample_id, user, at, field, old, new in db.execute(
                    "SELECT id, sample_id, user, at, field, old, new FROM audit ORDER BY id").fetchall():
                audit.append(db, f"sample.{field}", {"sample": sample_id, "old": old, "new": new,
                                                     "migrated_from": f"audit #{old_id}"},
                             user=user, role=audit.SINGLE_USER, at=at)
            db.execute("DROP TABLE audit")
        audit.append(db, "project.migrate", {"from_schema": version, "to_schema": 2}, role=audit.SINGLE_USER)
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    return version
