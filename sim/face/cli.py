"""The Hydra face: ``python -m sim`` / the ``sim`` console script (DESIGN.md §1-2, docs/DATA.md).

``@hydra.main`` is a thin wrapper around :func:`run`, a plain function of the
composed config that tests call directly. A run validates everything first
(:func:`sim.face.config.validate`: schema, ranges, world, scenario against the
world, experiment design, output directory) and only then writes; the run
directory is complete when ``summary.json`` exists (it is written last).

Every failure is reported as ONE line on stderr, ``sim: error: ...``, with
no traceback (set ``HYDRA_FULL_ERROR=1`` for Hydra's full report and
tracebacks), worded by :func:`error_line`: errors in the user's input
(:data:`sim.face.config.USER_ERRORS`, Hydra's own composition errors, config files
that are not UTF-8 or not a mapping, runs too big for the memory) name the key
or file and what is allowed, exit status 2; failures of the machine (a full
disk: the path; a worker killed by the OS; no Ray cluster) and anything
unexpected, exit status 1. In a single run :class:`RunGuard` checks the output
directory first (a finished run, an experiment directory, another
experiment's directory are refused), then validates, before Hydra creates or
writes anything, so an existing run or experiment is never touched. In a
multirun (``-m``) each job's failure is caught, written to ``error.txt`` in
that job's folder and logged; the other jobs go on, and the process exits
with status 1 at the end.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shlex
import sys
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import yaml
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from ..engine.io import os_error_line, write_text_atomic
from ..engine.spec import RunSpec
from .config import (CONF_DIR, HYDRA_VERSION_BASE, USER_ERRORS, Config, ConfigError, config_hash, plain_config,
                     validate)

log = logging.getLogger("sim")
#: Output folders of multirun jobs that failed in this process (read by :func:`main` to set the exit status).
FAILED_JOBS: list[str] = []
USAGE_EXIT = 2


class RunDirError(ConfigError):
    """The output directory cannot take this run (unwritable, or it already holds a finished run)."""


# --------------------------------------------------------------------------- output directory


def holds_experiment(path: Path) -> str | None:
    """What marks ``path`` as a batch-engine experiment directory (``experiment.json``, a shard's, ``chunks/``)."""
    if (path / "experiment.json").exists():
        return "experiment.json"
    shard = next(path.glob("shard_*of*/experiment.json"), None) if path.is_dir() else None
    if shard is not None:
        return str(shard.relative_to(path))
    if (path / "chunks").is_dir():
        return "chunks/"
    return None


def check_output_dir(path: str | Path, key: str = "hydra.run.dir", experiment: bool = False,
                     create: bool = True) -> Path:
    """Refuse a directory that holds a finished run (``summary.json``), or, for a single run, an experiment,
    or that cannot be created/written; with ``create``, create it (reads only without)."""
    path = Path(path).absolute()
    if (path / "summary.json").exists():
        raise RunDirError(f"{key}={path}: already holds a finished run (summary.json); choose a new directory")
    held = None if experiment else holds_experiment(path)
    if held is not None:
        raise RunDirError(f"{key}={path}: holds an experiment ({held}); a single run would mix its tables into "
                          "it; choose a new directory")
    probe = path
    while not probe.exists():
        probe = probe.parent
    why = "not a directory" if not probe.is_dir() else None if os.access(probe, os.W_OK | os.X_OK) else \
        "permission denied"
    if why is None and create:
        try:  # what Hydra does next anyway; the only reliable test (root passes os.access everywhere)
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            why = exc.strerror or type(exc).__name__
    if why is not None:
        raise RunDirError(f"{key}={path}: cannot write there ({why} at {probe}); choose a writable directory")
    return path


def check_experiment_dir(cfg, run_dir: Path) -> None:
    """Refuse an experiment whose directory (its shard's, with ``experiment.num_shards``) holds another one.

    Reads only (:func:`sim.engine.batch.check_resume`): the same experiment resumes,
    a changed config, a single run or chunks without ``experiment.json`` are refused.
    """
    from ..engine.batch import check_resume, experiment_hash, output_dir

    shard, num_shards = (OmegaConf.select(cfg, f"experiment.{k}") for k in ("shard", "num_shards"))
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (shard, num_shards)):
        return  # validation names the bad value
    check_resume(output_dir(Path(run_dir).absolute(), shard, num_shards), experiment_hash(plain_config(cfg)))


