"""Controls the current account may not use: disabled, with a tooltip saying who may. Called after a
panel's own enable logic, so it only ever disables; the original tooltip comes back when allowed."""
from __future__ import annotations

from collections.abc import Iterable

from inspector.core import accounts

_TIP = "inspectorTip"  # the control's own tooltip, kept as a Qt property


def tooltip(session, action: str) -> str:
    who = accounts.who_may(action)
    if session.locked:
        return "The station is locked — log in to continue"
    return f"{who[0].upper()}{who[1:]} — you are logged in as {session.actor.name} ({session.actor.role})"


def apply(session, controls: Iterable[tuple[object, str]]) -> None:
    """controls: (QWidget or QAction, action name in accounts.PERMISSIONS)."""
    for control, action in controls:
        own = control.property(_TIP)
        if own is None:
            own = control.toolTip()
            control.setProperty(_TIP, own)
        if session.may(action):
            control.setToolTip(own)
        else:
            control.setEnabled(False)
            control.setToolTip(tooltip(session, action))
