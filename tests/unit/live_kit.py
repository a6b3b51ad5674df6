"""Real parts for the live pipeline tests: an MJPEG server on 127.0.0.1, video files written with
OpenCV, and a project with a tiny trained classifier (v1) plus a second version (v2)."""
from __future__ import annotations

import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np

from inspector.core.imageio import encode_png
from inspector.core.project import Project
from inspector.core.registry import ModelRegistry
from inspector.core.synth import SyntheticLine


def jpeg(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return buf.tobytes()


def write_video(path: Path, frames: list[np.ndarray], fps: float = 30.0) -> Path:
    h, w = frames[0].shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert out.isOpened()
    for f in frames:
        out.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    out.release()
    return path


class MjpegServer:
    """Serves `parts` (JPEG bytes; anything else is sent as is, e.g. a corrupt frame) as one
    multipart/x-mixed-replace response per connection, then closes it: each reconnect replays."""

    def __init__(self, parts: list[bytes], *, fps: float = 200.0, content_length: bool = True):
        self.parts, self.fps, self.content_length = parts, fps, content_length
        self.connections = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # keep test output clean
                pass

            def do_GET(self):
                server.connections += 1
                if self.path == "/snapshot.jpg":
                    self.send_response(200)
                    self.send_header("Content-Type", "image/jpeg")
                    self.send_header("Content-Length", str(len(server.parts[0])))
                    self.end_headers()
                    self.wfile.write(server.parts[0])
                    return
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    for data in server.parts:
                        head = b"--frame\r\nContent-Type: image/jpeg\r\n"
                        if server.content_length:
                            head += f"Content-Length: {len(data)}\r\n".encode()
                        self.wfile.write(head + b"\r\n" + data + b"\r\n")
                        self.wfile.flush()
                        time.sleep(1.0 / server.fps)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "MjpegServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def train_template(root: Path) -> Path:
    """A project with v1 (a 1-epoch CNN at 64×64 on 24 synthetic parts, active) and v2 (the same
    files saved again as a new version, not active)."""
    from inspector.core.train_config import AugmentConfig, TrainConfig
    from inspector.core.training import train_project

    with Project.init(root) as p:
        p.add_class("good", "ok")
        for d in ("scratch", "spot", "crack", "missing"):
            p.add_class(d, "defect")
        line = SyntheticLine(size=(96, 96), defect_rate=0.5, seed=100)
        for i in range(24):
            part = line.part(i)
            p.add_image(encode_png(part.image), source="synth", label=part.label, user="test")
        no_aug = AugmentConfig(hflip=False, vflip=False, rotate_deg=0, shift=0, brightness=0, contrast=0)
        cfg = TrainConfig(arch="cnn", mode="scratch", epochs=1, input_size=[64, 64], batch_size=16, device="cpu",
                          augment=no_aug, amp=False)
        v1 = train_project(p, cfg, activate=True).version
        reg = ModelRegistry(p)
        config = reg.read_config(v1.version)
        writers = {name: (lambda dst, src=v1.path / name: shutil.copyfile(src, dst))
                   for name in ("weights.safetensors", "model.onnx")}
        reg.save("classifier", config, writers, summary=dict(v1.summary), parent=v1.version)
    return root


def copy_project(template: Path, dest: Path) -> Project:
    shutil.copytree(template, dest)
    return Project.open(dest)


def wait_for(cond, timeout: float = 20.0, step: float = 0.02) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return cond()
