"""`inspector audit …`: read, filter, export and verify a project's audit trail (core/audit.py)."""
from __future__ import annotations

import json
import re
import time
from datetime import datetime

from inspector.core.errors import ConfigError


def parse_since(text: str | None, now: float | None = None) -> float | None:
    """"7d", "12h", "30m" (that long ago), or a local date / time: "2026-11-29", "2026-11-29 14:00"."""
    if not text:
        return None
    now = time.time() if now is None else now
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([dhm])\s*", text)
    if m:
        return now - float(m.group(1)) * {"d": 86400, "h": 3600, "m": 60}[m.group(2)]
    for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(text.strip(), fmt).timestamp()
        except ValueError:
            pass
    raise ConfigError(f"--since {text!r} is not a time — give e.g. 7d, 12h, 2026-11-29 or \"2026-11-29 14:00\"")


def cmd_audit(args) -> int:
    from inspector.cli._common import open_project
    from inspector.core import audit

    with open_project(args.project) as p:
        if args.action == "verify":
            result = audit.verify(p.db)
            print(json.dumps({"ok": result.ok, "rows": result.rows, "head": result.head, "bad_row": result.bad_row,
                              "reason": result.reason}) if args.json else result.line())
            return 0 if result.ok else 1
        rows = audit.rows(p.db, since=parse_since(args.since), user=args.user, action=args.kind)
    if args.csv:
        audit.write_csv(args.csv, rows)
    if args.json:
        print(json.dumps({"rows": [r.to_dict() for r in rows], "csv": args.csv}))
        return 0
    if args.csv:
        print(f"wrote {len(rows)} audit rows to {args.csv}")
        return 0
    if not rows:
        print("no audit rows match")
    for r in rows:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.at))
        print(f"{r.id:>6}  {when}  {r.user} ({r.role})  {r.action}  {audit.describe(r)}")
    return 0


def add_parser(sub) -> None:
    sp = sub.add_parser("audit", help="who changed what, when: read, filter, export (--csv) or verify the trail",
                        description="the project's audit trail: every change, chained by SHA-256")
    sp.add_argument("action", nargs="?", choices=("show", "verify"), default="show",
                    help="show (default) the rows, or verify the chain: exit 1 naming the first row that "
                         "does not match")
    sp.add_argument("--project", required=True)
    sp.add_argument("--since", help="7d, 12h, 30m, or a local date / time (2026-11-29, \"2026-11-29 14:00\")")
    sp.add_argument("--user", help="only this account's rows")
    sp.add_argument("--kind", metavar="ACTION",
                    help="only this action (model.activate), or a prefix ending in a dot (model.)")
    sp.add_argument("--csv", metavar="FILE", help="write the rows to a CSV file")
    sp.add_argument("--json", action="store_true", help="print one JSON object")
    sp.set_defaults(fn=cmd_audit)
