"""Benchmark of the batch engine (sim.batch) against the peers a user would otherwise pick.

    .venv/bin/python benchmarks/sweep.py                 # full benchmark, medians of 3 repeats (~10 min)
    .venv/bin/python benchmarks/sweep.py --repeats 1 --subset 20 --scaling 50 200   # a quick look

Measures, on the Turkic world, the 1,000-run design of conf/experiment/bench_1000.yaml
(50 LHS points over pressure intensity x identity confidence, 20 replicates, 200 steps):

1. end to end: ``python -m sim experiment=bench_1000`` in a subprocess, a fresh output
   directory each repeat (process start, Hydra, workers, every table written);
2. ``mesa.batch_run(RegionalAlignmentModel, ..., number_processes=2)`` over a subset of
   the same runs (the first points x all 20 replicates), scaled to 1,000 runs;
3. a Hydra multirun with one run per job (basic launcher, figures off) over a subset,
   scaled to 1,000 runs;
4. the kernel floor: the same 1,000 runs stepped by ``sim.dynamics.step`` alone (same
   blocks of 20 replicates per point, no recording, no I/O), divided by the core count
   (and, as a check of the machine, measured with the points split over that many
   processes at once); end to end and kernel repeats are interleaved;
5. scaling: one replicate on synthetic worlds of N states, 100 steps: seconds per step,
   peak traced memory, and the log-log slope of time per step in N.

Prints Markdown tables and the targets (DESIGN.md §5 / issue #4). Not a test: timings
depend on the machine and on what else runs on it (the load average is printed).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from statistics import median

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
EXPERIMENT = "bench_1000"


def compose(overrides):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from sim.config import CONF_DIR, HYDRA_VERSION_BASE

    with initialize_config_dir(str(CONF_DIR), version_base=HYDRA_VERSION_BASE):
        return hydra_compose("config", overrides=overrides)


def experiment_override(name: str) -> str:
    """``experiment=NAME`` (conf/config.yaml lists ``experiment: null``) or ``+experiment=NAME`` otherwise."""
    try:
        compose([f"experiment={name}"])
        return f"experiment={name}"
    except Exception:  # noqa: BLE001 -- the other spelling
        return f"+experiment={name}"


def bench_setup():
    """The bench_1000 experiment: Base (world, scenario, params), its factors and points table."""
    from sim.batch import Base
    from sim.config import validate
    from sim.design import as_design, expand
    from sim.design import validate as validate_design

    cfg = compose([experiment_override(EXPERIMENT)])
    v = validate(cfg)
    design = as_design(cfg.experiment.design)
    factors = validate_design(design, gp_codes=v.world.gp_codes, params=v.params)
    table = expand(design, factors)
    base = Base(world=v.world, scenario=v.scenario, params=v.params, steps=cfg.steps, seed=cfg.seed,
                replicates=cfg.experiment.replicates, factors=factors, metrics=tuple(cfg.experiment.metrics))
    return cfg, base, factors, table


def cores() -> int:
    from sim.batch import cpu_count

    return cpu_count()


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


# --------------------------------------------------------------------------- 1. end to end


def end_to_end(repeats: int, work: Path, first: int = 0) -> tuple[list[float], list[float], list[float]]:
    """Wall seconds of ``python -m sim experiment=bench_1000`` (fresh dir each), the rate it printed, CPU seconds."""
    walls, rates, cpus = [], [], []
    for i in range(first, first + repeats):
        out = work / f"e2e{i}"
        shutil.rmtree(out, ignore_errors=True)
        before = os.times()
        t = time.perf_counter()
        p = subprocess.run([PY, "-m", "sim", experiment_override(EXPERIMENT), f"hydra.run.dir={out}"],
                           cwd=ROOT, capture_output=True, text=True)
        walls.append(time.perf_counter() - t)
        after = os.times()
        cpus.append((after.children_user - before.children_user) + (after.children_system - before.children_system))
        if p.returncode != 0:
            sys.exit(f"end-to-end run failed ({p.returncode}):\n{p.stderr[-2000:]}")
        m = re.search(r"= ([0-9.]+) runs/s", p.stdout)
        rates.append(float(m.group(1)) if m else float("nan"))
        print(f"  end to end #{i + 1}: {walls[-1]:.1f} s  ({p.stdout.strip().splitlines()[-1]})", file=sys.stderr)
    return walls, rates, cpus


# --------------------------------------------------------------------------- 2. kernel floor


def kernel_points(points) -> float:
    """Seconds to step the given points' blocks of replicates with sim.dynamics.step only (no recording, no I/O)."""
    from sim.batch import inputs_for
    from sim.design import point_values
    from sim.dynamics import Context, init_state, replicate_rngs, step
    from sim.scenario import compile_schedule

    _, base, factors, table = bench_setup()
    prepared = []
    for p in points:
        world, scenario, params, steps = inputs_for(base, point_values(table, p, factors))
        prepared.append((world, params, compile_schedule(scenario, world, steps)))
    t = time.perf_counter()
    for world, params, schedule in prepared:
        ctx = Context(world, params, schedule)
        st = init_state(ctx, base.replicates)
        rngs = replicate_rngs(base.seed, base.replicates)
        for _ in range(schedule.steps):
            step(st, ctx, rngs, None)
    return time.perf_counter() - t


