"""The batch engine: many (point, replicate) runs of one experiment, on every core, resumable.

DESIGN.md §2 and §5; the files it writes are the "Experiment directory" of
docs/DATA.md. ``python -m sim experiment=NAME`` calls :func:`run_experiment`.

How it runs
    The design (:mod:`sim.engine.design`) is expanded into a points table. The
    (point, replicate) keys of this job's shard are grouped into *tasks*: one
    point and a contiguous block of its replicates (all of them by default,
    ``experiment.batch_replicates`` to cap the block). A task is one call of
    :func:`sim.engine.simulate.simulate` with ``replicates=count, first=k0`` (agent
    and pair tables off), i.e. one array call of the core for the whole block.
    Tasks go to long-lived worker processes (``experiment.workers``, default
    one per core; ``spawn`` context, created once), which load the compiled
    kernel when they start and import neither mesa nor hydra. The command
    line starts them before it composes the config (:func:`prestart`), since
    they need nothing from it: the sweep's :class:`Base` (world, scenario,
    parameters) is pickled once and sent with each task, a few kB. The parent
    of the workers never imports numba (it only checks that the kernel's
    cache is fresh). With ``workers=1`` tasks run in the calling process.

Reproducibility
    Replicate k of every point uses ``SeedSequence(seed, spawn_key=(k,))``
    (common random numbers across points), and the core draws each
    replicate's numbers from its own generator, so a (point, replicate) row is
    bit-identical whatever the worker count, block size, shard split or launcher.
    If a block raises, each of its replicates is rerun alone, so a failure is
    attributed to the replicates that fail whatever the block size.

Writing and resuming
    Finished tasks are written to ``chunks/`` as they come, a chunk every
    2 s (``experiment.chunk_rows`` = N: every N runs), each file atomically
    (temporary name, then rename; a chunk's ``.results.parquet`` is written
    last and is what marks its keys done). A kill loses the tasks in
    progress and at most two seconds of finished runs. A rerun of the same command
    in the same directory reads the chunks, skips every finished key, runs
    the rest and retries failed ones; it refuses to resume when the
    experiment's config hash (:func:`experiment_hash`) differs.
    At the end the chunks are merged into ``results.parquet`` (one row per
    (point, replicate), sorted) and ``aggregates.parquet`` (per point and step:
    mean and q10/q50/q90 over replicates of ``experiment.metrics``). A block
    that covers all replicates of a point stores its aggregates directly;
    blocks of part of a point store their trajectories of those metrics
    (``.series.parquet``) until the merge aggregates them, so the tables
    never depend on how the keys were split.

Beyond one machine
    ``experiment.shard=i experiment.num_shards=K`` runs the i-th of K
    contiguous slices of the keys sorted by (point, replicate) into
    ``<run dir>/shard_<i>of<K>/``; :func:`merge` (or ``python -m sim.engine.batch
    merge DIR``) gives exactly the single-machine tables.
"""

from __future__ import annotations

import copy
import json
import os
import pickle
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..core.params import Params, with_overrides
from ..core.scenario import GreatPowerStrategy, Scenario
from ..core.world import World
from .tables import (RESULT_KEYS, aggregates_table, dedupe_results, quantile_aggregates,
                     read_parts, result_rows, results_schema, results_table, series_table, write_results)
from .design import Factor, describe, point_values, points
from .resources import worker_count
from .simulate import simulate, summarize
from .spec import RunSpec, config_hash

#: Experiment keys that change how a sweep runs, not what it computes: left out of the config hash,
#: so a sweep may be resumed with another worker count or block size, and shards share one hash.
EXECUTION_KEYS = ("workers", "batch_replicates", "chunk_rows", "shard", "num_shards")
#: Top-level config keys that do not change an experiment's results (also left out of the hash, so adding
#: such a key to the schema does not orphan existing experiment directories).
EXECUTION_TOP_KEYS = ("progress", "figures", "network_years", "checkpoint_every", "report", "question")
CHUNKS = "chunks"


class BatchError(RuntimeError):
    """A sweep that cannot start or finish (one line: what and what to do)."""


# --------------------------------------------------------------------------- what workers need


@dataclass
class Base:
    """Everything constant in a sweep, sent pickled with each task (plain, picklable objects only)."""

    world: World
    scenario: Scenario
    params: Params
    steps: int | None
    seed: int
    replicates: int
    factors: list[Factor]
    metrics: tuple[str, ...]
    timeseries: bool = True
    world_spec: dict | None = None  # the world node, when a design varies world.<key>


@dataclass(frozen=True)
class Task:
    """One array call: replicates first .. first+count-1 of one point."""

    point: int
    first: int
    count: int
    values: tuple  # ((path, value), ...) of the point


@dataclass
class TaskResult:
    point: int
    first: int
    count: int
    rows: list[dict]  # one results row per replicate (sim.engine.tables: keys, then the outcome columns)
    schema: Any = None  # the results schema of the point's world (None when its world could not be built)
    replicate_ids: list[int] = field(default_factory=list)  # replicates with trajectories (status ok)
    series: np.ndarray | None = None  # (n_ok, T+1, M) trajectories of the metrics (partial point)
    agg: tuple | None = None  # (mean (T+1,M), quantiles (3,T+1,M), n) when the task is a whole point
    steps: np.ndarray | None = None  # (T+1,)
    years: np.ndarray | None = None  # (T+1,)
    seconds: float = 0.0


