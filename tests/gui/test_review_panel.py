"""Review: flagged parts newest first; one key per label, saved at once with the inspector's name and
audited; Space = OK, Backspace = skip, Delete = discard, Ctrl+Z = undo; filters."""
from conftest import add_flagged_parts, image_is_not_blank, shot
from PySide6.QtCore import Qt

from inspector.core.demo_project import DEMO_LABELLED
from inspector.core.project import Project


def test_keys_label_skip_discard_and_undo(window, project_path, qtbot):
    ids = add_flagged_parts(project_path, 6)
    panel = window.review_panel
    window.show_panel("review")
    panel.refresh()
    listed = [s.id for s in panel.samples]
    assert listed == list(reversed(ids)), "newest first"
    assert window.tabs.tabText(1) == "Review" or "(6)" in window.tabs.tabText(1)
    qtbot.waitUntil(lambda: panel.current is not None and panel.current.id in panel.cache.large, timeout=10_000)
    assert panel.view.banner_text.startswith("NG") and "scratch" in panel.view.banner_text
    qtbot.waitUntil(lambda: len(panel.cache.icons) == 6, timeout=10_000)
    shot(window, "review")

    keys = panel.list
    qtbot.keyClick(keys, Qt.Key.Key_Space)        # newest: OK
    qtbot.keyClick(keys, Qt.Key.Key_1)            # next: scratch (key 1)
    qtbot.keyClick(keys, Qt.Key.Key_Backspace)    # skip one
    qtbot.keyClick(keys, Qt.Key.Key_4)            # missing (key 4)
    qtbot.keyClick(keys, Qt.Key.Key_Delete)       # discard one
    with Project.open(project_path) as p:
        got = {i: (p.sample(i).label, p.sample(i).status, p.sample(i).labelled_by) for i in ids}
        audit = [(a.sample_id, a.user, a.field, a.new) for a in p.audit() if a.sample_id in ids]
    newest = list(reversed(ids))
    assert got[newest[0]] == ("good", "labelled", "Ana")
    assert got[newest[1]] == ("scratch", "labelled", "Ana")
    assert got[newest[2]][1] == "unreviewed"  # skipped
    assert got[newest[3]] == ("missing", "labelled", "Ana")
    assert got[newest[4]][1] == "discarded"
    assert (newest[0], "Ana", "label", "good") in audit and (newest[4], "Ana", "status", "discarded") in audit

    # Ctrl+Z undoes the last action, whatever it was: first the discard (issue 10: it used to undo the
    # label before it, on another part), then the label
    qtbot.keyClick(keys, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    with Project.open(project_path) as p:
        assert (p.sample(newest[4]).label, p.sample(newest[4]).status) == (None, "unreviewed")
        assert p.sample(newest[3]).label == "missing"
    assert panel.current.id == newest[4], "the part brought back is shown"
    qtbot.keyClick(keys, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    with Project.open(project_path) as p:
        s = p.sample(newest[3])
        assert (s.label, s.status) == (None, "unreviewed")
        assert p.audit(newest[3])[-1].field in ("label", "status") and p.audit(newest[3])[-1].user == "Ana"
        assert p.counts()["labelled"] == sum(DEMO_LABELLED.values()) + 2
    assert panel.current.id == newest[3], "the undone part is shown again"
    assert image_is_not_blank(shot(panel, "review_panel"))


def test_the_golden_set_key_is_undone_like_a_label(window, project_path, qtbot):
    ids = add_flagged_parts(project_path, 2)
    session = window.session
    session.label(ids[0], "scratch")
    with Project.open(project_path) as p:
        before = p.sample(ids[0]).split
    assert session.toggle_golden(ids[0]) is True
    session.label(ids[1], "good")
    assert session.undo() == ids[1] and session.undo() == ids[0]
    with Project.open(project_path) as p:
        assert p.sample(ids[0]).split == before != "golden" and p.sample(ids[1]).status == "unreviewed"
        assert p.sample(ids[0]).label == "scratch"
    assert session.undo() == ids[0] and session.undo() is None


def test_only_the_session_announces_changes():
    """Panels call Session's methods; none emits its signals (issue 10)."""
    import re
    from pathlib import Path

    import inspector.gui

    gui = Path(inspector.gui.__file__).parent
    offenders = [f"{f.name}:{n}" for f in sorted(gui.glob("*.py")) if f.name != "session.py"
                 for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1)
                 if re.search(r"session\.(samples_changed|models_changed|actor_changed|message)\.emit\(", line)]
    assert offenders == []


def test_filters_by_status_class_and_suggestion(window, project_path, qtbot):
    add_flagged_parts(project_path, 3, seed=1, suggestion="scratch")
    add_flagged_parts(project_path, 2, seed=2, suggestion="spot")
    panel = window.review_panel
    panel.refresh()
    assert len(panel.samples) == 5
    panel.suggestion_filter.setCurrentIndex(panel.suggestion_filter.findData("spot"))
    assert len(panel.samples) == 2 and all(s.suggestion == "spot" for s in panel.samples)
    panel.suggestion_filter.setCurrentIndex(0)
    panel.status_filter.setCurrentIndex(panel.status_filter.findData("labelled"))
    assert len(panel.samples) == sum(DEMO_LABELLED.values())
    panel.class_filter.setCurrentIndex(panel.class_filter.findData("good"))
    assert len(panel.samples) == DEMO_LABELLED["good"] and {s.label for s in panel.samples} == {"good"}
