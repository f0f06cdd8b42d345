"""Nothing a user types can damage a finished run, and every failure is one clear line (issue #12).

Every case runs the command line in a subprocess, as a user would, and
asserts: a non-zero exit (except a successful resume), no traceback, one line
on stderr naming the key, file or path, and every byte of the pre-existing run
or experiment directory unchanged (a hash of each file, hidden ones included,
before and after). The disk-full cases mount a small tmpfs (root and a working
``mount`` needed; skipped with the reason otherwise). Tiny runs only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
EXP = ("+experiment=test_tiny", "experiment.workers=1", "experiment.chunk_rows=3")  # 4 points x 3 reps, 5 steps


def run(args, cwd: Path, env: dict | None = None, limit_as: int | None = None,
        timeout: float = 180) -> subprocess.CompletedProcess:
    """A command in ``cwd`` without HYDRA_FULL_ERROR (``env`` added), optionally under ``ulimit -v``."""
    e = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    e.update(env or {})
    preexec = (lambda: resource.setrlimit(resource.RLIMIT_AS, (limit_as, limit_as))) if limit_as else None
    return subprocess.run([str(a) for a in args], cwd=cwd, env=e, capture_output=True, text=True,
                          timeout=timeout, preexec_fn=preexec)


def sim(*args, cwd: Path, **kw) -> subprocess.CompletedProcess:
    return run([PY, "-m", "sim", *args], cwd, **kw)


def tree(directory: Path) -> dict[str, str]:
    """Every file (sha256 of its bytes) and directory under ``directory``, hidden ones included."""
    return {str(p.relative_to(directory)) + ("/" if p.is_dir() else ""):
            hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else ""
            for p in sorted(directory.rglob("*"))}


def one_line(proc: subprocess.CompletedProcess, *needles: str, prefix: str = "sim: error: ",
             status: int | None = None) -> str:
    """Assert a failure reported as exactly one stderr line containing every needle; return the line."""
    assert proc.returncode != 0, proc.stdout + proc.stderr
    if status is not None:
        assert proc.returncode == status, proc.stderr
    assert "Traceback" not in proc.stderr and "Error executing job" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(prefix), proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def tables(d: Path):
    return pd.read_parquet(d / "results.parquet"), pd.read_parquet(d / "aggregates.parquet")


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bad_input")


@pytest.fixture(scope="module")
def extra(root) -> Path:
    """A user config dir (``--config-dir``): world and scenario files that are not UTF-8 or are YAML lists."""
    d = root / "extra"
    for group in ("world", "scenario"):
        (d / group).mkdir(parents=True)
        (d / group / "latin.yaml").write_bytes(b"name: caf\xe9\ndescription: Latin-1, not UTF-8\n")
        (d / group / "list.yaml").write_text("- TUR\n- AZE\n", encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def finished(root) -> Path:
    """A finished single run."""
    proc = sim(f"hydra.run.dir={root / 'run'}", "replicates=2", "steps=2", "figures=false", "report=false", cwd=root)
    assert proc.returncode == 0, proc.stderr
    return root / "run"


@pytest.fixture(scope="module")
def experiment(root) -> Path:
    """A finished test_tiny experiment written in 4 chunks (the reference tables of the resume tests)."""
    proc = sim(*EXP, f"hydra.run.dir={root / 'exp'}", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert len(list((root / "exp" / "chunks").glob("*.results.parquet"))) == 4
    return root / "exp"


# --------------------------------------------------------------------------- a finished run is never touched

NAN_YEAR = "scenario.events=[{year: nan, type: summit, states: [TUR, AZE], value: 1.0}]"
INF_YEAR = "scenario.events=[{year: inf, type: summit, states: [TUR, AZE], value: 1.0}]"
NAN_VALUE = "scenario.events=[{year: 2030, type: summit, states: [TUR, AZE], value: nan}]"

RUN_CASES = {
    # item 1: a MemoryError, a ValueError while validating: Hydra rewrote .hydra/ of the finished run
    "steps beyond memory": (["steps=1000000000000"], ["steps=1000000000000", "of memory", "available",
                                                      "lower steps"]),
    "NaN event year": ([NAN_YEAR], ["scenario.events[0]", "'year' = nan is not a finite number"]),
    "synthetic world beyond memory": (["world=synthetic", "world.n=20000", "scenario=generic"],
                                      ["world.n=20000", "of memory", "lower world.n to at most"]),
    # item 3: NaN and inf in every numeric input
    "NaN event value": ([NAN_VALUE], ["scenario.events[0] (summit 2030)", "'value' = nan"]),
    "infinite event year": ([INF_YEAR], ["scenario.events[0]", "'year' = inf"]),
    "NaN world value": (["world.states.TUR.capability=nan"], ["'capability' = nan"]),
    "infinite generator option": (["world=synthetic", "world.n=20", "scenario=generic", "world.dispute_share=inf"],
                                  ["world.dispute_share=inf is not a finite number"]),
    "NaN parameter": (["params.pressure.intensity=nan"], ["params.pressure.intensity=nan is out of range"]),
    "NaN design bound": (["+experiment=test_tiny", "experiment.design.kind=lhs", "experiment.design.samples=4",
                          "experiment.design.factors={params.pressure.intensity: [0.1, nan]}"],
                         ["experiment.design.factors.params.pressure.intensity", "nan is not finite"]),
    # item 4: memory found before starting
    "replicates beyond memory": (["replicates=1000000"], ["replicates=1000000", "GiB of memory", "available",
                                                          "lower replicates to at most"]),
    "5000 states and 20 replicates beyond memory": (["world=synthetic", "world.n=5000", "replicates=20",
                                                     "scenario=generic"], ["world.n=5000", "lower world.n to at most"]),
    # item 5: config files that are not UTF-8 or not a mapping
    "world file not UTF-8": (["--config-dir", "EXTRA", "world=latin"],
                             ["world=latin", "world/latin.yaml is not UTF-8 text", "0xe9"]),
    "scenario file not UTF-8": (["--config-dir", "EXTRA", "scenario=latin"],
                                ["scenario=latin", "scenario/latin.yaml is not UTF-8 text"]),
    "world YAML is a list": (["--config-dir", "EXTRA", "world=list"],
                             ["world=list", "world/list.yaml must hold a mapping", "not a list"]),
    "scenario YAML is a list": (["--config-dir", "EXTRA", "scenario=list"],
                                ["scenario=list", "scenario/list.yaml must hold a mapping"]),
    # item 2: an experiment into a finished single run
    "experiment into a finished run": (["+experiment=test_tiny"], ["already holds a finished run"]),
}
#: Cases also run with the default output directory: they ran (or crashed after Hydra created the run dir).
UNAIMED = ("steps beyond memory", "NaN event year", "synthetic world beyond memory", "NaN event value",
           "NaN world value", "NaN parameter", "NaN design bound", "replicates beyond memory")
#: Cases stopped by Hydra's composition, before any directory is looked at.
COMPOSITION = ("world file not UTF-8", "scenario file not UTF-8", "world YAML is a list", "scenario YAML is a list")


@pytest.fixture(scope="module")
def bad_runs(root, finished, extra):
    """Every RUN_CASES command twice: aimed at the finished run, and with the default output directory
    (an empty working directory must stay empty); run concurrently; the run's files before and after."""
    before = tree(finished)

    def one(job):
        case, aimed = job
        cwd = root / f"{case.replace(' ', '_')}_{aimed}"
        cwd.mkdir()
        args = [str(extra) if a == "EXTRA" else a for a in RUN_CASES[case][0]]
        if aimed:
            args.append(f"hydra.run.dir={finished}")
        return job, (sim(*args, cwd=cwd), cwd)

    jobs = [(case, True) for case in RUN_CASES] + [(case, False) for case in UNAIMED]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(pool.map(one, jobs))
    return results, before, tree(finished)


