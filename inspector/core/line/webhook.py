"""MES webhook: an HTTP POST of each part's JSON (the same message as MQTT) to a configured URL.

Every result goes through the durable outbox (outbox.py, its own file) first and leaves it only when
the MES answered 2xx, so results made while the MES is down arrive later, in order: one POST at a
time, the oldest first; a failed one is tried again with a wait growing from backoff[0] to backoff[1]
seconds. Delivery is at least once (an answer lost on the way means the part is posted again); the
X-Inspector-Message-Id header (the outbox row, never reused) lets the MES count each part once.

Authorization: `Authorization: Bearer TOKEN` from the INSPECTOR_MES_TOKEN environment variable, or
from the URL typed as https://bearer:TOKEN@mes/… — the Live tab and `inspector line` move the token to
the user-only secrets file (core/live/credentials.py) and keep https://bearer@mes/… in the project.
Any other user:password in the URL is sent as HTTP basic authentication. Only the standard library
(urllib) is used. Redirects are not followed: a POST redirected would arrive as a GET."""
from __future__ import annotations

import base64
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from urllib.parse import urlsplit

from inspector.core.errors import ConfigError
from inspector.core.line.mqtt_out import part_json
from inspector.core.line.outbox import Outbox
from inspector.core.live import credentials
from inspector.core.notify import tell

TOKEN_ENV = "INSPECTOR_MES_TOKEN"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102 - urllib's hook
        return None  # the 3xx comes back as an HTTPError: said as one line, retried


def check_url(url: str) -> None:
    """A URL the webhook can post to, else one ConfigError line."""
    try:
        u = urlsplit(url)
        port = u.port
    except ValueError:
        u, port = None, None
    if u is None or u.scheme not in ("http", "https") or not u.hostname or (port is not None and not 0 < port < 65536):
        raise ConfigError(f"MES webhook URL {credentials.redact(url)!r} is not http(s)://host[:port]/path — "
                          "e.g. https://mes.local/api/results")


class WebhookOutput:
    def __init__(self, url: str, station: str, outbox: Outbox, *, token: str | None = None, timeout: float = 5.0,
                 backoff: tuple[float, float] = (0.5, 10.0), on_event: Callable[[str, str], None] | None = None):
        url = credentials.resolve(str(url or "").strip())  # a remembered token comes back
        check_url(url)
        plain, user, password = credentials.split_credentials(url)
        self.url, self.station, self.outbox, self.timeout = plain, station, outbox, timeout
        self.backoff, self.on_event = backoff, on_event
        self.headers = {"Content-Type": "application/json", "User-Agent": "Inspector",
                        "X-Inspector-Station": station}
        if user and user.lower() == "bearer" and password:
            token = password
        elif user:
            self.headers["Authorization"] = "Basic " + base64.b64encode(
                f"{user}:{password or ''}".encode()).decode()
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.address = credentials.redact(plain)
        self.connected: bool | None = None  # None: nothing posted yet
        self.sent = 0  # parts the MES answered 2xx
        self.last_error = ""
        self._open = urllib.request.build_opener(_NoRedirect).open
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def waiting(self) -> int:
        return len(self.outbox)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mes-webhook", daemon=True)
        self._thread.start()

    def publish(self, part, counters) -> None:
        self.outbox.put(self.url, part_json(part, counters))
        self._wake.set()

    def set_state(self, state: str) -> None:
        pass  # a webhook carries parts only; the MES sees the line stop when parts stop

    def stop(self, timeout: float = 5.0) -> None:
        """Post what the outbox holds (up to timeout), then stop; the rest waits for the next start."""
        deadline = time.monotonic() + timeout
        while len(self.outbox) and self.connected is not False and time.monotonic() < deadline:
            self._wake.set()
            time.sleep(0.02)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout + self.timeout)

    # -- the sender thread ------------------------------------------------------------------------
    def _say(self, kind: str, message: str) -> None:
        tell(self.on_event, kind, message)

    def _run(self) -> None:
        wait = self.backoff[0]
        while not self._stop.is_set():
            rows = self.outbox.peek(32)
            if not rows:
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            for rid, _, payload in rows:  # one at a time: the MES gets them in order
                error = self._post(rid, payload)
                if error:
                    if self.connected is not False or error != self.last_error:
                        self._say("mes_offline", f"MES webhook {self.address} {error} — results wait in the outbox "
                                                 f"({len(self.outbox)} now), retrying")
                    self.connected, self.last_error = False, error
                    self._stop.wait(wait)
                    wait = min(wait * 2, self.backoff[1])
                    break
                self.outbox.remove([rid])
                self.sent += 1
                if self.connected is False:
                    self._say("mes_online", f"MES webhook {self.address} answers again "
                                            f"({len(self.outbox)} results waiting)")
                self.connected, self.last_error, wait = True, "", self.backoff[0]
                if self._stop.is_set():
                    return

    def _post(self, rid: int, payload: bytes) -> str:
        """'' when the MES took it (2xx), else why not, in a few words."""
        req = urllib.request.Request(self.url, data=payload, method="POST",
                                     headers={**self.headers, "X-Inspector-Message-Id": str(rid)})
        try:
            with self._open(req, timeout=self.timeout) as resp:
                resp.read()
                status = resp.status
        except urllib.error.HTTPError as e:
            status = e.code
            hint = " — check the token (INSPECTOR_MES_TOKEN, or bearer:TOKEN@ in the URL)" if status in (401, 403) \
                else (" — use the address it points to" if 300 <= status < 400 else "")
            return f"answered {status} {e.reason}{hint}"
        except urllib.error.URLError as e:
            reason = e.reason
            if isinstance(reason, ConnectionRefusedError):
                return "refused the connection (nothing listens there?)"
            if isinstance(reason, (ConnectionResetError, ConnectionAbortedError)):
                return "closed the connection before answering"
            if isinstance(reason, (TimeoutError, socket.timeout)):
                return f"did not answer within {self.timeout:g} s"
            if isinstance(reason, socket.gaierror):
                return "is not a known host name"
            return f"is unreachable ({getattr(reason, 'strerror', None) or reason})"
        except (TimeoutError, socket.timeout):
            return f"did not answer within {self.timeout:g} s"
        except (ConnectionResetError, ConnectionAbortedError):
            return "closed the connection before answering"
        except (OSError, ValueError) as e:  # a malformed answer
            return f"failed ({e})"
        if not 200 <= status < 300:
            return f"answered {status}"
        return ""
