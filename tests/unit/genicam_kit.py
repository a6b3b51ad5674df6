"""The fake GigE Vision camera (Aravis's arv-fake-gv-camera-0.8) on loopback, for the genicam:// tests."""
from __future__ import annotations

import shutil
import subprocess
import time

import pytest

FAKE = shutil.which("arv-fake-gv-camera-0.8")


def _aravis_ok() -> bool:
    try:
        from inspector.core.live.genicam import aravis
        aravis()
        return True
    except Exception:  # noqa: BLE001
        return False


needs_fake_camera = pytest.mark.skipif(FAKE is None or not _aravis_ok(),
                                       reason="needs aravis-tools (arv-fake-gv-camera-0.8), gir1.2-aravis-0.8 and python3-gi")


class FakeCamera:
    def __init__(self, serial: str = "INSP1"):
        self.serial = serial
        self.proc = None

    def start(self) -> "FakeCamera":
        import socket
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.bind(("127.0.0.1", 3956))  # GVCP's port: one fake camera per interface
        except OSError:
            pytest.skip("another GigE Vision device (a fake camera?) already answers on 127.0.0.1:3956")
        finally:
            probe.close()
        self.proc = subprocess.Popen([FAKE, "-i", "127.0.0.1", "-s", self.serial], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        time.sleep(0.3)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(5)
            self.proc = None


@pytest.fixture
def camera():
    cam = FakeCamera().start()
    yield cam
    cam.stop()