def inputs_for(base: Base, values: dict[str, Any]) -> tuple[World, Scenario, Params, int | None]:
    """World, scenario, parameters and steps of one design point (the base with the point's factor values)."""
    world, scenario, params, steps = base.world, base.scenario, base.params, base.steps
    by = {f.path: f for f in base.factors}
    p_over = {by[k].key: v for k, v in values.items() if by[k].target == "params"}
    if p_over:
        params = with_overrides(params, p_over)
    s_over = [(by[k].key, v) for k, v in values.items() if by[k].target == "scenario"]
    if s_over:
        scenario = copy.deepcopy(scenario)
        for key, v in s_over:
            parts = key.split(".")
            if parts[0] == "great_powers":
                gp = scenario.great_powers.setdefault(parts[1], GreatPowerStrategy())
                setattr(gp, parts[2], float(v))
            else:
                setattr(scenario, key, v)
    if "steps" in values:
        steps = int(values["steps"])
    w_over = {by[k].key: v for k, v in values.items() if by[k].target == "world"}
    if w_over:
        from ..core.world import build_world  # only for designs over generated worlds

        spec = copy.deepcopy(base.world_spec)
        spec.update(w_over)
        world = build_world(spec)
    return world, scenario, params, steps


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()[0] if str(exc) else type(exc).__name__
    return text[:500]


#: Test-only hook: a comma-separated list of points whose runs raise (exercises failure handling end to end).
FAIL_POINTS_ENV = "SIM_BATCH_TEST_FAIL_POINTS"
#: Test-only hook: points whose runs kill their worker process with SIGKILL (as the OS does when memory runs out).
KILL_POINTS_ENV = "SIM_BATCH_TEST_KILL_POINTS"


def _simulate_block(base: Base, inputs, first: int, count: int, point: int = -1):
    hook = os.environ.get(FAIL_POINTS_ENV)
    if hook and str(point) in hook.split(","):
        raise RuntimeError(f"test failure of point {point} ({FAIL_POINTS_ENV})")
    kill = os.environ.get(KILL_POINTS_ENV)
    if kill and str(point) in kill.split(",") and _BASE is not None:  # only ever in a worker process
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
    world, scenario, params, steps = inputs
    # events on: joins and exits in the summary are counted from the event log.
    tr = simulate(world, scenario, params, base.seed, replicates=count, first=first, steps=steps,
                  agents=False, pairs=False, log_events=True)
    rows = result_rows(summarize(tr), world, point, base.seed)
    series = np.stack([tr.timeseries[m] for m in base.metrics], axis=-1).transpose(1, 0, 2) if base.timeseries \
        else None  # (count, T+1, M)
    return rows, series, np.arange(len(tr.years)), tr.years


def run_task(base: Base, task: Task, inputs=None) -> TaskResult:
    """Run one task; a block that raises is rerun replicate by replicate and failures are recorded."""
    t0 = time.perf_counter()
    values = dict(task.values)
    out = TaskResult(task.point, task.first, task.count, rows=[])

    def failed(k: int, exc: BaseException) -> dict:
        return {"point": task.point, "replicate": k, "seed": base.seed, "status": "failed", "error": _error_text(exc)}

    try:
        inputs = inputs if inputs is not None else inputs_for(base, values)
        out.schema = results_schema(inputs[0])
        blocks = [_simulate_block(base, inputs, task.first, task.count, task.point)]
    except Exception as exc:  # noqa: BLE001 -- any failure of a run is data, recorded per replicate
        if task.count == 1 or inputs is None:
            out.rows = [failed(k, exc) for k in range(task.first, task.first + task.count)]
            out.seconds = time.perf_counter() - t0
            return out
        blocks = []
        for k in range(task.first, task.first + task.count):
            try:
                blocks.append(_simulate_block(base, inputs, k, 1, task.point))
            except Exception as exc1:  # noqa: BLE001
                blocks.append(([failed(k, exc1)], None, None, None))
    series = []
    for rows, s, steps, years in blocks:
        out.rows.extend(rows)
        if s is not None:
            series.append(s)
            out.replicate_ids.extend(r["replicate"] for r in rows)
            out.steps, out.years = steps, years
    if series:
        arr = np.concatenate(series, axis=0)
        if task.first == 0 and arr.shape[0] == base.replicates:  # a whole point, every replicate ok
            mean, q = quantile_aggregates(arr)
            out.agg = (mean, q, arr.shape[0])
        else:
            out.series = arr
    out.seconds = time.perf_counter() - t0
    return out


# --------------------------------------------------------------------------- worker processes

_BASE: Base | None = None  # the sweep's Base in a worker process (None in the parent)
_BASE_BYTES: bytes | None = None  # ... as it was sent, to notice a new sweep
_CACHE: dict = {}


def _init_worker() -> None:
    """A worker's start: end with the parent, and load the compiled kernel from the cache (~0.5 s)."""
    _exit_with_parent()
    from ..core.kernel import warm

    warm(quiet=True)  # the parent made sure the cache is fresh (worker_pool, prestart)


