"""Benchmark of the compiled kernel and the batch engine against the numpy reference and the peers.

    .venv/bin/python benchmarks/sweep.py                  # everything, medians of 3 repeats (~20 min)
    .venv/bin/python benchmarks/sweep.py --readme         # ... and write the tables into README.md
    .venv/bin/python benchmarks/sweep.py --repeats 1 --subset 20 --sobol-samples 64 --scaling 50 200   # a quick look

Measures, in one run (DESIGN.md §5, issues #4 and #13):

1. per replicate-step: the compiled kernel (``sim.core.kernel.advance`` with the metrics recorded every
   step, as ``simulate`` runs it) against the numpy reference (``sim.core.dynamics.step`` then
   ``sim.core.metrics.measure``), side by side and interleaved, in the Turkic world (baseline, 200 steps)
   at R = 1, 20 and 100 replicates per call, and one replicate of synthetic worlds of N = 200 and
   1000 states; also the Mesa shell's path (``sim.core.kernel.step``, one call per step);
2. the 1,000-run design of conf/experiment/bench_1000.yaml (50 LHS points x 20 replicates x 200
   steps) end to end: ``python -m sim experiment=bench_1000`` in a subprocess, fresh output
   directory each repeat (process start, Hydra, workers, every table written);
3. the kernel floor: the same 1,000 runs stepped by the kernel alone (same blocks of 20
   replicates per point; no recording, no event log, no I/O), divided by the core count, and
   measured with the points split over that many processes at once; interleaved with 2;
4. ``mesa.batch_run(RegionalAlignmentModel, ..., number_processes=2)`` (the Mesa shell, which runs
   the same kernel one step per call; interleaved with 2 and 3) and a Hydra multirun with one run
   per job, each over a subset of the same runs, scaled to 1,000 runs. Because the shell runs the
   same kernel, mesa.batch_run / kernel floor bounds the ratio any sweep on this kernel can reach;
   the table prints that ceiling beside the ratio;
5. a Sobol study: conf/experiment/sensitivity_sobol.yaml (10 parameters, Saltelli sample) with
   1,024 base samples x 10 replicates (N (D + 2) = 12,288 points, 122,880 runs of 20 steps) end
   to end in a subprocess, report off;
6. scaling: one replicate of synthetic worlds of N states through ``simulate``, seconds per step,
   peak traced memory and the log-log slope of time per step in N;
7. compilation: the first load with an empty cache (compiling) and a load from the cache, each in
   a fresh process.

Prints Markdown tables with the targets and whether each is met. ``--readme`` writes them into
README.md between the ``benchmark:start`` and ``benchmark:end`` markers. Not a test: timings depend
on the machine and on what else runs on it (the load average before and after is printed).
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
SOBOL = "sensitivity_sobol"
README = ROOT / "README.md"
MARKERS = ("<!-- benchmark:start (written by benchmarks/sweep.py --readme) -->", "<!-- benchmark:end -->")


def compose(overrides):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from sim.face.config import CONF_DIR, HYDRA_VERSION_BASE

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
    from sim.engine.batch import Base
    from sim.engine.design import expand
    from sim.face.config import validate

    cfg = compose([experiment_override(EXPERIMENT)])
    v = validate(cfg)  # the spec the face hands the engine
    factors = v.experiment.factors
    table = expand(v.experiment.config.design, factors)
    base = Base(world=v.world, scenario=v.scenario, params=v.params, steps=v.steps, seed=v.seed,
                replicates=v.experiment.config.replicates, factors=factors, metrics=v.experiment.metrics)
    return cfg, base, factors, table


def cores() -> int:
    from sim.engine.resources import cpu_count

    return cpu_count()


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- 1. kernel vs numpy reference


def per_step(world, scenario, replicates: int, kernel_steps: int, ref_steps: int, repeats: int) -> dict:
    """Seconds per replicate-step: the kernel with recording, the numpy reference step + measure (interleaved)."""
    from sim.core import kernel
    from sim.core.dynamics import Context, init_state, replicate_rngs, step
    from sim.core.metrics import measure
    from sim.core.params import Params
    from sim.core.scenario import compile_schedule

    kernel.warm()
    ctx = Context(world, Params(), compile_schedule(scenario, world, max(kernel_steps, ref_steps)))
    ks, rs = [], []
    for _ in range(repeats):
        st, rngs = init_state(ctx, replicates), replicate_rngs(0, replicates)
        rec = kernel.Recorder.for_run(ctx, replicates, kernel_steps)
        t = time.perf_counter()
        kernel.advance(st, ctx, rngs, kernel_steps, [], rec, record_first=True)
        ks.append((time.perf_counter() - t) / (replicates * kernel_steps))
        st, rngs, log = init_state(ctx, replicates), replicate_rngs(0, replicates), []
        t = time.perf_counter()
        measure(st, ctx)
        for _ in range(ref_steps):
            step(st, ctx, rngs, log)
            measure(st, ctx)
        rs.append((time.perf_counter() - t) / (replicates * ref_steps))
    return {"kernel": median(ks), "reference": median(rs)}


def per_step_shell(world, scenario, steps: int, repeats: int) -> float:
    """Seconds per step of ``sim.core.kernel.step`` at R = 1 (the Mesa shell's path: one kernel call per step)."""
    from sim.core import kernel
    from sim.core.dynamics import Context, init_state, replicate_rngs
    from sim.core.params import Params
    from sim.core.scenario import compile_schedule

    ctx = Context(world, Params(), compile_schedule(scenario, world, steps))
    out = []
    for _ in range(repeats):
        st, rngs, log = init_state(ctx, 1), replicate_rngs(0, 1), []
        t = time.perf_counter()
        for _ in range(steps):
            kernel.step(st, ctx, rngs, log)
        out.append((time.perf_counter() - t) / steps)
    return median(out)


def kernel_vs_reference(repeats: int, synthetic_sizes) -> list[dict]:
    from sim.core.scenario import Scenario
    from sim.core.world import synthetic_world

    _, base, _, _ = bench_setup()
    rows = []
    for R, ref_steps in ((1, 100), (20, 40), (100, 10)):
        r = per_step(base.world, base.scenario, R, 200, ref_steps, repeats)
        rows.append({"case": f"Turkic world, R = {R}", "R": R, "N": base.world.n, **r})
        say(f"  Turkic R={R}: kernel {r['kernel'] * 1e6:.1f} us, numpy {r['reference'] * 1e6:.1f} us per replicate-step")
    shell = per_step_shell(base.world, base.scenario, 200, repeats)
    rows.append({"case": "Turkic world, R = 1, one kernel call per step (Mesa shell)", "R": 1, "N": base.world.n,
                 "kernel": shell, "reference": rows[0]["reference"]})
    for n in synthetic_sizes:
        world = synthetic_world(n, seed=0)
        sc = Scenario(name="synthetic", description="no great-power strategies set (defaults)")
        k_steps, r_steps = (20, 10) if n <= 200 else (5, 3)
        r = per_step(world, sc, 1, k_steps, r_steps, repeats)
        rows.append({"case": f"synthetic N = {n}, R = 1", "R": 1, "N": n, **r})
        say(f"  synthetic N={n}: kernel {r['kernel'] * 1e3:.2f} ms, numpy {r['reference'] * 1e3:.2f} ms per step")
    return rows


# --------------------------------------------------------------------------- 2. end to end


def end_to_end(work: Path, index: int, name: str = EXPERIMENT, extra=()) -> tuple[float, float, float, float, str]:
    """Wall seconds of ``python -m sim experiment=NAME`` (fresh dir), the rate it printed, CPU seconds, the
    seconds of its stepping phase it printed (workers started to last task done), its last line."""
    out = work / f"e2e-{name}-{index}"
    shutil.rmtree(out, ignore_errors=True)
    before = os.times()
    t = time.perf_counter()
    p = subprocess.run([PY, "-m", "sim", experiment_override(name), f"hydra.run.dir={out}", *extra],
                       cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    if p.returncode != 0:
        sys.exit(f"{name} run failed ({p.returncode}):\n{p.stderr[-2000:]}")
    m = re.search(r"= ([0-9.]+) runs/s", p.stdout)
    stepping = re.search(r"\(([0-9.]+) s stepping", p.stdout)
    last = p.stdout.strip().splitlines()[-1]
    shutil.rmtree(out, ignore_errors=True)
    return (wall, float(m.group(1)) if m else float("nan"), cpu,
            float(stepping.group(1)) if stepping else float("nan"), last)


# --------------------------------------------------------------------------- 3. kernel floor


def kernel_points(points) -> float:
    """Seconds to step the given points' blocks of replicates with the compiled kernel only (no recording, no I/O)."""
    from sim.core import kernel
    from sim.engine.batch import inputs_for
    from sim.engine.design import point_values
    from sim.core.dynamics import Context, init_state, replicate_rngs
    from sim.core.scenario import compile_schedule

    kernel.warm()
    _, base, factors, table = bench_setup()
    prepared = []
    for p in points:
        world, scenario, params, steps = inputs_for(base, point_values(table, p, factors))
        prepared.append((world, params, compile_schedule(scenario, world, steps)))
    t = time.perf_counter()
    for world, params, schedule in prepared:
        ctx = Context(world, params, schedule)
        st = init_state(ctx, base.replicates)
        kernel.advance(st, ctx, replicate_rngs(base.seed, base.replicates), schedule.steps)
    return time.perf_counter() - t


def kernel_parallel(n_points: int, processes: int) -> float:
    """Wall seconds of the kernel over all points split across ``processes`` spawned processes (start-up excluded)."""
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(processes) as pool:
        return max(pool.map(kernel_points, [range(i, n_points, processes) for i in range(processes)]))


# --------------------------------------------------------------------------- 4. peers


def mesa_batch_run(base, factors, table, points: int, repeats: int) -> tuple[list[float], int]:
    """Seconds of mesa.batch_run over the first ``points`` points x all replicates, 2 processes."""
    import copy

    import mesa

    from sim import RegionalAlignmentModel
    from sim.engine.batch import inputs_for
    from sim.engine.design import point_values

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
    for t in out:
        say(f"  mesa.batch_run: {n} runs in {t:.1f} s")
    return out, n


def hydra_multirun(table, points: int, replicates: int, repeats: int, work: Path) -> tuple[list[float], int]:
    """Seconds of ``python -m sim -m`` with one run per job (replicates=1) over points x seeds."""
    values = ",".join(repr(float(v)) for v in table["params.pressure.intensity"].iloc[:points])
    n = points * replicates
    out = []
    for i in range(repeats):
        d = work / f"multirun{i}"
        shutil.rmtree(d, ignore_errors=True)
        cmd = [PY, "-m", "sim", "-m", "steps=200", "replicates=1", "figures=false", "progress=false",
               "report=false", f"params.pressure.intensity={values}", f"seed=range(0,{replicates})",
               f"hydra.sweep.dir={d}"]
        t = time.perf_counter()
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        out.append(time.perf_counter() - t)
        if p.returncode != 0:
            sys.exit(f"multirun failed ({p.returncode}):\n{p.stderr[-2000:]}")
        jobs = len(list(d.glob("*/summary.json")))
        assert jobs == n, (jobs, n)
        shutil.rmtree(d, ignore_errors=True)
        say(f"  hydra multirun #{i + 1}: {n} jobs in {out[-1]:.1f} s")
    return out, n


# --------------------------------------------------------------------------- 5. Sobol study


def sobol_study(work: Path, samples: int) -> dict:
    cfg = compose([experiment_override(SOBOL), f"experiment.design.samples={samples}"])
    d = len(cfg.experiment.design.factors)
    points = samples * (2 * d + 2 if cfg.experiment.design.get("second_order") else d + 2)
    runs = points * cfg.experiment.replicates
    wall, rate, cpu, _, last = end_to_end(work, 0, SOBOL, [f"experiment.design.samples={samples}", "report=false",
                                                        "progress=false"])
    say(f"  Sobol {d} parameters x {samples} samples: {runs} runs in {wall:.1f} s ({last})")
    return {"factors": d, "samples": samples, "points": points, "replicates": cfg.experiment.replicates,
            "steps": cfg.steps or 20, "runs": runs, "wall": wall, "cpu": cpu, "rate": rate}


# --------------------------------------------------------------------------- 6. scaling in N


def scaling(sizes, steps: int, repeats: int) -> list[dict]:
    """Seconds per step (median of repeats) and peak traced memory of one replicate on synthetic worlds."""
    from sim.core.params import Params
    from sim.core.scenario import Scenario
    from sim.engine.simulate import simulate
    from sim.core.world import synthetic_world

    scenario = Scenario(name="synthetic", description="no great-power strategies set (defaults)")
    rows = []
    for n in sizes:
        world = synthetic_world(n, seed=0)

        def run(k=steps):
            simulate(world, scenario, Params(), seed=0, replicates=1, steps=k, agents=False, pairs=False, log_events=True)

        t = median(timed(run, repeats))
        tracemalloc.start()
        run(min(steps, 10))  # the peak is reached in the first steps (state + uniforms)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rows.append({"n": n, "seconds": t, "per_step": t / steps, "peak_mb": peak / 2**20})
        say(f"  N={n}: {t / steps * 1e3:.1f} ms/step, peak {peak / 2**20:.0f} MB")
    return rows


# --------------------------------------------------------------------------- 7. compilation


def compilation() -> dict:
    """Seconds to get the kernel ready in a fresh process: with an empty cache (compiling), then from the cache."""
    code = "import time; t = time.perf_counter(); import sim.core.kernel as k; k.warm(True); print(time.perf_counter() - t)"
    with tempfile.TemporaryDirectory(prefix="sim-numba-") as d:
        env = {**os.environ, "NUMBA_CACHE_DIR": d}
        out = {}
        for key in ("compile", "load"):
            p = subprocess.run([PY, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
            out[key] = float(p.stdout.strip().splitlines()[-1])
            say(f"  kernel ready in a fresh process ({key}): {out[key]:.2f} s")
    return out


# --------------------------------------------------------------------------- report


def verdict(ok: bool) -> str:
    return "yes" if ok else "NO"


def report(res: dict, args, c: int, n_runs: int, cfg, base, table, load0, load1) -> str:
    lines = [f"**Compiled kernel against the numpy reference** (per replicate-step, metrics recorded every step; "
             f"median of {args.ref_repeats}, measured side by side, interleaved)", "",
             "| case | kernel | numpy reference | speed-up |", "|---|---:|---:|---:|"]

    def fmt(sec):
        return f"{sec * 1e6:.1f} µs" if sec < 1e-3 else f"{sec * 1e3:.2f} ms"

    for r in res.get("kernel_vs_reference", []):
        lines.append(f"| {r['case']} | {fmt(r['kernel'])} | {fmt(r['reference'])} | "
                     f"{r['reference'] / r['kernel']:.1f}x |")
    if "compilation" in res:
        cmp_ = res["compilation"]
        lines += ["", f"Kernel ready in a fresh process: {cmp_['compile']:.0f} s with an empty cache (numba compiles "
                      f"it once after install or upgrade, saying so on stderr), {cmp_['load']:.2f} s from the cache "
                      f"(import of numba and sim.core.kernel included)."]
    lines += ["", f"**Batch engine**: {n_runs} runs ({len(table)} points x {base.replicates} replicates x {cfg.steps} "
                  f"steps, world {base.world.name}), {c} cores, median of {args.repeats}", "",
              "| measurement | runs measured | wall s (median) | scaled to 1,000 runs, s | runs/s | "
              "end-to-end speed-up | note |", "|---|---:|---:|---:|---:|---:|---|"]
    e2e = median(res["e2e"][0]) if "e2e" in res else float("nan")
    scale = 1000 / n_runs

    def row(name, measured, wall, scaled, note):
        rate = 1000 / scaled if scaled else float("nan")
        lines.append(f"| {name} | {measured} | {wall:.1f} | {scaled:.1f} | {rate:.1f} | {scaled / (e2e * scale):.1f}x "
                     f"| {note} |")

    if "e2e" in res:
        walls, rates, cpus, steppings = res["e2e"]
        row(f"end to end: `python -m sim experiment={EXPERIMENT}`", n_runs, e2e, e2e * scale,
            f"subprocess, fresh dir; engine-reported {median(rates):.1f} runs/s; CPU {median(cpus):.1f} s")
        st = median(steppings)
        row("... of which its stepping phase (as the engine reports it)", n_runs, st, st * scale,
            f"workers running the tasks, recording, summaries, chunks; the other {e2e - st:.1f} s are start-up "
            "(Python, imports, Hydra's two compositions, validation), the merge and exit")
    if "kernel" in res:
        k = median(res["kernel"])
        row(f"kernel floor: compiled kernel only, / {c} cores", n_runs, k / c, k / c * scale,
            f"one core {k:.1f} s; same blocks of {base.replicates} replicates; no recording, no I/O")
        kp = median(res["kernel_par"])
        row(f"kernel in {c} processes at once (measured)", n_runs, kp, kp * scale,
            f"parallel efficiency {k / c / kp:.0%} (shared machine: <100% = contention)")
    pts = max(1, args.subset // base.replicates)
    if "mesa" in res:
        t, n = res["mesa"]
        row("`mesa.batch_run(..., number_processes=2)`", n, median(t), median(t) * 1000 / n,
            f"first {pts} points x {base.replicates} replicates, scaled x{1000 // n}; the Mesa shell on the kernel, "
            "DataCollector each step")
    if "multirun" in res:
        t, n = res["multirun"]
        row("Hydra multirun, one run per job", n, median(t), median(t) * 1000 / n,
            f"basic launcher, {n} jobs ({pts} intensities x {base.replicates} seeds), figures off, scaled x{1000 // n}")
    lines.append("")
    if "sobol" in res:
        s = res["sobol"]
        lines += [f"**Sobol study** (`python -m sim +experiment={SOBOL} experiment.design.samples={s['samples']} "
                  f"report=false`): {s['factors']} parameters x {s['samples']} base samples = {s['points']:,} points "
                  f"x {s['replicates']} replicates = {s['runs']:,} runs of {s['steps']} steps in {s['wall']:.0f} s "
                  f"end to end ({s['runs'] / s['wall']:.0f} runs/s, CPU {s['cpu']:.0f} s), one run.", ""]
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
    kv = {r["case"]: r for r in res.get("kernel_vs_reference", [])}
    for case, target in (("Turkic world, R = 20", 8), ("Turkic world, R = 1", 30)):
        if case in kv:
            v = kv[case]["reference"] / kv[case]["kernel"]
            lines.append(f"| kernel >= {target}x faster than the numpy reference per replicate-step, {case} | "
                         f"{v:.1f}x | {verdict(v >= target)} |")
    big = [r for r in res.get("kernel_vs_reference", []) if r["case"].startswith("synthetic N = 1000")]
    if big:
        v = big[0]["reference"] / big[0]["kernel"]
        lines.append(f"| kernel >= 5x faster than the numpy reference, synthetic N = 1000 | {v:.1f}x | "
                     f"{verdict(v >= 5)} |")
    if "e2e" in res and "kernel" in res:
        v = e2e / (median(res["kernel"]) / c)
        lines.append(f"| end to end within 1.5x of the kernel floor | {v:.2f}x | {verdict(v <= 1.5)} |")
        vp = e2e / median(res["kernel_par"])
        lines.append(f"| (end to end / kernel measured in {c} processes at once) | {vp:.2f}x | |")
        vs = median(res["e2e"][3]) / (median(res["kernel"]) / c)
        lines.append(f"| (the engine's stepping phase / kernel floor: what the fixed start-up cost leaves) | "
                     f"{vs:.2f}x | |")
    if "e2e" in res and "mesa" in res:
        v = median(res["mesa"][0]) * 1000 / res["mesa"][1] / (e2e * scale)
        lines.append(f"| end to end >= 50x faster than mesa.batch_run (2 processes) | {v:.1f}x | {verdict(v >= 50)} |")
        if "kernel" in res:  # the Mesa shell runs the same kernel: a sweep cannot beat the kernel alone
            ceiling = median(res["mesa"][0]) * 1000 / res["mesa"][1] / (median(res["kernel"]) / c * scale)
            lines.append(f"| (ceiling of that ratio: mesa.batch_run / kernel floor, as the shell runs the same "
                         f"kernel) | {ceiling:.1f}x | |")
    if "e2e" in res and "multirun" in res:
        v = median(res["multirun"][0]) * 1000 / res["multirun"][1] / (e2e * scale)
        lines.append(f"| end to end >= 30x faster than one-run-per-job multirun (issue #4) | {v:.1f}x | "
                     f"{verdict(v >= 30)} |")
    if "sobol" in res:
        s = res["sobol"]
        full = s["samples"] == 1024 and s["factors"] == 10 and s["replicates"] == 10
        lines.append(f"| Sobol study (10 parameters x 1,024 x 10 replicates) under 5 minutes on {c} cores | "
                     f"{s['wall'] / 60:.1f} min{'' if full else ' (smaller study: ' + str(s['runs']) + ' runs)'} | "
                     f"{verdict(s['wall'] < 300) if full else 'n/a'} |")
    if "slope" in res:
        big_n = res["scaling"][-1]
        lines.append(f"| N = {big_n['n']}: 100 steps in seconds (issue #4: < 60 s) | {big_n['per_step'] * 100:.1f} s | "
                     f"{verdict(big_n['per_step'] * 100 < 60)} |")
        lines.append(f"| time per step ~ N^k with k <= 2.1 (issue #4) | {res['slope']:.2f} | "
                     f"{verdict(res['slope'] <= 2.1)} |")
    lines += ["", f"Load average (1 min) before / after: {load0[0]:.2f} / {load1[0]:.2f} on {c} cores "
              f"(other processes on the machine inflate wall times)."]
    return "\n".join(lines)


def write_readme(text: str) -> None:
    body = README.read_text(encoding="utf-8")
    start, end = MARKERS
    if start not in body or end not in body:
        sys.exit(f"README.md has no {start} ... {end} block to replace")
    head, rest = body.split(start, 1)
    _, tail = rest.split(end, 1)
    README.write_text(f"{head}{start}\n{text}\n{end}{tail}", encoding="utf-8")
    say(f"wrote the tables into {README}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="repeats of each measurement (median reported)")
    ap.add_argument("--ref-repeats", type=int, default=9,
                    help="interleaved repeats of the (short) kernel-vs-reference measurements (median reported)")
    ap.add_argument("--subset", type=int, default=100, help="runs measured for the peers (multiple of 20), scaled")
    ap.add_argument("--synthetic", type=int, nargs="*", default=[200, 1000], help="N for kernel vs reference")
    ap.add_argument("--scaling", type=int, nargs="*", default=[50, 200, 1000], help="synthetic world sizes N")
    ap.add_argument("--scaling-steps", type=int, default=100)
    ap.add_argument("--sobol-samples", type=int, default=1024, help="base samples of the Sobol study")
    ap.add_argument("--skip", nargs="*", default=[],
                    choices=["compile", "reference", "e2e", "kernel", "mesa", "multirun", "sobol", "scaling"])
    ap.add_argument("--readme", action="store_true", help="write the tables into README.md")
    ap.add_argument("--keep", type=Path, default=None, help="keep outputs here (default: a temporary directory)")
    args = ap.parse_args(argv)

    work = args.keep or Path(tempfile.mkdtemp(prefix="sim-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()
    cfg, base, factors, table = bench_setup()
    n_runs = len(table) * base.replicates
    c = cores()
    say(f"benchmark: {EXPERIMENT} = {len(table)} points x {base.replicates} replicates x {cfg.steps} steps "
        f"on {base.world.name}; {c} cores; repeats {args.repeats}")
    res: dict = {}
    if "compile" not in args.skip:
        res["compilation"] = compilation()
    if "reference" not in args.skip:
        res["kernel_vs_reference"] = kernel_vs_reference(args.ref_repeats, args.synthetic)
    # end to end, the kernel floor and mesa.batch_run interleaved, so that their ratios see the same load
    e2e, kern, par, mesa = ([], [], [], []), [], [], ([], 0)
    pts = max(1, args.subset // base.replicates)
    for i in range(args.repeats):
        if "e2e" not in args.skip:
            w, r, cpu, stepping, last = end_to_end(work, i)
            for acc, v in zip(e2e, (w, r, cpu, stepping)):
                acc.append(v)
            say(f"  end to end #{i + 1}: {w:.1f} s  ({last})")
        if "kernel" not in args.skip:
            kern.append(kernel_points(range(len(table))))
            par.append(kernel_parallel(len(table), c))
            say(f"  kernel #{i + 1}: {kern[-1]:.1f} s on one core; {par[-1]:.1f} s on {c} processes")
        if "mesa" not in args.skip:
            t, n = mesa_batch_run(base, factors, table, pts, 1)
            mesa = (mesa[0] + t, n)
    if e2e[0]:
        res["e2e"] = e2e
    if kern:
        res["kernel"], res["kernel_par"] = kern, par
    if mesa[0]:
        res["mesa"] = mesa
    if "multirun" not in args.skip:
        res["multirun"] = hydra_multirun(table, pts, base.replicates, args.repeats, work)
    if "sobol" not in args.skip:
        res["sobol"] = sobol_study(work, args.sobol_samples)
    if "scaling" not in args.skip and args.scaling:
        res["scaling"] = scaling(args.scaling, args.scaling_steps, args.repeats)
    load1 = os.getloadavg()
    text = report(res, args, c, n_runs, cfg, base, table, load0, load1)
    print(text)
    if args.readme:
        write_readme(text)
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
