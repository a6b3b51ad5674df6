"""PySide6 6.12 on Python 3.11 takes a reference from None on every call returning nothing (and from
True/False on every bool signal): the process aborted within minutes of live view. pyproject pins
PySide6-Essentials below 6.12; this test fails (or aborts) on any PySide6 that brings the leak back."""
import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel

import inspector.gui  # noqa: F401


class _Flag(QObject):
    changed = Signal(bool)


def test_a_long_shift_of_widget_updates_keeps_none_and_bools_alive(qapp):
    label, flag = QLabel(), _Flag()
    flag.changed.connect(label.setVisible)
    before = sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)
    for i in range(2_000):  # 6.12 on 3.11 aborted inside this loop (True ran out of references)
        label.setText("x")
        flag.changed.emit(i % 2 == 0)
    after = sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)
    assert all(b - a < 100 for b, a in zip(before, after)), f"references lost: {before} -> {after}"
