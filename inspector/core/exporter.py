"""Export labelled samples as an ImageFolder tree (dest/<class>/<hash16>.<ext>) that import reads back."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

from inspector.core import durable
from inspector.core.errors import ProjectError
from inspector.core.class_style import UNLABELLED_FOLDER

# Marks a folder as ours: a later export may update it, and it lists the files it may remove. Every name
# in it is checked (_safe_path) before anything is written or removed: the folder is not trusted.
MARKER = ".inspector-export.json"
TEMP_PREFIX = durable.TEMP_PREFIX


_DRIVE = re.compile(r"^[A-Za-z]:")


def _bad_name(rel) -> str | None:
    """Why rel may not name a file of an export, or None. An export holds <folder>/<file> only: no
    absolute paths, drive letters (C:), backslashes, '..' or '.' parts, colons (NTFS streams), NULs."""
    if not isinstance(rel, str) or not rel:
        return "it is not a file name"
    if rel.startswith("/") or _DRIVE.match(rel) or "\\" in rel or ":" in rel or "\0" in rel:
        return "it is an absolute path or has a drive letter, '\\', ':' or NUL in it"
    parts = rel.split("/")
    if len(parts) != 2 or any(p in ("", ".", "..") or p.startswith(TEMP_PREFIX) for p in parts):
        return "it is not of the form <folder>/<file> inside the export"
    return None


def _safe_path(dest: Path, rel: str, where: str) -> Path:
    """dest/rel after checking that it stays inside dest: a safe name, and no symbolic link on the way
    (a link could point anywhere, so writing or removing through one could touch files elsewhere)."""
    why = _bad_name(rel)
    if why is None:
        folder = dest / rel.split("/")[0]
        final = dest / rel
        if folder.is_symlink() or final.is_symlink():
            why = "it is (or is inside) a symbolic link"
        elif folder.exists() and not folder.is_dir():
            why = f"{folder.name} is a file, not a folder"
    if why is not None:
        shown = repr(rel if len(repr(rel)) <= 80 else f"{str(rel)[:60]}…")
        raise ProjectError(f"{where} names {shown}, which would leave the export folder {dest} ({why}) — "
                           "refusing to write or remove anything; export to a new or empty folder")
    return dest / rel


def _read_marker(dest: Path) -> dict | None:
    marker = dest / MARKER
    if marker.is_symlink():
        raise ProjectError(f"{marker} is a symbolic link, not an Inspector export marker — "
                           "export to a new or empty folder")
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or not isinstance(info.get("files", []), list):
        raise ProjectError(f"{marker} is not a valid Inspector export marker — export to a new or empty folder")
    for rel in info.get("files", []):
        _safe_path(dest, rel, f"its export marker {MARKER}")
    return info


def _write_marker(dest: Path, info: dict) -> None:
    durable.write_json(dest / MARKER, info)


def _check_dest(project, dest: Path) -> dict | None:
    if dest.exists() and not dest.is_dir():
        raise ProjectError(f"{dest} is a file — give a new or empty folder to export into")
    root = project.root.resolve()
    d = dest.resolve()
    if d == root or root in d.parents:
        raise ProjectError(f"{dest} is inside the project folder — export to a folder outside {root}")
    if not dest.exists():
        return None
    previous = _read_marker(dest)
    if previous is None and any(not p.name.startswith(".") for p in dest.iterdir()):
        raise ProjectError(f"{dest} is not empty and is not an earlier Inspector export — "
                           "choose a new or empty folder")
    return previous


def export_imagefolder(project, dest: str | Path, *, include_unlabelled: bool = False, user: str | None = None) -> dict:
    """Copy labelled, non-discarded samples to dest/<class>/<hash16>.<ext> (unlabelled ones to
    dest/_unlabelled/ when asked). Re-exporting into an earlier export updates it: unchanged files
    stay, files of samples that moved or left are removed."""
    dest = Path(dest).expanduser()
    previous = _check_dest(project, dest)
    plan: dict[str, Path] = {}
    per_class: dict[str, int] = {c.name: 0 for c in project.classes()}
    samples = [(s, s.label) for s in project.samples(status="labelled")]
    if include_unlabelled:
        samples += [(s, UNLABELLED_FOLDER) for s in project.samples(status="unreviewed")]
    for s, folder in samples:
        rel = f"{folder}/{s.image_hash[:16]}.{s.ext}"
        if rel in plan:  # two different images sharing 64 hash bits: keep both under full names
            rel = f"{folder}/{s.image_hash}.{s.ext}"
        _safe_path(dest, rel, f"sample #{s.id} of the project")
        plan[rel] = project.image_path(s)
        if folder in per_class:
            per_class[folder] += 1
    old_files = set(previous.get("files", [])) if previous else set()

    dest.mkdir(parents=True, exist_ok=True)
    # Written before any image: if the export is interrupted, the folder is still known as ours.
    info = {"format": "inspector-imagefolder", "version": 1, "project": project.name, "complete": False,
            "files": sorted(old_files | set(plan))}
    _write_marker(dest, info)

    written = unchanged = removed = 0
    for rel, src in plan.items():
        final = dest / rel
        final.parent.mkdir(exist_ok=True)
        if final.is_file() and final.stat().st_size == src.stat().st_size:
            unchanged += 1
            continue
        durable.copy_file(src, final)
        written += 1
    for rel in sorted(old_files - set(plan)):
        _safe_path(dest, rel, "the earlier export's marker").unlink(missing_ok=True)
        removed += 1
    for folder in {(dest / rel).parent for rel in old_files - set(plan)}:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    for folder in {(dest / rel).parent for rel in plan}:
        durable.fsync_dir(folder)

    snapshot = project.snapshot_hash()
    from inspector.core.audit import os_user

    who = user or getattr(project, "actor", None) or os_user()  # the account, not free text
    _write_marker(dest, dict(info, complete=True, files=sorted(plan), snapshot=snapshot, exported_at=time.time(),
                             exported_by=who, per_class=per_class))
    project.record("export", {"dest": str(dest), "total": len(plan), "snapshot": snapshot}, who)
    return {"dest": str(dest), "total": len(plan), "written": written, "unchanged": unchanged,
            "removed": removed, "per_class": per_class, "snapshot": snapshot}
