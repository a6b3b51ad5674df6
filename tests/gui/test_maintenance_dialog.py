"""Project ▸ Retention and maintenance: the settings are saved in the project, "Run maintenance now"
prunes on a worker thread (the review queue shrinks to its limit, the oldest go first) and the
report is shown; the schedule starts a run when one is due."""
from conftest import add_flagged_parts, shot

from inspector.core import maintenance, retention
from inspector.core.project import Project


def test_dialog_saves_settings_and_runs_maintenance_off_the_gui_thread(window, project_path, qtbot):
    ids = add_flagged_parts(project_path, 5)
    dialog = window.show_maintenance()
    qtbot.waitExposed(dialog)
    dialog.review_max.setValue(2)
    dialog.results_days.setValue(90)
    shot(dialog, "maintenance_dialog")
    with qtbot.waitSignal(window.maintenance.finished, timeout=30_000) as done:
        dialog.run_button.click()
        assert not dialog.run_button.isEnabled()
    report = done.args[0]
    assert report.ok and report.queue_dropped == 3
    qtbot.waitUntil(lambda: dialog.run_button.isEnabled(), timeout=5_000)
    assert "3 unreviewed parts over the limit" in dialog.last.text() and "ok" in dialog.last.text()
    shot(dialog, "maintenance_dialog_after")
    with Project.open(project_path) as p:
        assert [s.id for s in p.samples(status="unreviewed", order="added_at")] == ids[3:]
        policy = retention.load_policy(p)
    assert (policy.review_queue_max, policy.results_days) == (2, 90)
    dialog.accept()


def test_the_schedule_runs_when_due_and_not_again_until_the_next_time(window, qtbot):
    sched = window.maintenance
    assert maintenance.due(window.session.project)  # never run on this project
    with qtbot.waitSignal(sched.finished, timeout=30_000):
        sched.check()
    assert not maintenance.due(window.session.project)
    qtbot.waitUntil(lambda: not sched.running, timeout=10_000)  # the task's thread ends after its result
    sched.check()
    assert not sched.running  # not due: no second run started


def test_the_schedule_stops_with_the_window(session, qtbot):
    from conftest import close_window

    from inspector.gui.main_window import MainWindow

    w = MainWindow(session)
    w.show()
    qtbot.waitExposed(w)
    sched = w.maintenance
    close_window(w, qtbot)
    assert not sched._timer.isActive() and not sched._first.isActive()
    session.project.close()
    sched.check()  # a late timer on a closed project: nothing happens, nothing raised
