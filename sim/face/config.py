"""The Hydra face's schema: structured configs in the ConfigStore, world building and validation.

DESIGN.md §2 "The Hydra face": dataclass schemas type every field so that a
typo or a wrong type fails at composition with Hydra's own message. The
top-level schema :class:`Config` is stored as ``base_config`` and is the first
entry of ``conf/config.yaml``'s defaults list, so the groups merged on top of
it (``conf/scenario/*.yaml`` into :class:`sim.core.scenario.Scenario`,
``conf/params/*.yaml`` into :class:`sim.core.params.Params`, ``conf/experiment/*.yaml``
into :class:`sim.engine.design.ExperimentConfig`) are type-checked field by field.
The world (``conf/world/*.yaml``) is free-form data validated by
:func:`sim.core.world.world_from_dict` (or a generator spec, see :func:`build_world`).

What a type cannot say is checked by :func:`validate` after composition and
before anything is written (DESIGN.md §6): parameter ranges, replicates and
steps, the scenario against the world (unknown state codes in events), and the
experiment design. Every failure is a :data:`USER_ERRORS` exception whose
message is one line naming the key and what is allowed.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, fields
from typing import Any, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ..engine.batch import RefusedError
from ..engine.design import DesignError, ExperimentConfig
from ..engine.design import validate as validate_design
from ..engine.spec import ExperimentSpec, RunSpec
from ..engine.spec import config_hash as spec_hash
from ..core.params import ParamError, Params, check_ranges
from ..core.scenario import Scenario, ScenarioError, compile_schedule
from ..engine import resources
from ..core.world import CONF_DIR, World, WorldError, synthetic_world, world_or_generator  # noqa: F401

HYDRA_VERSION_BASE = "1.3"


class ConfigError(ValueError):
    """A composed config that is well typed but not usable (one line naming the key)."""


class ResourceError(ConfigError):
    """A run or sweep that would not fit in memory (one line: needed, available, which key to lower)."""


#: Exceptions that mean "the user's input is wrong": reported as one line, no traceback.
USER_ERRORS = (ConfigError, DesignError, ParamError, RefusedError, ScenarioError, WorldError)


@dataclass
class Config:
    """The whole config of one run (``conf/config.yaml``); every field is typed."""

    world: Any = field(default_factory=dict)  # world data (conf/world/turkic.yaml) or a generator spec
    scenario: Scenario = field(default_factory=Scenario)
    params: Params = field(default_factory=Params)
    seed: int = 0  # master seed; replicate k uses SeedSequence(seed, spawn_key=(k,))
    replicates: int = 20  # seeded replicates of the run (>= 1)
    steps: Optional[int] = None  # steps to run (>= 1); None = the scenario's span
    checkpoint_every: int = 5  # years between pair-table checkpoints (>= 1)
    figures: bool = True  # draw figures/ after the run
    network_years: List[float] = field(default_factory=list)  # trust-network figure years; empty = start, middle, end
    progress: bool = True  # progress bar on stderr for runs that take more than a few seconds
    report: bool = True  # write report/report.html after a run or a multirun (sim.report); false = no report
    question: str = ""  # the research question a report states first (e.g. in a study's experiment file)
    experiment: Optional[ExperimentConfig] = None  # a design run by the batch engine (conf/experiment/)


def register_configs() -> None:
    """Store the schemas in Hydra's ConfigStore (idempotent)."""
    cs = ConfigStore.instance()
    cs.store(name="base_config", node=Config)


register_configs()


# --------------------------------------------------------------------------- validation


def _positive_int(cfg, key: str, minimum: int = 1, optional: bool = False) -> None:
    """ConfigError unless the value at dotted ``key`` is an integer >= minimum (or None when optional)."""
    value = OmegaConf.select(cfg, key)
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{key}={value} is out of range; allowed: an integer >= {minimum}"
                          + (" or null" if optional else ""))


def _to_object(node, schema, key: str):
    """A dataclass instance from a config node, re-checked against ``schema``; errors become one ConfigError line.

    The node is turned into plain data first, so keys appended with ``+key=value``
    (which Hydra lets into a typed node) are rejected here.
    """
    data = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), data))
    except OmegaConfBaseException as exc:
        sub = getattr(exc, "full_key", "") or ""
        raise ConfigError(f"{key}.{sub}: {str(exc).splitlines()[0]}" if sub
                          else f"{key}: {str(exc).splitlines()[0]}") from None


def plain_config(cfg) -> dict:
    """The resolved config as plain data, without the ``hydra`` node (not resolvable outside a Hydra job)."""
    if isinstance(cfg, dict):
        return {k: v for k, v in cfg.items() if k != "hydra"}
    return {str(k): OmegaConf.to_container(cfg[k], resolve=True) if OmegaConf.is_config(cfg[k]) else cfg[k]
            for k in cfg if k != "hydra"}


