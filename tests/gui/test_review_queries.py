"""No unbounded query on the GUI thread while reviewing: every SELECT the GUI thread runs on the samples
or results tables while the window opens and during labelling key presses is checked with EXPLAIN QUERY
PLAN — a full table scan or a sort of a whole table fails (at 200,000 samples and 5,000,000 results
those took seconds to minutes; bench/big_project.py measures the time). Plans do not depend on the
machine's speed, so this holds on a small project."""
import re
import sqlite3
import threading

from conftest import add_flagged_parts
from PySide6.QtCore import Qt

BIG_TABLES = ("samples", "results")
# A whole-table read: SCAN of a big table without an index, or an index scan without a LIMIT to stop it.
_SCAN = re.compile(r"^SCAN (\w+)(?: USING (COVERING )?INDEX (\w+))?")


class QueryLog:
    """Records (database file, SQL) of every statement the GUI thread runs on any connection."""

    def __init__(self, monkeypatch):
        self.seen: list[tuple[str, str]] = []
        self.gui = threading.get_ident()
        real = sqlite3.connect

        def connect(database, *args, **kw):
            db = real(database, *args, **kw)
            self.watch(db, str(database))
            return db
        monkeypatch.setattr(sqlite3, "connect", connect)

    def watch(self, db, path: str) -> None:
        def trace(sql: str) -> None:
            if threading.get_ident() == self.gui:
                self.seen.append((path, sql))
        db.set_trace_callback(trace)


def unbounded(path: str, sql: str) -> list[str]:
    """The plan lines of sql that read a whole big table."""
    if not sql.lstrip().upper().startswith("SELECT") or not any(t in sql for t in BIG_TABLES):
        return []
    file = path[len("file:"):].split("?")[0] if path.startswith("file:") else path
    db = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
    try:
        plan = [r[3] for r in db.execute("EXPLAIN QUERY PLAN " + sql)]
    finally:
        db.close()
    bad = []
    upper = sql.upper()
    limited = " LIMIT " in upper
    aggregate = any(f in upper for f in ("COUNT(", "SUM(", "MAX(", "MIN("))
    one_row = any(re.match(r"SEARCH (s|samples|results) USING .*\((rowid|image_hash)=\?\)", line) for line in plan)
    if not (limited or aggregate or one_row):
        bad.append("rows without a LIMIT: " + "; ".join(plan))
    for line in plan:
        m = _SCAN.match(line)
        if m and m.group(1) in BIG_TABLES + ("s",) and not (limited and m.group(3)):
            if "COUNT(" in sql.upper() and m.group(2):  # an index-only count: bounded by the index, no rows read
                continue
            bad.append(line)
        if "TEMP B-TREE FOR ORDER BY" in line and not limited:
            bad.append(line)
    return bad


def test_opening_and_labelling_read_pages_and_indexes_not_whole_tables(project_path, qtbot, monkeypatch):
    from inspector.core.live.results import ResultRow, ResultsLog
    from inspector.gui.main_window import MainWindow
    from inspector.gui.session import Session

    ids = add_flagged_parts(project_path, 12)
    with ResultsLog(project_path) as log:  # the live log, with rows that queued these parts
        run = log.start_run("synthetic://line", "free", None)
        log.write([ResultRow(run, 1e9 + i, "synthetic://line", i, False, "scratch", 0.6, 0.7, {}, "v1", 1.0, 1.0,
                             sample_id=sid) for i, sid in enumerate(ids)])
    queries = QueryLog(monkeypatch)
    session = Session.open(project_path, "Ana")
    queries.watch(session.project.db, str(project_path / "project.sqlite"))
    w = MainWindow(session)
    try:
        w.resize(1366, 768)
        w.show()
        qtbot.waitExposed(w)
        w.show_panel("review")
        panel = w.review_panel
        panel.refresh()
        qtbot.waitUntil(lambda: panel.current is not None and panel.current.id in panel.cache.large, timeout=10_000)
        for key in (Qt.Key.Key_Space, Qt.Key.Key_Backspace, Qt.Key.Key_1, Qt.Key.Key_Delete) * 2:
            qtbot.keyClick(panel.list, key)
        qtbot.wait(50)
        with sqlite3.connect(project_path / "project.sqlite") as db:
            assert db.execute("SELECT COUNT(*) FROM samples WHERE status != 'unreviewed'").fetchone()[0] >= 6
    finally:
        w.close()
        qtbot.waitUntil(lambda: w._closed, timeout=20_000)
    checked = [(p, q) for p, q in queries.seen if q.lstrip().upper().startswith("SELECT")
               and any(t in q for t in BIG_TABLES)]
    assert len(checked) >= 10  # the log did see the panel's queries
    # Opening reads every sample's name once to find orphan files (Project.open's recovery): that one is
    # the price of never deleting silently, measured at 0.5 s for 200,000 samples; everything else is bounded.
    allowed = {"SELECT image_hash, ext FROM samples"}
    bad = {q: lines for p, q in checked if q.strip() not in allowed and (lines := unbounded(p, q))}
    assert not bad, "\n".join(f"{q}\n    {lines}" for q, lines in bad.items())
