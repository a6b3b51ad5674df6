"""The Live tab's Camera… dialog on Aravis's fake GigE Vision camera (loopback): settings read from the
camera, changed one at a time and shown as the camera took them; a refused region is one red line and
the fields go back; while the line runs the stream goes on; on close they become the station's source."""
import sys
import time
from pathlib import Path

from conftest import shot

from inspector.core.live.sources import open_source

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.unit import genicam_kit  # noqa: E402

camera = genicam_kit.camera  # the fixture
pytestmark = needs_fake_camera = genicam_kit.needs_fake_camera
SPEC = "genicam://127.0.0.1?roi=0,0,320,240&fps=30&trigger=free"


def _dialog(panel, qtbot):
    from inspector.gui.camera_settings import CameraDialog
    assert panel.camera_btn.isEnabled()
    panel.camera_btn.click()
    dlg = next(w for w in panel.children() if isinstance(w, CameraDialog) and w.isVisible())
    qtbot.waitUntil(lambda: bool(dlg._state) and not dlg._busy, timeout=10_000)
    return dlg


def _edit(dlg, qtbot, box, value):
    box.setValue(value)
    box.editingFinished.emit()
    qtbot.waitUntil(lambda: not dlg._busy, timeout=10_000)
    return dlg.status.text()


def test_camera_dialog_when_stopped_applies_refuses_and_saves(window, qtbot, camera):
    panel = window.live_panel
    window.show_panel("live")
    panel.source.setText("rtsp://example")
    assert not panel.camera_btn.isEnabled()  # only a GenICam camera has these settings
    panel.source.setText(SPEC)
    dlg = _dialog(panel, qtbot)
    assert dlg.exposure.value() == 10000 and dlg.limits["exposure_us"].text() == "10 – 10,000,000"
    assert [b.value() for b in dlg.roi] == [0, 0, 320, 240] and dlg.sensor.text() == "sensor 2048 × 2048 pixels"
    assert [dlg.trigger.itemData(i) for i in range(dlg.trigger.count())] == ["free", "software", "line0"]
    assert _edit(dlg, qtbot, dlg.exposure, 5000) == "camera exposure_us = 5000"
    assert _edit(dlg, qtbot, dlg.gain, 2) == "camera gain = 2"
    dlg.roi[0].setValue(2000)  # 2000 + 320 > 2048
    dlg.apply_roi.click()
    qtbot.waitUntil(lambda: not dlg._busy, timeout=10_000)
    text = dlg.status.text()
    assert text == "camera roi 2000,0,320,240 refused: 2000,0,320,240 does not fit the 2048×2048 sensor (still 0,0,320,240)"
    assert "color" in dlg.status.styleSheet() and dlg.roi[0].value() == 0  # back to the camera's value
    dlg.trigger.setCurrentIndex(dlg.trigger.findData("software"))
    dlg.trigger.activated.emit(dlg.trigger.currentIndex())
    qtbot.waitUntil(lambda: not dlg._busy, timeout=10_000)
    assert dlg.status.text() == "camera trigger = software"
    shot(dlg, "camera_dialog")
    dlg.close()
    want = "genicam://127.0.0.1?roi=0,0,320,240&exposure_us=5000&gain=2&fps=30&trigger=software"
    assert panel.source.text() == want
    assert window.session.project.get_meta("live.source") == want
    time.sleep(0.5)  # the camera released on a task thread: the next controller gets it
    src = open_source(want)
    src.open()
    try:
        assert src.refused == [] and src._cam.get_exposure_time() == 5000
    finally:
        src.close()


def test_camera_dialog_changes_the_running_camera_and_the_stream_goes_on(window, qtbot, camera):
    panel = window.live_panel
    window.show_panel("live")
    panel.source.setText(SPEC)
    panel.trigger_combo.setCurrentIndex(panel.trigger_combo.findData("free"))
    panel.start()
    qtbot.waitUntil(lambda: panel.live.running and panel.live.pipeline.stats().frames_read > 5, timeout=60_000)
    dlg = _dialog(panel, qtbot)
    assert "the line is running" in dlg.header.text()
    assert _edit(dlg, qtbot, dlg.gain, 3) == "camera gain = 3"
    cam = panel.live.pipeline.source
    assert cam._cam.get_gain() == 3.0
    dlg.pixel_format.setCurrentIndex(dlg.pixel_format.findData("RGB8"))
    dlg.pixel_format.activated.emit(dlg.pixel_format.currentIndex())
    qtbot.waitUntil(lambda: not dlg._busy, timeout=10_000)
    assert dlg.status.text() == "camera pixel_format = RGB8"
    read = panel.live.pipeline.stats().frames_read
    qtbot.waitUntil(lambda: panel.live.pipeline.stats().frames_read > read + 10, timeout=10_000)
    shot(window, "camera_dialog_running")
    dlg.close()
    assert "gain=3" in panel.source.text() and "pixel_format=RGB8" in panel.source.text()
    panel.stop()
    qtbot.waitUntil(lambda: not panel.live.running and not panel.live.busy, timeout=20_000)
