"""Atomic file writes: a killed job never leaves a half-written file that looks complete.

DESIGN.md §4 and docs/DATA.md: every table, summary and figure is written to a
temporary name in the destination directory, flushed to disk and then renamed
over the final name with :func:`os.replace` (atomic on POSIX and Windows when
both names are on one file system, which the same directory guarantees).
Shared by the Hydra face (`sim.face.cli`) and the batch engine (`sim.engine.batch`).
"""

from __future__ import annotations

import errno
import json
import math
import os
import tempfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

_UMASK = os.umask(0)
os.umask(_UMASK)  # read the process umask once: mkstemp creates 0600 files, finished files get the usual mode


class WriteError(OSError):
    """A file could not be written (disk full, permission, ...); ``filename`` is the file meant, never the temp name.

    An :class:`OSError` with the original ``errno`` and ``strerror``, so callers
    can tell a full disk (``errno.ENOSPC``) from other failures; :func:`os_error_line`
    words it as one line.
    """


def write_atomic(path: str | Path, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write(fh)`` on a temporary binary file beside ``path``, fsync it, then rename it to ``path``.

    On any error the temporary file is removed and ``path`` is left as it was;
    an :class:`OSError` (e.g. the disk is full) is raised again as a
    :class:`WriteError` naming ``path``.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            with suppress(OSError):
                os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, WriteError):
            raise WriteError(exc.errno, exc.strerror or str(exc), str(path)) from exc
        raise
    return path


def os_error_line(exc: OSError, doing: str = "write") -> str:
    """One line for a failed read or write: the path, what went wrong, and 'disk full' for ENOSPC/EDQUOT."""
    what = exc.strerror or type(exc).__name__
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        what = f"{what} (disk full)"
    where = f" {exc.filename}" if exc.filename else ""
    return f"cannot {doing}{where}: {what}"


def write_parquet_atomic(df, path: str | Path) -> Path:
    """Write a pandas DataFrame as Parquet (pyarrow, no index) atomically."""
    return write_atomic(path, lambda fh: df.to_parquet(fh, engine="pyarrow", index=False))


def _jsonable(obj: Any) -> Any:
    """numpy scalars/arrays to Python; NaN/inf to None (JSON has no NaN)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json_atomic(obj: Any, path: str | Path) -> Path:
    """Write ``obj`` as indented UTF-8 JSON (numpy values converted, NaN as null) atomically."""
    text = json.dumps(_jsonable(obj), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    return write_atomic(path, lambda fh: fh.write(text.encode("utf-8")))


def write_text_atomic(text: str, path: str | Path) -> Path:
    """Write a UTF-8 text file atomically."""
    return write_atomic(path, lambda fh: fh.write(text.encode("utf-8")))


def write_figure_atomic(fig, path: str | Path, dpi: int = 120) -> Path:
    """Save a matplotlib figure atomically; the format comes from the final name's suffix (e.g. PNG)."""
    fmt = Path(path).suffix.lstrip(".") or "png"
    return write_atomic(path, lambda fh: fig.savefig(fh, format=fmt, dpi=dpi, bbox_inches="tight"))
