"""The compiled kernel: one step of every mechanism and the recording of the metrics, in one numba function.

This is the production implementation of the dynamics (issue #13). Every
client runs it: :func:`sim.engine.simulate.simulate` (so the command line, the batch
engine and its workers, calibration and the sensitivity studies), the Mesa
shell :class:`sim.shell.model.RegionalAlignmentModel` and so the browser page. The
numpy functions of :mod:`sim.core.dynamics` (``step``) and :mod:`sim.core.metrics`
(``measure``) are the readable reference, with the docstrings that cite the
theory and map the symbols; ``tests/test_kernel.py`` checks on seeded runs that
this kernel gives the same discrete outcomes (memberships, postures,
incidents, foundings, phases, the event log) and the same floats to ~1e-12.

What is compiled and what stays in Python
    Compiled (``sim.core.kernel_jit._advance``, ``@njit(cache=True)``; its own file,
    because numba's cache is keyed on the source file): for each replicate and
    each step of a segment, great-power pressure, threat perception,
    encounters, interaction, bounded confidence, cultural pull, disputes and
    regional-power backing, choice of postures and memberships, deepening and
    endogenous founding, the final clip, then the metrics of
    :func:`sim.core.metrics.measure` (phase included), and optionally the agent
    rows and the checkpointed pair arrays of :func:`sim.engine.simulate.simulate`.
    In Python: the uniforms (each replicate's own generator fills its block
    of steps with one ``Generator.random(out=...)`` call: the same numbers as
    one ``draw`` per step), the scheduled events (:func:`sim.core.dynamics.apply_events`,
    between segments: a segment ends before each step that has events), and
    the conversion of the event-log arrays into the log's tuples.

Layout
    The state stays the :class:`sim.core.dynamics.State` of numpy arrays, changed
    in place. Parameters and switches are packed into one float64 array in
    the order of ``PARAMS``; world, context and schedule arrays are copied
    into fixed dtypes, C order, so every call (R = 1 or R = 1000, any world)
    has the same argument types and uses the one compiled version.
    Pair quantities are symmetric (DESIGN.md §3) and every pair mechanism of a
    step runs in one pass over the pairs i < j (``_pairs``), each pair once;
    :func:`check_state` refuses a state whose trust, density or disputes are not symmetric.

Event log
    Rows of (step, stage, key, replicate, kind, a, b, value) appended in the
    order the kernel runs (replicate by replicate); a stable sort by (step,
    stage, key, replicate) gives the order of the reference's list (events,
    then incidents and backings, joins and exits, deepenings, foundings).

Compilation
    numba compiles on the first call after install or upgrade (tens of
    seconds; :func:`warm` says so on stderr) and stores the machine code in a
    cache directory (``sim/__pycache__`` when writable, else
    ``$NUMBA_CACHE_DIR`` or a user cache directory: :func:`cache_dir`); later
    processes load it in ~0.35 s (numba's own set-up, mostly). The batch engine
    compiles before it starts its workers when the cache is stale
    (:func:`cache_is_fresh`), so the workers load it instead of each compiling.
"""

from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from .kernel_jit import (I_COMMUNITY, I_F, I_FOUND_GIVEN, I_G, I_K, I_LAYOUT, I_N, I_START_YEAR, I_STEPS_PER_YEAR,
                         K_BACKING, K_DEEPENING, K_EXIT, K_FOUNDER, K_FOUNDING, K_INCIDENT, K_JOIN, KINDS, LAYOUT,
                         LG_A, LG_B, LG_KIND, LG_KEY, LG_REP, LG_STAGE, LG_STEP, LG_VALUE, LOG_COLUMNS, N_INTS,
                         PARAMS, _advance, metric_names)
from .kernel_cache import cache_dir, cache_is_fresh, cached_on_disk  # noqa: F401 -- part of this module's face


# --------------------------------------------------------------------------- Python side


