"""The tables of the data contract (docs/DATA.md): their columns, types and rows, defined once.

* the run tables of a run directory from a :class:`~sim.engine.simulate.Trajectory`:
  ``timeseries``, ``agents``, ``events``, ``pairs`` (:func:`run_tables`). Every
  table is long: one row per (replicate, step[, state | pair]) or per event,
  rows ordered by replicate, then step, then state or pair. Levels and postures
  are small integers (level 0..3 = none/partner/observer/member; posture -1/0/1
  = balance/hedge/bandwagon); the phase is its index in ``sim.core.metrics.PHASES``.
* the results table (``results.parquet``): one row per (point, replicate), the
  keys ``point replicate seed status error``, the design's factor columns
  (experiments), then a replicate's outcome as flat columns ``phase_reached
  phase_final incidents member_incidents joins exits first_year_<phase>
  final_<metric> level_<INST>_<CODE> founded_<INST>``: its Arrow schema
  (:func:`results_schema`), its row builder (:func:`result_row`), the one dedupe
  rule for keys written more than once (:func:`dedupe_results`), its reader
  (:func:`read_parts`, shared with the aggregates) and writer. Every ``level_<INST>_<CODE>`` column of the
  world is present (``none`` where the state does not take part). A single run,
  every job of a multirun (``sim.engine.runs``), the batch engine's typed chunks
  and their merge (``sim.engine.batch``) and the report (``sim.report.load``)
  all go through it.
* the per-step aggregates of an experiment (``aggregates.parquet``: mean and
  quantiles over replicates, :func:`quantile_aggregates`, :func:`aggregates_table`)
  and the per-replicate series a sweep keeps for points split across tasks
  (:func:`series_table`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import pyarrow as pa

from ..core.metrics import PHASES
from ..core.vocab import EVENT_FIELDS
from ..core.world import LEVELS, World
from .simulate import PAIR_FIELDS, Trajectory

# --------------------------------------------------------------------------- run tables

#: Metrics that count things (stored as int64); every other metric is float64.
COUNT_PREFIXES = ("members", "incidents", "member_incidents", "blocs", "phase", "balance_", "hedge_", "bandwagon_")
#: The events table's columns (the fields of ``sim.core.vocab.EventRecord``) and their dtypes.
EVENT_COLUMNS = dict(zip(EVENT_FIELDS, ("int64", "int64", "float64", "object", "object", "object", "float64")))


def _index(tr: Trajectory, inner: int = 1) -> dict[str, np.ndarray]:
    """replicate, step, year columns for rows ordered (replicate, step, inner)."""
    R, T1 = len(tr.replicate_ids), len(tr.years)
    steps = np.arange(T1)
    return {"replicate": np.repeat(np.asarray(tr.replicate_ids, dtype=np.int64), T1 * inner),
            "step": np.tile(np.repeat(steps, inner), R).astype(np.int64),
            "year": np.tile(np.repeat(tr.years, inner), R).astype(np.float64)}


def _is_count(name: str) -> bool:
    """Is this metric a count (stored as int64)?"""
    return any(name == p or (p.endswith("_") and name.startswith(p)) for p in COUNT_PREFIXES)


def timeseries_table(tr: Trajectory):
    """One row per (replicate, step): replicate, step, year, then every metric of ``sim.core.metrics.measure``."""
    import pandas as pd

    cols = _index(tr)
    for name, values in tr.timeseries.items():  # values: (T+1, R)
        if name != "year":
            flat = values.T.ravel()
            cols[name] = np.rint(flat).astype(np.int64) if _is_count(name) else flat.astype(np.float64)
    return pd.DataFrame(cols)


def agents_table(tr: Trajectory):
    """One row per (replicate, step, state) with the per-state variables of ``sim.engine.simulate.agent_rows``."""
    import pandas as pd

    w = tr.ctx.world
    n = len(w.codes)
    cols = _index(tr, inner=n)
    R, T1 = len(tr.replicate_ids), len(tr.years)
    cols["state"] = np.tile(np.asarray(w.codes, dtype=object), R * T1)
    labels = {"threat_gp": ("threat", w.gp_codes), "dependence": ("dependence", w.gp_codes),
              "posture": ("posture", w.gp_codes), "membership": ("level", w.institutions)}
    for name, values in tr.agents.items():  # (T+1, R, N[, X])
        values = np.swapaxes(values, 0, 1)  # (R, T+1, N[, X])
        if values.ndim == 3:
            cols[name] = values.reshape(-1).astype(np.float64)
            continue
        prefix, codes = labels[name]
        flat = values.reshape(-1, values.shape[-1])
        for x, code in enumerate(codes):
            cols[f"{prefix}_{code}"] = flat[:, x].astype(np.int8 if flat.dtype == np.int8 else np.float64)
    return pd.DataFrame(cols)


def events_table(tr: Trajectory):
    """One row per logged event: replicate (-1 = scheduled, in every replicate), step, year, type, a, b, value."""
    import pandas as pd

    # the log holds batch positions; the table holds replicate indices k (they differ when first > 0)
    rows = [(tr.replicate_ids[e.replicate] if e.replicate >= 0 else -1, int(e.step), float(e.year), str(e.type),
             str(e.a), str(e.b), float(e.value)) for e in tr.events]
    df = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
    return df.astype(EVENT_COLUMNS)


def pairs_table(tr: Trajectory):
    """One row per (replicate, checkpoint, pair i<j): replicate step year a b trust density dispute shared mutual."""
    import pandas as pd

    w = tr.ctx.world
    iu, ju = np.triu_indices(len(w.codes), 1)
    R, C, P = len(tr.replicate_ids), len(tr.checkpoints), len(iu)
    codes = np.asarray(w.codes, dtype=object)
    steps = np.asarray(tr.checkpoints, dtype=np.int64)
    cols = {"replicate": np.repeat(np.asarray(tr.replicate_ids, dtype=np.int64), C * P),
            "step": np.tile(np.repeat(steps, P), R),
            "year": np.tile(np.repeat(tr.years[steps], P), R).astype(np.float64),
            "a": np.tile(codes[iu], R * C), "b": np.tile(codes[ju], R * C)}
    for f in PAIR_FIELDS:  # (C, R, N, N) -> (R, C, P)
        cols[f] = np.swapaxes(tr.pairs[f][:, :, iu, ju], 0, 1).reshape(-1).astype(np.float64)
    return pd.DataFrame(cols)


def run_tables(tr: Trajectory) -> dict:
    """All four tables of a run directory, keyed by file stem."""
    return {"timeseries": timeseries_table(tr), "agents": agents_table(tr),
            "events": events_table(tr), "pairs": pairs_table(tr)}


# --------------------------------------------------------------------------- results

#: The key columns, first in every results table.
RESULT_KEYS = ("point", "replicate", "seed", "status", "error")
#: Row status: ``ok`` (a result), ``failed`` (the run raised; ``error`` says why), ``incomplete`` (no row yet:
#: only the report makes these, for keys of a design that a sweep has not finished).
STATUSES = ("ok", "failed", "incomplete")
#: Event counts of a replicate (nullable: null on failed rows).
COUNTS = ("incidents", "member_incidents", "joins", "exits")
#: Metrics whose final value is a column ``final_<metric>``.
FINALS = ("identity", "interaction", "interest", "trust_mean", "trust_min", "peace", "depth", "members", "breadth",
          "blocs", "region_trust")


def outcome_fields(world: World) -> list[pa.Field]:
    """The outcome columns of a results table of ``world``, in order, with their Arrow types."""
    return ([pa.field("phase_reached", pa.string()), pa.field("phase_final", pa.string())]
            + [pa.field(c, pa.int64()) for c in COUNTS]
            + [pa.field(f"first_year_{p}", pa.float64()) for p in PHASES[1:]]
            + [pa.field(f"final_{m}", pa.float64()) for m in FINALS]
            + [pa.field(f"level_{inst}_{code}", pa.string()) for inst in world.institutions for code in world.codes]
            + [pa.field(f"founded_{inst}", pa.bool_()) for inst in world.institutions])


def results_schema(world: World | None, factors: Sequence[pa.Field] = ()) -> pa.Schema:
    """The Arrow schema of a results table: keys, ``factors`` (fields), the outcome columns of ``world``.

    ``world=None`` gives the keys (and factors) only: the rows of runs whose world could not be built.
    """
    types = (pa.int64(), pa.int64(), pa.int64(), pa.string(), pa.string())  # point replicate seed status error
    keys = [pa.field(k, t) for k, t in zip(RESULT_KEYS, types)]
    return pa.schema(keys + list(factors) + (outcome_fields(world) if world is not None else []))


def result_row(record: dict, world: World) -> dict:
    """The outcome columns of one replicate's summary record (``sim.engine.simulate.summarize``)."""
    out = {"phase_reached": record["phase_reached"], "phase_final": record["phase_final"]}
    for c in COUNTS:
        out[c] = int(record[c])
    for phase, year in record["first_year"].items():
        out[f"first_year_{phase}"] = float("nan") if year is None else float(year)
    for m, v in record["final"].items():
        out[f"final_{m}"] = float(v)
    for inst in world.institutions:
        levels = record["memberships"].get(inst, {})
        for code in world.codes:
            out[f"level_{inst}_{code}"] = levels.get(code, LEVELS[0])
    for inst, on in record["founded"].items():
        out[f"founded_{inst}"] = bool(on)
    return out


