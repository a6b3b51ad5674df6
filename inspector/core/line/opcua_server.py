"""OPC UA server (asyncua) for the station.

Address space: Objects / Inspector / <station>, namespace "urn:inspector:line"; every variable also
has a string NodeId "ns=<ns>;s=<station>.<Name>", so a PLC or SCADA can address it directly.

    LastVerdict   String   ok | not_ok | not_inspected (of the last part)
    PartId        String   the last part's ID
    Score         Double   not-ok score, 0.5 = threshold (-1 when not inspected)
    DefectClass   String   the defect class of an NG part ("anomaly" for an anomaly model), else ""
    ModelVersion  String   the model that decided the last part
    PartCounter   UInt64   parts with a result;   Inspected / NG / NotInspected: UInt64 counters
    Heartbeat     UInt32   +1 every second while Inspector runs
    State         String   running, starting, reconnecting, PLC offline, stopped, failed …
    Ready, Busy   Boolean  the handshake (core/line/plc.py); ResultReady: a result waits for Ack
    Trigger       Boolean  writable: the PLC writes True (after TriggerPartId) to inspect a part
    TriggerPartId String   writable: the ID of the part the next Trigger is for
    Ack           Boolean  writable: the PLC writes True once it has read the result

Security: with a certificate and key, only Basic256Sha256 (Sign, SignAndEncrypt) endpoints; clients
must present a certificate found in the trusted folder when one is given. Without certificates the
endpoint has no encryption and is offered only when anonymous access is explicitly allowed — an
unconfigured server does not start (ConfigError)."""
from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

from asyncua import Server, ua
from asyncua.common.callback import CallbackType

from inspector.core.errors import ConfigError
from inspector.core.line.loop_thread import LoopThread
from inspector.core.line.netcheck import require_free_port

NAMESPACE = "urn:inspector:line"
_VARS = (("LastVerdict", "", ua.VariantType.String), ("PartId", "", ua.VariantType.String),
         ("Score", -1.0, ua.VariantType.Double), ("DefectClass", "", ua.VariantType.String),
         ("ModelVersion", "", ua.VariantType.String), ("PartCounter", 0, ua.VariantType.UInt64),
         ("Inspected", 0, ua.VariantType.UInt64), ("NG", 0, ua.VariantType.UInt64),
         ("NotInspected", 0, ua.VariantType.UInt64), ("Heartbeat", 0, ua.VariantType.UInt32),
         ("State", "starting", ua.VariantType.String), ("Ready", False, ua.VariantType.Boolean),
         ("Busy", False, ua.VariantType.Boolean), ("ResultReady", False, ua.VariantType.Boolean),
         ("Trigger", False, ua.VariantType.Boolean), ("TriggerPartId", "", ua.VariantType.String),
         ("Ack", False, ua.VariantType.Boolean))
WRITABLE = ("Trigger", "TriggerPartId", "Ack")


