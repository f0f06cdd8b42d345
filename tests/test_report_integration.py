"""The report on directories made by the real producers: `python -m sim` (run, multirun) and the batch engine.

Small runs (steps=3, replicates 2-3). Each kind has one broken job: a
multirun job with an out-of-range parameter (error.txt, no summary.json) and an
experiment point made to fail through the batch engine's test hook. These
tests also check the producers' directories against docs/DATA.md, so a
deviation shows up here first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from sim.report import Options, make_report
from sim.report.load import load

pytest.importorskip("sim.face.cli")
batch = pytest.importorskip("sim.engine.batch")
pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def sim_cli(*args, env=None) -> subprocess.CompletedProcess:
    e = {**os.environ, **(env or {})}
    e.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run([sys.executable, "-m", "sim", *args, "progress=false"], cwd=ROOT, env=e,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def produced(tmp_path_factory):
    root = tmp_path_factory.mktemp("produced")
    multi = sim_cli("-m", "scenario=baseline,russia_resurgence", "params.pressure.intensity=0.2,1.5",
                    "replicates=2", "steps=3", f"hydra.sweep.dir={root / 'multi'}")
    assert multi.returncode == 1, multi.stderr  # two jobs fail (intensity 1.5), the others run
    fail_hook = getattr(batch, "FAIL_POINTS_ENV", "SIM_BATCH_TEST_FAIL_POINTS")
    exp = sim_cli("experiment=test_tiny", "steps=3", "experiment.replicates=2", "experiment.workers=1",
                  f"hydra.run.dir={root / 'exp'}", env={fail_hook: "1"})
    assert exp.returncode == 1, exp.stderr  # point 1 fails
    shards = sim_cli("-m", "experiment=test_tiny", "steps=3", "experiment.replicates=3", "experiment.workers=1",
                     "experiment.num_shards=3", "experiment.shard=0,1,2", f"hydra.sweep.dir={root / 'shards'}")
    assert shards.returncode == 0, shards.stderr
    return root


def test_multirun_follows_the_contract(produced):
    jobs = sorted(p for p in (produced / "multi").iterdir() if p.is_dir() and p.name != "report")
    assert (produced / "multi" / "multirun.yaml").exists() and len(jobs) == 4
    # folders named by the swept values only (replicates=2 steps=3 progress=false were not swept)
    assert [j.name for j in jobs] == [f"params.pressure.intensity={x},scenario={s}" for x in ("0.2", "1.5")
                                      for s in ("baseline", "russia_resurgence")]
    for job in jobs:
        assert (job / ".hydra" / "overrides.yaml").exists() and (job / ".hydra" / "config.yaml").exists()
        if "1.5" in job.name:
            assert (job / "error.txt").exists() and not (job / "summary.json").exists()
        else:
            for f in ("summary.json", "timeseries.parquet", "agents.parquet", "events.parquet", "pairs.parquet"):
                assert (job / f).exists(), f


def test_a_multirun_writes_its_report_by_default(produced):
    page = (produced / "multi" / "report" / "report.html").read_text()
    assert 'id="headline"' in page and "Failed and incomplete jobs (2 row(s))" in page
    assert f"hydra.sweep.dir={produced / 'multi'}" in page  # the exact command, with its sweep folder
    assert not (produced / "multi" / "params.pressure.intensity=0.2,scenario=baseline" / "report").exists()


def test_a_run_writes_its_report_unless_report_false(tmp_path):
    done = sim_cli("replicates=2", "steps=2", "figures=false", f"hydra.run.dir={tmp_path / 'a'}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().splitlines()[-1] == f"report: {tmp_path / 'a' / 'report' / 'report.html'}"
    assert (tmp_path / "a" / "report" / "figures" / "conditions.pdf").exists()
    off = sim_cli("replicates=2", "steps=2", "figures=false", "report=false", f"hydra.run.dir={tmp_path / 'b'}")
    assert off.returncode == 0, off.stderr
    assert not (tmp_path / "b" / "report").exists() and "report:" not in off.stdout


def test_report_on_a_real_run_dir(produced, tmp_path):
    job = next(p for p in (produced / "multi").iterdir() if p.is_dir() and "0.2" in p.name)
    r = make_report(job, tmp_path / "r", Options(pdf=False))
    assert {f.name for f in r.figures if f.drawn} == {"conditions", "phase_probability", "time_to_phase",
                                                     "memberships", "network", "postures"}
    res = pd.read_parquet(tmp_path / "r" / "results.parquet")
    assert len(res) == 2 and res["status"].eq("ok").all()
    assert not r.study.problems


def test_report_on_a_real_multirun(produced, tmp_path):
    r = make_report(produced / "multi", tmp_path / "r", Options(pdf=False))
    res = pd.read_parquet(tmp_path / "r" / "results.parquet")
    assert len(res) == 2 * 2 + 2
    assert res["status"].value_counts().to_dict() == {"ok": 4, "failed": 2}
    assert res.loc[res["status"] == "failed", "error"].str.contains("out of range").all()
    assert set(res.loc[res["status"] == "ok", "scenario"]) == {"baseline", "russia_resurgence"}
    assert "params.pressure.intensity" in res.columns and "replicates" not in res.columns  # only varied overrides
    page = (tmp_path / "r" / "report.html").read_text()
    assert page.count('<img src="data:image/png;base64,') == sum(f.drawn for f in r.figures) == 6
    assert "Failed and incomplete jobs (2 row(s))" in page


def test_report_on_a_real_experiment(produced, tmp_path):
    res_in = pq.read_table(produced / "exp" / "results.parquet").to_pandas()
    for c in ("point", "replicate", "seed", "status", "error", "params.pressure.intensity", "phase_reached"):
        assert c in res_in.columns
    r = make_report(produced / "exp", tmp_path / "r", Options(pdf=False))
    res = pd.read_parquet(tmp_path / "r" / "results.parquet")
    assert len(res) == 4 * 2
    assert res.loc[res["status"] == "failed", ["point", "replicate"]].values.tolist() == [[1, 0], [1, 1]]
    assert {f.name for f in r.figures if f.drawn} == {"conditions", "phase_probability", "time_to_phase",
                                                     "phase_diagram", "memberships"}
    diag = next(f for f in r.figures if f.name == "phase_diagram").data
    assert int(diag["n"].sum()) == 6 and diag["kind"] == "grid"
    assert r.study.question.startswith("Smoke test of the batch engine")
    assert "experiment=test_tiny" in r.study.commands[0]


def test_report_merges_real_shards_exactly(produced, tmp_path):
    exp = json.loads((produced / "shards" / "shard_0of3" / "experiment.json").read_text())
    assert exp["num_shards"] == 3
    s = load(produced / "shards")
    assert s.kind == "shards" and len(s.frame()) == 4 * 3
    agg = s.aggregates(["trust_mean"])
    assert agg.groupby("point").size().nunique() == 1  # one row per step and point, split points merged
    assert (agg["n"] == 3).all()  # over all 3 replicates, though points 1 and 2 were split over shards
    merged = batch.merge([produced / "shards"])["aggregates"]
    m = merged[merged["metric"] == "trust_mean"].sort_values(["point", "step"])
    pd.testing.assert_series_equal(agg.sort_values(["point", "step"])["q50"].reset_index(drop=True),
                                   m["q50"].reset_index(drop=True), check_names=False)
    r = make_report(produced / "shards", tmp_path / "r", Options(pdf=False))
    assert not r.study.notes  # no approximation needed
