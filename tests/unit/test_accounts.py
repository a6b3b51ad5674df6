"""Accounts and roles: scrypt hashes, the first account an admin, PIN policy, lock-out, every log-in (and
failed one) audited, and the role each guarded action needs."""
from __future__ import annotations

import time

import pytest

from inspector.core import accounts, audit
from inspector.core.accounts import Actor, LoginFailed, PermissionDenied
from inspector.core.errors import ProjectError
from inspector.core.project import Project

PW = "correct horse"


@pytest.fixture
def project(tmp_path):
    p = Project.init(tmp_path / "p")
    yield p
    p.close()


def staffed(project):
    accounts.add(project, "root", "admin", PW, by=None)
    admin = accounts.login(project, "root", PW)
    accounts.add(project, "eve", "engineer", PW, by=admin)
    accounts.add(project, "otto", "operator", PW, by=admin)
    return admin


def test_secrets_are_salted_scrypt_hashes_never_clear(project):
    staffed(project)
    rows = project.db.execute("SELECT secret_hash FROM accounts").fetchall()
    assert all(r[0].startswith("scrypt$16384$8$1$") and PW not in r[0] for r in rows)
    assert len({r[0].split("$")[4] for r in rows}) == 3  # a salt per account
    assert accounts.check_secret(PW, rows[0][0]) and not accounts.check_secret(PW + "x", rows[0][0])


def test_the_first_account_is_an_admin_and_later_ones_need_one(project):
    first = accounts.add(project, "ana", "operator", PW, by=None)
    assert first.role == "admin"
    with pytest.raises(PermissionDenied, match="managing accounts needs an admin"):
        accounts.add(project, "bo", "operator", PW, by=None)
    ana = accounts.login(project, "ana", PW)
    accounts.add(project, "bo", "operator", PW, by=ana)
    bo = accounts.login(project, "bo", PW)
    with pytest.raises(PermissionDenied, match="needs an admin — log in as one"):
        accounts.add(project, "cy", "engineer", PW, by=bo)
    with pytest.raises(ProjectError, match="last admin"):
        accounts.remove(project, "ana", by=ana)
    with pytest.raises(ProjectError, match="at least 8 characters"):
        accounts.add(project, "cy", "engineer", "short", by=ana)
    assert [a.action for a in audit.rows(project.db, action="account.")] == ["account.add", "account.add"]


def test_pins_only_for_operators_and_only_when_an_admin_allows(project):
    admin = staffed(project)
    with pytest.raises(ProjectError, match="PINs are not allowed"):
        accounts.add(project, "pat", "operator", "123456", by=admin, pin=True)
    accounts.set_allow_pins(project, True, by=admin)
    with pytest.raises(ProjectError, match="only operators"):
        accounts.add(project, "pat", "engineer", "123456", by=admin, pin=True)
    with pytest.raises(ProjectError, match="at least 6 digits"):
        accounts.add(project, "pat", "operator", "12345", by=admin, pin=True)
    accounts.add(project, "pat", "operator", "123456", by=admin, pin=True)
    assert accounts.login(project, "pat", "123456") == Actor("pat", "operator")


def test_lockout_after_repeated_failures_and_every_attempt_is_audited(project):
    staffed(project)
    project.set_meta(accounts.MAX_FAILURES_KEY, "3")
    for left in (2, 1):
        with pytest.raises(LoginFailed, match=f"{left} tries left"):
            accounts.login(project, "otto", "wrong")
    with pytest.raises(LoginFailed, match="now locked"):
        accounts.login(project, "otto", "wrong")
    with pytest.raises(LoginFailed, match="is locked"):
        accounts.login(project, "otto", PW)  # even the right password, while locked
    with pytest.raises(LoginFailed, match="wrong name or password"):
        accounts.login(project, "nobody", PW)
    fails = audit.rows(project.db, action="login.failed")
    assert [r.detail["why"] for r in fails] == ["wrong secret"] * 3 + ["locked", "unknown name"]
    # An admin's new password lifts the lock.
    accounts.set_secret(project, "otto", "another one", by=accounts.login(project, "root", PW))
    assert accounts.login(project, "otto", "another one").role == "operator"
    assert audit.rows(project.db)[-1].action == "login" and audit.verify(project.db).ok


def test_the_lock_ends_after_its_time(project):
    staffed(project)
    project.set_meta(accounts.MAX_FAILURES_KEY, "1")
    project.set_meta(accounts.LOCKOUT_KEY, "0.2")
    with pytest.raises(LoginFailed, match="now locked"):
        accounts.login(project, "eve", "wrong")
    time.sleep(0.3)
    assert accounts.login(project, "eve", PW).role == "engineer"


def test_roles_allow_what_the_issue_lists():
    op, eng, adm = Actor("o", "operator"), Actor("e", "engineer"), Actor("a", "admin")
    single = accounts.single_user_actor("me")
    for action in ("label", "line.run"):
        assert all(accounts.allowed(a, action) for a in (op, eng, adm, single))
    for action in ("train", "model.activate", "model.rollback", "model.delete", "model.accept", "golden.edit",
                   "classes.edit", "mask.edit", "settings.edit"):
        assert not accounts.allowed(op, action) and accounts.allowed(eng, action) and accounts.allowed(adm, action)
    assert [accounts.allowed(a, "accounts.manage") for a in (op, eng, adm, single)] == [False, False, True, True]
    assert accounts.refusal("model.activate") == "activating a model needs an engineer — log in as one"
    assert accounts.who_may("model.activate") == "engineers and admins may do this"
    assert accounts.who_may("label") == "operators, engineers and admins may do this"


def test_login_takes_under_half_a_second(project):
    staffed(project)
    t0 = time.perf_counter()
    accounts.login(project, "eve", PW)
    assert time.perf_counter() - t0 < 0.5


def test_a_folder_with_accounts_is_known_before_opening(project, tmp_path):
    """The app asks for a log-in instead of a name on such a project (gui/app.py)."""
    assert not accounts.folder_has_accounts(project.root)
    accounts.add(project, "ana", "admin", PW, by=None)
    assert accounts.folder_has_accounts(project.root)
    assert not accounts.folder_has_accounts(tmp_path / "nowhere")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "project.sqlite").write_bytes(b"not a database")
    assert not accounts.folder_has_accounts(tmp_path / "junk")
