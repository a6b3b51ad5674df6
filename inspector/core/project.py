"""A project folder: project.sqlite (samples, classes, audit), images/ stored by content hash, models/."""
from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from inspector.core import audit as audit_log
from inspector.core import class_style, imageio, project_db, retention, sample_queries
from inspector.core.errors import ProjectError
from inspector.core.image_store import quarantine_image_dir, write_file_atomically
from inspector.core.quarantine import Quarantine
from inspector.core.project_types import AddResult, AuditEntry, ClassInfo, RecoveryReport, Sample
from inspector.core.splits import SPLITS, choose_split, parse_val_fraction

STATUSES = ("unreviewed", "labelled", "discarded")

class Project:
    """Open with Project.open(path) or create with Project.init(path); use as a context manager."""

    def __init__(self, root: Path, db: sqlite3.Connection):
        self.root = root
        self.db = db
        self.images_dir = root / "images"
        self.models_dir = root / "models"
        self.recovery = RecoveryReport()
        self._lock = threading.RLock()  # one connection may be shared by the GUI's worker threads
        self._depth = 0
        # The logged-in account (or, single-user, the computer's user) that audit rows name when a
        # call passes no user: set by the CLI's log-in and by the GUI's Session.
        self.actor: str | None = None

    # -- opening and closing ------------------------------------------------------------------
    @classmethod
    def init(cls, path: str | Path, *, name: str | None = None) -> "Project":
        root = Path(path).expanduser().absolute()
        if (root / project_db.DB_NAME).exists():
            raise ProjectError(f"{root} is already an Inspector project — open it instead of creating it again")
        if root.exists():
            if not root.is_dir():
                raise ProjectError(f"{root} is a file — give a new or empty folder for the project")
            if any(not p.name.startswith(".") for p in root.iterdir()):
                raise ProjectError(f"{root} is not empty — give a new or empty folder for the project")
        root.mkdir(parents=True, exist_ok=True)
        (root / "images").mkdir(exist_ok=True)
        (root / "models").mkdir(exist_ok=True)
        db = project_db.connect(root / project_db.DB_NAME)
        project = cls(root, db)
        with project.transaction():
            project_db.create_schema(db, name=name or root.name, created_at=time.time())
        return project

    @classmethod
    def open(cls, path: str | Path) -> "Project":
        root = Path(path).expanduser().absolute()
        if not root.exists():
            raise ProjectError(f"{root} does not exist — check the path, or create a project with "
                               f"`inspector project init {root}`")
        if root.is_file() and root.name == project_db.DB_NAME:
            root = root.parent
        db_path = root / project_db.DB_NAME
        if not db_path.is_file():
            raise ProjectError(f"{root} is not an Inspector project — run `inspector project init PATH` first")
        db = project_db.connect(db_path)
        try:
            project_db.check_schema(db, db_path)
            (root / "images").mkdir(exist_ok=True)
            (root / "models").mkdir(exist_ok=True)
            project = cls(root, db)
            if int(project.get_meta("schema_version", "0")) < project_db.SCHEMA_VERSION:
                with project.transaction():
                    project_db.migrate(db)
            project_db.ensure_indexes(db)
            project._recover()
        except (sqlite3.DatabaseError, UnicodeDecodeError) as e:  # a damaged file (SQLite's message may not be UTF-8)
            db.close()
            raise ProjectError(f"{db_path} is damaged ({e}) — restore the project folder from a backup; "
                               "`inspector maintenance` reports what is wrong") from None
        except BaseException:
            db.close()
            raise
        return project

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Project":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on error. Nested use becomes a savepoint."""
        with self._lock:
            if self._depth:
                name = f"sp{self._depth}"
                self.db.execute(f"SAVEPOINT {name}")
                self._depth += 1
                try:
                    yield self.db
                except BaseException:
                    self.db.execute(f"ROLLBACK TO {name}")
                    self.db.execute(f"RELEASE {name}")
                    raise
                else:
                    self.db.execute(f"RELEASE {name}")
                finally:
                    self._depth -= 1
                return
            try:
                self.db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as e:
                raise ProjectError(f"the project is busy in another Inspector window or command ({e}) — "
                                   "wait for it to finish and try again") from None
            self._depth = 1
            try:
                yield self.db
                self.db.execute("COMMIT")
            except BaseException:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise
            finally:
                self._depth = 0

    def _recover(self) -> None:
        """Move aside what the database does not know: temp files and image files without a row (a crash
        mid-add, or a project.sqlite restored from an older backup), and model folders without a row (see
        ModelRegistry). Nothing is deleted: they go to quarantine/<time>/ and self.recovery lists them.
        Runs under the write lock, so a file another process is adding right now (it holds the lock) is
        never seen."""
        from inspector.core.registry import ModelRegistry  # registry imports nothing of this module

        quarantine = Quarantine(self.root)
        with self.transaction():
            known = {f"{h}.{e}" for h, e in self.db.execute("SELECT image_hash, ext FROM samples")}
            temp, orphans, present = quarantine_image_dir(self.images_dir, known, quarantine)
            pruned = retention.pruned_names(self.db)  # removed on purpose by retention: not missing
        self.recovery = RecoveryReport(temp_files=temp, orphan_images=orphans,
                                       missing_files=sorted(known - present - pruned),
                                       moved=list(quarantine.moved),
                                       quarantine=[quarantine.folder.relative_to(self.root).as_posix()]
                                       if quarantine.folder else [])
        ModelRegistry(self, quarantine=quarantine)  # its own recovery adds the model folders to self.recovery

    # -- settings -----------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str, user: str | None = None) -> None:
        """A project setting; a change is audited (the same value again is not)."""
        with self.transaction():
            old = self.get_meta(key)
            if old == str(value):
                return
            self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                            "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, str(value)))
            self.record("setting", {"key": key, "old": old, "new": str(value)}, user)

    def record(self, action: str, detail: dict | None = None, user: str | None = None) -> int:
        """Append one row to the audit trail (core/audit.py) under user, else the logged-in actor, else
        the computer's user; inside the caller's transaction when there is one."""
        with self.transaction():
            return audit_log.append(self.db, action, detail, user=user or self.actor)

    def verify_audit(self) -> "audit_log.VerifyResult":
        return audit_log.verify(self.db)

    @property
    def name(self) -> str:
        return self.get_meta("name", self.root.name) or self.root.name

    @property
    def val_fraction(self) -> float:
        return parse_val_fraction(self.get_meta("val_fraction", project_db.DEFAULT_VAL_FRACTION))

    def set_val_fraction(self, value: float) -> None:
        """Applies to samples labelled from now on; stored splits never move."""
        self.set_meta("val_fraction", repr(parse_val_fraction(value)))

    # -- classes ------------------------------------------------------------------------------
    def add_class(self, name: str, kind: str = "defect", color: str | None = None,
                  shortcut: str | None = None) -> ClassInfo:
        class_style.check_name(name)
        class_style.check_kind(kind)
        with self.transaction():
            existing = self.class_by_name(name)
            if existing is not None:
                if existing.kind != kind:
                    raise ProjectError(f"class {name!r} already exists as kind {existing.kind!r}, not {kind!r} — "
                                       "pick another name or keep its kind")
                return existing
            classes = self.classes()
            color = class_style.check_color(color) if color else class_style.pick_color(
                kind, {c.color for c in classes})
            used = {c.shortcut for c in classes if c.shortcut}
            if shortcut is None:
                shortcut = class_style.pick_shortcut(kind, used)
            else:
                self._check_shortcut_free(shortcut, None)
            self.db.execute("INSERT INTO classes (name, kind, color, shortcut) VALUES (?, ?, ?, ?)",
                            (name, kind, color, shortcut))
            self.record("class.add", {"class": name, "kind": kind, "color": color, "shortcut": shortcut})
        return self.class_by_name(name)

    def classes(self) -> list[ClassInfo]:
        return [ClassInfo(*r) for r in self.db.execute(
            "SELECT id, name, kind, color, shortcut FROM classes ORDER BY id")]

    def class_by_name(self, name: str) -> ClassInfo | None:
        r = self.db.execute("SELECT id, name, kind, color, shortcut FROM classes WHERE name = ?", (name,)).fetchone()
        return ClassInfo(*r) if r else None

    def update_class(self, name: str, *, color: str | None = None, shortcut: str | None = None,
                     new_name: str | None = None) -> ClassInfo:
        with self.transaction():
            cls = self._require_class(name)
            if color is not None:
                self.db.execute("UPDATE classes SET color = ? WHERE id = ?", (class_style.check_color(color), cls.id))
            if shortcut is not None:
                self._check_shortcut_free(shortcut, cls.id)
                self.db.execute("UPDATE classes SET shortcut = ? WHERE id = ?", (shortcut, cls.id))
            if new_name is not None and new_name != name:
                class_style.check_name(new_name)
                if self.class_by_name(new_name) is not None:
                    raise ProjectError(f"class {new_name!r} already exists — pick another name")
                self.db.execute("UPDATE classes SET name = ? WHERE id = ?", (new_name, cls.id))
                name = new_name
            after = self.class_by_name(name)
            changes = {k: [getattr(cls, k), getattr(after, k)] for k in ("name", "color", "shortcut")
                       if getattr(cls, k) != getattr(after, k)}
            if changes:
                self.record("class.edit", {"class": cls.name, **changes})
        return self.class_by_name(name)

    def _check_shortcut_free(self, shortcut: str, class_id: int | None) -> None:
        class_style.check_shortcut(shortcut)
        r = self.db.execute("SELECT name FROM classes WHERE shortcut = ? AND id IS NOT ?", (shortcut, class_id)).fetchone()
        if r:
            raise ProjectError(f"shortcut {shortcut!r} is already used by class {r[0]!r} — pick another key")

    def _require_class(self, name: str) -> ClassInfo:
        cls = self.class_by_name(name)
        if cls is None:
            known = ", ".join(c.name for c in self.classes()) or "none yet"
            raise ProjectError(f"class {name!r} does not exist — add it first (known classes: {known})")
        return cls

    # -- samples: adding ----------------------------------------------------------------------
    def add_image(self, data: bytes | str | Path, *, source: str, captured_at: float | None = None,
                  label: str | None = None, user: str | None = None, suggestion: str | None = None,
                  suggestion_score: float | None = None) -> AddResult:
        """Store an image. It is decoded first (ImageDecodeError: nothing written); the file is made
        durable before its row is committed, so a crash leaves at worst an orphan file that open() quarantines.
        Bytes already stored give duplicate=True and the existing id; label/suggestion are then ignored."""
        if isinstance(data, (str, Path)):
            path = Path(data)
            data, display = imageio.read_image_bytes(path), path.name
        else:
            data, display = bytes(data), source
        pixels = imageio.decode_image(data, name=display)
        height, width = int(pixels.shape[0]), int(pixels.shape[1])
        ext = imageio.image_info(data)[0].lower().lstrip(".")
        digest = hashlib.sha256(data).hexdigest()
        label_cls = self._require_class(label) if label is not None else None
        suggestion_cls = self._require_class(suggestion) if suggestion is not None else None
        if label_cls is not None:
            user = _require_user(user)
        written: Path | None = None
        try:
            with self.transaction():
                row = self.db.execute("SELECT id FROM samples WHERE image_hash = ?", (digest,)).fetchone()
                if row is not None:
                    return AddResult(row[0], digest, True)
                final = self.image_path(f"{digest}.{ext}")
                final.parent.mkdir(exist_ok=True)
                write_file_atomically(final, data)
                written = final
                now = time.time()
                cur = self.db.execute(
                    "INSERT INTO samples (image_hash, ext, width, height, byte_size, source, captured_at, added_at,"
                    " suggestion_id, suggestion_score) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (digest, ext, width, height, len(data), str(source), captured_at, now,
                     suggestion_cls.id if suggestion_cls else None, suggestion_score))
                sample_id = cur.lastrowid
                if label_cls is not None:
                    self._apply_label(sample_id, label_cls, user, now)
        except BaseException:
            # No row was committed, so the file must not stay (it would be an orphan).
            if written is not None:
                written.unlink(missing_ok=True)
            raise
        return AddResult(sample_id, digest, False)

    # -- samples: changing --------------------------------------------------------------------
    def set_label(self, sample_id: int, label: str, user: str) -> None:
        """Label (or relabel) a sample; audited. Marks it labelled (un-discarding it) and gives it a split
        the first time it is labelled; a stored split never moves."""
        user = _require_user(user)
        with self.transaction():
            cls = self._require_class(label)
            self._require_row(sample_id)
            self._apply_label(sample_id, cls, user, time.time())

    def _apply_label(self, sample_id: int, cls: ClassInfo, user: str, now: float) -> None:
        row = self._require_row(sample_id)
        if row["label_id"] != cls.id:
            self.db.execute("UPDATE samples SET label_id = ?, labelled_by = ?, labelled_at = ? WHERE id = ?",
                            (cls.id, user, now, sample_id))
            self._audit(sample_id, user, now, "label", row["label_name"], cls.name)
        if row["status"] != "labelled":
            self.db.execute("UPDATE samples SET status = 'labelled' WHERE id = ?", (sample_id,))
            self._audit(sample_id, user, now, "status", row["status"], "labelled")
        if row["split"] is None:
            # Two index-only counts (project_db.INDEXES): 7 ms at 120,000 parts of a class instead of 14 for
            # one SUM over the rows. This sample has no split yet, so it is in neither count.
            train, v = (self.db.execute("SELECT COUNT(*) FROM samples WHERE status IN ('labelled', 'unreviewed') "
                                        "AND label_id = ? AND split = ?", (cls.id, which)).fetchone()[0]
                        for which in ("train", "val"))
            n = train + v
            split = choose_split(row["image_hash"], n, v, self.val_fraction)
            self.db.execute("UPDATE samples SET split = ? WHERE id = ?", (split, sample_id))

    def restore_label_state(self, sample_id: int, label: str | None, status: str, labelled_by: str | None,
                            labelled_at: float | None, user: str) -> None:
        """Undo: put a sample's label and status back as they were (e.g. before a labelling key press),
        in one transaction, audited under the user who undid it. The split stays: a stored split never
        moves, and only labelled samples are ever trained on."""
        user = _require_user(user)
        if status not in ("unreviewed", "labelled", "discarded"):
            raise ProjectError(f"status {status!r} is not known — cannot undo")
        if (status == "labelled") != (label is not None) and status != "discarded":
            raise ProjectError(f"status {status!r} does not go with label {label!r} — cannot undo")
        with self.transaction():
            row = self._require_row(sample_id)
            class_id = None
            if label is not None:
                cls = self.class_by_name(label)
                if cls is None:
                    raise ProjectError(f"class {label!r} no longer exists — relabel part #{sample_id} instead of undoing")
                class_id = cls.id
            self.db.execute("UPDATE samples SET label_id = ?, labelled_by = ?, labelled_at = ?, status = ? WHERE id = ?",
                            (class_id, labelled_by, labelled_at, status, sample_id))
            now = time.time()
            for field, old, new in (("label", row["label_name"], label), ("status", row["status"], status)):
                if old != new:
                    self._audit(sample_id, user, now, field, old, new)

    def discard(self, sample_id: int, user: str) -> None:
        self._set_status(sample_id, user, lambda row: "discarded")

    def restore(self, sample_id: int, user: str) -> None:
        """Undo discard: back to labelled if it has a label, else unreviewed."""
        self._set_status(sample_id, user, lambda row: row["status"] if row["status"] != "discarded"
                         else ("labelled" if row["label_id"] is not None else "unreviewed"))

    def _set_status(self, sample_id: int, user: str, new_status) -> None:
        user = _require_user(user)
        with self.transaction():
            row = self._require_row(sample_id)
            new = new_status(row)
            if new != row["status"]:
                now = time.time()
                self.db.execute("UPDATE samples SET status = ? WHERE id = ?", (new, sample_id))
                self._audit(sample_id, user, now, "status", row["status"], new)

    def set_suggestion(self, sample_id: int, label: str | None, score: float | None) -> None:
        """The model's suggestion (not audited: it is not a decision). label None clears it."""
        with self.transaction():
            self._require_row(sample_id)
            cls_id = self._require_class(label).id if label is not None else None
            self.db.execute("UPDATE samples SET suggestion_id = ?, suggestion_score = ? WHERE id = ?",
                            (cls_id, None if score is None else float(score), sample_id))

    def set_split(self, sample_id: int, split: str, user: str | None = None) -> bool:
        """Move a sample by hand, e.g. into "golden" (held out for acceptance checks; core/golden.py).
        Audited; returns whether it moved."""
        if split not in SPLITS:
            raise ProjectError(f"split {split!r} is not allowed — use one of {', '.join(SPLITS)}")
        with self.transaction():
            row = self._require_row(sample_id)
            if row["split"] == split:
                return False
            self.db.execute("UPDATE samples SET split = ? WHERE id = ?", (split, sample_id))
            self._audit(sample_id, user or self.actor, time.time(), "split", row["split"], split)
            return True

    def _audit(self, sample_id: int, user: str | None, at: float, field: str, old, new) -> None:
        audit_log.append(self.db, f"sample.{field}", {"sample": sample_id, "old": old, "new": new}, user=user, at=at)

    # -- samples: reading ---------------------------------------------------------------------
    def _require_row(self, sample_id: int) -> sqlite3.Row:
        return sample_queries.row_by_id(self.db, sample_id)

    def sample(self, sample_id: int) -> Sample:
        return sample_queries.to_sample(self._require_row(sample_id))

    def find_by_hash(self, image_hash: str) -> Sample | None:
        return sample_queries.by_hash(self.db, image_hash)

    def samples(self, *, status: str | Iterable[str] | None = None, split: str | Iterable[str] | None = None,
                label: str | None = None, kind: str | None = None, suggestion: str | None = None,
                order: str = "id", limit: int | None = None) -> list[Sample]:
        """Filtered samples. order: id, added_at, captured_at, labelled_at or suggestion_score; prefix '-' for
        descending. limit: the first n only (a page: the GUI never reads all of a big project at once)."""
        return sample_queries.select(self.db, status=status, split=split, label=label, kind=kind,
                                     suggestion=suggestion, order=order, limit=limit)

    def count_samples(self, *, status: str | Iterable[str] | None = None, split: str | Iterable[str] | None = None,
                      label: str | None = None, kind: str | None = None, suggestion: str | None = None) -> int:
        """How many samples() would list, without reading them."""
        return sample_queries.count(self.db, status=status, split=split, label=label, kind=kind,
                                    suggestion=suggestion)

    def image_path(self, sample_or_hash: Sample | str) -> Path:
        """images/ab/<hash>.<ext>. Accepts a Sample, "<hash>.<ext>", or a bare hash of a stored sample."""
        if isinstance(sample_or_hash, Sample):
            digest, ext = sample_or_hash.image_hash, sample_or_hash.ext
        elif "." in sample_or_hash:
            digest, ext = sample_or_hash.split(".", 1)
        else:
            row = self.db.execute("SELECT ext FROM samples WHERE image_hash = ?", (sample_or_hash,)).fetchone()
            if row is None:
                raise ProjectError(f"image {sample_or_hash[:16]}… is not in this project")
            digest, ext = sample_or_hash, row[0]
        return self.images_dir / digest[:2] / f"{digest}.{ext}"

    def read_image(self, sample: Sample | int) -> np.ndarray:
        if not isinstance(sample, Sample):
            sample = self.sample(sample)
        return imageio.decode_image(self.image_path(sample), name=f"sample #{sample.id}")

    def counts(self) -> dict:
        """{"per_class": {name: {"train", "val", "golden", "total"}}, "labelled", "unreviewed", "discarded",
        "total"}. Per-class numbers count labelled samples that are not discarded."""
        classes = self.classes()
        per_class = {c.name: {"train": 0, "val": 0, "golden": 0, "total": 0} for c in classes}
        names = {c.id: c.name for c in classes}
        for class_id, split, n in self.db.execute(  # grouped by id: an index-only read (project_db.INDEXES)
                "SELECT label_id, split, COUNT(*) FROM samples WHERE status = 'labelled' AND label_id IS NOT NULL "
                "GROUP BY label_id, split"):
            name = names[class_id]
            if split in per_class[name]:
                per_class[name][split] += n
            per_class[name]["total"] += n
        totals = dict.fromkeys(STATUSES, 0)
        for status, n in self.db.execute("SELECT status, COUNT(*) FROM samples GROUP BY status"):
            totals[status] = n
        return {"per_class": per_class, **totals, "total": sum(totals.values())}

    def snapshot_hash(self, samples: Iterable[Sample] | None = None) -> str:
        """sha256 over sorted (image_hash, label, split) of labelled samples: names a dataset state."""
        if samples is None:
            samples = self.samples(status="labelled")
        rows = sorted((s.image_hash, s.label, s.split or "") for s in samples
                      if s.status == "labelled" and s.label is not None)
        h = hashlib.sha256()
        for row in rows:
            h.update("\t".join(row).encode("utf-8") + b"\n")
        return h.hexdigest()

    def audit(self, sample_id: int | None = None) -> list[AuditEntry]:
        """The sample rows of the audit trail (labels, statuses, splits); core/audit.py reads all of it."""
        rows = audit_log.rows(self.db, action="sample.")
        return [AuditEntry(r.id, r.detail.get("sample"), r.user, r.at, r.action[len("sample."):],
                           r.detail.get("old"), r.detail.get("new"))
                for r in rows if sample_id is None or r.detail.get("sample") == sample_id]


def _require_user(user: str | None) -> str:
    if not user or not str(user).strip():
        raise ProjectError("a user name is needed for every label and status change — pass who made it")
    return str(user)

