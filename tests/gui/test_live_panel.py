"""Live: start on the synthetic line, verdicts with banner and counters, trigger button, stop; errors
become a dialog and leave no thread behind."""
import os
import stat
from pathlib import Path

import numpy as np
from conftest import error_dialogs, image_is_not_blank, shot
from PySide6.QtCore import Qt

from inspector.core.live.results import ResultsLog

FAST = "synthetic://line?fps=25&size=128&seed=3&defect_rate=0.5"


def start(panel, qtbot, source=FAST, trigger="free"):
    panel.source.setText(source)
    panel.trigger_combo.setCurrentIndex(panel.trigger_combo.findData(trigger))
    panel.start()
    qtbot.waitUntil(lambda: panel.live.running, timeout=20_000)


def stop(panel, qtbot):
    panel.stop()
    qtbot.waitUntil(lambda: not panel.live.running and not panel.live.busy, timeout=20_000)


def test_verdicts_banner_counters_and_results_log(window, project_path, qtbot):
    panel = window.live_panel
    start(panel, qtbot)
    qtbot.waitUntil(lambda: panel.shift_counts()[0] >= 8, timeout=30_000)
    qtbot.waitUntil(lambda: panel.view.banner_text.startswith(("OK", "NG")), timeout=5000)
    assert "model v1" in panel.view.banner_text
    panel._update_stats()
    n, ng = panel.shift_counts()
    assert panel.counter["inspected"].text() == str(n) and panel.counter["ng"].text() == str(ng)
    assert panel.counter["yield"].text().endswith("%")
    assert not panel.source.isEnabled() and panel.start_btn.text().startswith("Stop")
    assert image_is_not_blank(shot(window, "live"))
    stop(panel, qtbot)
    assert panel.start_btn.text().startswith("Start") and panel.source.isEnabled()
    with ResultsLog(project_path) as log:
        c = log.counters()
    assert c["inspected"] >= n and c["per_model"] == {"v1": c["inspected"]}
    panel.new_shift()
    assert panel.counter["inspected"].text() == "0"


def test_trigger_button_inspects_on_request(window, qtbot):
    panel = window.live_panel
    window.show_panel("live")
    start(panel, qtbot, trigger="software")
    qtbot.waitUntil(lambda: panel.live.pipeline.stats().state == "running", timeout=20_000)
    assert panel.shift_counts()[0] == 0
    panel.view.setFocus()
    qtbot.keyClick(panel.view, Qt.Key.Key_T)
    qtbot.waitUntil(lambda: panel.shift_counts()[0] == 1, timeout=10_000)
    panel.trigger_btn.click()
    qtbot.waitUntil(lambda: panel.shift_counts()[0] == 2, timeout=10_000)
    stop(panel, qtbot)


def test_a_bad_source_is_a_dialog_not_a_crash(window, qtbot):
    panel = window.live_panel
    panel.source.setText("synthetic://nowhere")
    panel.start()
    qtbot.waitUntil(lambda: bool(error_dialogs()), timeout=10_000)
    assert "synthetic" in error_dialogs()[0].text() and not panel.live.running
    panel.roi.setText("10,10")
    panel.start()
    assert any("x,y,w,h" in d.text() for d in error_dialogs())


def _live_kit():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "unit"))
    import live_kit

    return live_kit


