"""Modbus TCP server (pymodbus) for the station: the PLC polls the result and may trigger parts.

Register map (0-based PDU addresses, unit / device id: any)

  Coils (FC 1 read, FC 5 / 15 write)
    0  READY          r   station ready for a trigger (PLC connected, not busy, last result acknowledged)
    1  TRIGGER        rw  PLC sets 1 to inspect a part (part ID first, in holding 10-29); Inspector resets it
    2  BUSY           r   a triggered part is being inspected
    3  OK             r   result of the last part: good            ┐ one of the three is set with each result,
    4  NG             r   result of the last part: not good        │ until the PLC acknowledges
    5  NOT_INSPECTED  r   no model decided (camera, queue, error)  ┘ (counts as NG unless the project says OK)
    6  ACK            rw  PLC sets 1 once it has read the result; Inspector resets it and clears 3-5

  Holding registers (FC 3 read, FC 6 / 16 write)
    0-1   PART_COUNTER         r   parts with a result (uint32, high word first)
    2-3   NG_COUNTER           r   not_ok verdicts (uint32)
    4-5   NOT_INSPECTED_COUNT  r   parts no model decided (uint32)
    6     MODEL_VERSION        r   the number of the model version that decided the last part (v12 → 12)
    7     LAST_SCORE           r   not-ok score × 1000 (500 = the threshold); 65535 when not inspected
    8     HEARTBEAT            r   +1 every second while Inspector runs (wraps at 65535)
    9     STATE                r   0 stopped, 1 running, 2 starting / reconnecting, 3 PLC offline, 4 failed
    10-29 PART_ID              rw  40 ASCII characters, 2 per register (high byte first), NUL-padded: the PLC
                                   writes it before TRIGGER; with each result it holds that part's ID

Anything outside this map answers ILLEGAL ADDRESS (exception 2), and so does a write to a read-only
address; a PLC that polls only the result works without the trigger side.
"""
from __future__ import annotations

import asyncio
import re
import threading

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.server import ModbusTcpServer

from inspector.core.errors import ConfigError
from inspector.core.line.loop_thread import LoopThread
from inspector.core.line.netcheck import require_free_port

READY, TRIGGER, BUSY, OK, NG, NOT_INSPECTED, ACK = range(7)
N_COILS = 7
PART_COUNTER, NG_COUNTER, NOT_INSPECTED_COUNT, MODEL_VERSION, LAST_SCORE, HEARTBEAT, STATE, PART_ID = (
    0, 2, 4, 6, 7, 8, 9, 10)
PART_ID_REGS = 20
N_REGS = PART_ID + PART_ID_REGS
WRITABLE_COILS = {TRIGGER, ACK}
WRITABLE_REGS = set(range(PART_ID, N_REGS))
STATE_CODES = {"stopped": 0, "finished": 0, "idle": 0, "running": 1, "starting": 2, "warming_up": 2,
               "reconnecting": 2, "stalled": 2, "plc_offline": 3, "failed": 4}
NO_SCORE = 65535


def encode_text(text: str | None, regs: int = PART_ID_REGS) -> list[int]:
    data = (text or "").encode("ascii", "replace")[:2 * regs].ljust(2 * regs, b"\0")
    return [data[i] << 8 | data[i + 1] for i in range(0, len(data), 2)]


def decode_text(values: list[int]) -> str:
    data = b"".join(bytes((v >> 8 & 0xFF, v & 0xFF)) for v in values)
    return data.split(b"\0", 1)[0].decode("ascii", "replace").strip()


def version_number(version: str | None) -> int:
    m = re.search(r"(\d+)$", version or "")
    return min(int(m.group(1)), 65535) if m else 0


class StationContext(ModbusServerContext):
    """The station's coils and registers, served to every unit id. pymodbus hands a context flagged
    old_simulator straight its reads and writes (3.16: server/base.py), which is where the trigger
    and the acknowledge are seen the moment the PLC writes them."""

    def __init__(self, on_write):
        self.old_simulator = True
        self.simdevices = []
        self.coils = [False] * N_COILS
        self.regs = [0] * N_REGS
        self.regs[LAST_SCORE] = NO_SCORE
        self.lock = threading.Lock()
        self._on_write = on_write

    def device_ids(self):
        return [0]

    async def async_getValues(self, device_id, func_code, address, count=1):
        table = self.coils if func_code in (1, 5, 15) else self.regs if func_code in (3, 6, 16, 23) else None
        if table is None:  # discrete inputs, input registers: not in the map
            return ExcCodes.ILLEGAL_ADDRESS
        if address < 0 or count < 1 or address + count > len(table):
            return ExcCodes.ILLEGAL_ADDRESS
        with self.lock:
            return list(table[address:address + count])

    async def async_setValues(self, device_id, func_code, address, values):
        coils = func_code in (5, 15)
        allowed = WRITABLE_COILS if coils else WRITABLE_REGS if func_code in (6, 16, 23) else set()
        if not values or any(a not in allowed for a in range(address, address + len(values))):
            return ExcCodes.ILLEGAL_ADDRESS
        with self.lock:
            table = self.coils if coils else self.regs
            table[address:address + len(values)] = [bool(v) for v in values] if coils else [int(v) for v in values]
        self._on_write(coils, address, len(values))
        return None