def kernel_parallel(n_points: int, processes: int) -> float:
    """Wall seconds of the kernel over all points split across ``processes`` spawned processes (start-up excluded)."""
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(processes) as pool:
        return max(pool.map(kernel_points, [range(i, n_points, processes) for i in range(processes)]))


# --------------------------------------------------------------------------- 3. mesa.batch_run


def mesa_batch_run(base, factors, table, points: int, repeats: int) -> tuple[list[float], int]:
    """Seconds of mesa.batch_run over the first ``points`` points x all replicates, 2 processes."""
    import copy

    import mesa

    from sim import RegionalAlignmentModel
    from sim.batch import inputs_for
    from sim.design import point_values

    params, scenario, steps = [], None, None
    for p in range(points):
        world, scenario, prm, steps = inputs_for(base, point_values(table, p, factors))
        params.append(prm)
    scenario = copy.deepcopy(scenario)  # the model runs the scenario's span: make it `steps` long
    scenario.end_year = scenario.start_year + steps // scenario.steps_per_year
    parameters = {"world": [base.world], "scenario_name": [scenario], "params": params,
                  "replicate": list(range(base.replicates)), "rng": [base.seed]}
    n = points * base.replicates

    def run():
        out = mesa.batch_run(RegionalAlignmentModel, parameters, number_processes=2, iterations=1,
                             data_collection_period=-1, max_steps=steps, display_progress=False)
        assert len({r["RunId"] for r in out}) == n

    out = timed(run, repeats)
    for i, t in enumerate(out):
        print(f"  mesa.batch_run #{i + 1}: {n} runs in {t:.1f} s", file=sys.stderr)
    return out, n


# --------------------------------------------------------------------------- 4. Hydra multirun, one run per job


def hydra_multirun(table, points: int, replicates: int, repeats: int, work: Path) -> tuple[list[float], int]:
    """Seconds of ``python -m sim -m`` with one run per job (replicates=1) over points x seeds."""
    values = ",".join(repr(float(v)) for v in table["params.pressure.intensity"].iloc[:points])
    n = points * replicates
    out = []
    for i in range(repeats):
        d = work / f"multirun{i}"
        shutil.rmtree(d, ignore_errors=True)
        cmd = [PY, "-m", "sim", "-m", "steps=200", "replicates=1", "figures=false", "progress=false",
               f"params.pressure.intensity={values}", f"seed=range(0,{replicates})", f"hydra.sweep.dir={d}"]
        t = time.perf_counter()
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        out.append(time.perf_counter() - t)
        if p.returncode != 0:
            sys.exit(f"multirun failed ({p.returncode}):\n{p.stderr[-2000:]}")
        jobs = len(list(d.glob("*/summary.json")))
        assert jobs == n, (jobs, n)
        print(f"  hydra multirun #{i + 1}: {n} jobs in {out[-1]:.1f} s", file=sys.stderr)
    return out, n


