"""A listening port checked before a server library tries it: the libraries log a traceback and
say "could not listen"; the user gets one line instead."""
from __future__ import annotations

import os
import socket

from inspector.core.errors import ConfigError


def require_free_port(host: str, port: int, what: str, hint: str) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        if os.name != "nt":  # as asyncio's create_server does: TIME_WAIT leftovers do not count as in use
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, int(port)))
    except OSError as e:
        why = "in use by another program" if e.errno in (98, 48, 10048) else (e.strerror or str(e))
        raise ConfigError(f"{what} cannot listen on {host}:{port} ({why}) — {hint}") from None
    finally:
        s.close()
