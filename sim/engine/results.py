"""The results table (docs/DATA.md ``results.parquet``): its Arrow schema, its rows, its one dedupe rule.

One row per (point, replicate): the keys ``point replicate seed status error``,
the design's factor columns (experiments), then a replicate's outcome as flat
columns: ``phase_reached phase_final incidents member_incidents joins exits
first_year_<phase> final_<metric> level_<INST>_<CODE> founded_<INST>``.
Every ``level_<INST>_<CODE>`` column of the world is present (``none`` where
the state does not take part), so tables of one world always have the same
columns. Failed rows carry the keys and ``error``; their outcome columns are null.

Everything that writes or reads a results table goes through this module: a
single run and every job of a multirun (``sim.engine.runs``), the batch
engine's typed chunks and their merge (``sim.engine.batch``, read with
``pyarrow.dataset``), and the report (``sim.report.load``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pyarrow as pa

from ..core.metrics import PHASES
from ..core.world import LEVELS, World

#: The key columns, first in every results table.
KEYS = ("point", "replicate", "seed", "status", "error")
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


def schema(world: World | None, factors: Sequence[pa.Field] = ()) -> pa.Schema:
    """The Arrow schema of a results table: keys, ``factors`` (fields), the outcome columns of ``world``.

    ``world=None`` gives the keys (and factors) only: the rows of runs whose world could not be built.
    """
    keys = [pa.field("point", pa.int64()), pa.field("replicate", pa.int64()), pa.field("seed", pa.int64()),
            pa.field("status", pa.string()), pa.field("error", pa.string())]
    return pa.schema(keys + list(factors) + (outcome_fields(world) if world is not None else []))


def row(record: dict, world: World) -> dict:
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


def rows_of(records: Iterable[dict], world: World, point: int, seed: int) -> list[dict]:
    """Results rows (status ok) of summary records of one point."""
    return [{"point": point, "replicate": r["replicate"], "seed": seed, "status": "ok", "error": None,
             **row(r, world)} for r in records]


def table(rows: list[dict], schema_: pa.Schema) -> pa.Table:
    """A results table of row dicts (missing columns null) in the schema's columns and types."""
    return pa.Table.from_pylist(rows, schema=schema_)


def dedupe(t: pa.Table) -> pa.Table:
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


def read(paths: Sequence[Path], schema_: pa.Schema | None = None) -> pa.Table:
    """The rows of several results files (e.g. a sweep's chunks), in the order given, as one table.

    Read with ``pyarrow.dataset``; files whose columns differ (another world)
    are unified, missing columns null. Not deduplicated: see :func:`dedupe`.
    """
    import pyarrow.dataset as ds

    paths = [str(p) for p in paths]
    if not paths:
        return (schema_ or schema(None)).empty_table()
    if schema_ is None:
        schemas = [ds.dataset(p, format="parquet").schema for p in paths]
        schema_ = pa.unify_schemas(schemas, promote_options="permissive")
    parts = [ds.dataset(p, format="parquet", schema=schema_).to_table() for p in paths]  # keeps the file order
    return pa.concat_tables(parts)


def write(t: pa.Table, path: Path) -> Path:
    """Write a results table atomically (``sim.engine.io.write_atomic``).

    The file carries pandas metadata, so ``pandas.read_parquet`` gives the
    dtypes of :func:`to_pandas` (nullable counts and flags) as well.
    """
    import pyarrow.parquet as pq

    from .io import write_atomic

    meta = pa.Table.from_pandas(to_pandas(t.slice(0, 0)), preserve_index=False).schema.metadata
    t = t.replace_schema_metadata({**(t.schema.metadata or {}), **meta})
    return write_atomic(path, lambda fh: pq.write_table(t, fh))


def to_pandas(t: pa.Table):
    """A results table as pandas: counts as nullable ``Int64``, ``founded_*`` as nullable ``boolean``."""
    df = t.to_pandas()
    for c in df.columns:
        if c in COUNTS:
            df[c] = df[c].astype("Int64")
        elif c.startswith("founded_"):
            df[c] = df[c].astype("boolean")
    return df
