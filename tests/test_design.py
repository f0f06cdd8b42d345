"""Tests for sim.engine.design: expanding experiment designs into points tables, and validating them."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from omegaconf import OmegaConf
from hydra import compose, initialize_config_dir

from sim.face.config import CONF_DIR, HYDRA_VERSION_BASE
from sim.engine.design import (
    DesignConfig,
    DesignError,
    as_design,
    expand,
    latin_hypercube,
    resolve_factor,
    salib_problem,
    validate,
)

GP = ("RUS", "CHN", "USA")


def lhs(factors, samples=10, seed=0):
    return DesignConfig(kind="lhs", factors=dict(factors), samples=samples, seed=seed)


# --------------------------------------------------------------------------- grid


def test_grid_is_the_full_factorial_first_factor_slowest():
    d = DesignConfig(kind="grid", factors={"params.pressure.intensity": [0.2, 0.5, 0.8],
                                           "params.identity.confidence": [0.1, 0.3],
                                           "steps": [5, 10]})
    t = expand(d, validate(d))
    assert len(t) == 3 * 2 * 2
    assert list(t.columns) == ["point", "params.pressure.intensity", "params.identity.confidence", "steps"]
    assert t["point"].tolist() == list(range(12))
    expected = list(itertools.product([0.2, 0.5, 0.8], [0.1, 0.3], [5, 10]))
    assert [tuple(r) for r in t.iloc[:, 1:].itertuples(index=False)] == expected
    assert t["steps"].dtype == np.int64 and t["params.pressure.intensity"].dtype == np.float64


def test_grid_accepts_booleans_and_integers():
    d = DesignConfig(kind="grid", factors={"params.mechanisms.pressure": [True, False],
                                           "params.institutions.min_founders": [2, 3, 4]})
    t = expand(d, validate(d))
    assert len(t) == 6
    assert t["params.mechanisms.pressure"].dtype == bool
    assert t["params.institutions.min_founders"].tolist() == [2, 3, 4, 2, 3, 4]


# --------------------------------------------------------------------------- sampled designs


def test_lhs_is_stratified_within_bounds_and_seeded():
    d = lhs({"params.pressure.intensity": [0.1, 0.9], "params.identity.confidence": [0.05, 0.5]}, samples=20, seed=3)
    t = expand(d, validate(d))
    assert t.shape == (20, 3)
    for path, (lo, hi) in d.factors.items():
        x = t[path].to_numpy()
        assert np.all((x >= lo) & (x <= hi))
        # Latin hypercube: exactly one sample in each of the 20 equal strata of every factor
        strata = np.floor((x - lo) / (hi - lo) * 20).astype(int)
        assert sorted(strata) == list(range(20))
    assert expand(d).equals(t)  # same seed, same points
    assert not expand(lhs(d.factors, samples=20, seed=4)).equals(t)


@pytest.mark.parametrize("n, d, seed", [(50, 2, 1), (7, 5, 0), (1, 1, 3)])
def test_latin_hypercube_is_scipys_draw_for_draw(n, d, seed):
    from scipy.stats import qmc

    np.testing.assert_array_equal(latin_hypercube(n, d, seed), qmc.LatinHypercube(d=d, rng=seed).random(n))


def test_lhs_integer_factor_is_rounded_into_bounds():
    d = lhs({"params.institutions.min_founders": [2, 5], "steps": [3, 4]}, samples=40)
    t = expand(d, validate(d))
    assert t["params.institutions.min_founders"].dtype == np.int64
    assert set(t["params.institutions.min_founders"]) == {2, 3, 4, 5}
    assert set(t["steps"]) == {3, 4}
    assert salib_problem(d, validate(d))["bounds"][0] == [1.5, 5.5]


@pytest.mark.parametrize("second_order, per", [(False, lambda D: D + 2), (True, lambda D: 2 * D + 2)])
def test_sobol_sample_shape_follows_saltelli(second_order, per):
    factors = {"params.pressure.intensity": [0.1, 0.9], "params.identity.confidence": [0.05, 0.5],
               "scenario.great_powers.RUS.coercion": [0.0, 1.0]}
    d = DesignConfig(kind="sobol", factors=factors, samples=8, second_order=second_order, seed=1)
    t = expand(d, validate(d, gp_codes=GP))
    assert len(t) == 8 * per(3)
    for path, (lo, hi) in factors.items():
        assert t[path].between(lo, hi).all()


def test_morris_sample_shape_and_levels():
    factors = {"params.pressure.intensity": [0.0, 1.0], "params.identity.confidence": [0.0, 0.6]}
    d = DesignConfig(kind="morris", factors=factors, samples=5, levels=4, seed=2)
    t = expand(d, validate(d))
    assert len(t) == 5 * (2 + 1)
    # every value on the 4-level grid of its bounds
    assert set(np.round(t["params.pressure.intensity"] * 3, 9)) <= {0.0, 1.0, 2.0, 3.0}
    assert set(np.round(t["params.identity.confidence"] / 0.6 * 3, 9)) <= {0.0, 1.0, 2.0, 3.0}


# --------------------------------------------------------------------------- factor paths


def test_factor_paths_resolve_to_their_targets():
    assert resolve_factor("params.pressure.intensity").target == "params"
    f = resolve_factor("scenario.great_powers.RUS.coercion", gp_codes=GP)
    assert (f.target, f.key, f.type) == ("scenario", "great_powers.RUS.coercion", float)
    assert resolve_factor("steps").type is int
    assert resolve_factor("params.institutions.min_founders").type is int
    w = resolve_factor("world.n", world_spec={"generator": "synthetic", "n": 20})
    assert (w.target, w.key, w.type) == ("world", "n", int)


@pytest.mark.parametrize("design, message", [
    (lhs({"params.pressure.intensty": [0, 1]}),
     "experiment.design.factors.params.pressure.intensty: unknown config path; did you mean params.pressure.intensity?"),
    (lhs({"seed": [0, 5]}), "experiment.design.factors.seed: unknown config path"),
    (lhs({"scenario.great_powers.XXX.coercion": [0, 1]}), "unknown great power 'XXX'"),
    (lhs({"params.pressure.intensity": [0.8, 0.2]}), "low must be below high"),
    (lhs({"params.pressure.intensity": [0.5, 1.5]}),
     "params.pressure.intensity=1.5 is out of range; allowed [0, 1]"),
    (lhs({"scenario.great_powers.RUS.coercion": [0.5, 2]}), "value 2.0 is out of range; allowed [0, 1]"),
    (lhs({"params.pressure.intensity": [0.5]}), "needs [low, high] bounds"),
    (lhs({"params.mechanisms.pressure": [False, True]}), "only be varied in a grid"),
    (DesignConfig(kind="grid", factors={"params.identity.confidence": [0.1, 7]}),
     "params.identity.confidence=7.0 is out of range"),
    (DesignConfig(kind="grid", factors={"steps": [0, 5]}), "value 0 is out of range"),
    (DesignConfig(kind="factorial", factors={"steps": [5]}), "experiment.design.kind='factorial' is unknown"),
    (DesignConfig(kind="grid", factors={}), "experiment.design.factors: empty"),
])
def test_bad_designs_get_one_line_naming_the_factor(design, message):
    with pytest.raises(DesignError) as err:
        validate(design, gp_codes=GP)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_world_factor_values_are_checked_by_building_the_world():
    spec = {"generator": "synthetic", "n": 10, "dispute_share": 0.1}
    d = DesignConfig(kind="grid", factors={"world.dispute_share": [0.1, 1.5]})
    with pytest.raises(DesignError, match="world.dispute_share: value 1.5 not allowed"):
        validate(d, world_spec=spec)


def test_as_design_from_a_mapping_and_unknown_key():
    assert as_design({"kind": "grid", "factors": {"steps": [1, 2]}}).factors == {"steps": [1, 2]}
    with pytest.raises(DesignError, match="experiment.design.kinds: unknown key"):
        as_design({"kinds": "grid"})


# --------------------------------------------------------------------------- the shipped experiment files


@pytest.mark.parametrize("name", sorted(p.stem for p in (CONF_DIR / "experiment").glob("[!_]*.yaml")))
def test_every_experiment_file_composes_and_expands(name):
    with initialize_config_dir(str(CONF_DIR), version_base=HYDRA_VERSION_BASE):
        cfg = compose("config", overrides=[f"experiment={name}"])
    d = as_design(OmegaConf.to_container(cfg.experiment.design, resolve=True))
    t = expand(d, validate(d, gp_codes=GP))
    assert len(t) >= 1 and cfg.experiment.replicates >= 1
    if name == "bench_1000":
        assert len(t) * cfg.experiment.replicates == 1000 and cfg.steps == 200