def run_dir_of(cfg) -> Path:
    """Hydra's output directory of this job, or ``hydra.run.dir`` of a config composed with its hydra node."""
    if HydraConfig.initialized():
        return Path(HydraConfig.get().runtime.output_dir)
    if "hydra" in cfg:
        return Path(cfg.hydra.run.dir)
    raise ConfigError("no output directory: run through Hydra, compose with return_hydra_config=True, "
                      "or pass run_dir")


def world_source(cfg) -> str:
    """How to name the world in messages: the chosen world config (``turkic.yaml``), else 'config'."""
    if HydraConfig.initialized():
        return f"{HydraConfig.get().runtime.choices.get('world', 'config')}.yaml"
    if "hydra" in cfg:
        return f"{OmegaConf.select(cfg, 'hydra.runtime.choices.world', default='config')}.yaml"
    return "config"


def command_line() -> str:
    """The command that made this run, as the user typed it (Hydra overrides when available)."""
    if HydraConfig.initialized():
        hc = HydraConfig.get()
        mode = " -m" if hc.mode == RunMode.MULTIRUN else ""
        return shlex.join(["python", "-m", "sim"]) + mode + "".join(" " + shlex.quote(o) for o in hc.overrides.task)
    return shlex.join([Path(sys.executable).name, *sys.argv])


# --------------------------------------------------------------------------- the run


#: The spec the guard validated before Hydra wrote anything, keyed by the config's hash: the job reuses it.
_VALIDATED: dict[str, RunSpec] = {}


def spec_of(cfg) -> RunSpec:
    """The validated :class:`RunSpec` of a composed config: the guard's, or validated now (once per job)."""
    known = _VALIDATED.pop(config_hash(cfg), None)
    if known is not None:
        return replace(known, command=command_line())
    return validate(cfg, world_source(cfg), command=command_line())


def run(cfg: DictConfig, run_dir: str | Path | None = None) -> dict:
    """Run one composed config and write its run directory; return the summary (``summary.json``'s content).

    With ``cfg.experiment`` set, hands the validated spec to the batch engine
    (``sim.engine.batch.run_experiment``) and returns its result. Otherwise
    runs ``cfg.replicates`` seeded replicates of world x scenario
    (``sim.engine.runs``) and writes the tables, results, figures and summary
    of docs/DATA.md.
    """
    where = run_dir if run_dir is not None else run_dir_of(cfg)
    check_output_dir(where, experiment=cfg.get("experiment") is not None, create=False)  # before validating
    spec = spec_of(cfg)
    out = check_output_dir(where, experiment=spec.experiment is not None)
    if spec.experiment is not None:
        from ..engine.batch import run_experiment

        return run_experiment(spec, out)

    from ..engine import runs

    with progress_bar(spec.progress, spec.schedule.steps, spec.scenario.name) as tick:
        done = runs.execute(spec, progress=tick)
    runs.write(done, out, figures=run_figures(spec) if spec.figures else None)
    print(runs.summary_text(done.summary, out))
    if cfg.report and HydraConfig.initialized() and HydraConfig.get().mode != RunMode.MULTIRUN:
        from ..report import write_default_report  # a multirun's report: sim.face.hydra_callbacks, after all jobs

        write_default_report([out])
    return done.summary


def run_figures(spec: RunSpec):
    """The figures step of :func:`sim.engine.runs.write`: the run figures of :mod:`sim.report.figures`."""
    def draw(done, out: Path) -> None:
        from ..report.figures import write_run_figures

        years = done.trajectory.years
        write_run_figures(done.tables, spec.world, out / "figures",
                          f"{spec.scenario.name} ({years[0]:g}-{years[-1]:g}), world {spec.world.name}",
                          spec.network_years, seed=spec.seed, params=spec.params)

    return draw


@contextmanager
def progress_bar(enabled: bool, total: int, name: str):
    """A tqdm bar on stderr that appears only if the run lasts more than 2 s; yields the progress callback."""
    if not enabled:
        yield None
        return
    from tqdm import tqdm

    with tqdm(total=total, desc=f"sim {name}", unit="step", file=sys.stderr, delay=2.0, leave=False) as bar:
        yield lambda done: bar.update(done - bar.n)


