"""The live pipeline: capture → trigger → ROI → inference → results log and review queue, on three
threads, with reconnects, warm-up and model hot-swap. A plain object: start/stop/step, callbacks."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from inspector.core import audit
from inspector.core.errors import ConfigError, InspectorError
from inspector.core.live.config import NOT_INSPECTED_SETTING, LiveConfig, parse_not_inspected_as
from inspector.core.live.frames import (CORRUPT_FRAME, FAILED, FINISHED, IDLE, INFERENCE_ERROR, NO_MODEL, QUEUE_FULL,
                                        RECONNECTING, RUNNING, STALLED, STARTING, STOPPED, WARMING_UP, Frame,
                                        InspectionResult, PipelineEvent, Verdict)
from inspector.core.live.latest import FrameBuffer
from inspector.core.live.model_slot import ModelSlot
from inspector.core.live.pacing import ReadPacer
from inspector.core.live.recorder import Recorder
from inspector.core.live.roi import Roi
from inspector.core.live.sources import CorruptFrame, SourceEnded, SourceStalled, open_source
from inspector.core.live.stats import Counters, LiveStats, snapshot
from inspector.core.live.triggers import parse_trigger
from inspector.core.notify import tell
from inspector.core.registry import ModelRegistry

__all__ = ["LiveConfig", "LivePipeline"]


class LivePipeline:
    """on_result(InspectionResult) and on_event(PipelineEvent) are called on pipeline threads: a GUI
    hands them to its own thread (e.g. a queued Qt signal) and returns at once."""

    def __init__(self, project, config: LiveConfig, *, on_result: Callable[[InspectionResult], None] | None = None,
                 on_event: Callable[[PipelineEvent], None] | None = None, audit_line: bool = True):
        """audit_line: write the line.start / stop / handover audit rows (a station's views do not: the
        station writes them once for all its views)."""
        if config.max_batch < 1 or config.queue_size < 1:
            raise ConfigError("max_batch and queue_size must be at least 1")
        if not config.stall_s > 0:
            raise ConfigError(f"stall time {config.stall_s} s must be positive, e.g. 2")
        self.project, self.config, self.audit_line = project, config, audit_line
        # who runs the line: on the run, on every verdict and on the audit rows of its start and stop
        self.user: str = config.user or getattr(project, "actor", None) or audit.os_user()
        self.not_inspected_as = parse_not_inspected_as(
            config.not_inspected_as or project.get_meta(NOT_INSPECTED_SETTING) or "not_ok")
        self.source = open_source(config.source)
        self.source.stall_s = config.stall_s
        self.trigger_mode = parse_trigger(config.trigger)
        self.part_ids = _part_ids(config.part_id, self._event)
        self.roi = Roi.parse(config.roi)
        self.registry = ModelRegistry(project)
        self._model = ModelSlot(self.registry, config, self._event, self._count_error)
        self.on_result, self.on_event = on_result, on_event
        if self.source.live:  # newest frame only; triggered parts may queue a little
            every_frame = self.trigger_mode.name == "free"
            self.buffer = FrameBuffer(1 if every_frame else config.queue_size, drop_oldest=True,
                                      on_drop=self._dropped)
        else:  # the source waits for us; a folder's files are already waiting, so they may batch
            self.buffer = FrameBuffer(config.max_batch if self.source.backlog else 1, drop_oldest=False,
                                      on_drop=self._dropped)
        self.stats_ = Counters()
        self.error: InspectorError | None = None
        self.run_id: int | None = None
        self.latest_frame: Frame | None = None
        self.latest_result: InspectionResult | None = None
        self._state = IDLE
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._stop_asked = False
        self._ready = threading.Event()
        self._done = threading.Event()
        self._done_inferring = threading.Event()
        self._manual = 0  # software trigger requests not served yet (under _lock)
        self._recorder: Recorder | None = None
        self._started_audited = False  # a line.start row was written: line.stop follows it
        self._threads: list[threading.Thread] = []
        self._opened = False
        self._ever_opened = False
        self._frame_no = 0  # frames off the source, corrupt ones included: the frame ids
        self._last_frame = 0.0  # monotonic time of the last frame (or of opening): stall detection
        self._stalled = False
        self._pacer = ReadPacer()

    # -- public API ------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    @property
    def model_version(self) -> str | None:
        return self._model.version

    @property
    def target_version(self) -> str | None:
        """The model version this line runs or is loading (known once started)."""
        return self._model.target

    def stats(self) -> LiveStats:
        r = self._model.runner
        return snapshot(self.stats_, state=self._state, model_version=r.version if r else None,
                        backend=r.backend if r else None, dropped=self.buffer.dropped + self.source.dropped,
                        recorder=self._recorder, not_inspected_as=self.not_inspected_as)

    def start(self) -> None:
        """Resolve the model (ModelError at once when there is none), then load and warm it up and
        open the source on background threads; returns immediately."""
        if self._state != IDLE:
            raise ConfigError("this pipeline was already started — make a new LivePipeline for another run")
        self._model.resolve()
        self._open_recorder()
        self._audit_start()
        self._set_state(STARTING)
        for name, fn in (("infer", self._infer_loop), ("capture", self._capture_loop), ("record", self._record_loop)):
            t = threading.Thread(target=fn, name=f"live-{name}", daemon=True)
            self._threads.append(t)
            t.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop reading; frames already read are still inspected and recorded. True when it ended in time."""
        self._stop_asked = True
        self._stop.set()
        # Closed at once, not by the capture thread: a camera read that hangs must not hold up the
        # end. Frames already waiting are still inspected; a frame being read now is not.
        self.buffer.close()
        if not self._threads:
            self.close()
            return True
        return self.wait(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the run to end (source finished, max_frames, stop or failure)."""
        return self._done.wait(timeout)

    def trigger(self) -> None:
        """Software trigger: inspect the next frame, whatever the configured trigger. Each call is
        one inspection: three quick calls inspect the next three frames."""
        with self._lock:
            self._manual += 1

    def set_user(self, user: str) -> None:
        """Another account took over the running line (a log-in at the station): the verdicts made from
        now on carry it; those already made keep the one who ran the line then."""
        old, self.user = self.user, user
        if self._recorder is not None:
            self._recorder.user = user
        if old != user and self._state not in (IDLE, FINISHED, STOPPED, FAILED):
            self._audit("line.handover", {"from": old, "to": user})

    def swap_model(self, version: str) -> None:
        """Load `version` in the background and switch between two batches once it is warmed up;
        frames keep flowing through the current model meanwhile. On failure the current one stays."""
        if self._model.runner is None and not self._threads:  # not started yet: just run this one
            self.config.model = version
            return
        self._model.request(version)

    def step(self, timeout: float = 1.0) -> InspectionResult | None:
        """Without threads: read one frame in the calling thread and inspect it if the trigger fires.
        Source errors are raised here. Call close() when done."""
        if self._threads:
            raise ConfigError("step() is for a pipeline that was not started — stop() it or make a new one")
        if self._model.runner is None:
            self._model.resolve()
            self._open_recorder()
            self._audit_start()
            self._model.load_target()
        if not self._opened:
            self.source.open()
            self._opened = True
            self._set_state(RUNNING)
        self._model.swap_if_ready()
        frame = self._read_frame(timeout)
        if frame is None or not self._fires(frame):
            return None
        if _is_corrupt(frame):
            result = self._not_inspected(frame, CORRUPT_FRAME)
        else:
            try:
                result = self._inspect([frame])[0]
            except Exception as e:  # noqa: BLE001 - the part still gets its row
                self.stats_.errors += 1
                self._event("model_error", f"inference failed on 1 frame: {e}")
                result = self._not_inspected(frame, INFERENCE_ERROR)
            else:
                self._deliver(result)
        if self._recorder is not None:
            self._recorder.write([self._recorder.record_of(result)])
        return result

    def close(self) -> None:
        """End a step()-driven run (threads end on their own)."""
        if self._threads:
            self.stop()
            return
        if self._opened:
            self.source.close()
            self._opened = False
        self._finish(STOPPED)

    # -- state and events ------------------------------------------------------------------------
    def _event(self, kind: str, message: str = "") -> None:
        tell(self.on_event, PipelineEvent(kind, self._state, message))

    def _audit(self, action: str, detail: dict) -> None:
        """One audit row about the line under self.user; never stops inspection (the project may be busy,
        or already closed when a run ends after its caller gave up waiting)."""
        if not self.audit_line:
            return
        try:
            self.project.record(action, {"run_id": self.run_id, "source": self.source.name, **detail}, self.user)
        except Exception as e:  # noqa: BLE001
            self._event("record_error", f"{action} not written to the audit trail: {e}")

    def _audit_start(self) -> None:
        self._started_audited = True
        self._audit("line.start", {"trigger": str(self.trigger_mode), "model": self._model.target,
                                   "recorded": self.config.record})

    def _set_state(self, state: str, message: str = "") -> None:
        with self._lock:
            if state == self._state or self._state in (FINISHED, STOPPED, FAILED):
                return
            self._state = state
        self._event("state", message or state)

    def _fail(self, e: BaseException) -> None:
        if self.error is None:
            self.error = e if isinstance(e, InspectorError) else InspectorError(
                f"live pipeline stopped on an unexpected error: {type(e).__name__}: {e}")
            self._event("error", str(self.error))
        self._stop.set()
        self.buffer.close()

    def _count_error(self) -> None:
        self.stats_.errors += 1

    # -- the three threads -------------------------------------------------------------------------
    def _infer_loop(self) -> None:
        try:
            self._set_state(WARMING_UP, f"loading and warming up model {self._model.target}")
            self._model.load_target()
            self._ready.set()
            while True:
                batch = self.buffer.take(self.config.max_batch, timeout=0.1)
                self._model.swap_if_ready()  # between batches: a model is used only once fully loaded
                if not self.source.live:
                    self._pacer.adapt(self.buffer)
                if not batch:
                    if self.buffer.closed and not len(self.buffer):
                        break
                    continue
                try:
                    t0 = time.perf_counter()
                    results = self._inspect(batch)
                    self._pacer.inferred(time.perf_counter() - t0)
                except ConfigError:
                    for f in batch:
                        self._not_inspected(f, INFERENCE_ERROR)
                    raise
                except Exception as e:  # noqa: BLE001 - one bad batch must not end the run
                    self.stats_.errors += 1
                    self._event("model_error", f"inference failed on {len(batch)} frame(s): {e} — "
                                               "those parts are logged as not inspected")
                    for f in batch:  # fail closed: each part still gets its row
                        self._not_inspected(f, INFERENCE_ERROR)
                    continue
                for r in results:
                    self._deliver(r)
                    if self._recorder is not None:
                        self._recorder.submit(self._recorder.record_of(r))
        except Exception as e:  # noqa: BLE001 - reported as the pipeline's error
            self._fail(e)
        finally:
            self._ready.set()
            self.buffer.close()
            # frames still waiting when inference ended on an error: no model will decide them
            left = self.buffer.take(len(self.buffer) + 1, timeout=0) if len(self.buffer) else []
            for f in left:
                self._not_inspected(f, NO_MODEL if self._model.runner is None else INFERENCE_ERROR)
            # the capture thread may still log a corrupt part: let it finish (its reads time out)
            capture = next((t for t in self._threads if t.name == "live-capture"), None)
            if capture is not None and capture is not threading.current_thread() and capture.ident is not None:
                capture.join(2.0)
            self._done_inferring.set()
            if self._recorder is not None:
                self._recorder.close_input()

    def _capture_loop(self) -> None:
        first, longest = self.config.reconnect_s
        wait = first
        try:
            while not self._ready.wait(0.1):
                if self._stop.is_set():
                    return
            while not self._stop.is_set():
                if not self._opened:
                    try:
                        self.source.open()
                    except ConfigError:  # wrong credentials, bad address form: retrying cannot help
                        raise
                    except Exception as e:  # noqa: BLE001 - any open failure means: try again later
                        self._event("source_error", str(e))
                        self._set_state(RECONNECTING, str(e))
                        self._stop.wait(wait)
                        wait = min(wait * 2, longest)
                        continue
                    self._opened, wait = True, first
                    self._last_frame = time.monotonic()
                    if self._ever_opened:
                        self.stats_.reconnects += 1
                    self._ever_opened = True
                    self._event("source_open", f"reading {self.source.name}{getattr(self.source, 'open_note', '')}")
                    if not self._stalled:  # after a stall: running again with the first frame
                        self._set_state(RUNNING)
                if not self.source.live:
                    if not self.buffer.wait_room(0.1):
                        continue
                    self._pacer.wait_until_needed(self.buffer, self._stop)
                try:
                    t_read = time.perf_counter()
                    frame = self._read_frame(0.2)
                    if frame is not None:
                        self._pacer.read(time.perf_counter() - t_read)
                except SourceEnded:
                    self._event("source_ended", f"{self.source.name} has no more frames")
                    break
                except SourceStalled as e:
                    self._stall(str(e))
                    continue
                except ConfigError:  # e.g. the camera refused the credentials: retrying cannot help
                    raise
                except Exception as e:  # noqa: BLE001 - lost: close, report, reopen with backoff
                    self.source.close()
                    self._opened = False
                    self._event("source_error", str(e))
                    self._set_state(RECONNECTING, str(e))
                    self._stop.wait(wait)
                    wait = min(wait * 2, longest)
                    continue
                if frame is not None and self._stop.is_set():
                    self.buffer.count_dropped()  # read as the run stops: not asked for, not a part
                    break
                if frame is None:
                    if (self.source.can_stall and self._opened
                            and time.monotonic() - self._last_frame > self.config.stall_s):
                        self._stall(f"{self.source.name} sent no picture for {self.config.stall_s:g} s "
                                    "— reconnecting")
                    continue
                if self._fires(frame):
                    if _is_corrupt(frame):
                        self._not_inspected(frame, CORRUPT_FRAME)
                    else:
                        self.buffer.put(frame)
                if self.config.max_frames and self.stats_.frames_read >= self.config.max_frames:
                    break
        except Exception as e:  # noqa: BLE001 - e.g. a presence region outside the frame
            self._fail(e)
        finally:
            self.source.close()
            self._opened = False
            self.buffer.close()

    def _record_loop(self) -> None:
        last_watch = time.monotonic()
        ended = False
        try:
            while not ended:
                if self._recorder is not None:
                    items, ended = self._recorder.next_batch(0.2)
                    self._recorder.write(items)
                else:
                    ended = self._done_inferring.wait(0.2)
                if not ended and self.config.model is None and time.monotonic() - last_watch >= self.config.watch_s:
                    last_watch = time.monotonic()
                    self._watch_active()
        finally:
            final = FAILED if self.error else (STOPPED if self._stop_asked else FINISHED)
            self._finish(final)

    # -- steps shared by the threads and step() -----------------------------------------------------
    def _read_frame(self, timeout: float) -> Frame | None:
        """The next frame, None when none came in time; a frame that could not be decoded comes back
        with an empty image and meta["corrupt"] (the caller logs it as not inspected if it fired)."""
        try:
            got = self.source.read(timeout)
        except CorruptFrame as e:
            self.stats_.corrupt += 1
            if self.stats_.corrupt <= 3 or self.stats_.corrupt % 100 == 0:
                self._event("frame_corrupt", f"{e} ({self.stats_.corrupt} so far)")
            self._got_frame()
            t = time.perf_counter()
            frame = Frame(self._frame_no, _EMPTY, time.time(), t, self.source.name,
                          {**e.meta, "corrupt": str(e)})
            self._frame_no += 1
            return frame
        if got is None:
            return None
        image, meta = got
        t = time.perf_counter()
        frame = Frame(self._frame_no, image, time.time(), t, self.source.name, meta)
        self._frame_no += 1
        self.stats_.frame_read(t)
        self.latest_frame = frame
        self._got_frame()
        return frame

    def _got_frame(self) -> None:
        self._last_frame = time.monotonic()
        if self._stalled:
            self._stalled = False
            self._set_state(RUNNING)

    def _stall(self, message: str) -> None:
        """Open but silent for stall_s: STALLED (until the next frame), counted, reconnected."""
        self.stats_.stalls += 1
        self._stalled = True
        self.source.close()
        self._opened = False
        self._event("source_stalled", message)
        self._set_state(STALLED, message)
        self._stop.wait(self.config.reconnect_s[0])

    def _fires(self, frame: Frame) -> bool:
        # nothing to look at in a corrupt frame: it fires only triggers that do not need the picture
        fired = not (_is_corrupt(frame) and self.trigger_mode.needs_picture) and self.trigger_mode.fire(frame)
        if not fired and self._manual:
            with self._lock:
                if self._manual:
                    self._manual -= 1
                    fired = True
        self.stats_.triggered += fired
        if fired and self.part_ids is not None:
            self.part_ids.tag(frame)
        return fired

    def _inspect(self, batch: list[Frame]) -> list[InspectionResult]:
        rois = [self.roi.clip(f.image.shape) if self.roi else None for f in batch]
        crops = [f.image if r is None else f.image[r[1]:r[1] + r[3], r[0]:r[0] + r[2]] for f, r in zip(batch, rois)]
        runner = self._model.runner
        t0 = time.perf_counter()
        verdicts = runner.infer(crops)
        t1 = time.perf_counter()
        per = (t1 - t0) * 1000 / len(batch)
        user = self.user
        return [InspectionResult(f, r, v, per, (t1 - f.t) * 1000, len(batch), user=user)
                for f, r, v in zip(batch, rois, verdicts)]

    def _not_inspected(self, frame: Frame, reason: str) -> InspectionResult:
        """Fail closed: a triggered part no model decided still gets its verdict (counted as the project
        says, NG by default), its result row and its count."""
        r = self._model.runner
        verdict = Verdict.not_inspected_as(reason, self.not_inspected_as, r.version if r else None)
        now = time.perf_counter()
        result = InspectionResult(frame, None, verdict, 0.0, (now - frame.t) * 1000, 0, user=self.user)
        self.stats_.skipped(reason, now)
        n = self.stats_.not_inspected
        if n <= 3 or n % 100 == 0:
            self._event("not_inspected", f"frame {frame.id} not inspected ({reason.replace('_', ' ')}), counted as "
                                         f"{'OK' if verdict.ok else 'NG'} ({n} so far)")
        self.latest_result = result
        tell(self.on_result, result)
        if self._recorder is not None and self._threads:
            self._recorder.submit(self._recorder.record_of(result))
        return result

    def _dropped(self, frame: Frame, reason: str) -> None:
        """A frame the buffer will not hand to the model. With a part trigger it was a part: logged as
        not inspected (queue full). Every-frame mode keeps only the newest frame by design, and a frame
        read as the run stops was not asked for: neither is a part (counted in `dropped` only)."""
        if reason == QUEUE_FULL and self.trigger_mode.name != "free":
            self._not_inspected(frame, QUEUE_FULL)
        else:
            self.stats_.triggered -= 1

    def _deliver(self, r: InspectionResult) -> None:
        self.stats_.verdict(r.verdict.ok, r.latency_ms, r.infer_ms, time.perf_counter())
        self.latest_result = r
        tell(self.on_result, r)

    def _watch_active(self) -> None:
        try:
            mv = self._model.line_model()
        except Exception:  # noqa: BLE001 - the project is busy: look again next time
            return
        if mv is not None and mv.version != self._model.target:
            self.swap_model(mv.version)

    def _open_recorder(self) -> None:
        if self.config.record and self._recorder is None:
            self._recorder = Recorder(self.project, self.config.review, self.source.name, str(self.trigger_mode),
                                      str(self.roi) if self.roi else None, self._event, self.user)
            self.run_id = self._recorder.run_id

    def _finish(self, final: str) -> None:
        if self._done.is_set():
            return
        summary = self.stats()
        self._model.close()
        self._set_state(final, str(self.error) if self.error else final)
        if self._started_audited:
            self._audit("line.stop", {"state": final, **{k: getattr(summary, k) for k in (
                "triggered", "ok", "not_ok", "not_inspected")}})
        if self._recorder is not None:
            self._recorder.end({**summary.as_dict(), "state": final})
        self._done.set()


_EMPTY = np.zeros((0, 0, 3), np.uint8)


def _part_ids(spec: str | None, event):
    if not spec:
        return None
    from inspector.core.line.part_ids import PartIds  # only stations that read part IDs load zxing-cpp
    return PartIds(spec, on_event=event)


def _is_corrupt(frame: Frame) -> bool:
    return "corrupt" in frame.meta