def validate(cfg, source: str = "config", command: str = "") -> RunSpec:
    """Check a composed config completely, before anything is written; return the run's :class:`RunSpec`.

    The one validation of a run: the face calls it once (the command line in
    its guard, before Hydra writes anything; ``sim.run``) and hands the spec to
    the engine, which does not validate again. ``command`` is recorded in the
    run's ``summary.json`` or ``experiment.json``.

    Raises one of :data:`USER_ERRORS` with a one-line message naming the key.
    Checks: seed, replicates, steps, checkpoint_every; parameter ranges
    (:func:`sim.core.params.check_ranges`); the world; that the run (or the sweep)
    fits in memory (:func:`check_memory`, before the world is generated or
    the schedule allocated); the scenario's years and every code and number it
    names (:func:`sim.core.scenario.compile_schedule`); the network-figure years;
    the experiment design (kinds, factor paths, values in range).
    """
    known = [f.name for f in fields(Config)]
    unknown = sorted(set(cfg.keys()) - set(known) - {"hydra"})
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown key; allowed at the top level: {', '.join(known)}")
    _positive_int(cfg, "seed", minimum=0)
    _positive_int(cfg, "replicates")
    _positive_int(cfg, "steps", optional=True)
    _positive_int(cfg, "checkpoint_every")
    params = check_ranges(_to_object(cfg.params, Params, "params"))
    scenario = _to_object(cfg.scenario, Scenario, "scenario")
    plain = plain_config(cfg)
    world, gen = world_or_generator(plain["world"], source)
    exp = _experiment_counts(cfg) if cfg.get("experiment") is not None else None
    check_memory(cfg, scenario, gen, world, exp)
    if world is None:
        world = synthetic_world(**gen)
    schedule = compile_schedule(scenario, world, cfg.steps)
    for n, ev in enumerate(scenario.events):
        if not scenario.start_year <= ev.year < scenario.end_year:
            raise ScenarioError(f"scenario.events[{n}] ({ev.type}): year={ev.year:g} is outside the scenario's "
                                f"span; allowed [{scenario.start_year}, {scenario.end_year})")
    first, last = schedule.year(0), schedule.year(schedule.steps)
    for y in cfg.network_years:
        if not first <= y <= last:
            raise ConfigError(f"network_years: {y:g} is outside the run's years; allowed [{first:g}, {last:g}]")
    experiment = validate_experiment(exp, params, world, scenario, plain) if exp is not None else None
    return RunSpec(world=world, scenario=scenario, params=params, schedule=schedule, seed=int(cfg.seed),
                   replicates=int(cfg.replicates), steps=cfg.steps, checkpoint_every=int(cfg.checkpoint_every),
                   network_years=[float(y) for y in cfg.network_years], figures=bool(cfg.figures),
                   progress=bool(cfg.progress), world_spec=plain["world"], config=plain,
                   config_hash=spec_hash(plain), command=command, experiment=experiment)


# --------------------------------------------------------------------------- memory


def _world_dims(gen: dict | None, world: World | None) -> tuple[int, int, int]:
    """(states, great powers, institutions) of the world about to be built."""
    if world is not None:
        return len(world.codes), len(world.gp_codes), len(world.institutions)
    g = int(gen.get("n_great_powers", 3))
    return int(gen.get("n", 50)), g, g + 1  # synthetic: the community and one bloc per great power


def _numbers(values) -> list[float]:
    values = values if isinstance(values, (list, tuple)) else [values]
    return [float(v) for v in values if isinstance(v, numbers.Real) and not isinstance(v, bool)
            and math.isfinite(v)]


def _design_extent(exp: ExperimentConfig, scenario: Scenario, steps: int | None, n: int) -> tuple[int, int, int]:
    """(points, largest steps, largest world.n) over an experiment's design, from its raw factor values."""
    from ..engine.design import TOP_LEVEL

    d = exp.design
    factors = {str(k): _numbers(v) for k, v in (d.factors or {}).items()}
    n_max = int(max(factors.get("world.n") or [n]))
    span = {k: factors.get(f"scenario.{k}") or [getattr(scenario, k)]
            for k in ("start_year", "end_year", "steps_per_year")}
    if "steps" in factors and "steps" in TOP_LEVEL:
        t_max = int(max(factors["steps"]))
    else:
        t_max = resources.steps_of(min(span["start_year"]), max(span["end_year"]), max(span["steps_per_year"]),
                                   steps)
    dims = len(factors) or 1
    if d.kind == "grid":
        points = math.prod(len(v) if isinstance(v, (list, tuple)) else 1 for v in (d.factors or {}).values())
    elif d.kind == "sobol":
        points = d.samples * (2 * dims + 2 if d.second_order else dims + 2)
    elif d.kind == "morris":
        points = d.samples * (dims + 1)
    else:
        points = d.samples
    return max(int(points), 1), max(t_max, 1), max(n_max, 1)


