"""The Python face (issue #11): sim.run / sim.run_experiment take the command line's names, validate
the same way, fail with the same one line, and give the same numbers as `python -m sim`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import sim

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "before_redesign"


def test_run_returns_tidy_tables_equal_to_the_command_line(tmp_path):
    r = sim.run(scenario="historical", replicates=4, seed=0, progress=False)
    assert list(r.summary["replicate"]) == [0, 1, 2, 3] and (r.summary["status"] == "ok").all()
    assert r.timeseries["year"].min() == 1991 and set(r.timeseries["replicate"]) == {0, 1, 2, 3}
    assert r.record["scenario"] == "historical" and r.record["command"].startswith("sim.run(")
    # the command line wrote these tables before the redesign (tests/fixtures/before_redesign)
    assert_frame_equal(r.timeseries, pd.read_parquet(FIXTURE / "run_timeseries.parquet"), check_exact=False, atol=1e-12)
    assert r.dir is None and not any(tmp_path.iterdir())  # nothing written without out=


def test_params_and_keywords_use_the_config_names(tmp_path):
    a = sim.run(params={"pressure.intensity": 0.9}, replicates=2, steps=3, seed=1)
    b = sim.run(params={"pressure": {"intensity": 0.9}}, replicates=2, steps=3, seed=1)
    assert_frame_equal(a.summary, b.summary)
    c = sim.run(params={"pressure.intensity": 0.1}, replicates=2, steps=3, seed=1)
    assert not a.timeseries.equals(c.timeseries)
    out = sim.run(replicates=2, steps=3, out=tmp_path / "run", figures=False)
    assert out.dir == (tmp_path / "run").absolute()
    assert {p.name for p in out.dir.iterdir()} >= {"summary.json", "results.parquet", "timeseries.parquet"}
    assert_frame_equal(pd.read_parquet(out.dir / "results.parquet"), out.summary)


@pytest.mark.parametrize("kwargs, line", [
    ({"params": {"pressure.intensity": 2.0}}, "params.pressure.intensity=2.0 is out of range; allowed [0, 1]"),
    ({"params": {"pressure.intensty": 0.5}}, "params.pressure.intensty: unknown key; allowed under params.pressure"),
    ({"scenario": "nope"}, "scenario=nope: no such scenario config; available: baseline"),
    ({"replicates": 0}, "replicates=0 is out of range; allowed: an integer >= 1"),
    ({"steps": "ten"}, "steps"),
    ({"nonsense": 1}, "nonsense: unknown key"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, kwargs, line):
    with pytest.raises(sim.SimError) as err:
        sim.run(out=tmp_path / "run", **kwargs)
    assert line in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "run").exists()


def test_run_experiment_equals_the_command_line_and_resumes(tmp_path):
    e = sim.run_experiment("test_tiny", tmp_path / "exp", workers=1)
    before = pd.read_parquet(FIXTURE / "experiment_results.parquet")
    assert_frame_equal(e.results[before.columns], before)
    assert e.record["done"] == 12 and e.record["command"].startswith("sim.run_experiment(")
    again = sim.run_experiment("test_tiny", tmp_path / "exp", workers=1)
    assert again.record["ran"] == 0 and again.record["skipped"] == 12
    with pytest.raises(sim.SimError, match="refusing to resume into .* another experiment"):
        sim.run_experiment("test_tiny", tmp_path / "exp", replicates=4, workers=1)


def test_run_experiment_takes_a_design(tmp_path):
    e = sim.run_experiment("test_tiny", tmp_path / "lhs", workers=1, replicates=2,
                           design={"kind": "lhs", "factors": {"params.pressure.intensity": [0.0, 1.0]}, "samples": 3})
    assert list(e.design.columns) == ["point", "params.pressure.intensity"] and len(e.results) == 6
    with pytest.raises(sim.SimError, match=r"params.pressure.intensity=3.0 is out of range"):
        sim.run_experiment("test_tiny", tmp_path / "bad", workers=1,
                           design={"kind": "lhs", "factors": {"params.pressure.intensity": [0.0, 3.0]}, "samples": 3})
    assert not (tmp_path / "bad").exists()


def test_one_command_validates_once(tmp_path):
    """The guard validates before Hydra writes; the job reuses that spec (counted in a subprocess)."""
    code = f"""
import sys
import sim.engine.design as D, sim.face.config as C, sim.face.cli as cli
n = {{"config": 0, "design": 0}}
ov, od = C.validate, D.validate
def v(*a, **k): n["config"] += 1; return ov(*a, **k)
def d(*a, **k): n["design"] += 1; return od(*a, **k)
C.validate = cli.validate = v; C.validate_design = d
sys.argv = ["sim", "+experiment=test_tiny", "experiment.workers=1", "report=false", "hydra.run.dir={tmp_path / 'e'}"]
try:
    cli.main()
finally:
    print(n, file=sys.stderr)
"""
    p = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "{'config': 1, 'design': 1}" in p.stderr