def _exit_with_parent(poll: float = 1.0) -> None:
    """End this worker when its parent is gone (e.g. killed with SIGKILL): no orphans computing for nobody."""
    import threading

    parent = os.getppid()

    def watch():
        while True:
            time.sleep(poll)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _worker_task(base_bytes: bytes, task: Task) -> TaskResult:
    """Run a task in a worker. The sweep's Base comes pickled with every task (a few kB; unpickled once per
    worker and sweep), so workers can be started before the config is composed (:func:`prestart`)."""
    global _BASE, _BASE_BYTES
    if base_bytes != _BASE_BYTES:
        _BASE, _BASE_BYTES = pickle.loads(base_bytes), base_bytes
        _CACHE.clear()
    key = task.values
    if _CACHE.get("key") != key:
        _CACHE.clear()
        try:
            _CACHE.update(key=key, inputs=inputs_for(_BASE, dict(key)))
        except Exception:  # noqa: BLE001 -- run_task records the error
            return run_task(_BASE, task)
    return run_task(_BASE, task, _CACHE["inputs"])


def _worker_modules(_=None) -> list[str]:
    """Top-level modules loaded in a worker (tests check that mesa and hydra are not)."""
    return sorted({name.split(".")[0] for name in sys.modules})


# --------------------------------------------------------------------------- keys, shards, tasks


