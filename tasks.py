#!/usr/bin/env python3
"""Set up and run the project with nothing but python3 (standard library only).

    python3 tasks.py run  [sim overrides...]   # venv + install, then `python -m sim ...`
    python3 tasks.py test [pytest args...]     # venv + install with [dev,slurm,calib,ema], then pytest

The virtual environment lives in .venv (or $SIM_VENV) and is created with the
interpreter running this script, so `python3.12 tasks.py test` tests on 3.12.
Extras to install can be added with $SIM_EXTRAS (e.g. SIM_EXTRAS=dev,viz).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def venv_python(extras: str) -> str:
    venv = Path(os.environ.get("SIM_VENV", ROOT / ".venv"))
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    extras = os.environ.get("SIM_EXTRAS", extras)
    stamp = venv / f".installed-{extras or 'base'}"
    if not stamp.exists() or stamp.stat().st_mtime < (ROOT / "pyproject.toml").stat().st_mtime:
        target = f".[{extras}]" if extras else "."
        subprocess.run([str(py), "-m", "pip", "install", "-q", "-e", target], cwd=ROOT, check=True)
        stamp.touch()
    return str(py)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("run", "test"):
        print(__doc__)
        return 2
    cmd, rest = argv[0], argv[1:]
    if cmd == "run":
        py = venv_python("")
        return subprocess.call([py, "-m", "sim", *rest], cwd=ROOT)
    py = venv_python("dev,slurm,calib,ema")
    return subprocess.call([py, "-m", "pytest", *rest], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
