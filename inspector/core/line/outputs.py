"""A station's line I/O: which outputs run (LineSettings, saved in the project and overridden by
`inspector run` flags) and LineIO, which starts them, feeds them every part and stops them.

    io = LineIO(LineSettings(station="press3", modbus="0.0.0.0:5020", mqtt="broker:1883"),
                outbox_folder=project.root, plc_trigger=True, on_event=...)
    io.start()                              # ConfigError (one line) when a port is taken etc.
    LivePipeline(project, LiveConfig(..., trigger=io.plc), on_result=io.publish, on_event=io.pipeline_event)
    io.close()

publish() only converts the result and queues it (the inference thread never waits on a network);
one dispatcher thread hands each part to every output in order, then completes the PLC handshake."""
from __future__ import annotations

import json
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from inspector.core.errors import ConfigError
from inspector.core.line.part import PartCounters, part_of
from inspector.core.line.plc import PLC_OFFLINE, PlcTrigger
from inspector.core.notify import tell

SETTINGS_KEY = "line.settings"  # project meta: this station's LineSettings as JSON
SETTINGS_VERSION = 1
OUTBOX_FILE = "line_outbox.sqlite"  # beside project.sqlite
MES_OUTBOX_FILE = "line_mes_outbox.sqlite"  # the webhook's own: each output drains its own queue
MQTT_PASSWORD_ENV = "INSPECTOR_MQTT_PASSWORD"  # never saved in the project


