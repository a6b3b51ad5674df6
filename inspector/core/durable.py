"""Durable file writes, the one way every save in Inspector reaches the disk.

write to a temp file beside the target, flush, fsync the handle that was written with, rename
into place (os.replace), then fsync the folder where the OS allows it. Windows differs from
POSIX in two ways that matter here: os.fsync of a handle opened read-only raises (EBADF), and a
folder cannot be opened at all — so files are only ever fsynced through a writable handle, and
the folder fsync is skipped on Windows (NTFS makes the rename durable with the file's metadata)
and treated as best-effort elsewhere. tests/unit/test_durable.py runs every save path with
both Windows behaviours emulated.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEMP_PREFIX = ".tmp-"


def temp_path(final: Path, suffix: str = ".part") -> Path:
    """A fresh name beside final that recovery recognises as a temp file (TEMP_PREFIX)."""
    return final.parent / f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}{suffix}"


def fsync_dir(path: str | Path) -> None:
    """Make renames inside path durable on power loss. Not possible (and not needed) on Windows,
    where opening a folder fails; elsewhere best-effort, as some file systems refuse it."""
    if os.name == "nt":
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_file(path: str | Path) -> None:
    """fsync a file some other code wrote to a path (torch, onnx): through a read-write handle,
    because fsync of a read-only handle raises on Windows."""
    with open(path, "r+b") as f:
        os.fsync(f.fileno())


@contextmanager
def atomic_open(final: str | Path, mode: str = "wb", *, encoding: str | None = None,
                newline: str | None = None) -> Iterator:
    """Open a temp file beside final for writing; on a clean exit it is flushed, fsynced, renamed
    over final and the folder fsynced. On an error the temp file is removed and final is untouched."""
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open writes whole files: mode 'w' or 'wb', not {mode!r}")
    final = Path(final)
    tmp = temp_path(final)
    f = open(tmp, "x" + mode[1:], encoding=encoding if mode == "w" else None,
             newline=newline if mode == "w" else None)
    try:
        try:
            yield f
            f.flush()
            os.fsync(f.fileno())
        finally:
            f.close()
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(final.parent)


def write_bytes(final: str | Path, data: bytes) -> None:
    with atomic_open(final, "wb") as f:
        f.write(data)


def write_text(final: str | Path, text: str, encoding: str = "utf-8") -> None:
    with atomic_open(final, "w", encoding=encoding) as f:
        f.write(text)


def write_json(final: str | Path, obj, *, indent: int = 2, sort_keys: bool = True) -> None:
    write_text(final, json.dumps(obj, indent=indent, sort_keys=sort_keys))


def copy_file(src: str | Path, final: str | Path) -> None:
    """Copy src to final durably (final appears whole or not at all)."""
    with open(src, "rb") as fin, atomic_open(final, "wb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)


def replace(src: str | Path, dst: str | Path) -> None:
    """Rename a finished (already fsynced) file or folder into place and make the rename durable."""
    os.replace(src, dst)
    fsync_dir(Path(dst).parent)
