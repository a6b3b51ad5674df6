"""A multi-camera station: N views (top, side…), each a LivePipeline with its own source, region and
model, triggered together. Their verdicts on one part become ONE result: NG if any view says NG, else
not inspected if any view gave no verdict (the reason names the view: "view side: no frame"), else
OK. That result goes once to on_result (the line outputs publish it once) and once to the results log,
its `views` column holding each view's verdict.

How views are triggered together:
  - free with sources that wait for us (video files, folders, full-speed synthetic): every frame is a
    part, frame k of each view is part k — no view runs more than WINDOW parts ahead of the others;
  - otherwise (cameras, streams, software, interval, presence, PLC): the station trigger fires a part,
    and each view inspects its next frame for it (free on live cameras: the next part fires as soon
    as fewer than WINDOW parts are open). Presence looks at the first view only.
A view that sends nothing for view_timeout_s leaves its parts not inspected; the station ends with
its shortest video file."""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from functools import partial

import numpy as np

from inspector.core.errors import ConfigError, InspectorError
from inspector.core.live.config import NOT_INSPECTED_SETTING, LiveConfig, parse_not_inspected_as
from inspector.core.live.frames import (FAILED, FINISHED, IDLE, RECONNECTING, RUNNING, STALLED, STARTING, STOPPED,
                                        WARMING_UP, Frame, InspectionResult, PipelineEvent, Verdict, ViewResult)
from inspector.core.live.pipeline import LivePipeline
from inspector.core.live.recorder import Recorder
from inspector.core.live.runners import RUNNERS, default_threads
from inspector.core.live.station_config import ViewConfig, check_views
from inspector.core.live.stats import Counters, LiveStats, snapshot
from inspector.core.live.triggers import PresenceTrigger, Trigger, parse_trigger
from inspector.core.notify import tell

PART_KEY = "station_part"  # frame.meta: the station's part number a view's frame was taken for
WINDOW = 4  # parts open at once (taken by one view, waiting for another)
# A view must read its frame for a triggered part within this time (later, the part has moved on:
# that view gives "no frame"), and answer within it of its previous answer.
VIEW_TIMEOUT_S = 1.0
_ENDED = (FINISHED, STOPPED, FAILED)
# the station's state is its most troubled view's: the first of these any view is in
_WORST_FIRST = (FAILED, STALLED, RECONNECTING, IDLE, STARTING, WARMING_UP, RUNNING, STOPPED, FINISHED)
_EMPTY = np.zeros((0, 0, 3), np.uint8)


class _Part:
    __slots__ = ("n", "created", "meta", "results", "taken")

    def __init__(self, n: int, views: int, meta: dict):
        self.n, self.created, self.meta = n, time.monotonic(), meta
        self.results: list[InspectionResult | None] = [None] * views
        self.taken = [False] * views  # each view's frame for it was read


class _ViewTrigger(Trigger):
    """Each view pipeline's trigger: asks the station whether this frame is (part of) a part."""

    name = "station"

    def __init__(self, station: "StationPipeline", index: int):
        self.station, self.index = station, index

    def fire(self, frame: Frame) -> bool:
        return self.station._fire(self.index, frame)


