"""The on-disk cache of built models: one file per complete build key, written atomically.

The cache directory is `$VITC_CACHE` or `~/.cache/vitc/models`. A file's name carries a readable
stem and the first 16 hex digits of the sha256 of the canonical JSON of its key, and the key
includes the versions of every tool whose output lands in the file, so a stale file is never
reused. A file appears only complete: it is produced under a temporary name in the same
directory and renamed into place, so a crash or a concurrent builder never exposes half a file.
"""

import hashlib
import json
import os
import pathlib
from collections.abc import Callable

from isa.files import write_file_atomically


def cache_dir() -> pathlib.Path:
    configured = os.environ.get("VITC_CACHE")
    return pathlib.Path(configured) if configured else pathlib.Path.home() / ".cache" / "vitc" / "models"


def key_digest(key: dict) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def write_atomically(path: pathlib.Path, data: bytes) -> None:
    """Write `data` to `path` atomically, creating the cache folders it needs."""
    write_file_atomically(path, data, make_parents=True)


def cached(stem: str, key: dict, produce: Callable[[], bytes], suffix: str = ".onnx") -> pathlib.Path:
    """The cache file for `key`, calling `produce()` for its bytes only when it is missing."""
    path = cache_dir() / f"{stem}-{key_digest(key)[:16]}{suffix}"
    if path.is_file():
        return path
    write_atomically(path, produce())
    return path
