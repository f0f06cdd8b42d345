"""Memory a run or a sweep needs, and memory the machine has: checked before anything starts.

DESIGN.md §7 (bad input is refused before anything is written): a run that
cannot fit in memory is refused at validation with one line saying how much it
needs, how much there is and which key to lower, instead of dying with a
``MemoryError`` (or being killed by the OS) after minutes.

The estimates are peak resident memory (bytes) fitted by least squares to
measurements of ``sim.engine.simulate.simulate`` + ``sim.engine.tables.run_tables`` + the
Parquet writes (single runs) and of the batch engine's array call (sweeps) on
synthetic worlds of N = 11..500 states, R = 2..2000 replicates and T = 5..400
steps (peak RSS of a fresh process, Python 3.11, numpy 2). They are within
about 30% of the measurements; the fitted terms are:

- the state arrays and the temporaries of one step: about 23 float64 (N, N)
  matrices per replicate (trust, density, dispute, hazard, ... in
  ``sim.core.dynamics``): ``184 R N^2``;
- per replicate and recorded step: the timeseries row and the event log
  (``700 R (T+1)``) and, in a single run, the agents table (``440 R (T+1) N``);
- a single run's pairs table: ``165 R C N^2`` for C checkpoints;
- the world: ~12 (N, N) float64 matrices while a synthetic world is generated
  (``96 N^2``); the compiled schedule: ``40 G T``.

Nothing here imports Hydra (the batch engine uses it in the main process only).
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

#: Resident memory of a started ``python -m sim`` before the run allocates anything (bytes).
BASE = 64 * 2**20
#: Resident memory of an idle batch-engine worker process (numpy and sim imported).
WORKER_BASE = 80 * 2**20


@dataclass(frozen=True)
class Dims:
    """What the memory of a run depends on."""

    n: int  # states
    g: int  # great powers
    k: int  # institutions
    replicates: int
    steps: int
    checkpoints: int = 2  # pair-table checkpoints (single run)


def world_bytes(n: int, generated: bool = True) -> int:
    """Peak memory of building a world of n states (a synthetic one is generated with ~12 (N, N) matrices)."""
    return int((96 if generated else 32) * n * n)


def block_bytes(d: Dims) -> int:
    """One array call of the batch engine: ``d.replicates`` replicates stepped together, no agents/pairs tables."""
    R, T1, n = d.replicates, d.steps + 1, d.n
    return int(184 * R * n * n + 700 * R * T1 + 60 * R * T1 * n + 40 * d.g * d.steps)


def run_bytes(d: Dims) -> int:
    """A single run (``python -m sim``): the core, every table of the run directory and their Parquet files."""
    R, T1, n = d.replicates, d.steps + 1, d.n
    return int(BASE + 184 * R * n * n + 700 * R * T1 + 440 * R * T1 * n + 165 * R * d.checkpoints * n * n
               + 40 * d.g * d.steps)


def sweep_bytes(d: Dims, block: int, workers: int, rows: int, points: int, metrics: int = 10) -> tuple[int, int]:
    """(total, per process) memory of a sweep: ``workers`` processes each stepping blocks of ``block`` replicates,
    and the main process holding ``rows`` result rows and the aggregates of ``points`` points."""
    per_worker = WORKER_BASE + block_bytes(Dims(d.n, d.g, d.k, block, d.steps))
    main = BASE + rows * (60 + d.k * d.n) * 24 + points * (d.steps + 1) * metrics * 9 * 8 * 2
    if workers <= 1:
        return main + per_worker - WORKER_BASE, main + per_worker - WORKER_BASE
    return main + workers * per_worker, per_worker


# --------------------------------------------------------------------------- what the machine has


def _read_int(path: str | Path) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _meminfo(key: str) -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _status(key: str) -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _cgroup() -> int | None:
    """Memory left under this process's cgroup limit (v2 ``memory.max``, v1 ``memory.limit_in_bytes``), if any."""
    candidates = []
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controllers == "":
                candidates.append((f"/sys/fs/cgroup{path}/memory.max", f"/sys/fs/cgroup{path}/memory.current"))
    except (OSError, ValueError):
        pass
    candidates += [("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes")]
    for limit_file, usage_file in candidates:
        limit = _read_int(limit_file)
        if limit is not None and limit < 2**60:
            return max(0, limit - (_read_int(usage_file) or 0))
    return None


def _rlimit() -> int | None:
    """Address space left under ``ulimit -v`` (RLIMIT_AS) or ``ulimit -d`` (RLIMIT_DATA), if either is set."""
    left = []
    for which, used in ((resource.RLIMIT_AS, "VmSize"), (resource.RLIMIT_DATA, "VmData")):
        soft, _ = resource.getrlimit(which)
        if soft != resource.RLIM_INFINITY:
            left.append(max(0, soft - _status(used)))
    return min(left) if left else None


