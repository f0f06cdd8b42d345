"""The Python face: ``sim.run(...)`` and ``sim.run_experiment(...)`` for notebooks, EMA workbench and SALib.

They take the names of the command line (DESIGN.md §1): the config groups
``world``, ``scenario`` (and ``experiment``) by name, ``params`` as a mapping
of dotted names (``{"pressure.intensity": 0.8}``) or nested groups, and any
other top-level key (``replicates``, ``seed``, ``steps``, ...) as a keyword.
The config is composed from the same ``conf/`` by Hydra's compose API and
validated once by the same :func:`sim.face.config.validate`, so a bad value
raises :class:`SimError` with the command line's one-line message; then the
engine runs the plain spec. Results come back as tidy pandas tables.

    >>> import sim
    >>> r = sim.run(scenario="russia_resurgence", params={"pressure.intensity": 0.8}, replicates=20, seed=0)
    >>> r.summary[["replicate", "phase_reached", "final_trust_mean"]]      # one row per replicate
    >>> r.timeseries.groupby("year")["trust_mean"].mean()                  # one row per (replicate, step)
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from .config import CONF_DIR, HYDRA_VERSION_BASE


class SimError(ValueError):
    """A call that cannot run: the same one line the command line prints after ``sim: error:``."""


@dataclass
class RunResult:
    """A run's tables: ``summary`` (one row per replicate, the results table of docs/DATA.md),
    ``timeseries``, ``agents``, ``events``, ``pairs``, and ``record`` (``summary.json``'s content)."""

    summary: pd.DataFrame
    timeseries: pd.DataFrame
    agents: pd.DataFrame
    events: pd.DataFrame
    pairs: pd.DataFrame
    record: dict
    dir: Path | None = None  # the run directory, when ``out`` was given


@dataclass
class ExperimentResult:
    """An experiment's tables: ``results`` (one row per (point, replicate)), ``aggregates``, ``design``,
    ``record`` (``experiment.json``'s content) and ``dir``, the experiment directory."""

    results: pd.DataFrame
    aggregates: pd.DataFrame
    design: pd.DataFrame
    record: dict
    dir: Path


def _flat(prefix: str, value: Any) -> dict[str, Any]:
    """Dotted key -> value for a (nested) mapping; numpy scalars become Python numbers (samplers give them)."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flat(f"{prefix}.{k}", v))
        return out
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        value = value.item()
    return {prefix: value}


def _command(name: str, kwargs: dict) -> str:
    return f"sim.{name}(" + ", ".join(f"{k}={v!r}" for k, v in kwargs.items() if v is not None) + ")"


@contextlib.contextmanager
def _one_line():
    """Any failure of composition, validation or the run becomes :class:`SimError` with the CLI's line."""
    from .cli import error_line

    try:
        yield
    except SimError:
        raise
    except Exception as exc:  # noqa: BLE001 - the face's contract: one line, as on the command line
        raise SimError(error_line(exc)[0]) from None


def compose(groups: dict[str, str | None], values: dict[str, Any]):
    """The composed config of ``conf/`` with the chosen ``groups`` and ``values`` (dotted keys) set."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    overrides = [f"{g}={name}" for g, name in groups.items() if name is not None]
    if GlobalHydra.instance().is_initialized():  # e.g. inside a Hydra app: compose in our own context
        GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=HYDRA_VERSION_BASE):
        cfg = hydra_compose("config", overrides=overrides)  # without the hydra node
    for key, value in values.items():  # the typed config refuses unknown keys and wrong types (full_key named)
        OmegaConf.update(cfg, key, value, merge=False)
    return cfg


def _values(params: Mapping | None, config: dict) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for k, v in (params or {}).items():
        values.update(_flat(f"params.{k}", v))
    for k, v in config.items():
        values.update(_flat(k, v) if k in ("params", "experiment") else {k: v})
    return values


def run(scenario: str = "baseline", world: str = "turkic", params: Mapping | None = None, *,
        out: str | Path | None = None, **config) -> RunResult:
    """Run one scenario (R seeded replicates) and return its tables; with ``out``, also write the run directory.

    ``config`` holds any other top-level key of ``conf/config.yaml`` (``replicates=20``,
    ``seed=0``, ``steps=None``, ``checkpoint_every=5``, ``figures=True`` (only drawn with ``out``)).
    """
    from ..engine import runs
    from ..engine.tables import results_frame
    from .cli import check_output_dir, run_figures
    from .config import validate

    command = _command("run", {"scenario": scenario, "world": world, "params": params, "out": out, **config})
    with _one_line():
        cfg = compose({"scenario": scenario, "world": world}, _values(params, config))
        if cfg.get("experiment") is not None:
            raise SimError("experiment: sim.run runs a single scenario; use sim.run_experiment")
        spec = validate(cfg, f"{world}.yaml", command=command)
        target = check_output_dir(out, key="out") if out is not None else None
        done = runs.execute(spec)
        if target is not None:
            runs.write(done, target, figures=run_figures(spec) if spec.figures else None)
    t = done.tables
    return RunResult(summary=results_frame(done.results), timeseries=t["timeseries"], agents=t["agents"],
                     events=t["events"], pairs=t["pairs"], record=done.summary, dir=target)


def run_experiment(name: str, out: str | Path, *, scenario: str | None = None, world: str | None = None,
                   params: Mapping | None = None, design: Mapping | None = None, **config) -> ExperimentResult:
    """Run (or resume) the experiment ``name`` of ``conf/experiment/`` into the directory ``out`` (batch engine).

    ``design`` replaces the experiment's design (``{"kind": "lhs", "factors": {...}, "samples": 64}``).
    Other keywords are the experiment block's own keys (``replicates``, ``workers``, ``batch_replicates``,
    ... of ``experiment.*``) or top-level keys (``seed``, ``steps``). Returns the merged tables; failed
    runs are rows with ``status == "failed"``; rerunning the same call resumes.
    """
    from ..engine.batch import merge, run_experiment as run_batch
    from ..engine.design import ExperimentConfig
    from ..engine.tables import results_frame
    from .cli import check_experiment_dir, check_output_dir
    from .config import validate

    command = _command("run_experiment", {"name": name, "out": out, "scenario": scenario, "world": world,
                                          "params": params, "design": design, **config})
    own = {f.name for f in fields(ExperimentConfig)}
    config = {f"experiment.{k}" if k in own else k: v for k, v in config.items()}
    with _one_line():
        cfg = compose({"experiment": name, "scenario": scenario, "world": world}, _values(params, config))
        if design is not None:
            from omegaconf import OmegaConf

            from ..engine.design import DesignConfig

            cfg.experiment.design = OmegaConf.merge(OmegaConf.structured(DesignConfig), dict(design))
        target = Path(out).absolute()
        check_output_dir(target, key="out", experiment=True, create=False)
        check_experiment_dir(cfg, target)
        spec = validate(cfg, f"{world}.yaml" if world else "world", command=command)
        record = run_batch(spec, check_output_dir(target, key="out", experiment=True))
        merged = merge([record["dir"]])
    return ExperimentResult(results=results_frame(merged["results"]), aggregates=merged["aggregates"],
                            design=merged["design"], record=record, dir=Path(record["dir"]))
