"""The Mesa shell: RegionalAlignmentModel on the core, its agents, DataCollector and mesa.batch_run."""

from __future__ import annotations

import inspect

import mesa
import numpy as np
import pytest
from helpers import TURKIC, baseline

from sim import RegionalAlignmentModel
from sim.shell.agents import GreatPowerAgent, Level, Posture, StateAgent
from sim.core.metrics import PHASES
from sim.core.params import Params, ParamError
from sim.engine.simulate import simulate


def test_default_model_runs_and_summarises():
    m = RegionalAlignmentModel(rng=1)
    for _ in range(50):
        m.step()
    s = m.summary()
    assert s["phase_reached"] in PHASES and s["phase_final"] in PHASES
    assert set(s["memberships"]["OTS"]) >= {"TUR", "AZE"}
    assert m.year == 2075  # stepping beyond the scenario's end keeps going
    assert m.running is False


def test_model_is_replicate_of_the_core():
    """The shell adds no dynamics: replicate 0 of seed 1 equals the core's replicate 0."""
    m = RegionalAlignmentModel(rng=1)
    for _ in range(20):
        m.step()
    tr = simulate(TURKIC, baseline(), Params(), seed=1, replicates=3)
    np.testing.assert_array_equal(m.state.trust[0], tr.final.trust[0])
    df = m.datacollector.get_model_vars_dataframe()
    np.testing.assert_array_equal(df["TrustMean"].to_numpy(), tr.timeseries["trust_mean"][:, 0])
    assert df["Phase"].tolist() == [PHASES[int(c)] for c in tr.timeseries["phase"][:, 0]]  # names, not codes
    m2 = RegionalAlignmentModel(rng=1, replicate=2)
    for _ in range(20):
        m2.step()
    np.testing.assert_array_equal(m2.state.trust[0], tr.final.trust[2])


def test_model_runs_the_compiled_kernel_and_matches_the_reference():
    """The shell steps sim.core.kernel (one call per step); the numpy reference step gives the same run."""
    from sim.core.dynamics import init_state, replicate_rngs, step
    from sim.core.kernel_jit import _advance
    from sim.core.metrics import measure

    m = RegionalAlignmentModel(rng=6, scenario_name="historical")
    st = init_state(m.context, 1)
    rngs = replicate_rngs(6, 1)
    for _ in range(30):
        m.step()
        step(st, m.context, rngs)
        ref = measure(st, m.context)
        assert m.metrics["phase"][0] == ref["phase"][0] and m.metrics["members"][0] == ref["members"][0]
        np.testing.assert_allclose(m.metrics["trust_mean"], ref["trust_mean"], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(m.state.membership, st.membership)
    np.testing.assert_array_equal(m.state.posture, st.posture)
    np.testing.assert_allclose(m.state.trust, st.trust, rtol=0, atol=1e-12)
    assert _advance.signatures  # compiled (or loaded from the cache) in this process


def test_agents_are_views_of_their_rows():
    m = RegionalAlignmentModel(rng=3)
    m.step()
    states = list(m.agents_by_type[StateAgent])
    powers = list(m.agents_by_type[GreatPowerAgent])
    assert [a.code for a in states] == list(TURKIC.codes) and [g.code for g in powers] == list(TURKIC.gp_codes)
    kaz = states[TURKIC.index("KAZ")]
    assert kaz.trust["KGZ"] == m.state.trust[0, TURKIC.index("KAZ"), TURKIC.index("KGZ")]
    assert kaz.memberships["OTS"] is Level.MEMBER and set(kaz.posture.values()) <= set(Posture)
    assert set(kaz.threat) == {"RUS", "CHN", "USA", "neighbours", "transnational"}
    tkm = states[TURKIC.index("TKM")]
    tkm.join("OTS", "member")
    assert m.state.membership[0, TURKIC.index("TKM"), TURKIC.community] == 3
    with pytest.raises(ValueError, match="eligible"):
        states[TURKIC.index("ARM")].join("OTS")
    assert powers[0].strategy["capacity"] == pytest.approx(0.8)


def test_datacollector_agent_tables():
    m = RegionalAlignmentModel(rng=4)
    for _ in range(3):
        m.step()
    agents = m.agent_datacollector.get_agenttype_vars_dataframe(StateAgent)
    assert len(agents) == 4 * TURKIC.n
    assert agents["trust_in_others"].between(0, 1).all()
    assert len(m.datacollector.get_model_vars_dataframe()) == 4


def test_overrides_and_validation():
    m = RegionalAlignmentModel(rng=1, pressure__intensity=0.9, **{"identity.confidence": 0.1})
    assert m.params.pressure.intensity == 0.9 and m.params.identity.confidence == 0.1
    with pytest.raises(ParamError, match="pressure.intensity"):
        RegionalAlignmentModel(rng=1, pressure__intensity=3.0)
    with pytest.raises(ParamError, match="nonexistent"):
        RegionalAlignmentModel(rng=1, pressure__nonexistent=3.0)
    assert RegionalAlignmentModel(rng=1, scenario="baseline").regional_scenario.name == "baseline"


def test_mesa_batch_run_one_row_per_step_per_run():
    steps = 5
    kwargs = dict(parameters={"pressure__intensity": [0.2, 0.8]}, max_steps=steps, number_processes=1,
                  data_collection_period=1, display_progress=False)
    if "rng" in inspect.signature(mesa.batch_run).parameters:  # mesa >= 3.4
        rows = mesa.batch_run(RegionalAlignmentModel, rng=[1, 2], **kwargs)
    else:  # mesa 3.3
        rows = mesa.batch_run(RegionalAlignmentModel, iterations=2, **kwargs)
    runs = {(r["RunId"]) for r in rows}
    assert len(runs) == 4
    for run in runs:
        steps_seen = [r["Step"] for r in rows if r["RunId"] == run]
        assert steps_seen == sorted(set(steps_seen)), "one row per step"
        assert steps_seen[0] == 0 and steps_seen[-1] >= steps - 1
    assert {r["pressure__intensity"] for r in rows} == {0.2, 0.8}
    for col in ("Year", "Phase", "Identity", "Interaction", "Interest", "TrustMean", "Peace"):
        assert all(col in r for r in rows)


def test_mesa_batch_run_seeded_rows_are_reproducible():
    kwargs = dict(max_steps=4, number_processes=1, data_collection_period=1, display_progress=False)
    params = {"pressure__intensity": 0.5}
    if "rng" in inspect.signature(mesa.batch_run).parameters:  # mesa >= 3.4 sets rng per run itself
        run = lambda: mesa.batch_run(RegionalAlignmentModel, parameters=params, rng=[1, 2], **kwargs)  # noqa: E731
    else:  # mesa 3.3: seeds go in as a model parameter
        run = lambda: mesa.batch_run(RegionalAlignmentModel, parameters={**params, "rng": [1, 2]}, **kwargs)  # noqa: E731
    a, b = run(), run()
    assert a == b
    assert a[0]["TrustMean"] != a[-1]["TrustMean"] or a[0]["Year"] != a[-1]["Year"]
