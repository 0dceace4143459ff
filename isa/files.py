"""Writing output files atomically, for every vitc component: the bytes go to a temporary file in
the target's folder, which is then renamed over the target. A failed write (full disk, a folder
that is a file, an exception while producing the data) leaves no half-written file and the old
file, if any, intact. Written files get ordinary permissions (0644), not mkstemp's private ones.
"""

import os
import pathlib
import tempfile

from isa.errors import VitcError


def write_file_atomically(path: str | os.PathLike, data: bytes, *, make_parents: bool = False) -> None:
    """Replace `path` by `data` in one rename; `make_parents` creates missing folders first."""
    path = pathlib.Path(path)
    try:
        if make_parents:
            path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise VitcError(f"cannot write {path}: {err.strerror}") from None
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException as err:
        pathlib.Path(temp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise VitcError(f"cannot write {path}: {err.strerror}") from None
        raise
