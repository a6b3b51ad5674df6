"""What the audit trail and accounts cost: a label with and without its hash-chained audit rows, one
audit append on its own, a log-in (scrypt), and verifying the whole chain. Prints one JSON line last.

    .venv/bin/python bench/audit.py [--labels 400] [--dir FOLDER]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inspector.core import accounts, audit  # noqa: E402
from inspector.core.imageio import encode_png  # noqa: E402
from inspector.core.project import Project  # noqa: E402


def _label_times(p: Project, ids: list[int], labels: list[str]) -> list[float]:
    out = []
    for i, sid in enumerate(ids):
        t0 = time.perf_counter()
        p.set_label(sid, labels[i % 2], "bench")
        out.append(time.perf_counter() - t0)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--labels", type=int, default=400)
    ap.add_argument("--dir", help="where to make the throwaway project (default: the system temp folder; give a "
                                  "folder on the disk projects live on, as fsync decides a label's cost)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp, Project.init(Path(tmp) / "p") as p:
        p.add_class("good", "ok")
        p.add_class("dent", "defect")
        rng = np.random.default_rng(0)
        ids = [p.add_image(encode_png(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)), source=str(i)).sample_id
               for i in range(2 * args.labels)]
        a, b = ids[::2], ids[1::2]
        # Interleave rounds so load changes on this shared machine hit both sides alike.
        with_audit, without = [], []
        original = Project._audit
        for r in range(4):
            chunk = slice(r * len(a) // 4, (r + 1) * len(a) // 4)
            with_audit += _label_times(p, a[chunk], ["dent", "good"])
            Project._audit = lambda self, *a_, **k: None  # the label alone: what it cost before the trail
            try:
                without += _label_times(p, b[chunk], ["dent", "good"])
            finally:
                Project._audit = original
        appends = []
        for i in range(args.labels):
            with p.transaction():
                t0 = time.perf_counter()
                audit.append(p.db, "bench", {"i": i, "old": "good", "new": "dent"}, user="bench")
                appends.append(time.perf_counter() - t0)
        rows = len(audit.rows(p.db))
        t0 = time.perf_counter()
        ok = audit.verify(p.db).ok
        verify_s = time.perf_counter() - t0
        accounts.add(p, "root", "admin", "bench-password", by=None)
        logins = []
        for _ in range(5):
            t0 = time.perf_counter()
            accounts.login(p, "root", "bench-password")
            logins.append(time.perf_counter() - t0)
    med = lambda xs: statistics.median(xs) * 1000  # noqa: E731
    result = {
        "labels": len(with_audit), "label_ms_with_audit": round(med(with_audit), 3),
        "label_ms_without_audit": round(med(without), 3),
        "audit_ms_per_label": round(med(with_audit) - med(without), 3),
        "audit_append_ms": round(med(appends), 4), "audit_append_p95_ms": round(
            float(np.percentile(appends, 95)) * 1000, 4),
        "verify_rows": rows, "verify_ok": ok, "verify_ms_per_1000_rows": round(verify_s * 1000 / rows * 1000, 2),
        "login_s_median": round(statistics.median(logins), 3), "login_s_max": round(max(logins), 3),
    }
    print(f"a label: {result['label_ms_with_audit']} ms with its audit rows, {result['label_ms_without_audit']} ms "
          f"without; one append {result['audit_append_ms']} ms; log-in {result['login_s_median']} s", file=sys.stderr)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
