"""Mesa agents: views onto one replicate's rows of the core arrays.

A :class:`StateAgent` holds no state of its own: its attributes read (and its
verb-named methods write) its row of ``model.state`` (replicate 0), so Mesa's
DataCollector, batch_run and SolaraViz see exactly what the compiled kernel
computes (DESIGN.md §2: one implementation of the dynamics).
"""

from __future__ import annotations

import mesa
import numpy as np

from ..core.vocab import Level, Posture

__all__ = ["GreatPowerAgent", "Level", "Posture", "StateAgent"]


class StateAgent(mesa.Agent):
    """A state i (DOMAIN.md §3): Turkic state, neighbour or outside partner."""

    def __init__(self, model, index: int):
        super().__init__(model)
        self.index = index
        self.code = model.world.codes[index]
        self.name = model.world.names[index]
        self.capability = float(model.world.capability[index])

    # ---- reads of the core state (replicate 0)
    @property
    def _st(self):
        return self.model.state

    @property
    def trust(self) -> dict[str, float]:
        """Trust toward every other state."""
        row = self._st.trust[0, self.index]
        return {c: float(row[j]) for j, c in enumerate(self.model.world.codes) if j != self.index}

    @property
    def trust_in_others(self) -> float:
        """Mean trust in all other states (the agents table's ``trust_in_others``)."""
        n = len(self.model.world.codes)
        return float((self._st.trust[0, self.index].sum() - 1.0) / max(n - 1, 1))

    @property
    def threat(self) -> dict[str, float]:
        """Perceived threat from each great power, plus 'neighbours' (largest) and 'transnational'."""
        out = {g: float(v) for g, v in zip(self.model.world.gp_codes, self._st.threat_gp[0, self.index])}
        out["neighbours"] = float(self._st.threat_state[0, self.index].max())
        out["transnational"] = float(self._st.transnational[0, self.index])
        return out

    @property
    def threat_max(self) -> float:
        """The largest perceived threat from any great power."""
        return float(self._st.threat_gp[0, self.index].max())

    @property
    def posture_codes(self) -> str:
        """Postures toward each great power as text, e.g. 'RUS:hedge CHN:bandwagon USA:hedge'."""
        return " ".join(f"{g}:{p.label}" for g, p in self.posture.items())

    @property
    def posture(self) -> dict[str, Posture]:
        return {g: Posture(int(v)) for g, v in zip(self.model.world.gp_codes, self._st.posture[0, self.index])}

    @property
    def memberships(self) -> dict[str, Level]:
        return {k: Level(int(v)) for k, v in zip(self.model.world.institutions, self._st.membership[0, self.index])}

    @property
    def community_level(self) -> str:
        return Level(int(self._st.membership[0, self.index, self.model.world.community])).label

    @property
    def identity(self) -> np.ndarray:
        return self._st.identity[0, self.index].copy()

    # ---- writes (for interactive use and experiments on the Mesa shell)
    def join(self, institution: str, level: Level | str = Level.MEMBER) -> None:
        """Set this state's level in an institution (must be founded and within eligibility)."""
        w = self.model.world
        k = w.inst_index(institution)
        lv = Level.of(level.lower()) if isinstance(level, str) else Level(level)
        if lv > w.eligibility[self.index, k]:
            raise ValueError(f"{self.code} is eligible for at most '{Level(int(w.eligibility[self.index, k])).label}' "
                             f"in {institution}")
        if lv > 0 and not self._st.founded[0, k]:
            raise ValueError(f"{institution} is not founded")
        self._st.membership[0, self.index, k] = int(lv)

    def leave(self, institution: str) -> None:
        self._st.membership[0, self.index, self.model.world.inst_index(institution)] = 0

    def adopt_posture(self, great_power: str, posture: Posture | str) -> None:
        p = Posture.of(posture.lower()) if isinstance(posture, str) else Posture(posture)
        self._st.posture[0, self.index, self.model.world.gp_index(great_power)] = int(p)


class GreatPowerAgent(mesa.Agent):
    """A great power g (RUS, CHN, USA): capability, hegemony drive, and the scenario's strategy this step."""

    def __init__(self, model, index: int):
        super().__init__(model)
        self.index = index
        self.code = model.world.gp_codes[index]
        self.name = model.world.gp_names[index]
        self.capability = float(model.world.gp_capability[index])
        self.drive = float(model.world.gp_drive[index])

    @property
    def strategy(self) -> dict[str, float]:
        """Capacity and strategy mix in force at the current step."""
        sched = self.model.context.schedule
        row = sched.strategy[min(self.model.state.step, len(sched.strategy) - 1), self.index]
        return dict(zip(("capacity", "inducement", "coercion", "wedge", "security"), map(float, row)))

    @property
    def camp(self) -> list[str]:
        """States bandwagoning with this power."""
        st = self.model.state
        return [c for i, c in enumerate(self.model.world.codes) if st.posture[0, i, self.index] == Posture.BANDWAGON]
