"""Tests for the config tree (conf/) and sim.face.config: composition, schema, ranges, scenarios, tables, figures, io.

Every scenario is composed with Hydra's compose API and run for a few steps
through ``sim.face.cli.run``; every experiment file is composed and validated (the
batch engine runs them). Output goes to ``tmp_path`` only.
"""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from sim.face.cli import check_output_dir, run
from sim.core.world import build_world
from sim.face.config import CONF_DIR, HYDRA_VERSION_BASE, USER_ERRORS, config_hash, plain_config, validate
from sim.engine.design import ExperimentConfig
from sim.report.figures import write_run_figures
from sim.engine.io import write_atomic, write_json_atomic
from sim.core.params import RANGES, Params, flatten
from sim.core.scenario import Scenario, ScenarioError, load_scenario
from sim.engine.simulate import simulate
from sim.engine.tables import run_tables
from sim.core.world import LEVELS, WorldError, load_world

SCENARIOS = sorted(p.stem for p in (CONF_DIR / "scenario").glob("*.yaml"))
EXPERIMENTS = sorted(p.stem for p in (CONF_DIR / "experiment").glob("[!_]*.yaml"))  # _dirs.yaml: shared output dirs
PRESENT_DAY = ["baseline", "russia_resurgence", "china_expansion", "us_retrenchment", "great_power_rivalry",
               "russia_distracted", "ots_plus"]


@pytest.fixture(scope="module", autouse=True)
def hydra_conf():
    """Hydra initialised once for this module on the repository's conf/ (compose API, version_base explicit)."""
    with initialize_config_dir(version_base=HYDRA_VERSION_BASE, config_dir=str(CONF_DIR)):
        yield


def compose_config(*overrides: str, hydra: bool = False):
    """The composed config of conf/config.yaml with overrides."""
    return compose(config_name="config", overrides=list(overrides), return_hydra_config=hydra)


# --------------------------------------------------------------------------- conf/params/default.yaml


def test_params_default_yaml_equals_dataclass_defaults():
    data = yaml.safe_load((CONF_DIR / "params" / "default.yaml").read_text(encoding="utf-8"))
    assert data == dataclasses.asdict(Params())
    assert flatten(Params()) == {k: v for k, v in _leaves(data)}
    assert all(type(v) is type(flatten(Params())[k]) for k, v in _leaves(data))  # 5.0 stays a float


def _leaves(d, prefix=""):
    """(dotted key, value) for every leaf of a nested dict."""
    for k, v in d.items():
        yield from _leaves(v, f"{prefix}{k}.") if isinstance(v, dict) else [(f"{prefix}{k}", v)]


