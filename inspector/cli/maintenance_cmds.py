"""`inspector retention` (show or set the project's retention policy) and `inspector maintenance`
(prune by it, compact, check integrity, report): core/retention.py and core/maintenance.py."""
from __future__ import annotations

import json
import sys

from inspector.core.progress import StageProgress


def cmd_retention(args) -> int:
    from inspector.cli._common import open_project
    from inspector.core import retention

    with open_project(args.project) as p:
        changes = {"results_days": args.results_days, "review_queue_max": args.review_queue,
                   "discarded_days": args.discarded_days, "every_h": args.every_h}
        policy = (retention.save_policy(p, **changes) if any(v is not None for v in changes.values())
                  else retention.load_policy(p))
    obj = policy.to_dict()
    if args.json:
        print(json.dumps(obj))
        return 0
    keep = lambda n, what: f"{n} {what}" if n else "for ever"  # noqa: E731
    print(f"results kept {keep(policy.results_days, 'days')}; review queue "
          f"{f'at most {policy.review_queue_max} parts' if policy.review_queue_max else 'without a limit'}; "
          f"images of discarded parts kept {keep(policy.discarded_days, 'days')}; maintenance in the app "
          f"{f'every {policy.every_h:g} h' if policy.every_h else 'only when asked'}")
    return 0


def cmd_maintenance(args) -> int:
    from inspector.cli._common import open_project
    from inspector.core.maintenance import run_maintenance

    def progress(e) -> None:
        if isinstance(e, StageProgress) and e.done == 0 and not args.json:
            print(f"{e.stage}…", file=sys.stderr, flush=True)

    with open_project(args.project) as p:
        report = run_maintenance(p, vacuum=args.vacuum, progress=progress)
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print(report.line())
    return 0 if report.ok else 1


def add_commands(add) -> None:
    sp = add("retention", cmd_retention, "show or set how long results, review parts and discarded images are kept")
    sp.add_argument("--project", required=True)
    sp.add_argument("--results-days", metavar="N", help="delete live results older than N days (0: keep for ever)")
    sp.add_argument("--review-queue", metavar="N", help="keep at most N parts waiting for review; the oldest "
                                                        "unreviewed go first, labelled parts never (0: no limit)")
    sp.add_argument("--discarded-days", metavar="N", help="delete images of parts discarded more than N days ago "
                                                          "(the row and its audit stay; 0: keep)")
    sp.add_argument("--every-h", metavar="H", help="the app runs maintenance every H hours (0: only when asked)")

    sp = add("maintenance", cmd_maintenance, "apply the retention policy, compact the databases, check their "
                                             "integrity and report (exit status 1 when a check fails)")
    sp.add_argument("--project", required=True)
    sp.add_argument("--vacuum", choices=("auto", "always", "never"), default="auto",
                    help="compact: auto = when a quarter of a database file is free space")
