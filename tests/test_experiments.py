"""Every study stays runnable: each experiment config, the backtest and the one-at-a-time table at tiny sizes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("[!_]*.yaml"))  # _dirs.yaml: shared output dirs

pytestmark = pytest.mark.slow


def _tiny(name: str) -> list[str]:
    """Overrides that shrink an experiment to seconds: 2 steps, 2 replicates, 2 samples for sampled designs."""
    design = yaml.safe_load((ROOT / "conf" / "experiment" / f"{name}.yaml").read_text(encoding="utf-8"))
    kind = design["experiment"]["design"].get("kind", "grid")
    extra = ["experiment.design.samples=2"] if kind in ("lhs", "sobol", "morris") else []
    return ["steps=2", "experiment.replicates=2", "progress=false", *extra]


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_config_runs_at_tiny_size(name, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sim", f"+experiment={name}", *_tiny(name),
                           f"hydra.run.dir={tmp_path / name}"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / name / "results.parquet").exists()


def test_backtest_runs_at_tiny_size(tmp_path):
    from sim.studies.backtest import main

    assert main(["--replicates", "2", "--source", "default", "-o", str(tmp_path)]) == 0
    for table in ("targets", "roster", "predictions"):
        assert (tmp_path / f"{table}.csv").read_text(encoding="utf-8").count("\n") >= 2


def test_one_at_a_time_table_runs_for_one_parameter(tmp_path):
    from sim.studies.oat import main

    assert main(["--replicates", "2", "-o", str(tmp_path / "oat"), "pressure.intensity"]) == 0
    assert "pressure.intensity" in (tmp_path / "oat.md").read_text(encoding="utf-8")
