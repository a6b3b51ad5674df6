"""Who may change the line: a project's accounts, their roles, log-in with lock-out, and the role each
guarded action needs.

Roles are ordered: an operator reviews and labels and starts or stops the line; an engineer also
trains, fits, activates, rolls back, accepts, deletes models and edits classes, masks, thresholds and
settings; an admin also manages accounts. A project with no accounts is single-user: every action is
allowed and recorded under the computer's login name, until the first account (always an admin) exists.

Secrets are stored as scrypt hashes (memory-hard, salted per account), never in clear.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import sqlite3
import time
from dataclasses import dataclass

from inspector.core import audit
from inspector.core.errors import InspectorError, ProjectError

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('operator', 'engineer', 'admin')),
    secret_kind TEXT NOT NULL CHECK (secret_kind IN ('password', 'pin')),
    secret_hash TEXT NOT NULL,   -- scrypt$<n>$<r>$<p>$<salt hex>$<key hex>
    created_at REAL NOT NULL,
    failed INTEGER NOT NULL DEFAULT 0,
    locked_until REAL
)
"""
ROLES = ("operator", "engineer", "admin")
# scrypt at n=2^14, r=8: 16 MiB and ~50 ms a try on one core — cheap for one log-in, costly for guessing.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 14, 8, 1
MIN_PASSWORD = 8
MIN_PIN = 6
ALLOW_PINS_KEY = "accounts.allow_pins"  # meta: "1" lets operators log in with a PIN of >= 6 digits
MAX_FAILURES_KEY, DEFAULT_MAX_FAILURES = "accounts.max_failures", 5
LOCKOUT_KEY, DEFAULT_LOCKOUT_S = "accounts.lockout_s", 300.0

# action -> (the least role that may take it, how a refusal names it)
PERMISSIONS: dict[str, tuple[str, str]] = {
    "label": ("operator", "labelling a part"),
    "line.run": ("operator", "starting the line"),
    "audit.read": ("operator", "reading the audit trail"),
    "train": ("engineer", "training a model"),
    "model.fit": ("engineer", "fitting an anomaly model"),
    "model.activate": ("engineer", "activating a model"),
    "model.rollback": ("engineer", "rolling back the model"),
    "model.delete": ("engineer", "deleting a model"),
    "model.accept": ("engineer", "accepting a part as OK into the model"),
    "golden.edit": ("engineer", "changing the golden set"),
    "golden.confirm": ("engineer", "confirming a model that lets more golden defects through"),
    "classes.edit": ("engineer", "editing the classes"),
    "mask.edit": ("engineer", "changing the ignore mask"),
    "settings.edit": ("engineer", "changing the project's settings"),
    "import": ("operator", "importing images"),
    "export": ("operator", "exporting the labelled set"),
    "accounts.manage": ("admin", "managing accounts"),
}


class PermissionDenied(InspectorError):
    """The current account's role may not take this action; the text says which role may."""


class LoginFailed(InspectorError):
    """Wrong name or secret, or a locked account; the text says what to do."""


@dataclass(frozen=True)
class Actor:
    """Who is acting: an account and its role, or the computer's user while the project has no accounts."""
    name: str
    role: str  # one of ROLES, or audit.SINGLE_USER

    @property
    def single_user(self) -> bool:
        return self.role == audit.SINGLE_USER


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    secret_kind: str
    created_at: float
    failed: int
    locked_until: float | None


def create(db: sqlite3.Connection) -> None:
    db.execute(SCHEMA)


# -- permissions ------------------------------------------------------------------------------------------
def _rank(role: str) -> int:
    return ROLES.index(role) if role in ROLES else -1


def allowed(actor: Actor, action: str) -> bool:
    if actor.single_user:
        return True
    need = PERMISSIONS[action][0]
    return _rank(actor.role) >= _rank(need)


def refusal(action: str) -> str:
    need, phrase = PERMISSIONS[action]
    article = "an" if need[0] in "aeiou" else "a"
    return f"{phrase} needs {article} {need} — log in as one"


def who_may(action: str) -> str:
    """For a disabled control's tooltip: "engineers and admins may do this"."""
    need = PERMISSIONS[action][0]
    roles = [r + "s" for r in ROLES[_rank(need):]]
    return (" and ".join(roles) if len(roles) < 3 else ", ".join(roles[:-1]) + " and " + roles[-1]) + " may do this"


def require(actor: Actor, action: str) -> None:
    if not allowed(actor, action):
        raise PermissionDenied(refusal(action))


# -- secrets ------------------------------------------------------------------------------------------
def hash_secret(secret: str, *, salt: bytes | None = None, n: int = SCRYPT_N, r: int = SCRYPT_R,
                p: int = SCRYPT_P) -> str:
    salt = salt if salt is not None else os.urandom(16)
    key = hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32)
    return f"scrypt${n}${r}${p}${salt.hex()}${key.hex()}"