def shard_ranges(points: int, replicates: int, shard: int = 0, num_shards: int = 1) -> list[tuple[int, int, int]]:
    """The keys of shard i of K as (point, first, stop) ranges.

    The keys sorted by (point, replicate) are cut into K contiguous slices of
    (almost) equal size: shard i holds keys [i n // K, (i + 1) n // K), n = points x replicates.
    """
    n = points * replicates
    lo, hi = shard * n // num_shards, (shard + 1) * n // num_shards
    out = []
    for p in range(lo // replicates, (hi + replicates - 1) // replicates):
        first, stop = max(lo, p * replicates) - p * replicates, min(hi, (p + 1) * replicates) - p * replicates
        if stop > first:
            out.append((p, first, stop))
    return out


def make_tasks(table, factors: list[Factor], ranges, done: set, batch: int) -> list[Task]:
    """Tasks for the keys of ``ranges`` not in ``done``: contiguous runs of pending replicates, at most ``batch`` each."""
    tasks = []
    for p, first, stop in ranges:
        values = tuple(point_values(table, p, factors).items())
        pending = [k for k in range(first, stop) if (p, k) not in done]
        i = 0
        while i < len(pending):
            j = i
            while j + 1 < len(pending) and pending[j + 1] == pending[j] + 1 and j + 1 - i < batch:
                j += 1
            tasks.append(Task(p, pending[i], j - i + 1, values))
            i = j + 1
    return tasks


# --------------------------------------------------------------------------- chunks on disk


#: With ``experiment.chunk_rows: 0``, finished runs are written at least this often (seconds): a kill
#: loses at most this much finished work, and big sweeps do not write one small file per task.
FLUSH_SECONDS = 2.0


class ChunkWriter:
    """Buffers finished tasks and writes them as chunk files (trajectories/aggregates first, results last).

    A chunk is written when ``chunk_rows`` rows are buffered, or (``chunk_rows=0``)
    when FLUSH_SECONDS have passed since the last one, and at the end.
    """

    def __init__(self, directory: Path, metrics: tuple[str, ...], chunk_rows: int = 0):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.metrics, self.chunk_rows = metrics, chunk_rows
        now = time.time_ns()  # chunk names sort by when their session started; unique per session
        self.session = (f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime(now // 10**9))}.{now % 10**9:09d}"
                        f"-{os.getpid()}-{os.urandom(3).hex()}")
        self.seq = 0
        self.buffer: list[TaskResult] = []
        self.rows_buffered = 0
        self.last = time.monotonic()

    def add(self, res: TaskResult) -> None:
        self.buffer.append(res)
        self.rows_buffered += len(res.rows)
        due = self.rows_buffered >= self.chunk_rows if self.chunk_rows > 0 else \
            time.monotonic() - self.last >= FLUSH_SECONDS
        if due:
            self.flush()

    def flush(self) -> None:
        self.last = time.monotonic()
        if not self.buffer:
            return
        import pyarrow as pa

        stem = self.dir / f"{self.session}-{self.seq:06d}"
        rows, series, aggs = [], [], []
        for res in self.buffer:
            rows.append(results_table(res.rows, res.schema or results_schema(None)))
            if res.series is not None:
                series.append(series_table(res.point, res.replicate_ids, res.steps, res.years, res.series, self.metrics))
            if res.agg is not None:
                aggs.append(aggregates_table(res.point, res.steps, res.years, self.metrics, *res.agg))
        if series:
            _write_arrow(pa.concat_tables(series), f"{stem}.series.parquet")
        if aggs:
            _write_arrow(pa.concat_tables(aggs), f"{stem}.aggregates.parquet")
        # last: marks the keys done. Typed by the worlds' schemas; points of different worlds are unified.
        write_results(pa.concat_tables(rows, promote_options="permissive"), Path(f"{stem}.results.parquet"))
        self.seq += 1
        self.buffer, self.rows_buffered = [], 0


def _write_arrow(table, path) -> None:
    import pyarrow.parquet as pq

    from .io import write_atomic

    write_atomic(path, lambda fh: pq.write_table(table, fh))


def chunk_files(directory: Path) -> list[tuple[Path, Path | None, Path | None]]:
    """Committed chunks of a chunk directory: (results, series or None, aggregates or None), sorted by name.

    Temporary files (``.<name>.<random>.tmp``) and trajectory/aggregate files
    without their results file (a job killed between the two writes) are ignored.
    """
    out = []
    for res in sorted(Path(directory).glob("*.results.parquet")):
        stem = str(res)[: -len(".results.parquet")]
        s, a = Path(stem + ".series.parquet"), Path(stem + ".aggregates.parquet")
        out.append((res, s if s.exists() else None, a if a.exists() else None))
    return out


def done_keys(directory: Path) -> set[tuple[int, int]]:
    """(point, replicate) keys with a committed ``ok`` row in ``directory/chunks`` (failed keys are retried)."""
    keys: set[tuple[int, int]] = set()
    for res, _, _ in chunk_files(Path(directory) / CHUNKS):
        t = _read_chunk(res, columns=["point", "replicate", "status"])
        keys.update((p, r) for p, r, s in zip(t.column("point").to_pylist(), t.column("replicate").to_pylist(),
                                              t.column("status").to_pylist()) if s == "ok")
    return keys


# --------------------------------------------------------------------------- assembling tables


def _aggregates_from_series(series, metrics):
    """Aggregate tables (Arrow) of the points whose trajectories are in ``series`` (a DataFrame)."""
    frames = []
    if series is None or not len(series):
        return frames
    s = series.sort_values(["point", "replicate", "step"], kind="stable")
    pts = s["point"].to_numpy()
    bounds = np.flatnonzero(np.diff(pts)) + 1
    for idx in np.split(np.arange(len(s)), bounds):
        g = s.iloc[idx]
        R = g["replicate"].nunique()
        T1 = len(g) // R
        arr = g[list(metrics)].to_numpy(dtype=np.float64).reshape(R, T1, len(metrics))
        mean, q = quantile_aggregates(arr)
        frames.append(aggregates_table(int(pts[idx[0]]), g["step"].to_numpy()[:T1], g["year"].to_numpy()[:T1],
                                metrics, mean, q, R))
    return frames


def _read_chunk(path, columns=None):
    """A chunk file as an Arrow table; :class:`BatchError` naming it if it cannot be read (e.g. truncated)."""
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path, columns=columns)
    except Exception as exc:  # noqa: BLE001 -- a damaged file is named, never a traceback
        raise BatchError(f"{path} cannot be read ({' '.join(str(exc).split())[:200]}); rerun the experiment's "
                         "command to set the damaged chunk aside and recompute its runs") from None


def _read_tables(files):
    """One pandas DataFrame from chunk files whose schemas may differ (missing columns null); None if none."""
    t = read_parts(files, _read_chunk)
    return None if t is None else t.to_pandas()


def _read_experiment(d: Path) -> dict:
    with open(d / "experiment.json", encoding="utf-8") as fh:
        return json.load(fh)


def experiment_dirs(dirs) -> list[Path]:
    """The experiment directories under ``dirs``: each dir itself if it holds an unsharded experiment,
    else its ``shard_<i>of<K>`` subdirectories (one level down, or two for a Hydra multirun folder)."""
    out = []
    for d in map(Path, [dirs] if isinstance(dirs, (str, Path)) else dirs):
        if (d / "experiment.json").exists():
            out.append(d)
            continue
        found = sorted(p.parent for p in d.glob("shard_*of*/experiment.json")) or \
            sorted(p.parent for p in d.glob("*/shard_*of*/experiment.json"))
        if not found:
            raise BatchError(f"{d}: no experiment.json here or in shard_<i>of<K>/ subfolders")
        out.extend(found)
    return out


def _with_factors(table, design, factor_cols: list[str]):
    """The results table with the design's factor columns after the keys (values looked up by point)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not factor_cols:
        return table
    des = pa.Table.from_pandas(design, preserve_index=False)
    idx = pc.index_in(table.column("point"), value_set=des.column("point"))
    at = len(RESULT_KEYS)
    for j, c in enumerate(factor_cols):
        table = table.add_column(at + j, des.schema.field(c), des.column(c).take(idx))
    return table


def merge(dirs, check_complete: bool = False) -> dict:
    """Merge experiment or shard directories into the single-machine tables.

    Returns ``{"design", "results", "aggregates", "experiment"}``: the points
    table, the results sorted by (point, replicate), the per-(point, step)
    aggregates (empty when the experiment has ``timeseries: false``) and the
    merged ``experiment.json`` record. All directories must hold the same
    experiment (same config hash). A key present in several directories is
    kept once. With ``check_complete`` a missing key raises :class:`BatchError`.
    """
    import pandas as pd

    found = experiment_dirs(dirs)
    metas = [_read_experiment(d) for d in found]
    hashes = {m["config_hash"] for m in metas}
    if len(hashes) > 1:
        raise BatchError(f"cannot merge {', '.join(map(str, found))}: they hold different experiments "
                         f"(config hashes {', '.join(h[:12] for h in sorted(hashes))})")
    meta = dict(metas[0])
    design = pd.read_parquet(found[0] / "design.parquet")
    factor_cols = [c for c in design.columns if c != "point"]
    metrics = tuple(meta.get("metrics", ()))
    chunks = [c for d in found for c in chunk_files(d / CHUNKS)]
    raw = read_parts([r for r, _, _ in chunks], _read_chunk)  # a damaged chunk is named (BatchError)
    raw = results_schema(None).empty_table() if raw is None else raw
    table = _with_factors(dedupe_results(raw), design, factor_cols)
    expected = len(design) * meta["replicates"]
    if check_complete and len(table) != expected:
        raise BatchError(f"merged {len(table)} of {expected} (point, replicate) rows; "
                         f"missing shards or unfinished runs in {', '.join(map(str, found))}")
    frames = []
    whole = _read_tables([a for _, _, a in chunks if a is not None])  # points run whole, aggregated by the workers
    if whole is not None:
        frames.append(whole.drop_duplicates(["point", "step", "metric"], keep="first"))
    series = _read_tables([s for _, s, _ in chunks if s is not None])  # points run in parts
    if series is not None:
        series = series.drop_duplicates(["point", "replicate", "step"], keep="first")
        if whole is not None:
            series = series[~series["point"].isin(whole["point"].unique())]
        parts = _aggregates_from_series(series, metrics)
        if parts:
            import pyarrow as pa

            frames.append(pa.concat_tables(parts).to_pandas())
    if frames:
        agg = pd.concat(frames, ignore_index=True)
        order = {m: i for i, m in enumerate(metrics)}
        agg = agg.assign(_m=agg["metric"].map(order)).sort_values(["point", "step", "_m"], kind="stable")
        agg = agg.drop(columns="_m").reset_index(drop=True)
        agg["metric"] = agg["metric"].astype("str")
    else:
        agg = pd.DataFrame({c: pd.Series(dtype=t) for c, t in (
            ("point", np.int64), ("step", np.int64), ("year", float), ("metric", "str"), ("mean", float),
            ("q10", float), ("q50", float), ("q90", float), ("n", np.int64))})
    for key in ("ran", "skipped", "workers", "seconds", "runs_per_second", "updated"):
        meta.pop(key, None)
    n_failed = sum(1 for v in table.column("status").to_pylist() if v == "failed")
    meta.update(done=len(table), failed=n_failed, shard=0, num_shards=1,
                status="complete" if len(table) == expected else "incomplete",
                merged_from=[str(d) for d in found] if len(found) > 1 else None)
    return {"design": design, "results": table, "aggregates": agg, "experiment": meta}


def write_tables(tables: dict, out_dir: Path) -> None:
    """Write merged tables (``results.parquet``, ``aggregates.parquet``, ``design.parquet``) atomically."""
    from .io import write_parquet_atomic

    out_dir = Path(out_dir)
    write_parquet_atomic(tables["design"], out_dir / "design.parquet")
    write_results(tables["results"], out_dir / "results.parquet")
    write_parquet_atomic(tables["aggregates"], out_dir / "aggregates.parquet")


# --------------------------------------------------------------------------- the sweep loop


def _progress(total: int, name: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=name, unit="run", file=sys.stderr, disable=not enabled or total == 0,
                dynamic_ncols=True, smoothing=0.1, mininterval=0.5)


def run_tasks(base: Base, tasks: list[Task], writer: ChunkWriter, workers: int = 1, progress=None,
              pool=None, prepare=None) -> dict:
    """Run tasks and write their chunks: in this process when ``workers == 1``, else in ``pool``
    (a :func:`worker_pool`, made here if not given). ``prepare()``, if given, is called once the
    first tasks are running and before any chunk is written. Returns counts: ``runs`` and ``failed``."""
    counts = {"runs": 0, "failed": 0}
    prepare = prepare or (lambda: None)

    def record(res: TaskResult):
        writer.add(res)
        failed = sum(1 for r in res.rows if r["status"] != "ok")
        counts["runs"] += len(res.rows)
        counts["failed"] += failed
        if progress is not None:
            progress.update(len(res.rows))
            if failed:
                progress.set_postfix(failed=counts["failed"], refresh=False)

    try:
        if workers <= 1:
            prepare()
            cache_key, inputs = None, None
            for task in tasks:
                if task.values != cache_key:
                    cache_key = task.values
                    try:
                        inputs = inputs_for(base, dict(task.values))
                    except Exception:  # noqa: BLE001 -- run_task records it
                        inputs = None
                record(run_task(base, task, inputs))
        elif pool is None:
            with worker_pool(workers) as own:
                _run_pool(own, base, tasks, workers, record, prepare)
        else:
            _run_pool(pool, base, tasks, workers, record, prepare)
    finally:
        writer.flush()
    return counts


#: Thread-count variables pinned to 1 in workers (one process per core; no oversubscription).
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def _ready() -> int:
    return os.getpid()


def _new_pool(workers: int):
    """``workers`` spawned processes, started now; each loads the compiled kernel from its cache
    (~1 s with numpy and sim), which the caller has made sure is fresh."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    saved = {v: os.environ.get(v) for v in THREAD_VARS}
    for v in THREAD_VARS:
        os.environ.setdefault(v, "1")
    try:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"), initializer=_init_worker)
        pool.sim_processes, pool.sim_workers = {}, workers
        for _ in range(workers):  # each submit spawns a process (on demand) with the environment above
            _submit(pool, _ready)
    finally:
        for v, old in saved.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old
    return pool


#: The pool :func:`prestart` began, until :func:`worker_pool` takes it or :func:`discard_prestarted` stops it.
_PRESTARTED = None


def prestart(workers: int) -> None:
    """Start the worker processes now, before the config is composed and validated.

    ``python -m sim experiment=...`` calls this first thing, so the workers load numpy, sim and the
    kernel (~1 s) while the parent imports Hydra, composes and validates; they need nothing from
    the config (the sweep's :class:`Base` comes with each task). Does nothing for one worker or
    when the kernel's cache is stale (the parent compiles it first, in :func:`worker_pool`).
    """
    global _PRESTARTED
    from ..core.kernel_cache import cache_is_fresh

    if workers > 1 and _PRESTARTED is None and cache_is_fresh():
        _PRESTARTED = _new_pool(workers)


def discard_prestarted() -> None:
    """Stop a prestarted pool that no sweep took (bad input, a single run): its processes end at once."""
    global _PRESTARTED
    if _PRESTARTED is not None:
        pool, _PRESTARTED = _PRESTARTED, None
        for proc in pool.sim_processes.values():
            proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)


