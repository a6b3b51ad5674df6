"""Test-wide settings: Qt offscreen, few torch threads, and user folders kept in tmp."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