# --------------------------------------------------------------------------- 5. scaling in N


def scaling(sizes, steps: int, repeats: int) -> list[dict]:
    """Seconds per step (median of repeats) and peak traced memory of one replicate on synthetic worlds."""
    from sim.scenario import Scenario
    from sim.simulate import simulate
    from sim.world import synthetic_world

    scenario = Scenario(name="synthetic", description="no great-power strategies set (defaults)")
    rows = []
    for n in sizes:
        world = synthetic_world(n, seed=0)

        def run(k=steps):
            simulate(world, scenario, base_params(), seed=0, replicates=1, steps=k,
                     agents=False, pairs=False, events=True)

        t = median(timed(run, repeats))
        tracemalloc.start()
        run(min(steps, 10))  # the peak is reached in the first steps (state + temporaries)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rows.append({"n": n, "seconds": t, "per_step": t / steps, "peak_mb": peak / 2**20})
        print(f"  N={n}: {t / steps * 1e3:.1f} ms/step, peak {peak / 2**20:.0f} MB", file=sys.stderr)
    return rows


def base_params():
    from sim.params import Params

    return Params()


# --------------------------------------------------------------------------- report


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="repeats of each measurement (median reported)")
    ap.add_argument("--subset", type=int, default=100, help="runs measured for the peers (multiple of 20), scaled")
    ap.add_argument("--scaling", type=int, nargs="*", default=[50, 200, 1000], help="synthetic world sizes N")
    ap.add_argument("--scaling-steps", type=int, default=100)
    ap.add_argument("--skip", nargs="*", default=[], choices=["e2e", "kernel", "mesa", "multirun", "scaling"])
    ap.add_argument("--keep", type=Path, default=None, help="keep outputs here (default: a temporary directory)")
    args = ap.parse_args(argv)

    work = args.keep or Path(tempfile.mkdtemp(prefix="sim-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()
    cfg, base, factors, table = bench_setup()
    n_runs = len(table) * base.replicates
    c = cores()
    print(f"benchmark: {EXPERIMENT} = {len(table)} points x {base.replicates} replicates x {cfg.steps} steps "
          f"on {base.world.name}; {c} cores; repeats {args.repeats}", file=sys.stderr)
    res = {}
    # end to end and kernel interleaved, so that both see the same machine load
    e2e, kern, par = ([], [], []), [], []
    for i in range(args.repeats):
        if "e2e" not in args.skip:
            w, r, cpu = end_to_end(1, work, first=i)
            for acc, v in zip(e2e, (w, r, cpu)):
                acc.extend(v)
        if "kernel" not in args.skip:
            kern.append(kernel_points(range(len(table))))
            par.append(kernel_parallel(len(table), c))
            print(f"  kernel #{i + 1}: {kern[-1]:.1f} s on one core; {par[-1]:.1f} s on {c} processes", file=sys.stderr)
    if e2e[0]:
        res["e2e"] = e2e
    if kern:
        res["kernel"], res["kernel_par"] = kern, par
    pts = max(1, args.subset // base.replicates)
    if "mesa" not in args.skip:
        res["mesa"] = mesa_batch_run(base, factors, table, pts, args.repeats)
    if "multirun" not in args.skip:
        res["multirun"] = hydra_multirun(table, pts, base.replicates, args.repeats, work)
    if "scaling" not in args.skip and args.scaling:
        res["scaling"] = scaling(args.scaling, args.scaling_steps, args.repeats)
    load1 = os.getloadavg()

    lines = [f"### Batch engine benchmark: {n_runs} runs ({len(table)} points x {base.replicates} replicates x "
             f"{cfg.steps} steps, world {base.world.name}), {c} cores, median of {args.repeats}",
             "", "| measurement | runs measured | wall s (median) | scaled to 1,000 runs, s | runs/s | "
             "end-to-end speed-up | note |", "|---|---:|---:|---:|---:|---:|---|"]
    e2e = median(res["e2e"][0]) if "e2e" in res else float("nan")
    scale = 1000 / n_runs

    def row(name, measured, wall, scaled, note):
        rate = 1000 / scaled if scaled else float("nan")
        lines.append(f"| {name} | {measured} | {wall:.1f} | {scaled:.1f} | {rate:.1f} | {scaled / (e2e * scale):.1f}x "
                     f"| {note} |")

    if "e2e" in res:
        walls, rates, cpus = res["e2e"]
        row("end to end: `python -m sim experiment=bench_1000`", n_runs, e2e, e2e * scale,
            f"subprocess, fresh dir; engine-reported {median(rates):.1f} runs/s; CPU {median(cpus):.1f} s")
    if "kernel" in res:
        k = median(res["kernel"])
        row(f"kernel floor: `dynamics.step` only, / {c} cores", n_runs, k / c, k / c * scale,
            f"one core {k:.1f} s; same blocks of {base.replicates} replicates; no recording, no I/O")
        kp = median(res["kernel_par"])
        row(f"kernel in {c} processes at once (measured)", n_runs, kp, kp * scale,
            f"parallel efficiency {k / c / kp:.0%} (shared machine: <100% = contention)")
    if "mesa" in res:
        t, n = res["mesa"]
        row("`mesa.batch_run(..., number_processes=2)`", n, median(t), median(t) * 1000 / n,
            f"first {pts} points x {base.replicates} replicates, scaled x{1000 // n}; DataCollector each step")
    if "multirun" in res:
        t, n = res["multirun"]
        row("Hydra multirun, one run per job", n, median(t), median(t) * 1000 / n,
            f"basic launcher, {n} jobs ({pts} intensities x {base.replicates} seeds), figures off, scaled x{1000 // n}")
    lines.append("")
    if "scaling" in res:
        rows = res["scaling"]
        lines += ["| synthetic world N | seconds per step | 100 steps, s | peak traced memory, MB |",
                  "|---:|---:|---:|---:|"]
        for r in rows:
            lines.append(f"| {r['n']} | {r['per_step']:.4f} | {r['per_step'] * 100:.1f} | {r['peak_mb']:.0f} |")
        if len(rows) >= 2:
            slope = np.polyfit(np.log([r["n"] for r in rows]), np.log([r["per_step"] for r in rows]), 1)[0]
            res["slope"] = slope
            lines.append(f"| fitted exponent (log-log least squares of s/step on N) | {slope:.2f} | | |")
        lines.append("")
    lines += ["| target | value | met |", "|---|---:|:---:|"]
    if "e2e" in res and "mesa" in res:
        v = median(res["mesa"][0]) * 1000 / res["mesa"][1] / (e2e * scale)
        lines.append(f"| end to end >= 10x faster than mesa.batch_run (2 processes) | {v:.1f}x | {'yes' if v >= 10 else 'NO'} |")
    if "e2e" in res and "multirun" in res:
        v = median(res["multirun"][0]) * 1000 / res["multirun"][1] / (e2e * scale)
        lines.append(f"| end to end >= 30x faster than one-run-per-job multirun | {v:.1f}x | {'yes' if v >= 30 else 'NO'} |")
    if "e2e" in res and "kernel" in res:
        v = e2e / (median(res["kernel"]) / c)
        lines.append(f"| end to end within 1.5x of the kernel floor | {v:.2f}x | {'yes' if v <= 1.5 else 'NO'} |")
        vp = e2e / median(res["kernel_par"])
        lines.append(f"| (end to end / kernel measured in {c} processes at once) | {vp:.2f}x | |")
    if "slope" in res:
        big = res["scaling"][-1]
        lines.append(f"| N = {big['n']}: 100 steps in seconds | {big['per_step'] * 100:.1f} s | "
                     f"{'yes' if big['per_step'] * 100 < 60 else 'NO'} |")
        lines.append(f"| time per step ~ N^k with k <= 2.1 | {res['slope']:.2f} | {'yes' if res['slope'] <= 2.1 else 'NO'} |")
    lines += ["", f"Load average (1 min) before / after: {load0[0]:.2f} / {load1[0]:.2f} on {c} cores "
              f"(other processes on the machine inflate wall times)."]
    print("\n".join(lines))
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
