"""Each role × each guarded command of the CLI: allowed ones succeed, refused ones exit 2 with one line
naming the role that may, change nothing (a refused activation leaves the line's model as it was) and
are recorded in the audit trail. Plus the single-user mode and one run of the real `inspector` process."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from cli_run import inspector

from inspector.cli.main import main
from inspector.core import accounts, audit
from inspector.core.imageio import encode_png
from inspector.core.project import Project
from inspector.core.registry import ModelRegistry

PW = "line-3-secret"
ROLE_USER = {"operator": "otto", "engineer": "eve", "admin": "root"}


def _write(path):
    path.write_bytes(b"weights")


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A project with three accounts, four labelled parts and three model versions (v1 active)."""
    root = tmp_path_factory.mktemp("roles")
    with Project.init(root / "proj") as p:
        p.add_class("good", "ok")
        p.add_class("dent", "defect")
        for i in range(4):
            img = np.full((16, 16, 3), 40 * i, np.uint8)
            p.add_image(encode_png(img), source=f"p{i}", label="good" if i % 2 else "dent", user="setup")
        reg = ModelRegistry(p)
        for _ in range(3):
            reg.save("classifier", {}, {"w.bin": _write}, summary={"arch": "mlp"})
        reg.activate("v2", "setup")
        reg.activate("v1", "setup")  # so a rollback has somewhere to go
        accounts.add(p, "root", "admin", PW, by=None)
        admin = accounts.login(p, "root", PW)
        accounts.add(p, "eve", "engineer", PW, by=admin)
        accounts.add(p, "otto", "operator", PW, by=admin)
    parts = root / "parts" / "good"
    parts.mkdir(parents=True)
    (parts / "new.png").write_bytes(encode_png(np.full((16, 16, 3), 200, np.uint8)))
    return root


@pytest.fixture
def project(template, tmp_path, monkeypatch):
    shutil.copytree(template / "proj", tmp_path / "proj")
    monkeypatch.setenv("INSPECTOR_PASSWORD", PW)
    monkeypatch.setenv("INSPECTOR_NEW_PASSWORD", "a new secret")
    return tmp_path / "proj"


COMMANDS = {  # action -> the command line after `inspector`
    "import": lambda p, t: ["import", str(t / "parts"), "--project", str(p)],
    "golden.edit": lambda p, t: ["golden", "add", "1", "2", "--project", str(p)],
    "model.activate": lambda p, t: ["models", "activate", "v2", "--project", str(p)],
    "model.rollback": lambda p, t: ["models", "rollback", "--project", str(p)],
    "model.delete": lambda p, t: ["models", "delete", "v3", "--project", str(p)],
    "mask.edit": lambda p, t: ["anomaly", "mask", "--clear", "--project", str(p)],
    "accounts.manage": lambda p, t: ["users", "add", "newbie", "--role", "operator", "--project", str(p)],
    "train": lambda p, t: ["train", "--project", str(p), "--quiet"],
    "model.fit": lambda p, t: ["anomaly", "fit", "--project", str(p), "--quiet"],
}
RUNS = {"train", "model.fit"}  # allowed: they start and then stop on this tiny project for their own reason


def audit_tail(path, n=3):
    with Project.open(path) as p:
        return audit.rows(p.db)[-n:]


def state(path):
    with Project.open(path) as p:
        reg = ModelRegistry(p)
        return {"active": reg.active_version(), "versions": [m.version for m in reg.list()],
                "golden": [s.id for s in p.samples(split="golden")], "samples": len(p.samples()),
                "accounts": [a.name for a in accounts.accounts(p)]}


