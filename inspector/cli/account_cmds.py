"""`inspector users …` and `inspector golden …`, and the log-in every guarded command goes through.

A guarded command takes --user NAME; the password comes from INSPECTOR_PASSWORD when it is set (for
scripts), else from a prompt. On a project without accounts nothing is asked: the action is recorded
under --user, or the computer's login name."""
from __future__ import annotations

import getpass
import os

from inspector.cli._common import emit
from inspector.core import accounts
from inspector.core.errors import InspectorError

PASSWORD_ENV = "INSPECTOR_PASSWORD"
NEW_PASSWORD_ENV = "INSPECTOR_NEW_PASSWORD"  # the new account's secret in `users add` / `users passwd`


def _secret(prompt: str, env: str) -> str:
    value = os.environ.get(env)
    if value is not None:
        return value
    return getpass.getpass(prompt)


def login(project, name: str | None, action: str) -> accounts.Actor:
    """Who is acting, checked: logs in when the project has accounts and refuses (audited, one line)
    when the role may not take `action`. Sets project.actor, so every audit row names them."""
    if not accounts.has_accounts(project):
        actor = accounts.single_user_actor(name)
    else:
        if not name:
            raise accounts.PermissionDenied(f"this project has accounts — pass --user NAME "
                                            f"({accounts.refusal(action)})")
        actor = accounts.login(project, name, _secret(f"password for {name}: ", PASSWORD_ENV), station="cli")
        if not accounts.allowed(actor, action):
            project.record("refused", {"action": action, "needs": accounts.PERMISSIONS[action][0]}, actor.name)
            raise accounts.PermissionDenied(accounts.refusal(action))
    project.actor = actor.name
    return actor


def activate_after_fit(project, actor: accounts.Actor, version, reason: str | None):
    """--activate on train / fit: the new version goes on the line through the same guard as
    `models activate` (role, golden set). Returns the version as it now is."""
    from inspector.core import golden
    from inspector.core.registry import ModelRegistry

    if version.active:  # the first model of its kind was activated by the fit itself: nothing to compare
        return version
    accounts.require(actor, "model.activate")
    registry = ModelRegistry(project)
    check = golden.check_activation(project, registry, version.version)
    detail = golden.approve(project, check, actor, reason, "model.activate")
    print(check.line())
    return registry.activate(version.version, actor.name, detail=detail)


# -- users --------------------------------------------------------------------------------------------
def cmd_users(args) -> int:
    from inspector.cli._common import open_project

    with open_project(args.project) as p:
        if args.action == "list":
            rows = accounts.accounts(p)
            obj = {"accounts": [{"name": a.name, "role": a.role, "secret": a.secret_kind, "locked": bool(
                a.locked_until), "failed": a.failed} for a in rows],
                   "allow_pins": p.get_meta(accounts.ALLOW_PINS_KEY, "0") == "1"}
            lines = [f"  {a.name:<20} {a.role:<9} {a.secret_kind}" + ("  LOCKED" if a.locked_until else "")
                     for a in rows] or ["no accounts: single-user (actions are recorded as the computer's user) — "
                                        "`inspector users add NAME` makes the first admin"]
            emit(args, obj, "\n".join(lines))
            return 0
        if args.action == "pins":
            if args.allow == args.deny:
                raise InspectorError("give --allow or --deny")
            by = login(p, args.user, "accounts.manage")
            accounts.set_allow_pins(p, args.allow, by=by)
            emit(args, {"allow_pins": bool(args.allow)},
                  f"PINs for operators {'allowed' if args.allow else 'not allowed'}")
            return 0
        if not args.name:
            raise InspectorError(f"`inspector users {args.action}` needs an account name")
        if args.action == "add":
            first = not accounts.has_accounts(p)
            by = None if first else login(p, args.user, "accounts.manage")
            secret = _new_secret(args.name, args.pin)
            acc = accounts.add(p, args.name, args.role, secret, by=by, pin=args.pin)
            note = " (the first account is always an admin)" if first and args.role != "admin" else ""
            emit(args, {"account": acc.name, "role": acc.role}, f"added {acc.name} as {acc.role}{note}")
        elif args.action == "remove":
            by = login(p, args.user, "accounts.manage")
            accounts.remove(p, args.name, by=by)
            emit(args, {"removed": args.name}, f"removed {args.name}")
        elif args.action == "role":
            by = login(p, args.user, "accounts.manage")
            acc = accounts.set_role(p, args.name, args.role, by=by)
            emit(args, {"account": acc.name, "role": acc.role}, f"{acc.name} is now {acc.role}")
        elif args.action == "passwd":
            who = args.user or args.name
            by = _login_any(p, who) if who == args.name else login(p, who, "accounts.manage")
            accounts.set_secret(p, args.name, _new_secret(args.name, args.pin), by=by, pin=args.pin)
            emit(args, {"account": args.name}, f"new {'PIN' if args.pin else 'password'} set for {args.name}")
    return 0