class OpcUaStation:
    def __init__(self, endpoint: str = "opc.tcp://0.0.0.0:4840/inspector/", station: str = "station1", *,
                 plc=None, allow_anonymous: bool = False, certificate: str | Path | None = None,
                 private_key: str | Path | None = None, trusted: str | Path | None = None):
        if not endpoint.startswith("opc.tcp://"):
            raise ConfigError(f"OPC UA endpoint {endpoint!r} must look like opc.tcp://0.0.0.0:4840/inspector/")
        if (certificate is None) != (private_key is None):
            raise ConfigError("OPC UA security needs both the server certificate and its private key")
        if certificate is None and not allow_anonymous:
            raise ConfigError("OPC UA server not started: give a certificate and key (Basic256Sha256), or allow "
                              "anonymous access explicitly (--opcua-anonymous) on a network you trust")
        for what, p in (("certificate", certificate), ("private key", private_key), ("trusted folder", trusted)):
            if p is not None and not Path(p).exists():
                raise ConfigError(f"OPC UA {what} {p} is missing — check the path")
        self.endpoint, self.station, self.plc = endpoint, station, plc
        self.allow_anonymous, self.certificate, self.private_key = allow_anonymous, certificate, private_key
        self.trusted = trusted
        self.ns = 0
        self.nodes: dict[str, ua.NodeId] = {}
        self._server: Server | None = None
        self._thread: LoopThread | None = None
        self._beat: asyncio.Task | None = None
        self._connections = 0

    @property
    def address(self) -> str:
        return self.endpoint

    def node_id(self, name: str) -> str:
        return f"ns={self.ns};s={self.station}.{name}"

    def start(self) -> None:
        u = urlsplit(self.endpoint)
        require_free_port(u.hostname or "0.0.0.0", u.port or 4840, "OPC UA server",
                          "pick another port in the endpoint, e.g. opc.tcp://0.0.0.0:4841/inspector/")
        self._thread = LoopThread("opcua")
        try:
            self._thread.run(self._start(), timeout=60)
        except ConfigError:
            self._thread.stop()
            raise
        except Exception as e:  # noqa: BLE001 - port in use, unreadable certificate
            self._thread.stop()
            self._thread = None
            why = "the port is in use" if isinstance(e, OSError) else f"{type(e).__name__}: {e}"
            raise ConfigError(f"OPC UA server cannot start on {self.endpoint} ({why}) — pick another port "
                              "or check the certificate files") from None
        if self.plc is not None:
            self.plc.listen(lambda plc: self._thread.spawn(self._mirror_plc(plc)))

    async def _start(self) -> None:
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name(f"Inspector station {self.station}")
        await server.set_application_uri(f"urn:inspector:station:{self.station}")
        tokens = []
        if self.certificate is not None:
            server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
                                        ua.SecurityPolicyType.Basic256Sha256_Sign])
            await server.load_certificate(str(self.certificate))
            await server.load_private_key(str(self.private_key))
            if self.trusted is not None:
                from asyncua.crypto.truststore import TrustStore
                from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
                store = TrustStore([Path(self.trusted)], [])
                await store.load()
                server.set_certificate_validator(CertificateValidator(
                    CertificateValidatorOptions.TRUSTED_VALIDATION | CertificateValidatorOptions.PEER_CLIENT, store))
            tokens.append(ua.X509IdentityToken)
        else:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        if self.allow_anonymous:
            tokens.append(ua.AnonymousIdentityToken)
        server.set_identity_tokens(tokens)
        self.ns = await server.register_namespace(NAMESPACE)
        root = await server.nodes.objects.add_object(self.ns, "Inspector")
        obj = await root.add_object(ua.NodeId(self.station, self.ns), self.station)
        for name, value, vtype in _VARS:
            node = await obj.add_variable(ua.NodeId(f"{self.station}.{name}", self.ns), name,
                                          ua.Variant(value, vtype))
            if name in WRITABLE:
                await node.set_writable()
            self.nodes[name] = node.nodeid
        server.subscribe_server_callback(CallbackType.PostWrite, self._written)
        await server.start()
        self._server = server
        self._beat = asyncio.get_running_loop().create_task(self._heartbeat())

    def stop(self) -> None:
        if self._thread is None:
            return
        self._thread.close(self._down, timeout=10)
        self._thread = None

    async def _down(self) -> None:
        if self._beat is not None:
            self._beat.cancel()
        if self._server is not None:
            await self._server.stop()

    # -- the station's side (any thread) ------------------------------------------------------------
    def publish(self, part, counters) -> None:
        values = {"LastVerdict": part.verdict, "PartId": part.part_id or "",
                  "Score": -1.0 if part.score is None else float(part.score), "DefectClass": part.defect_class or "",
                  "ModelVersion": part.model_version, "PartCounter": counters.parts, "Inspected": counters.inspected,
                  "NG": counters.ng, "NotInspected": counters.not_inspected}
        if self._thread is not None:
            self._thread.spawn(self._write(values))

    def set_state(self, state: str) -> None:
        if self._thread is not None:
            self._thread.spawn(self._write({"State": state.replace("_", " ")}))

    async def _write(self, values: dict) -> None:
        for name, value in values.items():
            vtype = next(t for n, _, t in _VARS if n == name)
            await self._server.write_attribute_value(self.nodes[name], ua.DataValue(ua.Variant(value, vtype)))

    async def _mirror_plc(self, plc) -> None:
        values = {"Ready": plc.ready, "Busy": plc.busy, "ResultReady": plc.result is not None}
        if not plc.online:
            values["State"] = "PLC offline"
        await self._write(values)

    # -- the PLC's side (on the server's loop) ------------------------------------------------------
    async def _written(self, event, dispatcher) -> None:
        written = {}
        for wv in event.request_params.NodesToWrite:
            for name in WRITABLE:
                if wv.NodeId == self.nodes.get(name):
                    written[name] = wv.AttributeId == ua.AttributeIds.Value and wv.Value.Value.Value
        if not written or self.plc is None:
            return
        if written.get("Ack"):
            await self._write({"Ack": False})
            self.plc.acknowledge()
        if written.get("Trigger"):
            part_id = (await self._server.get_node(self.nodes["TriggerPartId"]).read_value()) or None
            await self._write({"Trigger": False})
            self.plc.request(str(part_id) if part_id else None, "OPC UA")

    async def _heartbeat(self) -> None:
        """Heartbeat each second; client connections looked at every 0.1 s (PLC offline within that)."""
        tick = beat = 0
        while True:
            await asyncio.sleep(0.1)
            tick += 1
            if tick % 10 == 0:
                beat = (beat + 1) & 0xFFFFFFFF
                await self._write({"Heartbeat": beat})
            n = len(self._server.iserver.asyncio_transports)  # open client connections
            if n != self._connections:
                self._connections = n
                if self.plc is not None:
                    self.plc.set_connections("opcua", n)
