"""Calibration: the patterns' summary statistics and distance on hand-made records, posterior-predictive runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import TURKIC, assert_states_equal, params

import sim.engine.simulate
import sim.studies.calibrate as cal
from sim.core.world import CONF_DIR
from sim.core.scenario import load_scenario
from sim.engine.simulate import posterior_params, simulate


def _record(**changes):
    rec = {f"level_{c}": lvl for c, lvl in cal.ROSTER.items()}
    rec.update(member_incidents_after_founding=0, conflict_AZE_ARM=True, conflict_KGZ_TJK=True,
               tkm_max_level="observer", tkm_hedges_all=True, phase_2025="ascendant")
    rec.update(changes)
    return rec


def test_a_record_of_the_record_matches_every_pattern():
    assert cal.matches(_record()) == {t: 1.0 for t in cal.TARGETS}
    assert cal.distance(cal.summary_statistics([_record()] * 3), cal.OBSERVED) == 0.0


def test_summary_statistics_by_hand():
    records = [
        _record(),                                                   # all five
        _record(level_UZB="observer", level_KOR="partner"),          # roster 9/11
        _record(member_incidents_after_founding=2),                  # peace fails
        _record(tkm_max_level="member", phase_2025="mature-loose"),  # neutral and emerging fail
    ]
    s = cal.summary_statistics(records)
    assert s == pytest.approx({"roster": (1 + 9 / 11 + 1 + 1) / 4, "peace": 0.75, "conflicts": 1.0,
                               "neutral": 0.75, "emerging": 0.75})
    # distance: sqrt(mean of squared shortfalls) = sqrt(((2/44)^2 + 0.25^2 * 3) / 5)
    assert cal.distance(s, cal.OBSERVED) == pytest.approx(np.sqrt(((2 / 44) ** 2 + 3 * 0.0625) / 5))


@pytest.mark.parametrize("changes, target", [
    (dict(tkm_hedges_all=False), {"neutral"}),
    (dict(level_ARM="member"), {"conflicts", "roster"}),  # Armenia inside: the conflict is no longer outside
    (dict(conflict_KGZ_TJK=False), {"conflicts"}),
    (dict(phase_2025="nascent"), set()),        # nascent is an emerging community too
    (dict(phase_2025="none"), {"emerging"}),
    (dict(phase_2025="mature-tight"), {"emerging"}),
])
def test_each_pattern_fails_on_its_own_departure(changes, target):
    m = cal.matches(_record(**changes))
    assert {t for t, v in m.items() if v < 1} == target


def test_target_records_of_a_real_run_have_every_field():
    tr = simulate(TURKIC, load_scenario("historical"), params(), seed=0, replicates=3, pairs=False, log_events=False)
    recs = cal.target_record(tr)
    assert len(recs) == 3 and set(_record()) == set(recs[0])
    s = cal.summary_statistics(recs)
    assert set(s) == set(cal.TARGETS) and all(0.0 <= v <= 1.0 for v in s.values())


@pytest.fixture
def posterior(tmp_path, monkeypatch):
    """A hand-made weighted posterior over two parameters."""
    path = tmp_path / "posterior.parquet"
    pd.DataFrame({"pressure.intensity": [0.1, 0.5, 0.9], "choice.balance": [2.0, 6.0, 9.0],
                  "weight": [0.2, 0.3, 0.5]}).to_parquet(path)
    monkeypatch.setattr(sim.engine.simulate, "POSTERIOR", path)
    return path


def test_posterior_draw_is_fixed_by_seed_and_replicate(posterior):
    p = params(calibration__source="posterior")
    draws = [posterior_params(p, seed=4, k=k) for k in range(40)]
    again = [posterior_params(p, seed=4, k=k) for k in range(40)]
    assert [d.pressure.intensity for d in draws] == [d.pressure.intensity for d in again]
    assert {d.pressure.intensity for d in draws} == {0.1, 0.5, 0.9}  # every particle is drawn
    for d in draws:  # a draw is one particle: its parameters go together
        assert (d.pressure.intensity, d.choice.balance) in {(0.1, 2.0), (0.5, 6.0), (0.9, 9.0)}
        assert d.calibration.source == "default" and d.identity.confidence == p.identity.confidence


def test_posterior_predictive_replicate_alone_equals_replicate_in_batch(posterior):
    p = params(calibration__source="posterior")
    batch = simulate(TURKIC, load_scenario("baseline"), p, seed=2, replicates=6, pairs=False)
    for k in (0, 5):
        alone = simulate(TURKIC, load_scenario("baseline"), p, seed=2, replicates=1, first=k, pairs=False)
        assert_states_equal(alone.final, batch.final.take(slice(k, k + 1)))
        np.testing.assert_array_equal(alone.timeseries["trust_mean"][:, 0], batch.timeseries["trust_mean"][:, k])
    # the draws differ between replicates, so the runs carry parameter uncertainty
    plain = simulate(TURKIC, load_scenario("baseline"), params(), seed=2, replicates=6, pairs=False)
    assert not np.array_equal(plain.timeseries["trust_mean"], batch.timeseries["trust_mean"])


def test_missing_posterior_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(sim.engine.simulate, "POSTERIOR", tmp_path / "none.parquet")
    with pytest.raises(FileNotFoundError, match="params.calibration.source=posterior"):
        simulate(TURKIC, load_scenario("baseline"), params(calibration__source="posterior"), seed=0, replicates=1)


@pytest.mark.slow
def test_one_abc_generation_runs(tmp_path):
    pytest.importorskip("pyabc")
    frame, history = cal.calibrate(["pressure.intensity", "choice.balance"], population=6, generations=1,
                                   replicates=2, workers=1, seed=0, db=tmp_path / "abc.db")
    assert len(frame) == 6 and set(frame.columns) == {"pressure.intensity", "choice.balance", "weight"}
    assert frame["pressure.intensity"].between(0, 1).all() and np.isclose(frame["weight"].sum(), 1.0)


def test_posterior_summary_by_hand(posterior):
    frame = pd.read_parquet(posterior)
    rows = {r["parameter"]: r for r in cal.posterior_summary(frame)}
    # weights 0.2, 0.3, 0.5 on 0.1, 0.5, 0.9: the weighted median is 0.5 (cdf 0.2, 0.5, 1.0)
    assert rows["pressure.intensity"]["median"] == 0.5
    assert rows["pressure.intensity"]["q05"] == 0.1 and rows["pressure.intensity"]["q95"] == 0.9
    assert (rows["choice.balance"]["prior_low"], rows["choice.balance"]["prior_high"]) == (0.0, 10.0)  # no PRIORS entry: the documented range
    assert cal.prior_range("pressure.intensity") == (0.2, 0.8)


def test_posterior_figure_is_drawn(posterior, tmp_path):
    out = cal.plot_posterior(pd.read_parquet(posterior), tmp_path / "posterior.png")
    assert out.stat().st_size > 5000


def test_priors_lie_inside_the_documented_ranges():
    from sim.studies.oat import range_ends

    for name, (lo, hi, why) in cal.PRIORS.items():
        dlo, dhi = range_ends(name)
        assert dlo <= lo < hi <= dhi and why, name


def test_defaults_are_the_posterior_median_and_say_calibrated_or_judgement():
    """conf/params/default.yaml: each value's comment says calibrated or judgement; the calibrated ones are the
    parameters of the shipped posterior, at its weighted median (3 significant digits)."""
    import re

    from sim.core.params import Params, flatten

    post = cal.load_posterior()
    median = {r["parameter"]: r["median"] for r in cal.posterior_summary(post)}
    labels, group = {}, None
    for line in (CONF_DIR / "params" / "default.yaml").read_text(encoding="utf-8").splitlines():
        if m := re.match(r"^(\w+):", line):
            group = m.group(1)
        elif m := re.match(r"^  (\w+): (\S+)\s+# (.*)$", line):
            labels[f"{group}.{m.group(1)}"] = m.group(3)
    defaults = flatten(Params())
    for key, comment in labels.items():
        if key == "calibration.source":
            continue
        assert ("calibrated" in comment) != ("judgement" in comment), key
        assert ("calibrated" in comment) == (key in median), key
    for key, value in median.items():
        assert defaults[key] == pytest.approx(float(f"{value:.3g}")), key


def test_backtest_tables_by_hand():
    from sim.studies.backtest import summarize_backtest

    records = [_record(), _record(level_HUN="none"), _record(tkm_hedges_all=False, level_HUN="none")]
    years = {"UZB": [2015.0, 2019.0, None], "TKM": [2010.0, 2010.0, 2012.0], "HUN": [2018.0, None, None],
             "TRNC": [None, None, None]}
    targets, roster, preds = summarize_backtest(records, years)
    t = {r["target"]: r for r in targets}
    assert t["roster"]["share_matched"] == pytest.approx(1 / 3)  # only the first has every state at its level
    assert t["roster"]["mean_score"] == pytest.approx((1 + 10 / 11 + 10 / 11) / 3)
    assert t["neutral"]["share_matched"] == pytest.approx(2 / 3) and t["peace"]["share_matched"] == 1.0
    hun = next(r for r in roster if r["state"] == "HUN")
    assert hun["share_at_level"] == pytest.approx(1 / 3) and hun["share_none"] == pytest.approx(2 / 3)
    p = {r["state"]: r for r in preds}
    assert p["UZB"]["share_reached"] == pytest.approx(2 / 3) and p["UZB"]["median"] == 2017.0
    assert p["TKM"]["q10"] == pytest.approx(2010.0) and p["TKM"]["q90"] == pytest.approx(2011.6)
    assert p["TRNC"]["share_reached"] == 0.0 and "median" not in p["TRNC"]