@dataclass
class Packed:
    """A Context as plain arrays of fixed dtypes (C order), for :func:`_advance`."""

    prm: np.ndarray  # (len(PARAMS),) float64
    ints: np.ndarray  # (N_INTS,) int64
    capability: np.ndarray
    proximity: np.ndarray
    gp_prox: np.ndarray
    gp_cap: np.ndarray
    gp_drive: np.ndarray
    lead: np.ndarray  # (K, G) float64
    elig: np.ndarray  # (N, K) int8
    dep0: np.ndarray
    trans0: np.ndarray
    route_comp: np.ndarray
    rpow: np.ndarray  # (N,) bool
    led: np.ndarray  # (K,) bool
    rivals: np.ndarray  # (G, G) float64
    strategy: np.ndarray  # (steps, G, 5)
    metrics: list[str]

    def statics(self) -> tuple:
        return (self.prm, self.ints, self.capability, self.proximity, self.gp_prox, self.gp_cap, self.gp_drive,
                self.lead, self.elig, self.dep0, self.trans0, self.route_comp, self.rpow, self.led, self.rivals,
                self.strategy)


def pack_params(params) -> np.ndarray:
    """The parameters (and switches, as 0/1) as one float64 array in the order of ``PARAMS``."""
    out = np.empty(len(PARAMS))
    for i, name in enumerate(PARAMS):
        group, leaf = name.split(".")
        out[i] = float(getattr(getattr(params, group), leaf))
    return out


def pack(ctx) -> Packed:
    """The kernel's arrays for a Context (cached on the context: it is constant during a run)."""
    cached = ctx.__dict__.get("_kernel_packed")
    if cached is not None and cached[0] is ctx.params and cached[1] is ctx.schedule:
        return cached[2]
    w, s = ctx.world, ctx.schedule
    n, g, k, f = len(w.codes), len(w.gp_codes), len(w.institutions), len(w.features)
    ints = np.zeros(N_INTS, dtype=np.int64)
    ints[[I_N, I_G, I_K, I_F, I_COMMUNITY]] = n, g, k, f, w.community
    ints[I_FOUND_GIVEN] = bool(s.found_given[w.community]) if s.found_given is not None else 0
    ints[I_STEPS_PER_YEAR] = s.steps_per_year
    ints[I_START_YEAR] = s.start_year
    for j, name in enumerate(LAYOUT):
        ints[I_LAYOUT + j] = ctx.layout[name][0]
    arr = lambda a, dt=np.float64: np.array(a, dtype=dt, order="C")  # noqa: E731 -- private writable copies
    p = Packed(
        prm=pack_params(ctx.params), ints=ints, capability=arr(w.capability), proximity=arr(w.proximity),
        gp_prox=arr(w.gp_proximity), gp_cap=arr(w.gp_capability), gp_drive=arr(w.gp_drive),
        lead=arr(w.inst_leaders).reshape(k, g), elig=arr(w.eligibility, np.int8).reshape(n, k),
        dep0=arr(w.dependence).reshape(n, g), trans0=arr(w.transnational), route_comp=arr(ctx.route_comp),
        rpow=arr(ctx.regional_power, np.bool_), led=arr(ctx.led, np.bool_).reshape(k),
        rivals=arr(ctx.rivals).reshape(g, g), strategy=arr(s.strategy).reshape(-1, g, 5),
        metrics=metric_names(w.gp_codes))
    ctx.__dict__["_kernel_packed"] = (ctx.params, ctx.schedule, p)
    return p


#: State arrays in the kernel's argument order, with the dtype each must have.
STATE_DTYPES = {
    "trust": np.float64, "density": np.float64, "dispute": np.float64, "identity": np.float64,
    "threat_gp": np.float64, "threat_state": np.float64, "transnational": np.float64, "shock": np.float64,
    "dependence": np.float64, "sovereignty": np.float64, "posture": np.int8, "membership": np.int8,
    "depth": np.float64, "founded": np.bool_, "partner_open": np.bool_, "last_incident": np.float64,
    "incidents": np.bool_, "mutual": np.float64, "shared": np.float64, "hazard": np.float64,
    "contact": np.bool_, "ever_member": np.bool_,
}


