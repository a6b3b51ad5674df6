"""Real parts for the live pipeline tests: an MJPEG server on 127.0.0.1, video files written with
OpenCV, and a project with a tiny trained classifier (v1) plus a second version (v2)."""
from __future__ import annotations

import base64
import hashlib
import secrets
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
    multipart/x-mixed-replace response per connection, then closes it: each reconnect replays.
    auth=("basic" | "digest", user, password): the camera asks for that login (RFC 7617 / RFC 7616
    with MD5 and qop=auth) and answers 401 otherwise. stall_after=N: after N parts the connection
    stays open and silent for stall_s seconds (a camera that hangs)."""

    def __init__(self, parts: list[bytes], *, fps: float = 200.0, content_length: bool = True,
                 auth: tuple[str, str, str] | None = None, stall_after: int | None = None, stall_s: float = 30.0):
        self.parts, self.fps, self.content_length = parts, fps, content_length
        self.auth, self.stall_after, self.stall_s = auth, stall_after, stall_s
        self.connections = 0
        self.refused = 0  # requests answered 401
        self.authorizations: list[str] = []  # Authorization headers received
        self.realm, self.nonce = "camera", secrets.token_hex(8)
        self.digest_algorithm = "MD5"  # what the challenge names (the check itself is MD5)
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # keep test output clean
                pass

            def _authorized(self) -> bool:
                if server.auth is None:
                    return True
                scheme, user, password = server.auth
                got = self.headers.get("Authorization", "")
                if got:
                    server.authorizations.append(got)
                if scheme == "basic":
                    ok = got == "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
                    challenge = f'Basic realm="{server.realm}"'
                else:
                    ok = got.startswith("Digest ") and server._digest_ok(got[7:], self.command, user, password)
                    challenge = (f'Digest realm="{server.realm}", qop="auth", nonce="{server.nonce}", '
                                 f'algorithm={server.digest_algorithm}')
                if ok:
                    return True
                server.refused += 1
                self.send_response(401)
                self.send_header("WWW-Authenticate", challenge)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return False

            def do_GET(self):
                if not self._authorized():
                    return
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
                    for i, data in enumerate(server.parts):
                        if server.stall_after is not None and i == server.stall_after:
                            server._stop.wait(server.stall_s)  # open, silent
                            return
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

    def _digest_ok(self, header: str, method: str, user: str, password: str) -> bool:
        f = {}
        for item in _split_auth(header):
            k, _, v = item.partition("=")
            f[k.strip().lower()] = v.strip().strip('"')
        if f.get("username") != user or f.get("nonce") != self.nonce or f.get("realm") != self.realm:
            return False
        ha1 = hashlib.md5(f"{user}:{self.realm}:{password}".encode()).hexdigest()
        ha2 = hashlib.md5(f"{method}:{f.get('uri', '')}".encode()).hexdigest()
        want = hashlib.md5(f"{ha1}:{self.nonce}:{f.get('nc')}:{f.get('cnonce')}:auth:{ha2}".encode()).hexdigest()
        return f.get("qop") == "auth" and f.get("response") == want

    def __enter__(self) -> "MjpegServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def _split_auth(header: str) -> list[str]:
    """The comma-separated fields of an Authorization header, commas inside quotes kept."""
    out, cur, quoted = [], "", False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    return out + [cur] if cur.strip() else out


class Recorder:
    """Collects a pipeline's results and events (its on_result / on_event callbacks)."""

    def __init__(self):
        self.results, self.events = [], []

    def result(self, r):
        self.results.append(r)

    def event(self, e):
        self.events.append(e)

    def kinds(self, kind):
        return [e.message for e in self.events if e.kind == kind]


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
