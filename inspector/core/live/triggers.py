"""When a frame is inspected: every frame (free), at most every MS milliseconds (interval), only on
request (software), or once per arriving part (presence: a change detector on a region)."""
from __future__ import annotations

import cv2
import numpy as np

from inspector.core.errors import ConfigError
from inspector.core.live.frames import Frame
from inspector.core.live.roi import Roi


class Trigger:
    name = "free"
    # fire() looks at the picture: a frame that could not be decoded never fires it (and a PLC request
    # waits for the next good frame); the others fire on it too, and the part is logged not inspected
    needs_picture = False

    def fire(self, frame: Frame) -> bool:
        return True

    def __str__(self) -> str:
        return self.name


class IntervalTrigger(Trigger):
    def __init__(self, ms: float):
        if ms <= 0:
            raise ConfigError(f"trigger interval {ms} ms must be positive, e.g. interval:500")
        self.period = ms / 1000.0
        self.name = f"interval:{ms:g}"
        self._last: float | None = None

    def fire(self, frame: Frame) -> bool:
        if self._last is None or frame.t - self._last >= self.period:
            self._last = frame.t
            return True
        return False


class SoftwareTrigger(Trigger):
    """Fires only on request: LivePipeline.trigger() (a call, or a key in the GUI). Every pipeline
    takes such requests on top of its own trigger; this one fires on nothing else."""

    name = "software"

    def fire(self, frame: Frame) -> bool:
        return False


class PresenceTrigger(Trigger):
    """A part arriving in `region` changes it against the learnt empty background. The trigger fires
    once per arrival, on the first frame where the changed area stops growing (the part has
    arrived, or is centred on a moving belt), and re-arms when the region is empty again.

    The background is the first frame (start on an empty belt) and then follows slow light drift
    while the region is empty. A still scene becomes the new background — after `settle` frames when
    little changed (below `on`: debris left behind), after `relearn` frames otherwise (the start
    frame had a part in view, or the belt stopped with a part under the camera; when that part
    leaves, the trigger fires once on the empty belt, then relearns it)."""

    needs_picture = True

    def __init__(self, region: Roi | None = None, *, on: float = 0.2, off: float = 0.05, level: int = 30,
                 width: int = 64, adapt: float = 0.05, settle: int = 3, relearn: int = 50):
        if not 0 < off < on < 1:
            raise ConfigError("presence thresholds need 0 < off < on < 1 (fractions of the region that changed)")
        self.region, self.on, self.off, self.level, self.width = region, on, off, level, width
        self.adapt, self.settle, self.relearn = adapt, settle, relearn
        self.name = f"presence:{region}" if region else "presence"
        self._bg: np.ndarray | None = None
        self._last: np.ndarray | None = None
        self._still = 0
        self._present = False
        self._fired = False
        self._prev = 0.0
        self.coverage = 0.0  # the changed fraction of the region in the last frame (for a GUI meter)

    def _small(self, image: np.ndarray) -> np.ndarray:
        if self.region is not None:
            image = self.region.crop(image)
        h, w = image.shape[:2]
        size = (self.width, max(4, round(h * self.width / w)))
        g = cv2.cvtColor(cv2.resize(image, size, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
        return cv2.GaussianBlur(g.astype(np.float32), (3, 3), 0)

    def _changed(self, a: np.ndarray, b: np.ndarray) -> float:
        return float(np.mean(np.abs(a - b) > self.level))

    def fire(self, frame: Frame) -> bool:
        g = self._small(frame.image)
        if self._bg is None or self._bg.shape != g.shape:
            self._bg, self._last = g, g
            return False
        cover = self._changed(g, self._bg)
        moving = self._changed(g, self._last) >= self.off / 2
        self._last = g
        self._still = 0 if moving else self._still + 1
        self.coverage = cover
        if not self._present:
            if cover >= self.on:
                self._present, self._fired, self._prev = True, False, cover
            else:
                self._bg += self.adapt * (g - self._bg)
            return False
        if cover < self.off or self._still >= (self.settle if cover < self.on else self.relearn):
            if cover >= self.off:
                self._bg = g.copy()  # what is left in view is the new empty scene
            self._present = False
            return False
        if not self._fired and cover <= self._prev + 0.002:
            self._fired = True
            return True
        self._prev = max(self._prev, cover)
        return False


def parse_trigger(spec: str | Trigger | None) -> Trigger:
    """free | interval:MS | software | presence | presence:x,y,w,h"""
    if isinstance(spec, Trigger):
        return spec
    spec = (spec or "free").strip().lower()
    if spec == "free":
        return Trigger()
    if spec == "software":
        return SoftwareTrigger()
    if spec.startswith("interval:"):
        try:
            return IntervalTrigger(float(spec.split(":", 1)[1]))
        except ValueError:
            raise ConfigError(f"trigger {spec!r}: the interval must be milliseconds, e.g. interval:500") from None
    if spec == "presence" or spec.startswith("presence:"):
        return PresenceTrigger(Roi.parse(spec.split(":", 1)[1]) if ":" in spec else None)
    raise ConfigError(f"trigger {spec!r} is not known — use free, interval:MS, software or presence[:x,y,w,h]")
