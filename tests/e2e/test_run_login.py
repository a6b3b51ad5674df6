"""`inspector run` on a project with accounts: an operator (or above) logs in with --user, a wrong password
or no --user is one refused line, and the account goes on the run, on every result row, on the audit rows
of the log-in and of the line's start and stop, and into `results --csv` and `results --part --json`.
Without accounts the computer's user is recorded. A stand-in model (registered runner) keeps it quick;
the project, the results log and the pipeline are real."""
from __future__ import annotations

import csv
import json

import pytest

from inspector.cli.main import main
from inspector.core import accounts, audit
from inspector.core.live.frames import Verdict
from inspector.core.live.pipeline import LiveConfig, LivePipeline
from inspector.core.live.results import ResultsLog
from inspector.core.live.runners import RUNNERS, register_runner
from inspector.core.project import Project
from inspector.core.registry import ModelRegistry

PW = "line-3-secret"
ROLE_USER = {"operator": "otto", "engineer": "eve", "admin": "root"}


class EveryThirdNotOk:
    kind, backend = "runlogintest", "test"

    def __init__(self, version):
        self.version, self.n = version, 0

    def warm_up(self, max_batch):
        pass

    def infer(self, images):
        out = []
        for _ in images:
            self.n += 1
            ok = self.n % 3 != 0
            out.append(Verdict(ok=ok, score=0.1 if ok else 0.9, label=None, confidence=None, scores={},
                               model_version=self.version))
        return out

    def close(self):
        pass


@pytest.fixture(autouse=True)
def stand_in_model():
    register_runner("runlogintest", lambda registry, mv, cfg, backend, threads: EveryThirdNotOk(mv.version))
    yield
    RUNNERS.pop("runlogintest", None)


def _new_project(path, *, staffed: bool) -> str:
    with Project.init(path) as p:
        ModelRegistry(p).save("runlogintest", {}, {"w.bin": lambda q: q.write_bytes(b"x")}, summary={})
        if staffed:
            accounts.add(p, "root", "admin", PW, by=None)
            admin = accounts.login(p, "root", PW)
            accounts.add(p, "eve", "engineer", PW, by=admin)
            accounts.add(p, "otto", "operator", PW, by=admin)
    return str(path)


@pytest.fixture
def staffed(tmp_path, monkeypatch):
    monkeypatch.setenv("INSPECTOR_PASSWORD", PW)
    return _new_project(tmp_path / "proj", staffed=True)


def run_line(project, *extra):
    return main(["run", "--project", project, "--source", "synthetic://line?size=32&seed=1", "--model", "v1",
                 "--max-frames", "6", "--part-id", "counter", "--no-line", "--json", *extra])


def results(project):
    with ResultsLog(project) as log:
        return list(log.rows()), log.runs()


@pytest.mark.parametrize("role", ["operator", "engineer", "admin"])
def test_each_role_may_run_the_line_and_is_recorded_everywhere(staffed, role, capsys):
    user = ROLE_USER[role]
    assert run_line(staffed, "--user", user) == 0, capsys.readouterr().err
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    rows, runs = results(staffed)
    assert len(rows) == 6 and {r["user"] for r in rows} == {user} and runs[-1]["user"] == user
    assert summary["run_id"] == runs[-1]["id"]
    with Project.open(staffed) as p:
        tail = audit.rows(p.db)[-3:]
        assert audit.verify(p.db).ok
    assert [(r.action, r.user, r.role) for r in tail] == [("login", user, role), ("line.start", user, role),
                                                          ("line.stop", user, role)]
    assert tail[1].detail["run_id"] == runs[-1]["id"] and tail[1].detail["model"] == "v1"
    assert (tail[2].detail["state"], tail[2].detail["triggered"], tail[2].detail["not_ok"]) == ("finished", 6, 2)


def test_a_wrong_password_is_one_line_audited_and_runs_nothing(staffed, monkeypatch, capsys):
    monkeypatch.setenv("INSPECTOR_PASSWORD", "wrong")
    assert run_line(staffed, "--user", "otto") == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "wrong name or password" in err
    with Project.open(staffed) as p:
        last = audit.rows(p.db)[-1]
    assert (last.action, last.user, last.detail["why"]) == ("login.failed", "otto", "wrong secret")
    assert not (p.root / "results.sqlite").exists()  # the line never started


def test_without_user_the_run_is_refused_naming_the_role(staffed, capsys):
    assert run_line(staffed) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("error: this project has accounts — pass --user NAME "
                   "(starting the line needs an operator — log in as one)"), err


