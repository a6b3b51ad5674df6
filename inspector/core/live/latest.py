"""Frames waiting for inference: the newest-frame slot of a live source (old frames are dropped and
counted), or a short blocking queue for sources that can wait (files, folders, full-speed synthetic)."""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from inspector.core.live.frames import Frame


class FrameBuffer:
    """capacity 1 + drop_oldest: the consumer always gets the newest frame, never a backlog.
    drop_oldest=False: put() waits for room instead (back-pressure), so nothing is dropped.
    on_drop(frame, reason): told of every frame that will not be taken — "queue_full" (pushed out by
    a newer one) or "stopping" (put after close, or discarded) — so a triggered part still gets a row."""

    def __init__(self, capacity: int = 1, drop_oldest: bool = True,
                 on_drop: Callable[[Frame, str], None] | None = None):
        self.capacity = max(1, int(capacity))
        self.drop_oldest = drop_oldest
        self.on_drop = on_drop
        self.dropped = 0
        self.last_take = 0.0  # perf_counter() when the consumer last took frames
        self.last_wait = 0.0  # seconds that take had to wait for them
        self._items: deque[Frame] = deque()
        self._cond = threading.Condition()
        self._closed = False

    def put(self, frame: Frame) -> bool:
        """Add a frame; False when the buffer was closed (the frame is not kept, and counts as dropped)."""
        with self._cond:
            if self._closed:  # stopping: the frame will not be inspected (those waiting still are)
                self._dropped(frame, "stopping")
                return False
            if self.drop_oldest:
                while len(self._items) >= self.capacity:
                    self._dropped(self._items.popleft(), "queue_full")
            else:
                while len(self._items) >= self.capacity and not self._closed:
                    self._cond.wait(0.1)
                if self._closed:
                    self._dropped(frame, "stopping")
                    return False
            self._items.append(frame)
            self._cond.notify_all()
        return True

    def take(self, max_n: int = 1, timeout: float | None = None) -> list[Frame]:
        """Up to max_n frames, oldest first; waits up to timeout for the first. [] on timeout, or
        when closed and empty (the consumer's signal to finish)."""
        with self._cond:
            t0 = time.perf_counter()
            if not self._items and not self._closed:
                self._cond.wait_for(lambda: self._items or self._closed, timeout)
            out = []
            while self._items and len(out) < max_n:
                out.append(self._items.popleft())
            if out:
                self.last_take = time.perf_counter()
                self.last_wait = self.last_take - t0
                self._cond.notify_all()  # a producer may be waiting for room
            return out

    def wait_room(self, timeout: float) -> bool:
        """Wait until a put() would not block; False on timeout or when closed. A source that can
        wait reads its next frame only then, so the frame is fresh when inference gets to it."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self._items) < self.capacity or self._closed,
                                       timeout) and not self._closed

    def close(self) -> None:
        """No more frames will come; what is waiting can still be taken."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def discard(self) -> int:
        """Drop what is waiting (a stop that does not drain); returns how many."""
        with self._cond:
            n = len(self._items)
            while self._items:
                self._dropped(self._items.popleft(), "stopping")
            self._cond.notify_all()
            return n

    def count_dropped(self) -> None:
        """A frame that never reached put() (read as the run stopped): counted, not handed on."""
        with self._cond:
            self.dropped += 1

    def _dropped(self, frame: Frame, reason: str) -> None:
        self.dropped += 1
        if self.on_drop is not None:
            self.on_drop(frame, reason)

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)