def result_rows(records: Iterable[dict], world: World, point: int, seed: int) -> list[dict]:
    """Results rows (status ok) of summary records of one point."""
    return [{"point": point, "replicate": r["replicate"], "seed": seed, "status": "ok", "error": None,
             **result_row(r, world)} for r in records]


def results_table(rows: list[dict], schema_: pa.Schema) -> pa.Table:
    """A results table of row dicts (missing columns null) in the schema's columns and types."""
    return pa.Table.from_pylist(rows, schema=schema_)


def dedupe_results(t: pa.Table) -> pa.Table:
    """One row per (point, replicate), sorted by it: the first ``ok`` row if there is one, else the last row.

    The single rule for keys written more than once: a failed key is retried
    on resume (its ok row wins), and of several failures the most recent says
    what happened last. "First" and "last" are in the order of ``t`` (chunks
    in the order they were written).
    """
    n = len(t)
    if n == 0:
        return t
    point = t.column("point").to_numpy(zero_copy_only=False).astype(np.int64)
    rep = t.column("replicate").to_numpy(zero_copy_only=False).astype(np.int64)
    failed = np.asarray(t.column("status").to_pylist(), dtype=object) != "ok"
    order = np.arange(n)
    # sort key: (point, replicate, failed, ok rows earliest first / failed rows latest first)
    idx = np.lexsort((np.where(failed, -order, order), failed, rep, point))
    p, r = point[idx], rep[idx]
    first = np.ones(n, dtype=bool)
    first[1:] = (p[1:] != p[:-1]) | (r[1:] != r[:-1])
    return t.take(pa.array(idx[first]))


