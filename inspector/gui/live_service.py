"""The GUI's handle on the core LivePipeline: starts and stops it off the GUI thread, keeps only the
newest frame and verdict for the screen (the panel polls on a timer, so no backlog can form) and
queues the pipeline's events. The pipeline runs capture, inference and recording on its own threads."""
from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from inspector.core.live.frames import FAILED, FINISHED, STOPPED, Frame, InspectionResult, PipelineEvent
from inspector.gui.workers import TaskRunner

log = logging.getLogger(__name__)
ENDED = (FINISHED, STOPPED, FAILED)


@dataclass(frozen=True)
class LiveView:
    """What the screen shows: newest frame, newest verdict, and a counter that moves with each."""

    frame: Frame | None
    result: InspectionResult | None
    seq: int


class LiveService(QObject):
    started = Signal()
    stopped = Signal(str)  # the final state: finished, stopped or failed
    errored = Signal(str)
    busy_changed = Signal(bool)  # starting or stopping

    def __init__(self, project_root, runner: TaskRunner, parent: QObject | None = None):
        super().__init__(parent)
        self.root = project_root
        self.runner = runner
        self.pipeline = None
        self._project = None
        self._lock = threading.Lock()
        self._frame: Frame | None = None
        self._result: InspectionResult | None = None
        self._seq = 0
        self._events: deque[PipelineEvent] = deque(maxlen=200)
        self._busy = False
        self.results_seen = 0  # parts a model decided during this service's life (every run)
        self.not_ok_seen = 0
        self.not_inspected_seen = 0  # triggered parts no model decided (corrupt frame, queue full, …)
        self.line = None  # the run's core LineIO (PLC / MES outputs), when it has any
        self.user: str | None = None  # who runs the line now: set_user; the pipeline records it on each verdict

    # -- called on pipeline threads: store and return at once -----------------------------------
    def _on_result(self, r: InspectionResult) -> None:
        with self._lock:
            self._result = r
            self._seq += 1
            if r.verdict.not_inspected:
                self.not_inspected_seen += 1
            else:
                self.results_seen += 1
                self.not_ok_seen += not r.verdict.ok

    def _on_event(self, e: PipelineEvent) -> None:
        self._events.append(e)

    def _on_line_event(self, kind: str, message: str) -> None:
        p = self.pipeline
        self._events.append(PipelineEvent(kind, p.state if p is not None else "starting", message))

    def line_status(self) -> dict | None:
        io = self.line
        return io.status() if io is not None else None

    # -- read by the GUI ----------------------------------------------------------------------------
    def view(self) -> LiveView:
        p = self.pipeline
        frame = p.latest_frame if p is not None else None
        with self._lock:
            if frame is not None and frame is not self._frame:
                self._frame = frame
                self._seq += 1
            return LiveView(self._frame, self._result, self._seq)

    def take_events(self) -> list[PipelineEvent]:
        out = []
        while self._events:
            out.append(self._events.popleft())
        return out

    def stats(self):
        p = self.pipeline
        return p.stats() if p is not None else None

    @property
    def running(self) -> bool:
        return self.pipeline is not None and self.pipeline.state not in ENDED

    @property
    def busy(self) -> bool:
        return self._busy

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.busy_changed.emit(busy)

    # -- control --------------------------------------------------------------------------------------
    def start(self, config, line=None, views=None) -> None:
        """config: a core LiveConfig; line: core LineSettings (PLC / MES outputs), used when it has any
        output or the trigger is "plc"; views: a multi-camera station's ViewConfigs (then config gives
        the trigger and the rest). Errors (no model, bad source, port in use) come back through errored."""
        if self.running or self._busy:
            return
        self._set_busy(True)
        root = self.root

        def start(progress, cancel):
            from inspector.core.live.pipeline import LivePipeline
            from inspector.core.project import Project

            project = Project.open(root)
            io = None
            try:
                on_result, on_event = self._on_result, self._on_event
                plc = config.trigger == "plc"
                if line is not None and (line.any or plc):
                    from inspector.core.line.outputs import LineIO
                    io = LineIO(line, outbox_folder=project.root, plc_trigger=plc, on_event=self._on_line_event)
                    io.start()
                    if io.plc is not None:
                        config.trigger = io.plc
                    on_result = lambda r: (io.publish(r), self._on_result(r))  # noqa: E731
                    on_event = lambda e: (io.pipeline_event(e), self._on_event(e))  # noqa: E731
                if views:
                    from inspector.core.live.station import StationPipeline
                    pipeline = StationPipeline(project, views, config, on_result=on_result, on_event=on_event)
                else:
                    pipeline = LivePipeline(project, config, on_result=on_result, on_event=on_event)
                pipeline.start()
            except BaseException:
                if io is not None:
                    io.close()
                project.close()
                raise
            return project, pipeline, io

        if self.runner.run(start, "live-start", on_result=self._started, on_error=self._start_failed) is None:
            self._set_busy(False)  # closing: nothing is started any more

    def _started(self, made) -> None:
        self._project, self.pipeline, self.line = made
        if self.user and self.pipeline.user != self.user:  # someone else logged in while it was starting
            self.pipeline.set_user(self.user)
        with self._lock:
            self._frame = self._result = None
        self._set_busy(False)
        self.started.emit()

    def _start_failed(self, message: str) -> None:
        self._set_busy(False)
        self.errored.emit(message)

    def set_user(self, user: str) -> None:
        """The account now at the station: the running line's next verdicts carry it (those already made
        keep theirs), and so does the next run."""
        self.user = user
        if self.pipeline is not None and not self._busy:
            self.pipeline.set_user(user)

    def trigger(self) -> None:
        if self.pipeline is not None:
            self.pipeline.trigger()

    def stop(self) -> None:
        """Stop reading; what was read is still inspected and logged. stopped(state) follows."""
        if self.pipeline is None or self._busy:
            return
        self._set_busy(True)
        pipeline, project, line = self.pipeline, self._project, self.line

        def stop(progress, cancel):
            pipeline.stop(timeout=8.0)
            if line is not None:
                line.close()  # the last results out (MQTT: what is not acknowledged stays in the outbox)
            return pipeline.state

        def done(state) -> None:
            self.line = None  # closed by the stop task
            self._release(project)
            self.stopped.emit(state)

        self.runner.run(stop, "live-stop", on_result=done, on_error=self._stop_failed, cleanup=True)

    def _stop_failed(self, message: str) -> None:
        self._release(self._project)
        self.errored.emit(message)

    def check_ended(self) -> str | None:
        """Called by the panel's timer: a run that ended on its own (source finished, failure) is
        released here; returns its final state once."""
        p = self.pipeline
        if p is None or self._busy or p.state not in ENDED or not p.wait(0):
            return None
        state = p.state
        error = p.error
        self._release(self._project)
        if error is not None:
            self.errored.emit(str(error))
        self.stopped.emit(state)
        return state

    def _release(self, project) -> None:
        self.pipeline = None
        self._project = None
        line, self.line = self.line, None
        if line is not None:  # a run that ended on its own: close its outputs off the GUI thread
            threading.Thread(target=line.close, name="line-close", daemon=True).start()
        if project is not None:
            project.close()
        self._set_busy(False)

    def shutdown(self, timeout_s: float = 8.0) -> bool:
        """Blocking stop for window close: True when every pipeline thread ended in time."""
        p, project = self.pipeline, self._project
        if p is None:
            return True
        ok = p.stop(timeout=timeout_s)
        if self.line is not None:
            self.line.close()
            self.line = None
        if ok:
            self._release(project)
        return ok
