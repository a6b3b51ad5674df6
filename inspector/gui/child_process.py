"""Run a core task function in a child process, relaying its progress events, result, failure and
cancel like a thread would. Why: torch holds Python's GIL for long stretches (ONNX export held it for
up to 0.7 s when measured), which froze the GUI thread while a model trained beside the live view.
A process has its own GIL. No Qt here; the worker thread that calls this adapts it to signals."""
from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue
import sys
import time
import traceback

from inspector.core.cancel import CancelToken
from inspector.core.errors import Cancelled, InspectorError

log = logging.getLogger(__name__)


def lower_priority() -> None:
    """Background work yields the CPU to the GUI and to live inspection (measured on the shared 2-core
    PC: the GUI timer's p99 lateness fell when the trainer ran at a lower priority)."""
    try:
        if hasattr(os, "nice"):
            os.nice(10)
        elif sys.platform == "win32":
            import ctypes

            below_normal = 0x4000
            ctypes.windll.kernel32.SetPriorityClass(ctypes.windll.kernel32.GetCurrentProcess(), below_normal)
    except (OSError, AttributeError):  # not allowed here: run at normal priority
        pass


def _child(fn, args: tuple, kwargs: dict, events, cancel_event) -> None:
    lower_priority()
    try:
        result = fn(*args, progress=lambda e: events.put(("progress", e)), cancel=CancelToken(cancel_event), **kwargs)
        events.put(("result", result))
    except Cancelled:
        events.put(("cancelled", None))
    except InspectorError as e:
        events.put(("error", str(e)))
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which logs it
        events.put(("crash", "".join(traceback.format_exception(type(e), e, e.__traceback__))))


class ChildProcessError(RuntimeError):
    """The child died or failed unexpectedly; the parent has logged its traceback."""


def run_in_process(fn, args: tuple, progress, cancel, *, kwargs: dict | None = None, grace_s: float = 3.0):
    """Call fn(*args, **kwargs, progress=, cancel=) in a fresh (spawned) process; fn is a module-level
    function (sent by reference). Raises Cancelled,
    the child's InspectorError (as InspectorError with its message) or ChildProcessError. A cancel the
    child does not honour within grace_s (e.g. mid-way through an ONNX export) ends it by force: the
    core writes every file atomically, so nothing half-written is left."""
    ctx = mp.get_context("spawn")  # never fork a process that runs Qt and torch threads
    events = ctx.Queue()
    cancel_event = ctx.Event()
    target = f"{fn.__module__}.{fn.__qualname__}"
    proc = ctx.Process(target=_child, args=(fn, args, dict(kwargs or {}), events, cancel_event),
                       name=f"inspector-{fn.__name__}", daemon=True)
    proc.start()
    outcome, cancel_at = None, None
    try:
        while outcome is None:
            if cancel.is_set() and cancel_at is None:
                cancel_event.set()
                cancel_at = time.monotonic()
            try:
                kind, payload = events.get(timeout=0.1)
            except queue.Empty:
                if not proc.is_alive():
                    try:  # what it put last may still be in the pipe
                        kind, payload = events.get(timeout=1.0)
                    except queue.Empty:
                        outcome = ("crash", f"the worker process ended with exit code {proc.exitcode}")
                        continue
                elif cancel_at is not None and time.monotonic() - cancel_at > grace_s:
                    log.warning("%s did not stop within %.0f s of cancel: ending it", target, grace_s)
                    outcome = ("cancelled", None)
                    continue
                else:
                    continue
            if kind == "progress":
                progress(payload)
            else:
                outcome = (kind, payload)
    finally:
        proc.join(timeout=grace_s if outcome and outcome[0] == "result" else 0.5)
        if proc.is_alive():
            proc.terminate()
            proc.join(5.0)
        events.close()
        events.join_thread()
    kind, payload = outcome
    if kind == "result":
        return payload
    if kind == "cancelled":
        raise Cancelled()
    if kind == "error":
        raise InspectorError(payload)
    log.error("%s failed in its worker process:\n%s", target, payload)
    raise ChildProcessError(payload.strip().splitlines()[-1] if payload.strip() else "the worker process failed")