def read_parts(paths: Sequence[Path], read: Callable[[Path], pa.Table | None] | None = None) -> pa.Table | None:
    """The tables of several Parquet files (a sweep's chunks), in the order given, as one; None if none is read.

    Each file is read once, by ``read`` (default ``pyarrow.parquet.read_table``; a
    ``read`` that returns None skips the file). Columns that differ between files
    (points of other worlds) are unified, missing values null. Results are not
    deduplicated here: see :func:`dedupe_results`.
    """
    if read is None:
        import pyarrow.parquet as pq

        read = pq.read_table
    parts = [t for t in map(read, paths) if t is not None]
    return pa.concat_tables(parts, promote_options="permissive") if parts else None


def write_results(t: pa.Table, path: Path) -> Path:
    """Write a results table atomically (``sim.engine.io.write_atomic``).

    The file carries pandas metadata, so ``pandas.read_parquet`` gives the
    dtypes of :func:`results_frame` (nullable counts and flags) as well.
    """
    import pyarrow.parquet as pq

    from .io import write_atomic

    meta = pa.Table.from_pandas(results_frame(t.slice(0, 0)), preserve_index=False).schema.metadata
    t = t.replace_schema_metadata({**(t.schema.metadata or {}), **meta})
    return write_atomic(path, lambda fh: pq.write_table(t, fh))


def results_frame(t: pa.Table):
    """A results table as pandas: counts as nullable ``Int64``, ``founded_*`` as nullable ``boolean``."""
    df = t.to_pandas()
    for c in df.columns:
        if c in COUNTS:
            df[c] = df[c].astype("Int64")
        elif c.startswith("founded_"):
            df[c] = df[c].astype("boolean")
    return df


# --------------------------------------------------------------------------- aggregates

#: The quantiles of aggregates.parquet (q10, q50, q90).
QUANTILES = (0.1, 0.5, 0.9)


def quantile_aggregates(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and the QUANTILES over replicates of (R, T+1, M) trajectories (R sorted by replicate)."""
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    return arr.mean(axis=0), np.quantile(arr, QUANTILES, axis=0)


def series_table(point, replicates, steps, years, arr, metrics):
    """Trajectories of a block of replicates: point replicate step year <metrics...> (replicate-major)."""
    R, T1, M = arr.shape
    data = {"point": np.full(R * T1, point, dtype=np.int64),
            "replicate": np.repeat(np.asarray(replicates, dtype=np.int64), T1),
            "step": np.tile(np.asarray(steps, dtype=np.int64), R), "year": np.tile(np.asarray(years, float), R)}
    for j, m in enumerate(metrics):
        data[m] = np.ascontiguousarray(arr[:, :, j]).ravel()
    return pa.table(data)


def aggregates_table(point, steps, years, metrics, mean, q, n):
    """Long aggregates rows of one point: point step year metric mean q10 q50 q90 n (step-major)."""
    T1, M = mean.shape
    return pa.table({
        "point": np.full(T1 * M, point, dtype=np.int64), "step": np.repeat(np.asarray(steps, dtype=np.int64), M),
        "year": np.repeat(np.asarray(years, float), M), "metric": pa.array(list(metrics) * T1, pa.string()),
        "mean": mean.ravel(), "q10": q[0].ravel(), "q50": q[1].ravel(), "q90": q[2].ravel(),
        "n": np.full(T1 * M, n, dtype=np.int64)})
