"""The results log: every live verdict in results.sqlite beside project.sqlite, with one row per run.

A separate file because it grows by millions of rows a day at line speed: the project database
(labels, audit, models) stays small, quick to back up, and its write lock stays free for labelling.
Durability is WAL + synchronous=NORMAL: a power cut may lose the last verdicts, never the file.
"""
from __future__ import annotations

import csv
import json
import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator

from inspector.core import durable
from inspector.core.errors import ConfigError, ProjectError

RESULTS_DB = "results.sqlite"
SCHEMA_VERSION = 4  # 2: verdict not_inspected with reason and counted_as; score, model and timings may be empty
# 3: part_id (the part's serial number or barcode: core/line/part_ids.py)
# 4: user on results and runs (the account running the line: issue 12), views (multi-camera stations)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started_at REAL NOT NULL,
    ended_at REAL,
    source TEXT NOT NULL,
    trigger TEXT NOT NULL,
    roi TEXT,
    summary TEXT,             -- JSON: the run's counters and timings, written when it ends
    user TEXT                 -- who started the line: the account, or the OS user without accounts
);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    at REAL NOT NULL,         -- capture time, unix seconds
    source TEXT NOT NULL,
    frame_id INTEGER NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('ok', 'not_ok', 'not_inspected')),
    class TEXT,
    confidence REAL,
    score REAL,               -- not-ok score, 0.5 = threshold; empty when not inspected
    scores TEXT,              -- JSON {class: probability}
    model_version TEXT,       -- empty when no model was loaded
    latency_ms REAL,          -- capture to verdict
    infer_ms REAL,
    sample_id INTEGER,        -- the review-queue sample in project.sqlite, when the frame was queued
    reason TEXT,              -- not_inspected: queue_full, inference_error, corrupt_frame, no_model, stopping
    counted_as TEXT,          -- not_inspected: how the part counted on the line then (ok / not_ok)
    part_id TEXT,             -- the part's ID (PLC, barcode, file name or counter); empty when none was read
    user TEXT,                -- who ran the line when the verdict was made (account, or OS user)
    views TEXT                -- JSON list: each camera's verdict on a multi-camera station; empty for one camera
);
CREATE INDEX IF NOT EXISTS results_by_time ON results(at);
CREATE INDEX IF NOT EXISTS results_by_run ON results(run_id);
"""
_RESULTS_TABLE = SCHEMA[SCHEMA.index("CREATE TABLE IF NOT EXISTS results ("):SCHEMA.index("CREATE INDEX")]

COLUMNS_V1 = ("id", "run_id", "at", "source", "frame_id", "verdict", "class", "confidence", "score", "scores",
              "model_version", "latency_ms", "infer_ms", "sample_id")
COLUMNS_V2 = (*COLUMNS_V1, "reason", "counted_as")
COLUMNS_V3 = (*COLUMNS_V2, "part_id")
COLUMNS = (*COLUMNS_V3, "user", "views")
# Columns added in place (ALTER TABLE ... ADD COLUMN) by the migration to each version after 2.
_ADDED_COLUMNS = {"results": (("part_id", "TEXT"), ("user", "TEXT"), ("views", "TEXT")),
                  "runs": (("user", "TEXT"),)}


@dataclass(frozen=True)
class ResultRow:
    run_id: int
    at: float
    source: str
    frame_id: int
    ok: bool
    label: str | None
    confidence: float | None
    score: float
    scores: dict
    model_version: str
    latency_ms: float | None
    infer_ms: float | None
    sample_id: int | None = None
    not_inspected: str | None = None  # the reason, when no model decided; ok is then how it counted
    part_id: str | None = None
    user: str | None = None  # the account (or OS user) running the line when this verdict was made
    views: list | None = None  # a multi-camera station's per-camera verdicts; None for one camera


class ResultsLog:
    """Open with ResultsLog(project_root); thread-safe (one connection behind a lock)."""

    def __init__(self, project_root: str | Path):
        self.path = Path(project_root) / RESULTS_DB
        self._lock = threading.RLock()
        try:
            self.db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA busy_timeout = 30000")
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")
            self.db.executescript(SCHEMA)
            row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                self.db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise ProjectError(f"{self.path} was written by a newer Inspector — update Inspector to read it")
            elif int(row[0]) < SCHEMA_VERSION:
                self._migrate(int(row[0]))
            self.db.execute("CREATE INDEX IF NOT EXISTS results_by_part ON results(part_id)")
            # part_of_sample: Review looks up the current part's result; without it one lookup read all
            # 5,000,000 rows (0.57 s; bench/big_project.py). Partial: only queued frames have a sample.
            self.db.execute("CREATE INDEX IF NOT EXISTS results_by_sample ON results(sample_id) "
                            "WHERE sample_id IS NOT NULL")
        except (sqlite3.DatabaseError, UnicodeDecodeError) as e:  # a damaged file's message may not be UTF-8
            raise ProjectError(f"{self.path} cannot be opened ({e}) — move it aside and start again "
                               "(a new, empty results log is then created)") from None

    def _migrate(self, version: int) -> None:
        """An older file brought to SCHEMA_VERSION in one transaction: every old row is kept, or nothing
        changes. v1 → v2 rebuilds the results table (SQLite cannot change a CHECK in place, and v2 allows
        not_inspected); later versions only add nullable columns, empty for the rows before."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if version < 2:
                cols = ", ".join(COLUMNS_V1)
                self.db.execute("ALTER TABLE results RENAME TO results_v1")
                self.db.execute("DROP INDEX IF EXISTS results_by_time")
                self.db.execute("DROP INDEX IF EXISTS results_by_run")
                self.db.execute(_RESULTS_TABLE)
                self.db.execute(f"INSERT INTO results ({cols}) SELECT {cols} FROM results_v1")
                self.db.execute("DROP TABLE results_v1")
                self.db.execute("CREATE INDEX results_by_time ON results(at)")
                self.db.execute("CREATE INDEX results_by_run ON results(run_id)")
            for table, added in _ADDED_COLUMNS.items():
                have = {r[1] for r in self.db.execute(f"PRAGMA table_info({table})")}
                for name, kind in added:
                    if name not in have:
                        self.db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
            self.db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self._lock:
            self.db.close()

    def __enter__(self) -> "ResultsLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------------
    def start_run(self, source: str, trigger: str, roi: str | None, user: str | None = None) -> int:
        with self._lock:
            return self.db.execute("INSERT INTO runs (started_at, source, trigger, roi, user) VALUES (?, ?, ?, ?, ?)",
                                   (time.time(), source, trigger, roi, user)).lastrowid

    def end_run(self, run_id: int, summary: dict) -> None:
        with self._lock:
            self.db.execute("UPDATE runs SET ended_at = ?, summary = ? WHERE id = ?",
                            (time.time(), json.dumps(summary, default=str), run_id))

    def write(self, rows: list[ResultRow]) -> None:
        """All rows in one transaction: one disk sync for a whole batch of verdicts."""
        if not rows:
            return
        data = [(r.run_id, r.at, r.source, r.frame_id, _verdict(r), r.label, r.confidence,
                 None if r.not_inspected else r.score,
                 json.dumps({k: round(v, 6) for k, v in r.scores.items()}) if r.scores else None,
                 r.model_version or None, r.latency_ms, r.infer_ms, r.sample_id, r.not_inspected,
                 ("ok" if r.ok else "not_ok") if r.not_inspected else None, r.part_id, r.user,
                 json.dumps(r.views, default=str) if r.views else None) for r in rows]
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.executemany(
                    "INSERT INTO results (run_id, at, source, frame_id, verdict, class, confidence, score, scores,"
                    " model_version, latency_ms, infer_ms, sample_id, reason, counted_as, part_id, user, views)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", data)
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    # -- reading ---------------------------------------------------------------------------------
    def _where(self, since: float | None, until: float | None, run_id: int | None) -> tuple[str, list]:
        where, args = [], []
        if since is not None:
            where.append("at >= ?")
            args.append(since)
        if until is not None:
            where.append("at < ?")
            args.append(until)
        if run_id is not None:
            where.append("run_id = ?")
            args.append(run_id)
        return (" WHERE " + " AND ".join(where) if where else ""), args

    def rows(self, *, since: float | None = None, until: float | None = None,
             run_id: int | None = None) -> Iterator[dict]:
        """Streamed from a read connection of its own: memory stays flat for millions of rows, and the
        line's recorder (which writes through self.db) is never held up; WAL gives this reader one
        consistent snapshot for the whole read."""
        where, args = self._where(since, until, run_id)
        reader = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30,
                                 check_same_thread=False)
        try:
            reader.execute("BEGIN")  # one snapshot from the first row to the last
            cur = reader.execute(f"SELECT {', '.join(COLUMNS)} FROM results{where} ORDER BY id", args)
            while True:
                chunk = cur.fetchmany(5000)
                if not chunk:
                    break
                for r in chunk:
                    yield dict(zip(COLUMNS, r))
        finally:
            reader.close()

    def counters(self, *, since: float | None = None, until: float | None = None,
                 run_id: int | None = None) -> dict:
        """{"triggered" (every part with a row), "inspected" (a model decided: ok + not_ok), "ok", "not_ok",
        "not_inspected" (ok + not_ok + not_inspected = triggered), "not_inspected_reasons": {reason: n},
        "rejected" (not_ok, plus the not_inspected parts that counted as not ok), "yield" (ok / triggered:
        a part nobody inspected is not a good part; None when nothing was triggered), "queued_for_review",
        "per_class": {class: n}, "per_model": {version: n}, "first_at", "last_at"}."""
        where, args = self._where(since, until, run_id)
        with self._lock:
            n, nok, skipped, skipped_ng, queued, first, last = self.db.execute(
                f"SELECT COUNT(*), COALESCE(SUM(verdict = 'not_ok'), 0), COALESCE(SUM(verdict = 'not_inspected'), 0), "
                f"COALESCE(SUM(verdict = 'not_inspected' AND counted_as IS NOT 'ok'), 0), COUNT(sample_id), "
                f"MIN(at), MAX(at) FROM results{where}", args).fetchone()
            reasons = dict(self.db.execute(
                f"SELECT COALESCE(reason, ''), COUNT(*) FROM results{where}"
                f"{' AND' if where else ' WHERE'} verdict = 'not_inspected' GROUP BY reason ORDER BY reason",
                args).fetchall())
            per_class = dict(self.db.execute(f"SELECT COALESCE(class, ''), COUNT(*) FROM results{where} "
                                             "GROUP BY class ORDER BY class", args).fetchall())
            per_model = dict(self.db.execute(f"SELECT COALESCE(model_version, ''), COUNT(*) FROM results{where} "
                                             "GROUP BY model_version ORDER BY model_version", args).fetchall())
        ok = n - nok - skipped
        return {"triggered": n, "inspected": ok + nok, "ok": ok, "not_ok": nok, "not_inspected": skipped,
                "not_inspected_reasons": reasons, "rejected": nok + skipped_ng, "yield": ok / n if n else None,
                "queued_for_review": queued, "per_class": per_class, "per_model": per_model,
                "first_at": first, "last_at": last}

    def part_rows(self, part_id: str) -> list[dict]:
        """Every result of one part (a part inspected again has several), oldest first."""
        with self._lock:
            fetched = self.db.execute(f"SELECT {', '.join(COLUMNS)} FROM results WHERE part_id = ? ORDER BY id",
                                      (part_id,)).fetchall()
        return [dict(zip(COLUMNS, r)) for r in fetched]

    def part_of_sample(self, sample_id: int) -> str | None:
        """The part ID of the result that queued this review sample, if it had one."""
        with self._lock:
            row = self.db.execute("SELECT part_id FROM results WHERE sample_id = ? AND part_id IS NOT NULL "
                                  "ORDER BY id DESC LIMIT 1", (sample_id,)).fetchone()
        return row[0] if row else None

    def runs(self) -> list[dict]:
        with self._lock:
            rows = self.db.execute("SELECT id, started_at, ended_at, source, trigger, roi, summary, user FROM runs "
                                   "ORDER BY id").fetchall()
        return [{"id": r[0], "started_at": r[1], "ended_at": r[2], "source": r[3], "trigger": r[4], "roi": r[5],
                 "summary": json.loads(r[6]) if r[6] else None, "user": r[7]} for r in rows]

    def export_csv(self, path: str | Path, *, since: float | None = None, until: float | None = None,
                   run_id: int | None = None) -> int:
        """Write the rows as CSV (local ISO time in `time`); atomic: a partial file never appears."""
        path = Path(path)
        n = 0
        try:
            with durable.atomic_open(path, "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow(["time", *COLUMNS])
                for r in self.rows(since=since, until=until, run_id=run_id):
                    w.writerow([_iso(r["at"]), *(_csv_value(r[c]) for c in COLUMNS)])
                    n += 1
        except OSError as e:
            raise ProjectError(f"cannot write {path} ({e.strerror or e}) — check the folder exists and is writable") from None
        return n


def part_id_of_sample(project_root: str | Path, sample_id: int) -> str | None:
    """The part ID logged with the result that queued this review sample; None without a results log."""
    if not (Path(project_root) / RESULTS_DB).is_file():
        return None
    try:
        with ResultsLog(project_root) as log:
            return log.part_of_sample(sample_id)
    except ProjectError:
        return None


def _verdict(r: ResultRow) -> str:
    return "not_inspected" if r.not_inspected else ("ok" if r.ok else "not_ok")


def _iso(at) -> str:
    """Local ISO time; empty for a value that is no time (a damaged row must not stop the export)."""
    try:
        return datetime.fromtimestamp(at).isoformat(timespec="milliseconds")
    except (TypeError, ValueError, OverflowError, OSError):
        return ""


def _csv_value(v):
    return repr(round(v, 6)) if isinstance(v, float) else ("" if v is None else v)


_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(text: str | None, now: float | None = None) -> float | None:
    """A point in time for --since/--until: "2026-11-27", "2026-11-27T08:30" (local time), a duration
    back from now ("90m", "12h", "7d"), or unix seconds. None stays None."""
    if text is None or str(text).strip() == "":
        return None
    text = str(text).strip()
    now = time.time() if now is None else now
    m = _RELATIVE.match(text)
    if m:
        return now - float(m.group(1)) * _UNIT_S[m.group(2)]
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"time {text!r} is not understood — use a date (2026-11-27), a date and time "
                          "(2026-11-27T08:30), or a duration back from now (90m, 12h, 7d)") from None
