"""The GUI with accounts: the station opens on the log-in page, each role sees the controls it may not use
disabled with a tooltip saying who may, a refused activation leaves the line's model, lock / switch user /
auto-lock, Ctrl+G marks a golden part, the golden guard's reason dialog, and the Audit view."""
from __future__ import annotations

import pytest
from conftest import STATION_PW as PW, close_window, error_dialogs, staff, shot
from PySide6.QtCore import Qt

from inspector.core import accounts, audit, golden
from inspector.core.project import Project
from inspector.core.registry import ModelRegistry
from inspector.gui.audit_view import KINDS



@pytest.fixture
def staffed(project_path):
    staff(project_path)
    with Project.open(project_path) as p:
        reg = ModelRegistry(p)
        v2 = reg.save("classifier", reg.read_config("v1"), {n: (lambda d, n=n: d.write_bytes(
            (reg.get("v1").path / n).read_bytes())) for n in reg.get("v1").files if n != "config.json"},
                      summary=reg.get("v1").summary).version
    return project_path, v2


@pytest.fixture
def station(staffed, qtbot):
    from inspector.gui.main_window import MainWindow
    from inspector.gui.session import Session

    path, v2 = staffed
    session = Session.open(path, "whoever")
    w = MainWindow(session)
    w.resize(1366, 768)
    w.show()
    qtbot.waitExposed(w)
    yield w, v2
    close_window(w, qtbot)


def log_in(w, name, secret=PW):
    page = w.station.login_page
    page.name.setCurrentText(name)
    page.secret.setText(secret)
    return page.submit()


def test_opens_locked_and_a_wrong_password_is_one_line_and_recorded(station):
    w, _ = station
    assert w.session.locked and w.station.stack.currentWidget() is w.station.login_page
    shot(w, "login_page")
    assert not log_in(w, "otto", "nope")
    assert "wrong name or password" in w.station.login_page.error.text()
    assert log_in(w, "otto")
    assert w.station.stack.currentWidget() is w.tabs and "otto (operator)" in w.user_label.text()
    acts = [(r.action, r.user) for r in audit.rows(w.session.project.db)[-2:]]
    assert acts == [("login.failed", "otto"), ("login", "otto")]


@pytest.mark.parametrize("role, name", [("operator", "otto"), ("engineer", "eve"), ("admin", "root")])
def test_each_role_sees_what_it_may_not_do_disabled_with_who_may(station, role, name, qtbot):
    w, v2 = station
    assert log_in(w, name)
    w.show_panel("models")
    w.models_panel.select(v2)
    guarded = {"activate": (w.models_panel.activate_btn, "model.activate"),
               "delete": (w.models_panel.delete_btn, "model.delete"),
               "train": (w.train_panel.train_btn, "train"),
               "import": (w.guarded_actions[0][0], "import"),
               "classes": (w.guarded_actions[1][0], "classes.edit")}
    for what, (control, action) in guarded.items():
        may = accounts.allowed(accounts.Actor(name, role), action)
        assert control.isEnabled() == may, (role, what)
        if not may:
            assert control.toolTip().startswith(accounts.who_may(action)[0].upper()), control.toolTip()
            assert f"logged in as {name} ({role})" in control.toolTip()
    if role == "operator":
        shot(w, "models_panel_operator")
        # Even called directly, the session refuses, records it, and the line's model stays.
        with pytest.raises(accounts.PermissionDenied, match="activating a model needs an engineer"):
            w.session.activate(v2)
        assert w.session.registry.active_version() == "v1"
        assert audit.rows(w.session.project.db)[-1].action == "refused"
    else:
        w.models_panel.activate_selected()  # the golden set is empty: straight on the line
        qtbot.waitUntil(lambda: w.session.registry.active_version() == v2, timeout=5000)
        last = audit.rows(w.session.project.db, action="model.activate")[-1]
        assert (last.user, last.role, last.detail["version"]) == (name, role, v2)


