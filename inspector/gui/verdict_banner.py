"""How a verdict reads on a banner (text, colour, subtitle): the Live tab's picture and each view of a
multi-camera station."""
from __future__ import annotations

from inspector.gui.image_view import NG_COLOR, OK_COLOR

NOT_INSPECTED_COLOR = "#b06000"  # amber: neither a model's OK nor its NG


def verdict_banner(v) -> tuple[str, str, str]:
    """(text, colour, subtitle) of a verdict."""
    if v.not_inspected:
        why = v.not_inspected.replace("_", " ")
        return (f"NOT INSPECTED · counted {'OK' if v.ok else 'NG'}", NOT_INSPECTED_COLOR,
                f"{why} — no model looked at this part")
    if v.ok:
        text, color = "OK", OK_COLOR
    else:
        text, color = (f"NG · {v.label}" if v.label else "NG"), NG_COLOR
    anomaly = v.heatmap is not None or v.label is None  # the anomaly model decided (maybe with a classifier)
    parts = [f"anomaly score {v.score:.2f}"] if anomaly else []
    if v.label is not None and v.confidence is not None and not (anomaly and v.ok):
        parts.append(f"{v.label} {100 * v.confidence:.0f} %")
    sub = " · ".join(parts + [f"model {v.model_version}"])
    return text, color, sub
