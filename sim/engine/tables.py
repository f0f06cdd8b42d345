"""Tidy tables of the data contract (docs/DATA.md "Single run directory") from a :class:`~sim.engine.simulate.Trajectory`.

Every table is long: one row per (replicate, step[, state | pair]) or per
event, rows ordered by replicate, then step, then state or pair. Levels and
postures are small integers (level 0..3 = none/partner/observer/member; posture
-1/0/1 = balance/hedge/bandwagon: ``sim.core.vocab.Level`` and ``Posture``); the phase is its
index in ``sim.core.vocab.PHASES``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.vocab import EVENT_FIELDS
from .simulate import PAIR_FIELDS, Trajectory

#: Metrics that count things (stored as int64); every other metric is float64.
COUNT_PREFIXES = ("members", "incidents", "member_incidents", "blocs", "phase", "balance_", "hedge_", "bandwagon_")
#: The events table's columns (the fields of ``sim.core.vocab.EventRecord``) and their dtypes.
EVENT_COLUMNS = dict(zip(EVENT_FIELDS, ("int64", "int64", "float64", "object", "object", "object", "float64")))


def _index(tr: Trajectory, inner: int = 1) -> dict[str, np.ndarray]:
    """replicate, step, year columns for rows ordered (replicate, step, inner)."""
    R, T1 = len(tr.replicates), len(tr.years)
    steps = np.arange(T1)
    return {"replicate": np.repeat(np.asarray(tr.replicates, dtype=np.int64), T1 * inner),
            "step": np.tile(np.repeat(steps, inner), R).astype(np.int64),
            "year": np.tile(np.repeat(tr.years, inner), R).astype(np.float64)}


def _is_count(name: str) -> bool:
    """Is this metric a count (stored as int64)?"""
    return any(name == p or (p.endswith("_") and name.startswith(p)) for p in COUNT_PREFIXES)


def timeseries_table(tr: Trajectory) -> pd.DataFrame:
    """One row per (replicate, step): replicate, step, year, then every metric of ``sim.core.metrics.measure``."""
    cols = _index(tr)
    for name, values in tr.timeseries.items():  # values: (T+1, R)
        if name != "year":
            flat = values.T.ravel()
            cols[name] = np.rint(flat).astype(np.int64) if _is_count(name) else flat.astype(np.float64)
    return pd.DataFrame(cols)


def agents_table(tr: Trajectory) -> pd.DataFrame:
    """One row per (replicate, step, state) with the per-state variables of ``sim.engine.simulate.agent_rows``."""
    w = tr.ctx.world
    n = len(w.codes)
    cols = _index(tr, inner=n)
    R, T1 = len(tr.replicates), len(tr.years)
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


def events_table(tr: Trajectory) -> pd.DataFrame:
    """One row per logged event: replicate (-1 = scheduled, in every replicate), step, year, type, a, b, value."""
    # the log holds batch positions; the table holds replicate indices k (they differ when first > 0)
    rows = [(tr.replicates[e.replicate] if e.replicate >= 0 else -1, int(e.step), float(e.year), str(e.type),
             str(e.a), str(e.b), float(e.value)) for e in tr.events]
    df = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
    return df.astype(EVENT_COLUMNS)


def pairs_table(tr: Trajectory) -> pd.DataFrame:
    """One row per (replicate, checkpoint, pair i<j): replicate step year a b trust density dispute shared mutual."""
    w = tr.ctx.world
    iu, ju = np.triu_indices(len(w.codes), 1)
    R, C, P = len(tr.replicates), len(tr.checkpoints), len(iu)
    codes = np.asarray(w.codes, dtype=object)
    steps = np.asarray(tr.checkpoints, dtype=np.int64)
    cols = {"replicate": np.repeat(np.asarray(tr.replicates, dtype=np.int64), C * P),
            "step": np.tile(np.repeat(steps, P), R),
            "year": np.tile(np.repeat(tr.years[steps], P), R).astype(np.float64),
            "a": np.tile(codes[iu], R * C), "b": np.tile(codes[ju], R * C)}
    for f in PAIR_FIELDS:  # (C, R, N, N) -> (R, C, P)
        cols[f] = np.swapaxes(tr.pairs[f][:, :, iu, ju], 0, 1).reshape(-1).astype(np.float64)
    return pd.DataFrame(cols)


def run_tables(tr: Trajectory) -> dict[str, pd.DataFrame]:
    """All four tables of a run directory, keyed by file stem."""
    return {"timeseries": timeseries_table(tr), "agents": agents_table(tr),
            "events": events_table(tr), "pairs": pairs_table(tr)}
