"""What the face hands the engine: a validated run or experiment, as plain typed objects.

The face (``sim.face``: the command line and the Python API) composes a
config, validates it once (:func:`sim.face.config.validate`) and builds a
:class:`RunSpec`. The engine (``sim.engine.runs``, ``sim.engine.batch``) takes
that spec and never sees Hydra's config objects nor validates again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from ..core.params import Params
from ..core.scenario import Scenario, Schedule
from ..core.world import World
from .design import ExperimentConfig, Factor


def config_hash(plain: dict) -> str:
    """sha256 of a resolved config as plain data, without its ``hydra`` node (canonical JSON, sorted keys)."""
    data = {k: v for k, v in plain.items() if k != "hydra"}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ExperimentSpec:
    """A validated experiment block: its settings, the design's factors and the metrics to aggregate."""

    config: ExperimentConfig
    factors: list[Factor]
    metrics: tuple[str, ...]
    hash: str  # sim.engine.batch.experiment_hash of the config: what a resume must match


@dataclass(frozen=True)
class RunSpec:
    """Everything a run (or an experiment) needs, built from a config that passed validation."""

    world: World
    scenario: Scenario
    params: Params
    schedule: Schedule
    seed: int
    replicates: int
    steps: int | None
    checkpoint_every: int
    network_years: list[float] = field(default_factory=list)
    figures: bool = True
    progress: bool = True
    world_spec: dict = field(default_factory=dict)  # the world node as plain data (designs over world.<key>)
    config: dict = field(default_factory=dict)  # the resolved config as plain data, without hydra
    config_hash: str = ""
    command: str = ""  # the command that made the run, as the user typed it
    experiment: ExperimentSpec | None = None
