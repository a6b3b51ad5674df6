"""The anomaly parts of Train, Review and Analysis. The first tests drive the GUI through a stand-in backend
with fixed numbers (the dialog text can then be checked exactly); the last fits a real anomaly model from
the Train panel and uses the core backend (inspector.core.anomaly.service) end to end."""
import time

import numpy as np
from conftest import add_flagged_parts, shot
from PySide6.QtWidgets import QApplication, QMessageBox

from inspector.core.imageio import encode_png
from inspector.core.project import Project
from inspector.core.synth import SyntheticLine
from inspector.core.anomaly.records import CorrectionPreview, ScoreHistogram
from inspector.gui.anomaly_view import default_backend
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

    def accept_ok(self, root, version, sample_id, user, *, progress, cancel, detail=None):
        self.accepted.append((sample_id, user))
        self.version = "v8"
        return "v8"


def test_the_default_backend_is_the_core_service_every_time():
    assert [type(default_backend()).__name__ for _ in range(2)] == ["AnomalyService"] * 2


def test_without_a_backend_the_parts_stay_hidden(session, qtbot):
    w = MainWindow(session, anomaly_backend=None)
    w.show()
    try:
        assert not w.review_panel.ok_part_btn.isVisible() and w.analysis_panel.anomaly_box.isHidden()
    finally:
        w.close()
        qtbot.waitUntil(lambda: w._closed, timeout=20_000)


def test_no_anomaly_model_yet_hides_this_part_is_ok(window):
    assert not window.review_panel.ok_part_btn.isVisible()
    window.show_panel("analysis")
    assert "No anomaly model" in window.analysis_panel.hist_note.text()


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


def _add_good_parts(path, n: int) -> None:
    """Labelled good parts on top of the demo's four: enough for a bank and a threshold."""
    line = SyntheticLine(size=(256, 256), defect_rate=0.0, seed=21)
    with Project.open(path) as p:
        for i in range(n):
            p.add_image(encode_png(line.part(i, label="good").image), source="test", label="good", user="Ana")
            time.sleep(0.002)


def test_fit_from_the_train_panel_then_review_with_the_real_model(session, project_path, qtbot):
    _add_good_parts(project_path, 16)
    session.samples_changed.emit()
    flagged = add_flagged_parts(project_path, 3, seed=9)
    w = MainWindow(session)
    w.resize(1366, 768)
    w.show()
    try:
        train = w.train_panel
        w.show_panel("train")
        train.refresh()
        assert "good part(s) to learn from" in train.anomaly_note.text() and train.fit_btn.isEnabled()
        assert train.anomaly_preset.currentData() == "auto"  # the default: settings chosen for these parts
        train.fit_btn.click()
        assert not train.train_btn.isEnabled() and train.cancel_btn.isEnabled()
        qtbot.waitUntil(lambda: not train.training, timeout=240_000)
        text = train.headline.text()
        # the demo's classifier runs the line: the new anomaly model waits for Activate, as a classifier does
        assert "(anomaly) fitted" in text and "Activate puts it on the line" in text, text
        assert session.registry.active("anomaly") is None and train.activate_btn.isEnabled()
        assert "Expected: catches about" in text and "Settings: " in train.headline.toolTip()
        shot(w, "train_anomaly_fitted")
        train.activate()
        qtbot.waitUntil(lambda: session.registry.active("anomaly") is not None, timeout=10_000)
        assert train.activate_btn.text() == f"{train.summary.version} is active"
        version = w.anomaly.version
        assert version is not None and version == train.summary.version

        review = w.review_panel
        w.show_panel("review")
        review.refresh()
        assert review.ok_part_btn.isVisible() and review.current.id in flagged
        qtbot.waitUntil(lambda: "anomaly score" in review.view.banner_text, timeout=60_000)
        assert review.view._heat is not None
        shot(w, "review_anomaly_real")
        target = review.current.id
        review.ok_part_btn.click()
        qtbot.waitUntil(lambda: w.anomaly.dialog is not None, timeout=120_000)
        assert "golden" in w.anomaly.dialog.text()
        w.anomaly.dialog.buttonClicked.emit(w.anomaly.accept_btn)
        qtbot.waitUntil(lambda: w.anomaly.version not in (None, version), timeout=120_000)
        assert session.project.sample(target).label == "good"
        assert session.registry.active("anomaly").parent == version
        w.show_panel("analysis")
        qtbot.waitUntil(lambda: f"Model {w.anomaly.version}" in w.analysis_panel.hist_note.text(), timeout=120_000)
        shot(w, "analysis_anomaly_real")
        w.show_panel("models")
        models = w.models_panel
        models.refresh()
        active_rows = {models.table.item(r, 0).text() for r in range(models.table.rowCount())
                       if models.table.item(r, 2).text() == "active"}
        assert active_rows == {"v1", w.anomaly.version}  # one active classifier, one active anomaly model
        assert "anomaly model decides OK / NG" in models.note.text()
        models.select(w.anomaly.version)
        assert "anomaly" in models.details.text() and "threshold" in models.details.text()
        assert "settings chosen automatically" in models.details.text()
        assert not models.export_btn.isEnabled() and models.rollback_btn.isEnabled()
        shot(w, "models_anomaly")
        # the fitted version keeps its validation check, shown in Models as the Train result showed it
        assert train.summary.metrics
        models.select(version)
        assert "validation:" in models.details.text() and "good parts called NG" in models.details.text()
        row = next(r for r in range(models.table.rowCount()) if models.table.item(r, 0).text() == version)
        assert "false rejects" in models.table.item(row, 4).text()
        models.select(w.anomaly.version)
        # Ctrl+Z undoes "this part is OK" as one step: the model before it is back on the line, the part unlabelled
        accepted = w.anomaly.version
        assert session.undo() == target
        assert session.registry.active("anomaly").version == version != accepted
        assert session.project.sample(target).status == "unreviewed"
        qtbot.waitUntil(lambda: w.anomaly.version == version, timeout=10_000)
    finally:
        for b in QApplication.topLevelWidgets():
            if isinstance(b, QMessageBox):
                b.close()
        w.close()
        qtbot.waitUntil(lambda: w._closed, timeout=30_000)
