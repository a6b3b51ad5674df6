"""Handing results and events to a caller's callback, safely: a broken display or log must never stop
inspection or the line's outputs."""
from __future__ import annotations

from collections.abc import Callable


def tell(callback: Callable | None, *args) -> None:
    if callback is not None:
        try:
            callback(*args)
        except Exception:  # noqa: BLE001 - whatever the callback does wrong stays its own problem
            pass
