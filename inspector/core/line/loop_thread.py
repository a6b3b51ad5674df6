"""An asyncio event loop on its own daemon thread: the home of one protocol server. The pipeline's
threads hand it work with call() (fire and forget) and never wait on the network."""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable


class LoopThread:
    def __init__(self, name: str):
        self.name = name
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Awaitable, timeout: float = 30.0):
        """Run coro on the loop and wait for its result (start-up, shut-down, tests)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable, *args) -> None:
        """fn(*args) on the loop, soon; returns at once."""
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(fn, *args)

    def spawn(self, coro: Awaitable) -> None:
        """Schedule coro on the loop; returns at once."""
        if not self.loop.is_closed():
            asyncio.run_coroutine_threadsafe(coro, self.loop)

    def close(self, shutdown: Callable[[], Awaitable] | None = None, timeout: float = 5.0) -> None:
        """Run shutdown() on the loop (its failure ignored: the server closes anyway), then stop."""
        if shutdown is not None and not self.loop.is_closed():
            try:
                self.run(shutdown(), timeout=timeout)
            except Exception:  # noqa: BLE001 - closing anyway
                pass
        self.stop()

    def stop(self, timeout: float = 5.0) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self.loop.close()
