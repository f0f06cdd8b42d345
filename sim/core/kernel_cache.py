"""Where the compiled kernel is cached, and whether the cache holds it, without importing numba.

The batch engine's parent process asks :func:`cache_is_fresh` before it starts its
workers (a stale cache is compiled once, there, instead of once per worker) and
otherwise never steps a model, so it need not pay numba's import (~0.2 s) or the
kernel's load (~0.35 s). :mod:`sim.core.kernel_jit` reads :data:`CACHE_DIR` before it
imports numba.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path

#: The file numba's cache is keyed on (its source stamp).
KERNEL_SOURCE = Path(__file__).resolve().parent / "kernel_jit.py"
#: numba's cache index of the kernel's entry point.
INDEX_GLOB = "kernel_jit._advance-*.nbi"


def _writable(d: Path) -> bool:
    try:
        d.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=d):
            pass
        return True
    except OSError:
        return False


def _choose_cache_dir() -> str | None:
    """None when numba's default (``__pycache__`` beside the kernel) is writable, else a writable directory."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return os.environ["NUMBA_CACHE_DIR"]
    if _writable(KERNEL_SOURCE.parent / "__pycache__"):
        return None
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sim-numba"
    if _writable(home):
        return str(home)
    return str(Path(tempfile.gettempdir()) / f"sim-numba-{os.getuid() if hasattr(os, 'getuid') else 'user'}")


#: None: numba's default beside the source; else the directory given to numba (NUMBA_CACHE_DIR).
CACHE_DIR = _choose_cache_dir()
if CACHE_DIR is not None:
    os.environ.setdefault("NUMBA_CACHE_DIR", CACHE_DIR)


def cache_dir() -> Path:
    """Where the compiled kernel is cached."""
    return Path(CACHE_DIR) if CACHE_DIR is not None else KERNEL_SOURCE.parent / "__pycache__"


def cached_on_disk() -> bool:
    """Whether an index of the compiled kernel exists in the cache directory (it may still be stale)."""
    try:
        return any(cache_dir().glob(INDEX_GLOB))
    except OSError:
        return False


class _Opaque:
    """Stands in for any numba object in the cache index (its compiled signatures): only their count matters."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass


class _IndexUnpickler(pickle.Unpickler):
    """Reads numba's index file without importing numba (which unpickling its types would)."""

    def find_class(self, module, name):
        if module.split(".")[0] in ("numba", "llvmlite"):
            return _Opaque
        return super().find_class(module, name)


def cache_is_fresh() -> bool:
    """Whether the on-disk cache holds the kernel for the current sim/core/kernel_jit.py (loading it will not compile).

    Reads numba's index file: numba's version, then the source stamp (numba >= 0.61: the SHA-256 of
    the source file; older: its (mtime, size)) and the compiled signatures. Any doubt counts as stale.
    """
    import hashlib
    import io
    from importlib.metadata import version

    try:
        numba_version = version("numba")
        st = os.stat(KERNEL_SOURCE)
        digest = hashlib.sha256(KERNEL_SOURCE.read_bytes()).digest()
        for index in cache_dir().glob(INDEX_GLOB):
            with open(index, "rb") as f:
                if pickle.load(f) != numba_version:
                    continue
                stamp, overloads = _IndexUnpickler(io.BytesIO(f.read())).load()
            if stamp in (digest, (st.st_mtime, st.st_size)) and overloads:
                return True
    except Exception:  # noqa: BLE001 -- an unreadable or foreign index, or no numba: not fresh
        return False
    return False
