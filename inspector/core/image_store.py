"""The content-addressed image store's files: durable writes, and what a crash or an older
database may leave (moved to quarantine on open, never deleted)."""
from __future__ import annotations

import re
from pathlib import Path

from inspector.core.durable import TEMP_PREFIX, fsync_dir, write_bytes
from inspector.core.quarantine import Quarantine

__all__ = ["TEMP_PREFIX", "fsync_dir", "write_file_atomically", "quarantine_image_dir"]

_IMAGE_NAME = re.compile(r"^[0-9a-f]{64}\.[A-Za-z0-9]+$")

# The name callers have used for durable writes since before core/durable.py; one implementation.
write_file_atomically = write_bytes


def quarantine_image_dir(images_dir: Path, known: set[str], quarantine: Quarantine) -> tuple[int, int, set[str]]:
    """Move temp files and stored-image files ("<hash>.<ext>") not in known into quarantine; other
    files are left alone. Returns (temp files moved, orphans moved, names of known files present)."""
    temp = orphans = 0
    present: set[str] = set()
    for sub in sorted(images_dir.iterdir()):
        for f in (sorted(sub.iterdir()) if sub.is_dir() else [sub]):
            if f.name.startswith(TEMP_PREFIX) and f.is_file():
                quarantine.move(f)
                temp += 1
            elif sub.is_dir() and f.name[:2] == sub.name and _IMAGE_NAME.match(f.name):
                if f.name in known:
                    present.add(f.name)
                else:
                    quarantine.move(f)
                    orphans += 1
    return temp, orphans, present