def _login_any(project, name: str) -> accounts.Actor:
    """Log in as the account itself (changing one's own password needs no role)."""
    actor = accounts.login(project, name, _secret(f"current password for {name}: ", PASSWORD_ENV), station="cli")
    project.actor = actor.name
    return actor


def _new_secret(name: str, pin: bool) -> str:
    what = "PIN" if pin else "password"
    if os.environ.get(NEW_PASSWORD_ENV) is not None:
        return os.environ[NEW_PASSWORD_ENV]
    first = getpass.getpass(f"new {what} for {name}: ")
    if getpass.getpass(f"the {what} again: ") != first:
        raise InspectorError(f"the two {what}s differ — run the command again")
    return first


# -- golden ------------------------------------------------------------------------------------------
def cmd_golden(args) -> int:
    from inspector.cli._common import open_project
    from inspector.core import golden

    with open_project(args.project) as p:
        if args.action == "list":
            parts = golden.members(p)
            sizes = golden.sizes(p)
            obj = {"sizes": sizes, "samples": [{"id": s.id, "label": s.label} for s in parts]}
            lines = [f"golden set: {len(parts)} parts"] + [f"  {name:<20} {n:>5}" for name, n in sizes.items()]
            if parts:
                lines.append("  ids: " + " ".join(str(s.id) for s in parts))
            emit(args, obj, "\n".join(lines))
            return 0
        if not args.samples:
            raise InspectorError(f"`inspector golden {args.action}` needs sample ids (see `inspector golden list`)")
        actor = login(p, args.user, "golden.edit")
        moved = (golden.add if args.action == "add" else golden.remove)(p, args.samples, actor.name)
        sizes = golden.sizes(p)
    verb = "added to" if args.action == "add" else "removed from"
    emit(args, {"added" if args.action == "add" else "removed": moved, "sizes": sizes},
          f"{len(moved)} part(s) {verb} the golden set; now " + ", ".join(f"{k} {v}" for k, v in sizes.items()))
    return 0


def add_parsers(sub) -> None:
    sp = sub.add_parser("users", help="accounts and roles of a project (operator, engineer, admin)",
                        description="accounts and roles; the first account is an admin. Passwords come from "
                                    f"{PASSWORD_ENV} (yours) and {NEW_PASSWORD_ENV} (the new one) when set, "
                                    "else from a prompt")
    sp.add_argument("action", choices=("add", "list", "remove", "passwd", "role", "pins"))
    sp.add_argument("name", nargs="?")
    sp.add_argument("--project", required=True)
    sp.add_argument("--role", choices=accounts.ROLES, default="operator")
    sp.add_argument("--pin", action="store_true", help="an operator's PIN of >= 6 digits instead of a password "
                                                      "(when an admin allows PINs)")
    sp.add_argument("--allow", action="store_true", help="pins: allow operators' PINs")
    sp.add_argument("--deny", action="store_true", help="pins: password only")
    sp.add_argument("--user", help="who does this (an admin; for passwd also the account itself)")
    sp.add_argument("--json", action="store_true", help="print one JSON object")
    sp.set_defaults(fn=cmd_users)

    sp = sub.add_parser("golden", help="the golden set: labelled parts every model change is checked on",
                        description="the golden set: labelled parts held out of training; activate, rollback "
                                    "and accept score it and refuse more escapes unless an engineer confirms")
    sp.add_argument("action", choices=("add", "remove", "list"))
    sp.add_argument("samples", nargs="*", type=int, metavar="SAMPLE_ID")
    sp.add_argument("--project", required=True)
    sp.add_argument("--user", help="who does this (an engineer or admin when the project has accounts)")
    sp.add_argument("--json", action="store_true", help="print one JSON object")
    sp.set_defaults(fn=cmd_golden)

