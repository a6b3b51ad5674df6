"""The project's audit trail: one append-only table, `audit_log`, whose rows are chained by SHA-256.

Each row's hash covers its own fields and the previous row's hash, and the project's meta table
keeps the last row's id and hash (the head). So editing a row, deleting one (anywhere, the last one
included) or inserting one with sqlite3 breaks the chain, and `verify` names the first row that does
not match. What it cannot catch is someone who rewrites the whole chain and the head with this very
algorithm: for that, write the head `verify` prints into a paper log or another system now and then.

Rows are appended inside the caller's transaction, so the change and its record commit together.
"""
from __future__ import annotations

import csv
import getpass
import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from inspector.core import durable

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    user TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,       -- canonical JSON, hashed as stored
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_by_at ON audit_log(at);
CREATE INDEX IF NOT EXISTS audit_log_by_user ON audit_log(user);
"""
GENESIS = "0" * 64  # prev_hash of the first row
HEAD_KEY = "audit_head"  # meta: "<id>:<hash>" of the last row
SINGLE_USER = "single-user"  # the role recorded while a project has no accounts


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: float
    user: str
    role: str
    action: str
    detail: dict
    prev_hash: str
    hash: str

    def to_dict(self) -> dict:
        return {"id": self.id, "at": self.at, "user": self.user, "role": self.role, "action": self.action,
                "detail": self.detail, "prev_hash": self.prev_hash, "hash": self.hash}


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    rows: int  # rows checked
    head: str | None  # the last row's hash (write it down to anchor the trail)
    bad_row: int | None = None  # the first row that does not match
    reason: str = ""

    def line(self) -> str:
        if self.ok:
            return f"audit trail whole: {self.rows} rows, head {self.head or GENESIS}"
        return f"audit trail broken at row {self.bad_row}: {self.reason}"


def os_user() -> str:
    """Who is logged in to the computer: the name single-user projects record."""
    try:
        return getpass.getuser() or "unknown"
    except Exception:  # no login name (some services, containers): still attributable to the station
        return "unknown"


def canonical(detail: dict | None) -> str:
    return json.dumps(detail or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def row_hash(prev_hash: str, row_id: int, at: float, user: str, role: str, action: str, detail: str) -> str:
    # A JSON list keeps field boundaries unambiguous; floats go through repr, which round-trips exactly.
    payload = json.dumps([prev_hash, int(row_id), float(at), user, role, action, detail], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def create(db: sqlite3.Connection) -> None:
    for statement in SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)


def role_of(db: sqlite3.Connection, user: str) -> str:
    """The role the account has now; single-user while the project has no accounts."""
    try:
        row = db.execute("SELECT role FROM accounts WHERE name = ?", (user,)).fetchone()
        if row is not None:
            return row[0]
        any_account = db.execute("SELECT 1 FROM accounts LIMIT 1").fetchone()
    except sqlite3.OperationalError:  # a database from before accounts existed (mid-migration)
        return SINGLE_USER
    return "none" if any_account else SINGLE_USER


def append(db: sqlite3.Connection, action: str, detail: dict | None = None, *, user: str | None = None,
           role: str | None = None, at: float | None = None) -> int:
    """Append one row; the caller holds a write transaction (BEGIN IMMEDIATE), so nobody appends between
    reading the head and writing the row. Returns the row id."""
    if not db.in_transaction:
        raise RuntimeError("audit.append needs the caller's write transaction (Project.transaction())")
    user = str(user) if user else os_user()
    role = role if role is not None else role_of(db, user)
    at = time.time() if at is None else float(at)
    text = canonical(detail)
    last = db.execute("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    row_id, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    h = row_hash(prev, row_id, at, user, role, action, text)
    db.execute("INSERT INTO audit_log (id, at, user, role, action, detail, prev_hash, hash) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (row_id, at, user, role, action, text, prev, h))
    db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
               (HEAD_KEY, f"{row_id}:{h}"))
    return row_id


def _to_row(r) -> AuditRow:
    try:
        detail = json.loads(r[5])
    except ValueError:
        detail = {"unreadable": r[5]}
    return AuditRow(r[0], r[1], r[2], r[3], r[4], detail, r[6], r[7])


def rows(db: sqlite3.Connection, *, since: float | None = None, until: float | None = None,
         user: str | None = None, action: str | None = None, limit: int | None = None) -> list[AuditRow]:
    """Rows oldest first. action: an exact action or a prefix ending in '.' ("model." = every model row)."""
    where, args = [], []
    if since is not None:
        where.append("at >= ?")
        args.append(float(since))
    if until is not None:
        where.append("at < ?")
        args.append(float(until))
    if user:
        where.append("user = ?")
        args.append(user)
    if action:
        if action.endswith("."):
            where.append("substr(action, 1, ?) = ?")
            args += [len(action), action]
        else:
            where.append("action = ?")
            args.append(action)
    sql = ("SELECT id, at, user, role, action, detail, prev_hash, hash FROM audit_log"
           + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id")
    if limit is not None:  # the newest `limit` rows, still oldest first
        sql = f"SELECT * FROM ({sql[:-len(' ORDER BY id')]} ORDER BY id DESC LIMIT {int(limit)}) ORDER BY id"
    return [_to_row(r) for r in db.execute(sql, args)]


def verify(db: sqlite3.Connection) -> VerifyResult:
    """Walk the chain from the first row; stop at the first row that does not match."""
    prev_hash, prev_id, n = GENESIS, 0, 0
    cur = db.execute("SELECT id, at, user, role, action, detail, prev_hash, hash FROM audit_log ORDER BY id")
    for row_id, at, user, role, action, detail, stored_prev, stored in cur:
        n += 1
        if row_id != prev_id + 1:
            return VerifyResult(False, n, None, row_id,
                                f"row {prev_id + 1} is missing (rows {prev_id} and {row_id} are neighbours) — "
                                "a row was deleted")
        if stored_prev != prev_hash:
            return VerifyResult(False, n, None, row_id, "its prev_hash does not match the row before it — "
                                                        "a row was deleted, inserted or edited")
        expect = row_hash(stored_prev, row_id, at, str(user), str(role), str(action), str(detail))
        if stored != expect:
            return VerifyResult(False, n, None, row_id, "its content does not match its hash — the row was edited "
                                                        "after it was written")
        prev_hash, prev_id = stored, row_id
    head = db.execute("SELECT value FROM meta WHERE key = ?", (HEAD_KEY,)).fetchone()
    if head is not None:
        head_id, _, head_hash = head[0].partition(":")
        if int(head_id) != prev_id or head_hash != prev_hash:
            bad = prev_id + 1 if int(head_id) > prev_id else int(head_id) + 1
            return VerifyResult(False, n, None, bad,
                                f"the project recorded row {head_id} as the last one, the table ends at row {prev_id}"
                                " — rows were removed from, or added to, the end")
    elif n:
        return VerifyResult(False, n, None, 1, "the project has no record of its last audit row — "
                                               "the meta table was edited")
    return VerifyResult(True, n, prev_hash if n else None)


def write_csv(path: str | Path, audit_rows: list[AuditRow]) -> None:
    """One row per entry, with the chain columns, so the export can be checked against the project."""
    import io

    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(["id", "at", "time_utc", "user", "role", "action", "detail", "prev_hash", "hash"])
    for r in audit_rows:
        w.writerow([r.id, repr(r.at), time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r.at)), r.user, r.role,
                    r.action, canonical(r.detail), r.prev_hash, r.hash])
    durable.write_bytes(path, buf.getvalue().encode("utf-8"))


def describe(row: AuditRow) -> str:
    """A short human line for the detail column (CLI text and the GUI's Audit view)."""
    d = row.detail
    if row.action.startswith("sample."):
        return f"part #{d.get('sample')}: {row.action[7:]} {d.get('old') or '—'} → {d.get('new') or '—'}"
    keep = {k: v for k, v in d.items() if v not in (None, "", [], {})}
    return ", ".join(f"{k}={v if not isinstance(v, (dict, list)) else canonical(v)}" for k, v in keep.items())