# --------------------------------------------------------------------------- Hydra glue


def one_line(message) -> str:
    """The first line of a message with its whitespace collapsed."""
    return " ".join(str(message).split("\n")[0].split())


def fail(message, status: int = USAGE_EXIT):
    """Print ``sim: error: <first line of message>`` on stderr and exit."""
    print(f"sim: error: {one_line(message)}", file=sys.stderr)
    sys.exit(status)


class RunGuard(Callback):
    """Checks a single run before Hydra creates or writes its directory; refuses to reuse a finished sweep.

    Registered in ``conf/config.yaml`` under ``hydra.callbacks``. ``on_run_start``
    is called by Hydra after composition and before ``run_job`` writes
    ``.hydra/`` and the log file. Hydra turns an exception raised here into a
    warning and goes on writing, so every exception is caught and ends the
    process with one line (:func:`error_line`): bad input leaves nothing behind.
    """

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        """Check the run directory (read only), then validate, then create it; exit with one line on any error.

        The directory's verdict comes first and stands whatever validation
        does; when the config is also invalid, the line names the bad key and
        then the directory (``...; also: hydra.run.dir=...``).
        """
        refused = None
        try:
            run_dir = Path(config.hydra.run.dir).absolute()
            experiment = config.get("experiment") is not None
            try:
                check_output_dir(run_dir, experiment=experiment, create=False)
                if experiment:
                    check_experiment_dir(config, run_dir)
            except USER_ERRORS as exc:
                refused = exc
            spec = validate(config, f"{OmegaConf.select(config, 'hydra.runtime.choices.world', default='config')}.yaml")
            if refused is not None:
                raise refused
            _VALIDATED.clear()
            _VALIDATED[spec.config_hash] = spec
            check_output_dir(run_dir, experiment=experiment)
        except Exception as exc:  # noqa: BLE001 - anything else would let Hydra write .hydra/ into the directory
            if os.environ.get("HYDRA_FULL_ERROR") == "1" and not isinstance(exc, USER_ERRORS):
                import traceback

                traceback.print_exc()
            line, status = error_line(exc)
            if refused is not None and exc is not refused:
                line, status = f"{line}; also: {one_line(refused)}", max(status, USAGE_EXIT)
            fail(line, status)

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        """Refuse a sweep directory that is unwritable or already holds finished runs (jobs are checked one by one)."""
        try:
            sweep = Path(config.hydra.sweep.dir)
            finished = next(sweep.glob("**/summary.json"), None) if sweep.is_dir() else None
            if finished is not None:
                raise RunDirError(f"hydra.sweep.dir={sweep.absolute()}: already holds finished runs "
                                  f"({finished.relative_to(sweep)}); choose a new directory")
            if config.get("experiment") is not None and sweep.is_dir():
                check_sweep_experiments(config, sweep)
            check_output_dir(sweep, "hydra.sweep.dir", experiment=True)
        except Exception as exc:  # noqa: BLE001 - as in on_run_start
            fail(*error_line(exc))


def _execution_override(override: str) -> bool:
    """Does this override set a key that changes how a sweep runs, not what it computes (sim.engine.batch.EXECUTION_KEYS)?"""
    from ..engine.batch import EXECUTION_KEYS, EXECUTION_TOP_KEYS

    key = override.split("=", 1)[0].lstrip("+~")
    return key in {f"experiment.{k}" for k in EXECUTION_KEYS} | set(EXECUTION_TOP_KEYS)


def check_sweep_experiments(config: DictConfig, sweep: Path) -> None:
    """Before a multirun over an experiment's shards writes into ``sweep``: refuse one whose shards hold another.

    When every swept override is an execution key (``experiment.shard``,
    ``experiment.workers``, ...), every job has the config hash of the
    composed config, so an existing shard's ``experiment.json`` with another
    hash means the jobs would be refused after Hydra rewrote their ``.hydra/``.
    """
    from ..engine.batch import check_resume, experiment_hash

    if OmegaConf.select(config, "hydra.sweeper.params", default=None):
        return  # sweeps defined in the config: each job is checked when it starts
    task = [str(o) for o in OmegaConf.select(config, "hydra.overrides.task", default=[]) or []]
    swept = [o for o in task if "," in o.split("=", 1)[-1] or re.search(r"=\s*(range|choice|glob)\(", o)]
    if not all(_execution_override(o) for o in swept):
        return  # jobs differ in what they compute: each is checked when it starts
    digest = experiment_hash(plain_config(config))
    for meta in sorted(sweep.glob("*/experiment.json")):
        check_resume(meta.parent, digest)


