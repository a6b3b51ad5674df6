"""Durable file writes for the content-addressed image store, and the cleanup a crash may need."""
from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

TEMP_PREFIX = ".tmp-"
_IMAGE_NAME = re.compile(r"^[0-9a-f]{64}\.[A-Za-z0-9]+$")


def fsync_dir(path: Path) -> None:
    # Makes a rename durable on power loss; not possible on Windows, where it is not needed.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_file_atomically(final: Path, data: bytes) -> None:
    """Write to a temp file beside final, fsync, rename into place, fsync the folder."""
    tmp = final.parent / f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}.part"
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(final.parent)


def clean_image_dir(images_dir: Path, known: set[str]) -> tuple[int, int, set[str]]:
    """Delete temp files and stored-image files ("<hash>.<ext>") not in known; other files are left alone.
    Returns (temp files removed, orphans removed, names of known files that are present)."""
    removed_temp = removed_orphans = 0
    present: set[str] = set()
    for sub in images_dir.iterdir():
        for f in (sub.iterdir() if sub.is_dir() else [sub]):
            if f.name.startswith(TEMP_PREFIX) and f.is_file():
                f.unlink(missing_ok=True)
                removed_temp += 1
            elif sub.is_dir() and f.name[:2] == sub.name and _IMAGE_NAME.match(f.name):
                if f.name in known:
                    present.add(f.name)
                else:
                    f.unlink(missing_ok=True)
                    removed_orphans += 1
    return removed_temp, removed_orphans, present
