"""Test-wide settings: Qt offscreen, and per-user folders kept in a temporary folder."""
import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Exported backbone graphs and other per-user caches go to a throwaway folder, not ~/.cache.
os.environ.setdefault("INSPECTOR_CACHE_DIR", tempfile.mkdtemp(prefix="inspector-cache-"))