def test_without_accounts_the_computer_user_is_recorded(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("INSPECTOR_PASSWORD", raising=False)
    solo = _new_project(tmp_path / "solo", staffed=False)
    assert run_line(solo) == 0, capsys.readouterr().err
    rows, runs = results(solo)
    assert {r["user"] for r in rows} == {audit.os_user()} and runs[-1]["user"] == audit.os_user()
    with Project.open(solo) as p:
        start = audit.rows(p.db, action="line.start")[-1]
    assert (start.user, start.role) == (audit.os_user(), audit.SINGLE_USER)


def test_exports_carry_the_account(staffed, tmp_path, capsys):
    assert run_line(staffed, "--user", "otto") == 0
    capsys.readouterr()
    assert main(["results", "--project", staffed, "--csv", str(tmp_path / "r.csv"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["runs"][-1]["user"] == "otto"
    with open(tmp_path / "r.csv", newline="", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 6 and {r["user"] for r in table} == {"otto"} and "views" in table[0]
    part = table[0]["part_id"]
    assert part
    assert main(["results", "--project", staffed, "--part", part, "--json"]) == 0
    story = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [r["user"] for r in story["results"]] == ["otto"]
    assert main(["results", "--project", staffed, "--part", part]) == 0
    assert "by otto" in capsys.readouterr().out


def _three_by_otto_then_two_by_eve(line) -> None:
    """Five parts on a line started by otto: eve logs in at the station after the third."""
    for _ in range(3):
        assert line.step() is not None
    line.set_user("eve")
    for _ in range(2):
        assert line.step() is not None
    line.close()


def test_a_new_user_taking_over_a_running_line_goes_on_the_following_results(staffed):
    with Project.open(staffed) as p:
        _three_by_otto_then_two_by_eve(
            LivePipeline(p, LiveConfig(source="synthetic://line?size=32&seed=2", model="v1", user="otto")))
        handover = audit.rows(p.db, action="line.handover")[-1]
        stop = audit.rows(p.db, action="line.stop")[-1]
    rows, runs = results(staffed)
    assert [r["user"] for r in rows] == ["otto"] * 3 + ["eve"] * 2 and runs[-1]["user"] == "otto"
    assert (handover.user, handover.detail["from"], handover.detail["to"]) == ("eve", "otto", "eve")
    assert stop.user == "eve"


def test_the_line_outputs_carry_the_account_and_its_handover(staffed):
    """The per-part message (MQTT and the MES webhook send the same JSON) names who ran the line when
    the verdict was made, as the results log does; a handover changes it from the next part on."""
    from inspector.core.line.outputs import LineIO, LineSettings
    from tests.unit.live_kit import wait_for
    from tests.unit.mes_kit import Mes

    mes = Mes().start()
    try:
        with Project.open(staffed) as p:
            io = LineIO(LineSettings(station="press3", mes=mes.url), outbox_folder=p.root)
            io.start()
            try:
                _three_by_otto_then_two_by_eve(
                    LivePipeline(p, LiveConfig(source="synthetic://line?size=32&seed=3", model="v1", user="otto"),
                                 on_result=io.publish))
                assert wait_for(lambda: len(mes.got) == 5, 10)
            finally:
                io.close()
    finally:
        mes.stop()
    assert [m["user"] for m in mes.got] == ["otto"] * 3 + ["eve"] * 2
    rows, _ = results(staffed)
    assert [r["user"] for r in rows] == [m["user"] for m in mes.got]


def test_a_station_writes_one_start_handover_and_stop_naming_its_views(staffed):
    """A two-view station is one line: one line.start (views and sources named), one line.handover and
    one line.stop in the audit trail, not one per view; its parts reach the MES carrying the account."""
    from inspector.core.line.outputs import LineIO, LineSettings
    from inspector.core.live.station import StationPipeline
    from inspector.core.live.station_config import ViewConfig
    from tests.unit.live_kit import wait_for
    from tests.unit.mes_kit import Mes

    views = [ViewConfig("top", "synthetic://line?size=32&fps=40&seed=1"),
             ViewConfig("side", "synthetic://line?size=32&fps=40&seed=2")]
    mes = Mes().start()
    try:
        with Project.open(staffed) as p:
            before = len(audit.rows(p.db))
            io = LineIO(LineSettings(station="cell7", mes=mes.url), outbox_folder=p.root)
            io.start()
            try:
                st = StationPipeline(p, views, LiveConfig(source="", model="v1", user="otto"), on_result=io.publish)
                st.start()
                assert wait_for(lambda: st.stats().triggered >= 3, 30)
                st.set_user("eve")
                seen = st.stats().triggered
                assert wait_for(lambda: st.stats().triggered >= seen + 3, 30)
                assert st.stop()
                assert wait_for(lambda: len(mes.got) == io.counters.parts, 10)
            finally:
                io.close()
            rows = [r for r in audit.rows(p.db)[before:] if r.action.startswith("line.")]
            assert audit.verify(p.db).ok
    finally:
        mes.stop()
    assert [(r.action, r.user) for r in rows] == [("line.start", "otto"), ("line.handover", "eve"),
                                                  ("line.stop", "eve")]
    start, handover, stop = rows
    assert start.detail["views"] == ["top", "side"] and set(start.detail["sources"]) == {"top", "side"}
    assert start.detail["model"] == "v1" and start.detail["run_id"] == st.run_id
    assert (handover.detail["from"], handover.detail["to"]) == ("otto", "eve")
    assert stop.detail["state"] == "stopped" and stop.detail["triggered"] == io.counters.parts
    users = [m["user"] for m in mes.got]
    assert users[0] == "otto" and users[-1] == "eve" and users == sorted(users, key=lambda u: u == "eve")
    assert all(len(m["views"]) == 2 for m in mes.got)
