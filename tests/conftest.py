"""Test-wide settings: Qt offscreen, and per-user folders kept in a temporary folder."""
import os
import shutil
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Exported backbone graphs and other per-user caches go to a throwaway folder, not ~/.cache.
_OWN_CACHE = None
if "INSPECTOR_CACHE_DIR" not in os.environ:
    _OWN_CACHE = os.environ["INSPECTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="inspector-cache-")


def pytest_unconfigure(config):
    # the throwaway cache holds exported graphs (tens of MB); each run would otherwise leave one in the temp folder
    if _OWN_CACHE:
        shutil.rmtree(_OWN_CACHE, ignore_errors=True)
