"""Moving things out of a project without deleting them: what opening a project finds that its
database does not know (an image file without a row, a model folder without a row, an unfinished
write) goes to <project>/quarantine/<time>/<its path in the project>, and is listed in a report.
Restoring an older project.sqlite from a backup therefore never loses the newer images and models:
they wait in quarantine until someone looks."""
from __future__ import annotations

import os
import time
from pathlib import Path

from inspector.core.durable import fsync_dir

QUARANTINE_DIR = "quarantine"


class Quarantine:
    """One quarantine folder, made on the first move: <root>/quarantine/<YYYYmmdd-HHMMSS>[-n]/."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.folder: Path | None = None
        self.moved: list[str] = []  # paths relative to root, as they were before the move

    def _make_folder(self) -> Path:
        base = self.root / QUARANTINE_DIR
        base.mkdir(exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for n in range(1000):
            folder = base / (stamp if n == 0 else f"{stamp}-{n}")
            try:
                folder.mkdir()
            except FileExistsError:
                continue
            return folder
        raise OSError(f"cannot make a new folder in {base}")

    def move(self, path: Path) -> Path:
        """Move a file or folder inside root to the same relative place in the quarantine folder."""
        rel = Path(path).relative_to(self.root)
        if self.folder is None:
            self.folder = self._make_folder()
        dest = self.folder / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, dest)
        fsync_dir(dest.parent)
        fsync_dir(Path(path).parent)
        self.moved.append(rel.as_posix())
        return dest