class ModbusStation:
    """start() binds host:port (ConfigError when it cannot); plc: a PlcTrigger to take triggers from,
    or None (then TRIGGER / ACK writes are accepted and ignored)."""

    def __init__(self, host: str = "0.0.0.0", port: int = 502, *, plc=None):
        if not 0 < int(port) < 65536:
            raise ConfigError(f"Modbus port {port} is not a TCP port — use 1-65535 (502 is the standard)")
        self.host, self.port, self.plc = host, int(port), plc
        self.ctx = StationContext(self._written)
        self.connections = 0
        self._thread: LoopThread | None = None
        self._server: ModbusTcpServer | None = None
        self._beat: asyncio.Task | None = None

    @property
    def address(self) -> str:
        return f"modbus://{self.host}:{self.port}"

    def start(self) -> None:
        require_free_port(self.host, self.port, "Modbus TCP server",
                          "pick another port (below 1024 needs admin rights; e.g. 5020)")
        self._thread = LoopThread(f"modbus-{self.port}")

        async def go():
            self._server = ModbusTcpServer(self.ctx, address=(self.host, self.port), trace_connect=self._connected)
            await self._server.serve_forever(background=True)
            self._beat = asyncio.get_running_loop().create_task(self._heartbeat())

        try:
            self._thread.run(go(), timeout=10)
        except Exception:  # noqa: BLE001 - pymodbus says only "could not start listen"
            self._thread.stop()
            self._thread = None
            raise ConfigError(f"Modbus TCP server cannot listen on {self.host}:{self.port} — the port is "
                              "in use or needs rights (below 1024: run as admin, or pick e.g. 5020)") from None
        if self.plc is not None:
            self.plc.listen(self._mirror_plc)

    def stop(self) -> None:
        if self._thread is None:
            return
        self._thread.close(self._down, timeout=5)
        self._thread = None

    async def _down(self) -> None:
        if self._beat is not None:
            self._beat.cancel()
        if self._server is not None:
            await self._server.shutdown()

    # -- the station's side ----------------------------------------------------------------------
    def publish(self, part, counters) -> None:
        with self.ctx.lock:
            r, c = self.ctx.regs, self.ctx.coils
            for addr, value in ((PART_COUNTER, counters.parts), (NG_COUNTER, counters.ng),
                                (NOT_INSPECTED_COUNT, counters.not_inspected)):
                r[addr], r[addr + 1] = value >> 16 & 0xFFFF, value & 0xFFFF
            r[MODEL_VERSION] = version_number(part.model_version)
            r[LAST_SCORE] = NO_SCORE if part.score is None else max(0, min(65534, round(part.score * 1000)))
            r[PART_ID:N_REGS] = encode_text(part.part_id)
            if self.plc is None:  # without the handshake the bits simply show the last part
                c[OK], c[NG], c[NOT_INSPECTED] = (part.verdict == "ok", part.verdict == "not_ok",
                                                  part.verdict == "not_inspected")

    def set_state(self, state: str) -> None:
        with self.ctx.lock:
            self.ctx.regs[STATE] = STATE_CODES.get(state, 2)

    def _mirror_plc(self, plc) -> None:
        part = plc.result
        with self.ctx.lock:
            c = self.ctx.coils
            c[READY], c[BUSY] = plc.ready, plc.busy
            c[OK] = part is not None and part.verdict == "ok"
            c[NG] = part is not None and part.verdict == "not_ok"
            c[NOT_INSPECTED] = part is not None and part.verdict == "not_inspected"
            if not plc.online:
                self.ctx.regs[STATE] = STATE_CODES["plc_offline"]
            elif self.ctx.regs[STATE] == STATE_CODES["plc_offline"]:
                self.ctx.regs[STATE] = STATE_CODES["running"]

    # -- the PLC's side (on the server's loop) ------------------------------------------------------
    def _written(self, coils: bool, address: int, count: int) -> None:
        if not coils or self.plc is None:
            return
        with self.ctx.lock:
            trigger, ack = self.ctx.coils[TRIGGER], self.ctx.coils[ACK]
            part_id = decode_text(self.ctx.regs[PART_ID:N_REGS]) if trigger else None
            self.ctx.coils[TRIGGER] = self.ctx.coils[ACK] = False
        if ack:
            self.plc.acknowledge()
        if trigger:
            self.plc.request(part_id, "Modbus")

    def _connected(self, up: bool) -> None:
        self.connections = max(0, self.connections + (1 if up else -1))
        if self.plc is not None:
            self.plc.set_connections("modbus", self.connections)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            with self.ctx.lock:
                self.ctx.regs[HEARTBEAT] = (self.ctx.regs[HEARTBEAT] + 1) & 0xFFFF
