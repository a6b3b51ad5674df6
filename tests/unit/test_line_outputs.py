"""Line outputs against real clients on loopback: the outbox (SQLite), Modbus TCP (pymodbus client),
OPC UA (asyncua client, with and without Basic256Sha256) and MQTT (a real mosquitto, restarted)."""
from __future__ import annotations

import json
import threading
import time

import pytest

from inspector.core.errors import ConfigError
from inspector.core.line.outbox import Outbox
from tests.unit.line_kit import counted, free_port, needs_mosquitto, part
from tests.unit.live_kit import wait_for


# -- outbox -------------------------------------------------------------------------------------------
def test_outbox_keeps_order_across_reopen_and_drops_oldest_beyond_its_bound(tmp_path):
    box = Outbox(tmp_path / "o.sqlite", max_rows=4)
    for i in range(6):
        box.put("t", f"m{i}")
    assert [p for _, _, p in box.peek()] == [b"m2", b"m3", b"m4", b"m5"]
    assert box.overflowed == 2
    box.remove([i for i, _, _ in box.peek(1)])
    box.close()
    box = Outbox(tmp_path / "o.sqlite", max_rows=4)  # a restart: what was waiting is still there, in order
    assert len(box) == 3 and [p for _, _, p in box.peek()] == [b"m3", b"m4", b"m5"]
    assert box.overflowed == 2
    box.put("t", "m6")
    assert [p for _, _, p in box.peek()][-1] == b"m6"
    box.close()


# -- Modbus TCP ------------------------------------------------------------------------------------------
@pytest.fixture
def modbus():
    from inspector.core.line.modbus_server import ModbusStation
    from inspector.core.line.plc import PlcTrigger
    events = []
    plc = PlcTrigger(on_event=lambda k, m: events.append((k, m)))
    station = ModbusStation("127.0.0.1", free_port(), plc=plc)
    station.start()
    station.events = events
    yield station
    station.stop()


def test_modbus_map_trigger_result_and_acknowledge(modbus):
    from pymodbus.client import ModbusTcpClient

    from inspector.core.line import modbus_server as mb
    plc = modbus.plc
    c = ModbusTcpClient("127.0.0.1", port=modbus.port)
    assert c.connect()
    try:
        assert wait_for(lambda: plc.online, 5)
        assert c.read_coils(0, count=mb.N_COILS).bits[mb.READY]
        c.write_registers(mb.PART_ID, mb.encode_text("SN-0042"))
        c.write_coil(mb.TRIGGER, True)
        coils = c.read_coils(0, count=mb.N_COILS).bits
        assert coils[mb.BUSY] and not coils[mb.READY] and not coils[mb.TRIGGER]  # taken, reset
        from inspector.core.live.frames import Frame
        import numpy as np
        frame = Frame(0, np.zeros((8, 8, 3), np.uint8), time.time(), 0.0, "test", {})
        assert plc.fire(frame) and frame.meta["part_id"] == "SN-0042"
        p = part(7, "not_ok", part_id="SN-0042", score=0.8125, plc=True)
        modbus.publish(p, counted(part(1), part(2, "not_inspected"), p))
        plc.finished(p)
        coils = c.read_coils(0, count=mb.N_COILS).bits
        assert coils[mb.NG] and not coils[mb.OK] and not coils[mb.BUSY] and not coils[mb.READY]
        regs = c.read_holding_registers(0, count=mb.N_REGS).registers
        assert regs[1] == 3 and regs[3] == 1 and regs[5] == 1  # parts, NG, not inspected (uint32 low words)
        assert regs[mb.MODEL_VERSION] == 3 and regs[mb.LAST_SCORE] == 812
        assert mb.decode_text(regs[mb.PART_ID:]) == "SN-0042"
        c.write_coil(mb.ACK, True)
        coils = c.read_coils(0, count=mb.N_COILS).bits
        assert coils[mb.READY] and not coils[mb.NG] and not coils[mb.ACK]
        # outside the map, or a read-only address: ILLEGAL ADDRESS, and the server keeps serving
        assert c.read_holding_registers(100, count=1).exception_code == 2
        assert c.write_coil(mb.OK, True).exception_code == 2
        assert c.read_input_registers(0, count=1).exception_code == 2
        assert not c.read_coils(0, count=1).isError()
    finally:
        c.close()
    assert wait_for(lambda: not plc.online, 5)
    assert any("PLC offline" in m for k, m in modbus.events if k == "plc_offline")


