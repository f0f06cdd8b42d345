"""Scenarios: time span, great-power strategies, starting memberships and scheduled events.

A scenario is what DESIGN.md §3 "Worlds and scenarios" calls it: a start and end
year, a strategy mix and capacity for each great power (DOMAIN.md §2,
Mearsheimer 2001: inducement, coercion, wedge, security offers), optional
overrides of the world's starting memberships, and events from DOMAIN.md §5
(foundings, wars, withdrawals, unrest, leadership changes). The same
dataclasses are the Hydra schema of `conf/scenario/*.yaml`.

:func:`compile_schedule` turns a scenario into per-step arrays for the core and
checks every code it names against the world (an unknown code is an error).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .vocab import LEVELS, Level
from .world import CONF_DIR, World

STRATEGIES = ("inducement", "coercion", "wedge", "security")

EVENT_TYPES = {
    # type: (required fields, what it does)
    "found": ("institution", "states"),  # institution founded with these states as members
    "join": ("institution", "states", "level"),  # states set to a level (exogenous join/upgrade)
    "leave": ("institution", "states"),  # states leave (level none)
    "war": ("states",),  # forced militarised incident between two states; dispute += value
    "settle": ("states",),  # dispute between two states set to value (default 0)
    "unrest": ("states",),  # domestic unrest: transnational shock of size value; members show solidarity
    "transnational": ("value",),  # transnational threat shock of size value for states (all if empty)
    "leadership_change": ("states",),  # sovereignty set to value (opening), dependence shrinks
    "deepen": ("institution", "value"),  # institution depth set to at least value
    "summit": ("states",),  # contacts of size value among states and a cultural pull
    "gp": ("gp",),  # a great power's capacity/strategy changes from this year on
    "partner_format": ("institution",),  # the institution opens its partner level (OTS+)
}

#: Fixed sizes of the scheduled events' effects, per event type (sim.core.dynamics.apply_events;
#: docs/ODD.md §7.1). ``value`` is the default of the event's ``value`` field: an event that gives a
#: ``value`` overrides it; the other entries are fixed. The facts are DOMAIN.md §5's; the sizes are
#: judgements on the model's [0, 1] scales (none is calibrated):
#:
#: * ``war``: the dispute rises by ``value`` (default 0: the incident alone);
#: * ``settle``: the dispute is set to ``value`` (default 0: settled);
#: * ``unrest``: a transnational shock of size ``value`` (default 0.3) on the listed states, and, when
#:   the community has its first security tool (statements), members' trust in the stricken member
#:   rises by ``solidarity`` (0.1) of the gap to 1 (DOMAIN.md §5: the 2022 unrest in Kazakhstan and
#:   the members' solidarity statements);
#: * ``leadership_change``: sovereignty is set to ``value`` (no default: unchanged) and dependence on
#:   every great power shrinks to ``dependence_kept`` (0.8) of itself (DOMAIN.md §3, §5: Uzbekistan's
#:   foreign policy opened after its 2016 leadership change);
#: * ``summit``: contacts of size ``value`` (default 1, one contact per pair) among the listed states
#:   (DOMAIN.md §5: summits of the Turkic-speaking states from 1992).
#:
#: ``found`` defaults its depth to the parameter ``institutions.found_depth``; ``transnational``
#: and ``deepen`` require a value.
EVENT_DEFAULTS: dict[str, dict[str, float]] = {
    "war": {"value": 0.0},
    "settle": {"value": 0.0},
    "unrest": {"value": 0.3, "solidarity": 0.1},
    "leadership_change": {"dependence_kept": 0.8},
    "summit": {"value": 1.0},
}


@dataclass
class GreatPowerStrategy:
    """Capacity (1 = full attention; lower = distracted) and strategy mix of one great power."""

    capacity: float = 1.0
    inducement: float = 0.25
    coercion: float = 0.25
    wedge: float = 0.25
    security: float = 0.25


@dataclass
class Event:
    """One scheduled event (DOMAIN.md §5). Unused fields stay None/empty."""

    year: float = 0.0
    type: str = "summit"
    states: list[str] = field(default_factory=list)
    institution: str | None = None
    gp: str | None = None
    level: str | None = None
    value: float | None = None
    capacity: float | None = None
    inducement: float | None = None
    coercion: float | None = None
    wedge: float | None = None
    security: float | None = None
    note: str = ""


@dataclass
class Scenario:
    name: str = "baseline"
    description: str = ""
    start_year: int = 2025
    end_year: int = 2045
    steps_per_year: int = 1
    great_powers: dict[str, GreatPowerStrategy] = field(default_factory=dict)
    # Overrides of the world's starting state: institution -> {state: level}; unlisted keep the world's.
    memberships: dict[str, dict[str, str]] = field(default_factory=dict)
    # institution -> founded at start (overrides the world); founded False clears its members.
    founded: dict[str, bool] = field(default_factory=dict)
    partner_format: list[str] = field(default_factory=list)  # institutions whose partner level is open
    # Multiplies the world's initial pair trust (today's): < 1 for a start before today's ties existed.
    trust_scale: float = 1.0
    # Documented starting values that differ from the world's (today's), e.g. the 1991 ones of the
    # historical scenario: pair trust and dispute ("A-B": value; after trust_scale) and identity
    # (state: {feature: value}). Unlisted pairs, states and features keep the world's values.
    trust: dict[str, float] = field(default_factory=dict)
    disputes: dict[str, float] = field(default_factory=dict)
    identity: dict[str, dict[str, float]] = field(default_factory=dict)
    # Strength of shared identity at the start: every state's identity is moved to
    # centre + identity_spread (x - centre), centre = the mean identity of the states
    # eligible for full membership of the community. 1 = the documented identities;
    # < 1 closer (a stronger shared identity), > 1 farther apart (clipped to [0, 1]).
    identity_spread: float = 1.0
    events: list[Event] = field(default_factory=list)
    # The direction each outcome should move against the baseline, as the header argues:
    # outcome name (sim.engine.simulate.OUTCOMES) -> "higher" or "lower". tests/test_theory.py checks it.
    expected: dict[str, str] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return (self.end_year - self.start_year) * self.steps_per_year


class ScenarioError(ValueError):
    """A scenario that does not fit the world (one line naming the key)."""


@dataclass
class Schedule:
    """A scenario compiled against a world: arrays indexed by step."""

    start_year: int
    steps_per_year: int
    steps: int
    strategy: np.ndarray  # (steps, G, 5): capacity, inducement, coercion, wedge, security
    events: dict[int, list[Event]]
    membership: np.ndarray  # (N, K) starting levels
    founded: np.ndarray  # (K,) starting foundedness
    partner_open: np.ndarray  # (K,) bool
    trust_scale: float = 1.0  # factor on the world's initial pair trust
    found_given: np.ndarray | None = None  # (K,) bool: the scenario schedules this institution's founding
    trust0: np.ndarray | None = None  # (N, N) starting pair trust (world x trust_scale, then the scenario's values)
    dispute0: np.ndarray | None = None  # (N, N) starting disputes
    identity0: np.ndarray | None = None  # (N, F) starting identities

    @property
    def dt(self) -> float:
        return 1.0 / self.steps_per_year

    def year(self, step: int) -> float:
        return self.start_year + step / self.steps_per_year


def _lookup(names, name, what, where):
    if name not in names:
        raise ScenarioError(f"{where}: unknown {what} '{name}'; known: {', '.join(names)}")
    return names.index(name)


def compile_schedule(scenario: Scenario, world: World, steps: int | None = None) -> Schedule:
    """Check the scenario against the world and build per-step arrays.

    Every state, great-power and institution code is looked up; an unknown
    one raises ScenarioError naming the event and the code.
    """
    if scenario.end_year <= scenario.start_year:
        raise ScenarioError(f"scenario.end_year={scenario.end_year} must be after start_year={scenario.start_year}")
    if scenario.steps_per_year < 1:
        raise ScenarioError(f"scenario.steps_per_year={scenario.steps_per_year} must be >= 1")
    if not 0.0 <= scenario.trust_scale <= 1.0:
        raise ScenarioError(f"scenario.trust_scale={scenario.trust_scale} is out of range; allowed [0, 1]")
    T = scenario.steps if steps is None else int(steps)
    G = len(world.gp_codes)
    base = np.tile(np.array(astuple_strategy(GreatPowerStrategy())), (G, 1))
    for code, strat in scenario.great_powers.items():
        g = _lookup(world.gp_codes, code, "great power", f"scenario.great_powers.{code}")
        base[g] = astuple_strategy(strat)
    _check_strategy(base, "scenario.great_powers", world.gp_codes)
    strategy = np.repeat(base[None], max(T, 1), axis=0)

    membership = np.array(world.membership, dtype=np.int8)
    founded = np.array(world.inst_founded, dtype=bool)
    for inst, on in scenario.founded.items():
        k = _lookup(world.institutions, inst, "institution", f"scenario.founded.{inst}")
        founded[k] = bool(on)
        if not on:
            membership[:, k] = 0
    for inst, levels in scenario.memberships.items():
        k = _lookup(world.institutions, inst, "institution", f"scenario.memberships.{inst}")
        for code, level in levels.items():
            i = _lookup(world.codes, code, "state code", f"scenario.memberships.{inst}.{code}")
            membership[i, k] = _level(level, f"scenario.memberships.{inst}.{code}")
    partner_open = np.zeros(len(world.institutions), dtype=bool)
    for inst in scenario.partner_format:
        partner_open[_lookup(world.institutions, inst, "institution", "scenario.partner_format")] = True

    trust0, dispute0, identity0 = _start_values(scenario, world)

    events: dict[int, list[Event]] = {}
    for n, ev in enumerate(scenario.events):
        where = f"scenario.events[{n}] ({ev.type} {ev.year:g})"
        for name in ("year", "value", "capacity", *STRATEGIES):  # NaN would pass every range check below
            v = getattr(ev, name)
            if v is not None and not np.isfinite(v):
                raise ScenarioError(f"{where}: field '{name}' = {v} is not a finite number")
        if ev.type not in EVENT_TYPES:
            raise ScenarioError(f"{where}: unknown event type '{ev.type}'; allowed: {', '.join(EVENT_TYPES)}")
        for req in EVENT_TYPES[ev.type]:
            if getattr(ev, req) in (None, []):
                raise ScenarioError(f"{where}: field '{req}' is required for a '{ev.type}' event")
        for code in ev.states:
            _lookup(world.codes, code, "state code", where)
        if ev.type in ("war", "settle") and len(ev.states) != 2:
            raise ScenarioError(f"{where}: field 'states' must name exactly two states")
        if ev.institution is not None:
            _lookup(world.institutions, ev.institution, "institution", where)
        if ev.gp is not None:
            _lookup(world.gp_codes, ev.gp, "great power", where)
        if ev.level is not None:
            _level(ev.level, where)
        step = int(round((ev.year - scenario.start_year) * scenario.steps_per_year))
        if ev.type == "gp":
            g = world.gp_codes.index(ev.gp)
            if 0 <= step < T:
                for c, name in enumerate(("capacity",) + STRATEGIES):
                    v = getattr(ev, name)
                    if v is not None:
                        strategy[step:, g, c] = v
                _check_strategy(strategy[step], where, world.gp_codes)
            continue
        if 0 <= step < T:
            events.setdefault(step, []).append(ev)
    return Schedule(scenario.start_year, scenario.steps_per_year, T, strategy, events,
                    membership, founded, partner_open, float(scenario.trust_scale),
                    np.array([any(ev.type == "found" and ev.institution == name for ev in scenario.events)
                              for name in world.institutions]), trust0, dispute0, identity0)


def _pair(key: str, world: World, where: str) -> tuple[int, int]:
    parts = str(key).split("-")
    if len(parts) != 2 or parts[0] == parts[1]:
        raise ScenarioError(f"{where}.{key}: a pair is written 'A-B' with two different state codes")
    return tuple(_lookup(world.codes, c, "state code", f"{where}.{key}") for c in parts)


def _bounded(value, where: str, lo: float = 0.0, hi: float = 1.0) -> float:
    """``value`` as a float, or ScenarioError naming ``where`` when it is not finite and in [lo, hi]."""
    v = float(value)
    if not (np.isfinite(v) and lo <= v <= hi):
        raise ScenarioError(f"{where}={value} is out of range; allowed [{lo:g}, {hi:g}]")
    return v


def _start_values(scenario: Scenario, world: World):
    """Starting trust, disputes and identities: the world's, with the scenario's documented values on top."""
    n = len(world.codes)
    s = scenario.trust_scale
    trust = np.array(world.trust) * s + (1 - s) * np.eye(n)
    for key, value in scenario.trust.items():
        a, b = _pair(key, world, "scenario.trust")
        trust[a, b] = trust[b, a] = _bounded(value, f"scenario.trust.{key}")
    dispute = np.array(world.dispute, dtype=float)
    for key, value in scenario.disputes.items():
        a, b = _pair(key, world, "scenario.disputes")
        dispute[a, b] = dispute[b, a] = _bounded(value, f"scenario.disputes.{key}")
    identity = np.array(world.identity, dtype=float)
    for code, feats in scenario.identity.items():
        i = _lookup(world.codes, code, "state code", f"scenario.identity.{code}")
        for feat, value in feats.items():
            f = _lookup(world.features, feat, "identity feature", f"scenario.identity.{code}.{feat}")
            identity[i, f] = _bounded(value, f"scenario.identity.{code}.{feat}")
    spread = _bounded(scenario.identity_spread, "scenario.identity_spread", 0.0, 3.0)
    if spread != 1.0:
        core = world.eligibility[:, world.community] == Level.MEMBER
        centre = identity[core].mean(0) if core.any() else identity.mean(0)
        identity = np.clip(centre + spread * (identity - centre), 0.0, 1.0)
    return trust, dispute, identity


def astuple_strategy(s: GreatPowerStrategy) -> tuple[float, ...]:
    return (s.capacity, s.inducement, s.coercion, s.wedge, s.security)


def _check_strategy(arr: np.ndarray, where: str, codes: tuple[str, ...]) -> None:
    names = ("capacity",) + STRATEGIES
    bad = np.argwhere((arr < 0) | (arr > 1) | ~np.isfinite(arr))
    if len(bad):
        g, c = bad[0]
        raise ScenarioError(f"{where}: {codes[g]}.{names[c]}={arr[g, c]:g} is out of range; allowed [0, 1]")


def _level(name: str, where: str) -> int:
    if name not in LEVELS:
        raise ScenarioError(f"{where}: unknown level '{name}'; allowed: {', '.join(LEVELS)}")
    return int(Level.of(name))


SCENARIO_DIR = CONF_DIR / "scenario"


def scenario_from_dict(data) -> Scenario:
    """A Scenario from a plain mapping (a YAML file's), type-checked against the dataclass schema."""
    from .typed import TypeMismatch, from_data

    try:
        return from_data(Scenario, data, "scenario")
    except TypeMismatch as exc:
        raise ScenarioError(str(exc)) from None


def load_scenario(name: str | Path) -> Scenario:
    """Load ``conf/scenario/<name>.yaml`` (or a path) into a Scenario."""
    import yaml

    path = Path(name)
    if not path.suffix:
        path = SCENARIO_DIR / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml")))
        raise ScenarioError(f"scenario '{name}' not found; available: {known}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ScenarioError(f"scenario {path}: cannot read file ({' '.join(str(exc).split())}); "
                            "it must be UTF-8 YAML") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"scenario {path}: top level must be a mapping of fields, got a {type(data).__name__}")
    return scenario_from_dict(data)