def _state_args(st) -> list[np.ndarray]:
    """The state's arrays, each made C-contiguous, writable and of its dtype (in place on ``st``), in kernel order."""
    out = []
    for name, dtype in STATE_DTYPES.items():
        a = getattr(st, name)
        if not (isinstance(a, np.ndarray) and a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable):
            a = np.array(a, dtype=dtype, order="C")
            setattr(st, name, a)
        out.append(a)
    return out


def check_state(st) -> None:
    """Raise ValueError unless the pair arrays are symmetric (the kernel computes each pair once)."""
    for name in ("trust", "density", "dispute"):
        a = getattr(st, name)
        if not np.array_equal(a, np.swapaxes(a, 1, 2)):
            raise ValueError(f"state.{name} is not symmetric: pair quantities describe a pair (DESIGN.md §3)")


def _none(ndim: int, dtype=np.float64):
    """An empty array of ndim dimensions: that part of the recording is off (the argument types stay the same)."""
    return field(default_factory=lambda: np.zeros((0,) * ndim, dtype=dtype))


@dataclass
class Recorder:
    """Arrays the kernel records into; index 0 is step ``rec0``. Empty arrays switch a part off."""

    rec0: int
    metrics: np.ndarray = _none(3)  # (M, T+1, R)
    trust_mean: np.ndarray = _none(3)  # (T+1, R, N)
    threat_gp: np.ndarray = _none(4)  # (T+1, R, N, G)
    threat_neighbours: np.ndarray = _none(3)
    transnational: np.ndarray = _none(3)
    dependence: np.ndarray = _none(4)
    posture: np.ndarray = _none(4, np.int8)
    membership: np.ndarray = _none(4, np.int8)
    pairs: np.ndarray = _none(5)  # (5, C, R, N, N): trust, density, dispute, shared, mutual
    checkpoint: np.ndarray = _none(1, np.int64)  # (T+1,) index into pairs' C axis, -1 when not a checkpoint

    def args(self) -> tuple:
        return (self.metrics, self.trust_mean, self.threat_gp, self.threat_neighbours, self.transnational,
                self.dependence, self.posture, self.membership, self.pairs, self.checkpoint)

    @classmethod
    def for_run(cls, ctx, replicates: int, steps: int, rec0: int = 0, agents: bool = False,
                checkpoints=None) -> "Recorder":
        """Metrics for steps rec0 .. rec0+steps, and optionally agent rows and pairs at ``checkpoints``."""
        w = ctx.world
        n, g, k = len(w.codes), len(w.gp_codes), len(w.institutions)
        R, T1 = replicates, steps + 1
        rec = cls(rec0=rec0, metrics=np.zeros((len(pack(ctx).metrics), T1, R)))
        if agents:
            rec.trust_mean, rec.threat_neighbours, rec.transnational = (np.zeros((T1, R, n)) for _ in range(3))
            rec.threat_gp, rec.dependence = np.zeros((T1, R, n, g)), np.zeros((T1, R, n, g))
            rec.posture = np.zeros((T1, R, n, g), dtype=np.int8)
            rec.membership = np.zeros((T1, R, n, k), dtype=np.int8)
        if checkpoints is not None:
            rec.checkpoint = np.full(T1, -1, dtype=np.int64)
            for q, t in enumerate(checkpoints):
                rec.checkpoint[t - rec0] = q
            rec.pairs = np.zeros((5, len(checkpoints), R, n, n))
        return rec


#: Most uniforms held at once (float64 values): steps are drawn in blocks of at most this size.
BLOCK_VALUES = 2 ** 21


