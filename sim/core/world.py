"""The world: states, great powers, institutions and pair attributes as arrays.

A :class:`World` is the immutable starting point of every run. It holds the
entities and state variables of DESIGN.md §3 for the actors of DOMAIN.md §3
(Turkic states, observers and outside partners; Russia, China, the United
States) and the institutions they belong to (OTS, CSTO, SCO, EAEU, NATO, EU):

* states i (N): capability c_i, identity x_i in [0,1]^F (Adler & Barnett's
  shared identity; Wendt), sovereignty sensitivity s_i, route dependence
  (DOMAIN.md §4: landlocked, trade through Russia/China), exposure to
  transnational threats (§4: radicalism, trafficking from Afghanistan),
  dependence d_ig and proximity to each great power g (Mearsheimer);
* pairs (i, j): proximity, dispute intensity D_ij (§4: Soviet border-drawing,
  Fergana, Karabakh), initial trust T_ij;
* institutions k (K): leading great powers, depth, whether founded, and for
  each state its eligibility and today's membership level
  (``sim.core.vocab.Level``: none < partner < observer < member).

Capability is a *share* of the region's power (GDP and military projectable
into the region): values lie in [0, 1] and for the Turkic world and the
synthetic generator they sum to 1 over the states.

Worlds come from a YAML file (``conf/world/turkic.yaml``; see its header for
the format) through :func:`load_world` / :func:`world_from_dict`, which
validate every field and raise :class:`WorldError` with one line naming the
file, the state/pair/institution and the field; or from
:func:`synthetic_world`, a seeded generator of any size N.
All arrays are float64 (masks bool, levels int8) and read-only.
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import yaml

from .vocab import LEVELS, Level

#: The config tree: ``sim/conf`` where the package is installed (a wheel ships ``conf/`` as that
#: package data), else the source tree's ``conf/`` beside ``sim/`` (a checkout, an editable install).
_PACKAGE = Path(__file__).resolve().parents[1]
CONF_DIR = _PACKAGE / "conf" if (_PACKAGE / "conf" / "config.yaml").is_file() else _PACKAGE.parent / "conf"
WORLD_DIR = CONF_DIR / "world"
#: Fields of an entry of a world file's ``pairs:`` list (and of ``pair_defaults:``), with their defaults.
PAIR_ENTRY_FIELDS = ("trust", "proximity", "dispute")
PAIR_ENTRY_DEFAULTS = {"trust": 0.3, "proximity": 0.0, "dispute": 0.0}

STATE_REQUIRED = ("capability", "identity", "sovereignty", "route_dependence",
                  "transnational", "dependence", "gp_proximity")
STATE_OPTIONAL = ("name", "membership", "eligibility")
GP_REQUIRED = ("capability", "drive")
INST_REQUIRED = ("depth",)
INST_OPTIONAL = ("community", "leaders", "founded", "default_eligibility")
TOP_REQUIRED = ("features", "great_powers", "institutions", "states")
TOP_OPTIONAL = ("name", "pair_defaults", "pairs")  # not "defaults": Hydra reserves that key in conf/world/*.yaml


class WorldError(ValueError):
    """Invalid world data: one clear line naming the file, the state/pair/institution and the field."""


@dataclass(frozen=True, eq=False)
class World:
    """Immutable world (DESIGN.md §3 entities); see the module docstring for meanings."""

    name: str
    codes: tuple[str, ...]
    names: tuple[str, ...]
    features: tuple[str, ...]
    gp_codes: tuple[str, ...]
    gp_names: tuple[str, ...]
    institutions: tuple[str, ...]
    community: int
    inst_leaders: np.ndarray    # (K, G) bool
    inst_depth: np.ndarray      # (K,)
    inst_founded: np.ndarray    # (K,) bool
    eligibility: np.ndarray     # (N, K) int8, 0..3
    membership: np.ndarray      # (N, K) int8, 0..3, <= eligibility
    capability: np.ndarray      # (N,)
    identity: np.ndarray        # (N, F)
    sovereignty: np.ndarray     # (N,)
    route_dependence: np.ndarray  # (N,)
    transnational: np.ndarray   # (N,)
    dependence: np.ndarray      # (N, G)
    gp_proximity: np.ndarray    # (N, G)
    gp_capability: np.ndarray   # (G,)
    gp_drive: np.ndarray        # (G,)
    proximity: np.ndarray       # (N, N) symmetric, zero diagonal
    dispute: np.ndarray         # (N, N) symmetric, zero diagonal
    trust: np.ndarray           # (N, N) symmetric, diagonal 1

    def __post_init__(self) -> None:
        # Own a private read-only copy of every array so no caller can mutate the world.
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                value = value.copy()
                value.flags.writeable = False
                object.__setattr__(self, f.name, value)

    @property
    def n(self) -> int:
        return len(self.codes)

    @property
    def g(self) -> int:
        return len(self.gp_codes)

    @property
    def k(self) -> int:
        return len(self.institutions)

    @property
    def f(self) -> int:
        return len(self.features)

    def index(self, code: str) -> int:
        """Index of a state code; WorldError if unknown."""
        return _lookup(code, self.codes, "state code")

    def gp_index(self, code: str) -> int:
        """Index of a great-power code; WorldError if unknown."""
        return _lookup(code, self.gp_codes, "great-power code")

    def inst_index(self, name: str) -> int:
        """Index of an institution name; WorldError if unknown."""
        return _lookup(name, self.institutions, "institution")


def _lookup(code: str, known: tuple[str, ...], kind: str) -> int:
    try:
        return known.index(code)
    except ValueError:
        raise WorldError(f"unknown {kind} {_show(code)}; known: {', '.join(known)}") from None


def _show(value: Any) -> str:
    """A value for an error message: repr, one line, short."""
    text = " ".join(repr(value).split())
    return text if len(text) <= 60 else text[:57] + "..."


class _Check:
    """The one validation helper: knows where it is (source, place) and raises one-line WorldErrors."""

    def __init__(self, source: str, where: str = ""):
        self.source, self.where = source, where

    def at(self, where: str) -> _Check:
        return _Check(self.source, where)

    def fail(self, message: str) -> NoReturn:
        place = f"{self.where}: " if self.where else ""
        raise WorldError(f"world {self.source}: {place}{message}")

    def table(self, field: str, value: Any, required: Sequence[str] = (),
              optional: Sequence[str] = (), closed: bool = True) -> Mapping:
        """A mapping with the given required keys and (if closed) no others."""
        if value is None and not required:
            return {}
        if not isinstance(value, Mapping):
            self.fail(f"{_label(field)} must be a mapping, got {_show(value)}")
        allowed = (*required, *optional)
        for key in value if closed else ():
            if key not in allowed:  # before 'missing', so a typo is reported as itself
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                self.fail(f"unknown field '{_join(field, key)}'{hint}; allowed: {', '.join(allowed)}")
        for key in required:
            if key not in value:
                self.fail(f"missing field '{_join(field, key)}'")
        return value

    def num(self, field: str, value: Any, lo: float = 0.0, hi: float = 1.0) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            self.fail(f"field '{field}' = {_show(value)} is not a number")
        if not (math.isfinite(value) and lo <= value <= hi):
            self.fail(f"field '{field}' = {value} is out of range [{lo:g}, {hi:g}]")
        return float(value)

    def flag(self, field: str, value: Any) -> bool:
        if not isinstance(value, bool):
            self.fail(f"field '{field}' = {_show(value)} is not a boolean (true/false)")
        return value

    def text(self, field: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(f"field '{field}' = {_show(value)} is not a non-empty string")
        return value

    def level(self, field: str, value: Any) -> int:
        if value not in LEVELS:
            self.fail(f"field '{field}' = {_show(value)} is not a level; allowed: {', '.join(LEVELS)}")
        return LEVELS.index(value)

    def code(self, field: str, value: Any, known: Sequence[str], kind: str) -> int:
        if value not in known:
            prefix = f"{_label(field)}: " if field else ""
            self.fail(f"{prefix}unknown {kind} {_show(value)}; known: {', '.join(known)}")
        return list(known).index(value)

    def codes(self, field: str, value: Any, kind: str) -> tuple[str, ...]:
        """Keys of a non-empty mapping used as codes: strings without '-' or spaces."""
        if not isinstance(value, Mapping) or not value:
            self.fail(f"field '{field}' must be a non-empty mapping of {kind} codes, got {_show(value)}")
        for key in value:
            if not isinstance(key, str) or not key or "-" in key or any(c.isspace() for c in key):
                self.fail(f"field '{field}': {kind} code {_show(key)} must be a string without '-' or spaces")
        return tuple(value)


def _label(field: str) -> str:
    return f"field '{field}'" if field else "value"


def _join(field: str, key: Any) -> str:
    return f"{field}.{key}" if field else str(key)


def world_from_dict(data: Mapping, source: str = "<dict>") -> World:
    """Validate world data (the YAML format of conf/world/turkic.yaml) and build a World."""
    top = _Check(source)
    data = top.table("", data, TOP_REQUIRED, TOP_OPTIONAL)
    name = top.text("name", data.get("name", Path(source).stem))

    feats = data["features"]
    if (not isinstance(feats, Sequence) or isinstance(feats, str) or not feats
            or not all(isinstance(x, str) and x for x in feats) or len(set(feats)) != len(feats)):
        top.fail(f"field 'features' = {_show(feats)} must be a non-empty list of distinct names")
    features = tuple(feats)

    defaults = top.table("pair_defaults", data.get("pair_defaults"), optional=PAIR_ENTRY_FIELDS)
    pair_default = {key: top.num(f"pair_defaults.{key}", defaults.get(key, val))
                    for key, val in PAIR_ENTRY_DEFAULTS.items()}

    # Great powers.
    gps = data["great_powers"]
    gp_codes = top.codes("great_powers", gps, "great-power")
    G = len(gp_codes)
    gp_names, gp_cap, gp_drive = [], np.zeros(G), np.zeros(G)
    for g, code in enumerate(gp_codes):
        chk = top.at(f"great power '{code}'")
        row = chk.table("", gps[code], GP_REQUIRED, ("name",))
        gp_names.append(chk.text("name", row.get("name", code)))
        gp_cap[g] = chk.num("capability", row["capability"])
        gp_drive[g] = chk.num("drive", row["drive"])

    # Institutions.
    insts = data["institutions"]
    inst_codes = top.codes("institutions", insts, "institution")
    K = len(inst_codes)
    leaders, depth = np.zeros((K, G), bool), np.zeros(K)
    founded, default_elig, community = np.ones(K, bool), np.zeros(K, np.int8), []
    for k, code in enumerate(inst_codes):
        chk = top.at(f"institution '{code}'")
        row = chk.table("", insts[code], INST_REQUIRED, INST_OPTIONAL)
        depth[k] = chk.num("depth", row["depth"])
        founded[k] = chk.flag("founded", row.get("founded", True))
        if chk.flag("community", row.get("community", False)):
            community.append(k)
        default_elig[k] = chk.level("default_eligibility", row.get("default_eligibility", "none"))
        lead = row.get("leaders", [])
        if not isinstance(lead, Sequence) or isinstance(lead, str):
            chk.fail(f"field 'leaders' = {_show(lead)} must be a list of great-power codes")
        for code_g in lead:
            leaders[k, chk.code("leaders", code_g, gp_codes, "great power")] = True
    if len(community) != 1:
        found = ", ".join(inst_codes[k] for k in community) or "none"
        top.fail(f"field 'institutions': exactly one institution must have 'community: true'; found {found}")

    # States.
    states = data["states"]
    if isinstance(states, Mapping) and not states:
        top.fail("field 'states': no states; at least one is required")
    codes = top.codes("states", states, "state")
    clash = sorted(set(codes) & set(gp_codes))
    if clash:
        top.fail(f"field 'states': code '{clash[0]}' is also a great-power code; codes must be unique")
    N, F = len(codes), len(features)
    names: list[str] = []
    cap, sov, route, trans = np.zeros(N), np.zeros(N), np.zeros(N), np.zeros(N)
    ident, dep, gprox = np.zeros((N, F)), np.zeros((N, G)), np.zeros((N, G))
    elig = np.tile(default_elig, (N, 1))
    member = np.zeros((N, K), np.int8)
    for i, code in enumerate(codes):
        chk = top.at(f"state '{code}'")
        row = chk.table("", states[code], STATE_REQUIRED, STATE_OPTIONAL)
        names.append(chk.text("name", row.get("name", code)))
        cap[i] = chk.num("capability", row["capability"])
        sov[i] = chk.num("sovereignty", row["sovereignty"])
        route[i] = chk.num("route_dependence", row["route_dependence"])
        trans[i] = chk.num("transnational", row["transnational"])
        table = chk.table("identity", row["identity"], features)
        ident[i] = [chk.num(f"identity.{x}", table[x]) for x in features]
        for field, out in (("dependence", dep), ("gp_proximity", gprox)):
            table = chk.table(field, row[field], closed=False)
            for key in table:
                chk.code(field, key, gp_codes, "great power")
            for g, code_g in enumerate(gp_codes):
                if code_g not in table:
                    chk.fail(f"missing field '{field}.{code_g}'")
                out[i, g] = chk.num(f"{field}.{code_g}", table[code_g])
        for field, out in (("eligibility", elig), ("membership", member)):
            table = chk.table(field, row.get(field), closed=False)
            for key, value in table.items():
                out[i, chk.code(field, key, inst_codes, "institution")] = chk.level(f"{field}.{key}", value)
        for k, inst in enumerate(inst_codes):
            if member[i, k] > elig[i, k]:
                chk.fail(f"field 'membership.{inst}' = {LEVELS[member[i, k]]} exceeds "
                         f"eligibility '{LEVELS[elig[i, k]]}'")
            if member[i, k] and not founded[k]:
                chk.fail(f"field 'membership.{inst}' = {LEVELS[member[i, k]]} but institution "
                         f"'{inst}' is not founded; must be none")

    # Pairs: unordered "A-B"; "A-B" and "B-A" may both appear only with equal values.
    pair_data = top.table("pairs", data.get("pairs"), closed=False)
    mats = {key: np.full((N, N), pair_default[key]) for key in PAIR_ENTRY_FIELDS}
    seen: dict[tuple[int, int], tuple[str, dict]] = {}
    for key, row in pair_data.items():
        chk = top.at(f"pair {_show(key)}")
        parts = key.split("-") if isinstance(key, str) else []
        if len(parts) != 2:
            chk.fail("key must be 'A-B' with two state codes")
        a, b = (chk.code("", p, codes, "state code") for p in parts)
        if a == b:
            chk.fail("self-pair; a pair joins two different states")
        row = chk.table("", row, optional=PAIR_ENTRY_FIELDS)
        values = {f: chk.num(f, row[f]) for f in PAIR_ENTRY_FIELDS if f in row}
        canon = (min(a, b), max(a, b))
        if canon in seen:
            first, earlier = seen[canon]
            for f in values.keys() & earlier.keys():
                if values[f] != earlier[f]:
                    top.at(f"pair '{first}'").fail(
                        f"asymmetric '{f}' ({earlier[f]:g} vs {values[f]:g} in '{key}')")
            earlier.update(values)
        else:
            seen[canon] = (key, values)
        for f, v in values.items():
            mats[f][a, b] = mats[f][b, a] = v
    np.fill_diagonal(mats["trust"], 1.0)
    np.fill_diagonal(mats["proximity"], 0.0)
    np.fill_diagonal(mats["dispute"], 0.0)

    return World(
        name=name, codes=codes, names=tuple(names), features=features,
        gp_codes=gp_codes, gp_names=tuple(gp_names), institutions=inst_codes,
        community=community[0], inst_leaders=leaders, inst_depth=depth, inst_founded=founded,
        eligibility=elig, membership=member, capability=cap, identity=ident,
        sovereignty=sov, route_dependence=route, transnational=trans, dependence=dep,
        gp_proximity=gprox, gp_capability=gp_cap, gp_drive=gp_drive,
        proximity=mats["proximity"], dispute=mats["dispute"], trust=mats["trust"],
    )


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys (e.g. a state code listed twice)."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {_show(key)}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def resolve_world_path(path: str | Path) -> Path:
    """A path, or a bare name such as ``turkic`` resolved to ``conf/world/<name>.yaml``."""
    p = Path(path)
    if not p.exists() and p.suffix == "" and len(p.parts) == 1:
        return WORLD_DIR / f"{p.name}.yaml"
    return p


def load_world(path: str | Path) -> World:
    """Read, validate and build a world from a YAML file or a bare world name."""
    p = resolve_world_path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        named = ", ".join(sorted(x.stem for x in WORLD_DIR.glob("*.yaml"))) or "none"
        raise WorldError(f"world {p}: file not found (named worlds in {WORLD_DIR}: {named})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise WorldError(f"world {p}: cannot read file: {_show(str(e))}") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise WorldError(f"world {p.name}: YAML error{where}: {' '.join(str(problem).split())}") from None
    if not isinstance(data, Mapping):
        raise WorldError(f"world {p.name}: top level must be a mapping of fields, got {_show(data)}")
    return world_from_dict(data, source=p.name)


def synthetic_world(n: int, seed: int = 0, n_features: int = 4, n_great_powers: int = 3,
                    dispute_share: float = 0.1) -> World:
    """A plausible random world of n states, seeded by ``numpy.random.default_rng(seed)`` only.

    Construction (all vectorised; O(N^2) numpy for the pair matrices):
    states at random 2-D positions in the unit square; proximity
    exp(-distance / scale) with scale 1/sqrt(n) (a typical neighbour spacing);
    great powers at their own positions, gp_proximity exp(-distance / 0.3),
    dependence rising with gp proximity and capability; capability lognormal
    (sigma 1) normalised to shares summing to 1; identity clustered by
    geography (each state near the centre of its nearest of ~sqrt(n)/2
    cultural hubs, DOMAIN.md §2 Wendt); disputes on ``dispute_share`` of the
    near pairs (distance < scale; DOMAIN.md §4 border disputes) with intensity
    U(0.2, 0.9); initial trust 0.1 + 0.6 * identity similarity - 0.6 * dispute.
    Institutions: the community "COM" (no leader) and "GP<g>_BLOC" led by each
    great power; every state is eligible as member everywhere; the community is
    founded by a few states (n // 10, at least 2) plus some observers, and
    states join a bloc with probability rising with their dependence on its leader.
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise WorldError(f"synthetic world: n = {_show(n)} must be an integer >= 1")
    for label, value in (("n_features", n_features), ("n_great_powers", n_great_powers)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise WorldError(f"synthetic world: {label} = {_show(value)} must be an integer >= 1")
    if not (0.0 <= dispute_share <= 1.0):
        raise WorldError(f"synthetic world: dispute_share = {_show(dispute_share)} is out of range [0, 1]")
    n, F, G = int(n), int(n_features), int(n_great_powers)
    rng = np.random.default_rng(seed)
    width = max(4, len(str(n)))
    codes = tuple(f"S{i + 1:0{width}d}" for i in range(n))
    base = ("language", "history", "religion", "political_culture")
    features = tuple(base[j] if j < len(base) else f"feature{j + 1}" for j in range(F))
    gp_codes = tuple(f"GP{g}" for g in range(G))

    pos = rng.random((n, 2))
    scale = 1.0 / math.sqrt(n)
    dist = np.sqrt(((pos[:, None, :] - pos[None, :, :]) ** 2).sum(-1))
    proximity = np.exp(-dist / scale)
    np.fill_diagonal(proximity, 0.0)

    cap = rng.lognormal(0.0, 1.0, n)
    cap /= cap.sum()

    hubs = rng.random((max(1, round(math.sqrt(n) / 2)), 2))
    hub_identity = rng.random((len(hubs), F))
    nearest = np.argmin(((pos[:, None, :] - hubs[None, :, :]) ** 2).sum(-1), axis=1)
    identity = np.clip(hub_identity[nearest] + rng.normal(0.0, 0.1, (n, F)), 0.0, 1.0)

    gp_pos = rng.random((G, 2))
    gp_cap = rng.uniform(0.5, 1.0, G)
    gp_drive = rng.uniform(0.3, 0.9, G)
    gp_prox = np.exp(-np.sqrt(((pos[:, None, :] - gp_pos[None, :, :]) ** 2).sum(-1)) / 0.3)
    dependence = np.clip(gp_prox * gp_cap * rng.uniform(0.5, 1.0, (n, G)), 0.0, 1.0)

    disputed = np.triu((dist < scale) & (rng.random((n, n)) < dispute_share), 1)
    dispute = np.where(disputed, rng.uniform(0.2, 0.9, (n, n)), 0.0)
    dispute = dispute + dispute.T

    sq = np.zeros((n, n))
    for j in range(F):
        sq += (identity[:, j, None] - identity[None, :, j]) ** 2
    similarity = 1.0 - np.sqrt(sq / F)
    trust = np.clip(0.1 + 0.6 * similarity - 0.6 * dispute, 0.0, 1.0)
    np.fill_diagonal(trust, 1.0)

    K = 1 + G
    leaders = np.zeros((K, G), bool)
    leaders[np.arange(1, K), np.arange(G)] = True
    membership = np.zeros((n, K), np.int8)
    order = rng.permutation(n)
    founders = min(n, max(2, n // 10))
    membership[order[:founders], 0] = Level.MEMBER
    membership[order[founders:founders + n // 20], 0] = Level.OBSERVER
    u = rng.random((n, G))
    membership[:, 1:] = np.where(u < 0.5 * dependence, 3, np.where(u < 0.8 * dependence, 1, 0))
    inst_depth = np.concatenate([[0.2], rng.uniform(0.2, 0.6, G)])

    return World(
        name=f"synthetic-n{n}-s{seed}", codes=codes, names=tuple(f"State {i + 1}" for i in range(n)),
        features=features, gp_codes=gp_codes, gp_names=tuple(f"Great power {g}" for g in range(G)),
        institutions=("COM", *(f"GP{g}_BLOC" for g in range(G))), community=0,
        inst_leaders=leaders, inst_depth=inst_depth, inst_founded=np.ones(K, bool),
        eligibility=np.full((n, K), Level.MEMBER, np.int8), membership=membership,
        capability=cap, identity=identity, sovereignty=rng.uniform(0.2, 0.9, n),
        route_dependence=rng.random(n), transnational=rng.beta(2.0, 3.0, n),
        dependence=dependence, gp_proximity=gp_prox, gp_capability=gp_cap, gp_drive=gp_drive,
        proximity=proximity, dispute=dispute, trust=trust,
    )


# --------------------------------------------------------------------------- the world of a config

#: Keys of a generator spec (``conf/world/synthetic.yaml``) and their types.
SYNTHETIC_KEYS = {"n": int, "seed": int, "n_features": int, "n_great_powers": int, "dispute_share": float}


def build_world(data: Mapping, source: str = "config") -> World:
    """A World from the ``world`` config node as plain data.

    Either world data in the format of ``conf/world/turkic.yaml`` (validated by
    :func:`world_from_dict`) or a generator spec ``{generator: synthetic, n, seed,
    n_features, n_great_powers, dispute_share}`` for :func:`synthetic_world`
    (DESIGN.md §3: a generator of N states for any N).
    """
    world, gen = world_or_generator(data, source)
    return world if world is not None else synthetic_world(**gen)


def world_or_generator(data: Mapping, source: str = "config") -> tuple[World | None, dict | None]:
    """(the World, None) for world data; (None, the checked generator spec) for a generator spec.

    The validator uses the spec before generating, to check that the world fits in memory.
    """
    if not isinstance(data, Mapping) or not data:
        raise WorldError(f"world {source}: empty or not a mapping; choose a world (e.g. world=turkic)")
    gen = generator_spec(dict(data))
    return (world_from_dict(data, source=source), None) if gen is None else (None, gen)


def generator_spec(data: dict) -> dict | None:
    """The checked keyword arguments of :func:`synthetic_world` for a generator spec; None for world data."""
    if "generator" not in data:
        return None
    data = dict(data)
    gen = data.pop("generator")
    if gen != "synthetic":
        raise WorldError(f"world.generator={gen!r} is unknown; allowed: synthetic")
    for key, value in data.items():
        if key not in SYNTHETIC_KEYS:
            raise WorldError(f"world.{key}: unknown generator option; allowed: {', '.join(SYNTHETIC_KEYS)}")
        kind = SYNTHETIC_KEYS[key]
        if isinstance(value, bool) or not isinstance(value, numbers.Real if kind is float else numbers.Integral):
            raise WorldError(f"world.{key}={value!r} is not {'a number' if kind is float else 'an integer'}")
        if not math.isfinite(value):
            raise WorldError(f"world.{key}={value!r} is not a finite number")
    for key in ("n", "n_features", "n_great_powers"):
        if key in data and data[key] < 1:
            raise WorldError(f"world.{key}={data[key]} is out of range; allowed an integer >= 1")
    if data.get("seed", 0) < 0:
        raise WorldError(f"world.seed={data['seed']} is out of range; allowed >= 0")
    return data
