"""Fit an anomaly model on a project's good parts and check it on the labelled validation parts."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnomalyFitSummary:
    version: str
    active: bool
    wall_s: float
    train_images: int
    bank_size: int
    frr_target: float
    calibration_source: str
    metrics: dict | None  # the fit's check of the labelled validation split (None: nothing labelled there)
    settings: str = ""  # what the auto search chose and why ("" for a named preset)
    expected: tuple[str, ...] = ()  # the search's expected catch rates, as sentences
    supervised: str = ""  # what the labelled defective parts did, as a sentence ("" when too few were labelled)


def fit_anomaly(root, preset_name: str, frr: float, user: str, *, progress, cancel) -> AnomalyFitSummary:
    """Fit an anomaly model on the good parts, then check it on the labelled validation parts."""
    from inspector.core.anomaly.fitting import fit_project
    from inspector.core.anomaly.records import supervised_text
    from inspector.core.project import Project

    with Project.open(root) as project:
        out = fit_project(project, frr=frr, preset_name=preset_name, user=user, progress=progress, cancel=cancel)
        # the validation check was made before saving and is kept with the version
        return AnomalyFitSummary(out.version.version, out.version.active, out.fit_s, out.train_images, out.bank_size,
                                 frr, out.calibration_source, out.metrics,
                                 out.auto.reason if out.auto is not None else "",
                                 tuple(out.auto.expected_lines()) if out.auto is not None else (),
                                 supervised_text(out.supervised) if out.supervised else "")