@contextmanager
def worker_pool(workers: int):
    """A pool of ``workers`` spawned processes: the prestarted one when it has that many, else a new one.

    Yields None when ``workers <= 1`` (the caller runs the tasks itself). On leaving, the pool is
    shut down without waiting for its processes to exit: they have no work left, and the caller
    merges meanwhile (the interpreter joins them at exit).
    """
    global _PRESTARTED
    if _PRESTARTED is not None and _PRESTARTED.sim_workers == workers:
        pool, _PRESTARTED = _PRESTARTED, None
    else:
        discard_prestarted()
        pool = None
    if workers <= 1:
        yield None
        return
    if pool is None:
        from ..core.kernel_cache import cache_is_fresh

        if not cache_is_fresh():  # compile once, here, so that the workers load the cache instead of each compiling
            from ..core.kernel import warm

            warm()
        pool = _new_pool(workers)
    try:
        yield pool
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _submit(pool, fn, *args):
    """``pool.submit``, keeping every worker process the pool has spawned so far, to say later how one died.

    The pool spawns its processes on demand (one per submit while none is idle, up to
    ``max_workers``) and forgets them once it breaks, so they are collected at each submit.
    """
    future = pool.submit(fn, *args)
    pool.sim_processes.update(getattr(pool, "_processes", None) or {})
    return future


