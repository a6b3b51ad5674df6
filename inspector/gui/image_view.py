"""An image widget with an inspection overlay: verdict banner, region of interest, anomaly heatmap
and a few lines of figures. Paints on arrival; never decodes files itself."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

OK_COLOR = "#1e8e3e"
NG_COLOR = "#c5221f"
IDLE_COLOR = "#5f6368"


def to_qimage(img: np.ndarray) -> QImage:
    """RGB or grey uint8 array → QImage that owns its pixels (the array may go away)."""
    img = np.ascontiguousarray(img)
    if img.ndim == 2:
        h, w = img.shape
        return QImage(img.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    h, w, c = img.shape
    fmt = QImage.Format.Format_RGBA8888 if c == 4 else QImage.Format.Format_RGB888
    return QImage(img.data, w, h, w * c, fmt).copy()


def heatmap_rgba(score_map: np.ndarray) -> np.ndarray:
    """Anomaly map (0.5 = threshold) → RGBA: transparent where normal, yellow to red above."""
    v = np.clip(np.asarray(score_map, np.float32), 0.0, 1.0)
    t = np.clip((v - 0.3) / 0.4, 0.0, 1.0)  # 0 at 0.3, 1 at 0.7: the band around the threshold
    rgba = np.empty(v.shape + (4,), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 1] = (230 * (1 - t)).astype(np.uint8)
    rgba[..., 2] = 0
    rgba[..., 3] = (200 * t).astype(np.uint8)
    return rgba


class ImageView(QWidget):
    clicked = Signal(float, float)  # image pixel coordinates

    def __init__(self, placeholder: str = "No picture", parent: QWidget | None = None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 150)
        self.placeholder = placeholder
        self._image: QImage | None = None
        self._size = (0, 0)  # image h, w
        self._heat: QImage | None = None
        self.show_heatmap = True
        self._roi: tuple[int, int, int, int] | None = None
        self._banner: tuple[str, str, str] | None = None  # text, colour, subtitle
        self._info: list[str] = []
        self.banner_max = 110  # the banner's tallest (px); a station's side-by-side views use a smaller one

    def sizeHint(self) -> QSize:
        return QSize(640, 480)

    # -- content --------------------------------------------------------------------------------------
    def set_image(self, img: np.ndarray | None) -> None:
        self._image = None if img is None else to_qimage(img)
        self._size = (0, 0) if img is None else img.shape[:2]
        self.update()

    def set_heatmap(self, score_map: np.ndarray | None) -> None:
        self._heat = None if score_map is None else to_qimage(heatmap_rgba(score_map))
        self.update()

    def set_heatmap_visible(self, on: bool) -> None:
        self.show_heatmap = on
        self.update()

    def set_roi(self, roi: tuple[int, int, int, int] | None) -> None:
        self._roi = roi
        self.update()

    def set_banner(self, text: str | None, color: str = IDLE_COLOR, subtitle: str = "") -> None:
        self._banner = (text, color, subtitle) if text else None
        self.update()

    def set_info(self, lines: list[str]) -> None:
        self._info = list(lines)
        self.update()

    @property
    def banner_text(self) -> str:
        return "" if self._banner is None else " ".join(t for t in (self._banner[0], self._banner[2]) if t)

    # -- geometry -------------------------------------------------------------------------------------
    def _banner_height(self) -> int:
        return max(min(56, self.banner_max), min(self.banner_max, self.height() // 7)) if self._banner else 0

    def image_rect(self) -> QRectF:
        """Where the image is drawn: fitted below the banner, aspect kept, centred."""
        h, w = self._size
        top = self._banner_height()
        avail_w, avail_h = self.width(), max(1, self.height() - top)
        if not h or not w:
            return QRectF(0, top, avail_w, avail_h)
        s = min(avail_w / w, avail_h / h)
        dw, dh = w * s, h * s
        return QRectF((avail_w - dw) / 2, top + (avail_h - dh) / 2, dw, dh)

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        r = self.image_rect()
        h, w = self._size
        if h and r.contains(event.position()):
            self.clicked.emit((event.position().x() - r.x()) * w / r.width(),
                              (event.position().y() - r.y()) * h / r.height())
        super().mousePressEvent(event)

    # -- painting -------------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#202124"))
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        r = self.image_rect()
        if self._image is None:
            p.setPen(QColor("#bdc1c6"))
            f = QFont(self.font())
            f.setPointSizeF(f.pointSizeF() * 1.3)
            p.setFont(f)
            p.drawText(r, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
        else:
            p.drawImage(r, self._image)
            h, w = self._size
            sx, sy = r.width() / w, r.height() / h
            roi_rect = r if self._roi is None else QRectF(r.x() + self._roi[0] * sx, r.y() + self._roi[1] * sy,
                                                            self._roi[2] * sx, self._roi[3] * sy)
            if self._heat is not None and self.show_heatmap:
                p.drawImage(roi_rect, self._heat)
            if self._roi is not None:
                pen = QPen(QColor("#fbbc04"), 2, Qt.PenStyle.DashLine)
                p.setPen(pen)
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawRect(roi_rect)
        self._paint_banner(p)
        self._paint_info(p)
        p.end()

    def _paint_banner(self, p: QPainter) -> None:
        if not self._banner:
            return
        text, color, subtitle = self._banner
        bh = self._banner_height()
        p.fillRect(QRectF(0, 0, self.width(), bh), QColor(color))
        f = QFont(self.font())
        f.setBold(True)
        f.setPixelSize(int(bh * 0.62))
        p.setFont(f)
        p.setPen(QColor("white"))
        margin = 16
        text_w = p.fontMetrics().horizontalAdvance(text)
        p.drawText(QRectF(margin, 0, self.width() - 2 * margin, bh),
                   Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)
        if subtitle:
            f2 = QFont(self.font())
            f2.setPixelSize(max(14, int(bh * 0.3)))
            p.setFont(f2)
            left = margin * 2 + text_w
            room = max(10, self.width() - left - margin)
            # Too long for the room beside the verdict: cut at its end with "…", never at its start.
            subtitle = p.fontMetrics().elidedText(subtitle, Qt.TextElideMode.ElideRight, int(room))
            p.drawText(QRectF(left, 0, room, bh), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, subtitle)

    def _paint_info(self, p: QPainter) -> None:
        if not self._info:
            return
        f = QFont(self.font())
        p.setFont(f)
        fm = p.fontMetrics()
        lh = fm.height()
        w = max(fm.horizontalAdvance(t) for t in self._info) + 16
        h = lh * len(self._info) + 10
        box = QRectF(8, self.height() - h - 8, w, h)
        p.fillRect(box, QColor(0, 0, 0, 160))
        p.setPen(QColor("white"))
        for i, t in enumerate(self._info):
            p.drawText(QRectF(box.x() + 8, box.y() + 5 + i * lh, w, lh), Qt.AlignmentFlag.AlignVCenter, t)
