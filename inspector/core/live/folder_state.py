"""What a hot folder already handed out, remembered across restarts, so a restarted line goes on where
it stopped instead of inspecting every file again.

A file's arrival stamp is max(mtime, ctime): a copy that keeps its old modification time (Explorer and
`cp -p` do) still gets a fresh ctime (Windows: creation time; POSIX: inode change) when it lands. Files
are handed out in stamp order, so the memory is a watermark — the newest stamp handed out — plus the
names handed out at exactly that stamp: a few dozen bytes, however many files the folder holds. It is
saved (durably, at most once a second, and on close) as <folder>/.inspector-seen.json; a folder that
cannot be written to (a read-only share) is remembered for this run only.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from inspector.core import durable

STATE_FILE = ".inspector-seen.json"
SAVE_EVERY_S = 1.0


def arrival_stamp(st) -> int:
    return max(st.st_mtime_ns, st.st_ctime_ns)


class SeenMemory:
    def __init__(self, folder: Path, *, persist: bool = True):
        self.path = Path(folder) / STATE_FILE
        self.persist = persist
        self.watermark_ns = -1
        self.at_mark: set[str] = set()
        self._dirty = False
        self._saved_at = 0.0
        if persist:
            self._load()

    def _load(self) -> None:
        try:
            obj = json.loads(self.path.read_text(encoding="utf-8"))
            mark = int(obj["watermark_ns"])
            names = {str(n) for n in obj.get("at_watermark", [])}
        except FileNotFoundError:
            return
        except (OSError, ValueError, TypeError, KeyError):
            # a damaged memory: start from nothing (every file inspected again), never stop the line
            return
        self.watermark_ns, self.at_mark = mark, names

    def already(self, name: str, stamp: int) -> bool:
        return stamp < self.watermark_ns or (stamp == self.watermark_ns and name in self.at_mark)

    def remember(self, name: str, stamp: int) -> None:
        if stamp > self.watermark_ns:
            self.watermark_ns, self.at_mark = stamp, {name}
        elif stamp == self.watermark_ns:
            self.at_mark.add(name)
        else:
            return
        self._dirty = True
        self.save()

    def save(self, force: bool = False) -> None:
        if not (self.persist and self._dirty):
            return
        now = time.monotonic()
        if not force and now - self._saved_at < SAVE_EVERY_S:
            return
        try:
            durable.write_json(self.path, {"version": 1, "watermark_ns": self.watermark_ns,
                                           "at_watermark": sorted(self.at_mark)})
        except OSError:
            self.persist = False  # read-only folder: remember for this run only
            return
        self._dirty, self._saved_at = False, now
