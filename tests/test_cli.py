"""End-to-end tests of ``python -m sim`` in a subprocess: run directory, multirun, bad input, determinism.

docs/DATA.md is the contract checked here; DESIGN.md §6 the bad-input bar:
one line on stderr naming the key, a non-zero exit, no traceback, nothing
written or changed. Every command runs in ``tmp_path`` (cwd and output dirs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf

from sim.face.config import config_hash
from sim.core.metrics import PHASES

TABLES = ("timeseries", "agents", "events", "pairs")
FIGURES = ("conditions.png", "memberships.png", "network.png")
SMALL = ("replicates=3", "steps=6", "seed=7")


def sim(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m sim ARGS`` in ``cwd``, without HYDRA_FULL_ERROR, capturing text output."""
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    return subprocess.run([sys.executable, "-m", "sim", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def snapshot(directory: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under ``directory`` (hidden ones included): relative path -> (mtime_ns, bytes)."""
    return {str(p.relative_to(directory)): (p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """One finished single run with the default config except a small size."""
    root = tmp_path_factory.mktemp("cli")
    proc = sim(f"hydra.run.dir={root}/run", *SMALL, cwd=root)
    assert proc.returncode == 0, proc.stderr
    return root / "run"


def check_run_dir(run: Path, replicates: int, steps: int) -> dict:
    """The files of docs/DATA.md "Single run directory" exist and summary.json agrees with the tables."""
    assert {".hydra/config.yaml", ".hydra/overrides.yaml", ".hydra/hydra.yaml"} <= set(snapshot(run))
    for name in TABLES:
        assert (run / f"{name}.parquet").is_file(), name
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    for key in ("sim_version", "config_hash", "seed", "seeds", "world", "scenario", "command", "created",
                "replicates", "aggregate"):
        assert key in summary, key
    assert summary["seeds"] == [{"replicate": k, "spawn_key": [k]} for k in range(replicates)]
    ts = pd.read_parquet(run / "timeseries.parquet")
    events = pd.read_parquet(run / "events.parquet")
    assert len(ts) == replicates * (steps + 1) and ts["replicate"].nunique() == len(summary["replicates"]) == replicates
    for rec in summary["replicates"]:
        mine = ts[ts["replicate"] == rec["replicate"]]
        assert rec["phase_reached"] == PHASES[mine["phase"].max()]
        assert rec["phase_final"] == PHASES[mine["phase"].iloc[-1]]
        assert rec["incidents"] == mine.loc[mine["step"] > 0, "incidents"].sum()
        assert rec["member_incidents"] == mine.loc[mine["step"] > 0, "member_incidents"].sum()
        own = events[events["replicate"] == rec["replicate"]]
        assert rec["joins"] == (own["type"] == "join").sum() and rec["exits"] == (own["type"] == "exit").sum()
        assert rec["incidents"] == (own["type"] == "incident").sum()
    agg = summary["aggregate"]
    assert sum(agg["phase_reached"].values()) == replicates
    cfg = OmegaConf.load(run / ".hydra" / "config.yaml")
    assert summary["config_hash"] == config_hash(cfg)
    return summary


def test_single_run_writes_the_data_contract(finished):
    summary = check_run_dir(finished, replicates=3, steps=6)
    assert summary["seed"] == 7 and summary["world"] == "turkic" and summary["scenario"] == "baseline"
    assert sorted(p.name for p in (finished / "figures").iterdir()) == list(FIGURES)
    agents = pd.read_parquet(finished / "agents.parquet")
    assert len(agents) == 3 * 7 * 11
    pairs = pd.read_parquet(finished / "pairs.parquet")
    assert sorted(pairs["step"].unique()) == [0, 5, 6] and len(pairs) == 3 * 3 * 55


def test_same_command_twice_gives_identical_tables(finished):
    root = finished.parent
    proc = sim(f"hydra.run.dir={root}/again", *SMALL, cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert "highest phase reached" in proc.stdout
    for name in TABLES:
        pd.testing.assert_frame_equal(pd.read_parquet(finished / f"{name}.parquet"),
                                      pd.read_parquet(root / "again" / f"{name}.parquet"))


def test_multirun_names_job_folders_by_the_swept_values(tmp_path):
    proc = sim("-m", "params.pressure.intensity=0.2,0.8", "seed=0,1", "replicates=2", "steps=3", "figures=false",
               f"hydra.sweep.dir={tmp_path}/sweep", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    jobs = sorted(p.name for p in (tmp_path / "sweep").iterdir() if p.is_dir() and p.name != "report")
    assert jobs == [f"params.pressure.intensity={x},seed={s}" for x in ("0.2", "0.8") for s in (0, 1)]  # swept only
    assert (tmp_path / "sweep" / "multirun.yaml").is_file()
    for job in jobs:
        summary = check_run_dir(tmp_path / "sweep" / job, replicates=2, steps=3)
        assert f"seed={summary['seed']}" in job


def test_a_failed_job_leaves_error_txt_and_the_others_finish(tmp_path):
    proc = sim("-m", "params.pressure.intensity=1.5,0.3", "replicates=2", "steps=2", "figures=false",
               f"hydra.sweep.dir={tmp_path}/sweep", cwd=tmp_path)
    assert proc.returncode == 1
    assert "1 job(s) failed" in proc.stderr.strip().splitlines()[-1] and "Traceback" not in proc.stderr
    bad = tmp_path / "sweep" / "params.pressure.intensity=1.5"
    good = tmp_path / "sweep" / "params.pressure.intensity=0.3"
    error = (bad / "error.txt").read_text(encoding="utf-8")
    assert error == "params.pressure.intensity=1.5 is out of range; allowed [0, 1]\n"
    assert not (bad / "summary.json").exists()
    check_run_dir(good, replicates=2, steps=2)


BAD_INPUT = {
    "unknown key": (["params.nonexistent=1"],
                    "params.nonexistent: unknown key; allowed under params: mechanisms, pressure"),
    "unknown nested key": (["params.pressure.intensty=0.3"], "params.pressure.intensty: unknown key; allowed"),
    "wrong type": (["steps=abc"], "steps: Value 'abc' of type 'str' could not be converted to Integer"),
    "out of range": (["params.pressure.intensity=1.5"],
                     "params.pressure.intensity=1.5 is out of range; allowed [0, 1]"),
    "unknown scenario": (["scenario=nope"], "scenario=nope: no such scenario config; available: baseline,"),
    "unknown world": (["world=nope"], "world=nope: no such world config; available: synthetic, turkic"),
    "unknown state code in an event": (["scenario.events=[{year: 2030, type: war, states: [AZE, XYZ]}]"],
                                       "scenario.events[0] (war 2030): unknown state code 'XYZ'; known: TUR"),
    "malformed world file": (["--config-dir", "EXTRA", "world=bad"],
                             "world bad.yaml: state 'TUR': field 'capability' = 'high' is not a number"),
    "world file not YAML": (["--config-dir", "EXTRA", "world=broken"], "YAML error in "),
}


@pytest.fixture(scope="module")
def bad_runs(finished, tmp_path_factory):
    """Every BAD_INPUT command, aimed at the finished run, run concurrently; with snapshots before and after.

    Each runs in its own empty working directory (so a stray ``outputs/`` would show). A user config dir
    (``--config-dir EXTRA``) holds a malformed world and a world file that is not YAML.
    """
    root = tmp_path_factory.mktemp("bad")
    turkic = (Path(__file__).resolve().parents[1] / "conf" / "world" / "turkic.yaml").read_text(encoding="utf-8")
    bad = turkic.replace("    capability: 0.40 ", "    capability: high ")
    assert bad != turkic
    (root / "extra" / "world").mkdir(parents=True)
    (root / "extra" / "world" / "bad.yaml").write_text(bad, encoding="utf-8")
    (root / "extra" / "world" / "broken.yaml").write_text("name: x\nfeatures: [a\n", encoding="utf-8")
    before = snapshot(finished)

    def one(case):
        cwd = root / case.replace(" ", "_")
        cwd.mkdir()
        args = [str(root / "extra") if a == "EXTRA" else a for a in BAD_INPUT[case][0]]
        return case, (sim(*args, f"hydra.run.dir={finished}", cwd=cwd), cwd)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = dict(pool.map(one, BAD_INPUT))
    return results, before, snapshot(finished)


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_one_line_and_leaves_a_finished_run_untouched(case, bad_runs, finished):
    results, before, after = bad_runs
    proc, cwd = results[case]
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("sim: error: "), proc.stderr
    assert BAD_INPUT[case][1] in proc.stderr and "Traceback" not in proc.stderr
    assert after == before
    assert not any(cwd.iterdir())  # no outputs/ either


def test_a_good_config_refuses_to_overwrite_a_finished_run(finished):
    before = snapshot(finished)
    proc = sim(f"hydra.run.dir={finished}", *SMALL, cwd=finished.parent)
    assert proc.returncode == 2
    assert proc.stderr == f"sim: error: hydra.run.dir={finished}: already holds a finished run (summary.json); " \
                          "choose a new directory\n"
    assert snapshot(finished) == before


def test_an_unwritable_output_directory_is_refused_before_anything_is_written(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    proc = sim(f"hydra.run.dir={tmp_path}/file/run", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith(f"sim: error: hydra.run.dir={tmp_path}/file/run: cannot write there")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
