"""The compiled kernel (sim.core.kernel) against the numpy reference (sim.core.dynamics.step + sim.core.metrics.measure).

On seeded runs the two must give the same discrete outcomes -- memberships, postures,
foundings, incidents (the event log, entry by entry), phases and every count -- and the
same floats to 1e-12, at every step, over many steps, in every scenario kind (baseline,
historical with its events, russia_resurgence, generic on synthetic worlds, sub-annual
steps, each mechanism switched off) and for parameter draws over the allowed ranges
(Hypothesis). The reference loop below is the numpy ``simulate`` loop the kernel replaced.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
from helpers import MECHANISMS, TURKIC, params, quiet_scenario
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

import sim.core.kernel as kernel
import sim.core.kernel_cache as kernel_cache
import sim.core.kernel_jit as jit
from sim.core.dynamics import (LEVEL_WEIGHT, SECURITY_MECHANISMS, STATE_ARRAYS, Context, Event, init_state,
                          replicate_rngs, shared_institutions, step)
from sim.core.metrics import measure
from sim.core.params import Params, flatten
from sim.core.scenario import compile_schedule, load_scenario
from sim.engine.simulate import AGENT_FIELDS, PAIR_FIELDS, agent_rows, simulate
from sim.core.world import synthetic_world

ATOL = 1e-12
DISCRETE_METRICS = {"year", "members", "incidents", "member_incidents", "blocs", "phase", "years_since_incident"}


def reference(world, scenario, p, seed, replicates, steps=None, first=0, checkpoint_every=5):
    """The numpy loop: dynamics.step, then metrics.measure, agent_rows and checkpoint pairs (sim.engine.simulate before #13)."""
    ctx = Context(world, p, compile_schedule(scenario, world, steps))
    T = ctx.schedule.steps
    rngs = replicate_rngs(seed, replicates, first)
    st = init_state(ctx, replicates)
    every = max(1, int(round(checkpoint_every * ctx.schedule.steps_per_year)))
    checkpoints = sorted(set(range(0, T + 1, every)) | {T})
    series, agents, pairs, log = {}, {}, {f: [] for f in PAIR_FIELDS}, []

    def record():
        for k, v in measure(st, ctx).items():
            series.setdefault(k, []).append(v)
        for k, v in agent_rows(st).items():
            agents.setdefault(k, []).append(v)
        if st.step in checkpoints:
            st.shared = shared_institutions(st)
            for f in PAIR_FIELDS:
                pairs[f].append(getattr(st, f).copy())

    record()
    for _ in range(T):
        step(st, ctx, rngs, log)
        record()
    return {"timeseries": {k: np.stack(v) for k, v in series.items()},
            "agents": {k: np.stack(v) for k, v in agents.items()},
            "pairs": {k: np.stack(v) for k, v in pairs.items()}, "events": log, "final": st}


def assert_same_run(ref, tr, atol=ATOL):
    """Discrete outcomes equal, floats within atol: metrics, agent rows, pairs, event log, final state."""
    ATOL = atol  # noqa: N806
    assert list(tr.timeseries) == list(ref["timeseries"])
    for k, v in ref["timeseries"].items():
        if k in DISCRETE_METRICS or k.startswith(("balance_", "hedge_", "bandwagon_")):
            np.testing.assert_array_equal(tr.timeseries[k], v, err_msg=k)
        else:
            np.testing.assert_allclose(tr.timeseries[k], v, rtol=0, atol=ATOL, err_msg=k)
    assert list(tr.agents) == list(ref["agents"]) == list(AGENT_FIELDS)
    for k, v in ref["agents"].items():
        assert tr.agents[k].dtype == v.dtype, k
        if v.dtype == np.int8:
            np.testing.assert_array_equal(tr.agents[k], v, err_msg=k)
        else:
            np.testing.assert_allclose(tr.agents[k], v, rtol=0, atol=ATOL, err_msg=k)
    for k, v in ref["pairs"].items():
        np.testing.assert_allclose(tr.pairs[k], v, rtol=0, atol=ATOL, err_msg=k)
    assert len(tr.events) == len(ref["events"])
    for mine, theirs in zip(tr.events, ref["events"]):
        assert mine[:6] == theirs[:6], (mine, theirs)
        assert (np.isnan(mine[6]) and np.isnan(theirs[6])) or abs(mine[6] - theirs[6]) <= ATOL, (mine, theirs)
    for name in STATE_ARRAYS:
        a, b = getattr(tr.final, name), getattr(ref["final"], name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        if a.dtype.kind in "biu":
            np.testing.assert_array_equal(a, b, err_msg=name)
        else:
            np.testing.assert_allclose(a, b, rtol=0, atol=ATOL, err_msg=name)
    assert tr.final.step == ref["final"].step


def compare(world, scenario, p, seed=0, replicates=4, steps=None, atol=ATOL):
    tr = simulate(world, scenario, p, seed, replicates, steps=steps)
    ref = reference(world, scenario, p, seed, replicates, steps=steps)
    assert_same_run(ref, tr, atol)
    return tr


# --------------------------------------------------------------------------- scenarios


@pytest.mark.parametrize("name, steps, seed", [("baseline", 100, 3), ("historical", None, 1),
                                               ("russia_resurgence", 60, 2)])
def test_kernel_equals_reference_in_the_turkic_scenarios(name, steps, seed):
    tr = compare(TURKIC, load_scenario(name), Params(), seed=seed, replicates=6, steps=steps)
    kinds = {e[3] for e in tr.events}
    assert {"join", "incident"} <= kinds or name != "historical"  # the comparison covers the logged mechanisms
    if name == "historical":
        assert any(k.startswith("shock:") for k in kinds) and "deepening" in kinds


@pytest.mark.parametrize("n, seed", [(30, 1), (7, 5), (2, 0)])
def test_kernel_equals_reference_on_synthetic_worlds(n, seed):
    compare(synthetic_world(n, seed=seed), load_scenario("generic"), Params(), seed=seed, replicates=3)


def test_kernel_equals_reference_with_endogenous_founding_and_sub_annual_steps():
    """The community founds itself (a logged founding), and dt = 1/3 (incident probability 1 - exp(-h dt))."""
    sc = load_scenario("baseline")
    sc.founded = {"OTS": False}
    sc.steps_per_year = 3
    tr = compare(TURKIC, sc, params(institutions__found_trust=0.3), seed=4, replicates=5)
    assert any(e[3] == "founding" for e in tr.events)


def test_kernel_equals_reference_with_events_at_the_first_step():
    """Events of step 0 come after the starting record (the reference's order)."""
    sc = load_scenario("baseline")
    sc.events = [Event(year=2025, type="war", states=["AZE", "ARM"], value=0.2),
                 Event(year=2025, type="unrest", states=["KAZ"], value=0.3),
                 Event(year=2025.0, type="summit", states=["TUR", "AZE", "KAZ"], value=1.0),
                 Event(year=2030, type="leave", institution="OTS", states=["UZB"]),
                 Event(year=2031, type="join", institution="OTS", states=["UZB"], level="observer")]
    tr = compare(TURKIC, sc, Params(), seed=9, replicates=3)
    assert tr.timeseries["incidents"][0].sum() == 0 and tr.timeseries["incidents"][1].min() >= 1


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_kernel_equals_reference_with_each_mechanism_off(mechanism):
    p = params()
    setattr(p.mechanisms, mechanism, False)
    compare(TURKIC, load_scenario("historical"), p, seed=2, replicates=3, steps=25)


def test_kernel_equals_reference_with_every_mechanism_off_but_one():
    for mechanism in MECHANISMS:
        compare(synthetic_world(9, seed=2), quiet_scenario(12), params(only=(mechanism,)), seed=1, replicates=2)


unit = hs.floats(0.0, 1.0)


# convergence <= 0.1: identities then stay >= 1e-3 apart over the run. Stronger convergence brings two states
# to (nearly) the same point, where the reference's similarity is rounding noise of size ~1e-16 / distance
# (test_identical_identities_differ_only_by_the_reference_rounding).
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=hs.integers(2, 16), world_seed=hs.integers(0, 10_000), seed=hs.integers(0, 2**32 - 1),
       intensity=unit, confidence=unit, convergence=hs.floats(0.0, 0.1), temptation=hs.floats(0, 20),
       hazard=hs.floats(0, 20), wedge_cut=hs.floats(0, 5), deepen=hs.floats(0, 5), temperature=hs.floats(1e-3, 5),
       review=hs.floats(0, 1), backing=unit, margin=unit, coop_base=hs.floats(-5, 5), found_trust=unit,
       steps_per_year=hs.integers(1, 4), founded=hs.booleans())
def test_kernel_equals_reference_for_any_valid_parameters(n, world_seed, seed, intensity, confidence, convergence,
                                                           temptation, hazard, wedge_cut, deepen, temperature,
                                                           review, backing, margin, coop_base, found_trust,
                                                           steps_per_year, founded):
    world = synthetic_world(n, seed=world_seed)
    p = params(pressure__intensity=intensity, identity__confidence=confidence, identity__convergence=convergence,
               interaction__temptation=temptation, disputes__base_hazard=hazard, pressure__wedge_cut=wedge_cut,
               institutions__deepen_rate=deepen, choice__temperature=temperature, choice__review_rate=review,
               regional_power__backing=backing, regional_power__margin=margin, interaction__coop_base=coop_base,
               institutions__found_trust=found_trust, regional_power__threshold=0.05)
    sc = quiet_scenario(8)
    sc.steps_per_year = steps_per_year
    if not founded:
        sc.founded = {"COM": False}
    compare(world, sc, p, seed=seed, replicates=2)


def test_identical_identities_differ_only_by_the_reference_rounding():
    """The one known float difference beyond 1e-12: two identical identity vectors.

    sim.core.dynamics.similarity computes ||x_i - x_j||^2 as sq_i + sq_j - 2 x_i.x_j with numpy's
    sum and einsum, which add in different orders (einsum in SIMD lanes), so for x_i == x_j it
    returns 1 - 1e-8 rather than 1; the kernel, adding both in the same order, returns exactly 1.
    With convergence 0.5 two states that meet land on the same point and stay there.
    """
    from sim.core.dynamics import similarity

    x = np.array([[[0.3, 0.7, 0.11, 0.9], [0.3, 0.7, 0.11, 0.9]]])
    assert similarity(x)[0, 0, 1] <= 1.0  # (1 - 1e-8 on this machine: rounding)
    p = params(identity__confidence=1.0, identity__convergence=0.5)
    sc = quiet_scenario(8)
    compare(synthetic_world(2, seed=3), sc, p, seed=0, replicates=2, atol=1e-6)  # discrete outcomes still equal


def test_gumbel_bounds_choose_what_the_exact_values_choose():
    """The choices decide from bounds of the Gumbel draws when they can (sim.core.kernel_jit._pick), else exactly.

    Whenever the bounds decide, the winner must be the first argmax of the exact values, the
    reference's comparison; near-ties (down to 1e-14 apart), the clipped ends of the uniform
    and disallowed options included. Most realistic choices are decided by the bounds.
    """
    rng = np.random.default_rng(13)
    bins = jit.GUMBEL_BINS
    decided = 0
    trials = 20000
    for t in range(trials):
        m = int(rng.integers(2, 5))
        u = rng.random(4)
        if t % 7 == 0:
            u[rng.integers(0, 4)] = rng.choice([0.0, 1e-310, 5e-301, 1.0 - 2 ** -53, 1.0 - 1e-16, 0.5])
        a = rng.normal(0.0, 3.0, 4)
        if t % 3 == 0:  # a near-tie between two options
            i, j = rng.choice(m, 2, replace=False)
            a[j] = a[i] + jit._gumbel(u[i]) - jit._gumbel(u[j]) + rng.choice([0.0, 1e-14, -1e-12, 1e-9, -1e-6, 1e-3])
        ok = rng.random(4) < 0.8
        ok[rng.integers(0, m)] = True
        q = (u * bins).astype(np.int64)
        got = jit._pick(a, q, ok, m)
        best, exact = -np.inf, -1
        for lv in range(m):
            if ok[lv]:
                v = a[lv] + jit._gumbel(u[lv])
                if exact < 0 or v > best:
                    best, exact = v, lv
        if got >= 0:
            decided += 1
            assert got == exact, (t, a, u, ok, m)
    assert decided > 0.6 * trials
    lo, hi = jit.GUMBEL_LO, jit.GUMBEL_HI
    assert np.all(lo < hi) and np.all(np.diff(lo) > 0)


def test_posterior_predictive_runs_on_the_kernel(tmp_path, monkeypatch):
    """params.calibration.source=posterior: each replicate its own posterior draw, the same as the reference's."""
    import pandas as pd

    import sim.engine.simulate as engine_simulate
    from sim.engine.simulate import load_posterior
    from sim.engine.simulate import posterior_params

    path = tmp_path / "posterior.parquet"  # a hand-made posterior (as in tests/test_calibrate.py)
    pd.DataFrame({"pressure.intensity": [0.1, 0.5, 0.9], "choice.balance": [2.0, 6.0, 9.0],
                  "weight": [0.2, 0.3, 0.5]}).to_parquet(path)
    monkeypatch.setattr(engine_simulate, "POSTERIOR", path)
    p = Params()
    p.calibration.source = "posterior"
    sc = load_scenario("baseline")
    tr = simulate(TURKIC, sc, p, seed=3, replicates=3, first=2, steps=10)
    post = load_posterior()
    for r, k in enumerate(range(2, 5)):
        ref = reference(TURKIC, sc, posterior_params(p, 3, k, post), 3, 1, steps=10, first=k)
        np.testing.assert_array_equal(tr.timeseries["phase"][:, r], ref["timeseries"]["phase"][:, 0])
        np.testing.assert_allclose(tr.timeseries["trust_mean"][:, r], ref["timeseries"]["trust_mean"][:, 0],
                                   rtol=0, atol=ATOL)
        np.testing.assert_array_equal(tr.final.membership[r], ref["final"].membership[0])


# --------------------------------------------------------------------------- the reproducibility contract


def test_replicate_alone_equals_replicate_in_a_batch_on_the_kernel():
    sc = load_scenario("historical")
    batch = simulate(TURKIC, sc, Params(), seed=5, replicates=12, agents=False, pairs=False)
    for k in (0, 7, 11):
        alone = simulate(TURKIC, sc, Params(), seed=5, replicates=1, first=k, agents=False, pairs=False)
        for name, v in alone.timeseries.items():
            np.testing.assert_array_equal(v[:, 0], batch.timeseries[name][:, k], err_msg=name)
        for name in STATE_ARRAYS:
            np.testing.assert_array_equal(getattr(alone.final, name)[0], getattr(batch.final, name)[k], err_msg=name)
        assert [e[1:] for e in alone.events if e[0] in (0, -1)] == \
            [e[1:] for e in batch.events if e[0] in (k, -1)]


def test_stepping_in_pieces_equals_one_call():
    """The Mesa shell's one step per call gives what one multi-step call gives (blocks of uniforms, segments)."""
    sc = load_scenario("historical")
    ctx = Context(TURKIC, Params(), compile_schedule(sc, TURKIC))
    a, b = init_state(ctx, 3), init_state(ctx, 3)
    ra, rb = replicate_rngs(8, 3), replicate_rngs(8, 3)
    la, lb = [], []
    kernel.advance(a, ctx, ra, ctx.schedule.steps, la)
    for _ in range(ctx.schedule.steps):
        kernel.step(b, ctx, rb, lb)
    for name in STATE_ARRAYS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert [e[:6] for e in la] == [e[:6] for e in lb]
    assert ra[0].random() == rb[0].random()  # the generators stand at the same place


def test_one_compiled_version_serves_every_run():
    """Fixed argument types: R = 1 or 20, any world, recording on or off, the Mesa shell -- one signature."""
    from sim import RegionalAlignmentModel

    simulate(TURKIC, load_scenario("baseline"), Params(), 0, 1, steps=3)
    simulate(TURKIC, load_scenario("baseline"), Params(), 0, 20, steps=3, agents=False, pairs=False, log_events=False)
    simulate(synthetic_world(5, seed=1), quiet_scenario(3), Params(), 0, 2)
    m = RegionalAlignmentModel(rng=1)
    m.step()
    assert len(jit._advance.signatures) == 1


# --------------------------------------------------------------------------- packing and constants


def test_packed_parameters_are_every_numeric_parameter():
    names = [k for k in flatten(Params()) if k != "calibration.source"]
    assert sorted(jit.PARAMS) == sorted(names)
    p = params(pressure__intensity=0.37, institutions__min_founders=4, mechanisms__threat=False)
    packed = kernel.pack_params(p)
    assert packed[jit.PR_INTENSITY] == 0.37 and packed[jit.INS_MIN_FOUNDERS] == 4 and packed[jit.M_THREAT] == 0


def test_kernel_constants_match_the_reference():
    np.testing.assert_array_equal(jit.LEVEL_WEIGHT, LEVEL_WEIGHT)
    assert list(jit.SECURITY_LEVELS) == [level for _, level in SECURITY_MECHANISMS]
    ctx = Context(TURKIC, Params(), compile_schedule(load_scenario("baseline"), TURKIC))
    assert list(ctx.layout) == list(jit.LAYOUT)
    st = init_state(ctx, 2)
    assert list(kernel.measure(st, ctx)) == list(measure(st, ctx)) == jit.metric_names(TURKIC.gp_codes)


def test_asymmetric_pair_state_is_refused():
    ctx = Context(TURKIC, Params(), compile_schedule(load_scenario("baseline"), TURKIC))
    st = init_state(ctx, 1)
    st.trust[0, 0, 1] += 0.01
    with pytest.raises(ValueError, match="trust is not symmetric"):
        kernel.check_state(st)


def test_world_with_asymmetric_trust_is_refused_by_simulate():
    w = dataclasses.replace(TURKIC, trust=np.triu(TURKIC.trust) + np.eye(TURKIC.n) * 0)
    with pytest.raises(ValueError, match="symmetric"):
        simulate(w, load_scenario("baseline"), Params(), 0, 1, steps=2)


def test_cache_directory_is_writable_and_holds_the_kernel():
    d = kernel.cache_dir()
    kernel.warm()
    assert d.is_dir() and any(d.glob("kernel_jit._advance-*.nbi"))


def test_the_cache_is_fresh_after_warming_and_stale_elsewhere(tmp_path, monkeypatch):
    kernel.warm()
    assert kernel.cache_is_fresh()
    monkeypatch.setattr(kernel_cache, "cache_dir", lambda: tmp_path)
    assert not kernel.cache_is_fresh()


def test_the_cache_check_does_not_import_numba():
    """The batch engine's parent asks whether the cache is fresh without paying numba's import."""
    code = ("import sys; from sim.core.kernel_cache import cache_is_fresh; cache_is_fresh(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'numba'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_first_use_says_it_is_compiling(monkeypatch, capsys):
    """With no cache on disk, warm() says on stderr that it compiles, and how long it took."""
    monkeypatch.setattr(kernel, "_READY", False)
    monkeypatch.setattr(kernel, "cached_on_disk", lambda: False)
    monkeypatch.setattr(kernel, "_warm_run", lambda: None)
    kernel.warm()
    err = capsys.readouterr().err
    assert "compiling the simulation kernel" in err and str(kernel.cache_dir()) in err and "compiled in" in err
    monkeypatch.setattr(kernel, "_READY", False)
    monkeypatch.setattr(kernel, "cached_on_disk", lambda: True)
    kernel.warm()  # an index on disk and a quick load: nothing said
    assert capsys.readouterr().err == ""
