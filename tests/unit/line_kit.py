"""Helpers for the line I/O tests: parts to publish, free ports, a broker fixture's guard."""
from __future__ import annotations

import time

import pytest

from inspector.core.line.local_broker import free_port, mosquitto_path  # noqa: F401 - re-exported for tests
from inspector.core.line.part import PartCounters, PartResult


def part(seq: int, verdict: str = "ok", *, part_id: str | None = None, score: float | None = 0.1,
         plc: bool = False, station: str = "st1") -> PartResult:
    return PartResult(station, seq, part_id or f"SN-{seq}", verdict, verdict == "ok",
                      None if verdict == "not_inspected" else score, "crack" if verdict == "not_ok" else None,
                      "v3", time.time(), 4.0, "inference_error" if verdict == "not_inspected" else None, plc)


def counted(*parts: PartResult) -> PartCounters:
    c = PartCounters()
    for p in parts:
        c.add(p)
    return c


needs_mosquitto = pytest.mark.skipif(mosquitto_path() is None,
                                     reason="mosquitto is not installed (apt-get install mosquitto)")
