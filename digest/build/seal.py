"""Authenticated cache records: only what this user's digest wrote is ever used.

Every cache record carries an HMAC-SHA256 under a random per-user key kept outside every
newsletter (``$XDG_STATE_HOME/digest/cache-key``, default ``~/.local/state``), so a cache
that arrives with a newsletter folder (a commit, an archive, another user) fails the
check and is rebuilt: it cannot put into a page anything no YAML holds.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any

from digest.build.collector import paused

KEY_FILE = Path("digest") / "cache-key"  # under $XDG_STATE_HOME (default ~/.local/state)


def key_path() -> Path | None:
    """Where this user's cache key lives: outside every newsletter, so it never travels with one."""
    state = os.environ.get("XDG_STATE_HOME", "")
    try:
        base = Path(state) if os.path.isabs(state) else Path.home() / ".local" / "state"
    except (KeyError, RuntimeError):  # no home folder at all
        return None
    return base / KEY_FILE


@lru_cache(maxsize=4)
def _load_key(path: Path) -> bytes | None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            # Written whole under a temporary name, then linked in place: no build ever
            # reads half a key, and of two first builds at once one key wins.
            tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_hex(32).encode())
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                os.unlink(tmp)
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as f:
            key = f.read(4096).strip()
    except OSError:
        return None
    return key if len(key) >= 32 else None


def user_key() -> bytes | None:
    """This user's random cache key, made on first use; None (no cache at all) if it cannot be kept."""
    path = key_path()
    return _load_key(path) if path is not None else None


# A record is the JSON text {"mac":"<64 hex>","body":<body>}, written in exactly this
# layout: the MAC covers the body's bytes as stored, so checking a record never
# re-serialises it, and any other layout (a record re-written by hand) fails the check.
_HEAD = b'{"mac":"'
_MID = b'","body":'
_MAC_HEX = 64


def _mac(key: bytes, kind: str, name: str, body: bytes) -> str:
    # kind and name are digest's own (no NUL in them): the MAC binds the body to both.
    return hmac.new(key, b"%s\0%s\0%s" % (kind.encode(), name.encode(), body), hashlib.sha256).hexdigest()


def seal(key: bytes, kind: str, name: str, body: Any) -> str:
    """``body`` as JSON with an HMAC that binds it to its kind and name (so no record can stand in for another)."""
    text = json.dumps(body, separators=(",", ":"))
    return f'{{"mac":"{_mac(key, kind, name, text.encode())}","body":{text}}}'


def unseal(key: bytes | None, kind: str, name: str, raw: bytes) -> Any:
    """The body of a sealed record, or raise ValueError if this user's digest did not write it."""
    return _loads(_body(key, kind, name, raw))


def unseal_shared(key: bytes | None, kind: str, name: str, raw: bytes) -> Any:
    """Like unseal(), the seal checked each time but the body parsed once per process for
    each text (the index and the site record are read at several stages of a build, a
    megabyte each for a thousand issues): callers share the result and must not change it."""
    return _shared_loads(_body(key, kind, name, raw))


def _body(key: bytes | None, kind: str, name: str, raw: bytes) -> bytes:
    start = len(_HEAD) + _MAC_HEX + len(_MID)
    if key is None or not raw.startswith(_HEAD) or raw[len(_HEAD) + _MAC_HEX : start] != _MID or not raw.endswith(b"}"):
        raise ValueError("not sealed")
    return _verified(key, kind, name, raw[len(_HEAD) : len(_HEAD) + _MAC_HEX], raw[start:-1])


def _verified(key: bytes, kind: str, name: str, mac: bytes, body: bytes) -> bytes:
    """``body`` if ``mac`` is its HMAC for ``kind`` and ``name`` under ``key``, else ValueError."""
    if not hmac.compare_digest(mac, _mac(key, kind, name, body).encode()):
        raise ValueError("not written by this user's digest")
    return body


@lru_cache(maxsize=4)
def _shared_loads(body: bytes) -> Any:
    return _loads(body)


def _loads(body: bytes) -> Any:
    # The index and the site record are a hundred thousand containers made at once.
    with paused():
        return json.loads(body)


def seal_bytes(key: bytes, kind: str, name: str, body: bytes) -> bytes:
    """``body`` (any bytes) behind its HMAC, as 64 hex digits."""
    return _mac(key, kind, name, body).encode() + body


def unseal_bytes(key: bytes | None, kind: str, name: str, raw: bytes) -> bytes:
    """The body of a record seal_bytes() made, or raise ValueError if this user's digest did not write it."""
    if key is None or len(raw) < _MAC_HEX:
        raise ValueError("not sealed")
    return _verified(key, kind, name, raw[:_MAC_HEX], raw[_MAC_HEX:])
