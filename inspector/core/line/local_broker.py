"""A mosquitto broker on a free loopback port, for tests and benchmarks (and for trying the MQTT
output on a PC with no broker): `with LocalBroker() as b: ... b.restart() ...`. Needs the
`mosquitto` program (Debian/Ubuntu: apt-get install mosquitto; Windows: the mosquitto installer).

Persistence is on, so a subscriber with a persistent session (clean_session=False) keeps its
subscription and its queued QoS 1 messages across restart() — what a real plant broker does."""
from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from inspector.core import durable


def mosquitto_path() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", r"C:\Program Files\mosquitto\mosquitto.exe") if Path(p).is_file()), None)


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class LocalBroker:
    def __init__(self, port: int | None = None, folder: str | Path | None = None):
        exe = mosquitto_path()
        if exe is None:
            raise RuntimeError("mosquitto is not installed (apt-get install mosquitto)")
        self.exe, self.port = exe, port or free_port()
        self.folder = Path(folder or tempfile.mkdtemp(prefix="inspector-mosquitto-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.conf = self.folder / "mosquitto.conf"
        durable.write_text(self.conf, "\n".join([
            f"listener {self.port} 127.0.0.1", "allow_anonymous true", "persistence true",
            f"persistence_location {self.folder.as_posix()}/", "autosave_interval 1",
            "max_queued_messages 0", "log_dest none", ""]))
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> "LocalBroker":
        self.proc = subprocess.Popen([self.exe, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited at start (code {self.proc.returncode})")
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on port {self.port} within {timeout:g} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: mosquitto saves its persistence file, then exits
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self, down_s: float = 0.0) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()

    def __enter__(self) -> "LocalBroker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
