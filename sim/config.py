"""The Hydra face's schema: structured configs in the ConfigStore, world building and validation.

DESIGN.md §2 "The Hydra face": dataclass schemas type every field so that a
typo or a wrong type fails at composition with Hydra's own message. The
top-level schema :class:`Config` is stored as ``base_config`` and is the first
entry of ``conf/config.yaml``'s defaults list, so the groups merged on top of
it (``conf/scenario/*.yaml`` into :class:`sim.scenario.Scenario`,
``conf/params/*.yaml`` into :class:`sim.params.Params`, ``conf/experiment/*.yaml``
into :class:`sim.design.ExperimentConfig`) are type-checked field by field.
The world (``conf/world/*.yaml``) is free-form data validated by
:func:`sim.world.world_from_dict` (or a generator spec, see :func:`build_world`).

What a type cannot say is checked by :func:`validate` after composition and
before anything is written (DESIGN.md §6): parameter ranges, replicates and
steps, the scenario against the world (unknown state codes in events), and the
experiment design. Every failure is a :data:`USER_ERRORS` exception whose
message is one line naming the key and what is allowed.
"""

from __future__ import annotations

import hashlib
import json
import numbers
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from .design import DesignError, ExperimentConfig
from .design import validate as validate_design
from .params import ParamError, Params, check_ranges
from .scenario import Scenario, Schedule, ScenarioError, compile_schedule
from .world import World, WorldError, synthetic_world, world_from_dict

#: The config tree of the repository (``python -m sim`` reads it; tests compose from it).
CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
HYDRA_VERSION_BASE = "1.3"


class ConfigError(ValueError):
    """A composed config that is well typed but not usable (one line naming the key)."""


#: Exceptions that mean "the user's input is wrong": reported as one line, no traceback.
USER_ERRORS = (ConfigError, DesignError, ParamError, ScenarioError, WorldError)


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
    experiment: Optional[ExperimentConfig] = None  # a design run by the batch engine (conf/experiment/)


def register_configs() -> None:
    """Store the schemas in Hydra's ConfigStore (idempotent)."""
    cs = ConfigStore.instance()
    cs.store(name="base_config", node=Config)


register_configs()


# --------------------------------------------------------------------------- world


#: Keys of a generator spec (``conf/world/synthetic.yaml``) and their types.
SYNTHETIC_KEYS = {"n": int, "seed": int, "n_features": int, "n_great_powers": int, "dispute_share": float}


def build_world(spec, source: str = "config") -> World:
    """A World from the ``world`` config node.

    Either world data in the format of ``conf/world/turkic.yaml`` (validated by
    :func:`sim.world.world_from_dict`) or a generator spec ``{generator: synthetic,
    n, seed, n_features, n_great_powers, dispute_share}`` for
    :func:`sim.world.synthetic_world` (DESIGN.md §3: a generator of N states for any N).
    """
    data = OmegaConf.to_container(spec, resolve=True) if isinstance(spec, DictConfig) else spec
    if not isinstance(data, dict) or not data:
        raise WorldError(f"world {source}: empty or not a mapping; choose a world (e.g. world=turkic)")
    if "generator" not in data:
        return world_from_dict(data, source=source)
    gen = data.pop("generator")
    if gen != "synthetic":
        raise WorldError(f"world.generator={gen!r} is unknown; allowed: synthetic")
    for key, value in data.items():
        if key not in SYNTHETIC_KEYS:
            raise WorldError(f"world.{key}: unknown generator option; allowed: {', '.join(SYNTHETIC_KEYS)}")
        kind = SYNTHETIC_KEYS[key]
        if isinstance(value, bool) or not isinstance(value, numbers.Real if kind is float else numbers.Integral):
            raise WorldError(f"world.{key}={value!r} is not {'a number' if kind is float else 'an integer'}")
    if data.get("seed", 0) < 0:
        raise WorldError(f"world.seed={data['seed']} is out of range; allowed >= 0")
    return synthetic_world(**data)


# --------------------------------------------------------------------------- validation


@dataclass
class Validated:
    """Everything a run needs, built from a config that passed :func:`validate`."""

    world: World
    scenario: Scenario
    params: Params
    schedule: Schedule


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


def validate(cfg, source: str = "config") -> Validated:
    """Check a composed config completely, before anything is written; return the built objects.

    Raises one of :data:`USER_ERRORS` with a one-line message naming the key.
    Checks: seed, replicates, steps, checkpoint_every; parameter ranges
    (:func:`sim.params.check_ranges`); the world; the scenario's years and
    every code it names (:func:`sim.scenario.compile_schedule`); the
    network-figure years; the experiment design (kinds, factor paths, values in range).
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
    world = build_world(cfg.world, source)
    scenario = _to_object(cfg.scenario, Scenario, "scenario")
    schedule = compile_schedule(scenario, world, cfg.steps)
    for n, ev in enumerate(scenario.events):
        if not scenario.start_year <= ev.year < scenario.end_year:
            raise ScenarioError(f"scenario.events[{n}] ({ev.type}): year={ev.year:g} is outside the scenario's "
                                f"span; allowed [{scenario.start_year}, {scenario.end_year})")
    first, last = schedule.year(0), schedule.year(schedule.steps)
    for y in cfg.network_years:
        if not first <= y <= last:
            raise ConfigError(f"network_years: {y:g} is outside the run's years; allowed [{first:g}, {last:g}]")
    if cfg.get("experiment") is not None:
        validate_experiment(cfg, params, world)
    return Validated(world, scenario, params, schedule)


def validate_experiment(cfg, params: Params, world: World) -> ExperimentConfig:
    """Check an experiment block: its counts, then the design with :func:`sim.design.validate`.

    The design check (kind, factor paths, bounds, every value in range) is the
    batch engine's own, so the Hydra face and ``sim.batch`` agree on what is valid.
    """
    exp = _to_object(cfg.experiment, ExperimentConfig, "experiment")
    for key, minimum in (("replicates", 1), ("num_shards", 1), ("shard", 0), ("workers", 0),
                         ("batch_replicates", 0), ("chunk_rows", 0)):
        _positive_int(cfg, f"experiment.{key}", minimum)
    if exp.shard >= exp.num_shards:
        raise ConfigError(f"experiment.shard={exp.shard} is out of range; allowed [0, {exp.num_shards - 1}]")
    world_spec = OmegaConf.to_container(cfg.world, resolve=True) if isinstance(cfg.world, DictConfig) else None
    validate_design(exp.design, world_spec, world.gp_codes, params)
    return exp


def config_hash(cfg) -> str:
    """sha256 of the resolved config without the ``hydra`` node (canonical JSON, sorted keys)."""
    data = {str(k): OmegaConf.to_container(cfg[k], resolve=True) if OmegaConf.is_config(cfg[k]) else cfg[k]
            for k in cfg if k != "hydra"}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