def check_secret(secret: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    got = hash_secret(secret, salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p)).rsplit("$", 1)[1]
    return hmac.compare_digest(got, key)


_DUMMY = None  # a hash to check against for unknown names, so a wrong name costs as long as a wrong secret


def _check_policy(project, role: str, secret: str, pin: bool) -> str:
    if pin:
        if role != "operator":
            raise ProjectError("only operators may use a PIN — give engineers and admins a password")
        if project.get_meta(ALLOW_PINS_KEY, "0") != "1":
            raise ProjectError("PINs are not allowed on this project — an admin can allow them "
                               "(`inspector users pins --allow`), or give a password")
        if not (secret.isdigit() and len(secret) >= MIN_PIN):
            raise ProjectError(f"a PIN is at least {MIN_PIN} digits — pick a longer one")
        return "pin"
    if len(secret) < MIN_PASSWORD:
        raise ProjectError(f"a password is at least {MIN_PASSWORD} characters — pick a longer one")
    return "password"


# -- accounts -----------------------------------------------------------------------------------------
def has_accounts(project) -> bool:
    return project.db.execute("SELECT 1 FROM accounts LIMIT 1").fetchone() is not None


def folder_has_accounts(root) -> bool:
    """Whether the project in this folder has accounts, read without opening it (no recovery, no
    migration): the start of the app asks for a log-in instead of a name then. False when unreadable."""
    import sqlite3
    from pathlib import Path

    db_path = Path(root) / "project.sqlite"
    if not db_path.is_file():
        return False
    try:
        db = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return db.execute("SELECT 1 FROM accounts LIMIT 1").fetchone() is not None
        finally:
            db.close()
    except sqlite3.Error:  # no accounts table yet (an older project), or damaged: opening will say
        return False


def accounts(project) -> list[Account]:
    return [Account(*r) for r in project.db.execute(
        "SELECT name, role, secret_kind, created_at, failed, locked_until FROM accounts ORDER BY name")]


def get(project, name: str) -> Account | None:
    r = project.db.execute("SELECT name, role, secret_kind, created_at, failed, locked_until FROM accounts "
                           "WHERE name = ?", (name,)).fetchone()
    return Account(*r) if r else None


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 64 or any(c in name for c in "\n\r\t"):
        raise ProjectError("an account name is 1 to 64 characters on one line — pick another")
    return name


def add(project, name: str, role: str, secret: str, *, by: Actor | None, pin: bool = False) -> Account:
    """Create an account. The first one on a project is an admin whatever role was asked for; every later
    one needs an admin (by)."""
    name = _check_name(name)
    if role not in ROLES:
        raise ProjectError(f"role {role!r} is not known — use operator, engineer or admin")
    with project.transaction():
        first = not has_accounts(project)
        if first:
            role = "admin"
        else:
            require(by or Actor(audit.os_user(), "none"), "accounts.manage")
        if get(project, name) is not None:
            raise ProjectError(f"account {name!r} already exists — pick another name, or `users passwd` it")
        kind = _check_policy(project, role, secret, pin)
        project.db.execute("INSERT INTO accounts (name, role, secret_kind, secret_hash, created_at) "
                           "VALUES (?, ?, ?, ?, ?)", (name, role, kind, hash_secret(secret), time.time()))
        who = by.name if by else audit.os_user()
        audit.append(project.db, "account.add", {"account": name, "role": role, "secret": kind, "first": first},
                     user=who, role="admin" if first else by.role)
    return get(project, name)


def remove(project, name: str, *, by: Actor) -> None:
    with project.transaction():
        require(by, "accounts.manage")
        acc = get(project, name)
        if acc is None:
            raise ProjectError(f"account {name!r} does not exist — see `inspector users list`")
        if acc.role == "admin" and project.db.execute(
                "SELECT COUNT(*) FROM accounts WHERE role = 'admin'").fetchone()[0] == 1:
            raise ProjectError(f"{name} is the last admin — make another admin first, so someone can manage accounts")
        project.db.execute("DELETE FROM accounts WHERE name = ?", (name,))
        audit.append(project.db, "account.remove", {"account": name, "role": acc.role}, user=by.name, role=by.role)


