"""The core: the model state as numpy arrays and one function per mechanism (the readable reference).

Production runs step the state with the compiled kernel (:mod:`sim.core.kernel`:
one numba function for a whole step and the recording of the metrics); the
numpy functions below are the readable reference that the kernel ports
formula by formula, with the docstrings that cite each mechanism's theory, and
``tests/test_kernel.py`` checks that the two agree on seeded runs. Shared by
both: :class:`Context`, :class:`State`, :func:`init_state` (with
:func:`spin_up`), :func:`replicate_rngs`, the uniforms' layout
(``Context.layout``) and :func:`apply_events` (scheduled events run in Python
in production too).

Every array has the replicate axis first (DESIGN.md §2): ``trust[r, i, j]``,
``threat_gp[r, i, g]``, ``identity[r, i, f]``, ``membership[r, i, k]``.
Pair quantities (trust, interaction density, disputes) are symmetric: they
describe the relationship of a pair, as DESIGN.md §3 defines them.

One step (DESIGN.md §3 "Schedule of one step"):

1. :func:`apply_events` -- scheduled scenario events (DOMAIN.md §5)
2. :func:`great_power_pressure` -- inducement, coercion, wedge, security offers
3. :func:`perceive_threat` -- external, neighbours (security dilemma), transnational
4. :func:`encounter`, :func:`interact`, :func:`bounded_confidence`, :func:`cultural_pull`
5. :func:`disputes` -- militarised incidents and settlement
6. :func:`choose` -- postures toward great powers (:func:`choose_postures`) and institutional
   membership (:func:`choose_memberships`)
7. :func:`deepen` -- institutional deepening, erosion and endogenous founding

Randomness: replicate r draws all of its uniforms for a step in one call to its
own generator (spawned from one ``SeedSequence``), in a fixed layout, whether
or not a mechanism is switched on. Replicate r is therefore bit-identical
whether it is stepped alone or inside a batch of any size, and ablations share
their random numbers (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .params import Params
from .scenario import EVENT_DEFAULTS, Event, Schedule
from .vocab import SCHEDULED_PREFIX, EventRecord, Level, Posture
from .world import World

#: Participation weight of each membership level (none, partner, observer, member: ``sim.core.vocab.Level``).
LEVEL_WEIGHT = np.array([0.0, 0.25, 0.5, 1.0])
MEMBER = Level.MEMBER
#: Depth at which each security mechanism of DOMAIN.md §5 becomes available:
#: statements, emergency ministerial meetings, defence-industry ties, collective security.
#: The OTS today (depth 0.35 in conf/world/turkic.yaml) has the first two; collective security at 0.8
#: is also the default depth threshold of tight coupling (params.phase.tight_depth).
SECURITY_MECHANISMS = (("statements", 0.15), ("emergency_meetings", 0.3),
                       ("defence_industry", 0.45), ("collective_security", 0.8))


def replicate_rngs(seed: int, replicates: int, first: int = 0) -> list[np.random.Generator]:
    """Generators for replicates ``first .. first+replicates-1`` of master ``seed``.

    Replicate k uses ``SeedSequence(seed, spawn_key=(k,))``, which is exactly
    ``SeedSequence(seed).spawn(n)[k]`` for any n > k: its stream does not
    depend on how many replicates run beside it.
    """
    return [np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(k,))))
            for k in range(first, first + replicates)]


@dataclass
class Context:
    """Everything constant during a run: world, parameters, schedule and derived static arrays."""

    world: World
    params: Params
    schedule: Schedule
    regional_power: np.ndarray = field(init=False)  # (N,) bool
    offdiag: np.ndarray = field(init=False)  # (N, N) bool
    led: np.ndarray = field(init=False)  # (K,) bool: institution has a great-power leader
    rivals: np.ndarray = field(init=False)  # (G,G) bool: g and h lead no institution together
    route_comp: np.ndarray = field(init=False)  # (N, N) route complementarity
    layout: dict[str, tuple[int, int, tuple[int, ...]]] = field(init=False)

    def __post_init__(self):
        w = self.world
        n, g, k = len(w.codes), len(w.gp_codes), len(w.institutions)
        self.regional_power = w.capability >= self.params.regional_power.threshold
        self.offdiag = ~np.eye(n, dtype=bool)
        self.led = w.inst_leaders.any(axis=1)
        lead = w.inst_leaders.astype(int)
        self.rivals = ((lead.T @ lead) == 0)  # (G,G): h can counterweigh g (they lead no institution together)
        r = w.route_dependence
        # A landlocked state gains from a partner with open routes (the corridor through AZE and TUR; DOMAIN.md §4).
        self.route_comp = (r[:, None] * (1 - r[None, :]) + r[None, :] * (1 - r[:, None])) * self.offdiag
        shapes = {"contact": (n, n), "coop": (n, n), "incident": (n, n), "review": (n,),
                  "posture": (n, g, 3), "membership": (n, k, len(Level))}
        self.layout, start = {}, 0
        for name, shape in shapes.items():
            size = int(np.prod(shape))
            self.layout[name] = (start, start + size, shape)
            start += size
        self.draws_per_step = start

    @property
    def dt(self) -> float:
        return self.schedule.dt


@dataclass
class State:
    """The model state of R replicates (replicate axis first)."""

    step: int
    trust: np.ndarray  # (R,N,N) T_ij in [0,1], symmetric, diagonal 1
    density: np.ndarray  # (R,N,N) I_ij >= 0 interaction density (contacts, decaying)
    dispute: np.ndarray  # (R,N,N) D_ij in [0,1]
    identity: np.ndarray  # (R,N,F) x_i in [0,1]^F
    threat_gp: np.ndarray  # (R,N,G) theta_ig
    threat_state: np.ndarray  # (R,N,N) theta_ij: threat i perceives from j
    transnational: np.ndarray  # (R,N) theta_i
    shock: np.ndarray  # (R,N) transient transnational shock
    dependence: np.ndarray  # (R,N,G) d_ig
    sovereignty: np.ndarray  # (R,N) s_i (events may change it)
    posture: np.ndarray  # (R,N,G) int8 in {-1,0,1}
    membership: np.ndarray  # (R,N,K) int8 level 0..3
    depth: np.ndarray  # (R,K) in [0,1]
    founded: np.ndarray  # (R,K) bool
    partner_open: np.ndarray  # (R,K) bool
    last_incident: np.ndarray  # (R,N,N) year of the last incident (-inf: never)
    incidents: np.ndarray  # (R,N,N) bool: incidents in the last step
    mutual: np.ndarray  # (R,N,N) M_ij mutual interest (derived, kept for metrics)
    shared: np.ndarray  # (R,N,N) S_ij shared-institution strength (derived)
    hazard: np.ndarray  # (R,N,N) annual incident probability (derived)
    contact: np.ndarray  # (R,N,N) bool: contacts in the last step
    ever_member: np.ndarray  # (R,N) bool: full member of the community institution at any step so far

    @property
    def replicates(self) -> int:
        return self.trust.shape[0]

    def copy(self) -> "State":
        return State(self.step, *(getattr(self, f).copy() for f in STATE_ARRAYS))

    def take(self, idx) -> "State":
        """The replicates ``idx`` (a slice or index array) as a new State."""
        return State(self.step, *(getattr(self, f)[idx].copy() for f in STATE_ARRAYS))


STATE_ARRAYS = [f for f in State.__dataclass_fields__ if f != "step"]


def init_state(ctx: Context, replicates: int) -> State:
    """The starting state: the scenario's starting values, memberships, neutral postures, then :func:`spin_up`.

    It uses no random numbers and is the same in every replicate, so it is built once and repeated.
    """
    one = _init_one(ctx)
    return one if replicates == 1 else one.take(np.zeros(replicates, dtype=np.intp))


def _init_one(ctx: Context) -> State:
    w, s = ctx.world, ctx.schedule
    R, n, g = 1, len(w.codes), len(w.gp_codes)

    def rep(a, dtype=float):
        return np.repeat(np.asarray(a, dtype=dtype)[None], R, axis=0)

    trust = rep(s.trust0 if s.trust0 is not None else w.trust * s.trust_scale + (1 - s.trust_scale) * np.eye(n))
    dispute = rep(s.dispute0 if s.dispute0 is not None else w.dispute)
    identity = rep(s.identity0 if s.identity0 is not None else w.identity)
    zeros_nn = np.zeros((R, n, n))
    st = State(
        step=0, trust=trust, density=zeros_nn.copy(), dispute=dispute, identity=identity,
        threat_gp=np.zeros((R, n, g)), threat_state=zeros_nn.copy(), transnational=rep(w.transnational),
        shock=np.zeros((R, n)), dependence=rep(w.dependence), sovereignty=rep(w.sovereignty),
        posture=np.zeros((R, n, g), dtype=np.int8), membership=rep(s.membership, np.int8),
        depth=rep(np.where(s.founded, w.inst_depth, 0.0)), founded=rep(s.founded, bool),
        partner_open=rep(s.partner_open, bool), last_incident=np.full((R, n, n), -np.inf),
        incidents=np.zeros((R, n, n), dtype=bool), mutual=zeros_nn.copy(), shared=zeros_nn.copy(),
        hazard=zeros_nn.copy(), contact=np.zeros((R, n, n), dtype=bool), ever_member=np.zeros((R, n), dtype=bool),
    )
    st.ever_member = members(st, ctx)
    st.shared = shared_institutions(st)
    spin_up(st, ctx)
    st.mutual = mutual_interest(st, ctx)
    st.hazard = 1.0 - np.exp(-incident_hazard(st, ctx))
    return st


def spin_up(st: State, ctx: Context, rounds: int = 20) -> None:
    """Start the fast variables at the steady state the starting institutions and strategies imply.

    A scenario starts in a world that already existed (DESIGN.md §6: never a cold
    start): the OTS of 2025 has had summits and contacts since 1992 (DOMAIN.md §5).
    Interaction density starts at its expected steady state under the starting
    contact rates, I* = P(contact) / (1 - exp(-decay dt)), found by fixed-point
    iteration (the tie term makes lambda depend on I); threat perception starts
    at the signal it would otherwise take ~1/adapt years to approach. Trust,
    identity, disputes, dependence and memberships are the scenario's documented
    starting values. Deterministic and the same in every replicate, so it uses no
    random numbers. Each part applies only when its mechanism is switched on.
    """
    m, dt = ctx.params.mechanisms, ctx.dt
    if m.interaction:
        keep = np.exp(-ctx.params.interaction.density_decay * dt)
        sim = similarity(st.identity)  # identities do not move during the spin-up
        for _ in range(rounds):
            st.density = (1.0 - np.exp(-contact_rate(st, ctx, sim) * dt)) * ctx.offdiag / max(1.0 - keep, 1e-12)
    if m.threat:
        strategy = ctx.schedule.strategy[0]
        pr = allocate_pressure(st, ctx, strategy) if m.pressure else no_pressure(st)
        st.threat_gp, st.threat_state = threat_targets(st, ctx, strategy, pr, similarity(st.identity))


# --------------------------------------------------------------------------- derived quantities

def participation(st: State) -> np.ndarray:
    """w_ik: participation weight of i in k (0 when k is not founded). (R,N,K)"""
    return LEVEL_WEIGHT[st.membership] * st.founded[:, None, :]


def shared_institutions(st: State) -> np.ndarray:
    """S_ij = 1 - prod_k (1 - depth_k * min(w_ik, w_jk)): strength of shared institutions in [0,1].

    Keohane 1984: institutions carry information and make defection costly in
    proportion to how deep they are and how fully both states take part.
    """
    w = participation(st)
    keep = np.ones(st.trust.shape)
    for k in range(w.shape[2]):
        keep *= 1.0 - st.depth[:, k, None, None] * np.minimum(w[:, :, None, k], w[:, None, :, k])
    out = 1.0 - keep
    n = out.shape[1]
    out[:, np.arange(n), np.arange(n)] = 0.0
    return out


def similarity(x: np.ndarray) -> np.ndarray:
    """sim_ij = 1 - ||x_i - x_j|| / sqrt(F), in [0,1] (identity closeness). (R,N,N)"""
    sq = (x * x).sum(-1)
    d2 = np.maximum(sq[:, :, None] + sq[:, None, :] - 2.0 * np.einsum("rif,rjf->rij", x, x), 0.0)
    return np.clip(1.0 - np.sqrt(d2 / x.shape[-1]), 0.0, 1.0)


def alignment(st: State, ctx: Context, w: np.ndarray | None = None) -> np.ndarray:
    """a_ig in [0,1]: how far i sits in g's camp (bandwagoning, or membership of an institution g leads). (R,N,G)"""
    w = participation(st) if w is None else w
    lead = ctx.world.inst_leaders  # (K,G)
    camp = np.max(w[:, :, :, None] * lead[None, None], axis=2) if lead.size else np.zeros(st.threat_gp.shape)
    return np.maximum(camp, (st.posture == Posture.BANDWAGON).astype(float))


