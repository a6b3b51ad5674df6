"""The Live tab's Views… dialog: a station's views added, edited and removed with the CLI's checks and
messages, saved in the project, and the Live tab switching between one camera and the station's views;
closed to operators and while the line runs. Also the source address's width at 1366×768."""
from conftest import STATION_PW as PW, shot

from inspector.core.live.station_config import load_views

SYN = "synthetic://line?fps=20&size=128&seed={}&defect_rate=0.5"


def fill(dlg, name, source, roi="", model="line model"):
    dlg.name.setText(name)
    dlg.source.setText(source)
    dlg.roi.setText(roi)
    dlg.model.setCurrentText(model)


def save(dlg, qtbot):
    dlg.save_btn.click()
    qtbot.waitUntil(lambda: dlg._task is None, timeout=10_000)  # the source's form is checked on a task thread
    return dlg.status.text()


def saved_views(session):
    return [(v.name, v.source, v.roi, v.model) for v in load_views(session.project)]


def test_views_dialog_sets_up_a_station_and_the_live_tab_follows(window, session, qtbot, tmp_path):
    panel = window.live_panel
    window.show_panel("live")
    assert panel.station is None and panel.source.isVisible() and panel.views_btn.isEnabled()
    # the address has the box's width, not ~110 px beside the Camera… button
    assert panel.source.width() >= 250, panel.source.width()
    shot(window, "live_source_1366")
    panel.views_btn.click()
    dlg = panel.views_dialog
    assert dlg.isVisible() and dlg.table.rowCount() == 0 and dlg.save_btn.text() == "Add view"

    # each refusal is the CLI's one line, and nothing is saved
    fill(dlg, "top", SYN.format(3), roi="1,2,3")
    assert "region" in save(dlg, qtbot).lower() and saved_views(session) == []
    fill(dlg, "top", SYN.format(3), model="v99")
    assert save(dlg, qtbot).startswith("view top: there is no model 'v99'") and saved_views(session) == []
    fill(dlg, "top", str(tmp_path / "nowhere.mp4"))
    assert save(dlg, qtbot).startswith("view top: source ") and saved_views(session) == []
    fill(dlg, "top view", SYN.format(3))
    assert save(dlg, qtbot).startswith("view name 'top view'") and saved_views(session) == []

    fill(dlg, "top", SYN.format(3))
    assert save(dlg, qtbot) == "View top saved."
    assert saved_views(session) == [("top", SYN.format(3), None, None)]
    assert panel.station is not None and list(panel.station.tiles) == ["top"] and panel.station.isVisible()
    assert not panel.view.isVisible() and not panel.source.isVisible() and not panel.roi.isVisible()
    assert panel.station_names.isVisible() and panel.station_names.text().startswith("top — ")

    dlg._clear_form()
    fill(dlg, "TOP", SYN.format(4))  # adding a name already used: refused, not a silent replacement
    assert "named twice" in save(dlg, qtbot) and len(saved_views(session)) == 1
    fill(dlg, "side", SYN.format(4), roi="16,16,96,96", model="anomaly")
    assert save(dlg, qtbot) == "View side saved."
    assert list(panel.station.tiles) == ["top", "side"] and dlg.table.rowCount() == 2
    assert dlg.table.item(1, 2).text() == "16,16,96,96" and dlg.table.item(1, 3).text() == "anomaly"

    # edit: select side, rename it and pin the project's model
    dlg.table.selectRow(1)
    assert dlg.name.text() == "side" and dlg.save_btn.text() == "Save view"
    dlg.name.setText("top")
    assert "named twice" in save(dlg, qtbot)  # renamed onto another view's name
    version = session.registry.line_version()
    fill(dlg, "left", SYN.format(4), roi="0,0,64,64", model=version)
    assert save(dlg, qtbot) == "View left saved."
    assert saved_views(session) == [("top", SYN.format(3), None, None), ("left", SYN.format(4), "0,0,64,64", version)]
    assert list(panel.station.tiles) == ["top", "left"]
    shot(dlg, "station_dialog")
    shot(window, "live_station_from_dialog")

    # remove both: back to one camera
    for _ in range(2):
        dlg.table.selectRow(0)
        dlg.remove_btn.click()
    assert saved_views(session) == [] and dlg.status.text().endswith("The Live tab inspects one camera.")
    assert panel.station is None and panel.view.isVisible() and panel.source.isVisible()
    assert not panel.station_names.isVisible()
    dlg.close_btn.click()
    assert not dlg.isVisible()

    # the line running: no changing the views
    panel.source.setText(SYN.format(5))
    panel.trigger_combo.setCurrentIndex(panel.trigger_combo.findData("free"))
    panel.start()
    qtbot.waitUntil(lambda: panel.live.running, timeout=20_000)
    assert not panel.views_btn.isEnabled()
    panel.stop()
    qtbot.waitUntil(lambda: not panel.live.running and not panel.live.busy, timeout=20_000)
    assert panel.views_btn.isEnabled()


def test_views_need_an_engineer(station, qtbot):
    panel, session = station.live_panel, station.session
    session.login("otto", PW)
    assert not panel.views_btn.isEnabled()
    assert panel.views_btn.toolTip() == "Engineers and admins may do this — you are logged in as otto (operator)"
    session.login("eve", PW)
    assert panel.views_btn.isEnabled()
    panel.views_btn.click()
    dlg = panel.views_dialog
    session.login("otto", PW)  # a switch of user with the dialog open: the save is refused, one line
    fill(dlg, "top", SYN.format(3))
    assert save(dlg, qtbot) == "changing the project's settings needs an engineer — log in as one"
    assert load_views(session.project) == []
    dlg.close_btn.click()