def _death(pool) -> str:
    """How a worker of a broken pool died: 'a worker process (pid 12) was killed by SIGKILL (...)'."""
    import signal

    procs = list(getattr(pool, "sim_processes", {}).values())
    # the pool's manager thread reaps (and terminates) the workers meanwhile; an exit code read
    # while it does so comes back None, so wait until each is known (the pool ends them all)
    deadline = time.monotonic() + 10
    for proc in procs:
        while proc.exitcode is None and time.monotonic() < deadline:
            proc.join(0.05)
    codes = [(proc, proc.exitcode) for proc in procs]
    # the pool sends SIGTERM to the others once one died: name the one that died first
    codes.sort(key=lambda pc: pc[1] == -signal.SIGTERM)
    for proc, code in codes:
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            why = " (the OS kills a process this way when memory runs out)" if -code == signal.SIGKILL else ""
            return f"a worker process (pid {proc.pid}) was killed by {name}{why}"
        if code not in (None, 0):
            return f"a worker process (pid {proc.pid}) exited with status {code}"
    return "a worker process died (out of memory or killed?)"


def _run_pool(pool, base: Base, tasks: list[Task], workers: int, record, prepare) -> None:
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    base_bytes = pickle.dumps(base, protocol=pickle.HIGHEST_PROTOCOL)  # once; each task carries it (_worker_task)
    queue = iter(tasks)
    pending = set()
    for task in queue:
        pending.add(_submit(pool, _worker_task, base_bytes, task))
        if len(pending) >= 2 * workers:
            break
    try:
        prepare()
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                record(fut.result())
                nxt = next(queue, None)
                if nxt is not None:
                    pending.add(_submit(pool, _worker_task, base_bytes, nxt))
    except BrokenProcessPool:
        raise BatchError(f"{_death(pool)}; the finished runs are saved in chunks/, "
                         "rerun the same command to resume") from None
    except BaseException:
        for fut in pending:
            fut.cancel()
        raise


# --------------------------------------------------------------------------- the experiment