def test_modbus_port_in_use_is_one_line(modbus):
    from inspector.core.line.modbus_server import ModbusStation
    with pytest.raises(ConfigError) as e:
        ModbusStation("127.0.0.1", modbus.port).start()
    assert "in use" in str(e.value) and "\n" not in str(e.value)


# -- OPC UA --------------------------------------------------------------------------------------------
def _certs(folder, name):
    import asyncio
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from asyncua.crypto.cert_gen import setup_self_signed_certificate
    key, cert = folder / f"{name}.pem", folder / f"{name}.der"
    use = [ExtendedKeyUsageOID.SERVER_AUTH if name == "server" else ExtendedKeyUsageOID.CLIENT_AUTH]
    uri = "urn:inspector:station:st1" if name == "server" else f"urn:test:{name}"
    asyncio.run(setup_self_signed_certificate(key, cert, uri, "localhost", use, {"commonName": name}))
    return cert, key


def test_opcua_station_variables_trigger_and_ack(tmp_path):
    from asyncua.sync import Client

    from inspector.core.line.opcua_server import NAMESPACE, OpcUaStation
    from inspector.core.line.plc import PlcTrigger
    with pytest.raises(ConfigError, match="anonymous"):  # nothing configured: not started
        OpcUaStation(f"opc.tcp://127.0.0.1:{free_port()}/inspector/", "st1")
    plc = PlcTrigger()
    url = f"opc.tcp://127.0.0.1:{free_port()}/inspector/"
    station = OpcUaStation(url, "st1", plc=plc, allow_anonymous=True)
    station.start()
    try:
        c = Client(url)
        c.connect()
        try:
            ns = c.get_namespace_index(NAMESPACE)

            def node(name):
                return c.get_node(f"ns={ns};s=st1.{name}")
            assert wait_for(lambda: node("Ready").read_value(), 5)
            node("TriggerPartId").write_value("SN-7")
            node("Trigger").write_value(True)
            assert wait_for(lambda: plc.waiting == 1, 5)
            assert node("Busy").read_value() and not node("Trigger").read_value()
            from inspector.core.live.frames import Frame
            import numpy as np
            frame = Frame(0, np.zeros((8, 8, 3), np.uint8), time.time(), 0.0, "test", {})
            assert plc.fire(frame) and frame.meta["part_id"] == "SN-7"
            p = part(1, "not_ok", part_id="SN-7", score=0.75, plc=True)
            station.publish(p, counted(p))
            plc.finished(p)
            assert wait_for(lambda: node("ResultReady").read_value(), 5)
            assert (node("LastVerdict").read_value(), node("PartId").read_value(), node("Score").read_value(),
                    node("DefectClass").read_value(), node("NG").read_value()) == ("not_ok", "SN-7", 0.75, "crack", 1)
            node("Ack").write_value(True)
            assert wait_for(lambda: node("Ready").read_value() and not node("ResultReady").read_value(), 5)
            beat = node("Heartbeat").read_value()
            assert wait_for(lambda: node("Heartbeat").read_value() > beat, 3)
        finally:
            c.disconnect()
        assert wait_for(lambda: not plc.online, 5)
        with pytest.raises(ConfigError, match="in use"):
            OpcUaStation(url, "st1", allow_anonymous=True).start()
    finally:
        station.stop()


def _refused(client) -> None:
    try:
        with pytest.raises(Exception):
            client.connect()
    finally:
        client.tloop.stop()  # a sync client's loop thread outlives a failed connect (it would hold up exit)