@pytest.mark.parametrize("case", list(RUN_CASES))
def test_bad_input_is_one_line_and_leaves_a_finished_run_byte_identical(case, bad_runs, finished):
    results, before, after = bad_runs
    assert after == before
    for aimed in (True, False) if case in UNAIMED else (True,):
        proc, cwd = results[(case, aimed)]
        line = one_line(proc, *RUN_CASES[case][1], status=2)
        if aimed and case not in COMPOSITION:  # the directory is checked too (composition errors stop first)
            assert f"hydra.run.dir={finished}: already holds a finished run (summary.json)" in line
        assert not any(cwd.iterdir()), sorted(cwd.iterdir())  # nothing written: no outputs/, no .hydra/


def test_memory_limit_is_the_one_quoted(root, tmp_path):
    """Under ``ulimit -v 4G`` the run is refused from the limit, not from the machine's free memory."""
    four_gib = 4 * 2**30
    for n in (20000, 600):  # 600 states fit the machine (24 GiB) but not 4 GiB
        proc = sim("world=synthetic", f"world.n={n}", "scenario=generic", f"hydra.run.dir={tmp_path / 'run'}",
                   cwd=tmp_path, limit_as=four_gib)
        line = one_line(proc, f"world.n={n}", "is left under the address-space limit (ulimit -v)",
                        "lower world.n to at most", status=2)
        assert re.search(r"of memory and [0-3]\.\d GiB is left", line), line  # 4 GiB less what is mapped
    assert not (tmp_path / "run").exists()


