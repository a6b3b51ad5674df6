"""The anomaly model in the GUI: heatmap and score of the part under review, "this part is OK" (the
instant correction, shown with its golden-set counts before it is accepted), and the score histogram
of the Analysis tab. The live view needs nothing here: anomaly verdicts carry their heatmap.

The work is done by inspector.core.anomaly.service.AnomalyService (the AnomalyBackend below) on worker
threads; tests may pass another backend, or None to hide these parts."""
from __future__ import annotations

from typing import Protocol

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMessageBox

from inspector.core.anomaly.records import CorrectionPreview, ScoreHistogram
from inspector.core.errors import InspectorError
from inspector.core.golden import GoldenCheck, GoldenCounts
from inspector.gui import golden_guard
from inspector.gui.image_view import NG_COLOR, OK_COLOR
from inspector.gui.logs import show_error


class AnomalyBackend(Protocol):
    """Called on worker threads, except active_version (GUI thread, a quick database read)."""

    def active_version(self, project) -> str | None: ...

    def score(self, root, version: str, sample_ids: list[int], *, progress, cancel
              ) -> list[tuple[float, np.ndarray | None]]: ...

    def histogram(self, root, version: str, *, progress, cancel) -> ScoreHistogram: ...

    def preview_ok(self, root, version: str, sample_id: int, *, progress, cancel) -> CorrectionPreview: ...

    def accept_ok(self, root, version: str, sample_id: int, user: str, *, progress, cancel,
                  detail: dict | None = None) -> str: ...  # detail: what the golden guard approved, audited


def default_backend() -> AnomalyBackend:
    """The product's backend; its module loads the anomaly model code (torch), so only when asked."""
    from inspector.core.anomaly.service import AnomalyService

    return AnomalyService()


def correction_text(p: CorrectionPreview) -> str:
    return (f"Teach the anomaly model that part #{p.sample_id} is OK?\n\n"
            f"On the {p.golden_total} golden parts:\n"
            f"  good parts called NG: {p.false_alarms_before} → {p.false_alarms_after}\n"
            f"  defects missed: {p.escapes_before} → {p.escapes_after}\n\n"
            "Accept saves a new version of the model and makes it active; the part is labelled OK.")


class AnomalyHook(QObject):
    """Wires an anomaly backend into the Review and Analysis panels."""

    def __init__(self, session, review, analysis, backend: AnomalyBackend | None, parent=None):
        super().__init__(parent)
        self.session, self.review, self.analysis, self.backend = session, review, analysis, backend
        self.version: str | None = None
        self.preview: CorrectionPreview | None = None
        self.dialog: QMessageBox | None = None
        review.anomaly_hook = self
        session.models_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        """Follow the active anomaly version: show or hide the anomaly parts, redraw the histogram."""
        self.version = self.backend.active_version(self.session.project) if self.backend else None
        self.review.ok_part_btn.setVisible(self.version is not None)
        self.analysis.anomaly_box.setVisible(self.backend is not None)
        if self.version is None:
            return
        root, version = self.session.root, self.version
        self.session.runner.run(lambda progress, cancel: self.backend.histogram(root, version, progress=progress,
                                                                                cancel=cancel),
                                "anomaly-histogram", on_result=self._show_histogram,
                                on_error=lambda m: self.analysis.hist_note.setText(m))

    def _show_histogram(self, h: ScoreHistogram) -> None:
        self.analysis.show_histogram(h.edges, h.good, h.flagged,
                                     h.note or f"Model {self.version}: scores of good parts (blue) and of "
                                               "flagged parts (red); right of the dashed line is NG.")

    # -- review -------------------------------------------------------------------------------------
    def show_sample(self, s) -> None:
        if self.version is None:
            return
        root, version, sid = self.session.root, self.version, s.id
        self.session.runner.run(lambda progress, cancel: self.backend.score(root, version, [sid], progress=progress,
                                                                            cancel=cancel),
                                "anomaly-score", on_result=lambda r, sid=sid: self._scored(sid, r))

    def _scored(self, sample_id: int, result) -> None:
        cur = self.review.current
        if cur is None or cur.id != sample_id or not result:
            return
        score, heatmap = result[0]
        self.review.view.set_heatmap(heatmap)
        ok = score < 0.5
        self.review.view.set_banner("OK" if ok else "NG", OK_COLOR if ok else NG_COLOR,
                                    f"anomaly score {score:.2f} · model {self.version}")

    def part_is_ok(self, s) -> None:
        if self.version is None:
            return
        root, version, sid = self.session.root, self.version, s.id
        try:
            self.session.require("model.accept")
        except InspectorError as e:
            show_error(self.review, str(e))
            return
        self.review.ok_part_btn.setEnabled(False)
        self.session.say(f"Checking what accepting part #{sid} would change on the golden set…")
        self.session.runner.run(
            lambda progress, cancel: self.backend.preview_ok(root, version, sid, progress=progress, cancel=cancel),
            "anomaly-preview", on_result=self._ask, on_error=self._failed)

    def _ask(self, preview: CorrectionPreview) -> None:
        self.preview = preview
        box = QMessageBox(QMessageBox.Icon.Question, "This part is OK", correction_text(preview),
                          QMessageBox.StandardButton.NoButton, self.review)
        box.setObjectName("correctionDialog")
        self.accept_btn = box.addButton("Accept", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Cancel", QMessageBox.ButtonRole.RejectRole)
        box.buttonClicked.connect(self._answered)
        self.dialog = box
        box.open()

    def _answered(self, button) -> None:
        preview, self.dialog = self.preview, None
        if button is not self.accept_btn or preview is None:
            self.review.ok_part_btn.setEnabled(True)
            return
        root, version, user = self.session.root, self.version, self.session.user
        check = GoldenCheck("the correction", version, GoldenCounts(false_rejects=preview.false_alarms_before,
                                                                    escapes=preview.escapes_before),
                            GoldenCounts(false_rejects=preview.false_alarms_after, escapes=preview.escapes_after))

        def accept(detail: dict) -> None:  # the golden guard passed, or an engineer confirmed with a reason
            self.session.runner.run(
                lambda progress, cancel: self.backend.accept_ok(root, version, preview.sample_id, user,
                                                                progress=progress, cancel=cancel, detail=detail),
                "anomaly-accept", on_result=lambda v: self._accepted(preview.sample_id, version, v), on_error=self._failed)
        if golden_guard.decide(self.session, self.review, check, "model.accept", accept) is None and check.escapes_up:
            self.review.ok_part_btn.setEnabled(True)  # refused: nothing runs

    def _accepted(self, sample_id: int, previous_version: str, new_version: str) -> None:
        self.review.ok_part_btn.setEnabled(True)
        self.session.accepted(sample_id, previous_version, new_version)

    def _failed(self, message: str) -> None:
        self.review.ok_part_btn.setEnabled(True)
        show_error(self.review, message)
