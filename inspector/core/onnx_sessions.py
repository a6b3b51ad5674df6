"""The one place ONNX Runtime sessions are made: classifiers (predict, eval, the live line), the
anomaly model's feature extractor, the training backbone's cached features and the export parity check."""
from __future__ import annotations

import os
from pathlib import Path


def default_threads() -> int:
    """Inference threads when none are asked for: every core this process may use but one, which
    stays free for capture, decoding, the results log and the GUI. Measured on a shared 2-core PC
    (EfficientNet-Lite0, 224×224): 1 thread 18 ms/frame, ONNX Runtime's default of 2 threads 37 ms,
    since its spinning threads fight the other work for the same two cores."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores - 1)


def onnx_session(model: bytes | str | Path, threads: int | None = 0, *, gpu: bool = True):
    """An ONNX Runtime session for a model file or its bytes, graph optimizations on; CUDA first when
    gpu and this onnxruntime has it, else the CPU. threads: intra-op threads (0 = ONNX Runtime's own
    choice; None = default_threads(), what the live line uses)."""
    import onnxruntime as ort

    wanted = ("CUDAExecutionProvider", "CPUExecutionProvider") if gpu else ("CPUExecutionProvider",)
    providers = [p for p in wanted if p in ort.get_available_providers()]
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    threads = default_threads() if threads is None else int(threads)
    if threads:
        opts.intra_op_num_threads = threads
    return ort.InferenceSession(model if isinstance(model, bytes) else str(model), opts, providers=providers)
