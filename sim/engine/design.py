"""Experiment designs: the schema of `conf/experiment/*.yaml` and the expansion into design points.

An experiment (DESIGN.md §5) declares a design over named config parameters
(dotted paths such as ``params.pressure.intensity``) plus a number of
replicates; the batch engine (`sim.engine.batch`) runs every (point, replicate).

Factor paths (a factor is one config value varied by the design):

- ``params.<group>.<name>``: any model parameter (``sim.core.params.Params``), e.g.
  ``params.pressure.intensity``; values are checked by ``sim.core.params.check_ranges``;
- ``scenario.great_powers.<GP>.<field>``: a great power's capacity or strategy
  mix (``capacity inducement coercion wedge security``, each in [0, 1]), e.g.
  ``scenario.great_powers.RUS.coercion``; ``scenario.start_year``,
  ``scenario.end_year``, ``scenario.steps_per_year``;
- ``steps``: the number of steps run;
- ``world.<key>``: a key of the world node, for generated worlds
  (``world.n`` of ``conf/world/synthetic.yaml``); the world is rebuilt per point.

Design kinds (:func:`expand` turns one into a points table, one row per point):

- ``grid``: ``factors: {path: [v1, v2, ...]}``, the full factorial (cartesian
  product; the first factor varies slowest);
- ``lhs``: ``factors: {path: [low, high]}``, ``samples`` points of a Latin
  hypercube scaled to the bounds (McKay, Beckman & Conover 1979): exactly
  ``scipy.stats.qmc.LatinHypercube(d, rng=design.seed).random(samples)``,
  computed by :func:`latin_hypercube` with numpy alone because importing
  ``scipy.stats`` costs ~0.6 s on every run (tests check the two agree);
- ``sobol``: Saltelli's extension of the Sobol' sequence for Sobol' indices
  (``SALib.sample.sobol.sample``; Saltelli 2002, Saltelli et al. 2010):
  ``samples`` = N (a power of 2), N (D + 2) points, N (2D + 2) with ``second_order``;
- ``morris``: ``samples`` elementary-effect trajectories on a ``levels`` grid
  (``SALib.sample.morris.sample``; Morris 1991): samples (D + 1) points.
  Points keep SALib's order, so ``SALib.analyze`` reads the results sorted by point.

Integer factors (``steps``, ``params.institutions.min_founders``, ...) are
sampled on [low - 1/2, high + 1/2] and rounded, so every integer in the bounds
is equally likely; boolean factors are allowed in grids only.
"""

from __future__ import annotations

import difflib
import itertools
import numbers
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

#: Design kinds understood by :func:`expand`.
KINDS = ("grid", "lhs", "sobol", "morris")
#: Metrics whose per-step mean and quantiles over replicates go to ``aggregates.parquet`` by default.
AGGREGATE_METRICS = ("identity", "interaction", "interest", "trust_mean", "trust_min", "peace", "depth",
                     "incidents", "members", "phase")
#: Scalar scenario fields a design may vary (besides ``great_powers.<GP>.<field>``).
SCENARIO_SCALARS = {"start_year": int, "end_year": int, "steps_per_year": int, "trust_scale": float,
                    "identity_spread": float}
#: Top-level config values a design may vary.
TOP_LEVEL = {"steps": int}


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
    workers: int = 0  # worker processes; 0 = one per core; 1 = run in the calling process
    batch_replicates: int = 0  # replicates stepped per array call; 0 = all replicates of a point
    shard: int = 0  # this job's slice of the (point, replicate) keys ...
    num_shards: int = 1  # ... out of num_shards deterministic slices
    chunk_rows: int = 0  # write a results chunk every chunk_rows finished runs; 0 = every 2 s (and at the end)
    timeseries: bool = True  # write per-point timeseries aggregates (mean, q10, q50, q90)
    # metrics aggregated per step (keys of sim.core.metrics.measure)
    metrics: list[str] = field(default_factory=lambda: list(AGGREGATE_METRICS))


class DesignError(ValueError):
    """A design that cannot be expanded or names an unknown or out-of-range factor (one line)."""


# --------------------------------------------------------------------------- factors


@dataclass(frozen=True)
class Factor:
    """One varied config value: its path, where it goes, and the Python type of its values."""

    path: str
    target: str  # params | scenario | top | world
    key: str  # the path inside the target ("pressure.intensity", "great_powers.RUS.coercion", "steps", "n")
    type: type  # float, int or bool


