"""Progress of long tasks on a terminal: one redrawn line on a TTY, epoch lines otherwise."""
from __future__ import annotations

import sys
import time

from inspector.core.progress import BatchProgress, EpochEnd, StageProgress


def _fmt_eta(s: float) -> str:
    s = int(max(0, s))
    return f"{s // 60}:{s % 60:02d}"


class TerminalProgress:
    def __init__(self, stream=None, quiet: bool = False):
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.quiet = quiet
        self._last = 0.0

    def _line(self, text: str, final: bool = False) -> None:
        if self.tty:
            self.stream.write("\r\033[K" + text + ("\n" if final else ""))
        elif final:
            self.stream.write(text + "\n")
        self.stream.flush()

    def __call__(self, e) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if isinstance(e, StageProgress):
            if self.tty and (now - self._last > 0.1 or e.done == e.total):
                self._last = now
                self._line(f"{e.stage}: {e.done}/{e.total}", final=e.done == e.total)
        elif isinstance(e, BatchProgress):
            if self.tty and now - self._last > 0.1:
                self._last = now
                width = 24
                filled = int(width * e.batch / e.batches)
                self._line(f"epoch {e.epoch}/{e.epochs} [{'#' * filled}{'.' * (width - filled)}] "
                           f"loss {e.loss:.4f} acc {e.accuracy:.3f} {e.samples_per_s:.0f} img/s ETA {_fmt_eta(e.eta_s)}")
        elif isinstance(e, EpochEnd):
            val = (f" | val loss {e.val_loss:.4f} acc {e.val_accuracy:.4f}" if e.val_loss is not None else "")
            self._line(f"epoch {e.epoch}/{e.epochs} loss {e.train_loss:.4f} acc {e.train_accuracy:.4f}{val}"
                       f"{' *' if e.best else ''}  ETA {_fmt_eta(e.eta_s)}", final=True)