def set_role(project, name: str, role: str, *, by: Actor) -> Account:
    if role not in ROLES:
        raise ProjectError(f"role {role!r} is not known — use operator, engineer or admin")
    with project.transaction():
        require(by, "accounts.manage")
        acc = get(project, name)
        if acc is None:
            raise ProjectError(f"account {name!r} does not exist — see `inspector users list`")
        if acc.role == "admin" and role != "admin" and project.db.execute(
                "SELECT COUNT(*) FROM accounts WHERE role = 'admin'").fetchone()[0] == 1:
            raise ProjectError(f"{name} is the last admin — make another admin first")
        if acc.secret_kind == "pin" and role != "operator":
            raise ProjectError(f"{name} logs in with a PIN — give them a password first (`users passwd`)")
        project.db.execute("UPDATE accounts SET role = ? WHERE name = ?", (role, name))
        audit.append(project.db, "account.role", {"account": name, "old": acc.role, "new": role},
                     user=by.name, role=by.role)
    return get(project, name)


def set_secret(project, name: str, secret: str, *, by: Actor, pin: bool = False) -> None:
    """A new password (or PIN) for an account: its owner, or an admin; also lifts a lock-out."""
    with project.transaction():
        acc = get(project, name)
        if acc is None:
            raise ProjectError(f"account {name!r} does not exist — see `inspector users list`")
        if by.name != name:
            require(by, "accounts.manage")
        kind = _check_policy(project, acc.role, secret, pin)
        project.db.execute("UPDATE accounts SET secret_kind = ?, secret_hash = ?, failed = 0, locked_until = NULL "
                           "WHERE name = ?", (kind, hash_secret(secret), name))
        audit.append(project.db, "account.secret", {"account": name, "secret": kind}, user=by.name, role=by.role)


def set_allow_pins(project, allow: bool, *, by: Actor) -> None:
    with project.transaction():
        require(by, "accounts.manage")
        old = project.get_meta(ALLOW_PINS_KEY, "0")
        project.db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
                           "value = excluded.value", (ALLOW_PINS_KEY, "1" if allow else "0"))
        audit.append(project.db, "setting", {"key": ALLOW_PINS_KEY, "old": old, "new": "1" if allow else "0"},
                     user=by.name, role=by.role)


def login(project, name: str, secret: str, *, station: str = "") -> Actor:
    """Check a name and secret. Every attempt is audited; after too many failures in a row the account is
    locked for a while (failures while locked do not extend it, so a guesser cannot lock it for ever)."""
    global _DUMMY
    name = (name or "").strip()
    now = time.time()
    try:
        max_failures = max(1, int(project.get_meta(MAX_FAILURES_KEY, str(DEFAULT_MAX_FAILURES))))
        lockout_s = max(0.0, float(project.get_meta(LOCKOUT_KEY, str(DEFAULT_LOCKOUT_S))))
    except ValueError:  # a damaged setting: the defaults, never no lock-out at all
        max_failures, lockout_s = DEFAULT_MAX_FAILURES, DEFAULT_LOCKOUT_S
    row = project.db.execute("SELECT role, secret_hash, failed, locked_until FROM accounts WHERE name = ?",
                             (name,)).fetchone()
    extra = {"station": station} if station else {}
    if row is None:
        _DUMMY = _DUMMY or hash_secret("x" * MIN_PASSWORD)
        check_secret(secret, _DUMMY)
        with project.transaction():
            audit.append(project.db, "login.failed", {"account": name, "why": "unknown name", **extra},
                         user=name or "?", role="none")
        raise LoginFailed("wrong name or password — check both and try again")
    role, stored, failed, locked_until = row
    if locked_until is not None and locked_until > now:
        with project.transaction():
            audit.append(project.db, "login.failed", {"account": name, "why": "locked", **extra}, user=name, role=role)
        raise LoginFailed(f"{name} is locked after {failed} failed log-ins — wait {int(locked_until - now) + 1} s, "
                          "or ask an admin to set a new password")
    if not check_secret(secret, stored):
        failed += 1
        lock = now + lockout_s if failed >= max_failures else None
        with project.transaction():
            project.db.execute("UPDATE accounts SET failed = ?, locked_until = ? WHERE name = ?", (failed, lock, name))
            audit.append(project.db, "login.failed", {"account": name, "why": "wrong secret", "failures": failed,
                                                      "locked": lock is not None, **extra}, user=name, role=role)
        if lock is not None:
            raise LoginFailed(f"wrong password — {name} is now locked for {int(lockout_s)} s after {failed} failures")
        raise LoginFailed(f"wrong name or password — {max_failures - failed} tries left before {name} is locked")
    with project.transaction():
        project.db.execute("UPDATE accounts SET failed = 0, locked_until = NULL WHERE name = ?", (name,))
        audit.append(project.db, "login", {"account": name, **extra}, user=name, role=role)
    return Actor(name, role)


def single_user_actor(name: str | None = None) -> Actor:
    return Actor((name or "").strip() or audit.os_user(), audit.SINGLE_USER)
