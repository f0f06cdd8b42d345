"""sim.studies.sensitivity: Morris and Sobol analyses on hand-made experiment tables with known answers, the
study configs (every numeric parameter, the documented ranges), the figures, and (slow) both configs end to end."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sim.studies import sensitivity as S

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf" / "experiment"


# --------------------------------------------------------------------------- hand-made experiments


def _results(X: np.ndarray, names: list[str], members, trust, mature, replicates: int = 2) -> pd.DataFrame:
    """One row per (point, replicate) in the batch engine's columns; ``members(x, k)`` etc. of a point's
    factor values (a dict) and the replicate k; ``mature(x, k)`` True -> phase mature-loose, else ascendant."""
    rows = []
    for p, x in enumerate(X):
        v = dict(zip(names, x))
        for k in range(replicates):
            rows.append({"point": p, "replicate": k, "seed": 0, "status": "ok", "error": "None", **v,
                         "phase_reached": "mature-loose" if mature(v, k) else "ascendant",
                         "final_members": float(members(v, k)), "final_trust_mean": float(trust(v, k))})
    return pd.DataFrame(rows)


def _design(X: np.ndarray, names: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"point": np.arange(len(X)), **{n: X[:, j] for j, n in enumerate(names)}})


def _experiment(kind: str, bounds: dict, **extra) -> dict:
    return {"name": f"hand_{kind}", "scenario": "baseline",
            "design": {"kind": kind, "factors": {k: list(v) for k, v in bounds.items()}, **extra}}


def morris_case(members, trust, mature, bounds=None, r: int = 12, replicates: int = 2, seed: int = 1):
    from SALib.sample import morris

    bounds = bounds or {"a": [0.0, 1.0], "b": [0.0, 2.0], "c": [0.0, 1.0]}
    names = list(bounds)
    X = morris.sample({"num_vars": len(names), "names": names, "bounds": list(bounds.values())}, r,
                      num_levels=4, seed=seed)
    return (_results(X, names, members, trust, mature, replicates), _design(X, names),
            _experiment("morris", bounds, levels=4, samples=r))


def sobol_case(members, trust, mature, n: int = 1024, replicates: int = 2):
    from SALib.sample import sobol

    bounds = {"a": [0.0, 1.0], "b": [0.0, 1.0], "c": [0.0, 1.0]}
    names = list(bounds)
    X = sobol.sample({"num_vars": 3, "names": names, "bounds": list(bounds.values())}, n,
                     calc_second_order=False, seed=2)
    return (_results(X, names, members, trust, mature, replicates), _design(X, names),
            _experiment("sobol", bounds, samples=n, second_order=False))


# --------------------------------------------------------------------------- outcomes and point means


def test_outcomes_are_read_from_the_results_and_averaged_per_point():
    X = np.array([[0.0], [1.0]])
    res = _results(X, ["a"], members=lambda v, k: 3 + k, trust=lambda v, k: 0.5 * v["a"] + 0.1 * k,
                   mature=lambda v, k: k == 0, replicates=2)
    res.loc[3, "phase_reached"] = "mature-tight"  # point 1, replicate 1: tight counts as mature
    m = S.point_means(res, _design(X, ["a"]))
    assert m["mature"].tolist() == [0.5, 1.0]
    assert m["members"].tolist() == [3.5, 3.5]
    assert m["member_trust"].tolist() == pytest.approx([0.05, 0.55])
    assert m["n"].tolist() == [2, 2]


def test_failed_runs_are_left_out_and_a_point_without_runs_is_an_error():
    X = np.array([[0.0], [1.0]])
    res = _results(X, ["a"], members=lambda v, k: 1 + k, trust=lambda v, k: 0.5, mature=lambda v, k: False)
    res.loc[1, ["status", "final_members"]] = ["failed", np.nan]
    assert S.point_means(res, _design(X, ["a"]))["members"].tolist() == [1.0, 1.5]
    res.loc[0, "status"] = "failed"
    with pytest.raises(S.SensitivityError, match="1 design point"):
        S.point_means(res, _design(X, ["a"]))


def test_noise_share_is_the_seed_variance_of_a_point_mean_over_the_variance_of_the_means():
    X = np.array([[0.0], [1.0], [2.0]])
    # members: point mean 0, 1, 2 (variance 1); replicates at +-1 (within variance 2), R = 2 -> noise 1
    res = _results(X, ["a"], members=lambda v, k: v["a"] + (1 if k else -1), trust=lambda v, k: v["a"],
                   mature=lambda v, k: False)
    s = S.outcome_summary(res, _design(X, ["a"])).set_index("outcome")
    assert s.loc["members", "noise_share"] == pytest.approx(1.0)
    assert s.loc["member_trust", "noise_share"] == 0.0
    assert math.isnan(s.loc["mature", "noise_share"])  # constant outcome


# --------------------------------------------------------------------------- Morris


def test_morris_finds_the_one_factor_that_matters_in_outcome_units_per_full_range():
    res, design, exp = morris_case(members=lambda v, k: 4 * v["a"], trust=lambda v, k: 0.5 * v["b"],
                                   mature=lambda v, k: v["a"] > 0.5)
    t = S.morris_indices(res, design, exp).set_index(["outcome", "parameter"])
    # linear: every elementary effect is the change over the whole range (b's range is 2 wide)
    assert t.loc[("members", "a"), "mu_star"] == pytest.approx(4.0)
    assert t.loc[("members", "a"), "sigma"] == pytest.approx(0.0, abs=1e-12)
    assert t.loc[("member_trust", "b"), "mu_star"] == pytest.approx(1.0)
    for o, used in (("members", "a"), ("member_trust", "b"), ("mature", "a")):
        assert t.loc[(o, used), "rank"] == 1
        for p in {"a", "b", "c"} - {used}:
            assert t.loc[(o, p), "mu_star"] == 0.0 and t.loc[(o, p), "mu"] == 0.0
    assert t.loc[("mature", "a"), "mu_star"] > 0  # a step across 0.5 flips the share by 1
    assert (t["mu_star_noise"] == 0).all()  # both replicates identical: no seed noise


def test_morris_signed_mean_gives_the_direction():
    res, design, exp = morris_case(members=lambda v, k: -2 * v["c"], trust=lambda v, k: v["a"] ** 2,
                                   mature=lambda v, k: False)
    t = S.morris_indices(res, design, exp).set_index(["outcome", "parameter"])
    assert t.loc[("members", "c"), "mu"] == pytest.approx(-2.0)
    assert t.loc[("member_trust", "a"), "mu"] > 0 and t.loc[("member_trust", "a"), "sigma"] > 0  # nonlinear


def test_morris_matches_salib_on_a_nonlinear_function_with_interactions():
    from SALib.analyze import morris

    res, design, exp = morris_case(members=lambda v, k: v["a"] * v["b"] + math.sin(3 * v["c"]),
                                   trust=lambda v, k: 0.1, mature=lambda v, k: False, r=20)
    t = S.morris_indices(res, design, exp)
    t = t[t["outcome"] == "members"].set_index("parameter")
    X = design[["a", "b", "c"]].to_numpy(float)
    Y = X[:, 0] * X[:, 1] + np.sin(3 * X[:, 2])
    ref = morris.analyze(S.problem(exp), X, Y, num_levels=4, num_resamples=S.RESAMPLES, seed=0)
    assert t.loc[["a", "b", "c"], "mu_star"].to_numpy() == pytest.approx(np.asarray(ref["mu_star"]))
    assert t.loc[["a", "b", "c"], "sigma"].to_numpy() == pytest.approx(np.asarray(ref["sigma"]))


def test_morris_seed_noise_is_the_standard_error_of_each_effect_over_replicates():
    # replicate k: members = (1 + k) a, so a's effects are 1 and 2 over the two replicates: mean 1.5,
    # standard error sd / sqrt(2) = 0.5, noise sqrt(2 / pi) * 0.5; b and c never change the output
    res, design, exp = morris_case(members=lambda v, k: (1 + k) * v["a"], trust=lambda v, k: 0.3 + 0.1 * k,
                                   mature=lambda v, k: False)
    t = S.morris_indices(res, design, exp).set_index(["outcome", "parameter"])
    assert t.loc[("members", "a"), "mu_star"] == pytest.approx(1.5)
    assert t.loc[("members", "a"), "mu_star_noise"] == pytest.approx(math.sqrt(2 / math.pi) * 0.5)
    assert t.loc[("members", "b"), "mu_star_noise"] == 0.0
    assert (t.loc["member_trust", "mu_star_noise"] == 0).all()  # a replicate offset common to all points


def test_morris_refuses_a_design_that_is_not_a_morris_sample_in_point_order():
    res, design, exp = morris_case(members=lambda v, k: v["a"], trust=lambda v, k: 0.1, mature=lambda v, k: False)
    shuffled = design.assign(point=np.random.default_rng(0).permutation(len(design)))
    with pytest.raises(S.SensitivityError, match="factors change"):
        S.morris_indices(res, shuffled, exp)
    with pytest.raises(S.SensitivityError, match="not morris"):
        S.morris_indices(res, design, {**exp, "design": {**exp["design"], "kind": "sobol"}})


def test_ranking_and_top_parameters_leave_out_parameters_without_any_effect():
    res, design, exp = morris_case(members=lambda v, k: 4 * v["a"] + v["b"], trust=lambda v, k: 0.5 * v["b"],
                                   mature=lambda v, k: False)
    t = S.morris_indices(res, design, exp)
    r = S.ranking(t)
    assert list(r.columns[:4]) == ["parameter", "outcome", "mu_star", "rank"]
    assert set(r["outcome"]) == {"members", "member_trust"}  # mature is constant: no rows
    assert r[r["outcome"] == "members"]["parameter"].tolist() == ["a", "b"]
    assert r[r["outcome"] == "members"]["rank"].tolist() == [1, 2]
    assert "c" not in set(r["parameter"])
    assert S.top_parameters(t, k=1) == ["a", "b"]
    assert S.top_parameters(t, k=4) == ["a", "b"]


def test_ranking_leaves_out_effects_within_their_interval_or_the_seed_noise():
    t = pd.DataFrame([
        ("p1", "mature", 0.02, 0.04, 0.005),  # one run flipped: the interval includes 0
        ("p2", "members", 1.0, 0.2, 0.1),
        ("p3", "members", 0.05, 0.01, 0.1),  # below the seed-noise level
        ("p4", "members", 0.5, 0.1, np.nan),  # noise unknown (one replicate): kept on its interval
    ], columns=["parameter", "outcome", "mu_star", "mu_star_conf", "mu_star_noise"])
    t["mu"], t["sigma"] = t["mu_star"], 0.0
    t["rank"] = t.groupby("outcome")["mu_star"].rank(ascending=False, method="min").astype(int)
    r = S.ranking(t)
    assert r["parameter"].tolist() == ["p2", "p4"] and r["rank"].tolist() == [1, 2]
    assert S.top_parameters(t, k=1) == ["p2"]


# --------------------------------------------------------------------------- Sobol


def test_sobol_of_additive_outcomes_s1_equals_st_and_an_unused_factor_is_zero():
    res, design, exp = sobol_case(members=lambda v, k: 5 * v["a"], trust=lambda v, k: v["a"] + v["b"],
                                  mature=lambda v, k: v["a"] > 0.5)
    t = S.sobol_indices(res, design, exp).set_index(["outcome", "parameter"])
    assert t.loc[("members", "a"), "S1"] == pytest.approx(1.0, abs=0.03)
    assert t.loc[("members", "a"), "ST"] == pytest.approx(1.0, abs=0.03)
    for p in ("b", "c"):
        assert abs(t.loc[("members", p), "S1"]) < 0.02 and abs(t.loc[("members", p), "ST"]) < 0.02
    for p in ("a", "b"):  # additive, equal variances: half each, no interaction
        assert t.loc[("member_trust", p), "S1"] == pytest.approx(0.5, abs=0.06)
        assert t.loc[("member_trust", p), "ST"] == pytest.approx(t.loc[("member_trust", p), "S1"], abs=0.06)
    assert abs(t.loc[("member_trust", "c"), "ST"]) < 0.02
    assert t.loc[("mature", "a"), "S1"] == pytest.approx(1.0, abs=0.06)  # a binary outcome of a alone
    assert (t["S1_conf"] >= 0).all() and (t["ST_conf"] >= 0).all()
    assert t.loc[("members", "a"), "S1_conf"] < 0.1


def test_sobol_intervals_are_the_same_on_every_call_with_seed_0():
    res, design, exp = sobol_case(members=lambda v, k: v["a"] + 0.5 * v["b"], trust=lambda v, k: v["c"],
                                  mature=lambda v, k: False, n=64)
    np.random.seed(1)
    a = S.sobol_indices(res, design, exp, seed=0)
    np.random.seed(2)
    b = S.sobol_indices(res, design, exp, seed=0)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(S.sobol_indices(res, design, exp, seed=1))


def test_sobol_of_a_pure_interaction_has_st_above_s1():
    res, design, exp = sobol_case(members=lambda v, k: (v["a"] - 0.5) * (v["b"] - 0.5), trust=lambda v, k: 0.2,
                                  mature=lambda v, k: False)
    t = S.sobol_indices(res, design, exp).set_index(["outcome", "parameter"])
    for p in ("a", "b"):
        assert abs(t.loc[("members", p), "S1"]) < 0.05 and t.loc[("members", p), "ST"] == pytest.approx(1.0, abs=0.1)
    assert t.loc["mature"]["S1"].isna().all()  # constant: undefined


def test_sobol_refuses_a_sample_of_the_wrong_size():
    res, design, exp = sobol_case(members=lambda v, k: v["a"], trust=lambda v, k: 0.2, mature=lambda v, k: False,
                                  n=8)
    keep = design["point"] < 39
    with pytest.raises(S.SensitivityError, match="multiple of 5"):
        S.sobol_indices(res[res["point"] < 39], design[keep], exp)


# --------------------------------------------------------------------------- figures and command line


def _write(dirpath: Path, res, design, exp) -> Path:
    dirpath.mkdir(parents=True)
    res.to_parquet(dirpath / "results.parquet")
    design.to_parquet(dirpath / "design.parquet")
    (dirpath / "experiment.json").write_text(json.dumps(exp), encoding="utf-8")
    return dirpath


@pytest.mark.parametrize("kind", ["morris", "sobol"])
def test_figures_fit_their_canvas_with_a_legend(kind):
    case = morris_case if kind == "morris" else sobol_case
    res, design, exp = case(members=lambda v, k: 4 * v["a"], trust=lambda v, k: 0.5 * v["b"],
                            mature=lambda v, k: False)
    fn = S.morris_indices if kind == "morris" else S.sobol_indices
    t = fn(res, design, exp)
    long = {"a": "params.interaction.institution_contact", "b": "params.regional_power.leadership", "c": "params.c"}
    t["parameter"] = t["parameter"].map(long)
    fig = (S.plot_morris if kind == "morris" else S.plot_sobol)(t, title="a title " * 6)
    assert S.fits_canvas(fig)
    assert fig.legends
    ticks = {tx.get_text() for ax in fig.axes for tx in ax.get_yticklabels()}
    assert "interaction.institution_contact" in ticks


def test_command_line_writes_tables_and_figure(tmp_path):
    res, design, exp = morris_case(members=lambda v, k: 4 * v["a"], trust=lambda v, k: 0.5 * v["b"],
                                   mature=lambda v, k: v["a"] > 0.5)
    d = _write(tmp_path / "exp", res, design, exp)
    assert S.main([str(d), "-o", str(tmp_path / "out")]) == 0
    for f in ("morris_indices.csv", "top_parameters.csv", "morris_outcomes.csv", "morris.png"):
        assert (tmp_path / "out" / f).stat().st_size > 0
    top = pd.read_csv(tmp_path / "out" / "top_parameters.csv")
    assert top.loc[top["outcome"] == "members", "parameter"].tolist() == ["a"]
    assert S.main([str(d), "-o", str(tmp_path / "out"), "--prefix", "morris_local"]) == 0
    assert (tmp_path / "out" / "morris_local_top_parameters.csv").exists()
    assert S.main([str(tmp_path / "nothing"), "-o", str(tmp_path / "x")]) == 1


# --------------------------------------------------------------------------- the study configs


def _factors(name: str) -> dict:
    return yaml.safe_load((CONF / f"{name}.yaml").read_text(encoding="utf-8"))["experiment"]["design"]["factors"]


def _numeric_parameters() -> dict:
    from sim.core.params import Params, flatten

    return {k: v for k, v in flatten(Params()).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def test_morris_config_screens_every_numeric_parameter_over_its_documented_range():
    from sim.studies.oat import range_ends

    factors = _factors("sensitivity_morris")
    numeric = _numeric_parameters()
    assert list(factors) == [f"params.{k}" for k in numeric]
    for k in numeric:
        assert factors[f"params.{k}"] == list(range_ends(k)), k


def _judgement_values() -> dict:
    """The judgement value of every numeric parameter, as recorded ('# default d') in the local Morris config."""
    import re

    text = (CONF / "sensitivity_morris_local.yaml").read_text(encoding="utf-8")
    found = re.findall(r"^\s+params\.([\w.]+): \[[^\]]*\]\s+# default (-?[\d.e+-]+)", text, re.M)
    return {k: int(v) if re.fullmatch(r"-?\d+", v) else float(v) for k, v in found}


def test_local_morris_config_screens_every_numeric_parameter_around_its_judgement_value():
    from sim.studies.oat import range_ends

    factors = _factors("sensitivity_morris_local")
    numeric = _numeric_parameters()
    judgement = _judgement_values()
    assert list(factors) == [f"params.{k}" for k in numeric] and list(judgement) == list(numeric)
    for k, d in judgement.items():
        assert type(d) is type(numeric[k]), k
        lo, hi = range_ends(k)
        a, b = sorted((0.5 * d, 1.5 * d))
        a, b = max(lo, a), min(hi, b)
        if isinstance(d, int):
            a, b = math.ceil(a), math.floor(b)
        assert factors[f"params.{k}"] == pytest.approx([a, b], rel=1e-5), k


def test_sobol_configs_hold_every_other_numeric_parameter_at_its_judgement_value():
    judgement = _judgement_values()
    for name in ("sensitivity_sobol", "sensitivity_sobol_local"):
        cfg = yaml.safe_load((CONF / f"{name}.yaml").read_text(encoding="utf-8"))
        factors = {k.removeprefix("params.") for k in cfg["experiment"]["design"]["factors"]}
        held = {f"{g}.{k}": v for g, group in cfg["params"].items() for k, v in group.items()}
        assert not factors & set(held) and factors | set(held) == set(judgement), name
        assert held == {k: v for k, v in judgement.items() if k not in factors}, name


def test_sobol_configs_vary_screened_parameters_over_the_morris_bounds():
    for sobol, morris in (("sensitivity_sobol", "sensitivity_morris"),
                          ("sensitivity_sobol_local", "sensitivity_morris_local")):
        if not (CONF / f"{sobol}.yaml").exists():
            continue
        s, m = _factors(sobol), _factors(morris)
        assert 8 <= len(s) <= 12
        for k, v in s.items():
            assert m[k] == v, k


# --------------------------------------------------------------------------- end to end (slow)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(p.stem for p in CONF.glob("sensitivity_*.yaml")))
def test_study_config_runs_and_is_analysed_at_tiny_size(name, tmp_path):
    run = subprocess.run([sys.executable, "-m", "sim", f"+experiment={name}", "experiment.design.samples=2",
                          "experiment.replicates=2", "steps=3", "experiment.workers=1", "progress=false",
                          "report=false", f"hydra.run.dir={tmp_path / 'exp'}"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    results = pd.read_parquet(tmp_path / "exp" / "results.parquet")
    assert len(results) == 2 * len(pd.read_parquet(tmp_path / "exp" / "design.parquet"))
    out = subprocess.run([sys.executable, "-m", "sim.studies.sensitivity", str(tmp_path / "exp"), "-o", str(tmp_path / "out")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    kind = "morris" if "morris" in name else "sobol"
    table = pd.read_csv(tmp_path / "out" / f"{kind}_indices.csv")
    assert set(table["outcome"]) == set(S.OUTCOMES)
    assert len(table) == 3 * len(_factors(name))
    assert (tmp_path / "out" / f"{kind}.png").exists()
