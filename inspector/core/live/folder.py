"""A hot folder as a source: images already in it (unless existing=0), then each new or rewritten
file once it has stopped changing, oldest first."""
from __future__ import annotations

import os
import time
from pathlib import Path

from inspector.core.errors import ImageDecodeError
from inspector.core.imageio import IMAGE_EXTENSIONS, decode_image, read_image_bytes
from inspector.core.live.sources import CorruptFrame, Source, SourceError


class FolderSource(Source):
    live = False  # files wait on disk: every one is inspected, none dropped
    backlog = True

    def __init__(self, path: str | Path, *, existing: bool = True, poll: float = 0.2, settle: float = 0.2):
        super().__init__()
        self.path = Path(path)
        self.name = str(self.path)
        self.existing = existing
        self.poll = max(0.01, float(poll))
        # A file is taken once unchanged for `settle` seconds: a camera or copy still writing it is
        # not read half-written (that would count as a corrupt frame).
        self.settle = max(0.0, float(settle))
        self._seen: dict[str, tuple[int, int]] = {}  # name -> (mtime_ns, size) already handed out
        self._ready: list[tuple[int, str]] = []
        self._first_scan = True

    def open(self) -> None:
        if not self.path.is_dir():
            raise SourceError(f"folder {self.path} is missing or not reachable — retrying")
        if self._first_scan and not self.existing:
            self._seen = {e.name: st for e, st in self._images()}
        self._first_scan = False

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
                    yield e, (st.st_mtime_ns, st.st_size)

    def _scan(self) -> None:
        now_ns = time.time_ns()
        present, new = set(), []
        queued = {name for _, name in self._ready}
        for e, st in self._images():
            present.add(e.name)
            if self._seen.get(e.name) == st or e.name in queued:
                continue
            if st[1] > 0 and now_ns - st[0] >= self.settle * 1e9:
                new.append((st[0], e.name))
                self._seen[e.name] = st
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
                _, name = self._ready.pop(0)
                try:
                    image = decode_image(read_image_bytes(self.path / name), name=name)
                except ImageDecodeError as e:
                    raise CorruptFrame(str(e), {"file": name}) from None
                except OSError as e:  # deleted or locked between scan and read
                    raise CorruptFrame(f"{name} cannot be read ({e.strerror})", {"file": name}) from None
                return image, {"file": name}
            left = deadline - time.perf_counter()
            if left <= 0:
                return None
            time.sleep(min(self.poll, left))
