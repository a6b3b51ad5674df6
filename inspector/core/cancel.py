"""A cancel token that long tasks check once per batch, image or frame."""
from __future__ import annotations

import threading

from inspector.core.errors import Cancelled


class CancelToken:
    def __init__(self, event=None) -> None:
        """event: any object with set() / is_set(), e.g. a multiprocessing Event shared with a child
        process (default: a threading.Event)."""
        self._event = event if event is not None else threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise Cancelled when cancellation was asked for."""
        if self._event.is_set():
            raise Cancelled()