def test_parts_not_inspected_have_their_own_counter_colour_and_banner(window, project_path, qtbot):
    from inspector.core.live.frames import Verdict
    from inspector.gui.live_panel import NOT_INSPECTED_COLOR, verdict_banner

    panel = window.live_panel
    window.show_panel("live")
    assert panel.not_inspected_combo.currentData() == "not_ok"  # fail closed by default
    start(panel, qtbot, source="synthetic://line?fps=25&size=128&seed=3&corrupt=0.3")
    qtbot.waitUntil(lambda: panel.shift_not_inspected() >= 3 and panel.shift_counts()[0] >= 3, timeout=30_000)
    panel._update_stats()
    assert panel.counter["not_inspected"].text() == str(panel.shift_not_inspected())
    assert NOT_INSPECTED_COLOR in panel.counter["not_inspected"].styleSheet()
    assert not panel.not_inspected_combo.isEnabled()
    stop(panel, qtbot)
    n, ng = panel.shift_counts()
    skipped = panel.shift_not_inspected()
    assert panel.counter["yield"].text() == f"{100 * (n - ng) / (n + skipped):.1f} %"
    with ResultsLog(project_path) as log:
        c = log.counters()
    assert c["not_inspected"] == skipped and c["inspected"] == n and c["rejected"] == ng + skipped
    text, color, sub = verdict_banner(Verdict.not_inspected_as("corrupt_frame", "not_ok", "v1"))
    assert text == "NOT INSPECTED · counted NG" and color == NOT_INSPECTED_COLOR and "corrupt frame" in sub

    panel.not_inspected_combo.setCurrentIndex(panel.not_inspected_combo.findData("ok"))
    start(panel, qtbot, source="synthetic://line?fps=25&size=128&seed=3&corrupt=0.3")
    assert window.session.project.get_meta("live.not_inspected_as") == "ok"  # a project setting
    stop(panel, qtbot)


def test_a_camera_login_is_kept_out_of_settings_and_a_stall_shows_red(window, project_path, qtbot, tmp_path):
    from inspector.gui.live_panel import STALLED_COLOR

    kit = _live_kit()
    parts = [kit.jpeg(np.full((64, 64, 3), 90 + i, np.uint8)) for i in range(4)]
    panel = window.live_panel
    window.show_panel("live")
    with kit.MjpegServer(parts, fps=20, auth=("digest", "op", "pa:ss@1"), stall_after=3, stall_s=30) as server:
        host = server.url.split("://", 1)[1]
        start(panel, qtbot, source=f"http://op:pa%3Ass%401@{host}/video")
        assert panel.source.text() == f"http://op@{host}/video"  # the password left the field
        qtbot.waitUntil(lambda: panel.status.text().startswith("STALLED"), timeout=20_000)
        assert STALLED_COLOR in panel.status.styleSheet() and "no picture for 2 s" in panel.status.text()
        assert panel.live.stats().stalls >= 1 and server.refused >= 1
        stop(panel, qtbot)
    saved = [window.session.project.get_meta("live.source"), window.session.prefs.source, panel.status.text()]
    assert saved[0] == saved[1] == f"http://op@{host}/video"
    assert not any("pa:ss" in x or "pa%3A" in x for x in saved)
    secrets = Path(os.environ["INSPECTOR_CONFIG_DIR"]) / "camera-secrets.json"
    assert "pa:ss@1" in secrets.read_text() and stat.S_IMODE(secrets.stat().st_mode) == 0o600


def test_at_the_smallest_window_the_live_column_scrolls_instead_of_squeezing(window, qtbot):
    # At 1024 × 600 (the window's minimum, a common panel PC) the column is taller than the screen: squeezed,
    # its form rows overlapped and could not be read; now each keeps its height and the column scrolls.
    window.resize(window.minimumSize())
    qtbot.wait(50)
    panel = window.live_panel
    column = panel._side
    assert column.verticalScrollBar().maximum() > 0
    rows = (panel.start_btn, panel.counter["inspected"], panel.status, panel.source_kind, panel.source,
            panel.trigger_combo, panel.roi, panel.not_inspected_combo)
    for w in rows:
        assert w.height() >= w.minimumSizeHint().height(), w
    tops = [w.mapTo(column.widget(), w.rect().topLeft()).y() for w in rows]
    bottoms = [t + w.height() for t, w in zip(tops, rows)]
    assert all(b <= t2 for b, t2 in zip(bottoms, tops[1:]))  # one under the other, no overlap
    for w in rows:  # and nothing cut at the column's right edge
        assert w.mapTo(column.widget(), w.rect().topRight()).x() <= column.viewport().width()
    # what a shift needs first is in view without scrolling: start / stop, the counters, the status
    assert column.verticalScrollBar().value() == 0
    assert bottoms[2] <= column.viewport().height()