class StationPipeline:
    """Used like a LivePipeline (start, stop, wait, trigger, stats, state, error, run_id); on_result
    gets one InspectionResult per part, its `views` holding each view's ViewResult."""

    def __init__(self, project, views: list[ViewConfig], config: LiveConfig, *,
                 on_result: Callable[[InspectionResult], None] | None = None,
                 on_event: Callable[[PipelineEvent], None] | None = None, view_timeout_s: float | None = None):
        views = check_views(list(views))
        if not views:
            raise ConfigError("this station has no views — add them with `inspector station --project P --add top "
                              "--source …`")
        self.project, self.config, self.views = project, config, views
        self.names = [v.name for v in views]
        self.name = "station " + "+".join(self.names)
        self.on_result, self.on_event = on_result, on_event
        self.not_inspected_as = parse_not_inspected_as(
            config.not_inspected_as or project.get_meta(NOT_INSPECTED_SETTING) or "not_ok")
        self.trigger_mode = parse_trigger(config.trigger)
        if config.max_frames:
            raise ConfigError("--max-frames counts one camera's frames — on a station use --duration")
        self.view_timeout_s = float(view_timeout_s or VIEW_TIMEOUT_S)
        # the cores are shared between the views' models (one core stays free, as for one camera)
        threads = config.threads if config.threads is not None else max(1, default_threads() // len(views))
        self.pipelines: list[LivePipeline] = []
        for i, v in enumerate(views):
            model = v.model or config.model
            kind = model if model in RUNNERS else None
            cfg = replace(config, source=v.source, roi=v.roi, model=None if kind else model,
                          model_kind=kind or (None if model else config.model_kind), trigger=_ViewTrigger(self, i),
                          record=False, threads=threads, not_inspected_as=self.not_inspected_as,
                          part_id=config.part_id if i == 0 else None)  # a barcode is read in the first view
            try:
                # audit_line=False: the station writes one line.start / stop / handover for all its views
                self.pipelines.append(LivePipeline(project, cfg, on_result=partial(self._collect, i),
                                                   on_event=partial(self._view_event, i), audit_line=False))
            except InspectorError as e:
                raise type(e)(f"view {v.name}: {e}") from None
        self.every_frame = self.trigger_mode.name == "free" and not any(p.source.live for p in self.pipelines)
        self.paced = self.trigger_mode.name == "free" and not self.every_frame
        self.stats_ = Counters()
        self.late = 0  # view results that came after their part was decided without them
        self.error: InspectorError | None = None
        self.run_id: int | None = None
        self.latest_result: InspectionResult | None = None
        self._recorder: Recorder | None = None
        self._started_audited = False  # a line.start row was written: line.stop follows it
        self._cond = threading.Condition()
        self._out = threading.Lock()  # parts leave in order: the next part number out, and those decided ahead
        self._next_out = 0
        self._decided: dict[int, InspectionResult] = {}
        self._parts: dict[int, _Part] = {}
        self._created = 0  # parts made so far (the next part's number)
        self._last = [0.0] * len(views)  # monotonic time of each view's last result
        self._next = [0] * len(views)  # every-frame mode: each view's next part number
        self._queues: list[deque[int]] = [deque() for _ in views]  # fired parts each view has yet to take
        self._limit: int | None = None  # every-frame mode: a view's file ended after this many parts
        self._ending = False  # a view ended: no new parts; the station ends once the open ones are decided
        self._closing = False
        self._stop_asked = False
        self._manual = 0
        self._state = IDLE
        self._handled: set[int] = set()  # views whose end the watcher has seen
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    # -- public API, as LivePipeline's ----------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    @property
    def latest_frame(self) -> Frame | None:
        return self.pipelines[0].latest_frame

    @property
    def model_version(self) -> str | None:
        versions = [p.model_version for p in self.pipelines]
        if any(v is None for v in versions):
            return None
        return versions[0] if len(set(versions)) == 1 else " · ".join(f"{n} {v}" for n, v in zip(self.names, versions))

    @property
    def user(self) -> str | None:
        return getattr(self.pipelines[0], "user", None)

    def set_user(self, user: str) -> None:
        """Another account took over the running station: one line.handover row, the verdicts that follow
        carry it."""
        old = self.user
        for p in self.pipelines:
            p.set_user(user)
        if self._recorder is not None:
            self._recorder.user = user
        if old != user and self._started_audited and self._state not in _ENDED:
            self._audit("line.handover", {"from": old, "to": user})

    def start(self) -> None:
        if self._state != IDLE:
            raise ConfigError("this station was already started — make a new StationPipeline for another run")
        self._open_recorder()  # before the views start: their first parts may be decided at once
        started = []
        try:
            for p in self.pipelines:
                p.start()  # resolves each view's model first: a view without one fails here, at once
                started.append(p)
        except InspectorError as e:
            for p in started:
                p.stop(0)
            self.error = type(e)(f"view {self.names[len(started)]}: {e}")
            self._finish()
            raise self.error from None
        self._audit_start()
        self._update_state()
        self._thread = threading.Thread(target=self._watch, name="station-watch", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        self._stop_asked = True
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        for p in self.pipelines:
            p.stop(0)  # all asked at once; each still inspects what it has read
        if self._thread is None:
            self._finish()
            return True
        return self._done.wait(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def trigger(self) -> None:
        """Software trigger: the next part, in every view."""
        with self._cond:
            self._manual += 1

    def stats(self) -> LiveStats:
        views = [p.stats() for p in self.pipelines]
        s = snapshot(self.stats_, state=self._state, model_version=self.model_version, backend=views[0].backend,
                     dropped=sum(v.dropped for v in views), recorder=self._recorder,
                     not_inspected_as=self.not_inspected_as)
        return replace(s, frames_read=sum(v.frames_read for v in views), corrupt=sum(v.corrupt for v in views),
                       reconnects=sum(v.reconnects for v in views), stalls=sum(v.stalls for v in views),
                       errors=s.errors + sum(v.errors for v in views))

    # -- triggering: called by the views' capture threads ------------------------------------------------
    def _fire(self, i: int, frame: Frame) -> bool:
        with self._cond:
            if self.every_frame:
                n = self._next[i]
                # a view far ahead waits for the others (its source waits for us, so nothing is lost)
                while not self._closing and not self._beyond_limit(n) and self._parts and n - min(self._parts) >= WINDOW:
                    self._cond.wait(0.1)
                if self._closing or self._beyond_limit(n):
                    return False
                self._next[i] = n + 1
                part = self._parts.get(n)
                if part is None:
                    if n < self._created:
                        return False  # decided already without this view (it was late): not a part any more
                    part = self._new_part({})
            else:
                q, now = self._queues[i], time.monotonic()
                while q and now - self._parts[q[0]].created > self.view_timeout_s:
                    q.popleft()  # too late for that part: this frame shows what came after it
                if not q and not self._request(i, frame):
                    return False
                part = self._parts[q.popleft()]
            part.taken[i] = True
        frame.meta.update(part.meta)
        frame.meta[PART_KEY] = part.n
        return True

    def _beyond_limit(self, n: int) -> bool:
        return self._limit is not None and n >= self._limit

    def _request(self, i: int, frame: Frame) -> bool:
        """Under the lock: does the station trigger fire a new part on this view's frame?"""
        if self._closing or self._ending:
            return False
        t = self.trigger_mode
        if self._manual:
            self._manual -= 1
        elif self.paced:
            if len(self._parts) >= WINDOW:
                return False
        elif (isinstance(t, PresenceTrigger) and i != 0) or ("corrupt" in frame.meta and t.needs_picture):
            return False
        elif not t.fire(frame):  # a PLC trigger puts its request number and part ID into frame.meta
            return False
        self._new_part({k: frame.meta[k] for k in ("plc_request", "part_id") if k in frame.meta})
        return True

    def _new_part(self, meta: dict) -> _Part:
        part = _Part(self._created, len(self.views), meta)
        self._parts[part.n] = part
        self._created += 1
        if not self.every_frame:
            for q in self._queues:
                q.append(part.n)
        self.stats_.triggered += 1
        if self.stats_.first_t is None:
            self.stats_.first_t = time.perf_counter()
        return part

    # -- pairing and combining ---------------------------------------------------------------------------
    def _collect(self, i: int, result: InspectionResult) -> None:
        """A view's result (its inference thread): the part is decided once every view answered."""
        n = result.frame.meta.get(PART_KEY)
        with self._cond:
            part = self._parts.get(n)
            if part is None or part.results[i] is not None:
                self.late += 1
                return
            part.results[i] = result
            self._last[i] = time.monotonic()
            if any(r is None for r in part.results):
                return
            del self._parts[n]
            self._cond.notify_all()
        self._decide(part)

    def _decide(self, part: _Part, missing: str = "no frame") -> None:
        """Combine, then hand on in part order: a view may answer part 14 before 13 (a damaged picture
        needs no model), but the reject gate downstream counts parts in the order they came."""
        result = self._combine(part, missing)
        with self._out:
            self._decided[part.n] = result
            while self._next_out in self._decided:
                self._deliver(self._decided.pop(self._next_out))
                self._next_out += 1

    def _combine(self, part: _Part, missing: str) -> InspectionResult:
        views = []
        for name, r in zip(self.names, part.results):
            if r is None:
                views.append(ViewResult(name, None, f"view {name}: {missing}"))
            elif r.verdict.not_inspected:
                views.append(ViewResult(name, r, f"view {name}: {r.verdict.not_inspected.replace('_', ' ')}"))
            else:
                views.append(ViewResult(name, r))
        decided = [v for v in views if not v.reason]
        ng = [v for v in decided if not v.result.verdict.ok]
        failed = [v for v in views if v.reason]
        if ng or not failed:  # NG whatever the other views say; OK only when every view said OK
            top = max(ng or decided, key=lambda v: v.result.verdict.score)
            verdict = top.result.verdict
        else:
            top = failed[0]
            any_version = next((v.result.verdict.model_version for v in decided), None)
            verdict = Verdict.not_inspected_as("; ".join(v.reason for v in failed), self.not_inspected_as,
                                               any_version)
        got = [r for r in part.results if r is not None]
        now = time.perf_counter()
        t = min((r.frame.t for r in got), default=now)
        meta = dict(part.meta)
        for r in got:  # a part ID read in a view (barcode, file name) belongs to the part
            if r.frame.meta.get("part_id") and not meta.get("part_id"):
                meta["part_id"] = r.frame.meta["part_id"]
        meta["view"] = top.name
        image = top.result.frame.image if top.result is not None else _EMPTY
        frame = Frame(part.n, image, min((r.frame.captured_at for r in got), default=time.time()), t, self.name, meta)
        infer = max((r.infer_ms for r in got if not r.verdict.not_inspected), default=0.0)
        return InspectionResult(frame, top.result.roi if top.result is not None else None, verdict, infer,
                                (now - t) * 1000, 1, tuple(views), self.user)

    def _deliver(self, result: InspectionResult) -> None:
        verdict, now = result.verdict, time.perf_counter()
        if verdict.not_inspected:
            self.stats_.skipped(verdict.not_inspected, now)
        else:
            self.stats_.verdict(verdict.ok, result.latency_ms, result.infer_ms, now)
        self.latest_result = result
        tell(self.on_result, result)
        if self._recorder is not None:
            self._recorder.submit(self._recorder.record_of(result))

    # -- the watcher: timeouts, views that end, recording, the end ---------------------------------------
    def _watch(self) -> None:
        try:
            while True:
                if self._recorder is not None:
                    items, _ = self._recorder.next_batch(0.05)
                    self._recorder.write(items)
                else:
                    self._done.wait(0.05)
                self._time_out()
                self._see_ended_views()
                self._update_state()
                with self._cond:
                    idle = not self._parts
                    ending = self._ending or self._limit is not None or self._closing
                if ending and idle:
                    with self._cond:
                        self._closing = True
                        self._cond.notify_all()
                    for p in self.pipelines:
                        p.stop(0)
                if all(p.wait(0) for p in self.pipelines):
                    break
        except Exception as e:  # noqa: BLE001 - reported as the station's error
            self._fail(InspectorError(f"station stopped on an unexpected error: {type(e).__name__}: {e}"))
        finally:
            self._finish()

    def _time_out(self) -> None:
        """A part waits for a view at most view_timeout_s: for its frame to be read (a triggered part),
        then for its answer, counted from the view's previous answer — a view busy with earlier parts
        (a slow model) is not a view that stalled."""
        now = time.monotonic()
        with self._cond:
            late = [p for p in self._parts.values() if any(
                r is None and now - (p.created if not (p.taken[i] or self.every_frame) else max(p.created, self._last[i]))
                > self.view_timeout_s for i, r in enumerate(p.results))]
            for part in late:
                del self._parts[part.n]
                for q in self._queues:
                    if part.n in q:
                        q.remove(part.n)
            if late:
                self._cond.notify_all()
        for part in late:
            self._decide(part)

    def _see_ended_views(self) -> None:
        for i, p in enumerate(self.pipelines):
            if i in self._handled or not p.wait(0):
                continue
            self._handled.add(i)
            if p.error is not None:
                self._fail(type(p.error)(f"view {self.names[i]}: {p.error}"))
                continue
            self._view_ended(i)

    def _view_ended(self, i: int) -> None:
        """A view has no more frames: no new parts. Every-frame mode: the station ends with its shortest
        file — the parts the longer ones took beyond its last frame are not parts (frame k of every
        view is part k), so they are dropped, not logged as not inspected."""
        with self._cond:
            if self.every_frame:
                self._limit = self._next[i] if self._limit is None else min(self._limit, self._next[i])
                for n in [n for n in self._parts if n >= self._limit]:
                    del self._parts[n]
                    self.stats_.triggered -= 1
            else:
                self._ending = True
            self._cond.notify_all()

    def _fail(self, error: InspectorError) -> None:
        if self.error is None:
            self.error = error
            self._event("error", str(error))
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        for p in self.pipelines:
            p.stop(0)

    def _finish(self) -> None:
        if self._done.is_set():
            return
        for p in self.pipelines:
            p.wait(10.0)
        with self._cond:
            left = sorted(self._parts.values(), key=lambda p: p.n)
            self._parts.clear()
        for part in left:  # taken by some views, never by the others before the end
            self._decide(part, "stopped before its picture" if self._stop_asked else "no frame")
        final = FAILED if self.error else (STOPPED if self._stop_asked else FINISHED)
        self._set_state(final, str(self.error) if self.error else final)
        if self._started_audited:
            summary = self.stats()
            self._audit("line.stop", {"state": final, **{k: getattr(summary, k) for k in (
                "triggered", "ok", "not_ok", "not_inspected")}})
        if self._recorder is not None:
            self._recorder.close_input()
            ended = False
            while not ended:
                items, ended = self._recorder.next_batch(0.2)
                self._recorder.write(items)
            self._recorder.end({**self.stats().as_dict(), "state": final, "views": self.names, "late": self.late})
        self._done.set()

    # -- state and events --------------------------------------------------------------------------------
    def _update_state(self, why: str = "") -> None:
        states = {p.state for p in self.pipelines}
        state = next(s for s in _WORST_FIRST if s in states)
        if state not in _ENDED:  # the end is _finish's to say, once the last part is decided
            self._set_state(state, why)

    def _set_state(self, state: str, message: str = "") -> None:
        with self._cond:
            if state == self._state or self._state in _ENDED:
                return
            self._state = state
        self._event("state", message or state)

    def _view_event(self, i: int, e: PipelineEvent) -> None:
        message = f"view {self.names[i]}: {e.message}"
        if e.kind == "source_ended":
            self._view_ended(i)  # at once: the others must not take parts beyond its last frame
        if e.kind == "state":
            self._update_state(message)
        elif e.kind != "error":  # a view's error becomes the station's (_see_ended_views)
            self._event(e.kind, message)

    def _event(self, kind: str, message: str = "") -> None:
        tell(self.on_event, PipelineEvent(kind, self._state, message))

    def _audit(self, action: str, detail: dict) -> None:
        """One audit row about the station under its user, naming its views; never stops inspection."""
        try:
            self.project.record(action, {"run_id": self.run_id, "views": self.names, **detail}, self.user)
        except Exception as e:  # noqa: BLE001
            self._event("record_error", f"{action} not written to the audit trail: {e}")

    def _audit_start(self) -> None:
        self._started_audited = True
        models = [p.target_version for p in self.pipelines]
        model = models[0] if len(set(models)) == 1 else " · ".join(f"{n} {m}" for n, m in zip(self.names, models))
        sources = {n: p.source.name for n, p in zip(self.names, self.pipelines)}
        self._audit("line.start", {"trigger": str(self.trigger_mode), "sources": sources, "model": model,
                                   "recorded": self.config.record})

    def _open_recorder(self) -> None:
        if not self.config.record:
            return
        rois = "; ".join(f"{v.name} {v.roi}" for v in self.views if v.roi) or None
        self._recorder = Recorder(self.project, self.config.review, self.name, str(self.trigger_mode), rois,
                                  self._event, self.user)
        self.run_id = self._recorder.run_id
