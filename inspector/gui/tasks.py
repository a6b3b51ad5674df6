"""The one way the GUI runs an operation (inspector/core/ops and the other core operations) off the GUI
thread: task(op, *args) gives the TaskRunner's fn(progress, cancel). in_process=True runs it in a child
process (child_process.py): ops that run torch for long (training, fitting, exporting a graph) would hold
the GUI's GIL. No Qt here."""
from __future__ import annotations

from collections.abc import Callable


def task(op: Callable, *args, in_process: bool = False, **kwargs) -> Callable:
    """op(*args, **kwargs, progress=, cancel=) as a task; op must be a module-level function to run in a
    child process (it is sent by reference)."""
    def run(progress, cancel):
        if in_process:
            from inspector.gui.child_process import run_in_process

            return run_in_process(op, args, progress, cancel, kwargs=kwargs)
        return op(*args, progress=progress, cancel=cancel, **kwargs)
    run.op = op  # what runs, for logs and tests
    return run
