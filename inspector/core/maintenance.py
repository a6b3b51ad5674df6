"""Project maintenance: apply the retention policy (core/retention.py), compact both databases when
pruning left them mostly empty space, check their integrity, and report what was done.

`run_maintenance(project, ..., progress, cancel) -> MaintenanceReport` is the one function behind
`inspector maintenance` and the GUI's scheduled run. Work goes in batches of short transactions, so a
labelling key press or the live line's recorder never waits long for the write lock; rows are
committed before files are removed, so a crash leaves at worst an image file without a row, which
opening the project moves to quarantine (never a row without its image).
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from inspector.core import durable, retention
from inspector.core.cancel import CancelToken
from inspector.core.errors import ConfigError, ProjectError
from inspector.core.live.results import RESULTS_DB, ResultsLog
from inspector.core.progress import StageProgress
from inspector.core.retention import RETENTION_USER, RetentionPolicy

BATCH = 20_000  # rows per transaction: ~0.1 s of deleting on a loaded 2-core VM
DAY_S = 86_400.0
VACUUM_MODES = ("auto", "always", "never")
# auto: compact when free pages are a quarter of the file or more (VACUUM rewrites the whole file:
# minutes for millions of results, so not for a few pruned rows).
VACUUM_FREE_SHARE = 0.25
LAST_REPORT = "maintenance.json"  # in the project folder: the last run's report (the GUI's schedule reads it)


@dataclass
class MaintenanceReport:
    at: float = 0.0
    policy: dict = field(default_factory=dict)
    results_deleted: int = 0
    runs_deleted: int = 0
    queue_dropped: int = 0  # unreviewed parts removed (row and image)
    queue_discarded: int = 0  # unreviewed parts with audit history: marked discarded, image removed
    images_pruned: int = 0  # image files of discarded parts removed (row and audit kept)
    files_not_removed: list[str] = field(default_factory=list)  # held open by another program (Windows)
    vacuumed: list[str] = field(default_factory=list)  # "project.sqlite", "results.sqlite"
    bytes_before: dict = field(default_factory=dict)
    bytes_after: dict = field(default_factory=dict)
    integrity: dict = field(default_factory=dict)  # file -> "ok" or the first problem found
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(v == "ok" for v in self.integrity.values())

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}

    def line(self) -> str:
        freed = sum(self.bytes_before.values()) - sum(self.bytes_after.values())
        # only what was done: a daily run on a young project reads "nothing to remove; integrity check ok"
        queue = self.queue_dropped + self.queue_discarded
        parts = [f"removed {self.results_deleted} result row(s) and {self.runs_deleted} run(s) past retention"
                 if self.results_deleted or self.runs_deleted else "",
                 f"{queue} unreviewed part(s) over the review-queue limit" if queue else "",
                 f"{self.images_pruned} image(s) of discarded parts" if self.images_pruned else ""]
        text = "; ".join(p for p in parts if p) or "nothing to remove"
        text += f"; compacted {', '.join(self.vacuumed)} ({freed / 1e6:.1f} MB freed)" if self.vacuumed else ""
        bad = {k: v for k, v in self.integrity.items() if v != "ok"}
        text += ("; integrity check ok" if not bad else
                 "; INTEGRITY CHECK FAILED: " + "; ".join(f"{k}: {v}" for k, v in bad.items())
                 + " — restore that file from a backup")
        if self.files_not_removed:
            text += f"; {len(self.files_not_removed)} image file(s) in use by another program were left in place"
        return text + f" ({self.seconds:.1f} s)"


def run_maintenance(project, policy: RetentionPolicy | None = None, *, vacuum: str = "auto",
                    now: float | None = None, progress=None, cancel: CancelToken | None = None) -> MaintenanceReport:
    """Prune by policy (default: the project's), compact, check integrity; the report is also saved
    in the project (last_report()). Cancelling between batches keeps what was done so far."""
    if vacuum not in VACUUM_MODES:
        raise ConfigError(f"vacuum {vacuum!r} is not known — use one of {', '.join(VACUUM_MODES)}")
    policy = policy or retention.load_policy(project)
    progress = progress or (lambda _e: None)
    cancel = cancel or CancelToken()
    started = time.perf_counter()
    now = time.time() if now is None else now
    report = MaintenanceReport(at=now, policy=policy.to_dict())
    results_path = Path(project.root) / RESULTS_DB
    files = {"project.sqlite": Path(project.root) / "project.sqlite"}
    if results_path.exists():
        files["results.sqlite"] = results_path
    report.bytes_before = {k: _size(p) for k, p in files.items()}

    if "results.sqlite" in files and policy.results_days > 0:
        progress(StageProgress("pruning results", 0, 1))
        _prune_results(results_path, now - policy.results_days * DAY_S, report, cancel)
    if policy.review_queue_max > 0:
        progress(StageProgress("bounding the review queue", 0, 1))
        _bound_review_queue(project, policy.review_queue_max, now, report, cancel)
    if policy.discarded_days > 0:
        progress(StageProgress("removing images of discarded parts", 0, 1))
        _prune_discarded(project, now - policy.discarded_days * DAY_S, now, report, cancel)

    for i, (name, path) in enumerate(files.items()):
        cancel.check()
        progress(StageProgress("compacting and checking", i, len(files)))
        db = _connect(path)  # its own connection: VACUUM needs one with no transaction open
        try:
            if vacuum == "always" or (vacuum == "auto" and _free_share(db) >= VACUUM_FREE_SHARE):
                db.execute("VACUUM")
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the rewritten pages leave the WAL
                report.vacuumed.append(name)
            report.integrity[name] = _integrity(db)
        except sqlite3.DatabaseError as e:
            report.integrity[name] = str(e)
        finally:
            db.close()
    report.bytes_after = {k: _size(p) for k, p in files.items()}
    report.seconds = round(time.perf_counter() - started, 3)
    progress(StageProgress("compacting and checking", len(files), len(files)))
    durable.write_json(Path(project.root) / LAST_REPORT, report.to_dict())
    return report


def last_report(project) -> dict | None:
    """The last maintenance report saved in the project, or None (never run, or unreadable)."""
    try:
        obj = json.loads((Path(project.root) / LAST_REPORT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def due(project, now: float | None = None) -> bool:
    """True when the schedule (every_h; 0 = never) says maintenance should run now."""
    every_h = retention.load_policy(project).every_h
    if every_h <= 0:
        return False
    last = last_report(project)
    at = last.get("at") if last else None
    now = time.time() if now is None else now
    return not isinstance(at, (int, float)) or now - at >= every_h * 3600


# -- the steps ---------------------------------------------------------------------------------------
def _connect(path: Path) -> sqlite3.Connection:
    try:
        db = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA busy_timeout = 30000")
        return db
    except sqlite3.DatabaseError as e:
        raise ProjectError(f"{path} cannot be opened ({e}) — move it aside (a new one is made) or restore it") from None


def _prune_results(path: Path, before: float, report: MaintenanceReport, cancel: CancelToken) -> None:
    ResultsLog(path.parent).close()  # creates or migrates the schema the same way the line does
    db = _connect(path)
    try:
        while True:
            cancel.check()
            db.execute("BEGIN IMMEDIATE")
            n = db.execute("DELETE FROM results WHERE id IN (SELECT id FROM results WHERE at < ? LIMIT ?)",
                           (before, BATCH)).rowcount
            db.execute("COMMIT")
            report.results_deleted += n
            if n < BATCH:
                break
        db.execute("BEGIN IMMEDIATE")
        report.runs_deleted = db.execute(
            "DELETE FROM runs WHERE ended_at IS NOT NULL AND ended_at < ? "
            "AND NOT EXISTS (SELECT 1 FROM results r WHERE r.run_id = runs.id)", (before,)).rowcount
        db.execute("COMMIT")
    except sqlite3.DatabaseError as e:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise ProjectError(f"{path} cannot be pruned ({e}) — run `inspector maintenance` again; "
                           "if it repeats, move the file aside (a new one is made)") from None
    finally:
        db.close()


def _bound_review_queue(project, limit: int, now: float, report: MaintenanceReport, cancel: CancelToken) -> None:
    """Drop the oldest unreviewed parts beyond `limit`; labelled parts are never touched."""
    while True:
        cancel.check()
        with project.transaction() as db:
            (waiting,) = db.execute("SELECT COUNT(*) FROM samples WHERE status = 'unreviewed'").fetchone()
            excess = min(waiting - limit, BATCH // 10)
            if excess <= 0:
                return
            rows = db.execute("SELECT id, image_hash, ext FROM samples WHERE status = 'unreviewed' "
                              "ORDER BY added_at, id LIMIT ?", (excess,)).fetchall()
            audited = _audited_samples(db)
            plain = [r for r in rows if r[0] not in audited]
            kept = [r for r in rows if r[0] in audited]
            if plain:
                try:
                    with project.transaction():  # a savepoint: a row another table points at keeps its history
                        db.executemany("DELETE FROM samples WHERE id = ?", [(r[0],) for r in plain])
                except sqlite3.IntegrityError:
                    kept += plain
                    plain = []
            for r in kept:  # audited like an operator's discard, under the name "retention"
                project.discard(r[0], RETENTION_USER)
            _mark_pruned(db, [r[0] for r in kept], now, "review queue over its limit")
            report.queue_dropped += len(plain)
            report.queue_discarded += len(kept)
        _remove_files(project, [f"{r[1]}.{r[2]}" for r in plain + kept], report)


def _prune_discarded(project, before: float, now: float, report: MaintenanceReport, cancel: CancelToken) -> None:
    """Remove image files of parts discarded before `before` (when they were discarded: the newest audit
    row that discarded them); the rows stay, listed in pruned_images."""
    with project.transaction() as db:
        retention.ensure_pruned_table(db)
        candidates = db.execute(
            "SELECT s.id, s.image_hash, s.ext, s.added_at FROM samples s WHERE s.status = 'discarded' "
            "AND NOT EXISTS (SELECT 1 FROM pruned_images p WHERE p.sample_id = s.id) ORDER BY s.id").fetchall()
        if not candidates:
            return
        discarded_at = _discard_times(db)
    old = [r for r in candidates if discarded_at.get(r[0], r[3]) < before]
    for i in range(0, len(old), BATCH // 10):
        cancel.check()
        batch = old[i:i + BATCH // 10]
        with project.transaction() as db:
            # still discarded? (someone may have restored a part since the list was made)
            ids = {r[0] for r in db.execute(
                f"SELECT id FROM samples WHERE status = 'discarded' AND id IN ({','.join('?' * len(batch))})",
                [r[0] for r in batch])}
            batch = [r for r in batch if r[0] in ids]
            _mark_pruned(db, [r[0] for r in batch], now, "discarded")
            report.images_pruned += len(batch)
        _remove_files(project, [f"{r[1]}.{r[2]}" for r in batch], report)


# The audit trail is `audit_log` (JSON detail, schema 2) or, in a project not yet migrated, `audit`.
def _audited_samples(db: sqlite3.Connection) -> set[int]:
    """Ids of samples with any audit history (a label, status or split change)."""
    try:
        return {r[0] for r in db.execute("SELECT DISTINCT json_extract(detail, '$.sample') FROM audit_log "
                                         "WHERE action LIKE 'sample.%'") if r[0] is not None}
    except sqlite3.OperationalError:
        return {r[0] for r in db.execute("SELECT DISTINCT sample_id FROM audit")}


def _discard_times(db: sqlite3.Connection) -> dict[int, float]:
    """sample id -> when it was last discarded."""
    try:
        rows = db.execute("SELECT json_extract(detail, '$.sample'), MAX(at) FROM audit_log "
                          "WHERE action = 'sample.status' AND json_extract(detail, '$.new') = 'discarded' "
                          "GROUP BY 1").fetchall()
    except sqlite3.OperationalError:
        rows = db.execute("SELECT sample_id, MAX(at) FROM audit WHERE field = 'status' AND new = 'discarded' "
                          "GROUP BY sample_id").fetchall()
    return {int(k): float(v) for k, v in rows if k is not None}


def _mark_pruned(db: sqlite3.Connection, ids: list[int], now: float, reason: str) -> None:
    if ids:
        retention.ensure_pruned_table(db)
        db.executemany("INSERT OR REPLACE INTO pruned_images (sample_id, at, reason) VALUES (?, ?, ?)",
                       [(i, now, reason) for i in ids])


def _remove_files(project, names: list[str], report: MaintenanceReport) -> None:
    """After the commit. A file held open (Windows: another program is showing it) stays: a removed row's
    leftover file goes to quarantine when the project next opens; a pruned one is listed in the report."""
    for name in names:
        path = project.image_path(name)
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            report.files_not_removed.append(path.relative_to(project.root).as_posix())


def _free_share(db: sqlite3.Connection) -> float:
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    free = db.execute("PRAGMA freelist_count").fetchone()[0]
    return free / pages if pages else 0.0


def _integrity(db: sqlite3.Connection) -> str:
    try:
        rows = [r[0] for r in db.execute("PRAGMA integrity_check(5)")]
    except sqlite3.DatabaseError as e:
        return str(e)
    return "ok" if rows == ["ok"] else "; ".join(map(str, rows))


def _size(path: Path) -> int:
    total = 0
    for p in (path, path.with_name(path.name + "-wal")):
        try:
            total += os.stat(p).st_size
        except OSError:
            pass
    return total
