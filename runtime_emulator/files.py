"""Writing output files atomically: a temporary file in the same folder, then a rename, so a
failed run never leaves a half-written file behind."""

import os
import tempfile
from pathlib import Path
from typing import Callable, BinaryIO

from isa.errors import VitcError


def write_atomically(path, write: Callable[[BinaryIO], None]) -> None:
    """Call `write(file)` on a temporary file next to `path`, then rename it to `path`."""
    target = Path(path)
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as err:
        raise VitcError(f"cannot write {target}: {err.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
