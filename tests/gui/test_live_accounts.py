"""The Live tab with accounts: the logged-in account goes on the run and on every result; switching user while
the line runs puts the new account on the following results (the line keeps running while the station is
locked); Start is disabled with a tooltip saying who may when the role may not run the line."""
from __future__ import annotations

from conftest import STATION_PW as PW, shot

from inspector.core import accounts, audit
from inspector.core.live.results import ResultsLog

FAST = "synthetic://line?fps=25&size=128&seed=3&defect_rate=0.5"


def start(panel, qtbot):
    panel.source.setText(FAST)
    panel.trigger_combo.setCurrentIndex(panel.trigger_combo.findData("free"))
    panel.start()
    qtbot.waitUntil(lambda: panel.live.running, timeout=20_000)


def log_in(w, name):
    page = w.station.login_page
    page.name.setCurrentText(name)
    page.secret.setText(PW)
    return page.submit()


def test_results_carry_the_account_and_a_switch_of_user_goes_on_the_following_ones(station, project_path, qtbot):
    w = station
    assert log_in(w, "otto")
    panel = w.live_panel
    w.show_panel("live")
    assert panel.start_btn.isEnabled()
    start(panel, qtbot)
    qtbot.waitUntil(lambda: panel.shift_counts()[0] >= 3, timeout=30_000)
    w.station.switch_action.trigger()  # locked: the line keeps running, under otto
    assert w.session.locked and panel.live.running
    assert log_in(w, "eve")
    seen = panel.shift_counts()[0]
    qtbot.waitUntil(lambda: panel.shift_counts()[0] >= seen + 3, timeout=30_000)
    panel.stop()
    qtbot.waitUntil(lambda: not panel.live.running and not panel.live.busy, timeout=20_000)
    with ResultsLog(project_path) as log:
        users = [r["user"] for r in log.rows()]
        run = log.runs()[-1]
    assert run["user"] == "otto" and users[0] == "otto" and users[-1] == "eve"
    assert set(users) == {"otto", "eve"} and users == sorted(users, key=lambda u: u == "eve")  # otto, then eve
    db = w.session.project.db
    assert [(r.action, r.user) for r in audit.rows(db, action="line.")] == [
        ("line.start", "otto"), ("line.handover", "eve"), ("line.stop", "eve")]
    assert audit.verify(db).ok


def test_start_is_disabled_with_who_may_when_the_role_may_not_run_the_line(station, monkeypatch):
    # Every role may run the line today; a station that asks more of it must show Start disabled, say why.
    monkeypatch.setitem(accounts.PERMISSIONS, "line.run", ("engineer", "starting the line"))
    w = station
    assert log_in(w, "otto")
    w.show_panel("live")
    panel = w.live_panel
    assert not panel.start_btn.isEnabled()
    assert panel.start_btn.toolTip() == "Engineers and admins may do this — you are logged in as otto (operator)"
    panel.toggle()  # F5
    assert not panel.live.running and not panel.live.busy and panel.status.text() == "starting the line needs an engineer — log in as one"
    shot(w, "live_start_refused")
    w.station.switch_action.trigger()
    assert log_in(w, "eve")
    assert panel.start_btn.isEnabled() and panel.start_btn.toolTip() == ""


def test_single_user_results_carry_the_name_the_session_records(window, project_path, qtbot):
    panel = window.live_panel
    start(panel, qtbot)
    qtbot.waitUntil(lambda: panel.shift_counts()[0] >= 2, timeout=30_000)
    panel.stop()
    qtbot.waitUntil(lambda: not panel.live.running and not panel.live.busy, timeout=20_000)
    with ResultsLog(project_path) as log:
        assert {r["user"] for r in log.rows()} == {window.session.user} and log.runs()[-1]["user"] == window.session.user


def test_no_name_given_records_the_computer_user_not_free_text(project_path, qtbot):
    from inspector.gui.session import Session

    session = Session.open(project_path, "")
    try:
        assert session.user == audit.os_user() and session.actor.role == audit.SINGLE_USER
    finally:
        session.close()
