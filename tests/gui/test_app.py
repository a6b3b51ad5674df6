"""The application's entry: `inspector` alone opens the last project (or the start page); the start
page needs a name; the large-font option; the demo's own source (belt + presence trigger) inspects."""
import sys

from conftest import close_window, image_is_not_blank, shot
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from inspector.gui import app as app_module
from inspector.gui.main_window import MainWindow
from inspector.gui.settings import Preferences, geometry_settings, load_preferences, save_preferences
from inspector.gui.start_page import StartPage


def _close_soon(kind, seen):
    def close():
        for w in QApplication.topLevelWidgets():
            if isinstance(w, kind) and w.isVisible():
                seen.append(w)
                w.close()
                return
        QTimer.singleShot(100, close)
    QTimer.singleShot(300, close)


def test_inspector_alone_opens_the_last_project(project_path, monkeypatch, qapp):
    save_preferences(Preferences(user="Ana", last_project=str(project_path)))
    monkeypatch.setattr(app_module.Controller, "ask_user", lambda self: True)
    hook = sys.excepthook
    seen = []
    try:
        _close_soon(MainWindow, seen)
        assert app_module.run_app(argv=["inspector"]) == 0
    finally:
        sys.excepthook = hook
    assert seen and seen[0].session.root == project_path and seen[0].session.user == "Ana"
    assert load_preferences().recent_projects == [str(project_path)]


def test_without_a_last_project_the_start_page_shows(monkeypatch, qapp):
    hook = sys.excepthook
    seen = []
    try:
        _close_soon(StartPage, seen)
        assert app_module.run_app(argv=["inspector"]) == 0
    finally:
        sys.excepthook = hook
    assert seen and "No recent projects" in seen[0].recent.item(0).text()


def test_open_needs_a_name_and_large_font_applies(project_path, qtbot, qapp):
    controller = app_module.Controller(qapp, Preferences())
    page = controller.show_start()
    page.open_requested.disconnect()
    asked = []
    page.open_requested.connect(asked.append)
    page.open_btn.click()
    assert not asked and "name" in page.message.text()
    page.name.setText("Bo")
    page.open_btn.click()
    assert asked == [""] and controller.prefs.user == "Bo"
    w = controller.open_project(project_path)
    assert w is not None and w.session.user == "Bo" and not page.isVisible()
    base = qapp.font().pointSizeF()
    w.large_font_action.trigger()
    assert qapp.font().pointSizeF() > 1.3 * base and load_preferences().large_font
    w.resize(1366, 768)
    for name in ("live", "review", "train"):
        w.show_panel(name)
        qtbot.wait(50)
        assert image_is_not_blank(shot(w, f"large_font_{name}"))
    w.large_font_action.trigger()
    assert abs(qapp.font().pointSizeF() - base) < 0.01
    w.resize(1200, 700)
    close_window(w, qtbot)
    geometry = geometry_settings().value("main/geometry")
    assert geometry is not None, "window geometry saved on close (QSettings, in the isolated config folder)"
    again = MainWindow(w.session.__class__.open(project_path, "Bo"))
    # Restored, not the 1366×768 default (the offscreen screen is small, so the width is clamped).
    assert again.height() == 700 and again.width() < 1366
    close_window(again, qtbot)


def test_a_broken_project_folder_is_a_dialog(tmp_path, qapp):
    from conftest import error_dialogs

    controller = app_module.Controller(qapp, Preferences(user="Ana"))
    controller.show_start()
    (tmp_path / "notaproject").mkdir()
    assert controller.open_project(tmp_path / "notaproject") is None
    assert "not an Inspector project" in error_dialogs()[-1].text()
    controller.start_page.close()


def test_the_demo_source_inspects_parts_as_they_arrive(window, qtbot):
    live = window.live_panel
    assert live.trigger_combo.currentData() == "presence" and "mode=belt" in live.source.text()
    live.start()
    qtbot.waitUntil(lambda: live.live.results_seen >= 2, timeout=60_000)
    qtbot.waitUntil(lambda: live.view.banner_text.startswith(("OK", "NG")), timeout=5000)
    assert image_is_not_blank(shot(window, "live_demo_belt"))
    stats = live.live.stats()
    assert stats.frames_read > stats.inspected  # the belt between parts is not inspected


def test_a_new_project_gets_classes_and_imported_images(tmp_path, qtbot, qapp):
    from conftest import error_dialogs

    from inspector.core.synth import write_imagefolder
    from inspector.gui import project_actions

    write_imagefolder(tmp_path / "parts", 12, seed=2, defect_rate=0.5, size=(64, 64), balanced=True)
    controller = app_module.Controller(qapp, Preferences(user="Ana"))
    controller.show_start()
    from inspector.core.project import Project

    Project.init(tmp_path / "new").close()
    w = controller.open_project(tmp_path / "new")
    session = w.session
    assert project_actions.add_class(w, session, "dent", "defect")
    assert not project_actions.add_class(w, session, "dent", "ok")  # refused: a dialog says why
    assert "already exists" in error_dialogs()[-1].text()
    task = project_actions.import_folder(w, session, tmp_path / "parts")
    with qtbot.waitSignal(task.finished, timeout=60_000):
        pass
    counts = session.project.counts()
    assert counts["labelled"] == 12 and {"good", "scratch", "dent"} <= set(counts["per_class"])
    assert w.review_panel.keys.count() == len(session.project.classes())
    w.show_panel("train")  # hidden, the Train counts wait until the tab is shown
    assert w.train_panel.counts.rowCount() == len(session.project.classes())
    close_window(w, qtbot)


def test_opening_a_project_says_what_it_moved_to_quarantine(project_path, qtbot):
    from inspector.gui.session import Session

    orphan = project_path / "images" / "ee" / ("ee" + "7" * 62 + ".png")
    orphan.parent.mkdir(exist_ok=True)
    orphan.write_bytes(b"an image file the database does not know")
    (project_path / "models" / "v99").mkdir()
    (project_path / "models" / "v99" / "config.json").write_text("{}")
    w = MainWindow(Session.open(project_path, "Ana"))
    w.show()
    qtbot.waitExposed(w)
    line = w.statusBar().currentMessage()
    assert line == w.recovery_line and "quarantine/" in line and "v99" in line and "nothing was deleted" in line
    assert not orphan.exists() and not (project_path / "models" / "v99").exists()
    assert len(list((project_path / "quarantine").rglob("*.png"))) == 1
    shot(w, "quarantine_status_line")
    close_window(w, qtbot)
