"""The pipeline's writing side: verdicts into the results log in batches, review candidates into
the project's review queue; fed through a bounded queue so a slow disk never stalls inference."""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from inspector.core.live.frames import InspectionResult, Verdict
from inspector.core.live.results import ResultRow, ResultsLog
from inspector.core.live.review import ReviewPolicy, ReviewQueue

END = object()  # put last by the inference thread: nothing follows
MAX_PENDING_CROPS = 16  # review candidates waiting to be stored; beyond that the rate limit would drop them anyway


@dataclass
class Record:
    frame_id: int
    captured_at: float
    verdict: Verdict
    latency_ms: float | None
    infer_ms: float | None
    crop: np.ndarray | None  # only for review candidates
    part_id: str | None = None
    user: str | None = None
    views: list | None = None  # a multi-camera station's part: each view's verdict (ViewResult.as_dict)


class Recorder:
    def __init__(self, project, policy: ReviewPolicy, source_name: str, trigger: str, roi: str | None,
                 event: Callable[[str, str], None], user: str | None = None):
        self.log = ResultsLog(project.root)
        # Who runs the line: read when each verdict is made (record_of), so a change of user while the
        # line runs goes on the verdicts that follow, never on those already made.
        self.user = user
        self.run_id = self.log.start_run(source_name, trigger, roi, user)
        self.review = ReviewQueue(project, policy, source_name) if policy.enabled else None
        self.policy = policy
        self.source_name = source_name
        self._event = event
        self._queue: queue.Queue = queue.Queue(maxsize=10_000)
        self._crop_slots = threading.BoundedSemaphore(MAX_PENDING_CROPS)
        self.unrecorded = 0
        self.errors = 0
        self._input_closed = False

    def record_of(self, r: InspectionResult) -> Record:
        crop = None
        if self.review is not None and self.policy.reason(r.verdict) and self._crop_slots.acquire(blocking=False):
            crop = np.array(r.crop)  # a copy: the frame itself can go
        infer_ms = None if r.verdict.not_inspected else r.infer_ms
        return Record(r.frame.id, r.frame.captured_at, r.verdict, r.latency_ms, infer_ms, crop,
                      r.frame.meta.get("part_id"), r.user or self.user, [v.as_dict() for v in r.views] or None)

    def submit(self, rec: Record) -> None:
        """From the pipeline's threads; never blocks. After close_input() the record can no longer be
        written and counts as unrecorded."""
        if self._input_closed:
            self.unrecorded += 1
            return
        try:
            self._queue.put_nowait(rec)
        except queue.Full:
            self.unrecorded += 1
            if rec.crop is not None:
                self._crop_slots.release()

    def close_input(self) -> None:
        self._input_closed = True
        self._queue.put(END)

    def next_batch(self, timeout: float, max_n: int = 512) -> tuple[list[Record], bool]:
        """(records, ended): what is waiting, oldest first; ended once END was taken."""
        items = []
        try:
            items.append(self._queue.get(timeout=timeout))
            while len(items) < max_n:
                items.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        ended = any(i is END for i in items)
        return [i for i in items if i is not END], ended

    def write(self, items: list[Record]) -> None:
        if not items:
            return
        rows = []
        for it in items:
            sample_id = None
            if it.crop is not None:
                self._crop_slots.release()
                try:
                    sample_id = self.review.offer(it.crop, it.verdict, it.captured_at)
                except Exception as e:  # noqa: BLE001 - the verdict is still logged
                    self.errors += 1
                    self._event("record_error", f"frame {it.frame_id} not queued for review: {e}")
            v = it.verdict
            rows.append(ResultRow(self.run_id, it.captured_at, self.source_name, it.frame_id, v.ok, v.label,
                                  v.confidence, v.score, v.scores, v.model_version, _ms(it.latency_ms),
                                  _ms(it.infer_ms), sample_id, v.not_inspected, it.part_id, it.user, it.views))
        try:
            self.log.write(rows)
        except Exception as e:  # noqa: BLE001 - e.g. disk full: keep inspecting, say so
            self.unrecorded += len(rows)
            self._event("record_error", f"{len(rows)} verdicts not logged: {e}")

    def end(self, summary: dict) -> None:
        try:
            self.log.end_run(self.run_id, summary)
        finally:
            self.log.close()


def _ms(v: float | None) -> float | None:
    return None if v is None else round(v, 3)
