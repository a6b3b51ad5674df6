"""Model versions of a project: models/<version>/ folders, their file hashes in the project
database, and which version is active (with a history, so a rollback is one step)."""
from __future__ import annotations

import hashlib
import json
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from inspector import __version__
from inspector.core import audit, durable
from inspector.core.errors import ModelError
from inspector.core.project_types import RecoveryReport
from inspector.core.quarantine import Quarantine

SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    version TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    created_at REAL NOT NULL,
    files TEXT NOT NULL,      -- JSON {file name: sha256}
    summary TEXT NOT NULL,    -- JSON: arch, metrics, data size; what a list shows without opening files
    parent TEXT
);
CREATE TABLE IF NOT EXISTS model_counter (  -- version numbers are never reused, even after a delete
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS model_activations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    version TEXT NOT NULL,
    at REAL NOT NULL,
    user TEXT
);
CREATE TABLE IF NOT EXISTS model_tombstones (  -- a deleted version: what it was, who deleted it and when;
    version TEXT PRIMARY KEY,                    -- its activations stay, so old results still name a
    kind TEXT NOT NULL,                          -- recorded version
    created_at REAL NOT NULL,
    files TEXT NOT NULL,
    summary TEXT NOT NULL,
    parent TEXT,
    deleted_at REAL NOT NULL,
    deleted_by TEXT
);
"""

Writer = Callable[[Path], None]


@dataclass(frozen=True)
class ModelVersion:
    version: str
    kind: str  # "classifier" | "anomaly"
    created_at: float
    files: dict
    summary: dict
    parent: str | None
    path: Path
    active: bool = False


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class ModelRegistry:
    def __init__(self, project, *, quarantine: Quarantine | None = None):
        """quarantine: where recovery moves folders to (Project.open shares its own, so one opening
        makes one quarantine folder)."""
        self.project = project
        self.db = project.db
        self.root = Path(project.models_dir)
        self.root.mkdir(exist_ok=True)
        self.db.executescript(SCHEMA)
        self._recover(quarantine or Quarantine(project.root))

    def _recover(self, quarantine: Quarantine) -> None:
        """Move aside what a crash mid-save (or a project.sqlite restored from an older backup) left:
        stale temp folders, and v<N> folders without a row. Nothing is deleted: they go to the project's
        quarantine/<time>/ and are added to project.recovery. Under the write lock, so no other process
        is between its rename and its commit; a temp folder is only moved once it is an hour old, as
        another process may be filling it."""
        orphans, temps, before = [], 0, len(quarantine.moved)
        with self.project.transaction():
            known = {r[0] for r in self.db.execute("SELECT version FROM models")}
            for d in sorted(self.root.iterdir()):
                if not d.is_dir() or d.is_symlink():
                    continue
                stale_tmp = d.name.startswith(durable.TEMP_PREFIX) and time.time() - d.stat().st_mtime > 3600
                orphan = d.name.startswith("v") and d.name[1:].isdigit() and d.name not in known
                if stale_tmp or orphan:
                    quarantine.move(d)
                    temps += stale_tmp
                    if orphan:
                        orphans.append(d.name)
        if len(quarantine.moved) > before and hasattr(self.project, "recovery"):
            self.project.recovery.add(RecoveryReport(
                temp_files=temps, orphan_models=orphans, moved=quarantine.moved[before:],
                quarantine=[quarantine.folder.relative_to(self.project.root).as_posix()]))

    # -- writing -------------------------------------------------------------------------------
    def save(self, kind: str, config: dict, writers: dict[str, Writer], *, summary: dict,
             parent: str | None = None) -> ModelVersion:
        """Write a new version. writers maps file name -> function writing that file. Heavy files are
        written outside the database lock; the version number is taken in one short transaction."""
        tmp = self.root / f"{durable.TEMP_PREFIX}{uuid.uuid4().hex}"
        tmp.mkdir()
        try:
            hashes = {}
            for name, write in writers.items():
                write(tmp / name)
                hashes[name] = sha256_file(tmp / name)
            with self.project.transaction():
                row = self.db.execute("SELECT last_seq FROM model_counter WHERE id = 1").fetchone()
                last = max(row[0] if row else 0, self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM models").fetchone()[0])
                seq = last + 1
                self.db.execute("INSERT OR REPLACE INTO model_counter VALUES (1, ?)", (seq,))
                version = f"v{seq}"
                created = time.time()
                cfg = dict(config, version=version, kind=kind, created_at=created, parent=parent,
                           software_version=__version__, files=hashes)
                _write_json(tmp / "config.json", cfg)
                files = dict(hashes, **{"config.json": sha256_file(tmp / "config.json")})
                for name in hashes:  # written by other code (torch, onnx): fsynced here, read-write
                    durable.fsync_file(tmp / name)
                durable.fsync_dir(tmp)
                dest = self.root / version
                if dest.exists():  # a folder this database does not know, e.g. moved back from quarantine
                    raise ModelError(f"{dest} already exists but is not in this project's database — move it "
                                     "out of models/ (reopening the project quarantines it) and save again")
                durable.replace(tmp, dest)
                self.db.execute("INSERT INTO models VALUES (?, ?, ?, ?, ?, ?, ?)",
                                (version, seq, kind, created, json.dumps(files), json.dumps(summary), parent))
                audit.append(self.db, "model.save", {"version": version, "kind": kind, "parent": parent,
                                                     "summary": summary, "config_sha256": files["config.json"]},
                             user=self.project.actor if hasattr(self.project, "actor") else None)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return self.get(version)

    # -- reading -------------------------------------------------------------------------------
    def list(self, kind: str | None = None) -> list[ModelVersion]:
        active = set(self.active_versions().values())
        rows = self.db.execute("SELECT version, kind, created_at, files, summary, parent FROM models"
                               + (" WHERE kind=?" if kind else "") + " ORDER BY seq", (kind,) if kind else ())
        return [self._row(r, active) for r in rows]

    def get(self, version: str) -> ModelVersion:
        r = self.db.execute("SELECT version, kind, created_at, files, summary, parent FROM models WHERE version=?",
                            (version,)).fetchone()
        if r is None:
            known = ", ".join(v.version for v in self.list()) or "none yet"
            raise ModelError(f"model {version!r} does not exist in this project — known versions: {known}")
        return self._row(r, set(self.active_versions().values()))

    def _row(self, r, active: set[str]) -> ModelVersion:
        return ModelVersion(r[0], r[1], r[2], json.loads(r[3]), json.loads(r[4]), r[5], self.root / r[0],
                            r[0] in active)

    def tombstones(self) -> list[dict]:
        """Deleted versions, oldest deletion first: what they were and who deleted them."""
        rows = self.db.execute("SELECT version, kind, created_at, summary, parent, deleted_at, deleted_by "
                               "FROM model_tombstones ORDER BY deleted_at").fetchall()
        return [{"version": r[0], "kind": r[1], "created_at": r[2], "summary": json.loads(r[3]), "parent": r[4],
                 "deleted_at": r[5], "deleted_by": r[6]} for r in rows]

    def verify(self, version: str) -> ModelVersion:
        """Check every file against the hashes recorded when it was saved."""
        mv = self.get(version)
        for name, digest in mv.files.items():
            p = mv.path / name
            if not p.is_file():
                raise ModelError(f"model {version}: file {name} is missing — restore the folder or delete the version")
            if sha256_file(p) != digest:
                raise ModelError(f"model {version}: {name} is corrupt or was modified after saving — "
                                 "retrain, or roll back to another version")
        return mv

    def read_config(self, version: str) -> dict:
        mv = self.verify(version)
        return json.loads((mv.path / "config.json").read_text(encoding="utf-8"))

    # -- the active versions: one per kind -------------------------------------------------------------
    # A project may have an active classifier and an active anomaly model at once: on the line the
    # anomaly model decides OK / NG and the classifier names the defect type (see line_version).
    def active_version(self) -> str | None:
        """The version activated last, of any kind."""
        r = self.db.execute("SELECT a.version FROM model_activations a JOIN models m ON m.version = a.version "
                            "ORDER BY a.id DESC LIMIT 1").fetchone()
        return r[0] if r else None

    def active_versions(self) -> dict[str, str]:
        """{kind: its active version}: per kind, the version activated last."""
        rows = self.db.execute("SELECT m.kind, a.version FROM model_activations a JOIN models m ON m.version = a.version "
                               "ORDER BY a.id").fetchall()
        return {kind: version for kind, version in rows}

    def line_version(self) -> str | None:
        """What the live line runs: the active anomaly model when there is one (with the active classifier,
        if any, naming the defect type), else the active classifier."""
        active = self.active_versions()
        return active.get("anomaly") or active.get("classifier") or self.active_version()

    def active(self, kind: str | None = None) -> ModelVersion | None:
        """The active model; with kind, the most recently activated version of that kind."""
        q = ("SELECT a.version FROM model_activations a JOIN models m ON m.version = a.version"
             + (" WHERE m.kind=?" if kind else "") + " ORDER BY a.id DESC LIMIT 1")
        r = self.db.execute(q, (kind,) if kind else ()).fetchone()
        return self.get(r[0]) if r else None

    def activate(self, version: str, user: str | None = None, *, action: str = "model.activate",
                 detail: dict | None = None) -> ModelVersion:
        """Put a version on the line; audited (detail: e.g. the golden-set figures and a confirmation)."""
        mv = self.verify(version)
        user = user or getattr(self.project, "actor", None) or audit.os_user()
        with self.project.transaction():
            before = self.active(mv.kind)
            self.db.execute("INSERT INTO model_activations (version, at, user) VALUES (?, ?, ?)",
                            (version, time.time(), user))
            audit.append(self.db, action, {"version": version, "kind": mv.kind,
                                           "previous": before.version if before else None, **(detail or {})},
                         user=user)
        return self.get(version)

    def rollback_target(self, kind: str | None = None) -> ModelVersion:
        """The version a rollback would activate: of this kind (default: the kind activated last), the
        one that was active before the current one."""
        current = self.active(kind)
        if current is None:
            what = f"no {kind} model" if kind else "no model"
            raise ModelError(f"{what} is active, so there is nothing to roll back — activate a version first")
        rows = self.db.execute("SELECT a.version FROM model_activations a JOIN models m ON m.version = a.version "
                               "WHERE m.kind=? ORDER BY a.id DESC", (current.kind,)).fetchall()
        for (v,) in rows:
            if v != current.version:
                return self.get(v)
        raise ModelError(f"{current.version} is the only {current.kind} version ever activated — "
                         "there is no earlier one to roll back to")

    def rollback(self, user: str | None = None, kind: str | None = None, *,
                 detail: dict | None = None) -> ModelVersion:
        """Activate the version of this kind (default: the kind activated last) that was active before
        the current one."""
        return self.activate(self.rollback_target(kind).version, user, action="model.rollback", detail=detail)

    def delete(self, version: str, user: str | None = None) -> None:
        """Remove a version's files; its row becomes a tombstone and its activations stay, audited."""
        mv = self.get(version)
        if mv.active:
            raise ModelError(f"{version} is the active model — activate or roll back to another version first")
        user = user or getattr(self.project, "actor", None) or audit.os_user()
        with self.project.transaction():
            self.db.execute("INSERT OR REPLACE INTO model_tombstones SELECT version, kind, created_at, files, summary, "
                            "parent, ?, ? FROM models WHERE version=?", (time.time(), user, version))
            self.db.execute("DELETE FROM models WHERE version=?", (version,))
            audit.append(self.db, "model.delete", {"version": version, "kind": mv.kind, "parent": mv.parent,
                                                   "summary": mv.summary, "files": mv.files}, user=user)
        # The row goes first: a crash here leaves a folder that recovery quarantines, never a row without files.
        shutil.rmtree(mv.path, ignore_errors=True)


def _write_json(path: Path, obj: dict) -> None:
    with durable.atomic_open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
