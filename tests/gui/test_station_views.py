"""Live tab on a multi-camera station: the views side by side, each with its own verdict, the part's
verdict in large above them, one result per part in the shift counters and the results log."""
import json
import shutil

import pytest
from conftest import image_is_not_blank, shot

from inspector.core.live.results import ResultsLog
from inspector.core.live.station_config import ViewConfig, save_views
from inspector.core.project import Project


@pytest.fixture
def project_path(demo_template, tmp_path):
    dest = tmp_path / "project"
    shutil.copytree(demo_template, dest)
    with Project.open(dest) as p:
        save_views(p, [ViewConfig("top", "synthetic://line?fps=20&size=128&seed=3&defect_rate=0.5"),
                       ViewConfig("side", "synthetic://line?fps=20&size=128&seed=4&defect_rate=0.5", "16,16,96,96")])
    return dest


def test_station_views_side_by_side_with_the_part_verdict_on_top(window, project_path, qtbot):
    panel = window.live_panel
    window.show_panel("live")
    assert panel.station is not None and list(panel.station.tiles) == ["top", "side"]
    assert not panel.source.isVisible() and not panel.roi.isVisible()  # each view has its own
    print("DBG trigger", panel.trigger_combo.currentData())
    panel.trigger_combo.setCurrentIndex(panel.trigger_combo.findData("free"))
    panel.start()
    qtbot.waitUntil(lambda: panel.live.running, timeout=20_000)
    qtbot.waitUntil(lambda: panel.shift_counts()[0] + panel.shift_not_inspected() >= 6, timeout=30_000)
    qtbot.waitUntil(lambda: panel.station.part.text() in ("OK", "NG"), timeout=10_000)
    for name, tile in panel.station.tiles.items():
        assert tile.banner_text.startswith(("OK", "NG")), name
    assert panel.station.detail.text().startswith("part ")
    panel._update_stats()
    assert image_is_not_blank(shot(window, "live_station"))
    panel.stop()
    qtbot.waitUntil(lambda: not panel.live.running and not panel.live.busy, timeout=20_000)
    n, _ = panel.shift_counts()
    with ResultsLog(project_path) as log:
        rows = list(log.rows())
    assert len(rows) >= n and rows[0]["source"] == "station top+side"
    assert [v["view"] for v in json.loads(rows[0]["views"])] == ["top", "side"]
