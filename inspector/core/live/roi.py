"""A station's region of interest: the rectangle cropped from each frame before inference."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inspector.core.errors import ConfigError


@dataclass(frozen=True)
class Roi:
    x: int
    y: int
    w: int
    h: int

    @classmethod
    def parse(cls, text: str | tuple | list | None) -> "Roi | None":
        """"x,y,w,h" in pixels (or a 4-sequence); None or "" = the whole frame."""
        if text is None or text == "":
            return None
        if isinstance(text, Roi):
            return text
        parts = text.split(",") if isinstance(text, str) else list(text)
        try:
            x, y, w, h = (int(str(p).strip()) for p in parts)
        except ValueError:
            raise ConfigError(f"region {text!r} is not x,y,w,h — give four whole pixel numbers, e.g. 100,50,320,240") from None
        if x < 0 or y < 0 or w <= 0 or h <= 0:
            raise ConfigError(f"region {text!r} needs x, y >= 0 and a positive width and height")
        return cls(x, y, w, h)

    def clip(self, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
        """The part of the region inside a frame of this shape, as (x, y, w, h)."""
        fh, fw = int(shape[0]), int(shape[1])
        x0, y0 = min(self.x, fw), min(self.y, fh)
        x1, y1 = min(self.x + self.w, fw), min(self.y + self.h, fh)
        if x1 - x0 < 8 or y1 - y0 < 8:
            raise ConfigError(f"region {self} lies outside the {fw}×{fh} frame — draw it inside the image")
        return x0, y0, x1 - x0, y1 - y0

    def crop(self, image: np.ndarray) -> np.ndarray:
        x, y, w, h = self.clip(image.shape)
        return image[y:y + h, x:x + w]

    def __str__(self) -> str:
        return f"{self.x},{self.y},{self.w},{self.h}"
