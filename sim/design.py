"""Experiment designs: the schema of `conf/experiment/*.yaml` and the expansion into design points.

An experiment (DESIGN.md §5) declares a design over named config parameters
(dotted paths such as ``params.pressure.intensity``) plus a number of
replicates; the batch engine (`sim.batch`) runs every (point, replicate).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class DesignConfig:
    """What points to run."""

    kind: str = "grid"  # grid | lhs | sobol | morris
    # config path -> values. grid: a list of values per factor (full factorial);
    # lhs / sobol / morris: [low, high] bounds per factor.
    factors: dict[str, Any] = field(default_factory=dict)
    samples: int = 16  # lhs: points; sobol: base sample N (points = N(D+2), or N(2D+2) with second_order); morris: trajectories r (points = r(D+1))
    levels: int = 4  # morris: grid levels
    second_order: bool = False  # sobol: also second-order indices
    seed: int = 0  # seed of the design sampling (not of the runs)


@dataclass
class ExperimentConfig:
    """A named study run by the batch engine (`python -m sim +experiment=NAME`)."""

    name: str = "experiment"
    description: str = ""  # the question the study answers (shown in the report)
    design: DesignConfig = field(default_factory=DesignConfig)
    replicates: int = 20  # replicates per point; replicate k uses SeedSequence(seed, spawn_key=(k,)) at every point
    workers: int = 0  # worker processes; 0 = one per core
    batch_replicates: int = 0  # replicates stepped per array call; 0 = all replicates of a point
    shard: int = 0  # this job's slice of the (point, replicate) keys ...
    num_shards: int = 1  # ... out of num_shards deterministic slices
    chunk_rows: int = 0  # rows per results chunk written; 0 = one chunk per finished point batch
    timeseries: bool = True  # write per-point timeseries aggregates (mean, q10, q50, q90)
