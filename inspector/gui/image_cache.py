"""Sample images for the review queue, decoded on a worker thread: thumbnails (kept) and large
views (the last few). `loaded` tells the panel when pictures arrived."""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap

from inspector.gui.image_view import to_qimage
from inspector.core.ops.images import decode_images
from inspector.gui.tasks import task

THUMB = 96
LARGE = 1024


class ImageCache(QObject):
    thumbs_loaded = Signal()
    image_loaded = Signal(int)

    def __init__(self, runner, parent: QObject | None = None):
        super().__init__(parent)
        self.runner = runner
        self.icons: dict[int, QIcon] = {}
        blank = QPixmap(THUMB, THUMB)
        blank.fill(QColor("#dadce0"))
        self.placeholder = QIcon(blank)  # same size as a thumbnail, so the list lays out right at once
        self.large: OrderedDict[int, np.ndarray] = OrderedDict()
        self._thumb_task = None
        self._thumb_wanted: list[tuple[int, Path]] = []
        self._large_task = None
        self._large_wanted: list[tuple[int, Path]] = []

    # -- thumbnails ---------------------------------------------------------------------------------
    def want_thumbs(self, items: list[tuple[int, Path]]) -> None:
        """Thumbnails of exactly these samples are kept (a shift's flagged parts must not pile up)."""
        keep = {i for i, _ in items}
        for i in [i for i in self.icons if i not in keep]:
            del self.icons[i]
        self._thumb_wanted = [(i, p) for i, p in items if i not in self.icons]
        self._next_thumbs()

    def _next_thumbs(self) -> None:
        if self._thumb_task is not None or not self._thumb_wanted:
            return
        batch, self._thumb_wanted = self._thumb_wanted[:48], self._thumb_wanted[48:]
        self._thumb_task = self.runner.run(task(decode_images, batch, THUMB), "thumbnails",
                                           on_result=self._got_thumbs, on_finished=self._thumbs_done)

    def _got_thumbs(self, images: dict[int, np.ndarray]) -> None:
        for i, img in images.items():
            self.icons[i] = QIcon(QPixmap.fromImage(to_qimage(img)))
        self.thumbs_loaded.emit()

    def _thumbs_done(self) -> None:
        self._thumb_task = None
        self._next_thumbs()

    # -- large views ----------------------------------------------------------------------------------
    def want_large(self, items: list[tuple[int, Path]]) -> None:
        """First item is the one on screen; the rest are prefetched."""
        self._large_wanted = [(i, p) for i, p in items if i not in self.large]
        self._next_large()

    def _next_large(self) -> None:
        if self._large_task is not None or not self._large_wanted:
            return
        batch, self._large_wanted = self._large_wanted, []
        self._large_task = self.runner.run(task(decode_images, batch, LARGE), "review-image",
                                           on_result=self._got_large, on_finished=self._large_done)

    def _got_large(self, images: dict[int, np.ndarray]) -> None:
        for i, img in images.items():
            self.large[i] = img
            self.large.move_to_end(i)
            while len(self.large) > 12:
                self.large.popitem(last=False)
            self.image_loaded.emit(i)

    def _large_done(self) -> None:
        self._large_task = None
        self._next_large()
