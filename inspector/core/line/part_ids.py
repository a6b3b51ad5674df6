"""Where a part's ID comes from, set on each triggered frame (frame.meta["part_id"]) before it is
inspected, so it travels with the result into the results log, the review queue and every output.

    plc              the ID the PLC wrote with its trigger (core/line/plc.py sets it)
    file             the hot-folder file name without its extension (SN-0042.png → SN-0042)
    counter          <run start, YYYYMMDD-HHMMSS>-<n>: unique across runs without a PLC or a label
    barcode[:x,y,w,h] the first barcode / DataMatrix / QR code read (zxing-cpp) in that region (x, y,
                     width, height in pixels; default: the whole frame)

An ID that cannot be found (no barcode in the region, a folder file name missing) leaves the part
without one — it is still inspected and logged — and says so in one line (the first few times,
then every 100th)."""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from inspector.core.errors import ConfigError
from inspector.core.live.roi import Roi

MODES = ("plc", "file", "counter", "barcode")


class PartIds:
    def __init__(self, spec: str, *, on_event: Callable[[str, str], None] | None = None):
        spec = (spec or "").strip()
        mode, _, arg = spec.partition(":")
        mode = mode.lower()
        if mode not in MODES:
            raise ConfigError(f"part ID source {spec!r} is not known — use plc, file, counter or barcode[:x,y,w,h]")
        if arg and mode != "barcode":
            raise ConfigError(f"part ID source {mode} takes no options (only barcode:x,y,w,h does)")
        self.mode, self.spec = mode, spec
        self.region = Roi.parse(arg) if arg else None
        self.on_event = on_event
        self.missing = 0
        self._n = 0
        self._stamp = time.strftime("%Y%m%d-%H%M%S")
        if mode == "barcode":
            import zxingcpp  # noqa: F401 - a missing package is said now, not at the first part
            self._zx = zxingcpp

    def __str__(self) -> str:
        return self.spec

    def tag(self, frame) -> None:
        """Set frame.meta["part_id"] (a PLC-given ID is kept: the PLC knows the part best)."""
        meta = frame.meta
        if meta.get("part_id"):
            return
        self._n += 1
        part_id, why = None, None
        if self.mode == "counter":
            part_id = f"{self._stamp}-{self._n}"
        elif self.mode == "file":
            name = meta.get("file")
            part_id = Path(name).stem if name else None
            why = None if part_id else "the source gives no file name (use --part-id file with a hot folder)"
        elif self.mode == "barcode":
            if frame.image.size == 0:
                why = "the frame could not be decoded"
            else:
                part_id, why = self.read_barcode(frame.image)
        elif self.mode == "plc":
            why = "the trigger did not come from the PLC, or the PLC sent no part ID"
        if part_id:
            meta["part_id"] = part_id
            return
        self.missing += 1
        if self.on_event is not None and (self.missing <= 3 or self.missing % 100 == 0):
            self.on_event("part_id_missing", f"frame {frame.id}: no part ID ({why}) — inspected and logged "
                                             f"without one ({self.missing} so far)")

    def read_barcode(self, image) -> tuple[str | None, str | None]:
        region = self.region
        if region is not None:
            try:
                x, y, w, h = region.clip(image.shape)
            except ConfigError as e:
                return None, str(e)
            image = image[y:y + h, x:x + w]
        try:
            found = self._zx.read_barcodes(image)
        except Exception as e:  # noqa: BLE001 - an odd image must not stop the line
            return None, f"barcode reader failed: {e}"
        texts = [b.text for b in found if b.valid and b.text]
        if not texts:
            where = f"region {region}" if region is not None else "the frame"
            return None, f"no readable barcode in {where}"
        return texts[0], None