def _experiment_failures(result) -> str | None:
    """A one-line note if a batch-engine result reports failed runs (the engine itself does not stop on them)."""
    failed = result.get("failed", 0) if isinstance(result, dict) else 0
    return f"{failed} run(s) of the experiment failed; see status and error in results.parquet" if failed else None


def _task(cfg: DictConfig):
    """The function Hydra runs per job: :func:`run`, with per-job error capture in a multirun."""
    full = os.environ.get("HYDRA_FULL_ERROR") == "1"
    if HydraConfig.get().mode != RunMode.MULTIRUN:
        try:
            result = run(cfg)
        except Exception as exc:  # noqa: BLE001 - every failure is one line (error_line)
            line, status = error_line(exc)
            if full and status != USAGE_EXIT:
                raise
            fail(line, status)
        if _experiment_failures(result):
            fail(_experiment_failures(result), status=1)
        return result
    out = Path(HydraConfig.get().runtime.output_dir)
    try:
        result = run(cfg)
        if _experiment_failures(result):
            log.error("job %s: %s", out, _experiment_failures(result))
            FAILED_JOBS.append(str(out))
        return result
    except Exception as exc:  # noqa: BLE001 - one job's failure must not lose the others' results
        line, status = error_line(exc)
        if not isinstance(exc, RunDirError) and not _refused_dir(exc):  # never write into a finished run
            try:
                write_text_atomic(line + "\n", out / "error.txt")
            except OSError as write_exc:  # e.g. the disk is full: the log line still says what happened
                line += f" ({os_error_line(write_exc)})"
        log.error("job %s failed: %s", HydraConfig.get().job.override_dirname or out, line,
                  exc_info=full and status != USAGE_EXIT)
        FAILED_JOBS.append(str(out))
        return None


def _refused_dir(exc: BaseException) -> bool:
    """Did the batch engine refuse the directory (it holds another experiment or a run)? Then write nothing there."""
    return isinstance(exc, USER_ERRORS) and str(exc).startswith(("refusing to resume into",
                                                                 "refusing to run an experiment into"))


# --------------------------------------------------------------------------- one line per failure


def error_line(exc: BaseException) -> tuple[str, int]:
    """The one line (without ``sim: error:``) and exit status for any exception; see the module docstring."""
    from ..engine.batch import BatchError

    if isinstance(exc, USER_ERRORS):
        return one_line(exc), USAGE_EXIT
    message = hydra_message(exc)
    if message is not None:
        return message, USAGE_EXIT
    if isinstance(exc, UnicodeDecodeError):
        return decode_message(exc), USAGE_EXIT
    if isinstance(exc, MemoryError):
        return (f"out of memory ({one_line(exc) or 'MemoryError'}); lower replicates, steps or world.n "
                "(for an experiment: experiment.batch_replicates or experiment.workers)"), 1
    if isinstance(exc, BatchError):
        return one_line(exc), 1
    if isinstance(exc, ConnectionError) and "ray" in str(exc).lower():
        return ("hydra/launcher=ray_cluster: no running Ray cluster to join (hydra.launcher.ray.init.address=auto; "
                f"{one_line(exc)[:120]}); start one with `ray start --head`, or run on this machine with "
                "hydra.launcher.ray.init.address=null hydra.launcher.ray.remote.num_cpus=1"), 1
    if isinstance(exc, OSError):
        exc = _with_path(exc)
        line = os_error_line(exc)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            line += "; the files already written are intact: free some space and rerun the same command"
        return line, 1
    return (f"internal error: {type(exc).__name__}: {one_line(exc)[:300]} "
            "(set HYDRA_FULL_ERROR=1 for the traceback)"), 1


def _frames(exc: BaseException):
    """The frames of an exception's traceback, innermost first."""
    frames, tb = [], exc.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    return reversed(frames)


