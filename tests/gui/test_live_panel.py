"""Live: start on the synthetic line, verdicts with banner and counters, trigger button, stop; errors
become a dialog and leave no thread behind."""
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
