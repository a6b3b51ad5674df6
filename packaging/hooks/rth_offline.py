"""Runtime hook: switches that keep the frozen app off the network, set before anything imports.

ONNX Runtime (1.32) starts a native telemetry thread at import that, about 10 s later, looks up
Microsoft's telemetry server to send it events, and keeps a device id and an event store under
~/.cache/Microsoft; ORT_DISABLE_TELEMETRY=1, set before the import, stops all of it (seen with strace). inspector.cli.main
sets it too, for the installed-from-source app; this covers every process of the bundle first.
"""
import os

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
