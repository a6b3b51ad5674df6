"""Inference behind one small interface, so every model kind plugs into the live pipeline the same
way: a ModelRunner turns a list of RGB crops into Verdicts. Classifiers run through core.predictor
(the predictor predict and eval use), anomaly models through core.anomaly.live; the kinds are listed
at the end of this module."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from inspector.core.arrays import prepare
from inspector.core.decision import cutoff_of, defect_columns, defect_probability, is_ng, normalized_score
from inspector.core.errors import ModelError
from inspector.core.live.frames import Verdict
from inspector.core.onnx_sessions import default_threads, onnx_session  # noqa: F401 - bench/live.py uses both
from inspector.core.predictor import Predictor

if TYPE_CHECKING:
    from inspector.core.registry import ModelRegistry, ModelVersion


class ModelRunner(Protocol):
    version: str
    kind: str
    backend: str  # "onnx-cpu", "onnx-cuda", "torch", …

    def warm_up(self, max_batch: int) -> None:
        """Run dummy batches so the first real frame does not pay for allocations and kernel choice."""

    def infer(self, images: Sequence[np.ndarray]) -> list[Verdict]:
        """One verdict per H×W×3 uint8 RGB image (any size; the runner resizes)."""

    def close(self) -> None: ...


# kind -> factory(registry, model version (verified), config, backend, threads) -> ModelRunner. The
# kinds we ship are listed at the end of this module; tests may add their own with register_runner.
RunnerFactory = Callable[["ModelRegistry", "ModelVersion", dict, str, "int | None"], ModelRunner]
RUNNERS: dict[str, RunnerFactory] = {}


def register_runner(kind: str, factory: RunnerFactory) -> None:
    RUNNERS[kind] = factory


class ClassifierRunner:
    """A saved classifier version on the line: core.predictor.Predictor computes the probabilities (as
    for predict and eval) and core.decision turns them into the verdict (the one OK/NG rule: the
    defect classes together against the model's calibrated cut-off); the label is the most likely
    class on the side of the verdict, so label and verdict never disagree."""

    kind = "classifier"

    def __init__(self, version_dir: str | Path, config: dict, backend: str = "auto", threads: int | None = None):
        self.dir = Path(version_dir)
        self.version = str(config.get("version") or self.dir.name)
        self.classes = [c["name"] if isinstance(c, dict) else str(c) for c in config["classes"]]
        self._defect = defect_columns([c if isinstance(c, dict) else {"name": str(c)} for c in config["classes"]])
        self.cutoff = cutoff_of(config)  # the calibrated OK/NG cut-off kept with the model (0.5 for older ones)
        pre = config["preprocessing"]
        self.size, self.channels = tuple(pre["size"]), int(pre["channels"])
        # threads None: all cores but one (default_threads), the line's own choice
        self.predictor = Predictor(self.dir, backend=backend, config=config, threads=threads)
        self.backend = self.predictor.backend

    def _probs(self, batch: np.ndarray) -> np.ndarray:
        return self.predictor.predict_prepared(batch)

    def warm_up(self, max_batch: int = 1) -> None:
        for n in sorted({1, max(1, int(max_batch))}):
            self._probs(np.zeros((n, *self.size, self.channels), np.uint8))

    def infer(self, images: Sequence[np.ndarray]) -> list[Verdict]:
        batch = np.stack([prepare(im, self.size, self.channels) for im in images])
        return [self.verdict(p) for p in self._probs(batch)]

    def verdict(self, p: np.ndarray) -> Verdict:
        prob = float(defect_probability(p, self._defect))
        ok = not bool(is_ng(prob, self.cutoff))
        score = normalized_score(prob, self.cutoff)  # 0.5 = the cut-off, as every verdict's score
        side = ~self._defect if ok else self._defect
        if not side.any():  # a model without ok (or defect) classes: take the overall best
            side = np.ones_like(side)
        k = int(np.flatnonzero(side)[np.argmax(p[side])])
        return Verdict(ok=ok, score=score, label=self.classes[k], confidence=float(p[k]),
                       scores={c: float(s) for c, s in zip(self.classes, p)}, model_version=self.version)

    def close(self) -> None:
        self.predictor.close()


def load_runner(registry, version: str, backend: str = "auto", threads: int | None = None) -> ModelRunner:
    """The runner for a saved version of any registered kind; files are checked against their hashes
    first, so a half-written or tampered version never runs."""
    mv = registry.verify(version)
    config = registry.read_config(version)
    factory = RUNNERS.get(mv.kind)
    if factory is None:
        raise ModelError(f"model {version} is a {mv.kind!r} model, which the live pipeline cannot run yet — "
                         f"activate a {' or '.join(sorted(RUNNERS))} model")
    return factory(registry, mv, config, backend, threads)


def _anomaly_runner(registry, mv, config: dict, backend: str, threads: int | None) -> ModelRunner:
    # imported on first use: the anomaly code (and torch) loads only on lines that run an anomaly model
    from inspector.core.anomaly.live import live_runner

    return live_runner(registry, mv, config, backend, threads)


# The model kinds the live pipeline runs.
register_runner("classifier", lambda registry, mv, cfg, backend, threads: ClassifierRunner(mv.path, cfg, backend, threads))
register_runner("anomaly", _anomaly_runner)
