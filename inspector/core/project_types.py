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


@dataclass(frozen=True)
class RecoveryReport:
    """What Project.open cleaned up after a crash, and stored rows whose image file is gone."""
    removed_temp: int = 0
    removed_orphans: int = 0
    missing_files: list[str] = field(default_factory=list)
