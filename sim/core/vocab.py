"""The model's vocabulary, defined once: membership levels, postures, phases and the event record.

Every layer (core, engine, shell and page, report) reads these names and
codes from here, so a level, a posture or a phase is the same thing in the
arrays, the tables, the Mesa agents, the report and the browser page:

* :class:`Level`: a state's membership level in an institution, 0..3 =
  none < partner < observer < member (DESIGN.md §3; ``State.membership``,
  ``level_<INST>`` in agents.parquet); :data:`LEVELS` are their names by code;
* :class:`Posture`: a state's stance toward a great power, -1/0/1 =
  balance/hedge/bandwagon (Waltz 1979; ``State.posture``, ``posture_<GP>``);
  :data:`POSTURES` are their names in code order;
* :class:`Phase`: the community's phase, 0..4 = none → nascent → ascendant →
  mature-loose → mature-tight (Adler & Barnett 1998; the ``phase`` column);
  :data:`PHASES` are their names by code;
* :class:`EventRecord`: one row of the event log (``Trajectory.events``,
  events.parquet): replicate, step, year, type, a, b, value.

Each enum member's :attr:`label` is its name as written in the tables and
configs (``Phase.MATURE_LOOSE.label == "mature-loose"``), and ``X.of(name)``
is the member with that label. The compiled kernel (sim/core/kernel_jit.py)
keeps its own integer constants for numba; tests/test_vocab.py checks them
against these.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple


class _Coded(IntEnum):
    """An IntEnum whose members are written in tables and configs as lower-case labels."""

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")

    @classmethod
    def of(cls, label: str):
        """The member written ``label`` (as in the tables: ``"member"``, ``"mature-loose"``)."""
        for m in cls:
            if m.label == label:
                return m
        raise ValueError(f"unknown {cls.__name__.lower()} '{label}'; allowed: {', '.join(m.label for m in cls)}")


class Level(_Coded):
    """Membership level in an institution (DESIGN.md §3): none < partner < observer < member."""

    NONE = 0
    PARTNER = 1
    OBSERVER = 2
    MEMBER = 3


class Posture(_Coded):
    """A state's stance toward a great power (Waltz 1979: balancing vs bandwagoning; hedging)."""

    BALANCE = -1
    HEDGE = 0
    BANDWAGON = 1


class Phase(_Coded):
    """Phase of the security community (Adler & Barnett 1998; rules in ``sim.core.metrics.classify``)."""

    NONE = 0
    NASCENT = 1
    ASCENDANT = 2
    MATURE_LOOSE = 3
    MATURE_TIGHT = 4


#: Level names by code (``LEVELS[code]``, ``LEVELS.index(name)``).
LEVELS: tuple[str, ...] = tuple(m.label for m in Level)
#: Posture names in code order (-1, 0, 1).
POSTURES: tuple[str, ...] = tuple(m.label for m in Posture)
#: Posture name by code, as stored in the tables.
POSTURE_NAMES: dict[int, str] = {int(m): m.label for m in Posture}
#: Phase names by code (``PHASES[code]``).
PHASES: tuple[str, ...] = tuple(m.label for m in Phase)


class EventRecord(NamedTuple):
    """One logged event (a row of events.parquet, docs/DATA.md).

    ``replicate`` is the batch position of the replicate (-1: a scheduled event, in every replicate),
    ``type`` one of ``join exit incident backing deepening founding shock:<scenario event type>``,
    ``a`` / ``b`` the parties (state codes, an institution, a security mechanism; "" when none) and
    ``value`` the event's number (NaN when it has none).
    """

    replicate: int
    step: int
    year: float
    type: str
    a: str
    b: str
    value: float


#: Column names of the event log, in order (the events table's columns).
EVENT_FIELDS: tuple[str, ...] = EventRecord._fields
#: Types of the events the dynamics log (scheduled scenario events are logged as ``shock:<type>``).
LOGGED_TYPES: tuple[str, ...] = ("incident", "backing", "join", "exit", "deepening", "founding")
#: Prefix of a logged scheduled event's type: ``shock:`` + the scenario event's type (``shock:war``).
SCHEDULED_PREFIX = "shock:"

__all__ = ["EVENT_FIELDS", "EventRecord", "LEVELS", "LOGGED_TYPES", "SCHEDULED_PREFIX", "Level", "PHASES", "POSTURES", "POSTURE_NAMES", "Phase",
           "Posture"]
