"""What the extraction scripts share: writing a bundled file so that a rerun gives the same bytes."""

import gzip
import hashlib
import io
from pathlib import Path


def write_reproducibly(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, gzipped (level 9, mtime 0, so reproducible) if it ends in .gz."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        buffer = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=buffer, mtime=0) as file:
            file.write(data)
        path.write_bytes(buffer.getvalue())
    else:
        path.write_bytes(data)
    print(f"wrote {path} ({path.stat().st_size} bytes; content sha256 "
          f"{hashlib.sha256(data).hexdigest()}, file sha256 "
          f"{hashlib.sha256(path.read_bytes()).hexdigest()})")
