"""sim: an agent-based simulation of regional alignment and security-community formation.

Entry points: ``python -m sim`` (Hydra, :mod:`sim.face.cli`); :func:`run` and
:func:`run_experiment` (the Python face, :mod:`sim.face.api`: the command line's
names and validation, tidy pandas tables back); :class:`RegionalAlignmentModel`
(the Mesa shell); :func:`simulate` (the core for R replicates, arrays back);
``python -m sim.report`` (reports). The layers are described in README "Layout".
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sim")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"

#: Loaded when first asked for, so that ``python -m sim`` and the batch engine's parent process import only
#: what they use: the core pulls in numba and the compiled kernel (~0.4 s), the Mesa shell mesa (~1 s),
#: the Python face Hydra.
_LAZY = {"PHASES": "core.metrics", "Params": "core.params", "Scenario": "core.scenario",
         "load_scenario": "core.scenario", "World": "core.world", "load_world": "core.world",
         "synthetic_world": "core.world", "simulate": "engine.simulate", "summarize": "engine.simulate",
         "RegionalAlignmentModel": "shell.model", "StateAgent": "shell.agents", "GreatPowerAgent": "shell.agents",
         "run": "face.api", "run_experiment": "face.api", "SimError": "face.api"}


def __getattr__(name):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(name)


__all__ = ["PHASES", "Params", "Scenario", "World", "RegionalAlignmentModel", "GreatPowerAgent", "SimError",
           "StateAgent", "load_scenario", "load_world", "run", "run_experiment", "simulate", "summarize",
           "synthetic_world", "__version__"]
