"""A wheel runs (issue #11): ``pip install .`` ships conf/ as package data, so an installed sim runs
from any directory. The wheel is built and installed into a scratch directory (no dependencies: they
are this environment's), then used from an empty directory; the kernel compiles once for the new
location (about a minute) and the second command loads it from that cache."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_an_installed_wheel_runs_from_an_empty_directory(tmp_path):
    wheels, target, empty = tmp_path / "wheels", tmp_path / "site", tmp_path / "empty"
    empty.mkdir()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", str(ROOT), "--no-deps", "-w", str(wheels)],
                   check=True, capture_output=True, timeout=600)
    (wheel,) = wheels.glob("sim-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {n.removeprefix("sim/conf/") for n in names if n.startswith("sim/conf/")}
    assert shipped == {str(p.relative_to(ROOT / "conf")) for p in (ROOT / "conf").rglob("*.yaml")}
    assert "sim/data/posterior.parquet" in names
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True,
                   capture_output=True, timeout=600)
    env = {**os.environ, "PYTHONPATH": str(target)}
    run = subprocess.run([sys.executable, "-m", "sim", "replicates=2", "steps=3", "report=false"], cwd=empty,
                         env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    (out,) = (empty / "outputs").glob("*/*")
    assert (out / "summary.json").exists() and (out / "results.parquet").exists()
    api = subprocess.run([sys.executable, "-c", "import sim; print(sim.__file__); print(sim.run(replicates=3, steps=3).summary)"],
                         cwd=empty, env=env, capture_output=True, text=True, timeout=900)
    assert api.returncode == 0, api.stderr
    first, *table = api.stdout.splitlines()
    assert first.startswith(str(target))  # the installed copy, not the source tree
    assert table[0].split()[:3] == ["point", "replicate", "seed"] and "[3 rows x" in table[-1]