def _param_leaves() -> dict[str, type]:
    from ..core.params import Params, flatten

    return {k: type(v) for k, v in flatten(Params()).items()}


def _strategy_fields() -> tuple[str, ...]:
    from ..core.scenario import GreatPowerStrategy

    return tuple(f.name for f in fields(GreatPowerStrategy))


def known_paths(world_keys=(), gp_codes=("<GP>",)) -> list[str]:
    """Every factor path a design may name (for messages and suggestions)."""
    out = [f"params.{k}" for k in _param_leaves()]
    out += [f"scenario.great_powers.{g}.{f}" for g in gp_codes for f in _strategy_fields()]
    out += [f"scenario.{k}" for k in SCENARIO_SCALARS] + list(TOP_LEVEL)
    out += [f"world.{k}" for k in world_keys]
    return out


def _unknown(path: str, candidates: list[str], why: str = "unknown config path") -> DesignError:
    close = difflib.get_close_matches(path, candidates, n=1)
    hint = f"; did you mean {close[0]}?" if close else \
        "; factors name values such as params.pressure.intensity, scenario.great_powers.RUS.coercion, steps"
    return DesignError(f"experiment.design.factors.{path}: {why}{hint}")


def resolve_factor(path: str, world_spec=None, gp_codes: tuple[str, ...] | None = None) -> Factor:
    """Where a factor path points and its value type; :class:`DesignError` naming it if unknown.

    ``world_spec`` (the ``world`` config node as a mapping) admits ``world.<key>``
    factors for its keys; ``gp_codes`` (the world's great powers) checks
    ``scenario.great_powers.<GP>``.
    """
    world_keys = [k for k in (world_spec or {}) if isinstance(k, str)]
    candidates = known_paths(world_keys, gp_codes or ("<GP>",))
    head, _, rest = path.partition(".")
    if head == "params":
        leaves = _param_leaves()
        if rest in leaves:
            return Factor(path, "params", rest, leaves[rest])
    elif head == "scenario":
        parts = rest.split(".")
        if len(parts) == 1 and parts[0] in SCENARIO_SCALARS:
            return Factor(path, "scenario", rest, SCENARIO_SCALARS[parts[0]])
        if len(parts) == 3 and parts[0] == "great_powers" and parts[2] in _strategy_fields():
            if gp_codes is not None and parts[1] not in gp_codes:
                raise _unknown(path, candidates, f"unknown great power '{parts[1]}' (world has {', '.join(gp_codes)})")
            return Factor(path, "scenario", rest, float)
    elif path in TOP_LEVEL:
        return Factor(path, "top", path, TOP_LEVEL[path])
    elif head == "world" and rest in world_keys:
        value = world_spec[rest]
        if isinstance(value, bool):
            kind = bool
        elif isinstance(value, numbers.Integral):
            kind = int
        elif isinstance(value, numbers.Real):
            kind = float
        else:
            raise _unknown(path, candidates, "not a number (only numeric world keys can be factors)")
        return Factor(path, "world", rest, kind)
    raise _unknown(path, candidates)


def resolve_factors(design: DesignConfig, world_spec=None, gp_codes=None) -> list[Factor]:
    """The design's factors in declaration order (each resolved by :func:`resolve_factor`)."""
    if not design.factors:
        raise DesignError("experiment.design.factors: empty; name at least one config path, "
                          "e.g. params.pressure.intensity")
    return [resolve_factor(str(p), world_spec, gp_codes) for p in design.factors]


# --------------------------------------------------------------------------- validation


def _values(design: DesignConfig, f: Factor) -> list:
    raw = design.factors[f.path]
    if hasattr(raw, "__iter__") and not isinstance(raw, (str, bytes, dict)) and not hasattr(raw, "keys"):
        values = list(raw)
    else:
        values = [raw]
    where = f"experiment.design.factors.{f.path}"
    if design.kind == "grid":
        if not values:
            raise DesignError(f"{where}: empty; a grid factor needs a non-empty list of values")
    else:
        if len(values) != 2:
            raise DesignError(f"{where}={values!r}: a {design.kind} factor needs [low, high] bounds")
        if f.type is bool:
            raise DesignError(f"{where}: a boolean factor can only be varied in a grid design")
    for v in values:
        ok = isinstance(v, bool) if f.type is bool else (isinstance(v, numbers.Real) and not isinstance(v, bool))
        if not ok:
            raise DesignError(f"{where}: value {v!r} is not {'a boolean' if f.type is bool else 'a number'}")
        if f.type is not bool and not np.isfinite(v):
            raise DesignError(f"{where}: value {v!r} is not finite")
        if f.type is int and design.kind == "grid" and v != int(v):
            raise DesignError(f"{where}: value {v!r} is not an integer")
    if design.kind != "grid" and not values[0] < values[1]:
        raise DesignError(f"{where}={values!r}: low must be below high")
    return values


