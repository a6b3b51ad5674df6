"""The plain records a project hands out: classes, samples, add results, audit rows."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ClassInfo:
    id: int
    name: str
    kind: str  # "ok" | "defect"
    color: str  # "#rrggbb"
    shortcut: str | None  # one key


@dataclass(frozen=True)
class Sample:
    id: int
    image_hash: str
    ext: str  # without the dot, lower case: "png"
    width: int
    height: int
    source: str
    captured_at: float | None
    added_at: float
    label: str | None
    labelled_by: str | None
    labelled_at: float | None
    status: str  # "unreviewed" | "labelled" | "discarded"
    split: str | None  # "train" | "val" | "golden"
    suggestion: str | None
    suggestion_score: float | None
    byte_size: int = 0


@dataclass(frozen=True)
class AddResult:
    sample_id: int
    image_hash: str
    duplicate: bool


@dataclass(frozen=True)
class AuditEntry:
    id: int
    sample_id: int
    user: str
    at: float
    field: str  # "label" | "status" | "split"
    old: str | None
    new: str | None


@dataclass
class RecoveryReport:
    """What opening a project found that its database does not know, and what it did about it.
    Nothing is deleted: every such file or folder was moved to a quarantine folder (see
    core/quarantine.py); stored rows whose image file is gone are listed too."""
    temp_files: int = 0  # unfinished writes left by a crash
    orphan_images: int = 0  # image files without a sample row (a crash mid-add, or an older database)
    orphan_models: list[str] = field(default_factory=list)  # model folders without a row, e.g. ["v7"]
    missing_files: list[str] = field(default_factory=list)  # "<hash>.<ext>" of rows whose file is gone
    moved: list[str] = field(default_factory=list)  # paths relative to the project, as they were
    quarantine: list[str] = field(default_factory=list)  # the quarantine folders used, relative to the project

    def add(self, other: "RecoveryReport") -> None:
        self.temp_files += other.temp_files
        self.orphan_images += other.orphan_images
        self.orphan_models += other.orphan_models
        self.missing_files += [m for m in other.missing_files if m not in self.missing_files]
        self.moved += other.moved
        self.quarantine += [q for q in other.quarantine if q not in self.quarantine]

    def line(self) -> str | None:
        """One line for the CLI and the GUI's status bar; None when there is nothing to say."""
        parts = []
        if self.moved:
            what = []
            if self.orphan_images:
                what.append(f"{self.orphan_images} image file(s) without a database row")
            if self.orphan_models:
                what.append(f"model folder(s) {', '.join(self.orphan_models)} without a database row")
            if self.temp_files:
                what.append(f"{self.temp_files} unfinished write(s)")
            parts.append(f"moved {' and '.join(what)} to {', '.join(self.quarantine)} — nothing was deleted; "
                         "look there if the database was restored from a backup, else delete that folder")
        if self.missing_files:
            parts.append(f"{len(self.missing_files)} stored image(s) are missing from images/ — "
                         "restore the images folder from a backup")
        return ("project recovery: " + "; ".join(parts)) if parts else None