def _with_path(exc: OSError) -> OSError:
    """``exc``, or a copy naming the file being written when the error itself does not (e.g. Hydra's .hydra/ files)."""
    if exc.filename:
        return exc
    for frame in _frames(exc):
        loc = frame.f_locals
        if "output_dir" in loc and "filename" in loc:  # hydra.core.utils._save_config
            return OSError(exc.errno, exc.strerror, str(Path(str(loc["output_dir"])) / str(loc["filename"])))
        for name in ("path", "file_path", "filename", "name"):
            if isinstance(loc.get(name), (str, Path)) and str(loc[name]).strip():
                return OSError(exc.errno, exc.strerror, str(loc[name]))
    return exc


def decode_message(exc: UnicodeDecodeError) -> str:
    """A config or data file that is not UTF-8: the file (from the reading frame), the byte, what to do."""
    path = None
    for frame in _frames(exc):
        loc = frame.f_locals
        for name in ("full_path", "path", "p", "filename", "file"):
            value = loc.get(name)
            if isinstance(value, (str, Path)) and str(value).endswith((".yaml", ".yml", ".json")):
                path = Path(str(value))
                break
        if path is not None:
            break
    what = f"{path}" if path is not None else "a config file"
    key = f"{path.parent.name}={path.stem}: " if path is not None and path.parent.name in ("world", "scenario",
                                                                                         "params", "experiment") \
        else ""
    return (f"{key}{what} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at position {exc.start}: "
            f"{exc.reason}); save it as UTF-8")


def hydra_message(exc: BaseException) -> str | None:
    """One line for a Hydra/OmegaConf composition error naming the key and what is allowed; None if not one."""
    from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

    if isinstance(exc, MissingConfigException):
        missing = (exc.missing_cfg_file or "").strip("/")
        group, _, name = missing.rpartition("/")
        if group and exc.options is not None:
            return f"{group}={name}: no such {group} config; available: {', '.join(exc.options) or 'none'}"
        plugin = re.search(r"Could not load 'hydra/launcher/(\w+)'", str(exc))
        if plugin is not None:  # conf/hydra/launcher/*.yaml build on a launcher plugin's own config
            extra = "ray" if plugin.group(1) == "ray" else "slurm"
            return (f"{str(exc).splitlines()[0].rstrip('.')}: the Hydra launcher plugin is not installed "
                    f"(pip install -e '.[{extra}]')")
        return str(exc).split("\n")[0]
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f"{mark.name} line {mark.line + 1}, column {mark.column + 1}" if mark else "a config file"
        return f"YAML error in {where}: {exc.problem or exc.context}"
    if isinstance(exc, OverrideParseException):
        return f"cannot parse override '{exc.override}': {exc.message.splitlines()[0]}"
    if isinstance(exc, ConfigCompositionException):
        text = str(exc)
        where = re.match(r"In '([^']+)': (\w+) raised while composing config:", text)
        reason = " ".join(text.split("\n", 1)[1].split("\n")[0].split()) if "\n" in text else ""
        if where is not None:
            group, _, name = where.group(1).rpartition("/")
            path = find_config(where.group(1))
            if "ListConfig" in reason or re.search(r"\blist is not a subclass", reason):
                return (f"{group + '=' + name if group else name}: {path} must hold a mapping of keys at its top "
                        "level, not a list")
            return f"{group + '=' + name if group else name}: {path}: {where.group(2)}: {reason}"
    cause = exc.__cause__ if isinstance(exc, ConfigCompositionException) else exc
    if isinstance(cause, OmegaConfBaseException):
        key = getattr(cause, "full_key", "") or ""
        first = str(cause).split("\n")[0]
        if isinstance(cause, (ConfigAttributeError, ConfigKeyError)) and key:
            parent, _, leaf = key.rpartition(".")
            allowed = schema_keys(parent)
            where = f"under {parent}" if parent else "at the top level"
            return f"{key}: unknown key; " + (f"allowed {where}: {', '.join(allowed)}" if allowed else
                                              f"{parent} has no such key in the composed config")
        return f"{key}: {first}" if key else first
    if isinstance(exc, ConfigCompositionException):
        lines = [" ".join(line.split()) for line in str(exc).split("\n") if line.strip()]
        return lines[0] + (f" {lines[1]}" if len(lines) > 1 and lines[0].endswith(":") else "")
    return None


