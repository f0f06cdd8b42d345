"""Shared builders for the core tests: small worlds, scenarios and one-call runs."""

from __future__ import annotations

import dataclasses

import numpy as np

from sim.core.dynamics import STATE_ARRAYS, Context, init_state, replicate_rngs, step
from sim.core.params import Params, with_overrides
from sim.core.scenario import Scenario, compile_schedule, load_scenario
from sim.engine.simulate import simulate, summarize
from sim.core.world import load_world, synthetic_world

TURKIC = load_world("turkic")
MECHANISMS = [f.name for f in dataclasses.fields(Params().mechanisms)]


def params(only: tuple[str, ...] | None = None, **overrides) -> Params:
    """Params with dotted overrides (``pressure__intensity=...``); ``only`` keeps just those mechanisms on."""
    p = with_overrides(Params(), {k.replace("__", "."): v for k, v in overrides.items()})
    if only is not None:
        for name in MECHANISMS:
            setattr(p.mechanisms, name, name in only)
    return p


def two_state_world(trust=0.3, dispute=0.0, proximity=1.0, member=False, depth=0.8):
    """Two states with given pair values; optionally both full members of a deep community institution."""
    w = synthetic_world(2, seed=0)
    n, k = 2, len(w.institutions)
    membership = np.zeros((n, k), np.int8)
    if member:
        membership[:, w.community] = 3
    inst_depth = np.array(w.inst_depth)
    inst_depth[w.community] = depth
    pair = lambda v, diag: np.array([[diag, v], [v, diag]])  # noqa: E731
    return dataclasses.replace(w, trust=pair(trust, 1.0), dispute=pair(dispute, 0.0),
                               proximity=pair(proximity, 0.0), membership=membership, inst_depth=inst_depth)


def quiet_scenario(years: int = 30) -> Scenario:
    """A scenario with no events and the default strategy for every great power."""
    return Scenario(name="quiet", start_year=2000, end_year=2000 + years)


def baseline(**strategy_changes) -> Scenario:
    """The baseline scenario with every great power's strategy fields changed (e.g. wedge=0.8)."""
    sc = load_scenario("baseline")
    for g in sc.great_powers.values():
        for k, v in strategy_changes.items():
            setattr(g, k, v)
    return sc


def final_state(world, scenario, p, seed=1, replicates=1, first=0, steps=None):
    """Step the core and return the final State (no recording)."""
    ctx = Context(world, p, compile_schedule(scenario, world, steps))
    st = init_state(ctx, replicates)
    rngs = replicate_rngs(seed, replicates, first)
    for _ in range(ctx.schedule.steps):
        step(st, ctx, rngs)
    return st


def assert_states_equal(a, b):
    for name in STATE_ARRAYS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def run_summary(world=TURKIC, scenario=None, p=None, seed=7, replicates=20, steps=None):
    tr = simulate(world, scenario or baseline(), p or Params(), seed=seed, replicates=replicates, steps=steps,
                  agents=False, pairs=False, log_events=False)
    return tr, summarize(tr)

