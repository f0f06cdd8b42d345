"""The README's Python examples run as written (the 'how to set a seed' examples included)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_python_block_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples that write (out="runs/...") write here
    exec(compile(code, "README.md", "exec"), {})


def test_readme_seed_claims():
    """Replicate k of seed s is the k-th child of SeedSequence(s) and the model's rng=s, replicate=k."""
    import numpy as np

    import sim
    from sim.core.dynamics import replicate_rngs

    child = np.random.SeedSequence(3).spawn(5)[4]
    a = replicate_rngs(3, 1, first=4)[0].random(3)
    b = np.random.Generator(np.random.PCG64(child)).random(3)
    assert np.array_equal(a, b)
    m = sim.RegionalAlignmentModel(rng=3, replicate=4)
    m.step()
    tr = sim.simulate(m.world, m.regional_scenario, m.params, seed=3, replicates=5, steps=1)
    assert np.array_equal(m.state.trust[0], tr.final.trust[4])