def find_config(config_path: str) -> str:
    """The file of a config (``world/list``) in ``--config-dir`` or the project's ``conf/``; else ``<path>.yaml``."""
    dirs, argv = [], sys.argv[1:]
    for i, a in enumerate(argv):
        if a in ("--config-dir", "-cd") and i + 1 < len(argv):
            dirs.append(argv[i + 1])
        elif a.startswith("--config-dir="):
            dirs.append(a.split("=", 1)[1])
    for d in [*dirs, str(CONF_DIR)]:
        p = Path(d) / f"{config_path}.yaml"
        if p.is_file():
            return str(p.absolute())
    return f"{config_path}.yaml"


def schema_keys(path: str) -> list[str]:
    """The keys the schema allows at a dotted path (for 'allowed: ...' messages)."""
    node = OmegaConf.select(OmegaConf.structured(Config), path) if path else OmegaConf.structured(Config)
    return [str(k) for k in node.keys()] if OmegaConf.is_dict(node) else []


@contextmanager
def one_line_hydra_errors():
    """Report any error that reaches Hydra as one ``sim: error:`` line instead of its multi-line report.

    Wraps ``hydra._internal.utils.run_and_report`` (Hydra 1.3), through which
    ``hydra.main`` runs composition, the callbacks, its own writes of
    ``.hydra/`` and the launchers: an exception is worded by :func:`error_line`
    (composition errors by :func:`hydra_message`, status 2) and ends the
    process; with ``HYDRA_FULL_ERROR=1`` everything goes to Hydra's own report.
    Hydra offers no public hook for its error report, so this is the one use of
    its private API, kept here, with ``hydra-core`` pinned to 1.3.x in pyproject.toml;
    the command-line tests of one-line errors (tests/test_cli.py, tests/test_bad_input.py)
    fail if that function moves.
    """
    import hydra._internal.utils as hydra_utils

    original = hydra_utils.run_and_report
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        yield
        return

    def run_and_report(func):
        """Hydra's run_and_report around a version of ``func`` that rewords composition errors."""
        def reworded():
            """Call ``func``; any exception becomes one ``sim: error:`` line (:func:`error_line`) and its status."""
            try:
                return func()
            except Exception as exc:  # noqa: BLE001 - composition, Hydra's own writes, launchers: one line each
                fail(*error_line(exc))

        return original(reworded)

    hydra_utils.run_and_report = run_and_report
    try:
        yield
    finally:
        hydra_utils.run_and_report = original


def prestart_workers(args: list[str]) -> int:
    """How many batch workers to start before composing: one per core (or ``experiment.workers=N``) for
    ``experiment=NAME`` with no Hydra flag (no ``-m``, ``--cfg``, ``--help``, ...); else 0."""
    if any(a.startswith("-") for a in args) or not any(a.startswith("experiment=") for a in args):
        return 0
    from ..engine.resources import worker_count

    given = [a.split("=", 1)[1] for a in args if a.startswith("experiment.workers=")]
    try:
        return worker_count(given[-1] if given else 0)
    except ValueError:  # not a number: the validator says so
        return 0


def main() -> None:
    """Console entry point (``sim`` and ``python -m sim``): Hydra's command line around :func:`run`."""
    import hydra

    # DESIGN.md §1 writes `+experiment=NAME`; with `experiment: null` in the defaults Hydra wants `experiment=NAME`.
    sys.argv = [a[1:] if a.startswith("+experiment=") else a for a in sys.argv]
    FAILED_JOBS.clear()
    from ..engine import batch

    workers = prestart_workers(sys.argv[1:])
    if workers:  # an experiment: its workers load the kernel while Hydra composes and the guard validates
        batch.prestart(workers)
    task = hydra.main(version_base=HYDRA_VERSION_BASE, config_path=str(CONF_DIR), config_name="config")(_task)
    try:
        with one_line_hydra_errors():
            task()
    except KeyboardInterrupt:
        print("sim: error: interrupted; a run directory without summary.json is incomplete "
              "(an experiment resumes when the same command is rerun)", file=sys.stderr)
        sys.exit(130)
    finally:
        batch.discard_prestarted()  # not taken: bad input, or the config chose one worker
    if FAILED_JOBS:
        print(f"sim: error: {len(FAILED_JOBS)} job(s) failed; see error.txt in: {', '.join(FAILED_JOBS)}",
              file=sys.stderr)
        sys.exit(1)