def experiment_hash(plain: dict) -> str:
    """sha256 of a resolved config (plain data) without ``hydra`` and without the execution-only keys.

    (``experiment.workers batch_replicates chunk_rows shard num_shards`` and the
    top-level ``progress figures network_years checkpoint_every report question``): a sweep may
    be resumed with other values of these, and all shards share one hash.
    """
    data = copy.deepcopy(plain)
    data.pop("hydra", None)
    for k in EXECUTION_TOP_KEYS:
        data.pop(k, None)
    for k in EXECUTION_KEYS:
        (data.get("experiment") or {}).pop(k, None)
    return config_hash(data)


class RefusedError(ValueError):
    """An experiment directory that cannot take this experiment (one line; a user error, exit status 2)."""


def check_resume(out: Path, digest: str) -> dict | None:
    """Refuse to run an experiment into ``out`` unless it is new or holds this same experiment (by config hash).

    Returns the old ``experiment.json`` when resuming, None for a new
    directory. Raises :class:`RefusedError` (one line) when ``out``
    holds a single run (``summary.json``), another experiment, an unreadable
    ``experiment.json``, or chunks without ``experiment.json``. Reads only:
    called by the Hydra guard before anything is written, and again by
    :func:`run_experiment`.
    """
    out = Path(out)
    advice = "choose a new output directory"
    if (out / "summary.json").exists():
        raise RefusedError(f"refusing to run an experiment into {out}: it holds a finished single run "
                          f"(summary.json); {advice}")
    if (out / "experiment.json").exists():
        try:
            old = _read_experiment(out)
            if not isinstance(old, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            raise RefusedError(f"refusing to resume into {out}: {out / 'experiment.json'} is unreadable "
                              f"({' '.join(str(exc).split())}); {advice}") from None
        if old.get("config_hash") != digest:
            raise RefusedError(f"refusing to resume into {out}: it holds another experiment (config hash "
                              f"{str(old.get('config_hash'))[:12]}, this config {digest[:12]}); {advice}")
        return old
    if (out / CHUNKS).exists() and any((out / CHUNKS).glob("*.results.parquet")):
        raise RefusedError(f"refusing to resume into {out}: chunks/ without experiment.json; {advice}")
    return None


#: Suffix given to a chunk file that cannot be read (kept for inspection, never read again).
DAMAGED = ".damaged"


def _unreadable(path: Path) -> str | None:
    """Why a Parquet file cannot be read in full (e.g. truncated by a crash), or None if it reads."""
    import pyarrow.parquet as pq

    try:
        pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 -- any failure to read means the chunk cannot be trusted
        return " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
    return None


def set_aside_damaged(directory: Path) -> list[str]:
    """Rename every chunk with an unreadable file to ``<file>.damaged`` (all files of that chunk); return notes.

    A chunk whose results, trajectories or aggregates cannot be read is set
    aside as a whole, so its (point, replicate) keys are no longer done and
    the resume recomputes them; nothing is deleted.
    """
    directory = Path(directory)
    notes = []
    for res, series, agg in chunk_files(directory):
        bad = next(((f, why) for f in (res, series, agg) if f is not None for why in [_unreadable(f)] if why), None)
        if bad is None:
            continue
        stem = str(res)[: -len(".results.parquet")]
        for f in (Path(stem + ".series.parquet"), Path(stem + ".aggregates.parquet"), res):  # results last
            if f.exists():
                os.replace(f, f.with_name(f.name + DAMAGED))
        why = bad[1].replace(f"'{bad[0]}'", "").replace(str(bad[0]), "")[:160]
        notes.append(f"sim: note: {bad[0]} cannot be read ({why}); its chunk is set aside as "
                     f"{Path(stem).name}.*{DAMAGED} and its runs are recomputed")
    return notes


def output_dir(run_dir: Path, shard: int, num_shards: int) -> Path:
    """Where a job writes: ``run_dir``, or ``run_dir/shard_<i>of<K>`` for a shard (unless run_dir already is it)."""
    run_dir = Path(run_dir)
    if num_shards <= 1:
        return run_dir
    name = f"shard_{shard}of{num_shards}"
    return run_dir if run_dir.name == name else run_dir / name


def run_experiment(spec: RunSpec, run_dir) -> dict:
    """Run (or resume) the experiment of a validated spec into ``run_dir``; return its summary.

    The summary (also ``experiment.json``) holds the counts: ``done`` rows on
    disk, ``failed`` among them, ``ran`` in this call and ``skipped`` (already
    done), the wall time and the rate. Failed runs do not stop the sweep; the
    caller decides the exit status from ``failed``. A directory holding
    another experiment raises :class:`RefusedError` with one line.
    """
    from .io import write_json_atomic, write_parquet_atomic, write_text_atomic

    t0 = time.perf_counter()
    if spec.experiment is None:
        raise ValueError("run_experiment: the spec has no experiment (sim.engine.runs runs single runs)")
    exp, factors, metrics = spec.experiment.config, spec.experiment.factors, spec.experiment.metrics
    design = exp.design
    R = int(exp.replicates)
    shard, num_shards = int(exp.shard), int(exp.num_shards)
    out = output_dir(Path(run_dir), shard, num_shards)
    out.mkdir(parents=True, exist_ok=True)
    digest = spec.experiment.hash
    meta_path = out / "experiment.json"
    created = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    old = check_resume(out, digest)
    if old is not None:
        created = old.get("created", created)
        for line in set_aside_damaged(out / CHUNKS):
            print(line, file=sys.stderr, flush=True)
    base = Base(world=spec.world, scenario=spec.scenario, params=spec.params, steps=spec.steps, seed=spec.seed,
                replicates=R, factors=factors, metrics=metrics, timeseries=bool(exp.timeseries),
                world_spec=spec.world_spec if any(f.target == "world" for f in factors) else None)
    batch = int(exp.batch_replicates) or R
    workers = worker_count(exp.workers)
    # Start the workers first (they load while the tasks are made), and write experiment.json and
    # design.parquet (pandas, ~0.3 s) while the first tasks run, before any chunk.
    with worker_pool(workers) as pool:
        table = points(design, factors)
        n_points = len(table["point"])
        meta = {
            "name": exp.name, "description": exp.description, "design": describe(design), "points": n_points,
            "replicates": R, "seed": spec.seed, "sim_version": __version__, "config_hash": digest,
            "shard": shard, "num_shards": num_shards, "done": 0, "failed": 0, "command": spec.command,
            "created": created, "status": "running", "metrics": list(metrics), "world": spec.world.name,
            "scenario": spec.scenario.name, "steps": spec.steps,
        }

        def prepare():
            import pandas as pd

            write_json_atomic(meta, meta_path)
            write_parquet_atomic(pd.DataFrame(table), out / "design.parquet")

        ranges = shard_ranges(n_points, R, shard, num_shards)
        in_shard = sum(stop - first for _, first, stop in ranges)
        tasks = make_tasks(table, factors, ranges, done_keys(out), batch)
        if any(f.path == "steps" for f in factors):  # longest first: a shorter tail
            tasks.sort(key=lambda t: -t.count * dict(t.values)["steps"])
        todo = sum(t.count for t in tasks)
        writer = ChunkWriter(out / CHUNKS, metrics, int(exp.chunk_rows))
        bar = _progress(todo, exp.name, spec.progress)
        t_run = time.perf_counter()
        try:
            counts = run_tasks(base, tasks, writer, workers if pool is not None else 1, bar, pool=pool,
                               prepare=prepare)
        finally:
            bar.close()
        run_seconds = time.perf_counter() - t_run
    workers = workers if pool is not None else 1

    tables = merge([out])
    write_tables(tables, out)
    n_done, n_failed = tables["experiment"]["done"], tables["experiment"]["failed"]
    wall = time.perf_counter() - t0
    meta.update(done=n_done, failed=n_failed, status="complete" if n_done == in_shard else "incomplete",
                ran=counts["runs"], skipped=in_shard - todo, workers=workers, seconds=round(wall, 3),
                runs_per_second=round(counts["runs"] / wall, 3) if wall > 0 else None,
                updated=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    write_json_atomic(meta, meta_path)
    rate = counts["runs"] / wall if wall > 0 else float("nan")
    where = f" (shard_{shard}of{num_shards})" if num_shards > 1 else ""
    print(f"{exp.name}{where}: {counts['runs']} runs in {wall:.1f} s = {rate:.1f} runs/s "
          f"({run_seconds:.1f} s stepping on {workers} worker{'s' if workers > 1 else ''}); "
          f"{in_shard - todo} already done; {n_failed} failed; results in {out}", flush=True)
    error_txt = out / "error.txt"
    if n_failed:
        first = next(r for r in tables["results"].select(["point", "replicate", "status", "error"]).to_pylist()
                     if r["status"] == "failed")
        line = (f"{n_failed} of {n_done} runs failed (status=failed in results.parquet; rerun to retry them); "
                f"first: point {first['point']} replicate {first['replicate']}: {first['error']}")
        print(line, file=sys.stderr, flush=True)
        write_text_atomic(line + "\n", error_txt)  # the command line exits 1 on a summary with failures
    elif error_txt.exists():
        error_txt.unlink()
    return {**meta, "dir": str(out)}


# --------------------------------------------------------------------------- command line


def main(argv=None) -> int:
    """``python -m sim.engine.batch merge DIR [DIR ...] [-o OUT]``: merge shard directories into one table set."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m sim.engine.batch", description=main.__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("merge", help="merge experiment/shard directories into results.parquet + aggregates.parquet")
    m.add_argument("dirs", nargs="+", type=Path)
    m.add_argument("-o", "--out", type=Path, default=None, help="output directory (default: the first DIR)")
    m.add_argument("--allow-incomplete", action="store_true", help="write even if some keys are missing")
    args = ap.parse_args(argv)
    try:
        tables = merge(args.dirs, check_complete=not args.allow_incomplete)
    except BatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = args.out or args.dirs[0]
    from .io import os_error_line, write_json_atomic

    try:
        write_tables(tables, out)
        write_json_atomic(tables["experiment"], Path(out) / "experiment.merged.json")
    except OSError as exc:
        print(f"error: {os_error_line(exc)}", file=sys.stderr)
        return 1
    print(f"merged {tables['experiment']['done']} rows ({tables['experiment']['failed']} failed) from "
          f"{len(experiment_dirs(args.dirs))} directories into {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
