"""The PySide6 inspection workstation. torch is imported first, before any Qt module: on Windows
torch's DLLs fail to load once Qt's are in the process."""
import torch  # noqa: F401
