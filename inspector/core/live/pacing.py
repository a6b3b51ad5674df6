"""When to read a source that waits for us (a file, a full-speed synthetic line): just in time for the
model, so that a frame is fresh when its turn comes and the model is never kept waiting."""
from __future__ import annotations

import threading
import time

from inspector.core.live.latest import FrameBuffer


class ReadPacer:
    def __init__(self) -> None:
        self.infer_s = 0.0  # seconds per inference call, smoothed
        self.read_s = 0.0  # seconds per source read, smoothed
        self.lead = 0.002  # how early a waiting source is read before the model needs the frame

    def inferred(self, seconds: float) -> None:
        self.infer_s = _ema(self.infer_s, seconds)

    def read(self, seconds: float) -> None:
        self.read_s = _ema(self.read_s, seconds)

    def wait_until_needed(self, buffer: FrameBuffer, stop: threading.Event) -> None:
        """Read when the frame being inferred is about to finish, not as soon as it was taken: then
        frame-to-verdict ≈ read + inference, not two inferences; the read starts a margin early."""
        if buffer.capacity != 1 or not self.infer_s:
            return
        due = buffer.last_take + self.infer_s - self.read_s - self.lead
        delay = due - time.perf_counter()
        if delay > 0:
            stop.wait(min(delay, 1.0))

    def adapt(self, buffer: FrameBuffer) -> None:
        """The lead follows how late frames were: the model waited → read earlier (a busy PC wakes the
        reader late); it did not → creep back, keeping frames fresh."""
        if buffer.capacity != 1:
            return
        if buffer.last_wait > 0.0005:
            self.lead = min(self.lead + 0.5 * buffer.last_wait, self.infer_s)
        else:
            self.lead = max(0.002, self.lead * 0.9)


def _ema(old: float, new: float, k: float = 0.1) -> float:
    return new if not old else old + k * (new - old)
