"""Live: the camera picture with the verdict banner, score, heatmap, region of interest, frames/s and
latency; source and trigger pickers; start/stop; a trigger button; the shift's counters. The
pipeline runs on its own threads; this panel repaints from the newest verdict on a timer."""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QFontMetrics, QKeySequence, QShortcut
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QFrame, QGridLayout, QGroupBox,
                               QHBoxLayout, QLabel, QLineEdit, QPushButton, QScrollArea, QVBoxLayout, QWidget)

from inspector.core import accounts
from inspector.core.errors import InspectorError
from inspector.core.live import credentials
from inspector.core.live.config import NOT_INSPECTED_SETTING
from inspector.core.live.roi import Roi
from inspector.core.live.station_config import load_views
from inspector.core.live.sources import redact
from inspector.gui import role_guard
from inspector.gui.image_view import IDLE_COLOR, NG_COLOR, ImageView
from inspector.gui.line_box import LineBox
from inspector.gui.line_box import check as check_line
from inspector.gui.logs import show_error
from inspector.gui.verdict_banner import NOT_INSPECTED_COLOR, verdict_banner
from inspector.gui.settings import DEFAULT_SOURCE

SOURCES = (("Synthetic line (demo)", DEFAULT_SOURCE), ("Camera 0", "0"), ("Camera 1", "1"),
           ("Video file…", "file"), ("Image folder…", "folder"), ("Stream URL", "rtsp://"),
           ("GenICam camera (GigE / USB3 Vision)", "genicam://?exposure_us=5000&gain=0&trigger=free"))
STALLED_COLOR = NG_COLOR
NOT_INSPECTED_CHOICES = (("NG (reject it)", "not_ok"), ("OK (pass it)", "ok"))
TRIGGERS = (("Every frame", "free"), ("Every 0.5 s", "interval:500"), ("When a part arrives", "presence"),
            ("Only on the Trigger button", "software"), ("When the PLC triggers", "plc"))


