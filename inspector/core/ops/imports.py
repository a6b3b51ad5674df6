"""Import an ImageFolder (one sub-folder per class; good/ok = OK parts) into a project."""
from __future__ import annotations

from inspector.core.progress import StageProgress


def import_folder(root, src, user: str, *, progress, cancel):
    """Returns the importer's summary (counts, rejected files, conflicts)."""
    from inspector.core.importer import import_imagefolder
    from inspector.core.project import Project

    with Project.open(root) as project:
        return import_imagefolder(project, src, user=user, cancel=cancel,
                                  progress=lambda d, t: progress(StageProgress("importing images", d, t)))
