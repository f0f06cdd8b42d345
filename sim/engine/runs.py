"""A single run: R seeded replicates of one world x scenario x parameters, its tables and summary.

The engine's side of ``python -m sim`` (without an experiment) and of
``sim.run(...)``: :func:`execute` runs a validated :class:`~sim.engine.spec.RunSpec`
in memory; :func:`write` writes the run directory of docs/DATA.md ("Single
run directory"): the tables, ``results.parquet`` (one row per replicate,
:mod:`sim.engine.tables`, as every job of a multirun and every experiment
writes it), the figures (drawn by the caller's ``figures`` function, so the
engine does not import the report) and ``summary.json`` last.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa

from .. import __version__
from ..core.metrics import PHASES
from ..core.world import World
from .tables import result_rows, results_schema, results_table, run_tables, write_results
from .io import write_json_atomic, write_parquet_atomic
from .simulate import Trajectory, simulate, summarize
from .spec import RunSpec


@dataclass
class RunOutput:
    """A finished run in memory: the trajectory, its tables, its results table and its summary record."""

    trajectory: Trajectory
    tables: dict[str, pd.DataFrame]  # timeseries, agents, events, pairs (docs/DATA.md)
    results: pa.Table  # one row per replicate (sim.engine.tables)
    summary: dict  # summary.json's content


def execute(spec: RunSpec, progress: Callable[[int], None] | None = None) -> RunOutput:
    """Run ``spec.replicates`` seeded replicates of the spec; nothing is written."""
    w = spec.world
    tr = simulate(w, spec.scenario, spec.params, seed=spec.seed, replicates=spec.replicates, steps=spec.steps,
                  checkpoint_every=spec.checkpoint_every, progress=progress)
    tables = run_tables(tr)
    records = summarize(tr)
    table = results_table(result_rows(records, w, 0, spec.seed), results_schema(w))
    summary = {
        "sim_version": __version__, "config_hash": spec.config_hash, "seed": spec.seed,
        "seeds": [{"replicate": k, "spawn_key": [k]} for k in tr.replicate_ids],
        "world": w.name, "scenario": spec.scenario.name, "years": [tr.years[0], tr.years[-1]],
        "command": spec.command, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "replicates": records,
    }
    summary["aggregate"] = summary_aggregate(records, tables["events"], w)
    return RunOutput(tr, tables, table, summary)


def write(run: RunOutput, out: Path, figures: Callable[[RunOutput, Path], object] | None = None) -> Path:
    """Write the run directory ``out``: tables, ``results.parquet``, ``figures(run, out)``, then ``summary.json``."""
    out = Path(out)
    for name, df in run.tables.items():
        write_parquet_atomic(df, out / f"{name}.parquet")
    write_results(run.results, out / "results.parquet")
    if figures is not None:
        figures(run, out)
    write_json_atomic(run.summary, out / "summary.json")  # last: its presence marks a complete run
    return out


def summary_aggregate(records: list[dict], events: pd.DataFrame, world: World) -> dict:
    """Across replicates: phase counts, median first years, final community members, joins and exits per state."""
    community = world.institutions[world.community]
    firsts = {p: [r["first_year"][p] for r in records if r["first_year"][p] is not None] for p in PHASES[1:]}
    moves = events[(events["replicate"] >= 0) & events["type"].isin(["join", "exit"])]
    counts = {kind: {inst: dict(sorted(Counter(g["a"]).items())) for inst, g in df.groupby("b", sort=True)}
              for kind, df in (("joins", moves[moves["type"] == "join"]), ("exits", moves[moves["type"] == "exit"]))}
    in_community = moves[moves["b"] == community]
    return {
        "replicates": len(records),
        "phase_reached": {p: sum(r["phase_reached"] == p for r in records) for p in PHASES},
        "phase_final": {p: sum(r["phase_final"] == p for r in records) for p in PHASES},
        "first_year_median": {p: float(np.median(v)) if v else None for p, v in firsts.items()},
        "community": community,
        "final_members": {c: sum(r["memberships"][community].get(c) == "member" for r in records)
                          for c in world.codes},
        **counts,
        "joined_community": {c: int(g["replicate"].nunique()) for c, g in
                             in_community[in_community["type"] == "join"].groupby("a", sort=True)},
        "left_community": {c: int(g["replicate"].nunique()) for c, g in
                           in_community[in_community["type"] == "exit"].groupby("a", sort=True)},
    }


def summary_text(summary: dict, out: Path | None = None) -> str:
    """A short human summary: phase reached and when, in how many replicates; who joined or left the community."""
    agg, n = summary["aggregate"], summary["aggregate"]["replicates"]
    comm = agg["community"]

    def share(d, most=12):
        """'TUR 20/20, AZE 19/20': states by count, most first, at most `most` of them; 'none' if empty."""
        items = [f"{c} {k}/{n}" for c, k in sorted(d.items(), key=lambda kv: (-kv[1], kv[0])) if k]
        more = f" and {len(items) - most} more" if len(items) > most else ""
        return ", ".join(items[:most]) + more if items else "none"

    reached = ", ".join(f"{p} {k}/{n}" + (f" (median first year {agg['first_year_median'][p]:g})"
                                          if p != "none" and agg["first_year_median"][p] is not None else "")
                        for p, k in agg["phase_reached"].items() if k)
    lines = [f"{summary['scenario']} {summary['years'][0]:g}-{summary['years'][1]:g}, world {summary['world']}, "
             f"{n} replicates, seed {summary['seed']}",
             f"  highest phase reached: {reached}",
             f"  phase at the end:      {', '.join(f'{p} {k}/{n}' for p, k in agg['phase_final'].items() if k)}",
             f"  {comm} members at the end: {share(agg['final_members'])}",
             f"  joined {comm} (or moved up a level): {share(agg['joined_community'])}",
             f"  left {comm} (or moved down a level): {share(agg['left_community'])}"]
    if out is not None:
        lines.append(f"  written to {out}")
    return "\n".join(lines)
