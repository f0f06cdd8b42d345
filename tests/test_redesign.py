"""Issue #11 changed the layout, the results schema and the validation path, not the results.

tests/fixtures/before_redesign/ holds tables written by the code before the
redesign (its README gives the commands). The same commands now must give the
same tables: discrete columns equal, floats equal to 1e-12 (the compiled
kernel's summation order may move the last bits), the results table's columns
the same set (their order is now the schema's, docs/DATA.md, instead of the
order in which values first appeared).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "before_redesign"
ROOT = Path(__file__).resolve().parents[1]


def _sim(*args, cwd: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "sim", *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def now(tmp_path_factory):
    d = tmp_path_factory.mktemp("redesign")
    _sim("scenario=historical", "replicates=4", "figures=false", "report=false", "progress=false",
         f"hydra.run.dir={d / 'run'}", cwd=d)
    _sim("+experiment=test_tiny", "report=false", f"hydra.run.dir={d / 'exp'}", cwd=d)
    return d


def assert_same(before: pd.DataFrame, after: pd.DataFrame) -> None:
    assert sorted(before.columns) == sorted(after.columns)
    assert len(before) == len(after)
    for c in before.columns:
        x, y = before[c], after[c]
        if pd.api.types.is_float_dtype(x) or pd.api.types.is_float_dtype(y):
            np.testing.assert_allclose(x.to_numpy(float), y.to_numpy(float), rtol=0, atol=1e-12, err_msg=c)
        else:
            assert x.astype(object).where(x.notna(), None).tolist() == \
                y.astype(object).where(y.notna(), None).tolist(), c


def test_run_tables_are_those_written_before_the_redesign(now):
    for name in ("timeseries", "events"):
        assert_same(pd.read_parquet(FIXTURE / f"run_{name}.parquet"), pd.read_parquet(now / "run" / f"{name}.parquet"))
    before = json.loads((FIXTURE / "run_summary.json").read_text())
    after = json.loads((now / "run" / "summary.json").read_text())
    assert after["aggregate"] == before["aggregate"]
    assert len(after["replicates"]) == len(before["replicates"])
    for a, b in zip(after["replicates"], before["replicates"]):
        assert {k: v for k, v in a.items() if k != "final"} == {k: v for k, v in b.items() if k != "final"}
        np.testing.assert_allclose([a["final"][k] for k in b["final"]], list(b["final"].values()), rtol=0, atol=1e-12)


def test_experiment_tables_are_those_written_before_the_redesign(now):
    assert_same(pd.read_parquet(FIXTURE / "experiment_results.parquet"), pd.read_parquet(now / "exp" / "results.parquet"))
    assert_same(pd.read_parquet(FIXTURE / "experiment_aggregates.parquet"),
                pd.read_parquet(now / "exp" / "aggregates.parquet"))


def test_a_run_now_writes_the_results_table_an_experiment_writes():
    """One schema: a run's results.parquet has the columns of an experiment's, less the factor columns."""
    exp = pd.read_parquet(FIXTURE / "experiment_results.parquet")
    factors = [c for c in exp.columns if c.startswith("params.")]
    from sim.core.world import load_world
    from sim.engine import tables

    assert sorted(tables.results_schema(load_world("turkic")).names) == sorted(c for c in exp.columns if c not in factors)
