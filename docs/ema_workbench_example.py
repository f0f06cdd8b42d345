"""Exploratory modelling of `sim` with the EMA workbench (3.0; Python >= 3.12).

The workbench samples the uncertainties (here three parameters, each over its
documented range, read from ``sim.core.params.RANGES``), calls the model
function once per experiment, and collects scalar outcomes. The model function
is ``sim.run(...)``, the Python face: the same names, validation and results as
``python -m sim``. Each experiment runs ``replicates`` seeded replicates with
one master seed, so every experiment sees the same random numbers (common
random numbers: differences between experiments come from the parameters).

    pip install -e '.[ema]'          # ema_workbench, on Python >= 3.12
    python docs/ema_workbench_example.py --experiments 64 --replicates 10 --processes 2

tests/test_ema_workbench.py runs it small with the sequential and the
multiprocessing evaluators (where Python >= 3.12 and ema_workbench are installed).
"""

from __future__ import annotations

import argparse

from ema_workbench import (Constant, Model, MultiprocessingEvaluator, RealParameter, ScalarOutcome,
                           SequentialEvaluator, perform_experiments)

import sim
from sim.core.params import RANGES

#: The uncertainties: parameter (dotted name) -> EMA name (a Python identifier).
UNCERTAINTIES = {"pressure.intensity": "pressure_intensity", "identity.confidence": "identity_confidence",
                 "choice.sovereignty": "choice_sovereignty"}
MATURE = ("mature-loose", "mature-tight")


def regional_alignment(scenario: str = "baseline", replicates: int = 10, seed: int = 0, steps: int | None = None,
                       **values: float) -> dict[str, float]:
    """One experiment: ``sim.run`` with the sampled parameter values; outcomes averaged over the replicates."""
    names = {ema: dotted for dotted, ema in UNCERTAINTIES.items()}
    r = sim.run(scenario=scenario, params={names[k]: v for k, v in values.items()}, replicates=replicates,
                seed=seed, steps=steps, figures=False)
    s = r.summary
    return {"p_mature": float(s["phase_reached"].isin(MATURE).mean()),
            "members": float(s["final_members"].mean()),
            "member_trust": float(s["final_trust_mean"].mean())}


def model(scenario: str = "baseline", replicates: int = 10, seed: int = 0, steps: int | None = None) -> Model:
    """The EMA model of ``sim``: three uncertainties over their documented ranges, three scalar outcomes."""
    m = Model("sim", function=regional_alignment)
    m.uncertainties = [RealParameter(ema, *map(float, RANGES[dotted])) for dotted, ema in UNCERTAINTIES.items()]
    m.constants = [Constant("scenario", scenario), Constant("replicates", replicates), Constant("seed", seed),
                   Constant("steps", steps)]
    m.outcomes = [ScalarOutcome("p_mature"), ScalarOutcome("members"), ScalarOutcome("member_trust")]
    return m


def explore(experiments: int = 16, processes: int = 1, sampling_seed: int = 0, **kw):
    """``perform_experiments`` on :func:`model` (a seeded LHS over the uncertainties): (experiments, outcomes)."""
    m = model(**kw)
    sampling = {"uncertainty_sampling_kwargs": {"rng": sampling_seed}}
    if processes > 1:
        with MultiprocessingEvaluator(m, n_processes=processes) as evaluator:
            return perform_experiments(m, experiments, evaluator=evaluator, **sampling)
    with SequentialEvaluator(m) as evaluator:
        return perform_experiments(m, experiments, evaluator=evaluator, **sampling)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiments", type=int, default=16)
    ap.add_argument("--replicates", type=int, default=10)
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--scenario", default="baseline")
    args = ap.parse_args(argv)
    experiments, outcomes = explore(args.experiments, args.processes, scenario=args.scenario,
                                    replicates=args.replicates)
    table = experiments[list(UNCERTAINTIES.values())].assign(**outcomes)
    print(table.describe().round(3).to_string())


if __name__ == "__main__":
    main()
