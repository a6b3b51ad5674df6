"""A cancel token that long tasks check once per batch, image or frame."""
from __future__ import annotations

import threading

from inspector.core.errors import Cancelled


class CancelToken:
    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise Cancelled when cancellation was asked for."""
        if self._event.is_set():
            raise Cancelled()
