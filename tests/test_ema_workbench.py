"""docs/ema_workbench_example.py: sim.run wrapped for EMA workbench 3.0 (runs where Python >= 3.12 and
ema_workbench are installed: CI's 3.12 leg installs the `ema` extra), on both evaluators."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ema_workbench", reason="ema_workbench (Python >= 3.12): pip install -e '.[ema]'")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs"))
import ema_workbench_example as E  # noqa: E402

from sim.core.params import RANGES  # noqa: E402


def test_experiments_sample_the_documented_ranges_and_give_outcomes():
    experiments, outcomes = E.explore(4, processes=1, replicates=2, steps=3)
    assert len(experiments) == 4 and set(outcomes) == {"p_mature", "members", "member_trust"}
    for dotted, ema in E.UNCERTAINTIES.items():
        lo, hi = RANGES[dotted]
        assert experiments[ema].between(lo, hi).all()
    assert all(np.isfinite(v).all() and len(v) == 4 for v in outcomes.values())
    assert ((outcomes["p_mature"] >= 0) & (outcomes["p_mature"] <= 1)).all()


def test_the_multiprocessing_evaluator_gives_the_sequential_results():
    """A seeded design and common random numbers: the outcomes do not depend on the evaluator."""
    one, out1 = E.explore(4, processes=1, replicates=2, steps=3)
    two, out2 = E.explore(4, processes=2, replicates=2, steps=3)
    cols = list(E.UNCERTAINTIES.values())
    np.testing.assert_array_equal(one[cols].to_numpy(), two[cols].to_numpy())
    for k in out1:
        np.testing.assert_array_equal(out1[k], out2[k])
