"""Camera passwords, kept out of preferences, project settings and logs.

A source URL typed with a password (http://user:secret@cam/video) is stored by `remember()` as the
URL without it (http://user@cam/video) — that is what preferences and the project keep — and the
password goes to a file only the user can read (0600 on POSIX; on Windows the per-user config
folder). `resolve()` puts it back when the source is opened. `redact()` is for anything shown.
The keyring package is not used: it is not a dependency, and a plant PC often has no keyring daemon.
"""
from __future__ import annotations

import json
import os
import stat
import sys
import threading
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from inspector.core import durable
from inspector.core.errors import ConfigError

__all__ = ["redact", "remember", "resolve", "secrets_path", "split_credentials"]

SECRETS_FILE = "camera-secrets.json"
_lock = threading.Lock()


def redact(url: str) -> str:
    """The URL without a password, for logs, the status bar and the results table:
    http://user:secret@cam/x → http://user:***@cam/x. Anything not a URL with a password is kept."""
    if "://" not in url:
        return url
    try:
        u = urlsplit(url)
        netloc = u.netloc
    except ValueError:
        return url.split("://", 1)[0] + "://***"  # unparseable: show nothing of it
    if "@" not in netloc:
        return url
    creds, host = netloc.rsplit("@", 1)
    user, has_pw, _ = creds.partition(":")
    return urlunsplit((u.scheme, f"{user}:***@{host}" if has_pw else f"{user}@{host}", u.path, u.query, u.fragment))


def secrets_path() -> Path:
    """INSPECTOR_SECRETS_FILE, else camera-secrets.json in the config folder (the same folder as the
    preferences: INSPECTOR_CONFIG_DIR, %APPDATA%/Inspector, ~/Library/Application Support/Inspector,
    $XDG_CONFIG_HOME/inspector)."""
    if os.environ.get("INSPECTOR_SECRETS_FILE"):
        return Path(os.environ["INSPECTOR_SECRETS_FILE"])
    if os.environ.get("INSPECTOR_CONFIG_DIR"):
        base = Path(os.environ["INSPECTOR_CONFIG_DIR"])
    elif sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming") / "Inspector"
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support/Inspector"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "inspector"
    return base / SECRETS_FILE


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """(url without user and password, user, password), user and password percent-decoded."""
    u = urlsplit(url)
    if "@" not in u.netloc:
        return url, None, None
    creds, host = u.netloc.rsplit("@", 1)
    user, has_pw, pw = creds.partition(":")
    bare = urlunsplit((u.scheme, host, u.path, u.query, u.fragment))
    return bare, unquote(user), unquote(pw) if has_pw else None


def _key(url: str, user: str) -> str:
    u = urlsplit(url)
    host = u.netloc.rsplit("@", 1)[-1].lower()
    return f"{u.scheme.lower()}://{user}@{host}"


def _with(url: str, user: str, password: str | None) -> str:
    u = urlsplit(url)
    host = u.netloc.rsplit("@", 1)[-1]
    cred = quote(user, safe="") + (":" + quote(password, safe="") if password is not None else "")
    return urlunsplit((u.scheme, f"{cred}@{host}", u.path, u.query, u.fragment))


def _load(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise ConfigError(f"camera password file {path} cannot be read ({e}) — delete it and enter the "
                          "camera passwords again") from None
    return data if isinstance(data, dict) else {}


def _is_url(spec: str) -> bool:
    return "://" in spec and not spec.lower().startswith("synthetic://")


def remember(spec: str, path: Path | None = None) -> str:
    """A source as it may be saved and shown: a password in it moves to the secrets file and the
    URL keeps the user name only. Anything else comes back unchanged."""
    if not _is_url(spec):
        return spec
    try:
        _, user, password = split_credentials(spec)
    except ValueError:
        return spec
    if user is None or password is None:
        return spec
    path = path or secrets_path()
    with _lock:
        data = _load(path)
        data[_key(spec, user)] = password
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with durable.atomic_open(path, "w", encoding="utf-8") as f:
                if os.name != "nt":
                    os.chmod(f.name, stat.S_IRUSR | stat.S_IWUSR)  # 0600 before the secret is written
                json.dump(data, f, indent=2, sort_keys=True)
        except OSError as e:
            raise ConfigError(f"cannot save the camera password in {path} ({e.strerror or e}) — check that "
                              "the folder is writable") from None
    return _with(spec, user, None)


def resolve(spec: str, path: Path | None = None) -> str:
    """The URL to connect with: a user name without a password gets the remembered password back."""
    if not _is_url(spec):
        return spec
    try:
        _, user, password = split_credentials(spec)
    except ValueError:
        return spec
    if user is None or password is not None:
        return spec
    with _lock:
        stored = _load(path or secrets_path()).get(_key(spec, user))
    return spec if stored is None else _with(spec, user, stored)
