"""Train a classifier and compare it with the model that was active, on the same validation parts."""
from __future__ import annotations

from dataclasses import dataclass

from inspector.core.errors import InspectorError
from inspector.core.progress import StageProgress


@dataclass(frozen=True)
class TrainSummary:
    version: str
    active: bool  # the new version was activated (a project's first model is)
    metrics: dict  # validation metrics of the new version
    compared_with: str | None  # the version that was active when training began
    compared_metrics: dict | None  # that version on today's validation images
    history: list[dict]
    wall_s: float


def train(root, cfg: dict, user: str, warm_from: str | None = None, *, progress, cancel) -> TrainSummary:
    """Train with `cfg` (a TrainConfig as a dict), from `warm_from`'s weights when given; then score the
    version that was active before on the same validation images, so the two can be compared side by side."""
    from inspector.core.evaluation import evaluate_version
    from inspector.core.project import Project
    from inspector.core.registry import ModelRegistry
    from inspector.core.train_config import TrainConfig
    from inspector.core.training import train_project

    with Project.open(root) as project:
        before = ModelRegistry(project).active("classifier")
        out = train_project(project, TrainConfig.from_dict(cfg), warm_from=warm_from, progress=progress,
                            cancel=cancel, user=user)
        compared = None
        if before is not None and out.metrics:
            progress(StageProgress("comparing with the active model", 0, 1))
            try:
                compared = evaluate_version(project, before.version)
            except InspectorError:  # e.g. its classes no longer exist: show the new model alone
                compared = None
            progress(StageProgress("comparing with the active model", 1, 1))
        return TrainSummary(out.version.version, out.version.active, out.metrics,
                            before.version if before else None, compared, out.result.history, out.wall_s)
