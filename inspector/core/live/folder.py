"""A hot folder as a source: images already in it (unless existing=0), then each new or rewritten
file once it has stopped changing, oldest first.

Each file is handed out once, across restarts too: with done=1 it is moved to <folder>/done/ once
read; otherwise the folder's memory (folder_state.py) skips what an earlier run inspected. A scan
lists the folder only when its modification time changed, a file is still settling, or every
`rescan` seconds (a file rewritten in place does not touch the folder's time) — one stat per poll
instead of one per file."""
from __future__ import annotations

import os
import time
from pathlib import Path

from inspector.core.errors import ImageDecodeError
from inspector.core.imageio import IMAGE_EXTENSIONS, decode_image, read_image_bytes
from inspector.core.live.folder_state import SeenMemory, arrival_stamp
from inspector.core.live.source_base import CorruptFrame, Source, SourceError

DONE_DIR = "done"


class FolderSource(Source):
    live = False  # files wait on disk: every one is inspected, none dropped
    backlog = True

    def __init__(self, path: str | Path, *, existing: bool = True, poll: float = 0.2, settle: float = 0.2,
                 done: bool = False, remember: bool = True, rescan: float = 2.0):
        super().__init__()
        self.path = Path(path)
        self.name = str(self.path)
        self.existing = existing
        self.poll = max(0.01, float(poll))
        # A file is taken once unchanged for `settle` seconds: a camera or copy still writing it is
        # not read half-written (that would count as a corrupt frame).
        self.settle = max(0.0, float(settle))
        self.done = done
        self.rescan = max(self.poll, float(rescan))
        self.memory = SeenMemory(self.path, persist=remember and not done)
        self._seen: dict[str, tuple[int, int]] = {}  # name -> (arrival stamp ns, size) already handed out
        self._ready: list[tuple[int, str]] = []
        self._first_scan = True
        self._dir_mtime = None
        self._listed_at = 0.0
        self._settling = False  # a file was seen that had not settled yet: look again next poll
        self.moved = 0

    def open(self) -> None:
        if not self.path.is_dir():
            raise SourceError(f"folder {self.path} is missing or not reachable — retrying")
        if self.done:
            try:
                (self.path / DONE_DIR).mkdir(exist_ok=True)
            except OSError as e:
                raise SourceError(f"folder {self.path / DONE_DIR} cannot be made ({e.strerror}) — give a "
                                  "folder Inspector may write to, or leave out done=1") from None
        if self._first_scan and not self.existing:
            self._seen = {e.name: st for e, st in self._images()}
            for name, (stamp, _) in self._seen.items():
                self.memory.remember(name, stamp)
        self._first_scan = False

    def close(self) -> None:
        self.memory.save(force=True)

    def _images(self):
        try:
            entries = list(os.scandir(self.path))
        except OSError as e:
            raise SourceError(f"folder {self.path} cannot be listed ({e.strerror}) — retrying") from None
        for e in entries:
            if os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS and not e.name.startswith("."):
                try:
                    st = e.stat()
                except OSError:  # removed between listing and stat
                    continue
                if e.is_file():
                    yield e, (arrival_stamp(st), st.st_size)

    def _changed(self) -> bool:
        """Whether listing the folder can find anything new (one stat instead of one per file)."""
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except OSError as e:
            raise SourceError(f"folder {self.path} is not reachable ({e.strerror}) — retrying") from None
        now = time.monotonic()
        if mtime != self._dir_mtime or self._settling or now - self._listed_at >= self.rescan:
            self._dir_mtime, self._listed_at = mtime, now
            return True
        return False

    def _scan(self) -> None:
        if not self._changed():
            return
        now_ns = time.time_ns()
        present, new = set(), []
        queued = {name for _, name in self._ready}
        self._settling = False
        for e, st in self._images():
            present.add(e.name)
            if self._seen.get(e.name) == st or e.name in queued:
                continue
            if self.memory.already(e.name, st[0]):  # inspected by an earlier run
                self._seen[e.name] = st
                continue
            if st[1] > 0 and now_ns - st[0] >= self.settle * 1e9:
                new.append((st[0], e.name))
                self._seen[e.name] = st
            else:
                self._settling = True
        # forget files that went away, so the memory stays the size of the folder
        for name in [n for n in self._seen if n not in present]:
            del self._seen[name]
        self._ready = sorted(self._ready + new)

    def read(self, timeout: float = 0.5):
        deadline = time.perf_counter() + timeout
        while True:
            if not self._ready:
                self._scan()
            if self._ready:
                stamp, name = self._ready.pop(0)
                try:
                    try:
                        image = decode_image(read_image_bytes(self.path / name), name=name)
                    finally:  # read or not, this file has had its turn (a corrupt one gets a not_inspected row)
                        self._handed_out(name, stamp)
                except ImageDecodeError as e:
                    raise CorruptFrame(str(e), {"file": name}) from None
                except OSError as e:  # deleted or locked between scan and read
                    raise CorruptFrame(f"{name} cannot be read ({e.strerror})", {"file": name}) from None
                return image, {"file": name}
            self.memory.save()
            left = deadline - time.perf_counter()
            if left <= 0:
                return None
            time.sleep(min(self.poll, left))

    def _handed_out(self, name: str, stamp: int) -> None:
        if self.done and self._move_to_done(name):
            self._seen.pop(name, None)
            return
        self.memory.remember(name, stamp)

    def _move_to_done(self, name: str) -> bool:
        """done/<name>, or done/<stem>-<n><ext> when that name is taken (a camera reusing names)."""
        src, stem, ext = self.path / name, *os.path.splitext(name)
        for n in range(1000):
            dst = self.path / DONE_DIR / (name if n == 0 else f"{stem}-{n}{ext}")
            if dst.exists():
                continue
            try:
                os.rename(src, dst)  # same folder tree: a rename, never a copy; refuses to overwrite on Windows
            except FileExistsError:
                continue
            except OSError:  # locked by the writer (Windows) or gone: remembered instead of moved
                return False
            self.moved += 1
            return True
        return False
