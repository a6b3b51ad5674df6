"""The Live tab's Camera… dialog for a genicam:// source: exposure, gain, frame rate, pixel format,
region and trigger mode, each applied on its own as soon as it is edited and shown as the camera took
it; a refused value is one red line and the field goes back to the camera's value. While the line
runs, the changes go to the running camera (the stream goes on); when it is stopped, the dialog opens
the camera itself. Camera I/O runs on task threads, never on the GUI thread. On close, the settings
become the station's source (kept for the next start)."""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QHBoxLayout,
                               QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from inspector.gui.image_view import NG_COLOR

TRIGGER_TEXT = {"free": "Free run", "software": "Software (each inspection)"}


def trigger_text(value: str) -> str:
    return TRIGGER_TEXT.get(value, f"Hardware {value[:1].upper()}{value[1:]}" if value.startswith("line") else value)


def running_camera(live):
    """The running pipeline's genicam:// source, or None (stopped, or another kind of source)."""
    from inspector.core.live.genicam import GenicamSource
    p = live.pipeline if live.running else None
    src = getattr(p, "source", None)
    return src if isinstance(src, GenicamSource) else None


class CameraDialog(QDialog):
    def __init__(self, session, spec: str, on_spec: Callable[[str], None] | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.on_spec = on_spec
        self._spec0 = spec
        self.source = running_camera(session.live)
        self._own = self.source is None  # stopped: the dialog opens (and closes) the camera itself
        if self._own:
            from inspector.core.live.genicam import from_spec
            self.source = from_spec(spec)
        self._busy = self._closing = False
        self._opened = not self._own
        self.setWindowTitle("Camera settings")
        self.setModal(True)

        self.header = QLabel()
        self.header.setWordWrap(True)
        self.exposure = _spin(QDoubleSpinBox(), " µs", decimals=0)
        self.gain = _spin(QDoubleSpinBox(), "", decimals=2)
        self.fps = _spin(QDoubleSpinBox(), " frames/s", decimals=1)
        self.pixel_format = QComboBox()
        self.trigger = QComboBox()
        self.roi = [QSpinBox() for _ in range(4)]
        for box, tip in zip(self.roi, ("OffsetX", "OffsetY", "Width", "Height")):
            box.setToolTip(f"{tip} in sensor pixels")
            box.setKeyboardTracking(False)
            box.setRange(0, 100000)
        self.apply_roi = QPushButton("Apply")
        self.apply_roi.setToolTip("Send the four region values to the camera")
        self.sensor = QLabel()
        self.limits = {name: QLabel() for name in ("exposure_us", "gain", "fps")}
        for lab in self.limits.values():
            lab.setStyleSheet("color: gray")

        form = QFormLayout()
        form.addRow("Exposure", _row(self.exposure, self.limits["exposure_us"]))
        form.addRow("Gain", _row(self.gain, self.limits["gain"]))
        form.addRow("Frame rate", _row(self.fps, self.limits["fps"]))
        form.addRow("Pixel format", self.pixel_format)
        region = QHBoxLayout()
        for label, box in zip(("x", "y", "w", "h"), self.roi):
            region.addWidget(QLabel(label))
            region.addWidget(box)
        region.addWidget(self.apply_roi)
        form.addRow("Region", region)
        form.addRow("", self.sensor)
        form.addRow("Trigger", self.trigger)
        self.status = QLabel("Reading the camera…")
        self.status.setWordWrap(True)
        self.status.setObjectName("cameraStatus")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.header)
        lay.addLayout(form)
        lay.addWidget(self.status)
        lay.addWidget(buttons)
        self.fields = [self.exposure, self.gain, self.fps, self.pixel_format, self.trigger, *self.roi, self.apply_roi]

        self.exposure.editingFinished.connect(lambda: self._changed("exposure_us", self.exposure.value()))
        self.gain.editingFinished.connect(lambda: self._changed("gain", self.gain.value()))
        self.fps.editingFinished.connect(lambda: self._changed("fps", self.fps.value()))
        self.pixel_format.activated.connect(lambda _: self._changed("pixel_format", self.pixel_format.currentData()))
        self.trigger.activated.connect(lambda _: self._changed("trigger", self.trigger.currentData()))
        self.apply_roi.clicked.connect(lambda: self._changed("roi", ",".join(str(b.value()) for b in self.roi)))
        self.header.setText(f"<b>{self.source.name}</b> — " + (
            "the line is running: each change goes to the camera now and the stream goes on."
            if not self._own else "the line is stopped: changes are tried on the camera now and used at the next Start."))
        self._state: dict = {}
        self._set_busy(True)
        self._run(self._read, "camera settings: read", self._shown)

    # -- camera I/O on task threads ---------------------------------------------------------------------
    def _read(self, progress, cancel):
        if self._own and not self._opened:
            self.source.open()
            self._opened = True
        return None, self.source.state()

    def _change(self, name, value):
        def run(progress, cancel):
            done = self.source.change(name, value)
            return done, self.source.state()
        return run

    def _run(self, fn, name, on_result) -> None:
        task = self.session.runner.run(fn, name, on_result=on_result, on_error=self._failed)
        if task is None:
            self._set_busy(False)

    # -- back on the GUI thread -----------------------------------------------------------------------------
    def _changed(self, name: str, value) -> None:
        if self._busy or not self._state:
            return
        now = self._state.get(name, {}).get("value")
        if name == "roi":
            now = ",".join(str(v) for v in now) if now is not None else None
        if now is not None and (now == value or (isinstance(now, float) and abs(now - float(value)) < 1e-6)):
            return  # nothing changed (a spin box also finishes editing when it loses focus)
        self._set_busy(True)
        self._say(f"Setting {name} …")
        self._run(self._change(name, value), f"camera settings: {name}", self._shown)

    def _shown(self, got) -> None:
        if self._closing:
            self._release()
            return
        done, state = got
        self._state = state
        self._fill(state)
        self._set_busy(False)
        if done is None:
            self._say("Each setting is sent to the camera when you finish editing it.")
        else:
            self._say(done.message, None if done.ok else NG_COLOR)

    def _failed(self, message: str) -> None:
        if self._closing:
            self._release()
            return
        self._set_busy(False)
        for w in self.fields:
            w.setEnabled(bool(self._state))
        self._say(message, NG_COLOR)

    def _fill(self, state: dict) -> None:
        for name, box in (("exposure_us", self.exposure), ("gain", self.gain), ("fps", self.fps)):
            s = state.get(name)
            box.setVisible(s is not None)
            self.limits[name].setVisible(s is not None)
            if s is None:
                continue
            box.blockSignals(True)
            box.setRange(s["min"], s["max"])
            box.setValue(s["value"])
            box.blockSignals(False)
            self.limits[name].setText(f"{_num(s['min'])} – {_num(s['max'])}")
        pf = state.get("pixel_format", {"value": "?", "choices": []})
        self.pixel_format.clear()
        for f in dict.fromkeys([*pf["choices"], pf["value"]]):
            self.pixel_format.addItem(f, f)
        self.pixel_format.setCurrentIndex(self.pixel_format.findData(pf["value"]))
        trig = state.get("trigger", {"value": "free", "choices": ["free"]})
        self.trigger.clear()
        for t in trig["choices"]:
            self.trigger.addItem(trigger_text(t), t)
        self.trigger.setCurrentIndex(self.trigger.findData(trig["value"]))
        roi = state.get("roi")
        if roi is not None:
            sw, sh = roi["sensor"]
            for i, (box, v, top) in enumerate(zip(self.roi, roi["value"], (sw - 1, sh - 1, sw, sh))):
                box.blockSignals(True)
                box.setRange(0 if i < 2 else 1, top)
                box.setValue(v)
                box.blockSignals(False)
            self.sensor.setText(f"sensor {sw} × {sh} pixels")
            self.sensor.setStyleSheet("color: gray")

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        for w in self.fields:
            w.setEnabled(not busy)

    def _say(self, text: str, color: str | None = None) -> None:
        self.status.setStyleSheet(f"color: {color}; font-weight: bold" if color else "")
        self.status.setText(text)

    def done(self, result: int) -> None:  # noqa: D401 - Qt's name: closing, by any button or Esc
        spec = self.source.spec() if self._state else self._spec0
        if spec != self._spec0:
            if self.on_spec is not None:
                self.on_spec(spec)
            self.session.set_setting("live.source", spec)
        self._closing = True
        if not self._busy:
            self._release()
        super().done(result)  # a task still talking to the camera releases it when it returns

    def _release(self) -> None:
        """Close the camera the dialog opened: Start (another GigE controller) would be refused."""
        if self._own:
            src = self.source
            self.session.runner.run(lambda progress, cancel: src.close(), "camera settings: close", cleanup=True)
        self.deleteLater()


def _num(v: float) -> str:
    return f"{v:,.0f}" if v == int(v) and abs(v) >= 10000 else f"{v:g}"


def _spin(box, suffix: str, decimals: int):
    box.setDecimals(decimals)
    box.setSuffix(suffix)
    box.setKeyboardTracking(False)  # one setting per finished edit, not per keystroke
    box.setMinimumWidth(120)
    return box


def _row(*widgets) -> QHBoxLayout:
    lay = QHBoxLayout()
    for w in widgets:
        lay.addWidget(w)
    lay.addStretch(1)
    return lay


def open_camera_dialog(parent, session, spec: str, on_spec: Callable[[str], None]) -> CameraDialog:
    dlg = CameraDialog(session, spec, on_spec, parent)
    dlg.show()
    return dlg
