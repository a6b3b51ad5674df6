"""The anomaly parts of Review and Analysis, driven through the backend interface the anomaly package
is to provide (gui_backend()). The core anomaly model has not landed yet, so a small stand-in backend
with the same methods plays it here; the GUI side (threads, dialog, labels, models_changed) is real."""
import numpy as np
from conftest import add_flagged_parts, shot
from PySide6.QtWidgets import QApplication, QMessageBox

from inspector.gui.anomaly_view import CorrectionPreview, ScoreHistogram, find_backend
from inspector.gui.main_window import MainWindow


class StandIn:
    def __init__(self):
        self.version, self.accepted = "v7", []

    def active_version(self, project):
        return self.version

    def score(self, root, version, sample_ids, *, progress, cancel):
        heat = np.zeros((16, 16), np.float32)
        heat[3:7, 9:13] = 0.9
        return [(0.83, heat) for _ in sample_ids]

    def histogram(self, root, version, *, progress, cancel):
        edges = np.linspace(0, 1, 21)
        good = np.exp(-((edges[:-1] - 0.25) / 0.08) ** 2) * 40
        return ScoreHistogram(edges, good.round(), np.exp(-((edges[:-1] - 0.7) / 0.1) ** 2).round(1) * 6)

    def preview_ok(self, root, version, sample_id, *, progress, cancel):
        return CorrectionPreview(sample_id, 40, 3, 1, 0, 0)

    def accept_ok(self, root, version, sample_id, user, *, progress, cancel):
        self.accepted.append((sample_id, user))
        self.version = "v8"
        return "v8"


def test_without_an_anomaly_package_the_parts_stay_hidden(window):
    assert find_backend() is None
    assert not window.review_panel.ok_part_btn.isVisible() and window.analysis_panel.anomaly_box.isHidden()


def test_heatmap_score_and_this_part_is_ok(session, project_path, qtbot):
    ids = add_flagged_parts(project_path, 2)
    backend = StandIn()
    w = MainWindow(session, anomaly_backend=backend)
    w.resize(1366, 768)
    w.show()
    try:
        review = w.review_panel
        w.show_panel("review")
        review.refresh()
        assert review.ok_part_btn.isVisible()
        qtbot.waitUntil(lambda: "anomaly score 0.83" in review.view.banner_text, timeout=10_000)
        assert review.view._heat is not None
        qtbot.waitUntil(lambda: review.current.id in review.cache.large, timeout=10_000)
        shot(w, "review_anomaly")
        target = review.current.id
        review.ok_part_btn.click()
        qtbot.waitUntil(lambda: w.anomaly.dialog is not None, timeout=10_000)
        box = w.anomaly.dialog
        assert "good parts called NG: 3 → 1" in box.text() and "40 golden parts" in box.text()
        box.buttonClicked.emit(w.anomaly.accept_btn)
        qtbot.waitUntil(lambda: backend.accepted == [(target, "Ana")], timeout=10_000)
        qtbot.waitUntil(lambda: session.project.sample(target).label == "good", timeout=10_000)
        assert session.project.sample(target).labelled_by == "Ana" and target in ids
        assert w.anomaly.version == "v8"
        w.show_panel("analysis")
        qtbot.waitUntil(lambda: "Model v8" in w.analysis_panel.hist_note.text(), timeout=10_000)
        shot(w, "analysis_anomaly")
    finally:
        for b in QApplication.topLevelWidgets():
            if isinstance(b, QMessageBox):
                b.close()
        w.close()
        qtbot.waitUntil(lambda: w._closed, timeout=20_000)