def check_memory(cfg, scenario: Scenario, gen: dict | None, world: World | None,
                 exp: ExperimentConfig | None = None) -> None:
    """Raise :class:`ResourceError` if the run (or the sweep) would not fit in the memory available now.

    Estimates from :mod:`sim.engine.resources` (steps, states, replicates; for a
    sweep the block of replicates per array call, the worker count and the
    largest ``steps`` and ``world.n`` of the design). The message names the
    key to lower and the largest value of it that fits.
    """
    n, g, k = _world_dims(gen, world)
    generated = gen is not None
    steps = resources.steps_of(scenario.start_year, scenario.end_year, scenario.steps_per_year, cfg.steps)
    if exp is None:
        R = int(cfg.replicates)

        def need(n=n, R=R, T=steps):
            ckpt = resources.checkpoints_of(T, int(cfg.checkpoint_every), max(1, scenario.steps_per_year))
            total = resources.run_bytes(resources.Dims(n, g, k, R, T, ckpt)) + resources.world_bytes(n, generated)
            return total, total

        keys = {"replicates": (R, lambda v: need(R=v)), "steps": (steps, lambda v: need(T=v))}
        if generated:
            keys["world.n"] = (n, lambda v: need(n=v))
        line = resources.refusal(keys, "this run")
    else:
        points, t_max, n_max = _design_extent(exp, scenario, cfg.steps, n)
        R = int(exp.replicates)
        block = int(exp.batch_replicates) or R
        workers = resources.worker_count(exp.workers)
        rows = -(-points * R // max(1, int(exp.num_shards)))

        def need(n=n_max, T=t_max, block=min(block, R), workers=workers):
            total, proc = resources.sweep_bytes(resources.Dims(n, g, k, R, T), block, workers, rows, points)
            extra = resources.world_bytes(n, generated)
            return total + extra * (1 + workers * (workers > 1)), proc + extra

        shown = f"experiment.batch_replicates={block}" if exp.batch_replicates else \
            f"experiment.replicates={R} (with experiment.batch_replicates=0, all of a point's replicates in one call)"
        keys = {"experiment.batch_replicates": (min(block, R), lambda v: need(block=v), shown)}
        if workers > 1:
            keys["experiment.workers"] = (workers, lambda v: need(workers=v))
        keys["steps"] = (t_max, lambda v: need(T=v))
        if generated:
            keys["world.n"] = (n_max, lambda v: need(n=v))
        line = resources.refusal(keys, "this sweep")
    if line is not None:
        raise ResourceError(line)


def _experiment_counts(cfg) -> ExperimentConfig:
    """The experiment block as an object, its counts checked (replicates, shards, workers, ...)."""
    exp = _to_object(cfg.experiment, ExperimentConfig, "experiment")
    for key, minimum in (("replicates", 1), ("num_shards", 1), ("shard", 0), ("workers", 0),
                         ("batch_replicates", 0), ("chunk_rows", 0)):
        _positive_int(cfg, f"experiment.{key}", minimum)
    if exp.shard >= exp.num_shards:
        raise ConfigError(f"experiment.shard={exp.shard} is out of range; allowed [0, {exp.num_shards - 1}]")
    return exp


def validate_experiment(exp: ExperimentConfig, params: Params, world: World, scenario: Scenario,
                        plain: dict) -> ExperimentSpec:
    """Check an experiment block whose counts passed :func:`_experiment_counts`: the design
    (:func:`sim.engine.design.validate`: kind, factor paths, bounds, every value in range) and the metrics."""
    from ..core.dynamics import Context, init_state
    from ..core.metrics import measure
    from ..engine.batch import experiment_hash

    factors = validate_design(exp.design, plain["world"], world.gp_codes, params)
    ctx = Context(world, params, compile_schedule(scenario, world, 1))
    known = measure(init_state(ctx, 1), ctx)
    for m in exp.metrics:
        if m not in known:
            raise ConfigError(f"experiment.metrics: unknown metric '{m}'; allowed: {', '.join(known)}")
    return ExperimentSpec(config=exp, factors=factors, metrics=tuple(exp.metrics), hash=experiment_hash(plain))


def config_hash(cfg) -> str:
    """sha256 of the resolved config without the ``hydra`` node (:func:`sim.engine.spec.config_hash`)."""
    return spec_hash(plain_config(cfg))