# --------------------------------------------------------------------------- experiment directories


EXP_CASES = {
    "changed config into an experiment": (["+experiment=test_tiny", "steps=7"],
                                          ["refusing to resume into", "it holds another experiment"]),
    "single run into an experiment": (["replicates=2", "steps=2"],
                                      ["holds an experiment (experiment.json)", "choose a new directory"]),
    "sweep beyond memory into an experiment": (["+experiment=test_tiny", "experiment.replicates=1000000"],
                                               ["experiment.replicates=1000000", "of memory",
                                                "lower experiment.batch_replicates to at most"]),
}


@pytest.mark.parametrize("case", list(EXP_CASES))
def test_an_experiment_directory_is_protected(case, experiment, tmp_path):
    before = tree(experiment)
    args, needles = EXP_CASES[case]
    proc = sim(*args, f"hydra.run.dir={experiment}", cwd=tmp_path)
    one_line(proc, *needles, status=2)
    assert tree(experiment) == before  # .hydra/config.yaml still says steps: 5
    assert "steps: 5" in (experiment / ".hydra" / "config.yaml").read_text()


def test_a_single_run_into_the_parent_of_shards_is_refused(experiment, tmp_path):
    shards = tmp_path / "sweep"
    shutil.copytree(experiment, shards / "shard_0of2")
    before = tree(shards)
    proc = sim("replicates=2", "steps=2", f"hydra.run.dir={shards}", cwd=tmp_path)
    one_line(proc, "holds an experiment (shard_0of2/experiment.json)", status=2)
    assert tree(shards) == before


