"""Live tab with line outputs: the PLC (a real pymodbus client) triggers parts with IDs through the
Modbus server the tab starts; the box shows PLC online / offline; the settings are saved; a port in
use is one error line and nothing keeps running."""
import sys
import time
from pathlib import Path

from conftest import error_dialogs, shot

from inspector.core.line.outputs import LineSettings
from inspector.core.live.results import ResultsLog

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.unit.line_kit import free_port  # noqa: E402

FAST = "synthetic://line?fps=50&size=128&seed=3&defect_rate=0.5"


def test_plc_triggers_parts_through_the_live_tab(window, project_path, qtbot):
    from pymodbus.client import ModbusTcpClient

    from inspector.core.line import modbus_server as mb
    panel = window.live_panel
    window.show_panel("live")
    port = free_port()
    panel.source.setText(FAST)
    panel.trigger_combo.setCurrentIndex(panel.trigger_combo.findData("plc"))
    box = panel.line_box
    box.station.setText("press3")
    box.modbus.setText(f"127.0.0.1:{port}")
    box.part_id_combo.setCurrentIndex(box.part_id_combo.findData("plc"))
    panel.start()
    qtbot.waitUntil(lambda: panel.live.running and panel.live.pipeline.stats().state == "running", timeout=30_000)
    assert not box.modbus.isEnabled()
    c = ModbusTcpClient("127.0.0.1", port=port)
    assert c.connect()
    try:
        qtbot.waitUntil(lambda: c.read_coils(0, count=7).bits[mb.READY], timeout=10_000)
        for i in range(2):
            c.write_registers(mb.PART_ID, mb.encode_text(f"GUI-{i}"))
            c.write_coil(mb.TRIGGER, True)
            qtbot.waitUntil(lambda: any(c.read_coils(0, count=7).bits[mb.OK:mb.NOT_INSPECTED + 1]), timeout=10_000)
            c.write_coil(mb.ACK, True)
        qtbot.waitUntil(lambda: panel.shift_counts()[0] == 2, timeout=10_000)
        panel._update_stats()
        assert box.state.text().startswith("PLC online")
        shot(window, "live_line")
    finally:
        c.close()
    qtbot.waitUntil(lambda: (panel._update_stats(), "PLC OFFLINE" in box.state.text())[1], timeout=10_000)
    shot(window, "live_line_plc_offline")
    panel.stop()
    qtbot.waitUntil(lambda: not panel.live.running and not panel.live.busy, timeout=20_000)
    assert box.modbus.isEnabled() and box.state.text() == ""
    with ResultsLog(project_path) as log:
        assert [r["part_id"] for r in log.rows()][-2:] == ["GUI-0", "GUI-1"]
    assert LineSettings.load(window.session.project).modbus == f"127.0.0.1:{port}"


def test_line_port_in_use_is_one_error(window, qtbot):
    import socket
    panel = window.live_panel
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    panel.source.setText(FAST)
    panel.trigger_combo.setCurrentIndex(panel.trigger_combo.findData("free"))
    panel.line_box.modbus.setText(f"127.0.0.1:{port}")
    try:
        panel.start()
        qtbot.waitUntil(lambda: bool(error_dialogs()), timeout=20_000)
    finally:
        blocker.close()
    text = error_dialogs()[0].text()
    assert "in use" in text and "\n" not in text
    qtbot.waitUntil(lambda: not panel.live.busy, timeout=5000)
    assert not panel.live.running


def test_review_shows_the_part_id_logged_with_a_sample(window, project_path, qtbot):
    from inspector.core.live.results import ResultRow
    project = window.session.project
    sample = project.samples()[0]
    with ResultsLog(project_path) as log:
        run = log.start_run("synthetic://line", "plc", None)
        log.write([ResultRow(run, time.time(), "synthetic://line", 0, False, "scratch", 0.9, 0.9, {}, "v1", 5.0,
                             3.0, sample.id, None, "REV-0042")])
    assert "part ID REV-0042" in window.review_panel._describe(sample)
    assert "part ID" not in window.review_panel._describe(project.samples()[1])