def members(st: State, ctx: Context) -> np.ndarray:
    """Full members of the founded community institution. (R,N) bool"""
    c = ctx.world.community
    return (st.membership[:, :, c] == MEMBER) & st.founded[:, c, None]


def pair_mask(mask: np.ndarray) -> np.ndarray:
    """Distinct pairs (i != j) of masked states. (R,N,N) bool"""
    pm = mask[:, :, None] & mask[:, None, :]
    n = pm.shape[1]
    pm[:, np.arange(n), np.arange(n)] = False
    return pm


def pair_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of a pair quantity over distinct pairs of masked states; 0 where fewer than 2. (R,)"""
    pm = pair_mask(mask)
    cnt = pm.sum((1, 2))
    return np.where(cnt > 0, (values * pm).sum((1, 2)) / np.maximum(cnt, 1), 0.0)


def mutual_interest(st: State, ctx: Context) -> np.ndarray:
    """M_ij in [0,1]: long-term mutual interest (Adler & Barnett 1998 condition iii).

    Overlap of the pair's threat profiles (weighted Jaccard of their threats from
    each great power and from transnational threats: common threats make common
    interests) mixed with route complementarity (weight ``route_weight``).
    """
    v = np.concatenate([st.threat_gp, st.transnational[:, :, None]], axis=2)
    lo = np.zeros(st.trust.shape)
    for f in range(v.shape[2]):  # one (R,N,N) pass per threat source keeps memory at O(N^2)
        lo += np.minimum(v[:, :, None, f], v[:, None, :, f])
    total = v.sum(2)
    hi = total[:, :, None] + total[:, None, :] - lo  # sum of maxima = sum of both - sum of minima
    overlap = np.where(hi > 0, lo / np.where(hi > 0, hi, 1.0), 0.0)
    rw = ctx.params.interaction.route_weight
    return ((1 - rw) * overlap + rw * ctx.route_comp) * ctx.offdiag


def _symmetric(u: np.ndarray) -> np.ndarray:
    """Mirror the upper triangle of a (R,N,N) draw so each pair uses one number."""
    up = np.triu(u, 1)
    return up + np.transpose(up, (0, 2, 1))


# --------------------------------------------------------------------------- 1. events

def _value(ev: Event, kind: str) -> float:
    """The event's ``value``, or its type's documented default (``EVENT_DEFAULTS[kind]["value"]``)."""
    return EVENT_DEFAULTS[kind]["value"] if ev.value is None else ev.value


def apply_events(st: State, ctx: Context, log: list | None = None) -> None:
    """Scheduled scenario events of this step (DOMAIN.md §5), identical in every replicate.

    Types (see ``sim.core.scenario.EVENT_TYPES``): foundings and exogenous joins (the
    2009 Nakhchivan Agreement), wars (2020 Karabakh, 2022 Kyrgyz-Tajik),
    settlements, unrest with members' solidarity statements (Kazakhstan 2022),
    transnational shocks (2021 Afghanistan withdrawal), leadership changes that
    open foreign policy (Uzbekistan 2016), deepening steps (2021 renaming and
    2040 Vision; 2022 defence-industry cooperation), summits (1992 onward) and
    the opening of a partner level (OTS+ 2025). An event's ``value`` overrides
    its type's default (``sim.core.scenario.EVENT_DEFAULTS``, which also holds
    the fixed sizes of the unrest and leadership-change effects).
    """
    w = ctx.world
    year = ctx.schedule.year(st.step)
    for ev in ctx.schedule.events.get(st.step, []):
        idx = [w.codes.index(c) for c in ev.states]
        k = w.institutions.index(ev.institution) if ev.institution else None
        v = ev.value
        if ev.type == "found":
            st.founded[:, k] = True
            st.depth[:, k] = np.maximum(st.depth[:, k], ctx.params.institutions.found_depth if v is None else v)
            st.membership[:, idx, k] = MEMBER
        elif ev.type == "join":
            st.membership[:, idx, k] = Level.of(ev.level)
        elif ev.type == "leave":
            st.membership[:, idx, k] = 0
        elif ev.type == "war":
            a, b = idx
            rise = _value(ev, "war")
            st.dispute[:, a, b] = st.dispute[:, b, a] = np.minimum(1.0, st.dispute[:, a, b] + rise)
            cut = 1.0 - ctx.params.disputes.incident_cut
            st.trust[:, a, b] = st.trust[:, b, a] = st.trust[:, a, b] * cut
            st.last_incident[:, a, b] = st.last_incident[:, b, a] = year
            st.incidents[:, a, b] = st.incidents[:, b, a] = True
        elif ev.type == "settle":
            a, b = idx
            st.dispute[:, a, b] = st.dispute[:, b, a] = _value(ev, "settle")
        elif ev.type == "unrest":
            st.shock[:, idx] += _value(ev, "unrest")
            # Solidarity statements (OTS security tool 1): members trust the stricken member more.
            c = w.community
            can = st.founded[:, c] & (st.depth[:, c] >= SECURITY_MECHANISMS[0][1])
            mem = members(st, ctx) & can[:, None]
            for i in idx:
                gain = EVENT_DEFAULTS["unrest"]["solidarity"] * mem * mem[:, i, None]
                gain[:, i] = 0.0
                st.trust[:, i, :] += gain * (1 - st.trust[:, i, :])
                st.trust[:, :, i] = st.trust[:, i, :]
        elif ev.type == "transnational":
            st.shock[:, idx if idx else slice(None)] += v
        elif ev.type == "leadership_change":
            if v is not None:
                st.sovereignty[:, idx] = v
            st.dependence[:, idx, :] *= EVENT_DEFAULTS["leadership_change"]["dependence_kept"]
        elif ev.type == "deepen":
            st.depth[:, k] = np.maximum(st.depth[:, k], v)
        elif ev.type == "summit":
            sel = np.zeros(len(w.codes), dtype=bool)
            sel[idx] = True
            pair = sel[:, None] & sel[None, :] & ctx.offdiag
            st.density += _value(ev, "summit") * pair
            centre = st.identity[:, idx].mean(axis=1, keepdims=True)
            st.identity[:, idx] += ctx.params.identity.summit_pull * (centre - st.identity[:, idx])
        elif ev.type == "partner_format":
            st.partner_open[:, k] = True
        if log is not None:
            log.append(EventRecord(-1, st.step, year, SCHEDULED_PREFIX + ev.type, ",".join(ev.states),
                                   ev.institution or ev.gp or "", v if v is not None else np.nan))
    np.clip(st.trust, 0.0, 1.0, out=st.trust)
    np.clip(st.identity, 0.0, 1.0, out=st.identity)
    np.clip(st.shock, 0.0, 1.0, out=st.shock)


# --------------------------------------------------------------------------- 2. great powers

@dataclass
class Pressure:
    push: np.ndarray  # (R,G) pressure budget pi_g
    induce: np.ndarray  # (R,N,G)
    coerce: np.ndarray  # (R,N,G)
    wedge: np.ndarray  # (R,N,N)
    offer: np.ndarray  # (R,N,G)
    punish: np.ndarray  # (R,N,G) coercion a state expects if it joins a bloc g does not lead
    counterweight: np.ndarray | None = None  # (N,G) cw_ig, security engagement of the other powers


def no_pressure(st: State) -> Pressure:
    R, n, g = st.threat_gp.shape
    z = np.zeros((R, n, g))
    return Pressure(np.zeros((R, g)), z, z, np.zeros((R, n, n)), z, z, np.zeros((n, g)))


def counterweight(ctx: Context, strategy: np.ndarray) -> np.ndarray:
    """cw_ig: security engagement that state i can draw on from the great powers other than g. (N,G)

    cw_ig = sum_{h rival of g} kappa_h c_h p_ih sec_h (capacity, capability, reach and the
    share of its effort that goes into security offers); h is a rival of g unless
    the two lead an institution together (China and Russia co-lead the SCO,
    DOMAIN.md §2, and do not shield the region from each other). Waltz 1979: states balance
    with a partner; Harutyunyan et al. 2025: a state "balances rivals and allies with
    them when needed". The United States is the region's counterweight to Russia and
    China (DOMAIN.md §3: US presence after 2001, reduced after 2021).
    """
    eng = ctx.world.gp_proximity * (ctx.world.gp_capability * strategy[:, 0] * strategy[:, 4])[None]
    return eng @ ctx.rivals.astype(float)


def allocate_pressure(st: State, ctx: Context, strategy: np.ndarray) -> Pressure:
    """Great powers allocate pressure (Mearsheimer 2001; DOMAIN.md §2). Pure: changes nothing.

    pi_g = intensity * c_g * kappa_g(t) * h_g * (1 + reaction * C_g), where c_g is
    capability, kappa_g the scenario's capacity, h_g the hegemony drive and C_g
    the community's cohesion against g (mean member trust times the members'
    distance from g's camp): great powers push harder the more the community
    coheres against them. The budget is split by the scenario's mix (inducement,
    coercion, wedge, security offers) and reaches state i in proportion to
    p_ig (proximity/reach). Coercion and wedge work through leverage

        L_ig = (1 - counterweight cw_ig)_+ ((1 - asymmetry) + asymmetry d_ig):

    dependence is asymmetry a great power can use (DOMAIN.md §4: dependence on
    Russia/China routes deepens asymmetry), and a counterweight (:func:`counterweight`)
    shields a state from it.

    - coercion threatens states outside g's camp, more for community members
      (punishing rival blocs): pi_g m_coe p_ig L_ig (1 - a_ig)(1/2 + w_ic / 2);
    - wedge W_ij = sum_g pi_g m_wedge (p_ig L_ig + p_jg L_jg) / 2, raised by ``watch`` on
      pairs with a regional power (the Russia-Turkiye managed rivalry, Harutyunyan et al. 2025);
    - security offers make g-led institutions and bandwagoning attractive.
    """
    p, w = ctx.params.pressure, ctx.world
    reach = w.gp_proximity  # (N,G)
    part = participation(st)
    align = alignment(st, ctx, part)
    mem = members(st, ctx)
    member_trust = pair_mean(st.trust, mem)
    nmem = mem.sum(1)
    away = np.where(nmem[:, None] > 0, ((1 - align) * mem[:, :, None]).sum(1) / np.maximum(nmem, 1)[:, None], 0.0)
    cohesion = member_trust[:, None] * away * (nmem[:, None] >= 2)
    push = p.intensity * (w.gp_capability * strategy[:, 0] * w.gp_drive)[None] * (1.0 + p.reaction * cohesion)
    ind, coe, wed, sec = (strategy[:, c] for c in range(1, 5))
    cw = counterweight(ctx, strategy)
    shield = np.clip(1.0 - p.counterweight * cw, 0.0, 1.0)  # (N,G)
    lever = reach * shield * ((1.0 - p.asymmetry) + p.asymmetry * st.dependence)  # (R,N,G)
    induce = push[:, None, :] * ind * reach
    w_c = part[:, :, w.community]
    punish = push[:, None, :] * coe * lever
    coerce = punish * (1 - align) * (0.5 + 0.5 * w_c[:, :, None])
    wi = np.einsum("rg,rng->rn", push * wed, lever)
    wedge = 0.5 * (wi[:, :, None] + wi[:, None, :]) * ctx.offdiag
    if ctx.params.mechanisms.regional_power and ctx.params.regional_power.watch > 0:
        rp = ctx.regional_power
        wedge = wedge * (1 + ctx.params.regional_power.watch * (rp[:, None] | rp[None, :]))
    offer = push[:, None, :] * sec * reach
    return Pressure(push, induce, coerce, wedge, offer, punish, cw)


def outside_partners(st: State, ctx: Context) -> np.ndarray:
    """Capability of the community's outside partners (partner level), which members can trade and invest with. (R,)"""
    c = ctx.world.community
    partner = (st.membership[:, :, c] == Level.PARTNER) & st.founded[:, c, None]
    return (partner * ctx.world.capability[None]).sum(1)


