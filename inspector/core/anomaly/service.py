"""The anomaly model's operations on a project's stored parts, for callers that keep a model loaded
between calls (the GUI's anomaly views, on worker threads): scores and heatmaps of samples, the score
histogram, and "this part is OK" with its golden-set preview. Results are the plain records of
records.py."""
from __future__ import annotations

import threading

import numpy as np

from inspector.core.anomaly.accept import AcceptProposal, propose_accept
from inspector.core.anomaly.model import load_source
from inspector.core.anomaly.records import CorrectionPreview, ScoreHistogram
from inspector.core.anomaly.store import KIND, load_model
from inspector.core.progress import StageProgress

HISTOGRAM_SAMPLES = 200  # newest unreviewed parts scored for the histogram's "flagged" series


def _progress(progress, stage: str):
    if progress is None:
        return lambda e: None
    return lambda e: progress(StageProgress(stage, e.done, e.total)) if isinstance(e, StageProgress) else None


class AnomalyService:
    def __init__(self):
        self._models: dict[tuple[str, str], object] = {}
        self._proposal: tuple[tuple[str, str, int], AcceptProposal] | None = None
        self._lock = threading.Lock()

    def _open(self, root):
        from inspector.core.project import Project

        return Project.open(root)

    def _model(self, project, version: str):
        from inspector.core.registry import ModelRegistry

        key = (str(project.root), version)
        with self._lock:
            if key not in self._models:
                self._models = {key: load_model(ModelRegistry(project), version)}  # keep one: banks are large
            return self._models[key]

    def active_version(self, project) -> str | None:
        from inspector.core.registry import ModelRegistry

        mv = ModelRegistry(project).active(KIND)
        return mv.version if mv else None

    def score(self, root, version: str, sample_ids: list[int], *, progress=None, cancel=None):
        """[(normalized score, H×W heatmap with 0.5 = threshold)] per sample."""
        with self._open(root) as p:
            model = self._model(p, version)
            out = []
            for i, sid in enumerate(sample_ids):
                if cancel is not None:
                    cancel.check()
                r = model.score(p.read_image(sid), with_map=True)
                out.append((r.score, r.map))
                if progress is not None:
                    progress(StageProgress("anomaly scores", i + 1, len(sample_ids)))
        return out

    def histogram(self, root, version: str, *, progress=None, cancel=None, bins: int = 40) -> ScoreHistogram:
        """Good: the model's good validation parts. Flagged: the newest unreviewed parts it flags."""
        with self._open(root) as p:
            model = self._model(p, version)
            cal = model.calibration
            good = cal.normalize(np.asarray(cal.scores)) if cal.scores else np.empty(0)
            todo = p.samples(status="unreviewed", order="-added_at")[:HISTOGRAM_SAMPLES]
            flagged = []
            for i, s in enumerate(todo):
                if cancel is not None:
                    cancel.check()
                r = model.score(load_source(p.image_path(s), f"sample #{s.id}"))
                if r.flagged:
                    flagged.append(r.score)
                if progress is not None:
                    progress(StageProgress("anomaly histogram", i + 1, len(todo)))
        edges = np.linspace(0.0, 1.0, bins + 1)
        note = (f"Model {version}: {len(good)} good validation parts (blue, {cal.source}); {len(flagged)} of the "
                f"{len(todo)} newest unreviewed parts flagged (red); right of 0.5 is NG.")
        return ScoreHistogram(edges, np.histogram(good, edges)[0], np.histogram(np.asarray(flagged), edges)[0], note)

    def _propose(self, root, version: str, sample_id: int, progress, cancel) -> AcceptProposal:
        key = (str(root), version, int(sample_id))
        with self._lock:
            if self._proposal is not None and self._proposal[0] == key:
                return self._proposal[1]
        with self._open(root) as p:
            s = p.sample(sample_id)
            proposal = propose_accept(p, version, [p.image_path(s)], names=[f"sample #{s.id}"],
                                      progress=_progress(progress, "checking the golden set"), cancel=cancel)
        with self._lock:
            self._proposal = (key, proposal)
        return proposal

    def preview_ok(self, root, version: str, sample_id: int, *, progress=None, cancel=None) -> CorrectionPreview:
        pr = self._propose(root, version, sample_id, progress, cancel)
        b, a = pr.golden_before, pr.golden_after
        return CorrectionPreview(int(sample_id), b.good + b.defect, b.false_rejects, a.false_rejects,
                                 b.escapes, a.escapes)

    def accept_ok(self, root, version: str, sample_id: int, user: str, *, progress=None, cancel=None,
                  detail: dict | None = None) -> str:
        """Save the correction as a new active version; returns it. (The GUI labels the part OK itself.)
        detail: what the golden guard approved, kept in the audit trail."""
        pr = self._propose(root, version, sample_id, progress, cancel)
        with self._open(root) as p:
            p.actor = user
            mv = pr.save(p, activate=True, user=user, detail=detail)
        with self._lock:
            self._proposal = None
        return mv.version