def test_lock_switch_user_and_auto_lock(station):
    w, _ = station
    assert log_in(w, "eve")
    w.station.lock_action.trigger()
    assert w.session.locked and w.station.stack.currentWidget() is w.station.login_page
    assert log_in(w, "otto")  # switch user: a different account unlocks
    assert w.session.user == "otto" and not w.session.can_undo()
    w.station.set_autolock(5)  # an operator may not change settings
    assert error_dialogs() and "needs an engineer" in error_dialogs()[0].text()
    w.station.switch_action.trigger()
    assert log_in(w, "eve")
    w.station.set_autolock(5)
    assert w.station.autolock_min() == 5
    assert not w.station.check_idle(now=w.station.last_input + 4 * 60)
    assert w.station.check_idle(now=w.station.last_input + 5 * 60 + 1)
    assert w.session.locked
    locks = audit.rows(w.session.project.db, action="station.lock")
    assert [r.detail["why"] for r in locks] == ["locked by hand", "switch user", "idle 5 min"]


def test_ctrl_g_marks_a_golden_part_for_an_engineer_only(station, qtbot):
    w, _ = station
    assert log_in(w, "otto")
    w.show_panel("review")
    review = w.review_panel
    review.status_filter.setCurrentIndex(review.status_filter.findData("labelled"))
    review.list.setCurrentRow(0)
    first = review.current.id
    qtbot.keyClick(review.list, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert error_dialogs() and "changing the golden set needs an engineer" in error_dialogs()[0].text()
    assert not golden.members(w.session.project)
    for box in error_dialogs():
        box.close()
    w.station.lock_action.trigger()
    assert log_in(w, "eve")
    w.show_panel("review")
    review.list.setCurrentRow(0)
    assert review.current.id == first
    qtbot.keyClick(review.list, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert [s.id for s in golden.members(w.session.project)] == [first]
    assert "golden set" in w.statusBar().currentMessage()
    w.train_panel.refresh()
    col = [w.train_panel.counts.horizontalHeaderItem(c).text() for c in range(w.train_panel.counts.columnCount())]
    assert col[3] == "golden"
    assert sum(int(w.train_panel.counts.item(r, 3).text()) for r in range(w.train_panel.counts.rowCount())) == 1


def test_golden_guard_asks_an_engineer_for_a_reason_and_refuses_an_operator(station, qtbot):
    from inspector.gui import golden_guard

    w, v2 = station
    check = golden.GoldenCheck(v2, "v1", golden.GoldenCounts(3, 3, 0, 0), golden.GoldenCounts(3, 3, 0, 2))
    got = []
    assert log_in(w, "otto")
    assert golden_guard.decide(w.session, w, check, "model.activate", got.append) is None
    assert not got and error_dialogs()
    assert "engineers and admins may confirm" in error_dialogs()[0].text()
    for box in error_dialogs():
        box.close()
    w.station.lock_action.trigger()
    assert log_in(w, "eve")
    dialog = golden_guard.decide(w.session, w, check, "model.activate", got.append)
    assert dialog is not None and not dialog.confirm_btn.isEnabled()
    shot(dialog, "golden_reason_dialog")
    dialog.reason_edit.setText("the two are cosmetic, QA note 17")
    dialog.confirm_btn.click()
    assert got and got[0]["confirmed_escapes_up"] == "the two are cosmetic, QA note 17"
    assert got[0]["golden"]["after"]["escapes"] == 2


def test_audit_view_filters_exports_and_verifies(station, tmp_path):
    w, _ = station
    assert log_in(w, "otto")
    view = w.station.show_audit()
    view.user.setCurrentText("otto")
    users = {view.table.item(r, 2).text() for r in range(view.table.rowCount())}
    assert view.table.rowCount() >= 1 and users == {"otto"}
    view.kind.setCurrentIndex([k for k, _ in KINDS].index("accounts"))
    assert view.table.rowCount() == 0  # otto made no account changes
    view.user.setCurrentIndex(0)
    assert view.table.rowCount() == 3  # root, eve, otto added
    n = view.export(tmp_path / "audit.csv")
    assert n == 3 and len((tmp_path / "audit.csv").read_text(encoding="utf-8").splitlines()) == 4
    assert view.verify().ok and "audit trail whole" in view.chain.text()
    view.kind.setCurrentIndex(0)
    shot(view, "audit_view")
    view.close()


def test_a_project_without_accounts_is_single_user_as_before(window):
    assert not window.session.locked and window.session.actor.single_user
    assert window.station.stack.currentWidget() is window.tabs
    assert not window.station.lock_action.isEnabled()
    assert window.train_panel.train_btn.isEnabled() and all(a.isEnabled() for a, _ in window.guarded_actions)
