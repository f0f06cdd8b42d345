"""The Mesa shell: ``RegionalAlignmentModel`` runs one replicate on the vectorised core.

DESIGN.md §2: the model owns a one-replicate :class:`~sim.core.dynamics.State` and
steps it with the compiled kernel (:func:`sim.core.kernel.step`: the dynamics and the
metrics of one step in one call, the same kernel ``sim.engine.simulate`` runs); its
agents are views onto their rows.
So Mesa's own clients work unchanged::

    import mesa, sim
    mesa.batch_run(sim.RegionalAlignmentModel,
                   parameters={"pressure__intensity": [0.2, 0.8]},
                   rng=[1, 2], max_steps=20)          # mesa >= 3.4 (iterations=... on 3.3)

Seeding: ``rng`` is Mesa's. An integer ``rng=s`` makes the core use replicate
``replicate`` (default 0) of master seed ``s`` -- the same stream as replicate
0 of ``python -m sim seed=s``. Any other ``rng`` (None, a Generator) draws the
master seed from Mesa's generator.
"""

from __future__ import annotations

import numbers

import mesa
import numpy as np

from ..core import kernel
from .agents import GreatPowerAgent, StateAgent
from ..core.dynamics import Context, init_state, replicate_rngs
from ..core.vocab import EventRecord, Phase
from ..core.params import Params, check_ranges, with_overrides
from ..core.scenario import Scenario, compile_schedule, load_scenario
from ..engine.simulate import Trajectory, summarize
from ..core.world import World, load_world

#: Model reporters: column name -> metric key of ``sim.core.metrics.measure``. ``Phase`` is the phase's
#: name (``sim.core.vocab.PHASES``), every other column a number.
MODEL_REPORTERS = {
    "Year": "year", "Phase": "phase", "Members": "members", "Identity": "identity",
    "Interaction": "interaction", "Interest": "interest", "TrustMean": "trust_mean", "TrustMin": "trust_min",
    "Peace": "peace", "YearsSinceIncident": "years_since_incident", "Depth": "depth",
    "Incidents": "incidents", "MemberIncidents": "member_incidents", "Blocs": "blocs",
}


def _metric(key):
    if key == "phase":
        return lambda m: m.phase
    return lambda m: float(m.metrics[key][0])


def _agent_attr(name):
    return lambda a: getattr(a, name, None)


class RegionalAlignmentModel(mesa.Model):
    """Regional alignment of states under great-power pressure (one replicate).

    Args:
        world: a World, or the name/path of a world file (default ``turkic``).
        scenario_name: a Scenario, or the name/path of a scenario file (default ``baseline``).
            ``scenario=`` with a string is accepted as the same thing.
        params: a Params (default: the model defaults).
        replicate: which replicate of the master seed to run (see module docstring).
        rng: Mesa's seed.
        **kwargs: parameter overrides by dotted or double-underscore path,
            e.g. ``pressure__intensity=0.8`` or ``**{"identity.confidence": 0.2}``.
    """

    def __init__(self, world: World | str = "turkic", scenario_name: Scenario | str = "baseline",
                 params: Params | None = None, replicate: int = 0, rng=None, **kwargs):
        # `**kwargs` (so spelt: mesa 3.3's SolaraViz accepts page parameters only through it) holds
        # parameter overrides, and `scenario`: a string or Scenario is this model's scenario; anything
        # else is mesa >= 3.5's own experimental Scenario, passed on unless it is the empty one SolaraViz
        # adds on Reset beside a seed (mesa.Model refuses the pair: "rng and scenario.rng must be the same").
        overrides = dict(kwargs)
        mesa_scenario = overrides.pop("scenario", None)
        if isinstance(mesa_scenario, (str, Scenario)):
            scenario_name, mesa_scenario = mesa_scenario, None
        elif mesa_scenario is not None and rng is not None and getattr(mesa_scenario, "rng", None) is None:
            mesa_scenario = None
        super().__init__(rng=rng, **({"scenario": mesa_scenario} if mesa_scenario is not None else {}))
        self.world = load_world(world) if isinstance(world, str) else world
        self.regional_scenario = load_scenario(scenario_name) if isinstance(scenario_name, str) else scenario_name
        params = params if params is not None else Params()
        if overrides:
            params = with_overrides(params, {k.replace("__", "."): v for k, v in overrides.items()})
        self.params = check_ranges(params)
        if isinstance(rng, numbers.Integral):
            self.seed = int(rng)
        else:
            self.seed = int(self.rng.integers(2**63))
        self.replicate = int(replicate)
        self.context = Context(self.world, self.params, compile_schedule(self.regional_scenario, self.world))
        self.state = init_state(self.context, 1)
        kernel.check_state(self.state)
        self._rngs = replicate_rngs(self.seed, 1, self.replicate)
        self.events: list[EventRecord] = []  # the kernel appends plain tuples; see trajectory()
        self.state_agents = [StateAgent(self, i) for i in range(self.world.n)]
        self.great_powers = [GreatPowerAgent(self, g) for g in range(self.world.g)]
        self.metrics = kernel.measure(self.state, self.context)
        self._history: list[dict[str, np.ndarray]] = [self.metrics]
        # Model reporters: what mesa.batch_run and SolaraViz plots read (one row per step).
        self.datacollector = mesa.DataCollector(
            model_reporters={name: _metric(key) for name, key in MODEL_REPORTERS.items()})
        # Agent reporters per agent type live in a second collector: mesa >= 3.5's batch_run expands
        # any agent records of `datacollector` into one row per agent, and its users expect one row
        # per step per run.
        self.agent_datacollector = mesa.DataCollector(agenttype_reporters={
            StateAgent: {name: _agent_attr(name) for name in
                         ("code", "trust_in_others", "threat_max", "community_level", "posture_codes")},
            GreatPowerAgent: {name: _agent_attr(name) for name in ("code", "strategy", "camp")},
        })
        self.agent_datacollector.collect(self)
        self.datacollector.collect(self)

    @property
    def year(self) -> float:
        return self.context.schedule.year(self.state.step)

    @property
    def phase(self) -> str:
        return Phase(int(self.metrics["phase"][0])).label

    def step(self) -> None:
        """One step of the core (one year by default) and its metrics in one kernel call, then collect."""
        self.metrics = kernel.step(self.state, self.context, self._rngs, self.events)
        self._history.append(self.metrics)
        self.datacollector.collect(self)
        self.agent_datacollector.collect(self)
        if self.state.step >= self.context.schedule.steps:
            self.running = False

    def trajectory(self) -> Trajectory:
        """What has been run so far, as the core's Trajectory (for :func:`sim.engine.simulate.summarize`)."""
        keys = self._history[0].keys()
        steps = len(self._history)
        return Trajectory(ctx=self.context, seed=self.seed, replicate_ids=[self.replicate],
                          years=np.array([self.context.schedule.year(t) for t in range(steps)]),
                          timeseries={k: np.stack([h[k] for h in self._history]) for k in keys},
                          events=[EventRecord(*e) for e in self.events], final=self.state)

    def summary(self) -> dict:
        """The run's summary: phase reached and when, final memberships, conflict counts, final indices."""
        return summarize(self.trajectory())[0]
