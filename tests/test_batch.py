"""Tests for sim.engine.batch: the sweep engine (reproducibility across splits, resume, failures, shards, launchers).

Tiny designs only (conf/experiment/test_tiny.yaml: 2 x 2 points, 3 replicates, 5 steps).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from pandas.testing import assert_frame_equal

import sim.engine.batch as batch
from sim.engine.tables import results_frame
from sim.engine.batch import RefusedError
from sim.face.config import CONF_DIR, HYDRA_VERSION_BASE, validate
from sim.engine.simulate import simulate, summarize

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


def tiny(*overrides):
    """The validated spec of test_tiny with ``overrides`` (what the face hands the batch engine)."""
    with initialize_config_dir(str(CONF_DIR), version_base=HYDRA_VERSION_BASE):
        return validate(compose("config", overrides=["experiment=test_tiny", *overrides]))


def tables(d):
    return pd.read_parquet(Path(d) / "results.parquet"), pd.read_parquet(Path(d) / "aggregates.parquet")


def sim_cmd(*args):
    return [PY, "-m", "sim", *args]


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    """The reference: test_tiny run serially in this process, one array call per point."""
    out = tmp_path_factory.mktemp("serial")
    summary = batch.run_experiment(tiny("experiment.workers=1"), out)
    return out, summary


# --------------------------------------------------------------------------- keys and shards


@pytest.mark.parametrize("points, reps, K", [(4, 3, 2), (4, 3, 5), (7, 20, 3), (1, 10, 4), (3, 1, 3)])
def test_shards_partition_the_keys_in_contiguous_slices(points, reps, K):
    keys = [[(p, r) for p, a, b in batch.shard_ranges(points, reps, i, K) for r in range(a, b)] for i in range(K)]
    flat = [k for shard in keys for k in shard]
    assert flat == [(p, r) for p in range(points) for r in range(reps)]  # disjoint, complete, in order
    sizes = [len(s) for s in keys]
    assert max(sizes) - min(sizes) <= 1


def test_tasks_cover_pending_keys_in_blocks():
    from sim.engine.design import Factor

    table = pd.DataFrame({"point": [0, 1], "x": [0.1, 0.2]})
    f = [Factor("x", "params", "pressure.intensity", float)]
    tasks = batch.make_tasks(table, f, [(0, 0, 5), (1, 0, 5)], done={(0, 2), (1, 0), (1, 1)}, batch=2)
    assert [(t.point, t.first, t.count) for t in tasks] == [(0, 0, 2), (0, 3, 2), (1, 2, 2), (1, 4, 1)]


# --------------------------------------------------------------------------- the tables


def test_experiment_directory_follows_the_data_contract(serial):
    out, summary = serial
    res, agg = tables(out)
    meta = json.loads((out / "experiment.json").read_text())
    for key in ("name", "description", "design", "points", "replicates", "seed", "sim_version", "config_hash",
                "shard", "num_shards", "done", "failed", "command", "created"):
        assert key in meta
    assert meta["done"] == 12 and meta["failed"] == 0 and summary["done"] == 12
    assert list(res.columns[:7]) == ["point", "replicate", "seed", "status", "error",
                                     "params.pressure.intensity", "params.identity.confidence"]
    assert {"phase_reached", "phase_final", "first_year_nascent", "incidents", "joins", "exits",
            "final_trust_mean", "level_OTS_TUR", "founded_OTS"} <= set(res.columns)
    assert res[["point", "replicate"]].values.tolist() == [[p, r] for p in range(4) for r in range(3)]
    assert (res["status"] == "ok").all() and res["error"].isna().all()
    assert list(agg.columns) == ["point", "step", "year", "metric", "mean", "q10", "q50", "q90", "n"]
    assert len(agg) == 4 * 6 * 10  # points x (steps + 1) x metrics
    assert (agg["q10"] <= agg["q50"]).all() and (agg["q50"] <= agg["q90"]).all()
    design = pd.read_parquet(out / "design.parquet")
    assert design.shape == (4, 3)
    assert any((out / "chunks").glob("*.results.parquet"))


def test_aggregates_are_the_quantiles_of_the_replicates(serial):
    out, _ = serial
    _, agg = tables(out)
    from sim.core.params import with_overrides

    v = tiny()
    p = with_overrides(v.params, {"pressure.intensity": 0.8, "identity.confidence": 0.4})  # point 3
    tr = simulate(v.world, v.scenario, p, seed=0, replicates=3, steps=5, agents=False, pairs=False)
    got = agg[(agg["point"] == 3) & (agg["metric"] == "trust_mean")].sort_values("step")
    np.testing.assert_array_equal(got["mean"], tr.timeseries["trust_mean"].mean(1))
    np.testing.assert_array_equal(got["q50"], np.quantile(tr.timeseries["trust_mean"], 0.5, axis=1))


def test_a_row_is_the_replicate_run_alone(serial):
    """Replicate k of point p equals simulate(..., replicates=1, first=k): bit-identical whatever the batch."""
    out, _ = serial
    res, _ = tables(out)
    from sim.core.params import with_overrides

    v = tiny()
    p = with_overrides(v.params, {"pressure.intensity": 0.2, "identity.confidence": 0.4})  # point 1
    alone = summarize(simulate(v.world, v.scenario, p, seed=0, replicates=1, first=2, steps=5,
                               agents=False, pairs=False))[0]
    row = res[(res["point"] == 1) & (res["replicate"] == 2)].iloc[0]
    for k, v_ in alone["final"].items():
        assert row[f"final_{k}"] == v_
    assert row["phase_reached"] == alone["phase_reached"] and row["incidents"] == alone["incidents"]
    assert row["joins"] == alone["joins"] and row["exits"] == alone["exits"]


def test_serial_equals_two_workers_equals_merged_shards(serial, tmp_path):
    ref_dir, _ = serial
    ref = batch.merge([ref_dir])
    batch.run_experiment(tiny("experiment.workers=2", "experiment.batch_replicates=2"), tmp_path / "w2")
    for i in range(2):  # shards split point 1 between them; blocks of one replicate
        batch.run_experiment(tiny("experiment.workers=1", "experiment.num_shards=2", f"experiment.shard={i}",
                                  "experiment.batch_replicates=1", "experiment.chunk_rows=4"), tmp_path / "sh")
    assert sorted(p.name for p in (tmp_path / "sh").iterdir()) == ["shard_0of2", "shard_1of2"]
    for other in (batch.merge([tmp_path / "w2"]), batch.merge([tmp_path / "sh"]),
                  batch.merge([tmp_path / "sh" / "shard_1of2", tmp_path / "sh" / "shard_0of2"])):
        assert_frame_equal(results_frame(other["results"]), results_frame(ref["results"]))
        for name in ("aggregates", "design"):
            assert_frame_equal(other[name], ref[name])
    res, agg = tables(ref_dir)  # what was written is what merge gives
    assert_frame_equal(res, results_frame(ref["results"]))
    assert_frame_equal(agg, ref["aggregates"])
    assert_frame_equal(tables(tmp_path / "w2")[0], res)
    # merging shards on the command line writes the single-machine tables
    assert batch.main(["merge", str(tmp_path / "sh"), "-o", str(tmp_path / "merged")]) == 0
    assert_frame_equal(tables(tmp_path / "merged")[0], res)
    assert_frame_equal(tables(tmp_path / "merged")[1], agg)


def test_merge_refuses_different_experiments(serial, tmp_path):
    batch.run_experiment(tiny("experiment.workers=1", "seed=1"), tmp_path / "other")
    with pytest.raises(batch.BatchError, match="different experiments"):
        batch.merge([serial[0], tmp_path / "other"])


def test_workers_import_neither_mesa_nor_hydra():
    with batch.worker_pool(2) as pool:  # the engine's own pool: its workers load the kernel when they start
        mods = pool.submit(batch._worker_modules).result()
    assert "sim" in mods and "numpy" in mods and "numba" in mods
    assert "mesa" not in mods and "hydra" not in mods
    # spawned workers of `python -m sim` import sim/__main__.py as __mp_main__: that must not pull in the face
    code = ("import runpy, sys; runpy.run_module('sim.__main__', run_name='__mp_main__'); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'hydra', 'omegaconf', 'numba', 'mesa'}))")
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"
    out = subprocess.run([PY, "-X", "importtime", "-c", "import sim.engine.batch"], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    imported = {line.split("|")[-1].strip() for line in out.stderr.splitlines() if "|" in line}
    assert "sim.engine.batch" in imported and not {m for m in imported if m.split(".")[0] in ("mesa", "hydra")}


# --------------------------------------------------------------------------- resume, faults


@pytest.mark.parametrize("args, expected", [
    (["experiment=test_tiny"], "cores"), (["experiment=test_tiny", "experiment.workers=3"], 3),
    (["experiment=test_tiny", "experiment.workers=1"], 1), (["experiment=test_tiny", "experiment.workers=0"], "cores"),
    (["-m", "experiment=test_tiny"], 0), (["experiment=test_tiny", "--cfg", "job"], 0), (["seed=3"], 0),
    (["experiment=test_tiny", "experiment.workers=x"], 0)])
def test_the_command_line_prestarts_workers_only_for_an_experiment(args, expected):
    from sim.engine.resources import cpu_count
    from sim.face.cli import prestart_workers

    assert prestart_workers(args) == (cpu_count() if expected == "cores" else expected)


def test_a_prestarted_pool_is_taken_by_the_sweep_or_stopped():
    """The pool started before composing serves a sweep of that many workers; otherwise its processes end."""
    batch.prestart(2)
    first = batch._PRESTARTED
    with batch.worker_pool(2) as pool:
        assert pool is first and batch._PRESTARTED is None
        assert len({pool.submit(batch._ready).result() for _ in range(4)}) <= 2
    batch.prestart(2)
    procs = list(batch._PRESTARTED.sim_processes.values())
    with batch.worker_pool(3) as pool:  # another worker count: a new pool, the prestarted one stopped
        assert pool is not None and pool.sim_workers == 3 and batch._PRESTARTED is None
    for proc in procs:
        proc.join(10)
        assert proc.exitcode is not None
    batch.prestart(2)
    procs = list(batch._PRESTARTED.sim_processes.values())
    batch.discard_prestarted()  # bad input: nobody takes it
    for proc in procs:
        proc.join(10)
        assert proc.exitcode is not None
    assert batch._PRESTARTED is None


def test_resume_refuses_another_config(serial):
    out, _ = serial
    with pytest.raises(RefusedError, match="refusing to resume into .* another experiment"):
        batch.run_experiment(tiny("experiment.workers=1", "experiment.replicates=4"), out)


def test_rerun_skips_finished_keys(serial, tmp_path):
    import shutil

    out = tmp_path / "again"
    shutil.copytree(serial[0], out)
    summary = batch.run_experiment(tiny("experiment.workers=1", "experiment.batch_replicates=2"), out)
    assert summary["ran"] == 0 and summary["skipped"] == 12
    assert_frame_equal(tables(out)[0], tables(serial[0])[0])


def test_a_run_that_raises_is_recorded_and_the_sweep_goes_on(serial, tmp_path, monkeypatch):
    real = batch.simulate

    def flaky(world, scenario, params, seed, replicates=1, first=0, **kw):
        if params.pressure.intensity == 0.8 and params.identity.confidence == 0.1:  # point 2: every replicate
            raise FloatingPointError("trust went NaN")
        if params.pressure.intensity == 0.2 and first <= 1 < first + replicates:  # points 0, 1: replicate 1
            raise ValueError("bad replicate")
        return real(world, scenario, params, seed, replicates=replicates, first=first, **kw)

    monkeypatch.setattr(batch, "simulate", flaky)
    summary = batch.run_experiment(tiny("experiment.workers=1"), tmp_path)
    res, agg = tables(tmp_path)
    failed = res[res["status"] == "failed"]
    assert summary["failed"] == 5 and summary["done"] == 12
    assert failed[["point", "replicate"]].values.tolist() == [[0, 1], [1, 1], [2, 0], [2, 1], [2, 2]]
    assert set(failed["error"]) == {"ValueError: bad replicate", "FloatingPointError: trust went NaN"}
    assert failed["phase_reached"].isna().all() and failed["final_trust_mean"].isna().all()
    ok = res[res["status"] == "ok"]
    ref = tables(serial[0])[0]
    assert_frame_equal(ok.reset_index(drop=True),
                       ref[ref["status"] == "ok"].loc[ok.index].reset_index(drop=True))  # the rest as if alone
    assert "5 of 12 runs failed" in (tmp_path / "error.txt").read_text()
    assert set(agg["point"]) == {0, 1, 3} and agg.loc[agg["point"] == 0, "n"].eq(2).all()

    # a rerun retries the failed keys and, now that they pass, gives exactly the clean table
    monkeypatch.setattr(batch, "simulate", real)
    summary = batch.run_experiment(tiny("experiment.workers=1"), tmp_path)
    assert summary["ran"] == 5 and summary["failed"] == 0 and not (tmp_path / "error.txt").exists()
    assert_frame_equal(tables(tmp_path)[0], ref)
    assert_frame_equal(tables(tmp_path)[1], tables(serial[0])[1])


def test_command_line_exit_status_counts_failures(tmp_path):
    env = {**os.environ, batch.FAIL_POINTS_ENV: "1"}
    p = subprocess.run(sim_cmd("+experiment=test_tiny", f"hydra.run.dir={tmp_path}", "experiment.workers=2"),
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert p.returncode == 1, p.stderr
    assert "3 of 12 runs failed" in p.stderr and "runs/s" in p.stdout
    res, _ = tables(tmp_path)
    assert res.loc[res["status"] == "failed", "point"].tolist() == [1, 1, 1]


def test_resume_after_sigkill_gives_exactly_the_full_table(tmp_path):
    args = ["+experiment=test_tiny", f"hydra.run.dir={tmp_path / 'run'}", "steps=40", "experiment.replicates=5",
            "experiment.batch_replicates=1", "experiment.chunk_rows=1", "experiment.workers=1"]
    chunks = tmp_path / "run" / "chunks"
    proc = subprocess.Popen(sim_cmd(*args), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(chunks.glob("*.results.parquet"))) < 3:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    assert not (tmp_path / "run" / "results.parquet").exists()  # killed mid-sweep
    partial = batch.done_keys(tmp_path / "run")
    assert 3 <= len(partial) < 20
    for f in chunks.glob("*.parquet"):  # every committed chunk is a complete table
        pd.read_parquet(f)

    p = subprocess.run(sim_cmd(*args), cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    meta = json.loads((tmp_path / "run" / "experiment.json").read_text())
    assert meta["skipped"] == len(partial) and meta["ran"] == 20 - len(partial) and meta["done"] == 20
    fresh = batch.run_experiment(tiny("steps=40", "experiment.replicates=5", "experiment.workers=2"),
                                 tmp_path / "fresh")
    assert fresh["done"] == 20
    for a, b in zip(tables(tmp_path / "run"), tables(tmp_path / "fresh")):
        assert_frame_equal(a, b)


# --------------------------------------------------------------------------- launchers


LAUNCHERS = {
    # submitit's local executor: the same code path as SLURM (extra `slurm`)
    "submitit_local": ("hydra_plugins.hydra_submitit_launcher", ["hydra/launcher=local"]),
    # Ray in local mode: a one-machine cluster started by the launcher (extra `ray`)
    "ray_local": ("hydra_plugins.hydra_ray_launcher", ["hydra/launcher=ray_cluster", "hydra.launcher.ray.init.address=null",
                                                       "hydra.launcher.ray.remote.num_cpus=1"]),
}


@pytest.mark.parametrize("launcher", list(LAUNCHERS))
def test_launcher_multirun_over_shards_merges_to_the_single_machine_table(serial, tmp_path, launcher):
    plugin, overrides = LAUNCHERS[launcher]
    pytest.importorskip(plugin, reason=f"{launcher}: launcher plugin not installed (pip install -e '.[cluster]')")
    p = subprocess.run(sim_cmd("-m", "+experiment=test_tiny", *overrides, "experiment.num_shards=2",
                               "experiment.shard=range(0,2)", "experiment.workers=1",
                               f"hydra.sweep.dir={tmp_path}"), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "shard_0of2" / "results.parquet").exists()
    merged = batch.merge([tmp_path], check_complete=True)
    ref_res, ref_agg = tables(serial[0])
    assert_frame_equal(results_frame(merged["results"]), ref_res)
    assert_frame_equal(merged["aggregates"], ref_agg)
