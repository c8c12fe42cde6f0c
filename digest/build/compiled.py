"""Compiled templates kept between builds, in the build cache (``.digest-cache/templates``).

Jinja2 compiles every template to Python on first use in each process (a tenth of an
edit build); its bytecode cache keeps the compiled code.  That code is marshalled
Python, and Jinja2 reads its header with pickle: loading a file from elsewhere would
run its code.  So every file is sealed with this user's key (digest.build.seal), as
every cache record is, and one that fails the check is compiled again and replaced;
files are read without following a link and written through a temporary name.
Jinja2 itself checks each file against the template's source and the Python version.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2

from digest.build.seal import seal_bytes, unseal_bytes, user_key

if TYPE_CHECKING:
    from jinja2.bccache import Bucket

_MAX = 16 << 20  # a compiled template is a few hundred KB at most


class SealedBytecode(jinja2.BytecodeCache):
    """``state``: the templates' and digest's own state (digest.build.stages.templates_state).
    Jinja2 checks a file only against its template's source, but the compiled code also
    depends on the environment digest's code sets up; so the state is part of the check."""

    def __init__(self, folder: Path, state: bytes) -> None:
        self.folder = folder
        self.state = state + f"\0jinja2 {jinja2.__version__}".encode()  # compiled code calls Jinja2's runtime

    def get_source_checksum(self, source: str) -> str:
        return hashlib.sha256(self.state + b"\0" + source.encode("utf-8", "surrogatepass")).hexdigest()

    def _path(self, bucket: Bucket) -> Path:
        return self.folder / f"{bucket.key}.bin"  # the key is a hex digest of the template's name

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            fd = os.open(self._path(bucket), os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as f:
                raw = f.read(_MAX + 1)
            body = unseal_bytes(user_key(), "template", bucket.key, raw)
        except (OSError, ValueError):
            return  # not kept, or not ours: compiled afresh
        bucket.bytecode_from_string(body)

    def dump_bytecode(self, bucket: Bucket) -> None:
        if (key := user_key()) is None:
            return
        path = self._path(bucket)
        tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
        try:
            path.parent.mkdir(exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(seal_bytes(key, "template", bucket.key, bucket.bytecode_to_string()))
            os.replace(tmp, path)
        except OSError:  # a cache that cannot be written only costs speed
            try:
                os.unlink(tmp)
            except OSError:
                pass