def test_params_default_yaml_documents_meaning_unit_and_the_checked_range():
    """Each leaf's comment reads 'meaning; unit; range' and the range is the one check_ranges enforces."""
    group = None
    seen = set()
    for line in (CONF_DIR / "params" / "default.yaml").read_text(encoding="utf-8").splitlines():
        if m := re.match(r"^(\w+):", line):
            group = m.group(1)
        elif m := re.match(r"^  (\w+): (\S+)\s+# (.*)$", line):
            key = f"{group}.{m.group(1)}"
            parts = [p.strip() for p in m.group(3).split(";")]
            assert len(parts) >= 3 and all(parts), f"{key}: comment must read 'meaning; unit; range'"
            rng = parts[-1]
            if key in RANGES:
                lo, hi = RANGES[key]
                nums = [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", rng)]
                if rng.startswith(">="):
                    assert nums == [lo], key
                else:
                    assert nums[1] == hi and (nums[0] == lo or (rng.startswith("(") and 0 < lo < 1e-5)), key
            elif isinstance(flatten(Params())[key], str):
                assert flatten(Params())[key] in rng.split("/"), key  # a choice: the allowed values
            else:
                assert rng == "true/false", key
            seen.add(key)
    assert seen == set(flatten(Params()))


# --------------------------------------------------------------------------- composing and running every file


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_scenario_composes_validates_and_runs(scenario, tmp_path):
    cfg = compose_config(f"scenario={scenario}", "steps=3", "replicates=2", "figures=false", "progress=false",
                         f"hydra.run.dir={tmp_path}/run", hydra=True)
    assert OmegaConf.get_type(cfg.scenario) is Scenario and OmegaConf.get_type(cfg.params) is Params
    summary = run(cfg)
    assert summary["scenario"] == scenario and len(summary["replicates"]) == 2
    assert {p.name for p in (tmp_path / "run").iterdir()} >= {"summary.json", "timeseries.parquet", "agents.parquet",
                                                              "events.parquet", "pairs.parquet"}
    ts = pd.read_parquet(tmp_path / "run" / "timeseries.parquet")
    assert len(ts) == 2 * 4 and ts["year"].min() == cfg.scenario.start_year


def test_synthetic_world_with_the_generic_scenario_runs_and_draws(tmp_path):
    cfg = compose_config("world=synthetic", "world.n=30", "scenario=generic", "steps=3", "replicates=2",
                         "progress=false", f"hydra.run.dir={tmp_path}/run", hydra=True)
    summary = run(cfg)
    assert summary["world"] == "synthetic-n30-s0"
    assert sorted(p.name for p in (tmp_path / "run" / "figures").iterdir()) == \
        ["conditions.png", "memberships.png", "network.png"]


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_composes_and_validates(experiment):
    cfg = compose_config(f"experiment={experiment}")
    assert OmegaConf.get_type(cfg.experiment) is ExperimentConfig
    assert cfg.experiment.name == experiment
    validate(cfg)


def test_example_experiment_is_the_3x3_pressure_identity_grid():
    text = (CONF_DIR / "experiment" / "pressure_identity_grid.yaml").read_text(encoding="utf-8")
    assert text.startswith("# @package _global_")
    exp = compose_config("experiment=pressure_identity_grid").experiment
    assert exp.design.kind == "grid" and exp.replicates == 10
    assert {k: len(v) for k, v in exp.design.factors.items()} == \
        {"params.pressure.intensity": 3, "params.identity.confidence": 3}


def test_run_hands_an_experiment_to_the_batch_engine(tmp_path, monkeypatch):
    import sim.engine.batch

    calls = []
    monkeypatch.setattr(sim.engine.batch, "run_experiment", lambda spec, d: calls.append((spec.experiment.config.name, d)) or {"ok": 1})
    cfg = compose_config("experiment=pressure_identity_grid", f"hydra.run.dir={tmp_path}/exp", hydra=True)
    assert run(cfg) == {"ok": 1}
    assert calls == [("pressure_identity_grid", (tmp_path / "exp").absolute())]


# --------------------------------------------------------------------------- scenarios


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario_files_say_what_they_represent_and_load_the_same_through_mesa(scenario):
    path = CONF_DIR / "scenario" / f"{scenario}.yaml"
    assert path.read_text(encoding="utf-8").startswith("# ")
    assert validate(compose_config(f"scenario={scenario}")).scenario == load_scenario(scenario)


@pytest.mark.parametrize("scenario", PRESENT_DAY)
def test_present_day_scenarios_start_from_todays_memberships(scenario):
    s = load_scenario(scenario)
    assert (s.start_year, s.end_year) == (2025, 2045)
    assert not s.memberships and not s.founded
    assert set(s.great_powers) == {"RUS", "CHN", "USA"}
    assert ("OTS" in s.partner_format) == (scenario == "ots_plus")


def test_historical_scenario_follows_the_domain_timeline():
    """DOMAIN.md §5: institutions founded by events with their founders; memberships endogenous after 2009."""
    s = load_scenario("historical")
    assert s.start_year == 1991 and s.founded == {"OTS": False, "CSTO": False, "SCO": False, "EAEU": False}
    found = {e.institution: (e.year, sorted(e.states)) for e in s.events if e.type == "found"}
    assert found["OTS"] == (2009, ["AZE", "KAZ", "KGZ", "TUR"])
    assert found["CSTO"][0] == 2002 and found["EAEU"][0] == 2015 and found["SCO"][0] == 1996
    later = [(e.year, e.type, e.institution, e.states) for e in s.events
             if e.type in ("found", "join", "leave") and e.year > 2009]
    assert later == [(2012, "leave", "CSTO", ["UZB"]), (2015, "found", "EAEU", ["KAZ", "ARM", "KGZ"])]
    types = {(e.year, e.type) for e in s.events}
    assert {(1992, "summit"), (2001, "gp"), (2001, "transnational"), (2016, "leadership_change"), (2020, "war"),
            (2021, "gp"), (2021, "deepen"), (2022, "unrest"), (2022, "war"), (2025, "partner_format")} <= types


@pytest.mark.parametrize("endogenous", [True, False])
def test_historical_ots_is_founded_by_2009_with_its_founders(endogenous):
    world = load_world("turkic")
    params = Params()
    params.institutions.endogenous_founding = endogenous
    tr = simulate(world, load_scenario("historical"), params, seed=0, replicates=8, steps=20, pairs=False)
    ots = world.institutions.index("OTS")
    after = list(tr.years).index(2010.0)  # the state at the start of 2010, after the 2009 event
    assert tr.final.founded[:, ots].all()
    founders = [world.codes.index(c) for c in ("TUR", "AZE", "KAZ", "KGZ")]
    assert (tr.agents["membership"][after][:, founders, ots] == LEVELS.index("member")).all()
    if not endogenous:  # the documented founding is the only one
        before = list(tr.years).index(2009.0)
        assert (tr.timeseries["phase"][before] == 0).all() and (tr.timeseries["phase"][after] >= 1).all()


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("overrides, error, fragment", [
    (["+scenario.foo=1"], "ConfigError", "scenario.foo: Key 'foo' not in 'Scenario'"),
    (["+params.pressure.foo=1"], "ConfigError", "params.pressure.foo"),
    (["+foo=1"], "ConfigError", "foo: unknown key; allowed at the top level: world, scenario"),
    (["replicates=0"], "ConfigError", "replicates=0 is out of range; allowed: an integer >= 1"),
    (["steps=0"], "ConfigError", "steps=0 is out of range"),
    (["seed=-1"], "ConfigError", "seed=-1 is out of range"),
    (["params.identity.convergence=0.7"], "ParamError",
     "params.identity.convergence=0.7 is out of range; allowed [0, 0.5]"),
    (["scenario.events=[{year: 2030, type: war, states: [AZE, XYZ]}]"], "ScenarioError",
     "scenario.events[0] (war 2030): unknown state code 'XYZ'"),
    (["scenario.events=[{year: 2050, type: summit, states: [AZE]}]"], "ScenarioError", "year=2050 is outside"),
    (["scenario.great_powers.RUS.coercion=2"], "ScenarioError", "RUS.coercion=2 is out of range; allowed [0, 1]"),
    (["world=synthetic"], "ScenarioError", "unknown great power 'RUS'"),
    (["world=synthetic", "scenario=generic", "world.n=abc"], "WorldError", "world.n='abc' is not an integer"),
    (["world=synthetic", "scenario=generic", "+world.size=3"], "WorldError", "world.size: unknown generator option"),
    (["network_years=[1990]"], "ConfigError", "network_years: 1990 is outside the run's years"),
    (["experiment=pressure_identity_grid", "experiment.replicates=0"], "ConfigError", "experiment.replicates=0"),
    (["experiment=pressure_identity_grid", "experiment.design.factors={params.pressure.intensity: [0.5, 1.5]}"],
     "DesignError", "experiment.design.factors.params.pressure.intensity: value 1.5 not allowed"),
])
def test_validation_names_the_key_in_one_line(overrides, error, fragment):
    with pytest.raises(USER_ERRORS) as info:
        validate(compose_config(*overrides))
    assert type(info.value).__name__ == error
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_build_world_from_data_or_generator():
    w = build_world(plain_config(compose_config())["world"])
    assert w.name == "turkic" and w.n == 11
    g = build_world({"generator": "synthetic", "n": 12, "seed": 3})
    assert g.n == 12 and g.name == "synthetic-n12-s3"
    with pytest.raises(WorldError, match="world.generator='lattice' is unknown; allowed: synthetic"):
        build_world({"generator": "lattice"})
    with pytest.raises(WorldError, match="missing field 'features'"):
        build_world({"name": "x", "great_powers": {}, "institutions": {}, "states": {}})


def test_config_hash_ignores_hydra_and_tracks_values():
    plain, with_hydra = compose_config(), compose_config("hydra.run.dir=/elsewhere", hydra=True)
    assert config_hash(plain) == config_hash(with_hydra)
    assert config_hash(plain) != config_hash(compose_config("params.pressure.intensity=0.6"))
    assert re.fullmatch(r"[0-9a-f]{64}", config_hash(plain))


def test_output_dir_refuses_a_finished_run_and_unwritable_paths(tmp_path):
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / "summary.json").write_text("{}")
    with pytest.raises(USER_ERRORS, match="already holds a finished run"):
        check_output_dir(tmp_path / "done")
    (tmp_path / "file").write_text("")
    with pytest.raises(USER_ERRORS, match=r"cannot write there \(not a directory"):
        check_output_dir(tmp_path / "file" / "run")
    assert check_output_dir(tmp_path / "new" / "run").is_dir()


