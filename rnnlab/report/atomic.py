"""Writing a file so that readers see the old version or the new one, never a partial one."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def write_bytes_atomically(path: str | os.PathLike, data: bytes) -> Path:
    """Writes `data` to `path` through a temporary file in the same directory and os.replace.

    The temporary file is in the same directory so that os.replace is a rename on one file system
    (atomic on POSIX and Windows); it is removed if anything fails before the rename.

    Args:
        path: the destination; its directory must exist.
        data: the file's full contents.

    Returns:
        `path` as a Path.
    """
    path = Path(path)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())  # the bytes are on disk before the name points at them
        os.chmod(temporary, 0o644)  # mkstemp makes it owner-only; a report is meant to be shared
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | os.PathLike, value) -> Path:
    """Writes `value` as indented JSON, atomically."""
    return write_bytes_atomically(path, (json.dumps(value, indent=2) + "\n").encode("utf-8"))


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Writes `text` as UTF-8, atomically."""
    return write_bytes_atomically(path, text.encode("utf-8"))
