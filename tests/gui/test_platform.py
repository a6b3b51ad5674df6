"""PySide6 6.12 on Python 3.11 takes a reference from None on every call returning nothing (and from
True/False on every bool signal); inspector.gui makes them immortal so a long shift cannot crash."""
import sys

import pytest
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel

import inspector.gui  # noqa: F401


class _Flag(QObject):
    changed = Signal(bool)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None and bools are immortal from Python 3.12")
def test_a_long_shift_of_widget_updates_does_not_use_up_none(qapp):
    assert sys.getrefcount(None) > 1 << 49 and sys.getrefcount(True) > 1 << 49
    label, flag = QLabel(), _Flag()
    flag.changed.connect(label.setVisible)
    before = sys.getrefcount(None)
    for i in range(200_000):  # without the guard this aborts the process well before the end
        label.setText("x")
        flag.changed.emit(i % 2 == 0)
    assert sys.getrefcount(None) > 1 << 49
    assert before - sys.getrefcount(None) >= 0  # the leak is PySide6's, the guard only absorbs it
