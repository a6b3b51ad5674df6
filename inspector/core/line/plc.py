"""The PLC trigger and its handshake, shared by the Modbus and OPC UA servers.

    PLC                              Inspector
    (waits for READY)
    writes the part ID, sets TRIGGER → takes it: TRIGGER reset, READY off, BUSY on, result cleared
                                       inspects the next frame, tagged with that part ID
                                     ← result: OK / NG / NOT INSPECTED set, counters and score, BUSY off
    reads the result, sets ACK       → ACK reset, result bits cleared, READY on

A trigger that comes while BUSY is queued (up to max_pending, in order): a fast line need not wait
for the acknowledge. While no PLC is connected to any trigger server the station is "PLC offline":
READY stays off, nothing new is taken (no request can come), and results of parts already taken
still go out — into the MQTT outbox if the broker is away too."""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from inspector.core.live.frames import Frame
from inspector.core.live.triggers import Trigger
from inspector.core.notify import tell

PLC_OFFLINE = "PLC offline"


class PlcTrigger(Trigger):
    name = "plc"
    needs_picture = True  # a damaged frame does not take the PLC's request: the next good one does

    def __init__(self, *, max_pending: int = 8, on_event: Callable[[str, str], None] | None = None):
        self.max_pending = max_pending
        self.on_event = on_event  # (kind, one-line message)
        self._lock = threading.Lock()
        self._pending: deque[tuple[int, str | None, float]] = deque()  # (request no, part id, perf_counter)
        self._in_flight = 0  # taken by a frame, result not back yet
        self._requests = 0
        self._connections: dict[str, int] = {}  # per server
        self._listeners: list[Callable[["PlcTrigger"], None]] = []
        self.online = False
        self.busy = False
        self.result = None  # the PartResult waiting for ACK (None once acknowledged)
        self.refused = 0  # requests turned away (queue full)

    # -- what the servers call ------------------------------------------------------------------
    def listen(self, fn: Callable[["PlcTrigger"], None]) -> None:
        """fn(self) after every change: the servers mirror READY / BUSY / result into their maps."""
        self._listeners.append(fn)
        fn(self)

    @property
    def ready(self) -> bool:
        return self.online and not self.busy and self.result is None

    def request(self, part_id: str | None, via: str) -> str | None:
        """A trigger from the PLC; None when taken, else why not (one line, also sent as an event)."""
        with self._lock:
            if len(self._pending) >= self.max_pending:
                self.refused += 1
                why = f"PLC trigger via {via} refused: {self.max_pending} parts already waiting — slow the line"
            else:
                self._requests += 1
                self._pending.append((self._requests, part_id or None, time.perf_counter()))
                self.busy, self.result, why = True, None, None
        if why:
            self._say("plc_refused", why)
        self._notify()
        return why

    def acknowledge(self) -> None:
        with self._lock:
            self.result = None
        self._notify()

    def set_connections(self, server: str, n: int) -> None:
        with self._lock:
            was = self.online
            self._connections[server] = n
            self.online = sum(self._connections.values()) > 0
            now = self.online
        if was and not now:
            self._say("plc_offline", f"{PLC_OFFLINE} — the line takes no parts until it reconnects; "
                                     "results already made still go out")
        elif now and not was:
            self._say("plc_online", "PLC connected — ready for triggers")
        if was != now:
            self._notify()

    # -- what the pipeline and the outputs call ---------------------------------------------------------
    def fire(self, frame: Frame) -> bool:
        with self._lock:
            if not self._pending:
                return False
            n, part_id, _ = self._pending.popleft()
            self._in_flight += 1
        frame.meta["plc_request"] = n
        if part_id:
            frame.meta["part_id"] = part_id
        return True

    def finished(self, part) -> None:
        """A PLC-triggered part's result (PartResult with plc=True) is out: the PLC may read it."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            self.result = part
            self.busy = bool(self._pending or self._in_flight)
        self._notify()

    @property
    def waiting(self) -> int:
        return len(self._pending) + self._in_flight

    def _notify(self) -> None:
        for fn in list(self._listeners):
            try:
                fn(self)
            except Exception as e:  # noqa: BLE001 - one server's failure must not stop the handshake
                self._say("line_error", f"PLC handshake not mirrored: {e}")

    def _say(self, kind: str, message: str) -> None:
        tell(self.on_event, kind, message)
