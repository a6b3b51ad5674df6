"""The model a live line inspects with, and the next one loading beside it: a new version is loaded and
warmed up on its own thread and takes over between two batches; a version that cannot be loaded leaves
the running one in place."""
from __future__ import annotations

import threading
from collections.abc import Callable

from inspector.core.errors import ModelError
from inspector.core.live.config import LiveConfig
from inspector.core.live.runners import ModelRunner, load_runner
from inspector.core.registry import ModelRegistry


class ModelSlot:
    """on_event(kind, message) reports loads and swaps; on_failure() counts a load that failed."""

    def __init__(self, registry: ModelRegistry, config: LiveConfig, on_event: Callable[[str, str], None],
                 on_failure: Callable[[], None]):
        self.registry, self.config = registry, config
        self._event, self._failed = on_event, on_failure
        self.runner: ModelRunner | None = None  # the one inspecting now
        self.target: str | None = None  # the version the line runs or is loading
        self._pending: ModelRunner | None = None  # loaded and warmed up, waiting for the next batch
        self._lock = threading.Lock()

    @property
    def version(self) -> str | None:
        return self.runner.version if self.runner else None

    def resolve(self) -> str:
        """The version to start with: the pinned one, else the line model (ModelError when there is none)."""
        if self.config.model:
            self.target = self.registry.get(self.config.model).version
        else:
            mv = self.line_model()
            if mv is None:
                raise ModelError("no active model in this project — train one (`inspector train`) or pass --model")
            self.target = mv.version
        return self.target

    def line_model(self):
        """The registry's model for this line now (it may change while the line runs)."""
        if self.config.model_kind:
            return self.registry.active(self.config.model_kind)
        v = self.registry.line_version()
        return self.registry.get(v) if v else None

    def load_target(self) -> None:
        """Load and warm up the target in the calling thread; it inspects from now on."""
        self.runner = self._load(self.target)

    def request(self, version: str) -> None:
        """Load `version` in the background; swap_if_ready() puts it in place once it is warmed up."""
        with self._lock:
            self.target = version
        self._event("model_loading", f"loading model {version}")
        threading.Thread(target=self._load_in_background, args=(version,), name="live-load", daemon=True).start()

    def swap_if_ready(self) -> None:
        """Between batches: a model is used only once fully loaded."""
        with self._lock:
            new, self._pending = self._pending, None
        if new is not None:
            old, self.runner = self.runner, new
            if old is not None:
                old.close()
            self._event("model_swapped", f"now inspecting with model {new.version} ({new.backend})")

    def close(self) -> None:
        """Free the sessions; version and backend stay readable."""
        for runner in (self.runner, self._pending):
            if runner is not None:
                runner.close()

    def _load(self, version: str) -> ModelRunner:
        runner = load_runner(self.registry, version, self.config.backend, self.config.threads)
        runner.warm_up(self.config.max_batch)
        return runner

    def _load_in_background(self, version: str) -> None:
        try:
            runner = self._load(version)
        except Exception as e:  # noqa: BLE001 - any load failure keeps the running model
            self._failed()
            self._event("model_error", f"model {version} cannot be used ({e}) — still running {self.version}")
            return
        with self._lock:
            if self.target != version:  # a newer request came in meanwhile
                runner.close()
                return
            old, self._pending = self._pending, runner
        if old is not None:
            old.close()