def test_opcua_basic256sha256_lets_in_only_trusted_certificates(tmp_path):
    from asyncua.sync import Client

    from inspector.core.line.opcua_server import OpcUaStation
    server_cert, server_key = _certs(tmp_path, "server")
    trusted = tmp_path / "trusted"
    trusted.mkdir()
    client_cert, client_key = _certs(trusted, "plc")
    (trusted / "plc.pem").rename(tmp_path / "plc.pem")  # only the certificate is trusted, the key stays with the PLC
    client_key = tmp_path / "plc.pem"
    stranger_cert, stranger_key = _certs(tmp_path, "stranger")
    url = f"opc.tcp://127.0.0.1:{free_port()}/inspector/"
    station = OpcUaStation(url, "st1", certificate=server_cert, private_key=server_key, trusted=trusted)
    station.start()
    try:
        c = Client(url)
        c.set_security_string(f"Basic256Sha256,SignAndEncrypt,{client_cert},{client_key},{server_cert}")
        c.application_uri = "urn:test:plc"
        c.load_client_certificate(str(client_cert))  # the user identity: the same certificate (X509 token)
        c.load_private_key(client_key)
        c.connect()
        try:
            assert c.get_node(station.node_id("State")).read_value()
        finally:
            c.disconnect()
        anonymous = Client(url)  # no security, no certificate: no endpoint for it
        _refused(anonymous)
        masked = Client(url)  # a trusted, encrypted channel but an anonymous user: refused (not allowed)
        masked.set_security_string(f"Basic256Sha256,SignAndEncrypt,{client_cert},{client_key},{server_cert}")
        masked.application_uri = "urn:test:plc"
        _refused(masked)
        stranger = Client(url)
        stranger.set_security_string(f"Basic256Sha256,SignAndEncrypt,{stranger_cert},{stranger_key},{server_cert}")
        stranger.application_uri = "urn:test:stranger"
        _refused(stranger)
    finally:
        station.stop()


# -- MQTT ---------------------------------------------------------------------------------------------
@needs_mosquitto
def test_mqtt_results_survive_a_broker_restart_in_order_with_state_and_last_will(tmp_path):
    import paho.mqtt.client as mqtt

    from inspector.core.line.local_broker import LocalBroker
    from inspector.core.line.mqtt_out import MqttOutput
    with LocalBroker(folder=tmp_path / "broker") as broker:
        got, states, lock = [], [], threading.Lock()
        sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="mes", clean_session=False)
        sub.reconnect_delay_set(0.1, 0.5)
        sub.on_connect = lambda c, u, f, r, p: c.subscribe("inspector/st1/#", qos=1)

        def on_message(c, u, m):
            with lock:
                (got if m.topic.endswith("/result") else states).append(
                    json.loads(m.payload) if m.topic.endswith("/result") else m.payload.decode())
        sub.on_message = on_message
        sub.connect("127.0.0.1", broker.port)
        sub.loop_start()
        box = Outbox(tmp_path / "outbox.sqlite")
        events = []
        out = MqttOutput("127.0.0.1", broker.port, "st1", box, backoff=(0.1, 0.5),
                         on_event=lambda k, m: events.append(k))
        out.start()
        try:
            assert wait_for(lambda: out.connected, 10)
            parts = [part(i + 1) for i in range(30)]
            for i, p in enumerate(parts):
                out.publish(p, counted(*parts[:i + 1]))
                if i == 10:
                    broker.restart(down_s=0.5)  # results 12.. are made while the broker is away
                time.sleep(0.01)
            assert wait_for(lambda: len(box) == 0 and len({m["seq"] for m in got}) == 30, 30)
            seqs = [m["seq"] for m in got]
            first = list(dict.fromkeys(seqs))
            assert first == list(range(1, 31))  # none lost, in order (a re-sent duplicate may follow)
            assert got[0]["part_id"] == "SN-1" and got[0]["verdict"] == "ok" and got[-1]["counters"]["parts"] == 30
            assert "mqtt_offline" in events and out.connects >= 2
            # last will: the link breaks without a goodbye → the broker says "offline" on the state topic
            out.set_state("running")
            assert wait_for(lambda: states and states[-1] == "running", 5)
            out._client.socket().close()
            assert wait_for(lambda: "offline" in states, 10)
            assert wait_for(lambda: out.connected, 10)  # and it comes back
            assert wait_for(lambda: states[-1] == "running", 10)  # saying its state again after the will
            out.stop()
            assert wait_for(lambda: states[-1] == "stopped", 10), (states, events)  # a clean stop is not "offline"
        finally:
            out.stop()
            sub.loop_stop()
            box.close()