def great_power_pressure(st: State, ctx: Context, strategy: np.ndarray) -> Pressure:
    """Allocate pressure (:func:`allocate_pressure`) and let it act on dependence and trust.

    Dependence: d_ig += dt (rate ind_ig (1 - d_ig) - diversification alt_ig d_ig + recovery (d0_ig - d_ig)),
    where alt_ig is what offers an alternative to dependence on g: the other great
    powers' inducement sum_{h != g} ind_ih, and, for members of the community, the
    capability of its outside partners (the OTS+ format: trade, routes, investment;
    DOMAIN.md §3, Kim). Trust: T_ij *= exp(-wedge_cut W_ij dt).
    """
    p, w = ctx.params.pressure, ctx.world
    pr = allocate_pressure(st, ctx, strategy)
    alt = pr.induce.sum(2, keepdims=True) - pr.induce
    alt = alt + (outside_partners(st, ctx)[:, None] * members(st, ctx))[:, :, None]
    dt = ctx.dt
    st.dependence += dt * (p.inducement_rate * pr.induce * (1 - st.dependence) - p.diversification * alt * st.dependence
                           + p.dependence_recovery * (w.dependence[None] - st.dependence))
    np.clip(st.dependence, 0.0, 1.0, out=st.dependence)
    st.trust *= np.exp(-p.wedge_cut * pr.wedge * dt)
    _unit_diagonal(st.trust)
    return pr


