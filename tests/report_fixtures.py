"""Small result directories written exactly as docs/DATA.md specifies, for the report tests.

The report (`sim.report`) only reads directories; these builders write them
with the producers' own writers (`sim.engine.runs` for a run directory,
`sim.engine.results` and the batch engine's aggregate tables for an
experiment), from real runs of the core with few steps and replicates, so
every column the contract names is present with realistic values. Only
Hydra's `.hydra/` files and the JSON records are written here. Each kind of
directory can carry one deliberately broken job:

* a single run directory: ``broken="agents"`` (a truncated, unreadable
  ``agents.parquet``) or ``broken="summary"`` (no ``summary.json``);
* a multirun directory: one job folder with ``error.txt`` and no ``summary.json``;
* an experiment directory: ``failed`` (point, replicate) keys written as
  ``status=failed`` rows with an error text and no outcomes.

:func:`big_experiment` writes a synthetic experiment of any size (no
simulation) for the scale measurement.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

import pyarrow as pa
import pyarrow.parquet  # noqa: F401  (pa.parquet)

import sim
from sim.core.metrics import PHASES
from sim.core.params import Params, flatten, with_overrides
from sim.core.scenario import compile_schedule, load_scenario
from sim.core.world import LEVELS, WORLD_DIR, load_world
from sim.engine import runs, tables
from sim.engine.design import DesignConfig, points
from sim.engine.simulate import simulate, summarize
from sim.engine.spec import RunSpec

WORLD = load_world("turkic")
SCRIPT_NAME = "<script>alert('x')</script>"  # a hostile scenario name for the escaping tests


def resolved_config(scenario, params: Params, seed: int, replicates: int, steps: int | None,
                    world: str = "turkic", experiment: dict | None = None) -> dict:
    """A resolved config as the Hydra face composes it (the reader uses scenario/world/seed keys)."""
    sc = {"name": scenario.name, "description": scenario.description, "start_year": scenario.start_year,
          "end_year": scenario.end_year, "steps_per_year": scenario.steps_per_year}
    world_data = yaml.safe_load((WORLD_DIR / f"{world}.yaml").read_text())  # the producers store the world's data
    cfg = {"seed": seed, "replicates": replicates, "steps": steps, "world": world_data,
           "scenario": sc, "params": _nest(flatten(params))}
    if experiment is not None:
        cfg["experiment"] = experiment
    return cfg


def _nest(flat: dict) -> dict:
    out: dict = {}
    for key, value in flat.items():
        node = out
        *head, last = key.split(".")
        for h in head:
            node = node.setdefault(h, {})
        node[last] = value
    return out


def write_hydra(path: Path, cfg: dict, overrides: list[str], job_num: int = 0, override_dirname: str = "") -> None:
    """A `.hydra/` folder: config.yaml, overrides.yaml, hydra.yaml (the keys a reader may use)."""
    h = path / ".hydra"
    h.mkdir(parents=True, exist_ok=True)
    (h / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    (h / "overrides.yaml").write_text(yaml.safe_dump(list(overrides)))
    hydra = {"hydra": {"mode": "MULTIRUN" if override_dirname else "RUN",
                       "job": {"name": "sim", "num": job_num, "override_dirname": override_dirname},
                       "runtime": {"output_dir": str(path)},
                       "overrides": {"task": list(overrides)}}}
    (h / "hydra.yaml").write_text(yaml.safe_dump(hydra, sort_keys=False))


def _parse_override(text: str):
    key, _, value = text.partition("=")
    return key.lstrip("+~"), yaml.safe_load(value)


def write_run_dir(path: Path, scenario: str = "baseline", replicates: int = 3, steps: int = 4, seed: int = 0,
                  overrides: list[str] | None = None, scenario_name: str | None = None,
                  description: str | None = None, broken: str | None = None, job_num: int = 0,
                  override_dirname: str = "") -> Path:
    """A single run directory (DATA.md "Single run directory") from a real run of the core.

    ``overrides`` are Hydra overrides (``params.pressure.intensity=0.2``) applied
    to the params; ``scenario_name``/``description`` relabel the scenario (e.g.
    with ``<script>``); ``broken``: ``"agents"`` writes a corrupt agents.parquet
    and removes events.parquet, ``"summary"`` writes no summary.json.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    overrides = list(overrides or [])
    sc = load_scenario(scenario)
    if scenario_name is not None:
        sc.name = scenario_name
    if description is not None:
        sc.description = description
    pv = {}
    for o in overrides:
        k, v = _parse_override(o)
        if k.startswith("params."):
            pv[k[len("params."):]] = v
    params = with_overrides(Params(), pv)
    cfg = resolved_config(sc, params, seed, replicates, steps)
    write_hydra(path, cfg, overrides, job_num, override_dirname)
    spec = RunSpec(world=WORLD, scenario=sc, params=params, schedule=compile_schedule(sc, WORLD, steps), seed=seed,
                   replicates=replicates, steps=steps, checkpoint_every=2, config=cfg, config_hash="0" * 64,
                   command="python -m sim " + " ".join(overrides))
    runs.write(runs.execute(spec), path)
    if broken == "agents":
        data = (path / "agents.parquet").read_bytes()
        (path / "agents.parquet").write_bytes(data[: len(data) // 3])  # a half-written file
        (path / "events.parquet").unlink()
    if broken == "summary":
        (path / "summary.json").unlink()
    (path / "figures").mkdir(exist_ok=True)
    return path


def write_multirun_dir(path: Path, jobs: list[list[str]] | None = None, replicates: int = 2, steps: int = 3,
                       broken_job: bool = True) -> Path:
    """A Hydra multirun directory: multirun.yaml and one run folder per job.

    The default sweep is ``scenario=baseline,russia_resurgence`` x
    ``params.pressure.intensity=0.2,0.8`` (if russia_resurgence is missing, the
    baseline under a second name). With ``broken_job`` one more folder holds only
    ``.hydra/`` and ``error.txt`` (a failed job: no summary.json, no tables).
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    if jobs is None:
        jobs = [[f"scenario={s}", f"params.pressure.intensity={x}"]
                for s in ("baseline", "russia_resurgence") for x in (0.2, 0.8)]
    (path / "multirun.yaml").write_text(yaml.safe_dump(
        {"hydra": {"mode": "MULTIRUN", "overrides": {"task": ["scenario=baseline,russia_resurgence",
                                                              "params.pressure.intensity=0.2,0.8"]}}}))
    for num, ov in enumerate(jobs):
        dirname = ",".join(sorted(ov))
        scen = dict(_parse_override(o) for o in ov).get("scenario", "baseline")
        name = None
        try:
            load_scenario(scen)
        except Exception:  # the scenario may not exist yet in conf/: run the baseline under its name
            scen, name = "baseline", scen
        write_run_dir(path / dirname, scenario=scen, scenario_name=name, replicates=replicates, steps=steps,
                      seed=0, overrides=ov, job_num=num, override_dirname=dirname)
    if broken_job:
        ov = ["scenario=baseline", "params.pressure.intensity=1.5"]
        d = path / ",".join(sorted(ov))
        cfg = resolved_config(load_scenario("baseline"), Params(), 0, replicates, steps)
        write_hydra(d, cfg, ov, len(jobs), ",".join(sorted(ov)))
        (d / "error.txt").write_text("ParamError: params.pressure.intensity=1.5 is outside [0, 1]\n")
    return path


# --------------------------------------------------------------------------- experiments

def design_points(kind: str, factors: dict, samples: int = 4, levels: int = 4, seed: int = 0) -> pd.DataFrame:
    """The design matrix in point order, sampled by the batch engine's own :func:`sim.engine.design.points`."""
    table = points(DesignConfig(kind=kind, factors=factors, samples=samples, levels=levels, seed=seed))
    return pd.DataFrame(table)


def write_experiment_dir(path: Path, kind: str = "grid", factors: dict | None = None, replicates: int = 2,
                         steps: int = 3, samples: int = 4, levels: int = 4, failed: list[tuple[int, int]] | None = None,
                         description: str = "Does more pressure keep the Turkic states from a security community?",
                         name: str = "pressure_identity_grid", shard: int = 0, num_shards: int = 1,
                         keys: set[tuple[int, int]] | None = None, scenario_name: str | None = None) -> Path:
    """An experiment directory (DATA.md "Experiment directory") from real runs of the core.

    ``failed`` (point, replicate) keys are written as ``status=failed`` rows;
    ``keys`` restricts the rows written (a shard's slice).
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    factors = factors or {"params.pressure.intensity": [0.2, 0.8], "params.identity.confidence": [0.1, 0.3, 0.5]}
    failed = set(failed if failed is not None else [(1, 1)])
    design = design_points(kind, factors, samples=samples, levels=levels)
    sc = load_scenario("baseline")
    if scenario_name is not None:
        sc.name = scenario_name
    rows, aggs = [], []
    for _, pt in design.iterrows():
        p = int(pt["point"])
        over = {k[len("params."):]: float(pt[k]) for k in factors if k.startswith("params.")}
        params = with_overrides(Params(), over)
        tr = simulate(WORLD, sc, params, seed=7, replicates=replicates, steps=steps, agents=False, pairs=False)
        recs = summarize(tr)
        for rec in recs:
            k = rec["replicate"]
            if keys is not None and (p, k) not in keys:
                continue
            fac = {f: pt[f] for f in factors}
            if (p, k) in failed:
                rows.append({"point": p, "replicate": k, "seed": 7, "status": "failed",
                             "error": "FloatingPointError: overflow in trust update", **fac})
            else:
                rows.extend({**row, **fac} for row in tables.result_rows([rec], WORLD, p, 7))
        ok = [r for r in range(replicates) if (p, r) not in failed and (keys is None or (p, r) in keys)]
        if not ok:
            continue
        metrics = [m for m in tr.timeseries if m != "year"]
        arr = np.stack([tr.timeseries[m][:, ok] for m in metrics], axis=-1).transpose(1, 0, 2)  # (R, T+1, M)
        mean, q = tables.quantile_aggregates(arr)
        aggs.append(tables.aggregates_table(p, np.arange(len(tr.years)), tr.years, metrics, mean, q, len(ok)))
    factor_fields = [pa.field(f, pa.float64()) for f in factors]
    table = tables.results_table(rows, tables.results_schema(WORLD, factor_fields))
    tables.write_results(table, path / "results.parquet")
    design.to_parquet(path / "design.parquet", index=False)
    if aggs:
        pa.parquet.write_table(pa.concat_tables(aggs), path / "aggregates.parquet")
    n_failed = sum(1 for r in rows if r["status"] == "failed")
    exp = {"name": name, "description": description,
           "design": {"kind": kind, "factors": {k: list(v) for k, v in factors.items()}, "samples": samples,
                      "levels": levels, "second_order": False, "seed": 0},
           "points": len(design), "replicates": replicates, "seed": 7, "sim_version": sim.__version__,
           "config_hash": "0" * 64, "shard": shard, "num_shards": num_shards,
           "done": int(len(rows) - n_failed), "failed": n_failed,
           "command": f"python -m sim +experiment={name}", "created": "2025-01-01T00:00:00"}
    (path / "experiment.json").write_text(json.dumps(exp, indent=1))
    cfg = resolved_config(sc, Params(), 7, replicates, steps, experiment={"name": name, "description": description})
    write_hydra(path, cfg, [f"+experiment={name}"])
    (path / "chunks").mkdir(exist_ok=True)
    return path


def write_sharded(path: Path, num_shards: int = 2, **kw) -> Path:
    """A directory of shard_<i>of<K>/ experiment directories, keys dealt round-robin over the shards."""
    path = Path(path)
    factors = kw.get("factors") or {"params.pressure.intensity": [0.2, 0.8],
                                    "params.identity.confidence": [0.1, 0.3, 0.5]}
    n_points = len(design_points(kw.get("kind", "grid"), factors, kw.get("samples", 4), kw.get("levels", 4)))
    R = kw.get("replicates", 2)
    allkeys = [(p, r) for p in range(n_points) for r in range(R)]
    for i in range(num_shards):
        write_experiment_dir(path / f"shard_{i}of{num_shards}", shard=i, num_shards=num_shards,
                             keys=set(allkeys[i::num_shards]), **kw)
    return path


def big_experiment(path: Path, points: int = 5000, replicates: int = 20, steps: int = 20, seed: int = 0) -> Path:
    """A synthetic LHS experiment of points x replicates rows (no simulation), for the scale measurement."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    factors = {"params.pressure.intensity": [0.0, 1.0], "params.identity.confidence": [0.0, 1.0],
               "params.choice.sovereignty": [0.0, 5.0]}
    design = pd.DataFrame({"point": np.arange(points)})
    for f, (lo, hi) in factors.items():
        design[f] = lo + rng.random(points) * (hi - lo)
    design.to_parquet(path / "design.parquet", index=False)
    n = points * replicates
    res = pd.DataFrame({"point": np.repeat(np.arange(points), replicates),
                        "replicate": np.tile(np.arange(replicates), points), "seed": seed,
                        "status": np.where(rng.random(n) < 0.001, "failed", "ok")})
    res["error"] = np.where(res["status"] == "failed", "boom", "")
    for f in factors:
        res[f] = np.repeat(design[f].to_numpy(), replicates)
    score = res["params.identity.confidence"] - res["params.pressure.intensity"] + rng.normal(0, 0.3, n)
    code = np.clip(np.round(1.5 + 1.5 * score), 0, 4).astype(int)
    res["phase_reached"] = np.array(PHASES)[code]
    res["phase_final"] = np.array(PHASES)[np.maximum(code - 1, 0)]
    for i, ph in enumerate(PHASES[1:], start=1):
        res[f"first_year_{ph}"] = np.where(code >= i, 2025.0 + i * 3 + rng.integers(0, 4, n), np.nan)
    for c in ("incidents", "member_incidents", "joins", "exits"):
        res[c] = rng.integers(0, 10, n)
    for m in ("identity", "interaction", "interest", "trust_mean", "trust_min", "peace", "depth", "members",
              "blocs", "region_trust"):
        res[f"final_{m}"] = rng.random(n)
    for m in ("breadth",):
        res[f"final_{m}"] = rng.random(n)
    for inst in WORLD.institutions:
        for code_ in WORLD.codes:
            res[f"level_{inst}_{code_}"] = np.array(LEVELS)[rng.integers(0, 4, n)]
    for inst in WORLD.institutions:
        res[f"founded_{inst}"] = True
    schema = tables.results_schema(WORLD, [pa.field(f, pa.float64()) for f in factors])
    tables.write_results(pa.Table.from_pandas(res[schema.names], schema=schema, preserve_index=False),
                  path / "results.parquet")
    metrics = ["identity", "interaction", "interest", "trust_mean", "trust_min", "peace", "phase", "members",
               "depth", "region_trust", "blocs", "incidents"]
    T = steps + 1
    m = len(metrics)
    agg = pd.DataFrame({"point": np.repeat(np.arange(points), T * m),
                        "step": np.tile(np.repeat(np.arange(T), m), points),
                        "year": np.tile(np.repeat(2025.0 + np.arange(T), m), points),
                        "metric": np.tile(np.array(metrics), points * T)})
    q = rng.random((len(agg), 3))
    q.sort(1)
    agg["mean"], agg["q10"], agg["q50"], agg["q90"] = q[:, 1], q[:, 0], q[:, 1], q[:, 2]
    agg.to_parquet(path / "aggregates.parquet", index=False)
    exp = {"name": "big", "description": "scale test", "design": {"kind": "lhs", "factors": factors,
                                                                  "samples": points},
           "points": points, "replicates": replicates, "seed": seed, "sim_version": sim.__version__,
           "config_hash": "0" * 64, "shard": 0, "num_shards": 1, "done": int((res.status == "ok").sum()),
           "failed": int((res.status != "ok").sum()), "command": "python -m sim +experiment=big",
           "created": "2025-01-01T00:00:00"}
    (path / "experiment.json").write_text(json.dumps(exp))
    return path


__all__ = ["SCRIPT_NAME", "WORLD", "big_experiment", "design_points", "write_experiment_dir",
           "write_multirun_dir", "write_run_dir", "write_sharded"]