@dataclass
class LineSettings:
    station: str = "station1"
    modbus: str | None = None  # "[host:]port" to serve Modbus TCP, e.g. 0.0.0.0:502
    opcua: str | None = None  # endpoint to serve, e.g. opc.tcp://0.0.0.0:4840/inspector/
    opcua_anonymous: bool = False  # anonymous OPC UA clients allowed (explicit only)
    opcua_cert: str | None = None  # server certificate (DER or PEM) → Basic256Sha256
    opcua_key: str | None = None  # its private key (PEM)
    opcua_trusted: str | None = None  # folder of client certificates allowed in
    mqtt: str | None = None  # broker "host[:port]"
    mqtt_user: str | None = None  # password from the INSPECTOR_MQTT_PASSWORD environment variable
    mes: str | None = None  # MES webhook URL: each part POSTed as JSON (token: INSPECTOR_MES_TOKEN or bearer:TOKEN@)
    outbox_rows: int = 1_000_000

    @property
    def any(self) -> bool:
        return bool(self.modbus or self.opcua or self.mqtt or self.mes)

    def to_json(self) -> str:
        return json.dumps({"version": SETTINGS_VERSION, **asdict(self)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> "LineSettings":
        if not text:
            return cls()
        try:
            data = json.loads(text)
        except ValueError:
            raise ConfigError("the project's line settings are damaged — set them again in the Live tab") from None
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def load(cls, project) -> "LineSettings":
        return cls.from_json(project.get_meta(SETTINGS_KEY))

    def save(self, project, user: str | None = None) -> None:
        project.set_meta(SETTINGS_KEY, self.to_json(), user)


def host_port(text: str, default_port: int, what: str) -> tuple[str, int]:
    """"host:port", "host" or "port" → (host, port); IPv6 as [::1]:502."""
    text = str(text).strip()
    if text.isdigit():
        return "0.0.0.0", int(text)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.lstrip(":")
    else:
        host, _, port = text.rpartition(":") if ":" in text else (text, "", "")
    try:
        return host or "0.0.0.0", int(port) if port else default_port
    except ValueError:
        raise ConfigError(f"{what} address {text!r} is not host:port, e.g. 192.168.0.10:{default_port}") from None


class LineIO:
    def __init__(self, settings: LineSettings, *, outbox_folder: str | Path | None = None, plc_trigger: bool = False,
                 on_event: Callable[[str, str], None] | None = None):
        self.settings, self.on_event = settings, on_event
        station = settings.station.strip()
        if not station:
            raise ConfigError("the station needs a name (letters, digits, - or _), e.g. press3")
        self.plc = PlcTrigger(on_event=self._say) if plc_trigger else None
        if plc_trigger and not (settings.modbus or settings.opcua):
            raise ConfigError("--trigger plc needs a server for the PLC to write to: --modbus PORT or --opcua ENDPOINT")
        self.outputs: list = []
        self.mqtt = self.modbus = self.opcua = self.mes = None
        if settings.modbus:
            from inspector.core.line.modbus_server import ModbusStation
            host, port = host_port(settings.modbus, 502, "Modbus")
            self.modbus = ModbusStation(host, port, plc=self.plc)
            self.outputs.append(self.modbus)
        if settings.opcua:
            from inspector.core.line.opcua_server import OpcUaStation
            self.opcua = OpcUaStation(settings.opcua, station, plc=self.plc, allow_anonymous=settings.opcua_anonymous,
                                      certificate=settings.opcua_cert, private_key=settings.opcua_key,
                                      trusted=settings.opcua_trusted)
            self.outputs.append(self.opcua)
        if settings.mqtt:
            from inspector.core.line.mqtt_out import MqttOutput
            from inspector.core.line.outbox import Outbox
            if outbox_folder is None:
                raise ConfigError("MQTT needs a folder for its outbox (the project's)")
            host, port = host_port(settings.mqtt, 1883, "MQTT broker")
            self.outbox = Outbox(Path(outbox_folder) / OUTBOX_FILE, max_rows=settings.outbox_rows)
            self.mqtt = MqttOutput(host if host != "0.0.0.0" else "127.0.0.1", port, station, self.outbox,
                                   username=settings.mqtt_user, password=os.environ.get(MQTT_PASSWORD_ENV),
                                   on_event=self._say)
            self.outputs.append(self.mqtt)
        if settings.mes:
            from inspector.core.line.outbox import Outbox
            from inspector.core.line.webhook import TOKEN_ENV, WebhookOutput, check_url
            from inspector.core.live import credentials
            check_url(credentials.resolve(settings.mes))  # before the outbox file is made
            if outbox_folder is None:
                raise ConfigError("the MES webhook needs a folder for its outbox (the project's)")
            self.mes_outbox = Outbox(Path(outbox_folder) / MES_OUTBOX_FILE, max_rows=settings.outbox_rows)
            self.mes = WebhookOutput(settings.mes, station, self.mes_outbox, token=os.environ.get(TOKEN_ENV),
                                     on_event=self._say)
            self.outputs.append(self.mes)
        self.station = station
        self.counters = PartCounters()
        self.errors = 0
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._started: list = []

    @property
    def trigger(self) -> PlcTrigger | None:
        return self.plc

    def start(self) -> None:
        """Start every output; if one cannot start, those already started are stopped again."""
        try:
            for out in self.outputs:
                out.start()
                self._started.append(out)
                self._say("line_output", f"publishing to {out.address} (topics inspector/{self.station}/result, /state)"
                          if out is self.mqtt else f"posting each part to {out.address}" if out is self.mes
                          else f"serving {out.address}")
        except BaseException:
            self.close()
            raise
        self._thread = threading.Thread(target=self._dispatch, name="line-io", daemon=True)
        self._thread.start()

    def publish(self, result) -> None:
        """LivePipeline's on_result (any pipeline thread): returns at once."""
        self._queue.put(result)

    def pipeline_event(self, event) -> None:
        """LivePipeline's on_event: state changes reach the State variable / register / topic."""
        if event.kind == "state":
            state = PLC_OFFLINE if self.plc is not None and not self.plc.online and event.state == "running" \
                else event.state
            for out in self._started:
                out.set_state(state)

    def status(self) -> dict:
        return {"station": self.station, "outputs": [out.address for out in self._started],
                "plc_online": None if self.plc is None else self.plc.online,
                "mqtt_connected": None if self.mqtt is None else self.mqtt.connected,
                "outbox_waiting": None if self.mqtt is None else len(self.outbox),
                "outbox_overflowed": None if self.mqtt is None else self.outbox.overflowed,
                "mes_connected": None if self.mes is None else self.mes.connected,
                "mes_waiting": None if self.mes is None else len(self.mes_outbox),
                "parts": self.counters.parts, "errors": self.errors}

    def close(self, timeout: float = 5.0) -> None:
        """Publish what is queued, then stop every output (MQTT: what the broker has not acknowledged
        stays in the outbox for the next start)."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None
        for out in reversed(self._started):
            try:
                out.set_state("stopped")
                out.stop()
            except Exception as e:  # noqa: BLE001 - stop the others anyway
                self._say("line_error", f"{out.address} did not stop cleanly: {e}")
        self._started.clear()
        if self.mqtt is not None:
            self.outbox.close()
        if self.mes is not None:
            self.mes_outbox.close()

    def _dispatch(self) -> None:
        seq = 0
        failing: set = set()
        while True:
            result = self._queue.get()
            if result is None:
                return
            seq += 1
            try:
                part = part_of(result, self.station, seq)
            except Exception as e:  # noqa: BLE001
                self.errors += 1
                self._say("line_error", f"part {seq} not published: {e}")
                continue
            self.counters.add(part)
            for out in self._started:
                try:
                    out.publish(part, self.counters)
                    failing.discard(out)
                except Exception as e:  # noqa: BLE001 - one output's failure must not stop the others
                    self.errors += 1
                    if out not in failing:
                        failing.add(out)
                        self._say("line_error", f"{out.address}: part {part.part_id or seq} not published ({e})")
            if part.plc and self.plc is not None:
                self.plc.finished(part)

    def _say(self, kind: str, message: str) -> None:
        tell(self.on_event, kind, message)
