"""A real HTTP server on loopback standing in for a MES: records each POSTed part (the webhook tests)."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.unit.line_kit import free_port


class Mes:
    """A real HTTP server that records each POST; answer: the status it gives."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.got: list[dict] = []
        self.headers: list[dict] = []
        self.answer = 200
        self.server = None

    def start(self) -> "Mes":
        mes = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if mes.answer < 300:
                    mes.got.append(json.loads(body))
                    mes.headers.append(dict(self.headers))
                self.send_response(mes.answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/results"
