"""The report's *_data() functions against hand-computed numbers on tiny tables (STYLE.md)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.report import data as D


def rows(*specs, **common):
    return pd.DataFrame([{**common, **s} for s in specs])


@pytest.fixture
def results():
    """Group A: 3 finished (none, nascent, nascent) + 1 failed; group B: 1 finished (mature-loose) + 1 incomplete."""
    base = {"source": "s", "error": ""}
    return rows(
        {"job": "a", "point": 0, "replicate": 0, "label": "A", "status": "ok", "phase_reached": "none"},
        {"job": "a", "point": 0, "replicate": 1, "label": "A", "status": "ok", "phase_reached": "nascent"},
        {"job": "a", "point": 0, "replicate": 2, "label": "A", "status": "ok", "phase_reached": "nascent"},
        {"job": "a", "point": 0, "replicate": 3, "label": "A", "status": "failed", "phase_reached": None,
         "error": "boom"},
        {"job": "b", "point": 1, "replicate": 0, "label": "B", "status": "ok", "phase_reached": "mature-loose"},
        {"job": "c", "point": 2, "replicate": None, "label": "B", "status": "incomplete", "phase_reached": None,
         "error": "killed"},
        **base)


def test_status_data_counts_rows_jobs_points(results):
    st = D.status_data(results).set_index("status")
    assert st.loc["ok"].tolist() == [4, 2, 2]
    assert st.loc["failed"].tolist() == [1, 1, 1]
    assert st.loc["incomplete"].tolist() == [1, 1, 1]


def test_failed_data_lists_every_bad_row(results):
    f = D.failed_data(results)
    assert f[["job", "status", "error", "rows", "replicates"]].values.tolist() == [
        ["a", "failed", "boom", 1, "3"], ["c", "incomplete", "killed", 1, "all"]]


def test_phase_counts(results):
    c = D.phase_counts_data(results)
    assert c.loc["A"].to_dict() == {"none": 1, "nascent": 2, "ascendant": 0, "mature-loose": 0, "mature-tight": 0,
                                    "ok": 3, "failed": 1, "incomplete": 0}
    assert c.loc["B"].to_dict() == {"none": 0, "nascent": 0, "ascendant": 0, "mature-loose": 1, "mature-tight": 0,
                                    "ok": 1, "failed": 0, "incomplete": 1}


def test_phase_probability(results):
    p = D.phase_probability_data(results)
    assert list(p.index) == ["A", "B"]
    assert p.loc["A", "none"] == pytest.approx(1 / 3)
    assert p.loc["A", "nascent"] == pytest.approx(2 / 3)
    assert p.loc["B", "mature-loose"] == 1.0
    assert p.loc["A", ["ascendant", "mature-loose", "mature-tight"]].sum() == 0
    assert p["n"].tolist() == [3, 1]


def test_phase_probability_bins_many_groups_by_a_factor():
    df = rows({"label": "p0", "x": 0.0, "phase_reached": "none"},
              {"label": "p1", "x": 0.5, "phase_reached": "nascent"},
              {"label": "p2", "x": 1.0, "phase_reached": "mature-tight"}, status="ok")
    p = D.phase_probability_data(df, max_groups=2, factor="x", bins=2)
    assert list(p.index) == ["x in [0, 0.5)", "x in [0.5, 1]"]
    assert p.loc["x in [0, 0.5)", "none"] == 1.0
    assert p.loc["x in [0.5, 1]", "nascent"] == 0.5
    assert p.loc["x in [0.5, 1]", "mature-tight"] == 0.5
    assert p["n"].tolist() == [1, 2]


def test_phase_probability_without_finished_rows_skips():
    with pytest.raises(D.Skip):
        D.phase_probability_data(rows({"label": "A", "status": "failed", "phase_reached": None}))


def test_time_to_phase_ecdf_counts_never_reached_in_the_denominator():
    df = rows(*({"first_year_ascendant": y} for y in (2027.0, 2030.0, math.nan, 2027.0)),
              label="A", status="ok", start_year=2025.0)
    d = D.time_to_phase_data(df, phases=("ascendant",))
    assert d["ecdf"][["years", "probability"]].values.tolist() == [[2.0, 0.5], [5.0, 0.75]]
    s = d["summary"].iloc[0]
    assert (s["reached"], s["n"], s["median"]) == (3, 4, 2.0)


def test_time_to_phase_uses_each_rows_start_year():
    df = rows({"label": "hist", "start_year": 1991.0, "first_year_nascent": 2001.0},
              {"label": "now", "start_year": 2025.0, "first_year_nascent": 2026.0}, status="ok")
    e = D.time_to_phase_data(df, phases=("nascent",))["ecdf"]
    assert e[["group", "years", "probability"]].values.tolist() == [["hist", 10.0, 1.0], ["now", 1.0, 1.0]]


def test_representative_groups_span_the_outcome():
    # six groups with P(mature) 0, .2, .4, .6, .8, 1 in scrambled order; pick 3 = ranks 0, 2 (round half even), 5
    p = {"g0": 0.6, "g1": 0.0, "g2": 1.0, "g3": 0.4, "g4": 0.2, "g5": 0.8}
    recs = []
    for g, share in p.items():
        hits = int(round(share * 5))
        recs += [{"label": g, "status": "ok", "final_trust_mean": 0.5,
                  "phase_reached": "mature-loose" if k < hits else "none"} for k in range(5)]
    df = pd.DataFrame(recs)
    assert D.representative_groups(df, 3) == ["g1", "g2", "g3"]  # P 0, 1, .4: ranks 0, 5, 2; order of appearance
    assert D.representative_groups(df, 10) == list(p)


def test_conditions_quantiles_and_phase_spans():
    ts = pd.DataFrame({"label": "A", "replicate": [0, 0, 1, 1], "year": [2025.0, 2026.0, 2025.0, 2026.0],
                       "trust_mean": [0.2, 0.4, 0.4, 0.8], "phase": [1, 1, 1, 3]})
    d = D.conditions_data(ts, metrics=("trust_mean", "identity"))
    b = d["bands"]
    assert b["metric"].unique().tolist() == ["trust_mean"]  # identity absent: left out
    np.testing.assert_allclose(b[["year", "q10", "q50", "q90", "n"]].to_numpy(float),
                               [[2025, 0.22, 0.3, 0.38, 2], [2026, 0.44, 0.6, 0.76, 2]], rtol=1e-12)
    # median phase: 2025 -> 1 (nascent), 2026 -> median(1, 3) = 2 (ascendant)
    assert d["phases"][["start", "end", "phase"]].values.tolist() == [[2025.0, 2026.0, "nascent"],
                                                                       [2026.0, 2026.0, "ascendant"]]


def test_conditions_from_aggregates_passes_quantiles_through():
    agg = pd.DataFrame({"label": "P", "point": 0, "year": [2026.0, 2025.0, 2025.0, 2026.0],
                        "metric": ["identity", "identity", "phase", "phase"],
                        "q10": [0.1, 0.0, 0, 1], "q50": [0.5, 0.4, 1.5, 2.0], "q90": [0.9, 0.8, 2, 3]})
    d = D.conditions_from_aggregates(agg, metrics=("identity",))
    assert d["bands"][["year", "q10", "q50", "q90"]].values.tolist() == [[2025, 0.0, 0.4, 0.8], [2026, 0.1, 0.5, 0.9]]
    assert d["bands"]["n"].isna().all()
    assert d["phases"][["start", "end", "phase"]].values.tolist() == [[2025.0, 2026.0, "nascent"],
                                                                       [2026.0, 2026.0, "ascendant"]]


def test_phase_diagram_grid_cells_average_over_other_factors():
    df = rows({"x": 0, "y": 0, "z": 1, "phase_reached": "mature-loose"},
              {"x": 0, "y": 0, "z": 2, "phase_reached": "none"},
              {"x": 1, "y": 0, "z": 1, "phase_reached": "mature-tight"},
              {"x": 0, "y": 1, "z": 1, "phase_reached": "ascendant"},
              {"x": 1, "y": 1, "z": 1, "phase_reached": "mature-tight", "status": "failed"}, status="ok")
    df["status"] = ["ok", "ok", "ok", "ok", "failed"]
    d = D.phase_diagram_data(df, "x", "y")
    assert d["kind"] == "grid" and d["outcome"] == "P(mature)"
    assert d["xs"].tolist() == [0, 1] and d["ys"].tolist() == [0, 1]
    np.testing.assert_array_equal(d["z"], [[0.5, 1.0], [0.0, np.nan]])  # rows = y, columns = x
    np.testing.assert_array_equal(d["n"], [[2, 1], [1, 0]])
    tight = D.phase_diagram_data(df, "x", "y", outcome=("mature-tight",))
    assert tight["outcome"] == "P(mature-tight)"
    np.testing.assert_array_equal(tight["z"], [[0.0, 1.0], [0.0, np.nan]])


def test_phase_diagram_bins_scattered_points():
    df = rows({"x": 0.0, "y": 0.0, "phase_reached": "mature-loose"},
              {"x": 0.2, "y": 0.1, "phase_reached": "none"},
              {"x": 0.9, "y": 0.8, "phase_reached": "mature-loose"},
              {"x": 1.0, "y": 0.2, "phase_reached": "none"}, status="ok")
    d = D.phase_diagram_data(df, "x", "y", bins=2, max_levels=3)
    assert d["kind"] == "binned"
    assert d["xs"].tolist() == [0.25, 0.75] and d["ys"].tolist() == [0.2, 0.6000000000000001]
    np.testing.assert_array_equal(d["z"], [[0.5, 0.0], [np.nan, 1.0]])
    np.testing.assert_array_equal(d["n"], [[2, 1], [0, 1]])


@pytest.fixture
def agents():
    # group A, replicates 0 and 1, years 2025-2026, states X and Y; level_OTS
    recs = []
    lv = {("X", 0): [3, 3], ("X", 1): [2, 3], ("Y", 0): [0, 0], ("Y", 1): [0, 2]}
    for (st, r), levels in lv.items():
        for year, level in zip((2025.0, 2026.0), levels):
            recs.append({"label": "A", "source": "s", "point": 0, "replicate": r, "year": year, "state": st,
                         "level_OTS": level, "posture_RUS": {("X", 0): -1, ("X", 1): 0}.get((st, r), 1)})
    return pd.DataFrame(recs)


def test_membership_timeline(agents):
    ev = pd.DataFrame({"label": "A", "source": "s", "point": 0,
                       "replicate": [1, 1, 0, 0], "year": [2025.0, 2025.0, 2025.0, 2025.0],
                       "type": ["join", "join", "join", "exit"], "a": ["X", "Y", "Y", "X"],
                       "b": ["OTS", "OTS", "CSTO", "OTS"]})
    d = D.membership_timeline_data(agents, ev, "OTS")
    lv = d["levels"].set_index(["state", "year"])
    assert lv.loc[("X", 2025.0), "mean_level"] == 2.5 and lv.loc[("X", 2025.0), "share_member"] == 0.5
    assert lv.loc[("X", 2026.0), "mean_level"] == 3.0 and lv.loc[("X", 2026.0), "share_member"] == 1.0
    assert lv.loc[("Y", 2026.0), "mean_level"] == 1.0 and lv.loc[("Y", 2026.0), "share_member"] == 0.0
    j = d["joins"].set_index("state")
    assert j.loc["X", ["share", "median_year", "exits"]].tolist() == [0.5, 2025.0, 0.5]
    assert j.loc["Y", ["share", "median_year", "exits"]].tolist() == [0.5, 2025.0, 0.0]  # the CSTO join ignored


def test_membership_timeline_scheduled_join_counts_in_every_replicate(agents):
    ev = pd.DataFrame({"label": "A", "source": "s", "point": 0, "replicate": [-1, 1], "year": [2026.0, 2025.0],
                       "type": "join", "a": "Y", "b": "OTS"})
    j = D.membership_timeline_data(agents, ev, "OTS")["joins"].set_index("state")
    assert j.loc["Y", "share"] == 1.0
    assert j.loc["Y", "median_year"] == 2025.5  # replicate 0 at 2026 (scheduled), replicate 1 at 2025 (own)


def test_membership_final_shares():
    df = pd.DataFrame({"status": ["ok", "ok", "ok", "failed"],
                       "level_OTS_X": ["member", "observer", None, None],
                       "level_OTS_Y": ["member", "member", "member", None], "level_CSTO_X": "member"})
    m = D.membership_final_data(df, "OTS").set_index("state")
    levels = ["none", "partner", "observer", "member"]
    assert m.loc["X", levels].tolist() == pytest.approx([1 / 3, 0, 1 / 3, 1 / 3])
    assert m.loc["Y", levels].tolist() == [0, 0, 0, 1]
    assert m["n"].tolist() == [3, 3]
    assert list(D.membership_final_data(df, "OTS", codes=["Y", "X", "Q"])["state"]) == ["Y", "X"]
    by = D.membership_final_data(df.assign(label=["g1", "g2", "g2", "g1"]), "OTS", by="label")
    assert by[["group", "state", "member", "observer", "none"]].values.tolist() == [
        ["g1", "X", 1.0, 0.0, 0.0], ["g1", "Y", 1.0, 0.0, 0.0], ["g2", "X", 0.0, 0.5, 0.5], ["g2", "Y", 1.0, 0.0, 0.0]]
    with pytest.raises(D.Skip):
        D.membership_final_data(df, "EU")


def test_posture_shares_in_the_final_year(agents):
    p = D.posture_data(agents).set_index("state")
    assert p.loc["X", ["gp", "balance", "hedge", "bandwagon"]].tolist() == ["RUS", 0.5, 0.5, 0.0]
    assert p.loc["Y", ["balance", "hedge", "bandwagon"]].tolist() == [0.0, 0.0, 1.0]


def test_checkpoint_years():
    ys = [2025, 2030, 2035, 2040, 2045]
    assert D.checkpoint_years(ys) == [2025.0, 2035.0, 2045.0]
    assert D.checkpoint_years(ys, [2031, 2046, 2029]) == [2030.0, 2045.0]
    assert D.checkpoint_years([2025, 2026]) == [2025.0, 2026.0]


def test_network_mean_trust_threshold_and_blocs():
    pairs = []
    trust = {("X", "Y"): (0.6, 0.8), ("Z", "W"): (0.5, 0.5), ("X", "Z"): (0.2, 0.4), ("V", "X"): (0.1, 0.1)}
    for (a, b), ts in trust.items():
        for r, t in enumerate(ts):
            pairs.append({"label": "A", "replicate": r, "year": 2025.0, "a": a, "b": b, "trust": t})
    cap = {"W": 0.1, "Z": 0.2, "Y": 0.3, "X": 0.4}  # world order W, Z, Y, X; V unknown -> capability 1, last
    d = D.network_data(pd.DataFrame(pairs), capability=cap, threshold=0.5)
    assert d["years"] == [2025.0]
    nodes = d["nodes"].set_index("state")
    assert list(nodes.index) == ["W", "Z", "Y", "X", "V"]
    assert nodes["capability"].tolist() == [0.1, 0.2, 0.3, 0.4, 1.0]
    # connected components of the links (the rule of metrics.blocs), named after their most capable member
    assert nodes["bloc"].tolist() == ["Z", "Z", "X", "X", ""]
    assert sorted(map(tuple, d["edges"][["a", "b", "trust"]].values.tolist())) == [("X", "Y", 0.7), ("Z", "W", 0.5)]


def _morris_results(factors, Y, replicates=2):
    from SALib.sample import morris

    problem = {"num_vars": len(factors), "names": factors, "bounds": [[0.0, 1.0]] * len(factors)}
    X = morris.sample(problem, 6, num_levels=4, seed=1)
    design = pd.DataFrame(X, columns=factors)
    design.insert(0, "point", range(len(design)))
    res = []
    for p, x in enumerate(X):
        for r in range(replicates):
            res.append({"point": p, "replicate": r, "status": "ok", "final_trust_mean": Y(x) + (0.1 if r else -0.1),
                        "phase_reached": "mature-loose" if x[0] > 0.5 else "none"})
    res.append({"point": 0, "replicate": replicates, "status": "failed", "final_trust_mean": np.nan,
                "phase_reached": None})
    exp = {"design": {"kind": "morris", "factors": {f: [0.0, 1.0] for f in factors}, "levels": 4}}
    return pd.DataFrame(res), design, exp


def test_point_outcomes_average_finished_replicates():
    res, _, _ = _morris_results(["a", "b"], lambda x: 2 * x[0])
    po = D.point_outcomes(res)
    assert po.loc[0, "n"] == 2  # the failed replicate is not counted
    assert set(po.columns) == {"final_trust_mean", "P(mature)", "n"}


def test_morris_indices_of_a_linear_outcome():
    res, design, exp = _morris_results(["a", "b"], lambda x: 2 * x[0])
    s = D.sensitivity_data(res, design, exp).set_index(["outcome", "factor", "index"])
    assert s.loc[("final_trust_mean", "a", "mu_star"), "value"] == pytest.approx(2.0)
    assert s.loc[("final_trust_mean", "b", "mu_star"), "value"] == pytest.approx(0.0, abs=1e-12)
    assert s.loc[("final_trust_mean", "a", "sigma"), "value"] == pytest.approx(0.0, abs=1e-12)
    assert s.loc[("final_trust_mean", "a", "mu_star"), "conf"] == pytest.approx(0.0, abs=1e-12)
    assert s.loc[("P(mature)", "b", "mu_star"), "value"] == pytest.approx(0.0, abs=1e-12)


def test_sobol_indices_of_a_one_factor_outcome():
    from SALib.sample import sobol

    problem = {"num_vars": 2, "names": ["a", "b"], "bounds": [[0.0, 1.0]] * 2}
    X = sobol.sample(problem, 128, calc_second_order=False, seed=3)
    design = pd.DataFrame(X, columns=["a", "b"])
    design.insert(0, "point", range(len(X)))
    res = pd.DataFrame({"point": range(len(X)), "replicate": 0, "status": "ok", "final_trust_mean": X[:, 0],
                        "phase_reached": "none"})
    exp = {"design": {"kind": "sobol", "factors": {"a": [0, 1], "b": [0, 1]}, "second_order": False}}
    s = D.sensitivity_data(res, design, exp).set_index(["outcome", "factor", "index"])
    assert s.loc[("final_trust_mean", "a", "S1"), "value"] == pytest.approx(1.0, abs=0.15)
    assert s.loc[("final_trust_mean", "a", "ST"), "value"] == pytest.approx(1.0, abs=0.15)
    assert s.loc[("final_trust_mean", "b", "S1"), "value"] == pytest.approx(0.0, abs=1e-12)
    assert s.loc[("final_trust_mean", "b", "ST"), "value"] == pytest.approx(0.0, abs=1e-12)
    assert np.isnan(s.loc[("P(mature)", "a", "S1"), "value"])  # constant outcome: undefined, not 0


def test_sensitivity_skips_other_designs_and_missing_points():
    res, design, exp = _morris_results(["a", "b"], lambda x: x[0])
    with pytest.raises(D.Skip, match="grid"):
        D.sensitivity_data(res, design, {"design": {"kind": "grid", "factors": {}}})
    with pytest.raises(D.Skip, match="no finished replicate"):
        D.sensitivity_data(res[res["point"] != 3], design, exp)


# --------------------------------------------------------------------------- intervals, contrasts, group selection
# Every number below is worked out by hand (or by exhaustive enumeration) in the comment beside it.

Z2 = 1.959963984540054 ** 2  # 3.841458820694124


def test_wilson_interval_by_hand():
    # 3 of 10: p = .3; denom = 1 + z²/10 = 1.3841459; centre = (.3 + z²/20) / denom = .4920729 / 1.3841459
    # = .3555066; half = z * sqrt(.3 * .7 / 10 + z² / 400) / denom = 1.959964 * sqrt(.0306036) / 1.3841459
    # = .2477153 -> [.1077913, .6032219] (Brown, Cai & DasGupta 2001 list [.108, .603])
    lo, hi = D.wilson_interval(3, 10)
    assert (lo, hi) == pytest.approx((0.3555066 - 0.2477153, 0.3555066 + 0.2477153), abs=1e-6)
    # 0 of 30: lo = 0, hi = (z²/30) / (1 + z²/30) = .1280486 / 1.1280486 = .1135134; n of n mirrors it
    assert D.wilson_interval(0, 30) == pytest.approx((0.0, 0.1135134), abs=1e-6)
    assert D.wilson_interval(30, 30) == pytest.approx((1 - 0.1135134, 1.0), abs=1e-6)
    lo, hi = D.wilson_interval(np.array([3, 0]), np.array([10, 0]))
    assert lo[0] == pytest.approx(0.1077913, abs=1e-6) and np.isnan(lo[1]) and np.isnan(hi[1])
    s = D.share_interval([1, 0, 0, np.nan, 1, 0, 0, 0, 0, 0, 1])  # NaN dropped: 3 of 10
    assert (s["k"], s["n"], s["estimate"]) == (3, 10, 0.3) and s["lo"] == pytest.approx(0.1077913, abs=1e-6)


def test_bootstrap_mean_is_seeded_and_matches_enumeration():
    # two values: a resampled mean is a (p 1/4), (a+b)/2 (1/2) or b (1/4), so with 2,000 resamples the
    # 2.5% and 97.5% quantiles are a and b exactly
    r = D.bootstrap_mean([2.0, 4.0])
    assert (r["estimate"], r["lo"], r["hi"], r["n"]) == (3.0, 2.0, 4.0, 2)
    # [0, 0, 3]: means 0, 1, 2, 3 with p 8/27, 12/27, 6/27, 1/27 (3.7% > 2.5%): the interval is [0, 3]
    r = D.bootstrap_mean([0.0, 0.0, 3.0, np.nan])
    assert (r["estimate"], r["lo"], r["hi"], r["n"]) == (1.0, 0.0, 3.0, 3)
    assert D.bootstrap_mean([5.0] * 7) == {"estimate": 5.0, "lo": 5.0, "hi": 5.0, "n": 7}
    x = np.random.default_rng(1).normal(size=40)
    assert D.bootstrap_mean(x, seed=3) == D.bootstrap_mean(x, seed=3)  # deterministic for a seed
    assert D.bootstrap_mean(x, seed=3) != D.bootstrap_mean(x, seed=4)
    assert np.isnan(D.bootstrap_mean([])["estimate"])


def test_median_band_of_two_replicates():
    # per year the resampled median is min, mean or max of the two replicates: the interval is [min, max]
    lo, hi = D.bootstrap_quantile_band(np.array([[0.2, 0.4], [0.4, 0.8]]))
    np.testing.assert_allclose(lo, [0.2, 0.4])
    np.testing.assert_allclose(hi, [0.4, 0.8])


def test_newcombe_paired_difference_by_hand():
    # pairs (x, y): a = 2 (1,1), b = 4 (1,0), c = 1 (0,1), d = 3 (0,0); n = 10; p1 = .6, p2 = .3, diff = .3
    x = [1, 1, 1, 1, 1, 1, 0, 0, 0, 0]
    y = [1, 1, 0, 0, 0, 0, 1, 0, 0, 0]
    l1, u1 = D.wilson_interval(6, 10)  # (.3126738, .8318197): by the formula above with p = .6
    l2, u2 = D.wilson_interval(3, 10)  # (.1077913, .6032219)
    assert (l1, u1) == pytest.approx((0.3126738, 0.8318197), abs=1e-6)
    phi = (2 * 3 - 4 * 1) / math.sqrt(6 * 4 * 3 * 7)  # .0890871
    lo = 0.3 - math.sqrt((0.6 - l1) ** 2 - 2 * phi * (0.6 - l1) * (u2 - 0.3) + (u2 - 0.3) ** 2)
    hi = 0.3 + math.sqrt((u1 - 0.6) ** 2 - 2 * phi * (u1 - 0.6) * (0.3 - l2) + (0.3 - l2) ** 2)
    # lo: .2873262² - 2 phi .2873262 * .3032219 + .3032219² = .0825563 - .0155233 + .0919435 = .1589765,
    # sqrt .3987186 -> -.0987186; hi: .2318197² - 2 phi .2318197 * .1922087 + .1922087² = .0537404 - .0079391
    # + .0369442 = .0827455, sqrt .2876552 -> .5876552
    assert (lo, hi) == pytest.approx((-0.0987186, 0.5876552), abs=1e-6)
    r = D.newcombe_difference(x, y, paired=True)
    assert (r["diff"], r["n"], r["paired"]) == (pytest.approx(0.3), 10, True)
    assert (r["lo"], r["hi"]) == pytest.approx((lo, hi), abs=1e-12)
    # independent samples: phi = 0
    r = D.newcombe_difference(x, y, paired=False)
    assert r["lo"] == pytest.approx(0.3 - math.sqrt((0.6 - l1) ** 2 + (u2 - 0.3) ** 2), abs=1e-12)
    # identical outcomes (b = c = 0): the difference is 0; the interval reflects that 0 of 10 pairs disagree
    r = D.newcombe_difference(x, x, paired=True)
    assert r["diff"] == 0 and r["lo"] < 0 < r["hi"]


def test_paired_bootstrap_difference_cancels_shared_noise():
    # y = x + 0.1 exactly: every paired difference is -0.1, so the paired interval is the point itself,
    # while independent resampling of the same numbers gives a wide interval around it
    x = np.random.default_rng(0).normal(size=30)
    r = D.bootstrap_mean_difference(x, x + 0.1, paired=True)
    assert (r["diff"], r["lo"], r["hi"], r["n"]) == pytest.approx((-0.1, -0.1, -0.1, 30))
    u = D.bootstrap_mean_difference(x, x + 0.1, paired=False)
    assert u["diff"] == pytest.approx(-0.1) and u["lo"] < -0.4 and u["hi"] > 0.2 and not u["paired"]
    r = D.bootstrap_mean_difference([1.0, np.nan, 3.0], [0.0, 5.0, 1.0])  # the pair with a gap is dropped
    assert (r["diff"], r["lo"], r["hi"], r["n"]) == (1.5, 1.0, 2.0, 2)


def test_pair_replicates_matches_replicate_and_seed():
    a = pd.DataFrame({"replicate": [2, 0, 1], "seed": 0, "v": [12, 10, 11]})
    b = pd.DataFrame({"replicate": [0, 1, 3], "seed": 0, "v": [20, 21, 23]})
    pa_, pb_ = D.pair_replicates(a, b)
    assert pa_["v"].tolist() == [10, 11] and pb_["v"].tolist() == [20, 21]
    assert D.pair_replicates(a, b.assign(seed=1)) is None  # another master seed: nothing pairs


def test_years_to_first_advance():
    df = rows({"start_year": 2025.0, "first_year_nascent": 2025.0, "first_year_ascendant": 2028.0},
              {"start_year": 2025.0, "first_year_nascent": 2025.0, "first_year_ascendant": 2025.0,
               "first_year_mature-loose": 2031.0},
              {"start_year": 2025.0, "first_year_nascent": 2025.0, "first_year_ascendant": math.nan},
              {"start_year": 1991.0, "first_year_nascent": 2001.0, "first_year_ascendant": 2009.0})
    # starts nascent -> 3 years; starts ascendant -> 6; never advances; starts in none -> 10 (to nascent)
    assert D.start_phase(df).tolist() == [1, 2, 1, 0]
    t = D.years_to_first_advance(df)
    assert t.tolist()[:2] == [3.0, 6.0] and math.isnan(t[2]) and t[3] == 10.0


@pytest.fixture
def two_scenarios():
    """base and alt, replicates 0-9 on seed 0; alt reaches mature in the replicates listed, base in 0-2."""
    recs = []
    for label, mature, members, trust in (("base", {0, 1, 2}, 5, 0.5), ("alt", {0, 1, 2, 3, 4, 5, 6}, 6, 0.6)):
        for k in range(10):
            recs.append({"label": label, "scenario": label, "status": "ok", "replicate": k, "seed": 0,
                         "phase_reached": "mature-loose" if k in mature else "ascendant", "start_year": 2025.0,
                         "first_year_nascent": 2025.0, "first_year_ascendant": 2025.0,
                         "first_year_mature-loose": 2030.0 + k if k in mature else math.nan,
                         "first_year_mature-tight": math.nan,
                         "final_members": members + (k % 2), "final_trust_mean": trust + 0.01 * k,
                         "member_incidents": k % 3})
    return pd.DataFrame(recs)


def test_headline_intervals_and_paired_contrasts(two_scenarios):
    h = D.headline_data(two_scenarios, reference="base").set_index(["group", "key"])
    m = h.loc[("alt", "ge_mature-loose")]
    assert (m["estimate"], m["k"], m["n"]) == (0.7, 7, 10)
    assert (m["lo"], m["hi"]) == pytest.approx(D.wilson_interval(7, 10))
    # pairs: base mature in 0-2, alt in 0-6 -> a = 3, b = 4 (alt only), c = 0, d = 3: Newcombe paired
    assert m["diff"] == pytest.approx(0.4) and m["pairs"] == 10
    ref = D.newcombe_difference(two_scenarios.query("label == 'alt'")["phase_reached"].eq("mature-loose"),
                                two_scenarios.query("label == 'base'")["phase_reached"].eq("mature-loose"))
    assert (m["diff_lo"], m["diff_hi"]) == pytest.approx((ref["lo"], ref["hi"]))
    assert m["excludes_zero"] == (ref["lo"] > 0)
    # member trust: alt = base + 0.1 in every pair -> paired difference exactly 0.1, interval [0.1, 0.1]
    t = h.loc[("alt", "final_trust_mean")]
    assert (t["diff"], t["diff_lo"], t["diff_hi"]) == pytest.approx((0.1, 0.1, 0.1)) and t["excludes_zero"]
    # incidents: the same in every pair -> difference 0, interval [0, 0], not marked
    i = h.loc[("alt", "member_incidents")]
    assert (i["diff"], i["diff_lo"], i["diff_hi"], i["excludes_zero"]) == (0.0, 0.0, 0.0, False)
    # years to first advance: mean of 5..11 over the 7 that advanced (= 8), base: 5, 6, 7 -> 6
    assert h.loc[("alt", "years_to_advance"), ["estimate", "n"]].tolist() == [8.0, 7]
    assert h.loc[("base", "years_to_advance"), "estimate"] == 6.0
    assert h.loc[("alt", "years_to_advance"), "diff"] == 0.0  # the 3 pairs where both advanced: equal times
    # the reference row has no contrast
    assert h.loc[("base", "final_members"), ["pairs"]].tolist() == [0] and math.isnan(h.loc[("base", "final_members"),
                                                                                             "diff"])
    # nothing pairs (another seed): independent-samples intervals, pairs = 0
    u = D.headline_data(two_scenarios.assign(seed=np.where(two_scenarios["label"] == "alt", 1, 0)),
                        reference="base").set_index(["group", "key"])
    assert u.loc[("alt", "final_trust_mean"), "pairs"] == 0
    assert u.loc[("alt", "final_trust_mean"), "diff_lo"] < 0.1 < u.loc[("alt", "final_trust_mean"), "diff_hi"]


def test_pick_reference_and_base_point(two_scenarios):
    assert D.pick_reference(two_scenarios) == "base"  # the first group
    assert D.pick_reference(two_scenarios, "alt") == "alt"
    assert D.pick_reference(two_scenarios, base="alt") == "alt"
    with pytest.raises(ValueError, match="no such group"):
        D.pick_reference(two_scenarios, "nope")
    assert D.pick_reference(two_scenarios[two_scenarios["label"] == "base"]) is None  # nothing to contrast
    grid = rows({"label": "p0", "x": 0.0, "y": 1.0}, {"label": "p1", "x": 0.5, "y": 1.0},
                {"label": "p2", "x": 0.5, "y": 2.0}, status="ok")
    cfg = {"x": 0.5, "y": 2}
    assert D.base_point_label(grid, ["x", "y"], cfg) == "p2"
    assert D.base_point_label(grid, ["x", "y"], {"x": 0.7, "y": 2}) is None
    assert D.base_point_label(grid, ["params.a"], {"params": {"a": 1}}) is None


def _groups_with_memberships():
    """Seven groups, five replicates each: P(mature) 0, .2, .4, .4, .6, .8, 1; g3 alone lets KOR join."""
    p = {"g0": 0.4, "g1": 0.0, "g2": 1.0, "g3": 0.4, "g4": 0.2, "g5": 0.8, "g6": 0.6}
    recs = []
    for g, share in p.items():
        hits = int(round(share * 5))
        for k in range(5):
            recs.append({"label": g, "status": "ok", "final_trust_mean": 0.5,
                         "phase_reached": "mature-loose" if k < hits else "none", "level_OTS_TUR": "member",
                         "level_OTS_KOR": "partner" if g == "g3" and k < 2 else "none"})
    return pd.DataFrame(recs)


def test_membership_difference_by_hand():
    md = D.membership_difference(_groups_with_memberships(), "OTS", "g0").set_index("group")
    # g3: KOR partner in 2 of 5 vs 0 of 5: total variation 0.5 * (|0.4 - 0| + |0.6 - 1|) = 0.4
    assert md.loc["g3", "distance"] == pytest.approx(0.4) and md.loc["g3", "state"] == "KOR"
    assert md.drop("g3")["distance"].eq(0).all()


def test_group_selection_keeps_reference_extremes_and_membership_changes():
    df = _groups_with_memberships()
    why = D.select_groups(df, 4, reference="g0", institution="OTS")
    # reference g0; lowest g1 (P 0); highest g2 (P 1); g3 differs on OTS memberships (KOR 0.40)
    assert list(why) == ["g0", "g1", "g2", "g3"]
    assert why["g0"] == "reference" and why["g1"].startswith("lowest P(mature)")
    assert why["g2"] == "highest P(mature) = 1.00" and why["g3"] == "OTS memberships differ: KOR by 0.40"
    # without the membership rule the fourth slot is spread over the ranking
    # (ranks by P, trust, order: g1 0, g4 .2, g0 .4, g3 .4, g6 .6, g5 .8, g2 1; linspace 0..6 in 4 -> 0, 2, 4, 6)
    assert D.representative_groups(df, 4) == ["g0", "g1", "g2", "g6"]
    assert D.representative_groups(df, 2, reference="g5") == ["g1", "g5"]  # the reference, then the lowest
    assert D.select_groups(df, 10) == {g: "all groups" for g in ["g0", "g1", "g2", "g3", "g4", "g5", "g6"]}


def test_phase_probability_cumulative_intervals(results):
    p = D.phase_probability_data(results)
    # A: none, nascent, nascent -> P(>= nascent) = 2/3 with the Wilson interval of 2 of 3
    assert p.loc["A", "ge:nascent"] == pytest.approx(2 / 3)
    assert (p.loc["A", "ge:nascent:lo"], p.loc["A", "ge:nascent:hi"]) == pytest.approx(D.wilson_interval(2, 3))
    assert p.loc["B", "ge:mature-loose"] == 1.0 and p.loc["B", "ge:mature-tight"] == 0.0


def test_trust_blocs_follow_the_metrics_rule():
    from sim.core.metrics import blocs

    codes = ["A", "B", "C", "D", "E"]
    trust = np.full((5, 5), 0.2)
    np.fill_diagonal(trust, 1.0)
    for a, b in ((0, 1), (1, 2), (4, 3)):
        trust[a, b] = trust[b, a] = 0.7
    # two components {A, B, C} (a chain) and {D, E}; named after the most capable member (ties: first)
    b = D.trust_blocs(codes, trust, 0.5, {"A": 0.1, "B": 0.5, "C": 0.2, "D": 0.1, "E": 0.1})
    assert b == {"A": "B", "B": "B", "C": "B", "D": "D", "E": "D"}
    assert len(set(b.values()) - {""}) == blocs(trust[None], 0.5)[0] == 2  # the count of the blocs column
    assert D.trust_blocs(codes, trust, 0.8) == dict.fromkeys(codes, "")