def advance(st, ctx, rngs, steps: int, log: list | None = None, recorder: Recorder | None = None,
            record_first: bool = False, progress=None) -> None:
    """Advance ``st`` (all replicates) by ``steps`` steps with the compiled kernel, recording into ``recorder``.

    The same as ``steps`` calls of :func:`sim.core.dynamics.step` (then :func:`sim.core.metrics.measure` when
    recording): each replicate's uniforms come from its own generator in the layout of
    ``Context.layout``, scheduled events are applied in Python before the step they belong to, and
    the event log (when ``log`` is a list) is extended in the reference's order. ``progress(k)``
    is called with the number of steps done so far in this call.
    """
    warm()
    p = pack(ctx)
    R, D = st.trust.shape[0], ctx.draws_per_step
    rec = recorder if recorder is not None else Recorder(rec0=st.step)
    statics = p.statics()
    klog = np.empty((256, LOG_COLUMNS))
    nlog = 0
    if record_first:  # the state as it is, before this step's events
        klog, nlog = _advance(st.step, st.step, True, True, rec.rec0, st.step, *statics, *_state_args(st),
                              np.empty((R, 0, D)), *rec.args(), klog, nlog)
    events_on = ctx.params.mechanisms.events
    t_start, t_end = st.step, st.step + int(steps)
    # a segment ends before each step with events (they are applied in Python first)
    cuts = sorted(t for t in ctx.schedule.events if events_on and t_start < t < t_end)
    per_block = max(1, min(t_end - t_start, BLOCK_VALUES // max(R * D, 1)))
    if progress is not None:
        per_block = min(per_block, max(1, (t_end - t_start) // 50))
    pylog: list[tuple[int, tuple]] = []
    t = t_start
    while t < t_end:
        u1 = min(t_end, t + per_block)
        u = np.empty((R, u1 - t, D))
        for r, g in enumerate(rngs):
            g.random(out=u[r])  # the same numbers as one Generator.random(D) per step
        a = t
        while a < u1:
            b = min([u1] + [c for c in cuts if c > a])
            reset = True
            if events_on and a in ctx.schedule.events:
                st.step = a
                st.incidents[...] = False
                ev: list | None = [] if log is not None else None
                _apply_events(st, ctx, ev)
                if ev:
                    pylog.extend((a, e) for e in ev)
                reset = False
            klog, nlog = _advance(a, b, reset, False, rec.rec0, t, *statics, *_state_args(st), u, *rec.args(),
                                  klog, nlog)
            a = b
        t = u1
        st.step = t
        if progress is not None:
            progress(t - t_start)
    if log is not None:
        log.extend(_merge_log(ctx, pylog, klog[:nlog]))


def _apply_events(st, ctx, log):
    from .dynamics import apply_events

    apply_events(st, ctx, log)


def _merge_log(ctx, pylog: list[tuple[int, tuple]], rows: np.ndarray) -> list[tuple]:
    """Python events (first in their step) and kernel rows, in the reference's order, as log tuples."""
    from .dynamics import SECURITY_MECHANISMS

    w, sched = ctx.world, ctx.schedule
    order = np.lexsort((rows[:, LG_REP], rows[:, LG_KEY], rows[:, LG_STAGE], rows[:, LG_STEP])) if len(rows) else []
    out: list[tuple] = []
    founders: list[int] = []
    py = iter(pylog)
    nxt = next(py, None)
    for idx in order:
        row = rows[idx]
        step = int(row[LG_STEP])
        while nxt is not None and nxt[0] <= step:
            out.append(nxt[1])
            nxt = next(py, None)
        kind, r, a, b, v = int(row[LG_KIND]), int(row[LG_REP]), int(row[LG_A]), int(row[LG_B]), float(row[LG_VALUE])
        year = sched.year(step)
        if kind == K_INCIDENT:
            out.append((r, step, year, "incident", w.codes[a], w.codes[b], v))
        elif kind == K_BACKING:
            out.append((r, step, year, "backing", w.codes[a], w.codes[b], np.nan))
        elif kind in (K_JOIN, K_EXIT):
            out.append((r, step, year, KINDS[kind], w.codes[a], w.institutions[b], v))
        elif kind == K_DEEPENING:
            out.append((r, step, year, "deepening", SECURITY_MECHANISMS[a][0], w.institutions[b], v))
        elif kind == K_FOUNDER:
            founders.append(a)
        elif kind == K_FOUNDING:
            out.append((r, step, year, "founding", ",".join(w.codes[j] for j in sorted(founders)),
                        w.institutions[b], v))
            founders = []
    while nxt is not None:
        out.append(nxt[1])
        nxt = next(py, None)
    return out


def step(st, ctx, rngs, log: list | None = None) -> dict[str, np.ndarray]:
    """One step of every replicate (as :func:`sim.core.dynamics.step`); returns the metrics of the new state.

    The Mesa shell's step: the dynamics and the recording of the metrics in one kernel call.
    """
    rec = Recorder.for_run(ctx, st.trust.shape[0], 1, rec0=st.step)
    advance(st, ctx, rngs, 1, log, rec)
    return {name: rec.metrics[m, 1] for m, name in enumerate(pack(ctx).metrics)}


def measure(st, ctx) -> dict[str, np.ndarray]:
    """The metrics of the current state (as :func:`sim.core.metrics.measure`), computed by the kernel."""
    rec = Recorder.for_run(ctx, st.trust.shape[0], 0, rec0=st.step)
    advance(st, ctx, [], 0, None, rec, record_first=True)  # no steps: records the state only
    return {name: rec.metrics[m, 0] for m, name in enumerate(pack(ctx).metrics)}


# --------------------------------------------------------------------------- compilation


_READY = False
_LOCK = threading.Lock()


def warm(quiet: bool = False) -> float:
    """Compile the kernel, or load it from the cache, before first use; returns the seconds it took.

    Says so on stderr when it compiles (the first run after install or upgrade). Called by every
    entry point of this module, and by the batch engine before it starts its workers, so that
    workers load the cache instead of each compiling.
    """
    global _READY
    if _READY:
        return 0.0
    with _LOCK:
        if _READY:
            return 0.0
        t0 = time.perf_counter()
        done = threading.Event()
        said = []

        def say():
            said.append(True)
            print(f"sim: compiling the simulation kernel (numba; once after install or upgrade, cached in "
                  f"{cache_dir()}) ...", file=sys.stderr, flush=True)

        if not quiet and not cached_on_disk():
            say()
        elif not quiet:  # an index exists but may be stale: say so only if loading takes long
            threading.Thread(target=lambda: done.wait(2.0) or say(), daemon=True).start()
        _READY = True  # the warm-up run below goes through advance(), which calls warm()
        try:
            with _no_blas_probe():
                _warm_run()
        except BaseException:
            _READY = False
            raise
        finally:
            done.set()
        seconds = time.perf_counter() - t0
        if said:
            print(f"sim: kernel compiled in {seconds:.0f} s", file=sys.stderr, flush=True)
        return seconds


@contextmanager
def _no_blas_probe():
    """Skip numba's probe for BLAS while the kernel loads: it imports scipy.linalg (~0.6 s of every start).

    numba runs the probe once, when it first loads its numpy registry (at the first compile or cache
    load), only to choose a fallback for np.vdot-style products; the kernel uses no BLAS, and np.dot
    in any later compiled function probes again and finds scipy as usual.
    """
    name = "scipy.linalg.cython_blas"
    if name in sys.modules:
        yield
        return
    sys.modules[name] = None  # an import of a None entry fails at once, without importing scipy.linalg
    try:
        yield
    finally:
        if name in sys.modules and sys.modules[name] is None:
            del sys.modules[name]


def _warm_run() -> None:
    """Two steps of a three-state synthetic world: compiles (or loads) the one signature every run uses."""
    from .dynamics import Context, init_state, replicate_rngs
    from .params import Params
    from .scenario import Scenario, compile_schedule
    from .world import synthetic_world

    world = synthetic_world(3, seed=0)
    ctx = Context(world, Params(), compile_schedule(Scenario(name="warm", start_year=0, end_year=2), world))
    st = init_state(ctx, 1)
    rec = Recorder.for_run(ctx, 1, 2, agents=True, checkpoints=[0, 2])
    advance(st, ctx, replicate_rngs(0, 1), 2, [], rec, record_first=True)


def compiled() -> bool:
    """Whether this process has the kernel ready (compiled or loaded from the cache)."""
    return bool(_advance.signatures)
