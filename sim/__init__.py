"""sim: an agent-based simulation of regional alignment and security-community formation.

Entry points: :class:`RegionalAlignmentModel` (Mesa), :func:`simulate` (the
vectorised core for R replicates), ``python -m sim`` (Hydra), ``sim.engine.batch``
(sweeps) and ``sim.report`` (reports).
"""

from importlib.metadata import PackageNotFoundError, version

from .core.metrics import PHASES
from .core.params import Params
from .core.scenario import Scenario, load_scenario
from .engine.simulate import simulate, summarize
from .core.world import World, load_world, synthetic_world

try:
    __version__ = version("sim")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"


def __getattr__(name):
    # The Mesa shell imports mesa (~1 s); load it only when asked for.
    if name in ("RegionalAlignmentModel", "StateAgent", "GreatPowerAgent"):
        from .shell import agents, model

        return getattr(model, name, None) or getattr(agents, name)
    raise AttributeError(name)


__all__ = ["PHASES", "Params", "Scenario", "World", "RegionalAlignmentModel", "load_scenario", "load_world",
           "simulate", "summarize", "synthetic_world", "__version__"]