class LivePanel(QWidget):
    running_changed = Signal(bool)

    def __init__(self, session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.live = session.live
        prefs = session.prefs
        self._seq = -1
        self._shift_start = time.time()
        self._shift_base = (0, 0)
        project = session.project
        # Source, trigger and region belong to the station (the project); preferences give the defaults.
        source = project.get_meta("live.source") or prefs.source
        trigger = project.get_meta("live.trigger") or prefs.trigger
        roi = project.get_meta("live.roi", prefs.roi) or ""
        not_inspected_as = project.get_meta(NOT_INSPECTED_SETTING) or "not_ok"
        self._trigger_mode = trigger
        self._not_inspected_base = 0
        self._stalled = False

        self.view = ImageView("Press Start (F5) to inspect.\nThe synthetic line works without a camera.")
        self.view.setObjectName("liveView")
        self.view.set_heatmap_visible(prefs.show_heatmap)

        cam = QGroupBox("Camera")
        form = QFormLayout(cam)
        self.source_kind = QComboBox()
        for text, spec in SOURCES:
            self.source_kind.addItem(text, spec)
        self.source_kind.setToolTip("Where pictures come from")
        self.source_kind.activated.connect(self._source_picked)
        self.source = QLineEdit(source)
        self.source.setCursorPosition(0)
        self.source.setToolTip("The source as text: camera index, rtsp:// or http:// URL, video file, folder, "
                               "or synthetic://line?…")
        self.trigger_combo = QComboBox()
        for text, spec in TRIGGERS:
            self.trigger_combo.addItem(text, spec)
        self.trigger_combo.setCurrentIndex(max(0, self.trigger_combo.findData(trigger)))
        self.trigger_combo.setToolTip("When a picture is inspected")
        self.roi = QLineEdit(roi)
        self.roi.setPlaceholderText("whole picture")
        self.roi.setToolTip("Region of interest in pixels: x,y,width,height (empty: the whole picture)")
        form.addRow("Source", self.source_kind)
        self.camera_btn = QPushButton("Camera…")
        self.camera_btn.setToolTip("Exposure, gain, pixel format, region and trigger of a GenICam camera")
        self.camera_btn.clicked.connect(self._camera_settings)
        self.source.textChanged.connect(lambda _: self._update_controls())
        self.views_btn = QPushButton("Views…")
        self.views_btn.setToolTip("A multi-camera station: its views (top, side…), each with its own source, "
                                  "region and model, all triggered together")
        self.views_btn.clicked.connect(self._edit_views)
        form.addRow(self.source)  # the address gets the box's whole width: it is long (a URL, a path)
        tools = QHBoxLayout()
        tools.addStretch(1)
        tools.addWidget(self.camera_btn)
        tools.addWidget(self.views_btn)
        form.addRow(tools)
        self.not_inspected_combo = QComboBox()
        for text, value in NOT_INSPECTED_CHOICES:
            self.not_inspected_combo.addItem(text, value)
        self.not_inspected_combo.setCurrentIndex(max(0, self.not_inspected_combo.findData(not_inspected_as)))
        self.not_inspected_combo.setToolTip("A part no model could look at (picture damaged, queue full, inference "
                                            "error) still gets a result: rejected as NG (safe), or passed as OK")
        form.addRow("Inspect", self.trigger_combo)
        form.addRow("Region", self.roi)
        form.addRow("Not inspected", self.not_inspected_combo)
        # a multi-camera station (Views… or `inspector station`): its views, each with its own source and region
        self._form, self._lay, self.station_names = form, None, QLabel()
        self.station_names.setWordWrap(True)
        form.insertRow(0, "Station", self.station_names)
        try:
            self.set_station(load_views(project))
        except InspectorError:
            self.set_station([])
        self.line_box = LineBox(project, set_setting=self.session.set_setting)

        self.start_btn = QPushButton("Start  [F5]")
        self.start_btn.setObjectName("startButton")
        self.start_btn.setStyleSheet("QPushButton { font-weight: bold; padding: 8px; }")
        self.start_btn.clicked.connect(self.toggle)
        self.trigger_btn = QPushButton("Trigger  [T]")
        self.trigger_btn.setToolTip("Inspect the next picture now")
        self.trigger_btn.clicked.connect(self.live.trigger)
        self.heatmap = QCheckBox("Heatmap  [H]")
        self.heatmap.setToolTip("Show where an anomaly model sees something unusual")
        self.heatmap.setChecked(prefs.show_heatmap)
        self.heatmap.toggled.connect(self._heatmap_toggled)
        buttons = QGridLayout()
        buttons.addWidget(self.start_btn, 0, 0, 1, 2)
        buttons.addWidget(self.trigger_btn, 1, 0)
        buttons.addWidget(self.heatmap, 1, 1)

        shift = QGroupBox("This shift")
        grid = QGridLayout(shift)
        self.counter = {}
        big = QFont(self.font())
        big.setPointSizeF(big.pointSizeF() * 1.9)
        big.setBold(True)
        for col, (key, title) in enumerate((("inspected", "Inspected"), ("ng", "NG"),
                                            ("not_inspected", "Not inspected"), ("yield", "Yield"))):
            t = QLabel(title)
            t.setAlignment(Qt.AlignmentFlag.AlignCenter)
            v = QLabel("0")
            v.setObjectName(f"counter_{key}")
            v.setFont(big)
            v.setAlignment(Qt.AlignmentFlag.AlignCenter)
            grid.addWidget(t, 0, col)
            grid.addWidget(v, 1, col)
            self.counter[key] = v
        # "100.0 %" is the widest text here: a smaller font and its width reserved, so the panel never clips it
        small = QFont(big)
        small.setPointSizeF(big.pointSizeF() * 0.75)
        self.counter["yield"].setFont(small)
        self.counter["yield"].setMinimumWidth(QFontMetrics(small).horizontalAdvance("100.0 %") + 4)
        self.counter["ng"].setStyleSheet(f"color: {NG_COLOR}")
        self.counter["not_inspected"].setStyleSheet(f"color: {NOT_INSPECTED_COLOR}")
        self.counter["not_inspected"].setToolTip("Parts that reached the station but no model decided (damaged "
                                                 "picture, queue full, inference error); counted as the setting says")
        self.new_shift_btn = QPushButton("New shift")
        self.new_shift_btn.setToolTip("Start counting from zero")
        self.new_shift_btn.clicked.connect(self.new_shift)
        self.shift_since = QLabel()
        grid.addWidget(self.shift_since, 2, 0, 1, 2)
        grid.addWidget(self.new_shift_btn, 2, 2, 1, 2)

        self.status = QLabel("Stopped.")
        self.status.setObjectName("liveStatus")
        self.status.setWordWrap(True)
        self.status.setMinimumHeight(2 * self.fontMetrics().height() + 4)  # two lines kept; longer ones grow
        self.status.setAlignment(Qt.AlignmentFlag.AlignTop)

        # What a shift uses first (start / stop, the counters, what the line is doing), the setting-up below:
        # on a 600-pixel panel PC they are in view without scrolling.
        side = QVBoxLayout()
        side.addLayout(buttons)
        side.addWidget(shift)
        side.addWidget(self.status)
        side.addWidget(cam)
        side.addWidget(self.line_box)
        side.addStretch(1)
        side_w = QWidget()
        side_w.setLayout(side)
        # On a short screen (the window's 600-pixel minimum) the column scrolls: squeezed, its form rows
        # overlapped and could not be read (seen on Xvfb at 1024 × 600).
        self._side = QScrollArea()
        self._side.setWidget(side_w)
        self._side.setWidgetResizable(True)
        self._side.setFrameShape(QFrame.Shape.NoFrame)
        self._side.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._fit_to_font()
        lay = self._lay = QHBoxLayout(self)
        lay.addWidget(self._picture, 1)
        lay.addWidget(self._side)

        for key, fn in (("F5", self.toggle), ("T", self.live.trigger), ("H", self.heatmap.toggle)):
            s = QShortcut(QKeySequence(key), self)
            s.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            s.activated.connect(fn)
        self.live.started.connect(self._started)
        self.live.stopped.connect(self._stopped)
        self.live.errored.connect(self._errored)
        self.live.busy_changed.connect(lambda _: self._update_controls())
        self.session.actor_changed.connect(self._actor_changed)
        self._frame_timer = QTimer(self)  # repaint at most ~30 times a second: never a backlog
        self._frame_timer.setInterval(33)
        self._frame_timer.timeout.connect(self._paint_newest)
        self._stats_timer = QTimer(self)
        self._stats_timer.setInterval(500)
        self._stats_timer.timeout.connect(self._update_stats)
        self._update_shift()
        self._update_controls()

    def _fit_to_font(self) -> None:
        width = max(340, self.fontMetrics().averageCharWidth() * 46)
        self._side.widget().setFixedWidth(width)  # the column's content fits this width, as before it scrolled
        self._side.setFixedWidth(width + self._side.verticalScrollBar().sizeHint().width())

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.FontChange:
            self._fit_to_font()
        super().changeEvent(event)

    # -- controls ---------------------------------------------------------------------------------------
    def _source_picked(self, index: int) -> None:
        spec = self.source_kind.itemData(index)
        if spec == "file":
            path, _ = QFileDialog.getOpenFileName(self, "Video file", str(Path.home()),
                                                  "Videos (*.avi *.mp4 *.mkv *.mov);;All files (*)")
            spec = f"{path}?loop=1&realtime=1" if path else None
        elif spec == "folder":
            spec = QFileDialog.getExistingDirectory(self, "Folder watched for new images", str(Path.home())) or None
        if spec:
            self.source.setText(spec)

    def _camera_settings(self) -> None:
        from inspector.gui.camera_settings import open_camera_dialog
        open_camera_dialog(self, self.session, self.source.text().strip(), self.source.setText)

    def _edit_views(self) -> None:
        from inspector.gui.station_dialog import StationDialog
        self.views_dialog = StationDialog(self.session, self)
        self.views_dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.views_dialog.saved.connect(self.set_station)
        self.views_dialog.open()

    def set_station(self, views) -> None:
        """One camera (no views), or the station's views side by side, each with its own source and region."""
        old = self._picture if self._lay is not None else None
        self.station_views, self.station = list(views), None
        if self.station_views:
            from inspector.gui.station_views import StationViews
            self.station = StationViews([v.name for v in self.station_views])
            self.station.set_heatmap_visible(self.session.prefs.show_heatmap)
        self.station_names.setText(", ".join(v.name for v in self.station_views) + " — all triggered together")
        self.station_names.setToolTip("\n".join(v.describe() for v in self.station_views)
                                      + "\n(set with Views… or `inspector station`)")
        for w, on in ((self.station_names, True), (self.source_kind, False), (self.source, False), (self.roi, False)):
            self._form.setRowVisible(w, on == (self.station is not None))
        self.camera_btn.setVisible(self.station is None)
        if old is not None and old is not self._picture:
            self._lay.replaceWidget(old, self._picture)
            old.hide()
            self._picture.show()
            if old is not self.view:
                old.deleteLater()

    @property
    def _picture(self):
        """What shows the pictures: the one camera's view, or the station's views side by side."""
        return self.view if self.station is None else self.station

    def _heatmap_toggled(self, on: bool) -> None:
        self._picture.set_heatmap_visible(on)
        self.session.prefs.show_heatmap = on

    def config(self):
        from inspector.core.live import LiveConfig, ReviewPolicy

        roi = self.roi.text().strip() or None
        Roi.parse(roi)  # a typo is reported now, not from a worker thread
        return LiveConfig(source=credentials.resolve(self.source.text().strip()),
                          trigger=self.trigger_combo.currentData(), roi=roi,
                          review=ReviewPolicy(max_per_minute=self.session.prefs.review_per_minute),
                          not_inspected_as=self.not_inspected_combo.currentData(), part_id=self.line_box.part_id(),
                          user=self.session.user)

    def toggle(self) -> None:
        if not self.session.may("line.run"):  # F5 on a disabled button: the one-line refusal
            self._set_status(accounts.refusal("line.run"))
            return
        if self.live.running:
            self.stop()
        else:
            self.start()

    def start(self) -> None:
        if self.live.running or self.live.busy:
            return
        if self.session.registry.line_version() is None:
            show_error(self, "There is no active model yet — label some parts and train one on the Train tab.")
            return
        try:
            # a password typed into the address goes to the user-only secrets file; preferences, the
            # project and the screen keep the address without it
            self.source.setText(credentials.remember(self.source.text().strip()))
            config = self.config()
            line = self.line_box.settings()
            check_line(line)
        except InspectorError as e:
            show_error(self, str(e))
            return
        prefs, project = self.session.prefs, self.session.project
        prefs.source, prefs.trigger, prefs.roi = self.source.text().strip(), config.trigger, self.roi.text().strip()
        try:
            for key, value in (("live.source", prefs.source), ("live.trigger", prefs.trigger),
                               ("live.roi", prefs.roi), (NOT_INSPECTED_SETTING, config.not_inspected_as)):
                if project.get_meta(key) != value:
                    self.session.set_setting(key, value)
            self.line_box.save(line, config.part_id)  # changed line outputs need an engineer
        except InspectorError as e:
            show_error(self, str(e))
            return
        self._trigger_mode = config.trigger
        self._set_status(f"Starting {redact(config.source)} …")
        self.live.user = self.session.user
        self.live.start(config, line, self.station_views)

    def stop(self) -> None:
        self._set_status("Stopping…")
        self.live.stop()

    def _started(self) -> None:
        self._stalled = False
        self._frame_timer.start()
        self._stats_timer.start()
        self._set_status("Loading the model and opening the source…")
        self._update_controls()
        self.running_changed.emit(True)

    def _stopped(self, state: str) -> None:
        self._paint_newest()
        self._frame_timer.stop()
        self._stats_timer.stop()
        self._picture.set_info([])
        self._set_status({"finished": "The source has no more pictures.", "failed": "Stopped on an error."}
                            .get(state, "Stopped."))
        self._update_controls()
        self.running_changed.emit(False)

    def _errored(self, message: str) -> None:
        self._set_status(message)
        show_error(self, message)

    def _update_controls(self) -> None:
        running, busy = self.live.running, self.live.busy
        self.start_btn.setText("Stop  [F5]" if running else "Start  [F5]")
        self.start_btn.setEnabled(not busy)
        self.trigger_btn.setEnabled(running)
        for w in (self.source_kind, self.source, self.trigger_combo, self.roi, self.not_inspected_combo):
            w.setEnabled(not running and not busy)
        self.line_box.set_editable(not running and not busy)
        self.views_btn.setEnabled(not running and not busy)
        self.camera_btn.setEnabled(not busy and self.source.text().strip().lower().startswith("genicam://"))
        if not running:
            self.line_box.show_status(None)
        role_guard.apply(self.session, [(self.start_btn, "line.run"), (self.views_btn, "settings.edit")])

    def _actor_changed(self) -> None:
        """A log-in at the station (switch user): the running line's next verdicts carry the new account.
        Locking does not change who runs the line: the line keeps running, under the last account, until
        someone logs in."""
        if not self.session.locked:
            self.live.set_user(self.session.user)
        self._update_controls()

    # -- the picture --------------------------------------------------------------------------------------
    def _paint_newest(self) -> None:
        v = self.live.view()
        if v.seq == self._seq:
            return
        self._seq = v.seq
        if self.station is not None:  # the part's verdict over every view's picture
            self.station.show_part(v.result, self.live.pipeline, self._trigger_mode != "free")
            return
        r = v.result
        frame = r.frame if (r is not None and self._trigger_mode == "free") else (v.frame or (r.frame if r else None))
        if frame is not None and frame.image.size == 0:  # a corrupt frame has no picture: show the last real one
            frame = v.frame if v.frame is not None and v.frame.image.size else None
        if frame is None:
            if r is not None:
                text, color, sub = verdict_banner(r.verdict)
                self.view.set_banner(text, color, sub)
            return
        self.view.set_image(frame.image)
        if r is None:
            self.view.set_banner("waiting for a part", IDLE_COLOR)
            roi = Roi.parse(self.roi.text().strip() or None)
            self.view.set_roi(None if roi is None else (roi.x, roi.y, roi.w, roi.h))
            return
        text, color, sub = verdict_banner(r.verdict)
        if frame is not r.frame:
            sub = "last part: " + sub
        self.view.set_banner(text, color, sub)
        self.view.set_roi(r.roi)
        self.view.set_heatmap(r.verdict.heatmap)

    def _set_status(self, text: str, color: str | None = None) -> None:
        self.status.setStyleSheet(f"color: {color}; font-weight: bold" if color else "")
        self.status.setText(text)

    def _update_stats(self) -> None:
        for e in self.live.take_events():
            if e.kind == "source_stalled":
                self._stalled = True
                self._set_status(f"STALLED: {e.message}", STALLED_COLOR)
            elif self._stalled and e.kind in ("state", "source_open", "source_error") and e.state != "running":
                continue  # red until pictures come again
            elif e.kind != "state" or e.state in ("warming_up", "reconnecting"):
                self._set_status(e.message)
            elif e.state == "running":
                self._stalled = False
                self._set_status("Inspecting.")
        if self.live.check_ended():
            return
        self.line_box.show_status(self.live.line_status())
        s = self.live.stats()
        if s is not None:
            lat = f"{s.latency_ms_p50:.0f} ms" if s.latency_ms_p50 is not None else "–"
            self._picture.set_info([f"model {s.model_version or '…'} ({s.backend or '…'})",
                                f"{s.fps:.1f} parts/s · latency {lat}",
                                f"dropped {s.dropped} · stalls {s.stalls} · queued for review {s.queued_for_review}"])
        self._update_shift()

    def new_shift(self) -> None:
        self._shift_start = time.time()
        self._shift_base = (self.live.results_seen, self.live.not_ok_seen)
        self._not_inspected_base = self.live.not_inspected_seen
        self._update_shift()

    def shift_not_inspected(self) -> int:
        return self.live.not_inspected_seen - self._not_inspected_base

    def shift_counts(self) -> tuple[int, int]:
        return self.live.results_seen - self._shift_base[0], self.live.not_ok_seen - self._shift_base[1]

    def _update_shift(self) -> None:
        n, ng = self.shift_counts()
        skipped = self.shift_not_inspected()
        self.counter["inspected"].setText(str(n))
        self.counter["ng"].setText(str(ng))
        self.counter["not_inspected"].setText(str(skipped))
        parts = n + skipped  # a part nobody inspected is not a good part
        self.counter["yield"].setText(f"{100 * (n - ng) / parts:.1f} %" if parts else "–")
        self.shift_since.setText(time.strftime("since %H:%M", time.localtime(self._shift_start)))
