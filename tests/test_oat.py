"""Every parameter earns its place (issue: a documented regime in which it changes an outcome).

For each parameter of conf/params/ the one-at-a-time comparison of sim.studies.oat (low
vs high end of its documented range, common random numbers, 40 replicates) must
change at least one outcome of sim.engine.simulate.outcomes beyond noise (>= 3 paired
standard errors, not exactly zero) in its documented regime (sim.studies.oat.regime:
the baseline unless sim.studies.oat.REGIMES names another). Checked on master seeds 0-4
with `python -m sim.studies.oat --seed S` before this test was trusted; it runs seed 0.
"""

from __future__ import annotations

import pytest

from sim.studies.oat import beyond_noise, effect, parameter_names, regime, strongest
from sim.core.params import RANGES, Params, flatten


def test_every_parameter_is_covered():
    names = parameter_names()
    assert len(names) == len(flatten(Params())) - 1  # all but calibration.source, which picks where values come from
    # every numeric parameter has a checked range; switches are booleans
    assert all(n in RANGES or isinstance(flatten(Params())[n], bool) for n in names)


@pytest.mark.parametrize("name", parameter_names())
def test_parameter_changes_an_outcome_in_its_regime(name):
    eff = effect(name, regime(name), replicates=40, seed=0)
    key, score = strongest(eff)
    assert key and beyond_noise(*eff[key]), (name, regime(name), eff)
