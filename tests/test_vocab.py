"""One vocabulary (sim.core.vocab): every layer uses its levels, postures, phases and event record."""

from __future__ import annotations

import numpy as np
import pytest

import sim.core.kernel_jit as jit
from sim.core import metrics, vocab, world
from sim.core.vocab import EVENT_FIELDS, LEVELS, PHASES, POSTURES, EventRecord, Level, Phase, Posture
from sim.engine.tables import EVENT_COLUMNS
from sim.report import colors as C
from sim.report import data as D
from sim.shell import agents


def test_names_and_codes():
    assert LEVELS == ("none", "partner", "observer", "member") and [int(lv) for lv in Level] == [0, 1, 2, 3]
    assert POSTURES == ("balance", "hedge", "bandwagon") and [int(p) for p in Posture] == [-1, 0, 1]
    assert PHASES == ("none", "nascent", "ascendant", "mature-loose", "mature-tight")
    assert Phase.of("mature-loose") is Phase.MATURE_LOOSE and Phase.MATURE_LOOSE.label == "mature-loose"
    assert Level.of("observer") == 2 and vocab.POSTURE_NAMES == {-1: "balance", 0: "hedge", 1: "bandwagon"}
    with pytest.raises(ValueError, match="unknown level 'nope'; allowed: none, partner, observer, member"):
        Level.of("nope")


def test_every_layer_uses_the_same_objects():
    assert world.LEVELS is LEVELS and metrics.PHASES is PHASES
    assert agents.Level is Level and agents.Posture is Posture
    assert C.POSTURE_NAMES is vocab.POSTURE_NAMES and D.POSTURES is vocab.POSTURE_NAMES
    for table, names in ((C.PHASE_COLORS, PHASES), (C.PHASE_TEXT, PHASES), (C.LEVEL_COLORS, LEVELS),
                         (C.LEVEL_TEXT, LEVELS), (C.LEVEL_LETTERS, LEVELS), (C.POSTURE_COLORS, POSTURES),
                         (C.POSTURE_LIGHT, POSTURES), (C.POSTURE_LETTERS, POSTURES)):
        assert tuple(table) == names
    assert D.MATURE == ("mature-loose", "mature-tight")


def test_the_kernels_constants_agree():
    """The compiled kernel keeps plain ints for numba; they are the vocabulary's codes."""
    assert jit.MEMBER == Level.MEMBER and jit.PARTNER == Level.PARTNER
    assert set(jit.KINDS) - {"founder"} == set(vocab.LOGGED_TYPES)
    assert jit.BASE_METRICS[-1] == "blocs"


def test_event_record_is_the_events_table_row():
    e = EventRecord(0, 3, 2012.0, "join", "UZB", "OTS", 3.0)
    assert e.type == "join" and e[3] == "join" and e == (0, 3, 2012.0, "join", "UZB", "OTS", 3.0)
    assert tuple(EVENT_COLUMNS) == EVENT_FIELDS == ("replicate", "step", "year", "type", "a", "b", "value")


def test_bloc_labels_count_and_names():
    # 6 states: {0, 1, 2} chained, {3, 4}, 5 alone; capability makes 1 and 4 the heads
    t = np.full((6, 6), 0.1)
    np.fill_diagonal(t, 1.0)
    for a, b in ((0, 1), (1, 2), (3, 4)):
        t[a, b] = t[b, a] = 0.8
    cap = np.array([0.1, 0.3, 0.1, 0.1, 0.2, 0.9])
    assert metrics.bloc_labels(t, 0.5, cap).tolist() == [1, 1, 1, 4, 4, -1]
    assert metrics.bloc_labels(t, 0.5).tolist() == [0, 0, 0, 3, 3, -1]  # ties: first in order
    stack = np.stack([t, np.eye(6)])
    assert metrics.blocs(stack, 0.5).tolist() == [2, 0]
    assert metrics.bloc_labels(stack, 0.5, cap).shape == (2, 6)
