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
    assert m.loc["X"].tolist() == pytest.approx([1 / 3, 0, 1 / 3, 1 / 3])  # none, partner, observer, member
    assert m.loc["Y"].tolist() == [0, 0, 0, 1]
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
    assert nodes["bloc"].tolist() == [0, 0, 1, 1, -1]  # {W, Z} first in world order, then {Y, X}; V alone
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
