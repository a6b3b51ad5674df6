"""The PySide6 inspection workstation. torch is imported first, before any Qt module: on Windows
torch's DLLs fail to load once Qt's are in the process."""
import ctypes
import sys

import torch  # noqa: F401


def _make_singletons_immortal() -> None:
    """PySide6 6.12 (built for Python >= 3.12, where None, True and False are immortal) drops one
    reference to None on every call that returns nothing (setText, setValue, processEvents…) and one
    to True/False on every emit of a bool signal. On Python 3.11 the count reaches zero within minutes
    of live view and the process aborts ("deallocating None"). Measured: 5,000 label + progress-bar
    updates took 15,000 references from None. Give them counts no run can use up, as 3.12 does."""
    if sys.version_info < (3, 12):
        for obj in (None, True, False):
            ctypes.c_ssize_t.from_address(id(obj)).value += 1 << 50


_make_singletons_immortal()