def test_a_sharded_multirun_rerun_with_another_config_is_refused_before_writing(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["-m", "+experiment=test_tiny", "experiment.num_shards=2", "experiment.shard=range(0,2)",
            "experiment.workers=1", f"hydra.sweep.dir={sweep}"]
    first = sim(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "(shard_0of2)" in first.stdout and "(shard_1of2)" in first.stdout  # item 8: as the directories
    before = tree(sweep)
    proc = sim(*args, "steps=7", cwd=tmp_path)
    one_line(proc, "refusing to resume into", "shard_0of2", "another experiment", status=2)
    assert tree(sweep) == before


# --------------------------------------------------------------------------- resume


def test_a_truncated_chunk_is_set_aside_and_its_runs_recomputed(experiment, tmp_path):
    work = tmp_path / "exp"
    shutil.copytree(experiment, work)
    results = sorted((work / "chunks").glob("*.results.parquet"))
    damaged = [results[1], Path(str(results[2]).replace(".results.", ".aggregates."))]
    for f in damaged:  # as a crash of the file system can leave them
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    cut = {f.name: f.read_bytes() for f in damaged}

    before = tree(work)
    merge = run([PY, "-m", "sim.engine.batch", "merge", work], tmp_path)  # reading alone names the damaged file
    one_line(merge, str(results[1]), "cannot be read", prefix="error: ", status=2)
    assert tree(work) == before

    proc = sim(*EXP, f"hydra.run.dir={work}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    notes = [line for line in proc.stderr.splitlines() if line.startswith("sim: note: ")]
    assert len(notes) == 2 and all("set aside" in n and "recomputed" in n for n in notes)
    assert any(str(damaged[0]) in n for n in notes) and any(str(damaged[1]) in n for n in notes)
    for f in damaged:  # renamed, never deleted; the whole chunk of each
        assert not f.exists() and (f.parent / (f.name + ".damaged")).read_bytes() == cut[f.name]
    assert len(list((work / "chunks").glob("*.damaged"))) == 4
    meta = json.loads((work / "experiment.json").read_text())
    assert meta["ran"] == 6 and meta["skipped"] == 6 and meta["done"] == 12
    for got, want in zip(tables(work), tables(experiment)):
        assert_frame_equal(got, want)


def test_a_worker_killed_by_the_os_is_one_line_and_the_rerun_resumes(experiment, tmp_path):
    args = ["+experiment=test_tiny", "experiment.workers=2", "experiment.chunk_rows=1", f"hydra.run.dir={tmp_path}"]
    proc = sim(*args, cwd=tmp_path, env={"SIM_BATCH_TEST_KILL_POINTS": "2"})  # point 2's worker gets SIGKILL
    one_line(proc, "a worker process (pid ", "was killed by SIGKILL", "rerun the same command to resume", status=1)
    again = sim(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    for got, want in zip(tables(tmp_path), tables(experiment)):
        assert_frame_equal(got, want)


# --------------------------------------------------------------------------- Ray without a cluster


FAKE_RAY = '''
"""Stands in for hydra-ray-launcher where Ray is not installed: ray.init(address="auto") with no cluster."""
from hydra.core.config_store import ConfigStore
from hydra.plugins.launcher import Launcher


class FakeRayLauncher(Launcher):
    def __init__(self, ray=None, **_):
        self.ray = ray

    def setup(self, *, hydra_context, task_function, config):
        pass

    def launch(self, job_overrides, initial_job_idx):
        if self.ray["init"]["address"] == "auto":  # the message ray.init raises
            raise ConnectionError("Could not find any running Ray instance. Please specify the one to connect to "
                                  "by setting `--address` flag or `RAY_ADDRESS` environment variable.")
        raise RuntimeError("the fake launcher only fails")


ConfigStore.instance().store(group="hydra/launcher", name="ray", provider="test", node={
    "_target_": "hydra_plugins.fake_ray_launcher.FakeRayLauncher",
    "ray": {"init": {"address": None}, "remote": {"num_cpus": 1, "max_retries": 0}}})
'''


def test_the_readme_ray_command_without_a_cluster_is_one_line(tmp_path):
    env = {}
    try:
        import hydra_plugins.hydra_ray_launcher  # noqa: F401 -- the real plugin: ray.init finds no cluster
    except ImportError:
        plugin = tmp_path / "plugins" / "hydra_plugins" / "fake_ray_launcher"
        plugin.mkdir(parents=True)
        (plugin / "__init__.py").write_text(textwrap.dedent(FAKE_RAY))
        env = {"PYTHONPATH": os.pathsep.join([str(tmp_path / "plugins"), os.environ.get("PYTHONPATH", "")])}
    proc = sim("-m", "+experiment=test_tiny", "hydra/launcher=ray_cluster", "experiment.num_shards=2",
               "experiment.shard=range(0,2)", f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path, env=env)
    one_line(proc, "hydra/launcher=ray_cluster: no running Ray cluster", "ray start --head",
             "hydra.launcher.ray.init.address=null hydra.launcher.ray.remote.num_cpus=1", status=1)


# --------------------------------------------------------------------------- disk full


@pytest.fixture
def small_fs(tmp_path):
    """A 4 MiB tmpfs mounted for the test (root only); yields its path, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("disk-full tests mount a small tmpfs, which needs root")
    mnt = tmp_path / "small"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip() or proc.returncode}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill(fs: Path, leave_kib: int) -> Path:
    """Fill ``fs`` up to ``leave_kib`` KiB of free space with one file; return it."""
    st = os.statvfs(fs)
    free = st.f_bavail * st.f_frsize
    filler = fs / "filler"
    with open(filler, "ab") as fh:
        fh.write(b"\0" * max(0, free - leave_kib * 1024))
    return filler


def test_disk_full_during_a_run_names_the_path_and_keeps_the_finished_run(small_fs, tmp_path):
    done = sim(f"hydra.run.dir={small_fs / 'run'}", "replicates=2", "steps=2", "figures=false", "report=false",
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    before = tree(small_fs / "run")
    filler = fill(small_fs, 60)  # room for .hydra/ and a table or so, not for the agents table of 20 replicates
    proc = sim(f"hydra.run.dir={small_fs / 'new'}", "replicates=20", "steps=10", "figures=false", cwd=tmp_path)
    line = one_line(proc, f"cannot write {small_fs / 'new'}/", "No space left on device (disk full)",
                    "free some space and rerun", status=1)
    assert ".tmp" not in line  # the file meant, never the temporary name
    assert not (small_fs / "new" / "summary.json").exists()
    fill(small_fs, 0)  # now not even Hydra's .hydra/ files fit
    proc = sim(f"hydra.run.dir={small_fs / 'new2'}", "replicates=2", "steps=2", cwd=tmp_path)
    one_line(proc, f"cannot write {small_fs / 'new2'}/", "(disk full)", status=1)
    assert tree(small_fs / "run") == before
    filler.unlink()


def test_disk_full_during_a_sweep_names_the_path_and_the_rerun_resumes(small_fs, experiment, tmp_path):
    args = ["+experiment=test_tiny", "experiment.workers=2", "experiment.chunk_rows=1",
            f"hydra.run.dir={small_fs / 'exp'}"]
    filler = fill(small_fs, 60)
    proc = sim(*args, cwd=tmp_path)
    one_line(proc, f"cannot write {small_fs / 'exp'}/", "No space left on device (disk full)", status=1)
    kept = {k: v for k, v in tree(small_fs / "exp").items() if k.startswith("chunks/") and v}
    filler.unlink()
    again = sim(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    after = tree(small_fs / "exp")
    assert all(after.get(k) == v for k, v in kept.items())  # what was committed is kept, byte for byte
    for got, want in zip(tables(small_fs / "exp"), tables(experiment)):
        assert_frame_equal(got, want)


# --------------------------------------------------------------------------- sim.report on unreadable input


def test_report_names_unreadable_inputs_and_exits_non_zero(finished, experiment, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(finished, run_dir)
    ts = run_dir / "timeseries.parquet"
    ts.write_bytes(ts.read_bytes()[:300])
    only_results = tmp_path / "only_results"
    only_results.mkdir()
    (only_results / "results.parquet").write_bytes((experiment / "results.parquet").read_bytes()[:300])
    only_table = tmp_path / "only_table"
    only_table.mkdir()
    (only_table / "timeseries.parquet").write_bytes((finished / "timeseries.parquet").read_bytes()[:300])
    for d, bad in ((run_dir, ts), (only_results, only_results / "results.parquet"),
                   (only_table, only_table / "timeseries.parquet")):
        before = tree(d)
        proc = run([PY, "-m", "sim.report", d, "-o", tmp_path / f"report_{d.name}", "--no-pdf"], tmp_path)
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr
        lines = proc.stderr.splitlines()
        assert lines and all(line.startswith("sim-report: error: cannot read ") for line in lines), proc.stderr
        assert any(f"cannot read {bad}: unreadable" in line for line in lines), proc.stderr
        assert (tmp_path / f"report_{d.name}" / "report.html").exists()  # written from what could be read
        assert tree(d) == before
    ok = run([PY, "-m", "sim.report", finished, "-o", tmp_path / "report_ok", "--no-pdf"], tmp_path)
    assert ok.returncode == 0 and not ok.stderr, ok.stderr
