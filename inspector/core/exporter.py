"""Export labelled samples as an ImageFolder tree (dest/<class>/<hash16>.<ext>) that import reads back."""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from inspector.core.errors import ProjectError
from inspector.core.image_store import TEMP_PREFIX, fsync_dir, write_file_atomically
from inspector.core.class_style import UNLABELLED_FOLDER

# Marks a folder as ours: a later export may update it, and it lists the files it may remove.
MARKER = ".inspector-export.json"


def _read_marker(dest: Path) -> dict | None:
    try:
        return json.loads((dest / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_marker(dest: Path, info: dict) -> None:
    write_file_atomically(dest / MARKER, json.dumps(info, indent=2, sort_keys=True).encode("utf-8"))


def _copy_atomically(src: Path, final: Path) -> None:
    tmp = final.parent / f"{TEMP_PREFIX}{os.getpid()}-{final.name}.part"
    try:
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
            fout.flush()
            os.fsync(fout.fileno())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


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


def export_imagefolder(project, dest: str | Path, *, include_unlabelled: bool = False) -> dict:
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
        _copy_atomically(src, final)
        written += 1
    for rel in sorted(old_files - set(plan)):
        (dest / rel).unlink(missing_ok=True)
        removed += 1
    for folder in {(dest / rel).parent for rel in old_files - set(plan)}:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    for folder in {(dest / rel).parent for rel in plan}:
        fsync_dir(folder)

    snapshot = project.snapshot_hash()
    _write_marker(dest, dict(info, complete=True, files=sorted(plan), snapshot=snapshot, exported_at=time.time(),
                             per_class=per_class))
    return {"dest": str(dest), "total": len(plan), "written": written, "unchanged": unchanged,
            "removed": removed, "per_class": per_class, "snapshot": snapshot}