# --------------------------------------------------------------------------- tables and figures


@pytest.fixture(scope="module")
def small_run():
    """A 3-replicate, 6-step baseline run with checkpoints every 2 years, and its tables."""
    world = load_world("turkic")
    tr = simulate(world, load_scenario("baseline"), Params(), seed=3, replicates=3, steps=6, checkpoint_every=2)
    return world, tr, run_tables(tr)


def test_tables_have_one_row_per_key_in_order(small_run):
    world, tr, t = small_run
    R, T1, N = 3, 7, world.n
    ts, ag, pr, ev = t["timeseries"], t["agents"], t["pairs"], t["events"]
    assert len(ts) == R * T1 and list(ts.columns[:3]) == ["replicate", "step", "year"]
    assert ts["phase"].dtype == np.int64 and ts["trust_mean"].dtype == np.float64
    np.testing.assert_array_equal(ts.loc[ts.replicate == 1, "trust_mean"], tr.timeseries["trust_mean"][:, 1])
    assert len(ag) == R * T1 * N and list(ag["state"][:N]) == list(world.codes)
    assert {"threat_RUS", "dependence_CHN", "posture_USA", "level_OTS", "threat_neighbours"} <= set(ag.columns)
    row = ag[(ag.replicate == 2) & (ag.step == 4) & (ag.state == "KAZ")].iloc[0]
    kaz, csto = world.codes.index("KAZ"), world.institutions.index("CSTO")
    assert row["level_CSTO"] == tr.agents["membership"][4, 2, kaz, csto]
    assert sorted(pr["step"].unique()) == [0, 2, 4, 6] and len(pr) == R * 4 * N * (N - 1) // 2
    p = pr[(pr.replicate == 0) & (pr.step == 6) & (pr.a == "TUR") & (pr.b == "AZE")].iloc[0]
    assert p["trust"] == tr.pairs["trust"][3, 0, 0, 1]
    assert list(ev.columns) == ["replicate", "step", "year", "type", "a", "b", "value"]
    assert (ev["replicate"] >= -1).all() and set(ev["type"]) <= {"join", "exit", "incident", "backing", "deepening",
                                                                  "founding"} | {f"shock:{x}" for x in ("gp", "war")}


def test_run_figures_are_written(small_run, tmp_path):
    world, _, t = small_run
    paths = write_run_figures(t, world, tmp_path, "baseline test")
    assert [p.name for p in paths] == ["conditions.png", "memberships.png", "network.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)


# --------------------------------------------------------------------------- atomic writes


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "t.json"
    write_json_atomic({"a": np.float64(1.5), "b": float("nan"), "c": np.arange(2)}, target)
    assert json.loads(target.read_text()) == {"a": 1.5, "b": None, "c": [0, 1]}

    def broken(fh):
        fh.write(b"partial")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        write_atomic(target, broken)
    assert json.loads(target.read_text())["a"] == 1.5
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]


def test_scenario_error_is_a_user_error():
    assert issubclass(ScenarioError, USER_ERRORS)
