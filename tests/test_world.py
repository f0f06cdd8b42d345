"""Tests for sim.core.world: the Turkic world of DOMAIN.md §3-4, validation, the synthetic generator."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.core.world import LEVELS, WORLD_DIR, World, WorldError, load_world, synthetic_world, world_from_dict

TURKIC = WORLD_DIR / "turkic.yaml"
MEMBER, OBSERVER, PARTNER, NONE = (LEVELS.index(x) for x in ("member", "observer", "partner", "none"))


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(TURKIC.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def world() -> World:
    return load_world("turkic")


def check_world(w: World) -> None:
    """Shapes, dtypes, ranges, symmetry, diagonals, read-only arrays."""
    n, g, k, f = w.n, w.g, w.k, w.f
    assert len(w.names) == n and len(set(w.codes)) == n and len(w.gp_names) == g
    shapes = {"inst_leaders": (k, g), "inst_depth": (k,), "inst_founded": (k,), "eligibility": (n, k),
              "membership": (n, k), "capability": (n,), "identity": (n, f), "sovereignty": (n,),
              "route_dependence": (n,), "transnational": (n,), "dependence": (n, g),
              "gp_proximity": (n, g), "gp_capability": (g,), "gp_drive": (g,),
              "proximity": (n, n), "dispute": (n, n), "trust": (n, n)}
    for name, shape in shapes.items():
        arr = getattr(w, name)
        assert arr.shape == shape, name
        assert not arr.flags.writeable, name
        if arr.dtype == np.float64:
            assert np.all((arr >= 0) & (arr <= 1)), name
    assert w.inst_leaders.dtype == bool and w.inst_founded.dtype == bool
    assert w.eligibility.dtype == np.int8 and w.membership.dtype == np.int8
    assert w.eligibility.min() >= 0 and w.eligibility.max() <= 3
    assert np.all(w.membership >= 0) and np.all(w.membership <= w.eligibility)
    assert 0 <= w.community < k and not w.inst_leaders[w.community].any()
    for m in (w.proximity, w.dispute, w.trust):
        np.testing.assert_array_equal(m, m.T)
    assert np.all(np.diag(w.proximity) == 0) and np.all(np.diag(w.dispute) == 0)
    assert np.all(np.diag(w.trust) == 1)


# --- the Turkic world -------------------------------------------------------------------

def test_turkic_loads(world: World) -> None:
    check_world(world)
    assert (world.n, world.g, world.k) == (11, 3, 6)
    assert world.codes == ("TUR", "AZE", "KAZ", "KGZ", "UZB", "TKM", "HUN", "TRNC", "ARM", "TJK", "KOR")
    assert world.gp_codes == ("RUS", "CHN", "USA")
    assert world.institutions[world.community] == "OTS"
    assert world.features == ("language", "history", "faith", "religion_public", "script", "political_culture")
    assert load_world(TURKIC).codes == world.codes  # path and bare name agree


def test_turkic_memberships(world: World) -> None:
    ots = world.membership[:, world.community]
    codes = np.array(world.codes)
    assert set(codes[ots == MEMBER]) == {"TUR", "AZE", "KAZ", "KGZ", "UZB"}
    assert set(codes[ots == OBSERVER]) == {"TKM", "HUN", "TRNC"}
    elig = world.eligibility[:, world.community]
    assert elig[world.index("KOR")] == PARTNER
    assert elig[world.index("HUN")] == elig[world.index("TRNC")] == OBSERVER
    assert elig[world.index("ARM")] == elig[world.index("TJK")] == NONE
    csto, sco, nato, eu = (world.inst_index(x) for x in ("CSTO", "SCO", "NATO", "EU"))
    assert world.membership[world.index("UZB"), csto] == NONE       # left 2012
    assert world.eligibility[world.index("UZB"), csto] == MEMBER
    assert set(codes[world.membership[:, csto] == MEMBER]) == {"KAZ", "KGZ", "ARM", "TJK"}
    assert set(codes[world.membership[:, sco] == MEMBER]) == {"KAZ", "KGZ", "UZB", "TJK"}
    assert set(codes[world.membership[:, nato] == MEMBER]) == {"TUR", "HUN"}
    assert set(codes[world.membership[:, eu] == MEMBER]) == {"HUN"}
    assert world.inst_leaders[sco, [world.gp_index("CHN"), world.gp_index("RUS")]].all()


def test_turkic_values_follow_domain(world: World) -> None:
    i = world.index
    assert world.capability.argmax() == i("TUR")
    assert abs(world.capability.sum() - 1.0) < 1e-9
    assert world.sovereignty.argmax() == i("TKM")                 # permanent neutrality
    assert world.route_dependence[i("TUR")] < world.route_dependence[[i(c) for c in ("AZE", "KAZ", "UZB")]].min()  # open sea
    assert world.dispute[i("AZE"), i("ARM")] > 0.5 and world.dispute[i("KGZ"), i("TJK")] > 0.5
    assert world.trust[i("TUR"), i("AZE")] > 0.8
    lang = world.features.index("language")
    assert world.identity[i("TJK"), lang] < 0.5 and world.identity[i("HUN"), lang] < 0.5


def test_index_unknown_code(world: World) -> None:
    with pytest.raises(WorldError, match="unknown state code 'XXX'; known: TUR"):
        world.index("XXX")


def test_world_is_read_only(world: World) -> None:
    with pytest.raises(ValueError):
        world.trust[0, 1] = 0.0


# --- validation -----------------------------------------------------------------------

def _set(path: str, value):
    def edit(d: dict) -> None:
        *parents, last = path.split("/")
        for p in parents:
            d = d[p]
        d[last] = value
    return edit


def _delete(path: str):
    def edit(d: dict) -> None:
        *parents, last = path.split("/")
        for p in parents:
            d = d[p]
        del d[last]
    return edit


def _rename(path: str, new: str):
    def edit(d: dict) -> None:
        *parents, last = path.split("/")
        for p in parents:
            d = d[p]
        d[new] = d.pop(last)
    return edit


BAD = [
    ("range", _set("states/KGZ/capability", 1.4),
     ["state 'KGZ'", "field 'capability' = 1.4 is out of range [0, 1]"]),
    ("negative", _set("states/AZE/dependence/RUS", -0.1), ["state 'AZE'", "'dependence.RUS'", "out of range"]),
    ("nan", _set("states/AZE/sovereignty", float("nan")), ["state 'AZE'", "'sovereignty'", "out of range"]),
    ("missing", _delete("states/AZE/sovereignty"), ["state 'AZE'", "missing field 'sovereignty'"]),
    ("unknown field", _rename("states/AZE/sovereignty", "sovereignity"),
     ["state 'AZE'", "unknown field 'sovereignity'", "allowed:"]),
    ("wrong type", _set("states/UZB/transnational", "high"), ["state 'UZB'", "'transnational'", "not a number"]),
    ("bool as number", _set("states/UZB/transnational", True), ["state 'UZB'", "not a number"]),
    ("identity missing", _delete("states/TKM/identity/script"), ["state 'TKM'", "missing field 'identity.script'"]),
    ("identity unknown", _set("states/TKM/identity/ethnicity", 0.5),
     ["state 'TKM'", "unknown field 'identity.ethnicity'"]),
    ("identity type", _set("states/TKM/identity/language", "turkic"),
     ["state 'TKM'", "'identity.language'", "not a number"]),
    ("dependence unknown gp", _set("states/AZE/dependence/XXX", 0.2),
     ["state 'AZE'", "'dependence'", "unknown great power 'XXX'"]),
    ("dependence missing gp", _delete("states/AZE/gp_proximity/USA"), ["state 'AZE'", "missing field 'gp_proximity.USA'"]),
    ("membership unknown inst", _set("states/AZE/membership/WTO", "member"),
     ["state 'AZE'", "'membership'", "unknown institution 'WTO'"]),
    ("eligibility unknown inst", _set("states/AZE/eligibility/WTO", "member"),
     ["state 'AZE'", "'eligibility'", "unknown institution 'WTO'"]),
    ("bad level", _set("states/AZE/membership/OTS", "boss"),
     ["state 'AZE'", "'membership.OTS'", "allowed: none, partner, observer, member"]),
    ("above eligibility", _set("states/KOR/membership/OTS", "member"),
     ["state 'KOR'", "'membership.OTS'", "exceeds eligibility 'partner'"]),
    ("pair unknown code", _set("pairs/AZE-XXX", {"trust": 0.5}), ["pair 'AZE-XXX'", "unknown state code 'XXX'"]),
    ("pair self", _set("pairs/AZE-AZE", {"trust": 0.5}), ["pair 'AZE-AZE'", "self-pair"]),
    ("pair key", _set("pairs/AZEARM", {"trust": 0.5}), ["pair 'AZEARM'", "'A-B'"]),
    ("pair range", _set("pairs/AZE-ARM/dispute", 2), ["pair 'AZE-ARM'", "'dispute' = 2 is out of range"]),
    ("pair unknown field", _set("pairs/AZE-ARM/war", 1), ["pair 'AZE-ARM'", "unknown field 'war'"]),
    ("pair asymmetric", _set("pairs/TJK-KGZ", {"dispute": 0.5}), ["pair 'KGZ-TJK'", "asymmetric 'dispute' (0.7 vs 0.5"]),
    ("leader unknown", _set("institutions/SCO/leaders", ["CHN", "XXX"]),
     ["institution 'SCO'", "'leaders'", "unknown great power 'XXX'"]),
    ("institution flag", _set("institutions/SCO/community", "yes"), ["institution 'SCO'", "'community'", "boolean"]),
    ("no community", _set("institutions/OTS/community", False), ["'institutions'", "community: true", "found none"]),
    ("two communities", _set("institutions/SCO/community", True), ["'institutions'", "found OTS, SCO"]),
    ("gp range", _set("great_powers/RUS/drive", 1.5), ["great power 'RUS'", "'drive' = 1.5 is out of range"]),
    ("no states", _set("states", {}), ["field 'states'", "no states"]),
    ("state code clash", _set("states/RUS", {}), ["field 'states'", "'RUS'", "great-power code"]),
    ("state not mapping", _set("states/AZE", 3), ["state 'AZE'", "must be a mapping"]),
    ("unknown top", _set("stats", {}), ["unknown field 'stats'", "allowed:"]),
    ("defaults range", _set("pair_defaults/trust", 3), ["field 'pair_defaults.trust' = 3 is out of range"]),
    ("features", _set("features", ["language", "language"]), ["field 'features'", "distinct"]),
]


@pytest.mark.parametrize("edit, expected", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_malformed_world(raw: dict, edit, expected: list[str]) -> None:
    data = copy.deepcopy(raw)
    edit(data)
    with pytest.raises(WorldError) as info:
        world_from_dict(data, source="turkic.yaml")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("world turkic.yaml: ")
    for part in expected:
        assert part in message, (part, message)


def test_symmetric_duplicate_pair_is_accepted(raw: dict) -> None:
    data = copy.deepcopy(raw)
    data["pairs"]["TJK-KGZ"] = {"dispute": 0.7, "trust": 0.1}
    w = world_from_dict(data)
    assert w.dispute[w.index("TJK"), w.index("KGZ")] == 0.7


def test_file_level_errors(tmp_path) -> None:
    missing = tmp_path / "nowhere.yaml"
    with pytest.raises(WorldError, match="nowhere.yaml: file not found"):
        load_world(missing)
    with pytest.raises(WorldError, match="file not found"):
        load_world("atlantis")
    bad = tmp_path / "broken.yaml"
    bad.write_text("name: x\nstates: {TUR: [1, 2}\n", encoding="utf-8")
    with pytest.raises(WorldError) as info:
        load_world(bad)
    assert "broken.yaml" in str(info.value) and "line 2" in str(info.value)
    assert "\n" not in str(info.value)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just text\n", encoding="utf-8")
    with pytest.raises(WorldError, match="scalar.yaml: top level must be a mapping"):
        load_world(scalar)


def test_file_duplicate_state_code(tmp_path) -> None:
    text = TURKIC.read_text(encoding="utf-8").replace("  KOR:\n", "  TUR:\n", 1)
    dup = tmp_path / "dup.yaml"
    dup.write_text(text, encoding="utf-8")
    with pytest.raises(WorldError, match=r"dup.yaml: YAML error at line \d+.*duplicate key 'TUR'"):
        load_world(dup)


def test_file_validation_error_names_file(tmp_path, raw: dict) -> None:
    data = copy.deepcopy(raw)
    data["states"]["KGZ"]["capability"] = 1.4
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(WorldError) as info:
        load_world(path)
    assert str(info.value) == "world mine.yaml: state 'KGZ': field 'capability' = 1.4 is out of range [0, 1]"


# --- synthetic worlds ------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 60), seed=st.integers(0, 2**32 - 1))
def test_synthetic_world_valid_and_deterministic(n: int, seed: int) -> None:
    w = synthetic_world(n, seed=seed)
    check_world(w)
    assert w.n == n and w.institutions[w.community] == "COM"
    assert abs(w.capability.sum() - 1.0) < 1e-9
    assert (w.membership[:, w.community] == MEMBER).sum() >= 2
    again = synthetic_world(n, seed=seed)
    for name in ("capability", "identity", "proximity", "dispute", "trust", "membership", "dependence"):
        np.testing.assert_array_equal(getattr(w, name), getattr(again, name))
    other = synthetic_world(n, seed=seed + 1)
    assert not np.array_equal(w.identity, other.identity)


def test_synthetic_options_and_large() -> None:
    w = synthetic_world(5, seed=3, n_features=6, n_great_powers=2, dispute_share=1.0)
    check_world(w)
    assert w.f == 6 and w.g == 2 and w.institutions == ("COM", "GP0_BLOC", "GP1_BLOC")
    big = synthetic_world(1000, seed=7)
    check_world(big)
    assert big.codes[0] == "S0001" and big.codes[-1] == "S1000"
    assert 0 < (big.dispute > 0).sum() / 2 < 0.01 * 1000 * 999 / 2   # disputes only among near pairs
    check_world(synthetic_world(1))


@pytest.mark.parametrize("kwargs", [{"n": 0}, {"n": 3, "dispute_share": 1.5}, {"n": 3, "n_great_powers": 0}])
def test_synthetic_bad_arguments(kwargs) -> None:
    with pytest.raises(WorldError):
        synthetic_world(**kwargs)