def check_value(f: Factor, value, params=None, world_spec=None) -> None:
    """Raise :class:`DesignError` if ``value`` is outside the factor's allowed range.

    A ``world.<key>`` value is checked by building the world with it (``sim.face.config.build_world``).
    """
    from ..core.params import ParamError, Params, check_ranges, with_overrides

    where = f"experiment.design.factors.{f.path}"
    if f.target == "params":
        try:
            check_ranges(with_overrides(params if params is not None else Params(), {f.key: value}))
        except ParamError as exc:
            raise DesignError(f"{where}: value {value!r} not allowed ({exc})") from None
    elif f.target == "scenario" and f.key.startswith("great_powers."):
        if not 0.0 <= value <= 1.0:
            raise DesignError(f"{where}: value {value!r} is out of range; allowed [0, 1]")
    elif f.target == "top" or f.key == "steps_per_year":
        if value < 1:
            raise DesignError(f"{where}: value {value!r} is out of range; allowed an integer >= 1")
    elif f.target == "world" and world_spec is not None:
        from ..core.world import build_world
        from ..core.world import WorldError

        try:
            build_world({**world_spec, f.key: value})
        except WorldError as exc:
            raise DesignError(f"{where}: value {value!r} not allowed ({exc})") from None


def validate(design: DesignConfig, world_spec=None, gp_codes=None, params=None) -> list[Factor]:
    """Check kind, counts, factor paths, bounds (low < high) and that every value is in range.

    Ranges are checked on every grid value, on both bounds of a continuous
    factor (ranges are intervals, so every sample between them is allowed) and,
    for integer factors, on the rounded bounds. Returns the resolved factors.
    """
    if design.kind not in KINDS:
        raise DesignError(f"experiment.design.kind={design.kind!r} is unknown; allowed: {', '.join(KINDS)}")
    if design.samples < 1:
        raise DesignError(f"experiment.design.samples={design.samples} is out of range; allowed an integer >= 1")
    if design.kind == "morris" and design.levels < 2:
        raise DesignError(f"experiment.design.levels={design.levels} is out of range; allowed an integer >= 2")
    factors = resolve_factors(design, world_spec, gp_codes)
    for f in factors:
        values = _values(design, f)
        if f.type is int and design.kind != "grid":
            lo, hi = int(np.ceil(values[0])), int(np.floor(values[1]))
            if lo > hi:
                raise DesignError(f"experiment.design.factors.{f.path}={values!r}: no integer within the bounds")
            values = [lo, hi]
        for v in values:
            check_value(f, _cast(f, v), params, world_spec)
    return factors


# --------------------------------------------------------------------------- expansion


def _cast(f: Factor, v):
    if f.type is bool:
        return bool(v)
    if f.type is int:
        return int(round(float(v)))
    return float(v)


def salib_problem(design: DesignConfig, factors: list[Factor] | None = None) -> dict:
    """The SALib ``problem`` dict of a continuous design (integer bounds widened by 1/2, see module doc)."""
    factors = factors if factors is not None else resolve_factors(design)
    bounds = []
    for f in factors:
        lo, hi = (float(v) for v in design.factors[f.path])
        if f.type is int:
            lo, hi = np.ceil(lo) - 0.5, np.floor(hi) + 0.5
        bounds.append([lo, hi])
    return {"num_vars": len(factors), "names": [f.path for f in factors], "bounds": bounds}


