"""Inspector: a deep-learning inspection workstation for factory quality control."""
import os

# ONNX Runtime's native telemetry contacts a Microsoft server some seconds after import (seen with
# strace). Inspector never opens a network connection, so it is switched off before any
# entry point — CLI, GUI, benchmarks, tests, the frozen app — can import onnxruntime.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

__version__ = "0.1.0"
