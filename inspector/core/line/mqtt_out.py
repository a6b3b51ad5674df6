"""MQTT output (paho-mqtt): one JSON message per part on inspector/<station>/result (QoS 1), and the
station's state on inspector/<station>/state (retained; the broker publishes "offline" as the
last will when Inspector vanishes without saying goodbye).

Every result goes through the durable outbox first and leaves it only when the broker acknowledged
it (PUBACK), so results made while the broker is down or restarting arrive later, in order. Delivery
is at least once: a result whose acknowledge was lost in a disconnect is sent again (the message
carries the part's `seq` for a receiver that must count each part once).

Reconnects are ours, not paho's: each connection is a fresh client, so paho never re-sends its own
in-flight copies behind the outbox's back (that would reorder and double them). Waits between tries
grow from backoff[0] to backoff[1] seconds."""
from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable

import paho.mqtt.client as mqtt

from inspector.core.errors import ConfigError
from inspector.core.line.outbox import Outbox
from inspector.core.notify import tell


def part_json(part, counters) -> str:
    """One part's message: the part and the station's counters (MQTT and the MES webhook send the same)."""
    return json.dumps({**part.as_dict(), "counters": {"parts": counters.parts, "inspected": counters.inspected,
                                                      "ng": counters.ng, "not_inspected": counters.not_inspected}},
                      separators=(",", ":"))


def topics(station: str) -> tuple[str, str]:
    return f"inspector/{station}/result", f"inspector/{station}/state"


class MqttOutput:
    def __init__(self, host: str, port: int, station: str, outbox: Outbox, *, qos: int = 1,
                 username: str | None = None, password: str | None = None, keepalive: int = 10,
                 backoff: tuple[float, float] = (0.5, 10.0), window: int = 64,
                 on_event: Callable[[str, str], None] | None = None):
        if not host:
            raise ConfigError("MQTT needs a broker address, e.g. --mqtt 192.168.0.10:1883")
        if not 0 < int(port) < 65536:
            raise ConfigError(f"MQTT port {port} is not a TCP port — use 1-65535 (1883 is the standard)")
        if qos not in (0, 1, 2):
            raise ConfigError(f"MQTT QoS {qos} is not 0, 1 or 2")
        if "/" in station or "+" in station or "#" in station:
            raise ConfigError(f"station name {station!r} cannot hold / + or # (it is part of MQTT topics)")
        self.host, self.port, self.station, self.outbox, self.qos = host, int(port), station, outbox, qos
        self.username, self.password, self.keepalive = username, password, keepalive
        self.backoff, self.window, self.on_event = backoff, max(1, window), on_event
        self.result_topic, self.state_topic = topics(station)
        self.client_id = f"inspector-{station}-{uuid.uuid4().hex[:8]}"
        self.connected = False
        self.sent = 0  # messages acknowledged by the broker
        self.connects = 0
        self._state = "starting"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._client: mqtt.Client | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def waiting(self) -> int:
        return len(self.outbox)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mqtt-out", daemon=True)
        self._thread.start()

    def publish(self, part, counters) -> None:
        self.outbox.put(self.result_topic, part_json(part, counters))
        self._wake.set()

    def set_state(self, state: str) -> None:
        self._state = state.replace("_", " ")
        c = self._client
        if c is not None and self.connected:
            c.publish(self.state_topic, self._state, qos=1, retain=True)

    def stop(self, timeout: float = 5.0) -> None:
        """Send what the outbox holds (up to timeout, reconnecting if need be), say "stopped",
        disconnect; the rest stays in the outbox for the next start."""
        deadline = time.monotonic() + timeout
        while len(self.outbox) and time.monotonic() < deadline:  # connected, or reconnecting meanwhile
            self._wake.set()
            time.sleep(0.02)
        self._state = "stopped"
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    # -- the sender thread ------------------------------------------------------------------------
    def _say(self, kind: str, message: str) -> None:
        tell(self.on_event, kind, message)

    def _run(self) -> None:
        wait = self.backoff[0]
        reported = False
        while not self._stop.is_set():
            client, up = self._connect()
            if client is None:
                if not reported:
                    self._say("mqtt_offline", f"MQTT broker {self.host}:{self.port} unreachable — results wait in "
                                              f"the outbox ({len(self.outbox)} now), retrying")
                    reported = True
                self._stop.wait(wait)
                wait = min(wait * 2, self.backoff[1])
                continue
            wait, reported = self.backoff[0], False
            self.connects += 1
            self._say("mqtt_online", f"MQTT connected to {self.host}:{self.port} ({len(self.outbox)} results waiting)")
            try:
                self._drain(client, up)
            finally:
                self.connected = False
                self._client = None
                try:
                    if self._stop.is_set():  # acknowledged before the goodbye, or a loaded PC loses it
                        client.publish(self.state_topic, "stopped", qos=1, retain=True).wait_for_publish(3.0)
                    client.disconnect()
                except Exception:  # noqa: BLE001 - gone already
                    pass
                client.loop_stop()
            if not self._stop.is_set():
                self._say("mqtt_offline", f"MQTT broker {self.host}:{self.port} lost — results wait in the outbox, "
                                          "reconnecting")
                reported = True

    def _connect(self) -> tuple[mqtt.Client | None, threading.Event]:
        up = threading.Event()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=True)
        client.max_inflight_messages_set(self.window)
        client.max_queued_messages_set(0)
        if self.username:
            client.username_pw_set(self.username, self.password)
        client.will_set(self.state_topic, "offline", qos=1, retain=True)

        def on_connect(c, userdata, flags, reason, props):
            if not reason.is_failure:
                # on every connect, paho's own reconnects included: the broker may have published the last
                # will ("offline") in between, and a state said only once would stay "offline"
                c.publish(self.state_topic, self._state, qos=1, retain=True)
                up.set()

        def on_disconnect(c, userdata, flags, reason, props):
            up.clear()
            self.connected = False
            self._wake.set()

        client.on_connect, client.on_disconnect = on_connect, on_disconnect
        try:
            client.connect(self.host, self.port, keepalive=self.keepalive)
        except (OSError, ValueError):
            return None, up
        client.loop_start()
        if not up.wait(5.0):
            client.loop_stop()
            return None, up
        self._client, self.connected = client, True
        return client, up

    def _drain(self, client: mqtt.Client, up: threading.Event) -> None:
        while up.is_set() and not self._stop.is_set():
            rows = self.outbox.peek(self.window)
            if not rows:
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            infos = [(rid, client.publish(topic, payload, qos=self.qos)) for rid, topic, payload in rows]
            deadline = time.monotonic() + 10.0
            while up.is_set() and time.monotonic() < deadline and not all(i.is_published() for _, i in infos):
                time.sleep(0.001)
            acked = [rid for rid, i in infos if i.is_published()]
            self.outbox.remove(acked)
            self.sent += len(acked)
            if len(acked) < len(infos) and up.is_set():  # no acknowledge in 10 s on a live link: start afresh
                return