def latin_hypercube(n: int, d: int, seed: int) -> np.ndarray:
    """n points of a randomised Latin hypercube in [0, 1)^d (McKay, Beckman & Conover 1979).

    The algorithm of ``scipy.stats.qmc.LatinHypercube`` (scramble=True,
    strength=1, no optimisation) with ``rng=seed``, draw for draw: scipy draws
    from the first child of ``SeedSequence(seed)``; one uniform per cell, then
    one shuffle of the strata per dimension; sample = (stratum - uniform) / n.
    """
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(0,))))
    u = rng.uniform(size=(n, d))
    perms = np.tile(np.arange(1, n + 1), (d, 1))
    for i in range(d):
        rng.shuffle(perms[i, :])
    return (perms.T - u) / n


def sample_unit(design: DesignConfig, factors: list[Factor]) -> np.ndarray:
    """The raw samples (points x factors) of a continuous design, in factor units before rounding."""
    problem = salib_problem(design, factors)
    if design.kind == "lhs":
        u = latin_hypercube(design.samples, len(factors), design.seed)
        lo, hi = np.array(problem["bounds"]).T
        return lo + u * (hi - lo)
    if design.kind == "sobol":
        from SALib.sample import sobol

        return sobol.sample(problem, design.samples, calc_second_order=design.second_order, seed=design.seed)
    if design.kind == "morris":
        from SALib.sample import morris

        return morris.sample(problem, design.samples, num_levels=design.levels, seed=design.seed)
    raise DesignError(f"experiment.design.kind={design.kind!r} is not a sampled design")


def expand(design: DesignConfig, factors: list[Factor] | None = None):
    """The points table: a DataFrame with ``point`` (0..P-1) and one column per factor path.

    Columns are float64, int64 (integer factors) or bool. The table depends only
    on the design (kind, factors, samples, levels, second_order, seed).
    """
    import pandas as pd

    return pd.DataFrame(points(design, factors))


def points(design: DesignConfig, factors: list[Factor] | None = None) -> dict[str, np.ndarray]:
    """The points table as numpy columns (``point`` and one per factor path); see :func:`expand`."""
    factors = factors if factors is not None else resolve_factors(design)
    if design.kind not in KINDS:
        raise DesignError(f"experiment.design.kind={design.kind!r} is unknown; allowed: {', '.join(KINDS)}")
    if design.kind == "grid":
        lists = [[_cast(f, v) for v in _values(design, f)] for f in factors]
        rows = list(itertools.product(*lists))
        cols = {f.path: [r[j] for r in rows] for j, f in enumerate(factors)}
    else:
        for f in factors:
            _values(design, f)
        x = np.atleast_2d(sample_unit(design, factors))
        cols = {}
        for j, f in enumerate(factors):
            col = x[:, j]
            if f.type is int:
                lo, hi = np.ceil(float(design.factors[f.path][0])), np.floor(float(design.factors[f.path][1]))
                col = np.clip(np.rint(col), lo, hi)
            cols[f.path] = col
    n = len(next(iter(cols.values())))
    out = {"point": np.arange(n, dtype=np.int64)}
    for f in factors:
        dtype = {bool: bool, int: np.int64, float: np.float64}[f.type]
        out[f.path] = np.asarray(cols[f.path], dtype=dtype)
    return out


def point_values(table, point: int, factors: list[Factor]) -> dict[str, Any]:
    """The factor values of one point as Python scalars (path -> value); ``table`` from :func:`points` or :func:`expand`."""
    return {f.path: _cast(f, np.asarray(table[f.path])[point]) for f in factors}


def describe(design: DesignConfig) -> dict:
    """The design as plain data (for ``experiment.json``)."""
    out = {"kind": design.kind, "factors": {str(k): list(v) if not isinstance(v, (int, float)) else v
                                            for k, v in design.factors.items()},
           "samples": design.samples, "seed": design.seed}
    if design.kind == "morris":
        out["levels"] = design.levels
    if design.kind == "sobol":
        out["second_order"] = design.second_order
    return out


def as_design(obj) -> DesignConfig:
    """A DesignConfig from a DesignConfig or a plain mapping (a design written in Python)."""
    if isinstance(obj, DesignConfig):
        return obj
    data = dict(obj)
    known = {f.name for f in fields(DesignConfig)}
    for k in data:
        if k not in known:
            raise DesignError(f"experiment.design.{k}: unknown key; allowed: {', '.join(sorted(known))}")
    d = DesignConfig(**data)
    d.factors = {str(k): (list(v) if not isinstance(v, (int, float, bool)) else v) for k, v in d.factors.items()}
    return d
