"""Project menu actions: add a class, import a folder of labelled images (on a worker thread)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from inspector.core.errors import InspectorError
from inspector.core.progress import StageProgress
from inspector.gui.logs import show_error
from inspector.core.ops import imports
from inspector.gui.tasks import task


def add_class(parent, session, name: str | None = None, kind: str | None = None) -> bool:
    """Ask for a name and kind (or take them), then add the class; True when it was added."""
    if name is None:
        name, ok = QInputDialog.getText(parent, "Add a class", "Class name (e.g. scratch):")
        if not ok or not name.strip():
            return False
    if kind is None:
        choice, ok = QInputDialog.getItem(parent, "Add a class", f"Is '{name}' a defect or an OK part?",
                                          ["defect", "OK part"], 0, False)
        if not ok:
            return False
        kind = "ok" if choice == "OK part" else "defect"
    try:
        session.add_class(name.strip(), kind)
    except InspectorError as e:
        show_error(parent, str(e))
        return False
    return True


def import_folder(parent, session, src: str | Path | None = None):
    """Import an ImageFolder; returns the task (None when the user cancelled the folder dialog)."""
    if src is None:
        src = QFileDialog.getExistingDirectory(parent, "Import labelled images: the folder with one "
                                               "sub-folder per class", str(Path.home()))
        if not src:
            return None

    def progress(e) -> None:
        if isinstance(e, StageProgress):
            session.say(f"Importing images: {e.done} of {e.total}")

    def done(summary) -> None:
        session.samples_added(summary.lines()[0])
        if summary.rejected or summary.conflicts or summary.cancelled:
            QMessageBox.information(parent, "Import", "\n".join(summary.lines()[:30]))

    return session.runner.run(task(imports.import_folder, session.root, Path(src), session.user), "import", on_progress=progress,
                              on_result=done, on_error=lambda m: show_error(parent, m))