@dataclass(frozen=True)
class Available:
    """Memory this process can still use: the machine's (shared by all processes) and one process's own."""

    machine: int | None  # MemAvailable, or less under a cgroup limit
    machine_source: str
    process: int | None  # address space left under ulimit -v / -d
    total: int | None  # MemTotal

    def for_process(self) -> tuple[int | None, str]:
        """The tighter of the two for one process, and what it is."""
        options = [(v, s) for v, s in ((self.machine, self.machine_source),
                                       (self.process, "under the address-space limit, ulimit -v")) if v is not None]
        return min(options) if options else (None, "")


def available() -> Available:
    """What :class:`Available` says, read from /proc and /sys (Linux); ``None`` where the system does not say."""
    free, source = _meminfo("MemAvailable"), "available (MemAvailable)"
    cg = _cgroup()
    if cg is not None and (free is None or cg < free):
        free, source = cg, "left under the cgroup memory limit"
    return Available(free, source, _rlimit(), _meminfo("MemTotal"))


def fmt_bytes(b: float) -> str:
    """1536 -> '1.5 KiB'; 3 * 2**30 -> '3.0 GiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(b) < 1024 or unit == "PiB":
            return f"{b:.0f} {unit}" if unit == "B" else f"{b:.1f} {unit}"
        b /= 1024
    return f"{b:.1f} PiB"  # pragma: no cover


def largest_fit(fits, current: int, lo: int = 1) -> int | None:
    """The largest integer x in [lo, current] with ``fits(x)`` (true up to some x, false above); None if not even lo."""
    if not fits(lo):
        return None
    hi = current
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def refusal(keys: dict, what: str = "this run", av: Available | None = None) -> str | None:
    """One line refusing a run that does not fit in memory, or None if it fits.

    ``keys`` maps each config key the user may lower to ``(current value,
    need[, shown])``, where ``need(value)`` is ``(total bytes, bytes of the
    largest process)`` with that key at ``value`` and the others as they are,
    and ``shown`` how to name the current setting (default ``key=value``). The line
    names the key that needs the smallest relative cut first, says how much the
    run needs and how much is available, and lists for each key the largest
    value that fits.
    """
    av = av or available()
    process_src = "left under the address-space limit (ulimit -v)"

    def fits(total: int, proc: int) -> bool:
        return (av.machine is None or total <= av.machine) and (av.process is None or proc <= av.process)

    first_key = next(iter(keys))
    total, proc = keys[first_key][1](keys[first_key][0])
    if fits(total, proc):
        return None
    violated = [(have, need, src) for have, need, src in ((av.machine, total, av.machine_source),
                                                          (av.process, proc, process_src))
                if have is not None and need > have]
    have, need, src = min(violated)  # the tighter limit: the one to quote
    options = []
    for key, (current, need_of, *_) in keys.items():
        if current < 1:
            continue
        best = largest_fit(lambda v, f=need_of: fits(*f(v)), current)
        if best is not None and best < current:
            options.append((best / current, key, current, best))
    options.sort(key=lambda o: -o[0])
    lead = options[0][1] if options else first_key
    shown = keys[lead][2] if len(keys[lead]) > 2 else f"{lead}={keys[lead][0]}"
    head = f"{shown}: {what} needs about {fmt_bytes(need)} of memory and {fmt_bytes(have)} is {src}"
    if not options:
        return f"{head}; no smaller value of {', '.join(keys)} fits: use a machine with more memory"
    return f"{head}; lower " + ", or ".join(f"{k} to at most {best}" for _, k, _, best in options)


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover -- not Linux
        return os.cpu_count() or 1


def worker_count(requested) -> int:
    """The worker processes of a sweep: ``experiment.workers``, where 0 means one per core."""
    return int(requested) or cpu_count()


def steps_of(start_year: int, end_year: int, steps_per_year: int, steps: int | None) -> int:
    """The number of steps a run takes (``steps``, else the scenario's span)."""
    return int(steps) if steps is not None else max(0, (int(end_year) - int(start_year)) * int(steps_per_year))


def checkpoints_of(steps: int, checkpoint_every: int, steps_per_year: int) -> int:
    """How many pair-table checkpoints a run records (the start, every checkpoint, the end)."""
    every = max(1, int(round(checkpoint_every * steps_per_year)))
    return steps // every + 1 + (0 if steps % every == 0 else 1)


__all__ = ["Available", "Dims", "available", "block_bytes", "checkpoints_of", "cpu_count", "fmt_bytes",
           "largest_fit", "refusal", "run_bytes", "steps_of", "sweep_bytes", "world_bytes"]