def _unit_diagonal(t: np.ndarray) -> None:
    n = t.shape[1]
    t[:, np.arange(n), np.arange(n)] = 1.0


# --------------------------------------------------------------------------- 3. threat

def threat_targets(st: State, ctx: Context, strategy: np.ndarray, pr: Pressure, sim: np.ndarray):
    """The signals theta*_ig (R,N,G) and theta*_ij (R,N,N) that perceived threat relaxes toward (see :func:`perceive_threat`)."""
    p, w = ctx.params.threat, ctx.world
    align = alignment(st, ctx)
    gp_level = (w.gp_capability * strategy[:, 0] * w.gp_drive)[None, None, :] * w.gp_proximity[None]
    target_gp = np.clip(ctx.params.pressure.base_threat * gp_level * (1 - align)
                        + ctx.params.pressure.coercion_threat * pr.coerce, 0.0, 1.0)
    raw = np.minimum(1.0, st.dispute + p.dilemma * w.capability[None, None, :] * w.proximity[None])
    target_st = raw * (1.0 - p.wendt * 0.5 * (st.trust + sim)) * ctx.offdiag
    return target_gp, target_st


def perceive_threat(st: State, ctx: Context, strategy: np.ndarray, pr: Pressure, sim: np.ndarray) -> None:
    """Threat perception: anarchy and the security dilemma filtered by trust and identity.

    Waltz 1979, Herz 1950: a capable neighbour is a threat -- more so with a dispute --
    unless trust and shared identity say otherwise (Wendt 1992: "anarchy is what
    states make of it"). Each threat relaxes toward its signal at rate ``adapt``:

    - great power: theta*_ig = base_threat c_g kappa_g h_g p_ig (1 - a_ig) + coercion_threat * coerce_ig;
    - neighbour:   theta*_ij = min(1, D_ij + dilemma c_j prox_ij) (1 - wendt (T_ij + sim_ij) / 2);
    - transnational: theta_i = min(1, exposure_i + shock_i), shocks decaying at ``shock_decay``.
    """
    p = ctx.params.threat
    rate = 1.0 - np.exp(-p.adapt * ctx.dt)
    target_gp, target_st = threat_targets(st, ctx, strategy, pr, sim)
    st.threat_gp += rate * (target_gp - st.threat_gp)
    st.threat_state += rate * (target_st - st.threat_state)
    st.shock *= np.exp(-p.shock_decay * ctx.dt)
    st.transnational = np.minimum(1.0, ctx.world.transnational[None] + st.shock)
    st.mutual = mutual_interest(st, ctx)