@pytest.mark.parametrize("action", list(COMMANDS))
@pytest.mark.parametrize("role", ["operator", "engineer", "admin"])
def test_each_role_for_each_guarded_command(project, template, role, action, capsys):
    user = ROLE_USER[role]
    before = state(project)
    rc = main(COMMANDS[action](project, template) + ["--user", user])
    out, err = capsys.readouterr()
    may = accounts.allowed(accounts.Actor(user, role), action)
    after = state(project)
    with Project.open(project) as p:
        last = audit.rows(p.db)[-1]
    if not may:
        assert rc == 2 and err.strip() == f"error: {accounts.refusal(action)}", err
        assert after == before  # nothing changed: the line's model included
        assert (last.action, last.user, last.detail["action"]) == ("refused", user, action)
        return
    if action in RUNS:  # past the guard, the command reached its own work (too few parts here)
        assert "log in as one" not in err and "refused" not in [r.action for r in audit_tail(project)], err
        return
    assert rc == 0, err
    expected = {
        "import": lambda: after["samples"] == before["samples"] + 1,
        "golden.edit": lambda: after["golden"] == [1, 2],
        "model.activate": lambda: after["active"] == "v2",
        "model.rollback": lambda: after["active"] == "v2",
        "model.delete": lambda: "v3" not in after["versions"],
        "mask.edit": lambda: True,
        "accounts.manage": lambda: "newbie" in after["accounts"],
    }
    assert expected[action](), (before, after)
    assert last.user == user and last.role == role


def test_rollback_and_a_refused_activation_leave_the_line_model(project, capsys):
    assert main(["models", "activate", "v2", "--project", str(project), "--user", "eve"]) == 0
    assert main(["models", "activate", "v3", "--project", str(project), "--user", "otto"]) == 2
    assert "activating a model needs an engineer — log in as one" in capsys.readouterr().err
    assert state(project)["active"] == "v2"
    assert main(["models", "rollback", "--project", str(project), "--user", "otto"]) == 2
    assert state(project)["active"] == "v2"
    assert main(["models", "rollback", "--project", str(project), "--user", "eve"]) == 0
    assert state(project)["active"] == "v1"  # the one before v2
    with Project.open(project) as p:
        rows = audit.rows(p.db, action="model.")
        assert [(r.action, r.user, r.role, r.detail["version"]) for r in rows[-2:]] == [
            ("model.activate", "eve", "engineer", "v2"), ("model.rollback", "eve", "engineer", "v1")]
        assert rows[-1].detail["golden"]["previous"] == "v2"
        assert audit.verify(p.db).ok


def test_a_wrong_password_or_no_user_is_refused(project, monkeypatch, capsys):
    monkeypatch.setenv("INSPECTOR_PASSWORD", "wrong")
    assert main(["models", "activate", "v2", "--project", str(project), "--user", "eve"]) == 2
    assert "wrong name or password" in capsys.readouterr().err
    assert main(["models", "activate", "v2", "--project", str(project)]) == 2
    assert "this project has accounts — pass --user NAME" in capsys.readouterr().err
    assert state(project)["active"] == "v1"


def test_without_accounts_everything_works_as_the_computer_user(tmp_path, monkeypatch, capsys):
    with Project.init(tmp_path / "solo") as p:
        reg = ModelRegistry(p)
        reg.save("classifier", {}, {"w.bin": _write}, summary={})
    assert main(["models", "activate", "v1", "--project", str(tmp_path / "solo")]) == 0
    with Project.open(tmp_path / "solo") as p:
        last = audit.rows(p.db)[-1]
        assert (last.action, last.user, last.role) == ("model.activate", audit.os_user(), audit.SINGLE_USER)
    monkeypatch.setenv("INSPECTOR_NEW_PASSWORD", PW)
    assert main(["users", "add", "boss", "--role", "engineer", "--project", str(tmp_path / "solo")]) == 0
    assert "added boss as admin (the first account is always an admin)" in capsys.readouterr().out
    # From now on the project has accounts: the same command needs a log-in.
    assert main(["models", "activate", "v1", "--project", str(tmp_path / "solo")]) == 2


def test_users_commands_in_a_real_process(project, monkeypatch):
    out = inspector("users", "list", "--project", project)
    assert "root" in out.stdout and "admin" in out.stdout and "otto" in out.stdout
    refused = inspector("models", "activate", "v2", "--project", project, "--user", "otto", check=False)
    assert refused.returncode == 2
    assert refused.stderr.strip() == "error: activating a model needs an engineer — log in as one"
    inspector("users", "passwd", "otto", "--project", project)  # own password: INSPECTOR_NEW_PASSWORD
    inspector("users", "role", "otto", "--role", "engineer", "--project", project, "--user", "root")
    monkeypatch.setenv("INSPECTOR_PASSWORD", "a new secret")
    inspector("models", "activate", "v2", "--project", project, "--user", "otto")
    assert state(project)["active"] == "v2"
    verify = inspector("audit", "verify", "--project", project)
    assert "audit trail whole" in verify.stdout
