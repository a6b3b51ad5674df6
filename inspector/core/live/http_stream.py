"""HTTP cameras: an MJPEG stream (multipart/x-mixed-replace, what most IP cameras and webcam
servers send) read part by part, or a single-JPEG snapshot URL fetched again for each frame.
Read here rather than through FFmpeg so a corrupt JPEG is seen, skipped and counted.

http://user:password@host/… logs in with HTTP basic or digest authentication, whichever the camera
asks for (the credentials are taken out of the URL: urllib would read `user:password@host` as the
host name). The password never appears in names, messages or logs. No byte for stall_s → SourceStalled."""
from __future__ import annotations

import http.client
import socket
import time
import urllib.error
import urllib.request

import cv2
import numpy as np

from inspector.core.errors import ConfigError
from inspector.core.live.credentials import redact, split_credentials
from inspector.core.live.source_base import CorruptFrame, Source, SourceError, SourceStalled, to_rgb

MAX_PART = 64 << 20  # a part bigger than this is not a camera frame


class HttpSource(Source):
    live = True
    can_stall = True

    def __init__(self, url: str, *, timeout: float = 5.0, snapshot_interval: float = 0.0):
        super().__init__()
        self.name = redact(url)
        try:
            self.url, self.user, password = split_credentials(url)
        except ValueError as e:
            raise ConfigError(f"stream address {self.name} is not a valid URL ({e}) — check it") from None
        handlers = []
        if self.user is not None:
            mgr = urllib.request.HTTPPasswordMgrWithDefaultRealm()
            mgr.add_password(None, self.url, self.user, password or "")
            handlers = [urllib.request.HTTPDigestAuthHandler(mgr), urllib.request.HTTPBasicAuthHandler(mgr)]
        self._opener = urllib.request.build_opener(*handlers)
        self.timeout = timeout
        self.snapshot_interval = snapshot_interval
        self._resp = None
        self._boundary: bytes | None = None
        self._at_boundary = False
        self._n = 0
        self._last = 0.0

    def _get(self):
        try:
            # the socket timeout is also the stall time: a stream silent this long raises in read()
            resp = self._opener.open(self.url, timeout=min(self.timeout, self.stall_s))
        except urllib.error.HTTPError as e:
            e.close()
            if e.code == 401:
                if self.user is None:
                    raise ConfigError(f"stream {self.name} asks for a user name and password — put them in the "
                                      "address: http://user:password@host/…") from None
                raise ConfigError(f"stream {self.name} refused user {self.user!r} and its password (HTTP 401) — "
                                  "correct them in the source address") from None
            if e.code == 403:
                raise ConfigError(f"stream {self.name} refuses access (HTTP 403) — give user "
                                  f"{self.user or '(none)'} the right to view the stream on the camera") from None
            raise SourceError(f"stream {self.name} cannot be opened (HTTP {e.code} {e.reason}) — retrying") from None
        except ValueError as e:
            if "digest" in str(e).lower() or "authentication" in str(e).lower():  # e.g. SHA-256 digest
                raise ConfigError(f"stream {self.name} asks for a login Inspector cannot answer ({e}) — set the "
                                  "camera to basic or MD5 digest authentication") from None
            raise SourceError(f"stream {self.name} cannot be opened ({e}) — retrying") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            reason = getattr(e, "reason", None) or e
            raise SourceError(f"stream {self.name} cannot be opened ({reason}) — retrying") from None
        return resp

    def open(self) -> None:
        resp = self._get()
        ctype = resp.headers.get("Content-Type", "")
        if ctype.lower().startswith("multipart/"):
            boundary = next((p.split("=", 1)[1].strip().strip('"') for p in ctype.split(";")
                             if p.strip().lower().startswith("boundary=")), None)
            if not boundary:
                resp.close()
                raise SourceError(f"stream {self.name} is multipart without a boundary — not an MJPEG stream")
            self._boundary = b"--" + boundary.encode("latin-1").removeprefix(b"--")
            self._resp = resp
            self._at_boundary = False
        elif ctype.lower().startswith("image/"):
            self._boundary = None
            self._resp = resp  # the first snapshot is already on its way
        else:
            resp.close()
            raise SourceError(f"{self.name} answers with {ctype or 'no content type'}, not an MJPEG stream or "
                              "a JPEG snapshot — check the camera's stream address")
        self._n = 0

    def read(self, timeout: float = 0.5):
        try:
            data = self._next_part() if self._boundary else self._next_snapshot()
        except (socket.timeout, TimeoutError):
            raise SourceStalled(f"stream {self.name} sent no picture for {min(self.timeout, self.stall_s):g} s "
                                "— reconnecting") from None
        except (OSError, ValueError, http.client.HTTPException) as e:
            raise SourceError(f"stream {self.name} was cut ({e}) — reconnecting") from None
        self._n += 1
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            raise CorruptFrame(f"{self.name}: frame {self._n} is not a decodable image ({len(data)} bytes)",
                               {"index": self._n - 1})
        return to_rgb(img), {"index": self._n - 1}

    def _next_snapshot(self) -> bytes:
        if self._resp is None:
            if self.snapshot_interval:
                time.sleep(max(0.0, self._last + self.snapshot_interval - time.monotonic()))
            self._resp = self._get()
        try:
            self._last = time.monotonic()
            return self._resp.read(MAX_PART)
        finally:
            self._resp.close()
            self._resp = None

    def _next_part(self) -> bytes:
        f = self._resp
        if self._at_boundary:
            self._at_boundary = False
        else:
            line = f.readline()
            while line and not line.startswith(self._boundary):  # preamble, or the CRLF after a part
                line = f.readline()
            if not line:
                raise OSError("the server closed the stream")
        length = None
        while True:  # part headers up to the blank line
            h = f.readline()
            if not h:
                raise OSError("the server closed the stream")
            if h in (b"\r\n", b"\n"):
                break
            key, _, value = h.decode("latin-1").partition(":")
            if key.strip().lower() == "content-length":
                length = int(value.strip())
        if length is not None:
            if length > MAX_PART:
                raise ValueError(f"a {length}-byte part is too big for a frame")
            data = f.read(length)
            if len(data) < length:
                raise OSError("the stream ended inside a frame")
            return data
        # no Content-Length: the frame runs up to the next boundary line, which is then already read
        chunks, size = [], 0
        while True:
            chunk = f.readline()
            if not chunk:
                raise OSError("the stream ended inside a frame")
            if chunk.startswith(self._boundary):
                self._at_boundary = True
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_PART:
                raise ValueError("a frame without Content-Length never ended")
        data = b"".join(chunks)
        return data[:-2] if data.endswith(b"\r\n") else data.rstrip(b"\n")

    def close(self) -> None:
        if self._resp is not None:
            try:
                self._resp.close()
            except OSError:
                pass
            self._resp = None