# --------------------------------------------------------------------------- 4. interaction

def encounter(st: State, ctx: Context, sim: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Which pairs meet this step: Poisson contact with rate lambda_ij, P(contact) = 1 - exp(-lambda_ij dt).

    lambda_ij = base + institution S_ij + proximity prox_ij + ties I_ij / (1 + I_ij)
    [+ courting sim_ij when i or j is a regional power]. Adler & Barnett 1998
    condition (ii): institutions and proximity make interaction many-sided and
    sustained; Harutyunyan et al. 2025: a rising regional power courts its kin.
    """
    lam = contact_rate(st, ctx, sim)
    contact = (_symmetric(u) < 1.0 - np.exp(-lam * ctx.dt)) & ctx.offdiag
    st.contact = contact
    return contact


def contact_rate(st: State, ctx: Context, sim: np.ndarray) -> np.ndarray:
    """lambda_ij: contacts per year (see :func:`encounter`). (R,N,N)"""
    p = ctx.params.interaction
    lam = (p.base_contact + p.institution_contact * st.shared + p.proximity_contact * ctx.world.proximity[None]
           + p.tie_contact * st.density / (1.0 + st.density))
    if ctx.params.mechanisms.regional_power:
        rp = ctx.regional_power
        lam = lam + ctx.params.regional_power.courting * sim * (rp[:, None] | rp[None, :])
    return lam


def interact(st: State, ctx: Context, contact: np.ndarray, pr: Pressure, u: np.ndarray) -> None:
    """Contact outcomes update trust and interaction density (reciprocity: Axelrod & Keohane 1985).

    A contact is cooperative with probability q_ij = logistic(coop_base + coop_interest M_ij
    + coop_trust T_ij - temptation W_ij): mutual interest and trust favour
    cooperation, a great power's wedge offers temptations to defect.
    Cooperation: T_ij += alpha_c (1 - T_ij); defection: T_ij -= alpha_d T_ij.
    Density: I_ij <- I_ij exp(-decay dt) + contact_ij.
    """
    p = ctx.params.interaction
    z = p.coop_base + p.coop_interest * st.mutual + p.coop_trust * st.trust - p.temptation * pr.wedge
    coop = _symmetric(u) < 1.0 / (1.0 + np.exp(-z))
    T = st.trust
    st.trust = np.where(contact, np.where(coop, T + p.trust_gain * (1 - T), T - p.trust_loss * T), T)
    st.density = st.density * np.exp(-p.density_decay * ctx.dt) + contact


def bounded_confidence(st: State, ctx: Context, contact: np.ndarray) -> None:
    """Identity convergence on contact, bounded confidence (Deffuant et al. 2000; Wendt 1994).

    For each feature f separately, a contact between i and j moves x_if toward
    x_jf by mu (x_jf - x_if) only if |x_jf - x_if| < epsilon. Deliberate deviation:
    updates are synchronous, and a state meeting several partners in one step
    averages their pulls (divides by its contact count), so that identities stay
    convex combinations; with one contact per step this is exactly Deffuant's rule.
    """
    p = ctx.params.identity
    x = st.identity
    pull = np.empty_like(x)
    for f in range(x.shape[2]):
        diff = x[:, None, :, f] - x[:, :, None, f]  # [r, i, j] = x_jf - x_if
        pull[:, :, f] = np.where(contact & (np.abs(diff) < p.confidence), diff, 0.0).sum(2)
    ncontact = np.maximum(contact.sum(2), 1)[:, :, None]
    st.identity = np.clip(x + p.convergence * pull / ncontact, 0.0, 1.0)


def cultural_pull(st: State, ctx: Context) -> None:
    """The community's cultural programmes pull participants toward their centre (TURKSOY 1993, Turkic Academy 2012).

    For the community institution c once founded: x_i += (1 - exp(-pull depth_c dt)) w_ic (c_c - x_i),
    c_c the participation-weighted centre of its participants (DOMAIN.md §5: the
    OTS's cultural bodies; Wendt 1994: collective identity is built by institutions).
    Other institutions have no cultural programme here.
    """
    part = participation(st)
    x = st.identity
    for k in (ctx.world.community,):
        wk = part[:, :, k]  # (R,N)
        tot = wk.sum(1)
        centre = np.einsum("rn,rnf->rf", wk, x) / np.maximum(tot, 1e-12)[:, None]
        rate = (1.0 - np.exp(-ctx.params.identity.cultural_pull * st.depth[:, k] * ctx.dt)) * (tot > 0)
        x = x + (rate[:, None] * wk)[:, :, None] * (centre[:, None, :] - x)
    st.identity = np.clip(x, 0.0, 1.0)


# --------------------------------------------------------------------------- 5. disputes

def incident_hazard(st: State, ctx: Context) -> np.ndarray:
    """Incidents per year h_ij: a cause, damped log-linearly by trust and shared institutions.

    h_ij = (base_hazard D_ij (1 + threat_weight th_ij) + friction th_ij) exp(-pacification T_ij - mediation S_ij),
    th_ij = (theta_ij + theta_ji) / 2 the pair's mutual threat perception.

    An incident needs a cause: a dispute D_ij (DOMAIN.md §4: Soviet border-drawing,
    Fergana, Karabakh) or the security dilemma between states that fear each other
    (Herz 1950; Waltz 1979; th_ij is already filtered by trust and shared identity,
    Wendt 1992). Trust and shared institutions act multiplicatively, as in the
    log-linear (logit) conflict models of Russett & Oneal 2001, where each shared
    IGO scales the odds of a dispute; strong trust makes violence "unthinkable"
    (Deutsch et al. 1957: dependable expectations of peaceful change): at T = 0.9
    and the default pacification 6, the hazard is 0.5% of a distrustful pair's.
    """
    p = ctx.params.disputes
    mutual_threat = 0.5 * (st.threat_state + np.transpose(st.threat_state, (0, 2, 1)))
    cause = p.base_hazard * st.dispute * (1 + p.threat_weight * mutual_threat) + p.friction * mutual_threat
    return cause * np.exp(-p.pacification * st.trust - p.mediation * st.shared) * ctx.offdiag


def disputes(st: State, ctx: Context, u: np.ndarray, log: list | None = None) -> None:
    """Militarised incidents and peaceful settlement (Deutsch et al. 1957: the outcome is their absence).

    An incident occurs with probability 1 - exp(-h_ij dt); it cuts trust by
    ``incident_cut`` and raises the dispute by ``escalation``. Disputes settle at
    rate settle_rate T_ij S_ij (institutions mediate). A regional power backs the
    side it trusts more by ``margin`` (Turkiye backing Azerbaijan in 2020): trust
    with the backed side rises by ``backing``, with the other falls.
    """
    p, dt = ctx.params.disputes, ctx.dt
    h = incident_hazard(st, ctx)
    st.hazard = 1.0 - np.exp(-h)
    inc = (_symmetric(u) < 1.0 - np.exp(-h * dt)) & ctx.offdiag
    year = ctx.schedule.year(st.step)
    st.incidents |= inc
    st.trust = np.where(inc, st.trust * (1 - p.incident_cut), st.trust)
    st.dispute = np.where(inc, np.minimum(1.0, st.dispute + p.escalation), st.dispute)
    st.last_incident = np.where(inc, year, st.last_incident)
    st.dispute = st.dispute * np.exp(-p.settle_rate * st.trust * st.shared * dt) * ctx.offdiag
    if inc.any():
        rs, a_s, b_s = np.nonzero(np.triu(inc, 1))
        rp = np.flatnonzero(ctx.regional_power) if ctx.params.mechanisms.regional_power else []
        rpp = ctx.params.regional_power
        for r, a, b in zip(rs, a_s, b_s):
            if log is not None:
                log.append(EventRecord(int(r), st.step, year, "incident", ctx.world.codes[a], ctx.world.codes[b],
                                       h[r, a, b]))
            for i in rp:
                if i in (a, b):
                    continue
                ta, tb = st.trust[r, i, a], st.trust[r, i, b]
                if abs(ta - tb) < rpp.margin:
                    continue
                win, lose = (a, b) if ta > tb else (b, a)
                st.trust[r, i, win] += rpp.backing * (1 - st.trust[r, i, win])
                st.trust[r, i, lose] *= 1 - rpp.backing
                st.trust[r, win, i], st.trust[r, lose, i] = st.trust[r, i, win], st.trust[r, i, lose]
                if log is not None:
                    log.append(EventRecord(int(r), st.step, year, "backing", ctx.world.codes[i], ctx.world.codes[win],
                                           np.nan))


# --------------------------------------------------------------------------- 6. choice

def _gumbel(u: np.ndarray) -> np.ndarray:
    return -np.log(-np.log(np.clip(u, 1e-300, 1.0 - 1e-16)))


def choose(st: State, ctx: Context, pr: Pressure, sim: np.ndarray, u_review: np.ndarray,
           u_posture: np.ndarray, u_member: np.ndarray, log: list | None = None) -> None:
    """Step 6: the states that review this step choose their postures, then their memberships.

    Each state reviews with probability review_rate dt (one uniform per state,
    ``u_review``); a reviewing state makes both choices: :func:`choose_postures`
    (uniforms ``u_posture``) and :func:`choose_memberships` (uniforms ``u_member``).
    Each choice picks each option with probability proportional to exp(U / temperature)
    (Gumbel-max sampling). The membership choice reads no posture, so the order
    of the two does not matter; every uniform is drawn whether or not it is used
    (``Context.layout``). ``sim`` is unused (kept for the kernel's reference signature).
    """
    review = u_review < ctx.params.choice.review_rate * ctx.dt
    if not review.any():
        return
    choose_postures(st, ctx, pr, review, u_posture)
    choose_memberships(st, ctx, pr, review, u_member, log)


def choose_postures(st: State, ctx: Context, pr: Pressure, review: np.ndarray, u_posture: np.ndarray) -> None:
    """Postures toward each great power by logit choice, for the states in ``review`` ((R, N) bool).

    Posture toward g (Waltz 1979 balancing vs bandwagoning; hedging for
    sovereignty-sensitive states): U_balance = balance theta_ig (c_i + w_ic T_i,members + cw_ig) - economy d_ig,
    balancing needs a threat and the means to meet it: own capability, the community's
    support and a counterweight great power (:func:`counterweight`; Harutyunyan et al. 2025
    strategic balancing);
    U_hedge = hedge_bonus s_i; U_bandwagon = economy d_ig + offer o_ig.
    """
    p, w = ctx.params.choice, ctx.world
    part = participation(st)
    c = w.community
    member_support = part[:, :, c] * pair_row_mean(st.trust, part[:, :, c] > 0)
    support = w.capability[None, :, None] + member_support[:, :, None] + pr.counterweight[None]
    u_bal = p.balance * st.threat_gp * support - p.economy * st.dependence
    u_hedge = np.broadcast_to(p.hedge_bonus * st.sovereignty[:, :, None], u_bal.shape)
    u_band = p.economy * st.dependence + p.offer * pr.offer
    util = np.stack([u_bal, u_hedge, u_band], axis=-1) / p.temperature + _gumbel(u_posture)
    new_posture = (np.argmax(util, axis=-1) - 1).astype(np.int8)
    st.posture = np.where(review[:, :, None], new_posture, st.posture)


def choose_memberships(st: State, ctx: Context, pr: Pressure, review: np.ndarray, u_member: np.ndarray,
                       log: list | None = None) -> None:
    """Membership levels in every institution by logit choice, for the states in ``review`` ((R, N) bool).

    Membership level l of i in k: U = w(l) B_ik - [l = member] sovereignty s_i (commitment + depth_k)
    - switch_cost |l - l_now| with
    B_ik = security depth_k threat_ik + economy econ_ik + identity fit_ik + trust (T_i,k - 1/2)
           - punishment sum_{g not leading k} punish_ig + offer sum_{g leading k} o_ig - entry_cost,
    where threat_ik is i's largest threat not posed by k's own leader, econ_ik is
    dependence on k's leader (or route complementarity with k's members for an
    unled institution), fit_ik identity closeness to k's members' centre and
    T_i,k mean trust in k's members (Keohane 1984; Mearsheimer 1994/95: rival
    institutions pull against the community). Levels above eligibility, in
    unfounded institutions, or 'partner' where no partner format is open, are excluded.
    A regional power values an institution without a great-power leader by
    ``regional_power.leadership`` more (its platform; Harutyunyan et al. 2025).
    Identity fit counts only for institutions without a great-power leader:
    a community rests on shared identity (Adler & Barnett 1998), a great
    power's institution is an instrument of its strategy (Mearsheimer 1994/95).
    """
    p, w = ctx.params.choice, ctx.world
    K = st.membership.shape[2]
    part = participation(st)
    lead = w.inst_leaders.astype(float)  # (K,G)
    threat_max = np.maximum(st.transnational[:, :, None],
                            np.max(st.threat_gp[:, :, None, :] * (1 - lead)[None, None], axis=-1))  # (R,N,K)
    x = st.identity
    B = p.security * st.depth[:, None, :] * threat_max
    for k in range(K):
        inside = part[:, :, k] > 0  # (R,N)
        if ctx.led[k]:
            econ = (st.dependence * lead[k]).max(-1)
        else:
            econ = pair_row_mean(ctx.route_comp[None], inside)
        tot = part[:, :, k].sum(1)
        centre = np.einsum("rn,rnf->rf", part[:, :, k], x) / np.maximum(tot, 1e-12)[:, None]
        fit = np.where(tot[:, None] > 0, 1 - np.sqrt(((x - centre[:, None]) ** 2).mean(-1)), 0.5)
        fit = fit * (not ctx.led[k])  # identity fit draws states to a community, not to a great power's instrument
        B[:, :, k] += (p.economy * econ + p.identity * fit + p.trust * (pair_row_mean(st.trust, inside) - 0.5)
                       - p.punishment * (pr.punish * (1 - lead[k])).sum(-1)
                       + p.offer * (pr.offer * lead[k]).sum(-1) - p.entry_cost)
        if ctx.params.mechanisms.regional_power and not ctx.led[k]:
            # A rising regional power leads the community institution it belongs to: its platform for
            # courting neighbours and preventing hostile coalitions (Harutyunyan et al. 2025).
            B[:, :, k] += ctx.params.regional_power.leadership * ctx.regional_power
    # Only full members pool sovereignty: partners and observers commit to nothing (Adler 1991).
    sov_cost = p.sovereignty * st.sovereignty[:, :, None] * (p.commitment + st.depth[:, None, :])
    levels = np.arange(len(Level))
    U = (LEVEL_WEIGHT[None, None, None, :] * B[..., None] - (levels == MEMBER) * sov_cost[..., None]
         - p.switch_cost * np.abs(levels - st.membership[..., None]))
    allowed = (levels <= w.eligibility[None, :, :, None]) & ((levels == 0) | st.founded[:, None, :, None])
    partner_ok = st.partner_open | ctx.led[None, :]
    allowed &= (levels != 1) | partner_ok[:, None, :, None]
    allowed |= levels == st.membership[..., None]  # staying is always possible
    score = np.where(allowed, U / p.temperature + _gumbel(u_member), -np.inf)
    new = np.argmax(score, axis=-1).astype(np.int8)
    new = np.where(review[:, :, None], new, st.membership)
    if log is not None:
        for r, i, k in zip(*np.nonzero(new != st.membership)):
            kind = "join" if new[r, i, k] > st.membership[r, i, k] else "exit"
            log.append(EventRecord(int(r), st.step, ctx.schedule.year(st.step), kind, w.codes[i], w.institutions[k],
                                   float(new[r, i, k])))
    st.membership = new


def pair_row_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """For each i: mean of values[i, j] over masked j != i; 0 where none. (R,N)"""
    n = mask.shape[1]
    m = np.repeat(mask[:, None, :], n, axis=1)
    m[:, np.arange(n), np.arange(n)] = False
    cnt = m.sum(2)
    return np.where(cnt > 0, (values * m).sum(2) / np.maximum(cnt, 1), 0.0)


# --------------------------------------------------------------------------- 7. institutions

def deepen(st: State, ctx: Context, log: list | None = None) -> None:
    """Institutional deepening, erosion and endogenous founding (Keohane 1984; Adler & Barnett 1998).

    An institution without a great-power leader deepens by deepen_rate dt when
    its members' mean trust is at least deepen_trust and no member vetoes
    (a member vetoes when its sovereignty sensitivity exceeds its own mean trust
    in the other members by veto_margin: pooling sovereignty needs trust). It
    erodes by erode_rate dt when mean trust falls below erode_trust. Depth
    thresholds unlock the OTS's security tools (``SECURITY_MECHANISMS``).

    If the community institution does not exist, endogenous founding is on and
    the scenario does not schedule its founding (a given founding, such as the
    2009 Nakhchivan Agreement in the historical scenario), it is founded when an eligible state and at least min_founders - 1 eligible
    partners trust it at least found_trust (the 2009 Nakhchivan pattern).
    """
    p, w = ctx.params.institutions, ctx.world
    dt = ctx.dt
    year = ctx.schedule.year(st.step)
    for k in np.flatnonzero(~ctx.led):
        mem = (st.membership[:, :, k] == MEMBER) & st.founded[:, k, None]
        enough = mem.sum(1) >= 2
        mean_t = pair_mean(st.trust, mem)
        own = pair_row_mean(st.trust, mem)
        veto = (mem & (st.sovereignty > own + p.veto_margin)).any(1)
        up = enough & (mean_t >= p.deepen_trust) & ~veto
        down = enough & (mean_t < p.erode_trust)
        old = st.depth[:, k].copy()
        st.depth[:, k] = np.clip(old + dt * (p.deepen_rate * up - p.erode_rate * down), 0.0, 1.0)
        if log is not None:
            for name, level in SECURITY_MECHANISMS:
                for r in np.flatnonzero((old < level) & (st.depth[:, k] >= level)):
                    log.append(EventRecord(int(r), st.step, year, "deepening", name, w.institutions[k], level))
    c = w.community
    if p.endogenous_founding and not ctx.schedule.found_given[c] and not st.founded[:, c].all():
        elig = w.eligibility[:, c] == MEMBER
        for r in np.flatnonzero(~st.founded[:, c]):
            A = (st.trust[r] >= p.found_trust) & ctx.offdiag & elig[:, None] & elig[None, :]
            deg = A.sum(1)
            i = int(np.argmax(deg))
            if deg[i] + 1 >= p.min_founders:
                founders = np.flatnonzero(A[i]).tolist() + [i]
                st.founded[r, c] = True
                st.depth[r, c] = max(st.depth[r, c], p.found_depth)
                st.membership[r, founders, c] = MEMBER
                if log is not None:
                    log.append(EventRecord(int(r), st.step, year, "founding",
                                           ",".join(w.codes[j] for j in sorted(founders)), w.institutions[c],
                                           p.found_depth))


# --------------------------------------------------------------------------- one step

def draw(rngs: list[np.random.Generator], ctx: Context) -> dict[str, np.ndarray]:
    """All uniforms of one step: one call per replicate generator, split by the fixed layout."""
    u = np.stack([g.random(ctx.draws_per_step) for g in rngs])
    R = len(rngs)
    return {name: u[:, a:b].reshape((R,) + shape) for name, (a, b, shape) in ctx.layout.items()}


def step(st: State, ctx: Context, rngs: list[np.random.Generator], log: list | None = None) -> State:
    """Advance every replicate by one step (DESIGN.md §3 schedule). Mutates and returns ``st``.

    The numpy reference; runs use :func:`sim.core.kernel.step` / :func:`sim.core.kernel.advance`, which give the same.
    """
    m = ctx.params.mechanisms
    u = draw(rngs, ctx)
    st.incidents = np.zeros_like(st.incidents)
    if m.events:
        apply_events(st, ctx, log)
    strategy = ctx.schedule.strategy[min(st.step, len(ctx.schedule.strategy) - 1)]
    st.shared = shared_institutions(st)
    sim = similarity(st.identity)
    pr = great_power_pressure(st, ctx, strategy) if m.pressure else no_pressure(st)
    if m.threat:
        perceive_threat(st, ctx, strategy, pr, sim)
    contact = encounter(st, ctx, sim, u["contact"])
    if m.interaction:
        interact(st, ctx, contact, pr, u["coop"])
    if m.identity:
        bounded_confidence(st, ctx, contact)
    if m.cultural_pull:
        cultural_pull(st, ctx)
    if m.disputes:
        disputes(st, ctx, u["incident"], log)
    else:
        st.hazard = 1.0 - np.exp(-incident_hazard(st, ctx))
    if m.choice:
        choose(st, ctx, pr, sim, u["review"], u["posture"], u["membership"], log)
    if m.deepening:
        deepen(st, ctx, log)
    np.clip(st.trust, 0.0, 1.0, out=st.trust)
    _unit_diagonal(st.trust)
    st.ever_member |= members(st, ctx)
    st.step += 1
    return st
