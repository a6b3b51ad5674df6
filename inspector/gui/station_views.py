"""The Live tab's picture for a multi-camera station: the part's verdict in large on top (NG if any
view said NG, not inspected naming the view that gave no verdict), and under it the views side by
side, each with its own picture, verdict banner, region and heatmap."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from inspector.gui.image_view import IDLE_COLOR, NG_COLOR, OK_COLOR, ImageView
from inspector.gui.verdict_banner import NOT_INSPECTED_COLOR, verdict_banner


class StationViews(QWidget):
    def __init__(self, names: list[str], parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("stationViews")
        self.names = list(names)
        self.part = QLabel("Press Start (F5) to inspect.")
        self.part.setObjectName("stationPart")
        self.part.setAlignment(Qt.AlignmentFlag.AlignCenter)
        big = QFont(self.font())
        big.setPointSizeF(big.pointSizeF() * 2.2)
        big.setBold(True)
        self.part.setFont(big)
        self.detail = QLabel(f"Station of {len(self.names)} cameras: {', '.join(self.names)}")
        self.detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.detail.setWordWrap(True)
        self._paint_part("WAITING", IDLE_COLOR)
        self.tiles: dict[str, ImageView] = {}
        grid = QGridLayout()
        grid.setHorizontalSpacing(6)
        for col, name in enumerate(self.names):
            title = QLabel(name)
            title.setAlignment(Qt.AlignmentFlag.AlignCenter)
            title.setStyleSheet("font-weight: bold")
            view = ImageView(f"{name}: no picture")
            view.setObjectName(f"stationView_{name}")
            view.banner_max = 60  # the part's verdict above is the big one
            self.tiles[name] = view
            grid.addWidget(title, 0, col)
            grid.addWidget(view, 1, col)
            grid.setColumnStretch(col, 1)
        grid.setRowStretch(1, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.part)
        lay.addWidget(self.detail)
        lay.addLayout(grid, 1)

    def set_heatmap_visible(self, on: bool) -> None:
        for view in self.tiles.values():
            view.set_heatmap_visible(on)

    def set_info(self, lines: list[str]) -> None:
        self.tiles[self.names[0]].set_info(lines)

    def _paint_part(self, text: str, color: str) -> None:
        self.part.setText(text)
        self.part.setStyleSheet(f"background: {color}; color: white; padding: 6px; border-radius: 4px")

    def show_part(self, result, pipeline=None, newest: bool = False) -> None:
        """result: the station's newest part (its views inside), or None before the first; pipeline: the
        StationPipeline, whose views' newest frames are shown when newest (a triggered station waiting
        for its next part), with the last part's verdicts on them."""
        views = {v.name: v for v in result.views} if result is not None else {}
        if result is not None:
            v = result.verdict
            part_id = result.frame.meta.get("part_id")
            what = f"part {part_id}" if part_id else f"part {result.frame.id + 1}"
            if v.not_inspected:
                self._paint_part(f"NOT INSPECTED · counted {'OK' if v.ok else 'NG'}", NOT_INSPECTED_COLOR)
                self.detail.setText(f"{what}: {v.not_inspected}")
            elif v.ok:
                self._paint_part("OK", OK_COLOR)
                self.detail.setText(f"{what}: every view OK")
            else:
                ng = [n for n, r in views.items() if r.result is not None and not r.reason and not r.result.verdict.ok]
                self._paint_part("NG", NG_COLOR)
                self.detail.setText(f"{what}: NG in {', '.join(ng)}")
        for i, name in enumerate(self.names):
            tile, vr = self.tiles[name], views.get(name)
            live = pipeline.pipelines[i].latest_frame if (newest and pipeline is not None) else None
            frame = live if live is not None and live.image.size else (
                vr.result.frame if vr is not None and vr.result is not None else None)
            # no picture for this part (a damaged one, none in time): none shown, not the last part's
            tile.set_image(frame.image if frame is not None and frame.image.size else None)
            if vr is None:
                tile.set_banner("waiting for a part", IDLE_COLOR)
                continue
            why = (vr.reason or "").split(": ", 1)[-1]  # the tile names the view already
            if vr.result is None:
                tile.set_banner("NO FRAME", NOT_INSPECTED_COLOR, "" if why == "no frame" else why)
                tile.set_heatmap(None)
                tile.set_roi(None)
                continue
            text, color, _ = verdict_banner(vr.result.verdict)
            sub = f"score {vr.result.verdict.score:.2f} · {vr.result.verdict.model_version}"  # short: half the width
            if vr.reason:  # this view gave no verdict (corrupt picture, inference error…)
                text, sub = "NO VERDICT", why
            tile.set_banner(text, color, ("last part: " + sub) if live is not None else sub)
            tile.set_roi(vr.result.roi)
            tile.set_heatmap(vr.result.verdict.heatmap)
