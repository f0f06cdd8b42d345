"""The numba functions of the compiled kernel (see :mod:`sim.core.kernel`, which runs them).

Kept apart from the Python driver because numba's on-disk cache is keyed on this
file: editing it recompiles the kernel (tens of seconds), editing sim/core/kernel.py does not.
Every constant the compiled code reads is defined here for the same reason.
"""

from __future__ import annotations

import numpy as np

from .kernel_cache import CACHE_DIR  # chosen (and NUMBA_CACHE_DIR set) before numba is imported

import numba  # after the cache directory is chosen
from numba import njit

if CACHE_DIR is not None:
    numba.config.CACHE_DIR = CACHE_DIR

#: Every compiled function: cached on disk; numpy's error model (a float division by zero gives inf/nan
#: instead of raising), which drops a check from every division -- each denominator here is guarded or
#: positive, so the results are those of the Python model.
kernel = njit(cache=True, error_model="numpy")


# --------------------------------------------------------------------------- packed parameters

#: Every parameter the kernel reads, in the order of the packed array (sim.core.params.Params, calibration.source aside).
PARAMS = (
    "mechanisms.events", "mechanisms.pressure", "mechanisms.threat", "mechanisms.interaction",
    "mechanisms.identity", "mechanisms.cultural_pull", "mechanisms.disputes", "mechanisms.choice",
    "mechanisms.deepening", "mechanisms.regional_power",
    "pressure.intensity", "pressure.reaction", "pressure.inducement_rate", "pressure.dependence_recovery",
    "pressure.coercion_threat", "pressure.wedge_cut", "pressure.base_threat", "pressure.counterweight",
    "pressure.asymmetry", "pressure.diversification",
    "threat.adapt", "threat.dilemma", "threat.wendt", "threat.shock_decay",
    "interaction.base_contact", "interaction.institution_contact", "interaction.proximity_contact",
    "interaction.tie_contact", "interaction.coop_base", "interaction.coop_interest", "interaction.coop_trust",
    "interaction.temptation", "interaction.trust_gain", "interaction.trust_loss", "interaction.density_decay",
    "interaction.density_half", "interaction.route_weight",
    "identity.confidence", "identity.convergence", "identity.cultural_pull", "identity.summit_pull",
    "disputes.base_hazard", "disputes.friction", "disputes.threat_weight", "disputes.pacification",
    "disputes.mediation", "disputes.incident_cut", "disputes.escalation", "disputes.settle_rate",
    "choice.review_rate", "choice.temperature", "choice.balance", "choice.security", "choice.economy",
    "choice.identity", "choice.trust", "choice.sovereignty", "choice.commitment", "choice.punishment",
    "choice.offer", "choice.entry_cost", "choice.switch_cost", "choice.hedge_bonus",
    "institutions.deepen_rate", "institutions.deepen_trust", "institutions.erode_trust", "institutions.erode_rate",
    "institutions.veto_margin", "institutions.endogenous_founding", "institutions.found_trust",
    "institutions.min_founders", "institutions.found_depth",
    "regional_power.threshold", "regional_power.courting", "regional_power.backing", "regional_power.margin",
    "regional_power.watch", "regional_power.leadership",
    "phase.nascent_members", "phase.ascendant_trust", "phase.ascendant_identity", "phase.ascendant_interaction",
    "phase.mature_peace", "phase.mature_years", "phase.mature_min_trust", "phase.mature_interest",
    "phase.mature_identity", "phase.tight_trust", "phase.tight_depth", "phase.breadth", "phase.bloc_trust",
)
# Indices into the packed array (numba reads these module constants at compile time).
(M_EVENTS, M_PRESSURE, M_THREAT, M_INTERACTION, M_IDENTITY, M_CULTURAL_PULL, M_DISPUTES, M_CHOICE, M_DEEPENING,
 M_REGIONAL_POWER,
 PR_INTENSITY, PR_REACTION, PR_INDUCEMENT_RATE, PR_DEPENDENCE_RECOVERY, PR_COERCION_THREAT, PR_WEDGE_CUT,
 PR_BASE_THREAT, PR_COUNTERWEIGHT, PR_ASYMMETRY, PR_DIVERSIFICATION,
 TH_ADAPT, TH_DILEMMA, TH_WENDT, TH_SHOCK_DECAY,
 IN_BASE_CONTACT, IN_INSTITUTION_CONTACT, IN_PROXIMITY_CONTACT, IN_TIE_CONTACT, IN_COOP_BASE, IN_COOP_INTEREST,
 IN_COOP_TRUST, IN_TEMPTATION, IN_TRUST_GAIN, IN_TRUST_LOSS, IN_DENSITY_DECAY, IN_DENSITY_HALF, IN_ROUTE_WEIGHT,
 ID_CONFIDENCE, ID_CONVERGENCE, ID_CULTURAL_PULL, ID_SUMMIT_PULL,
 DI_BASE_HAZARD, DI_FRICTION, DI_THREAT_WEIGHT, DI_PACIFICATION, DI_MEDIATION, DI_INCIDENT_CUT, DI_ESCALATION,
 DI_SETTLE_RATE,
 CH_REVIEW_RATE, CH_TEMPERATURE, CH_BALANCE, CH_SECURITY, CH_ECONOMY, CH_IDENTITY, CH_TRUST, CH_SOVEREIGNTY,
 CH_COMMITMENT, CH_PUNISHMENT, CH_OFFER, CH_ENTRY_COST, CH_SWITCH_COST, CH_HEDGE_BONUS,
 INS_DEEPEN_RATE, INS_DEEPEN_TRUST, INS_ERODE_TRUST, INS_ERODE_RATE, INS_VETO_MARGIN, INS_ENDOGENOUS_FOUNDING,
 INS_FOUND_TRUST, INS_MIN_FOUNDERS, INS_FOUND_DEPTH,
 RP_THRESHOLD, RP_COURTING, RP_BACKING, RP_MARGIN, RP_WATCH, RP_LEADERSHIP,
 PH_NASCENT_MEMBERS, PH_ASCENDANT_TRUST, PH_ASCENDANT_IDENTITY, PH_ASCENDANT_INTERACTION, PH_MATURE_PEACE,
 PH_MATURE_YEARS, PH_MATURE_MIN_TRUST, PH_MATURE_INTEREST, PH_MATURE_IDENTITY, PH_TIGHT_TRUST, PH_TIGHT_DEPTH,
 PH_BREADTH, PH_BLOC_TRUST) = range(len(PARAMS))

_PREFIX = {"mechanisms": "M", "pressure": "PR", "threat": "TH", "interaction": "IN", "identity": "ID",
           "disputes": "DI", "choice": "CH", "institutions": "INS", "regional_power": "RP", "phase": "PH"}
for _i, _name in enumerate(PARAMS):  # the two lists above must agree name by name
    _group, _leaf = _name.split(".")
    assert globals()[f"{_PREFIX[_group]}_{_leaf.upper()}"] == _i, _name

# Integer constants of a run (the `ints` array).
I_N, I_G, I_K, I_F, I_COMMUNITY, I_FOUND_GIVEN, I_STEPS_PER_YEAR, I_START_YEAR = range(8)
I_LAYOUT = 8  # six offsets into a step's uniforms: contact, coop, incident, review, posture, membership
N_INTS = I_LAYOUT + 6
LAYOUT = ("contact", "coop", "incident", "review", "posture", "membership")

#: Participation weight of each level (sim.core.dynamics.LEVEL_WEIGHT; a test checks they agree).
LEVEL_WEIGHT = np.array([0.0, 0.25, 0.5, 1.0])
MEMBER, PARTNER = 3, 1
#: Pair loops run over TILE x TILE blocks of (i < j) so that the mirrored writes [j, i] stay in cache.
TILE = 16
#: Depths of the security mechanisms (sim.core.dynamics.SECURITY_MECHANISMS, same order).
SECURITY_LEVELS = np.array([0.15, 0.3, 0.45, 0.8])

# Metric rows of the recording (sim.core.metrics.measure's keys in its order; then 3 per great power, then phase).
(MT_YEAR, MT_MEMBERS, MT_BREADTH, MT_IDENTITY, MT_INTERACTION, MT_INTEREST, MT_TRUST_MEAN, MT_TRUST_MIN, MT_PEACE,
 MT_YEARS_SINCE, MT_DEPTH, MT_INCIDENTS, MT_MEMBER_INCIDENTS, MT_REGION_TRUST, MT_BLOCS) = range(15)
BASE_METRICS = ("year", "members", "breadth", "identity", "interaction", "interest", "trust_mean", "trust_min",
                "peace", "years_since_incident", "depth", "incidents", "member_incidents", "region_trust", "blocs")
MT_POSTURES = len(BASE_METRICS)

# Event-log columns and kinds.
LG_STEP, LG_STAGE, LG_KEY, LG_REP, LG_KIND, LG_A, LG_B, LG_VALUE = range(8)
LOG_COLUMNS = 8
K_INCIDENT, K_BACKING, K_JOIN, K_EXIT, K_DEEPENING, K_FOUNDER, K_FOUNDING = range(7)
KINDS = ("incident", "backing", "join", "exit", "deepening", "founder", "founding")
ST_DISPUTES, ST_CHOICE, ST_DEEPEN, ST_FOUNDING = 1, 2, 3, 4


def metric_names(gp_codes) -> list[str]:
    """The metric keys in recording order (those of :func:`sim.core.metrics.measure`)."""
    names = list(BASE_METRICS)
    for code in gp_codes:
        names += [f"balance_{code}", f"hedge_{code}", f"bandwagon_{code}"]
    return names + ["phase"]


# --------------------------------------------------------------------------- small helpers


@kernel
def _log(log, nlog, step, stage, key, r, kind, a, b, value):
    """Append one row to the event log, doubling its capacity when full."""
    if nlog >= log.shape[0]:
        bigger = np.empty((2 * log.shape[0] + 16, LOG_COLUMNS))
        bigger[:nlog] = log[:nlog]
        log = bigger
    row = log[nlog]
    row[LG_STEP] = step
    row[LG_STAGE] = stage
    row[LG_KEY] = key
    row[LG_REP] = r
    row[LG_KIND] = kind
    row[LG_A] = a
    row[LG_B] = b
    row[LG_VALUE] = value
    return log, nlog + 1


@kernel
def _clip01(v):
    if v < 0.0:
        return 0.0
    if v > 1.0:
        return 1.0
    return v


@kernel
def _gumbel(u):
    if u < 1e-300:
        u = 1e-300
    elif u > 1.0 - 1e-16:
        u = 1.0 - 1e-16
    return -np.log(-np.log(u))


def _gumbel_bounds(bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of :func:`_gumbel` on each bin [q / bins, (q + 1) / bins) of the uniform.

    The Gumbel value is increasing in u, so its values at a bin's ends (clipped as ``_gumbel``
    clips) bound it; the choices compare these bounds first and compute the two logs of a draw
    only when the bounds cannot tell the winner (see :func:`_pick`).
    """
    edges = np.arange(bins + 1) / bins
    clipped = np.clip(edges, 1e-300, 1.0 - 1e-16)
    g = -np.log(-np.log(clipped))
    return g[:-1].copy(), g[1:].copy()


#: Bins of the uniform for the Gumbel bounds (a power of two: u * GUMBEL_BINS is exact).
GUMBEL_BINS = 4096
GUMBEL_LO, GUMBEL_HI = _gumbel_bounds(GUMBEL_BINS)
#: Relative margin of a decision from the bounds: covers the rounding of the logs and of a + g (~1e-15).
GUMBEL_TOL = 1e-9


@kernel
def _pick(a, q, ok, m):
    """The index of the largest a[l] + gumbel(u_l) among the m options with ok[l], if the bounds decide it, else -1.

    ``q[l]`` is the bin of u_l. Returns l only if its lower bound exceeds every other option's upper
    bound by a margin, so that the exact values (the reference's comparison, first wins on ties)
    would choose l too; otherwise -1 and the caller computes the exact values.
    """
    best = -1
    lo_best = 0.0
    for l in range(m):
        if ok[l]:
            lo = a[l] + GUMBEL_LO[q[l]]
            if best < 0 or lo > lo_best:
                best, lo_best = l, lo
    for l in range(m):
        if ok[l] and l != best:
            hi = a[l] + GUMBEL_HI[q[l]]
            if not hi + GUMBEL_TOL * (1.0 + abs(hi) + abs(lo_best)) < lo_best:
                return -1
    return best


@kernel
def _participation(membership, founded, part):
    """w_ik (sim.core.dynamics.participation)."""
    n, K = membership.shape
    for i in range(n):
        for k in range(K):
            part[i, k] = LEVEL_WEIGHT[membership[i, k]] * founded[k]


@kernel
def _members(membership, founded, c, out):
    """Full members of the founded community institution (sim.core.dynamics.members)."""
    for i in range(membership.shape[0]):
        out[i] = membership[i, c] == MEMBER and founded[c]


@kernel
def _pair_mean(values, mask):
    """Mean of values over ordered pairs i != j of masked states; 0 with fewer than two (sim.core.dynamics.pair_mean)."""
    n = mask.shape[0]
    s = 0.0
    cnt = 0
    for i in range(n):
        if mask[i]:
            for j in range(n):
                if j != i and mask[j]:
                    s += values[i, j]
                    cnt += 1
    return s / cnt if cnt > 0 else 0.0


@kernel
def _pair_row_mean(values, mask, out):
    """out_i = mean of values[i, j] over masked j != i; 0 where none (sim.core.dynamics.pair_row_mean)."""
    n = mask.shape[0]
    for i in range(n):
        s = 0.0
        cnt = 0
        for j in range(n):
            if j != i and mask[j]:
                s += values[i, j]
                cnt += 1
        out[i] = s / cnt if cnt > 0 else 0.0


@kernel
def _sim_pair(x, sq, i, j):
    """sim_ij = 1 - ||x_i - x_j|| / sqrt(F), clipped to [0, 1] (sim.core.dynamics.similarity, the same formula)."""
    F = x.shape[1]
    d = 0.0
    for f in range(F):
        d += x[i, f] * x[j, f]
    d2 = sq[i] + sq[j] - 2.0 * d
    if d2 < 0.0:
        d2 = 0.0
    return _clip01(1.0 - np.sqrt(d2 / F))


@kernel
def _squares(x, sq):
    for i in range(x.shape[0]):
        s = 0.0
        for f in range(x.shape[1]):
            s += x[i, f] * x[i, f]
        sq[i] = s


@kernel
def _shared_pair(part, depth, i, j):
    """S_ij = 1 - prod_k (1 - depth_k min(w_ik, w_jk)) (sim.core.dynamics.shared_institutions)."""
    keep = 1.0
    for k in range(part.shape[1]):
        a, b = part[i, k], part[j, k]
        keep *= 1.0 - depth[k] * (a if a < b else b)
    return 1.0 - keep


@kernel
def _shared(part, depth, out):
    """All S_ij, zero diagonal."""
    n = part.shape[0]
    for i in range(n):
        out[i, i] = 0.0
        for j in range(i + 1, n):
            v = _shared_pair(part, depth, i, j)
            out[i, j] = v
            out[j, i] = v


@kernel
def _alignment(part, lead, posture, out):
    """a_ig = max(bandwagoning, max_k led by g of w_ik) (sim.core.dynamics.alignment)."""
    n, G = out.shape
    K = part.shape[1]
    for i in range(n):
        for g in range(G):
            camp = 0.0
            for k in range(K):
                v = part[i, k] * lead[k, g]
                if k == 0 or v > camp:
                    camp = v
            band = 1.0 if posture[i, g] == 1 else 0.0
            out[i, g] = camp if camp > band else band


@kernel
def _mutual_pair(lo, total_i, total_j, route_ij, rw):
    """M_ij from lo = sum_f min(v_if, v_jf) over the threat profiles (sim.core.dynamics.mutual_interest).

    Weighted Jaccard overlap lo / (sum of maxima) mixed with route complementarity.
    """
    hi = total_i + total_j - lo
    ov = lo / hi if hi > 0 else 0.0
    return (1 - rw) * ov + rw * route_ij


# --------------------------------------------------------------------------- 2. great powers (per state)


@kernel
def _pressure(prm, c, dt, part, align, mem, trust, dependence, membership, founded, capability, gp_prox, gp_cap,
              gp_drive, strategy, rivals, dep0, push, induce, coerce, offer, punish, cw, lever, wi):
    """Allocate pressure and let it act on dependence (sim.core.dynamics.allocate_pressure, great_power_pressure).

    The wedge W_ij = (wi_i + wi_j) / 2 and its cut of trust are per pair: :func:`_wedge_pair` in :func:`_pairs`.
    """
    n, G = dependence.shape
    # counterweight cw_ig = sum_h rivals[h, g] p_ih kappa_h c_h sec_h
    for i in range(n):
        for g in range(G):
            s = 0.0
            for h in range(G):
                s += gp_prox[i, h] * (gp_cap[h] * strategy[h, 0] * strategy[h, 4]) * rivals[h, g]
            cw[i, g] = s
    member_trust = _pair_mean(trust, mem)
    nmem = 0
    for i in range(n):
        nmem += mem[i]
    for g in range(G):
        away = 0.0
        if nmem > 0:
            s = 0.0
            for i in range(n):
                s += (1 - align[i, g]) * mem[i]
            away = s / nmem
        cohesion = member_trust * away * (nmem >= 2)
        push[g] = prm[PR_INTENSITY] * (gp_cap[g] * strategy[g, 0] * gp_drive[g]) * (1.0 + prm[PR_REACTION] * cohesion)
    asym = prm[PR_ASYMMETRY]
    for i in range(n):
        for g in range(G):
            shield = _clip01(1.0 - prm[PR_COUNTERWEIGHT] * cw[i, g])
            lv = gp_prox[i, g] * shield * ((1.0 - asym) + asym * dependence[i, g])
            lever[i, g] = lv
            induce[i, g] = push[g] * strategy[g, 1] * gp_prox[i, g]
            pu = push[g] * strategy[g, 2] * lv
            punish[i, g] = pu
            coerce[i, g] = pu * (1 - align[i, g]) * (0.5 + 0.5 * part[i, c])
            offer[i, g] = push[g] * strategy[g, 4] * gp_prox[i, g]
    for i in range(n):
        s = 0.0
        for g in range(G):
            s += (push[g] * strategy[g, 3]) * lever[i, g]
        wi[i] = s
    # dependence: inducement, diversification through alternatives, recovery
    outside = 0.0
    for i in range(n):
        if membership[i, c] == PARTNER and founded[c]:
            outside += capability[i]
    rate, div, rec = prm[PR_INDUCEMENT_RATE], prm[PR_DIVERSIFICATION], prm[PR_DEPENDENCE_RECOVERY]
    for i in range(n):
        tot = 0.0
        for g in range(G):
            tot += induce[i, g]
        for g in range(G):
            alt = tot - induce[i, g]
            alt = alt + outside * mem[i]
            d = dependence[i, g]
            d = d + dt * (rate * induce[i, g] * (1 - d) - div * alt * d + rec * (dep0[i, g] - d))
            dependence[i, g] = _clip01(d)


@kernel
def _wedge_pair(watch, wi_i, wi_j, rp_pair):
    """W_ij = (wi_i + wi_j) / 2, x (1 + watch) on pairs with a regional power (sim.core.dynamics.allocate_pressure).

    ``watch`` is 0 when the regional-power mechanism is off.
    """
    v = 0.5 * (wi_i + wi_j)
    if watch > 0:
        v = v * (1 + watch * rp_pair)
    return v


# --------------------------------------------------------------------------- 3. threat (per state)


@kernel
def _threat(prm, dt, align, coerce, threat_gp, shock, transnational, trans0, gp_prox, gp_cap, gp_drive, strategy,
            total):
    """Great-power and transnational threats relax toward their signals (sim.core.dynamics.perceive_threat).

    The threat between states, theta_ij, is per pair: :func:`_threat_pair` in :func:`_pairs`.
    """
    n, G = threat_gp.shape
    rate = 1.0 - np.exp(-prm[TH_ADAPT] * dt)
    bt, ct = prm[PR_BASE_THREAT], prm[PR_COERCION_THREAT]
    for i in range(n):
        for g in range(G):
            level = (gp_cap[g] * strategy[g, 0] * gp_drive[g]) * gp_prox[i, g]
            target = _clip01(bt * level * (1 - align[i, g]) + ct * coerce[i, g])
            threat_gp[i, g] += rate * (target - threat_gp[i, g])
    keep = np.exp(-prm[TH_SHOCK_DECAY] * dt)
    for i in range(n):
        shock[i] *= keep
        v = trans0[i] + shock[i]
        transnational[i] = v if v < 1.0 else 1.0
    for i in range(n):  # the sum of each threat profile, for mutual interest
        s = 0.0
        for g in range(G):
            s += threat_gp[i, g]
        total[i] = s + transnational[i]


@kernel
def _threat_pair(dilemma, wendt_half, rate, dispute_ij, trust_ij, sim_ij, cap_j, prox_ij, theta_ij):
    """theta_ij relaxes toward min(1, D_ij + dilemma c_j prox_ij)(1 - wendt (T_ij + sim_ij)/2) (sim.core.dynamics.threat_targets)."""
    raw = dispute_ij + dilemma * cap_j * prox_ij
    if raw > 1.0:
        raw = 1.0
    target = raw * (1.0 - wendt_half * (trust_ij + sim_ij))
    return theta_ij + rate * (target - theta_ij)


# --------------------------------------------------------------------------- 4.-5. pair mechanisms, fused


@kernel
def _contact_prob(base, inst, prox, tie, courting, rp_on, dt, shared_ij, prox_ij, density_ij, sim_ij, rp_pair):
    """P(contact) = 1 - exp(-lambda_ij dt) (sim.core.dynamics.encounter and contact_rate)."""
    lam = base + inst * shared_ij + prox * prox_ij + tie * density_ij / (1.0 + density_ij)
    if rp_on:
        lam = lam + courting * sim_ij * rp_pair
    return 1.0 - np.exp(-lam * dt)


@kernel
def _interact_pair(coop_base, coop_interest, coop_trust, temptation, gain, loss, T, mutual_ij, wedge_ij, u):
    """A contact's outcome: cooperation T += gain (1 - T), defection T -= loss T (sim.core.dynamics.interact)."""
    z = coop_base + coop_interest * mutual_ij + coop_trust * T - temptation * wedge_ij
    if u < 1.0 / (1.0 + np.exp(-z)):
        return T + gain * (1 - T)
    return T - loss * T


@kernel
def _hazard_pair(base_hazard, friction, threat_weight, pacification, mediation, theta_ij, theta_ji, dispute_ij,
                 trust_ij, shared_ij):
    """h_ij = (base_hazard D (1 + threat_weight th) + friction th) exp(-pacification T - mediation S) (sim.core.dynamics.incident_hazard)."""
    mt = 0.5 * (theta_ij + theta_ji)
    cause = base_hazard * dispute_ij * (1 + threat_weight * mt) + friction * mt
    if cause == 0.0:  # no dispute and no mutual threat: no incident can happen (0 exp(x) = 0)
        return 0.0
    return cause * np.exp(-pacification * trust_ij - mediation * shared_ij)


@kernel
def _pairs(prm, dt, year, part, depth, identity, sq, wi, rpow, capability, proximity, route_comp, threat_gp,
           transnational, total, trust, density, dispute, threat_state, mutual, shared, hazard, contact, incidents,
           last_incident, u, o_contact, o_coop, o_incident, inc_pairs, inc_h, pt, xt, keep_s, dot_s):
    """Every pair mechanism of one step in one pass over the pairs i < j (TILE x TILE blocks).

    In the reference's order for each pair: shared institutions S_ij and identity closeness sim_ij
    (start of the step), the wedge's cut of trust, threat between the two and mutual interest,
    contact, its outcome and interaction density, the incident hazard, incidents, escalation and
    settlement. Each pair's result depends only on that pair and on per-state values computed
    before, so one pass gives the reference's sequence of whole-array steps. Returns the number
    of incidents, whose pairs (a * n + b) and hazards go to ``inc_pairs`` and ``inc_h``.
    """
    n = trust.shape[0]
    on_pressure, on_threat = prm[M_PRESSURE] != 0, prm[M_THREAT] != 0
    on_interaction, on_disputes = prm[M_INTERACTION] != 0, prm[M_DISPUTES] != 0
    rate = 1.0 - np.exp(-prm[TH_ADAPT] * dt)
    cut = -prm[PR_WEDGE_CUT]
    keep = np.exp(-prm[IN_DENSITY_DECAY] * dt)
    keep_t = 1 - prm[DI_INCIDENT_CUT]
    esc, settle = prm[DI_ESCALATION], -prm[DI_SETTLE_RATE]
    rw = prm[IN_ROUTE_WEIGHT]
    rp_on = prm[M_REGIONAL_POWER] != 0
    watch = prm[RP_WATCH] if rp_on else 0.0
    dilemma, wendt_half = prm[TH_DILEMMA], prm[TH_WENDT] * 0.5
    base, inst, prox, tie, courting = (prm[IN_BASE_CONTACT], prm[IN_INSTITUTION_CONTACT], prm[IN_PROXIMITY_CONTACT],
                                       prm[IN_TIE_CONTACT], prm[RP_COURTING])
    cb, ci, ct, tm = prm[IN_COOP_BASE], prm[IN_COOP_INTEREST], prm[IN_COOP_TRUST], prm[IN_TEMPTATION]
    gain, loss = prm[IN_TRUST_GAIN], prm[IN_TRUST_LOSS]
    bh, fr, tw = prm[DI_BASE_HAZARD], prm[DI_FRICTION], prm[DI_THREAT_WEIGHT]
    pac, med = prm[DI_PACIFICATION], prm[DI_MEDIATION]
    G = threat_gp.shape[1]
    K, F = part.shape[1], identity.shape[1]
    # transposed copies, so that S_ij and sim_ij of a row's segment run as vector loops over j (below)
    for i in range(n):
        for k in range(K):
            pt[k, i] = part[i, k]
        for f in range(F):
            xt[f, i] = identity[i, f]
    n_inc = 0
    for i in range(n):  # diagonals
        shared[i, i] = 0.0
        contact[i, i] = False
        hazard[i, i] = 0.0
        if on_threat:
            threat_state[i, i] = threat_state[i, i] + rate * (0.0 - threat_state[i, i])
            mutual[i, i] = 0.0
        if on_interaction:
            density[i, i] = density[i, i] * keep
        if on_disputes:
            dispute[i, i] = 0.0
    for i0 in range(0, n, TILE):
        for j0 in range(i0, n, TILE):
            for i in range(i0, min(i0 + TILE, n)):
                jlo, jhi = max(j0, i + 1), min(j0 + TILE, n)
                if jlo >= jhi:
                    continue
                # S_ij and the dot products of sim_ij for the segment, each as _shared_pair and _sim_pair
                # compute it (the same operations in the same order for each j, vectorised over j)
                m = jhi - jlo
                for q in range(m):
                    keep_s[q] = 1.0
                    dot_s[q] = 0.0
                for k in range(K):
                    dk, a = depth[k], part[i, k]
                    for q in range(m):
                        b = pt[k, jlo + q]
                        keep_s[q] *= 1.0 - dk * (a if a < b else b)
                for f in range(F):
                    a = identity[i, f]
                    for q in range(m):
                        dot_s[q] += a * xt[f, jlo + q]
                for j in range(jlo, jhi):
                    S = 1.0 - keep_s[j - jlo]
                    shared[i, j] = S
                    shared[j, i] = S
                    d2 = sq[i] + sq[j] - 2.0 * dot_s[j - jlo]
                    if d2 < 0.0:
                        d2 = 0.0
                    sim = _clip01(1.0 - np.sqrt(d2 / F))
                    rp_pair = rpow[i] or rpow[j]
                    T = trust[i, j]
                    D = dispute[i, j]
                    W = 0.0
                    if on_pressure:  # 2. the wedge erodes trust: T *= exp(-wedge_cut W dt)
                        W = _wedge_pair(watch, wi[i], wi[j], rp_pair)
                        T = T * np.exp(cut * W * dt)
                    if on_threat:  # 3. threat between the two (both directions), mutual interest
                        th_ij = _threat_pair(dilemma, wendt_half, rate, D, T, sim, capability[j], proximity[i, j],
                                             threat_state[i, j])
                        th_ji = _threat_pair(dilemma, wendt_half, rate, D, T, sim, capability[i], proximity[j, i],
                                             threat_state[j, i])
                        threat_state[i, j] = th_ij
                        threat_state[j, i] = th_ji
                        lo = 0.0  # sum of the minima of the two threat profiles (great powers, transnational)
                        for g in range(G):
                            a, b = threat_gp[i, g], threat_gp[j, g]
                            lo += a if a < b else b
                        a, b = transnational[i], transnational[j]
                        lo += a if a < b else b
                        M = _mutual_pair(lo, total[i], total[j], route_comp[i, j], rw)
                        mutual[i, j] = M
                        mutual[j, i] = M
                    else:
                        th_ij, th_ji, M = threat_state[i, j], threat_state[j, i], mutual[i, j]
                    # 4. contact, its outcome, interaction density
                    I = density[i, j]
                    hit = u[o_contact + i * n + j] < _contact_prob(base, inst, prox, tie, courting, rp_on, dt, S,
                                                                   proximity[i, j], I, sim, rp_pair)
                    contact[i, j] = hit
                    contact[j, i] = hit
                    if on_interaction:
                        if hit:
                            T = _interact_pair(cb, ci, ct, tm, gain, loss, T, M, W, u[o_coop + i * n + j])
                        I = I * keep + hit
                        density[i, j] = I
                        density[j, i] = I
                    # 5. incidents: hazard, escalation, settlement
                    h = _hazard_pair(bh, fr, tw, pac, med, th_ij, th_ji, D, T, S)
                    hz = 1.0 - np.exp(-h) if h != 0.0 else 0.0
                    hazard[i, j] = hz
                    hazard[j, i] = hz
                    if on_disputes:
                        # 1 - exp(-h dt) is hz itself when dt = 1 (the same expression)
                        p = hz if dt == 1.0 else 1.0 - np.exp(-h * dt)
                        if u[o_incident + i * n + j] < p:
                            incidents[i, j] = True
                            incidents[j, i] = True
                            T = T * keep_t
                            D = D + esc
                            if D > 1.0:
                                D = 1.0
                            last_incident[i, j] = year
                            last_incident[j, i] = year
                            inc_pairs[n_inc] = i * n + j
                            inc_h[n_inc] = h
                            n_inc += 1
                        if D != 0.0:  # settlement: D *= exp(-settle_rate T S dt) (0 stays 0)
                            D = D * np.exp(settle * T * S * dt)
                        dispute[i, j] = D
                        dispute[j, i] = D
                    T = _clip01(T)  # the final clip of the step (a no-op: every update keeps T in [0, 1])
                    trust[i, j] = T
                    trust[j, i] = T
    return n_inc


@kernel
def _bounded_confidence(prm, contact, x, pull, cnt):
    """Deffuant et al. 2000 per feature, synchronous, pulls averaged over contacts (sim.core.dynamics.bounded_confidence).

    Each contact pair is visited once and pulls both states (x_i - x_j is exactly -(x_j - x_i)); each
    state's pulls still arrive in increasing order of the partner's index.
    """
    n, F = x.shape
    eps, mu = prm[ID_CONFIDENCE], prm[ID_CONVERGENCE]
    for i in range(n):
        cnt[i] = 0
        for f in range(F):
            pull[i, f] = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            if contact[i, j]:
                cnt[i] += 1
                cnt[j] += 1
                for f in range(F):  # without a branch: a pull beyond the bound adds 0.0 (pulls are never -0.0)
                    d = x[j, f] - x[i, f]
                    d = d if abs(d) < eps else 0.0
                    pull[i, f] += d
                    pull[j, f] -= d
    for i in range(n):
        c = cnt[i] if cnt[i] > 0 else 1
        for f in range(F):
            x[i, f] = _clip01(x[i, f] + mu * pull[i, f] / c)


@kernel
def _cultural_pull(prm, dt, c, part, depth, x, centre):
    """The community's cultural programmes pull participants toward their centre (sim.core.dynamics.cultural_pull)."""
    n, F = x.shape
    tot = 0.0
    for i in range(n):
        tot += part[i, c]
    div = tot if tot > 1e-12 else 1e-12
    for f in range(F):
        s = 0.0
        for i in range(n):
            s += part[i, c] * x[i, f]
        centre[f] = s / div
    rate = (1.0 - np.exp(-prm[ID_CULTURAL_PULL] * depth[c] * dt)) * (tot > 0)
    for i in range(n):
        w = rate * part[i, c]
        for f in range(F):
            x[i, f] = _clip01(x[i, f] + w * (centre[f] - x[i, f]))


@kernel
def _backing(prm, step, r, rpow, trust, n_inc, inc_pairs, inc_h, log, nlog):
    """Log this step's incidents in pair order; a regional power backs the side it trusts more (sim.core.dynamics.disputes)."""
    n = trust.shape[0]
    order = np.sort(inc_pairs[:n_inc])
    hs = inc_h[:n_inc][np.argsort(inc_pairs[:n_inc])]
    backing, margin = prm[RP_BACKING], prm[RP_MARGIN]
    for q in range(n_inc):
        a, b = order[q] // n, order[q] % n
        log, nlog = _log(log, nlog, step, ST_DISPUTES, 0, r, K_INCIDENT, a, b, hs[q])
        if prm[M_REGIONAL_POWER] == 0:
            continue
        for i in range(n):
            if not rpow[i] or i == a or i == b:
                continue
            ta, tb = trust[i, a], trust[i, b]
            if abs(ta - tb) < margin:
                continue
            if ta > tb:
                win, lose = a, b
            else:
                win, lose = b, a
            trust[i, win] += backing * (1 - trust[i, win])
            trust[i, lose] *= 1 - backing
            trust[i, win] = _clip01(trust[i, win])  # the step's final clip, for the entries changed here
            trust[i, lose] = _clip01(trust[i, lose])
            trust[win, i] = trust[i, win]
            trust[lose, i] = trust[i, lose]
            log, nlog = _log(log, nlog, step, ST_DISPUTES, 0, r, K_BACKING, i, win, np.nan)
    return log, nlog


# --------------------------------------------------------------------------- 6. choice


@kernel
def _choose(prm, dt, c, step, r, part, trust, threat_gp, transnational, dependence, sovereignty, identity, depth,
            founded, partner_open, posture, membership, capability, lead, led, elig, route_comp, rpow, cw, offer,
            punish, u, off_review, off_posture, off_member, review, tots, centres, inside, n_inside, ga, gq, gok, log,
            nlog):
    """Postures and memberships by logit choice among reviewing states (sim.core.dynamics.choose); logs joins and exits.

    Utilities are computed for the reviewing states only (the reference computes them for all
    and keeps the reviewing states' choices); every utility reads the memberships of the start
    of the choice (``part``), so the order in which states choose does not matter.
    """
    n, G = threat_gp.shape
    K = depth.shape[0]
    F = identity.shape[1]
    p_review = prm[CH_REVIEW_RATE] * dt
    anyone = False
    for i in range(n):
        review[i] = u[off_review + i] < p_review
        anyone = anyone or review[i]
    if not anyone:
        return log, nlog
    temp = prm[CH_TEMPERATURE]
    bal, eco, hedge, off = prm[CH_BALANCE], prm[CH_ECONOMY], prm[CH_HEDGE_BONUS], prm[CH_OFFER]
    sec, idw, trw = prm[CH_SECURITY], prm[CH_IDENTITY], prm[CH_TRUST]
    pun, entry = prm[CH_PUNISHMENT], prm[CH_ENTRY_COST]
    sov, commit, switch = prm[CH_SOVEREIGNTY], prm[CH_COMMITMENT], prm[CH_SWITCH_COST]
    rp_on = prm[M_REGIONAL_POWER] != 0
    leadership = prm[RP_LEADERSHIP]
    # participants of each institution (in index order) and their identity centre
    for k in range(K):
        m = 0
        for i in range(n):
            if part[i, k] > 0:
                inside[k, m] = i
                m += 1
        n_inside[k] = m
        tot = 0.0
        for i in range(n):
            tot += part[i, k]
        tots[k] = tot
        div = tot if tot > 1e-12 else 1e-12
        for f in range(F):
            s = 0.0
            for i in range(n):
                s += part[i, k] * identity[i, f]
            centres[k, f] = s / div
    for i in range(n):
        if not review[i]:
            continue
        # --- postures toward each great power
        s = 0.0  # mean trust in the community's participants (sim.core.dynamics.pair_row_mean)
        cnt = 0
        for q in range(n_inside[c]):
            j = inside[c, q]
            if j != i:
                s += trust[i, j]
                cnt += 1
        ms = part[i, c] * (s / cnt if cnt > 0 else 0.0)
        for g in range(G):
            support = capability[i] + ms + cw[i, g]
            base = off_posture + (i * G + g) * 3
            ga[0] = (bal * threat_gp[i, g] * support - eco * dependence[i, g]) / temp
            ga[1] = hedge * sovereignty[i] / temp
            ga[2] = (eco * dependence[i, g] + off * offer[i, g]) / temp
            for l in range(3):
                gq[l] = int(u[base + l] * GUMBEL_BINS)
                gok[l] = True
            choice = _pick(ga, gq, gok, 3)
            if choice < 0:  # too close for the bounds: the exact Gumbel values
                best = ga[0] + _gumbel(u[base])
                choice = 0
                v = ga[1] + _gumbel(u[base + 1])
                if v > best:
                    best, choice = v, 1
                v = ga[2] + _gumbel(u[base + 2])
                if v > best:
                    best, choice = v, 2
            posture[i, g] = choice - 1
        # --- membership level in each institution
        for k in range(K):
            tmax = 0.0
            for g in range(G):
                v = threat_gp[i, g] * (1 - lead[k, g])
                if g == 0 or v > tmax:
                    tmax = v
            if transnational[i] > tmax:
                tmax = transnational[i]
            B = sec * depth[k] * tmax
            s_route = 0.0  # mean route complementarity and trust with k's participants (sim.core.dynamics.pair_row_mean)
            s_trust = 0.0
            cnt = 0
            for q in range(n_inside[k]):
                j = inside[k, q]
                if j != i:
                    s_route += route_comp[i, j]
                    s_trust += trust[i, j]
                    cnt += 1
            trust_in = s_trust / cnt if cnt > 0 else 0.0
            if led[k]:
                econ = 0.0
                for g in range(G):
                    v = dependence[i, g] * lead[k, g]
                    if g == 0 or v > econ:
                        econ = v
            else:
                econ = s_route / cnt if cnt > 0 else 0.0
            if tots[k] > 0:
                s = 0.0
                for f in range(F):
                    d = identity[i, f] - centres[k, f]
                    s += d * d
                fit = 1 - np.sqrt(s / F)
            else:
                fit = 0.5
            fit = fit * (not led[k])  # identity fit draws states to a community, not to a great power's instrument
            s1 = 0.0
            s2 = 0.0
            for g in range(G):
                s1 += punish[i, g] * (1 - lead[k, g])
                s2 += offer[i, g] * lead[k, g]
            B = B + (eco * econ + idw * fit + trw * (trust_in - 0.5) - pun * s1 + off * s2 - entry)
            if rp_on and not led[k]:
                B = B + leadership * rpow[i]
            now = membership[i, k]
            sov_cost = sov * sovereignty[i] * (commit + depth[k])
            partner_ok = partner_open[k] or led[k]
            base = off_member + (i * K + k) * 4
            for lv in range(4):
                allowed = lv <= elig[i, k] and (lv == 0 or founded[k])
                allowed = allowed and (lv != PARTNER or partner_ok)
                gok[lv] = allowed or lv == now
                U = LEVEL_WEIGHT[lv] * B - (lv == MEMBER) * sov_cost - switch * abs(lv - now)
                ga[lv] = U / temp
                gq[lv] = int(u[base + lv] * GUMBEL_BINS)
            choice = _pick(ga, gq, gok, 4)
            if choice < 0:  # too close for the bounds: the exact Gumbel values
                best = -np.inf
                for lv in range(4):
                    if not gok[lv]:
                        continue
                    v = ga[lv] + _gumbel(u[base + lv])
                    if choice < 0 or v > best:
                        best, choice = v, lv
            if choice != now:
                kind = K_JOIN if choice > now else K_EXIT
                log, nlog = _log(log, nlog, step, ST_CHOICE, 0, r, kind, i, k, float(choice))
                membership[i, k] = choice
    return log, nlog


# --------------------------------------------------------------------------- 7. institutions


@kernel
def _deepen(prm, dt, c, step, r, found_given, trust, sovereignty, membership, founded, depth, led, elig, mem,
            rowmean, deg, log, nlog):
    """Deepening, erosion and endogenous founding (sim.core.dynamics.deepen); logs deepenings and foundings."""
    n, K = membership.shape
    for k in range(K):
        if led[k]:
            continue
        cnt = 0
        for i in range(n):
            mem[i] = membership[i, k] == MEMBER and founded[k]
            cnt += mem[i]
        enough = cnt >= 2
        mean_t = _pair_mean(trust, mem)
        _pair_row_mean(trust, mem, rowmean)
        veto = False
        for i in range(n):
            if mem[i] and sovereignty[i] > rowmean[i] + prm[INS_VETO_MARGIN]:
                veto = True
        up = enough and mean_t >= prm[INS_DEEPEN_TRUST] and not veto
        down = enough and mean_t < prm[INS_ERODE_TRUST]
        old = depth[k]
        new = _clip01(old + dt * (prm[INS_DEEPEN_RATE] * up - prm[INS_ERODE_RATE] * down))
        depth[k] = new
        for m in range(SECURITY_LEVELS.shape[0]):
            level = SECURITY_LEVELS[m]
            if old < level and new >= level:
                log, nlog = _log(log, nlog, step, ST_DEEPEN, k * SECURITY_LEVELS.shape[0] + m, r, K_DEEPENING,
                                 m, k, level)
    if prm[INS_ENDOGENOUS_FOUNDING] != 0 and not found_given and not founded[c]:
        best = 0
        for i in range(n):
            d = 0
            if elig[i, c] == MEMBER:
                for j in range(n):
                    if j != i and elig[j, c] == MEMBER and trust[i, j] >= prm[INS_FOUND_TRUST]:
                        d += 1
            deg[i] = d
            if d > deg[best]:
                best = i
        if deg[best] + 1 >= prm[INS_MIN_FOUNDERS]:
            founded[c] = True
            if prm[INS_FOUND_DEPTH] > depth[c]:
                depth[c] = prm[INS_FOUND_DEPTH]
            i = best
            for j in range(n):
                if j == i or (elig[i, c] == MEMBER and elig[j, c] == MEMBER and trust[i, j] >= prm[INS_FOUND_TRUST]):
                    membership[j, c] = MEMBER
                    log, nlog = _log(log, nlog, step, ST_FOUNDING, 0, r, K_FOUNDER, j, c, np.nan)
            log, nlog = _log(log, nlog, step, ST_FOUNDING, 0, r, K_FOUNDING, i, c, prm[INS_FOUND_DEPTH])
    return log, nlog


# --------------------------------------------------------------------------- 8. measure and record


@kernel
def _blocs(trust, thr, labels, stack):
    """Connected components of >= 2 states in the graph T_ij >= thr (sim.core.metrics.blocs)."""
    n = trust.shape[0]
    for i in range(n):
        labels[i] = -1
    count = 0
    for s in range(n):
        if labels[s] >= 0:
            continue
        labels[s] = s
        top = 0
        stack[0] = s
        top = 1
        size = 0
        while top > 0:
            top -= 1
            i = stack[top]
            size += 1
            for j in range(n):
                if j != i and labels[j] < 0 and trust[i, j] >= thr:
                    labels[j] = s
                    stack[top] = j
                    top += 1
        if size >= 2:
            count += 1
    return count


@kernel
def _measure(prm, c, year, start_year, trust, density, identity, mutual, hazard, last_incident, incidents, depth,
             founded, membership, posture, ever_member, mem, ref, sq, labels, stack, close, out):
    """All metrics of one replicate into out (M,), phase last (sim.core.metrics.measure and classify)."""
    n = identity.shape[0]
    G = posture.shape[1]
    _members(membership, founded, c, mem)
    nm = 0
    nr = 0
    for i in range(n):
        ref[i] = ever_member[i] or mem[i]
        nm += mem[i]
        nr += ref[i]
    _squares(identity, sq)
    for i in range(n):  # identity closeness of each pair of the reference group, once per pair
        if ref[i]:
            for j in range(i + 1, n):
                if ref[j]:
                    v = _sim_pair(identity, sq, i, j)
                    close[i, j] = v
                    close[j, i] = v
    last = -np.inf
    s_id = 0.0
    s_ia = 0.0
    s_in = 0.0
    s_tr = 0.0
    t_min = np.inf
    h_max = -np.inf
    cnt = 0
    half = prm[IN_DENSITY_HALF]
    n_inc = 0
    n_minc = 0
    s_all = 0.0
    for i in range(n):  # one pass over the pairs; each sum keeps the order (i, then j) of its own loop
        for j in range(n):
            if j == i:
                continue
            s_all += trust[i, j]
            if j > i and incidents[i, j]:
                n_inc += 1
                if mem[i] and mem[j]:
                    n_minc += 1
            if not (ref[i] and ref[j]):
                continue
            cnt += 1
            if last_incident[i, j] > last:
                last = last_incident[i, j]
            s_id += close[i, j]
            s_ia += density[i, j] / (density[i, j] + half)
            s_in += mutual[i, j]
            s_tr += trust[i, j]
            if trust[i, j] < t_min:
                t_min = trust[i, j]
            if hazard[i, j] > h_max:
                h_max = hazard[i, j]
    since = year - (last if last > start_year else start_year)
    out[MT_YEAR] = year
    out[MT_MEMBERS] = nm
    out[MT_BREADTH] = nm / nr if nr > 0 else 0.0
    out[MT_IDENTITY] = s_id / cnt if cnt > 0 else 0.0
    out[MT_INTERACTION] = s_ia / cnt if cnt > 0 else 0.0
    out[MT_INTEREST] = s_in / cnt if cnt > 0 else 0.0
    out[MT_TRUST_MEAN] = s_tr / cnt if cnt > 0 else 0.0
    out[MT_TRUST_MIN] = t_min if cnt > 0 else 0.0
    out[MT_PEACE] = 1.0 - h_max if nr >= 2 else 0.0
    out[MT_YEARS_SINCE] = since if nr >= 2 else 0.0
    out[MT_DEPTH] = depth[c] * founded[c]
    out[MT_INCIDENTS] = n_inc
    out[MT_MEMBER_INCIDENTS] = n_minc
    out[MT_REGION_TRUST] = s_all / (n * (n - 1)) if n > 1 else 0.0
    out[MT_BLOCS] = _blocs(trust, prm[PH_BLOC_TRUST], labels, stack)
    for g in range(G):
        nb = 0
        nh = 0
        nw = 0
        for i in range(n):
            p = posture[i, g]
            if p == -1:
                nb += 1
            elif p == 0:
                nh += 1
            elif p == 1:
                nw += 1
        out[MT_POSTURES + 3 * g] = nb
        out[MT_POSTURES + 3 * g + 1] = nh
        out[MT_POSTURES + 3 * g + 2] = nw
    nascent = out[MT_MEMBERS] >= prm[PH_NASCENT_MEMBERS]
    ascendant = (nascent and out[MT_BREADTH] >= prm[PH_BREADTH] and out[MT_TRUST_MEAN] >= prm[PH_ASCENDANT_TRUST]
                 and out[MT_IDENTITY] >= prm[PH_ASCENDANT_IDENTITY]
                 and out[MT_INTERACTION] >= prm[PH_ASCENDANT_INTERACTION])
    loose = (ascendant and out[MT_PEACE] >= prm[PH_MATURE_PEACE] and out[MT_YEARS_SINCE] >= prm[PH_MATURE_YEARS]
             and out[MT_TRUST_MIN] >= prm[PH_MATURE_MIN_TRUST] and out[MT_INTEREST] >= prm[PH_MATURE_INTEREST]
             and out[MT_IDENTITY] >= prm[PH_MATURE_IDENTITY])
    tight = loose and out[MT_TRUST_MEAN] >= prm[PH_TIGHT_TRUST] and out[MT_DEPTH] >= prm[PH_TIGHT_DEPTH]
    out[out.shape[0] - 1] = nascent + ascendant + loose + tight


@kernel
def _record(prm, c, t, rec0, start_year, spy, r, trust, density, dispute, identity, threat_gp, threat_state,
            transnational, dependence, posture, membership, depth, founded, last_incident, incidents, mutual, shared,
            hazard, ever_member, metrics, ag_tm, ag_tg, ag_nb, ag_tr, ag_dep, ag_po, ag_me, pairs, ck, part, mem, ref,
            sq, labels, stack, close, col):
    """Record step t of replicate r: metrics, agent rows and (at checkpoints) the pair arrays."""
    ti = t - rec0
    n = trust.shape[0]
    if pairs.shape[1] > 0 and ck[ti] >= 0:
        _participation(membership, founded, part)  # shared institutions as of the end of the step
        _shared(part, depth, shared)
        q = ck[ti]
        for i in range(n):
            for j in range(n):
                pairs[0, q, r, i, j] = trust[i, j]
                pairs[1, q, r, i, j] = density[i, j]
                pairs[2, q, r, i, j] = dispute[i, j]
                pairs[3, q, r, i, j] = shared[i, j]
                pairs[4, q, r, i, j] = mutual[i, j]
    if metrics.shape[0] > 0:
        year = start_year + t / spy
        _measure(prm, c, year, start_year, trust, density, identity, mutual, hazard, last_incident, incidents, depth,
                 founded, membership, posture, ever_member, mem, ref, sq, labels, stack, close, col)
        for m in range(metrics.shape[0]):
            metrics[m, ti, r] = col[m]
    if ag_tm.shape[0] > 0:
        G = threat_gp.shape[1]
        K = membership.shape[1]
        for i in range(n):
            s = 0.0
            nbmax = threat_state[i, 0]
            for j in range(n):
                if j != i:
                    s += trust[i, j]
                if threat_state[i, j] > nbmax:
                    nbmax = threat_state[i, j]
            ag_tm[ti, r, i] = s / max(n - 1, 1)
            ag_nb[ti, r, i] = nbmax
            ag_tr[ti, r, i] = transnational[i]
            for g in range(G):
                ag_tg[ti, r, i, g] = threat_gp[i, g]
                ag_dep[ti, r, i, g] = dependence[i, g]
                ag_po[ti, r, i, g] = posture[i, g]
            for k in range(K):
                ag_me[ti, r, i, k] = membership[i, k]


# --------------------------------------------------------------------------- one segment of steps


@kernel
def _advance(t0, t1, reset_first, record_first, rec0, u0, prm, ints, capability, proximity, gp_prox, gp_cap,
             gp_drive, lead, elig, dep0, trans0, route_comp, rpow, led, rivals, strategy,
             trust, density, dispute, identity, threat_gp, threat_state, transnational, shock, dependence,
             sovereignty, posture, membership, depth, founded, partner_open, last_incident, incidents, mutual, shared,
             hazard, contact, ever_member, u, metrics, ag_tm, ag_tg, ag_nb, ag_tr, ag_dep, ag_po, ag_me, pairs, ck,
             log, nlog):
    """Steps t0 .. t1-1 of every replicate (the schedule of sim.core.dynamics.step after the events), recording each.

    ``reset_first`` False: the events of step t0 were applied in Python (which cleared ``incidents``).
    ``record_first``: record the state at t0 before stepping. Uniforms of step t are ``u[r, t - u0]``;
    recordings of step t go to index ``t - rec0``. Returns the event log and its length.
    """
    R = trust.shape[0]
    n, G, K, F = ints[I_N], ints[I_G], ints[I_K], ints[I_F]
    c = ints[I_COMMUNITY]
    found_given = ints[I_FOUND_GIVEN] != 0
    spy = ints[I_STEPS_PER_YEAR]
    start_year = float(ints[I_START_YEAR])
    dt = 1.0 / spy
    o_contact, o_coop, o_incident = ints[I_LAYOUT], ints[I_LAYOUT + 1], ints[I_LAYOUT + 2]
    o_review, o_posture, o_member = ints[I_LAYOUT + 3], ints[I_LAYOUT + 4], ints[I_LAYOUT + 5]
    on_pressure, on_threat = prm[M_PRESSURE] != 0, prm[M_THREAT] != 0
    on_interaction, on_identity, on_pull = prm[M_INTERACTION] != 0, prm[M_IDENTITY] != 0, prm[M_CULTURAL_PULL] != 0
    on_disputes, on_choice, on_deepen = prm[M_DISPUTES] != 0, prm[M_CHOICE] != 0, prm[M_DEEPENING] != 0
    # scratch, reused by every replicate and step
    part = np.zeros((n, K))
    align = np.zeros((n, G))
    mem = np.zeros(n, dtype=np.bool_)
    ref = np.zeros(n, dtype=np.bool_)
    sq = np.zeros(n)
    push = np.zeros(G)
    induce = np.zeros((n, G))
    coerce = np.zeros((n, G))
    offer = np.zeros((n, G))
    punish = np.zeros((n, G))
    cw = np.zeros((n, G))
    lever = np.zeros((n, G))
    wi = np.zeros(n)
    total = np.zeros(n)
    inc_pairs = np.zeros(max(n * (n - 1) // 2, 1), dtype=np.int64)
    inc_h = np.zeros(max(n * (n - 1) // 2, 1))
    pulls = np.zeros((n, F))
    centre = np.zeros(F)
    review = np.zeros(n, dtype=np.bool_)
    rowmean = np.zeros(n)
    tots = np.zeros(K)
    centres = np.zeros((K, F))
    inside = np.zeros((K, n), dtype=np.int64)
    n_inside = np.zeros(K, dtype=np.int64)
    deg = np.zeros(n, dtype=np.int64)
    pt = np.zeros((K, n))  # the pair pass's scratch: participation and identity transposed, a segment's S and dots
    xt = np.zeros((F, n))
    keep_s = np.zeros(TILE)
    dot_s = np.zeros(TILE)
    ga = np.zeros(4)  # a choice's options: utility / temperature, bin of the uniform, allowed
    gq = np.zeros(4, dtype=np.int64)
    gok = np.zeros(4, dtype=np.bool_)
    labels = np.zeros(n, dtype=np.int64)
    stack = np.zeros(n, dtype=np.int64)
    col = np.zeros(max(metrics.shape[0], 1))
    close = np.zeros((n, n) if metrics.shape[0] > 0 else (1, 1))
    for r in range(R):
        T, D, X = trust[r], dispute[r], identity[r]
        if record_first:
            _record(prm, c, t0, rec0, start_year, spy, r, T, density[r], D, X, threat_gp[r], threat_state[r],
                    transnational[r], dependence[r], posture[r], membership[r], depth[r], founded[r],
                    last_incident[r], incidents[r], mutual[r], shared[r], hazard[r], ever_member[r], metrics, ag_tm,
                    ag_tg, ag_nb, ag_tr, ag_dep, ag_po, ag_me, pairs, ck, part, mem, ref, sq, labels, stack, close, col)
        for t in range(t0, t1):
            ur = u[r, t - u0]
            year = start_year + t / spy
            strat = strategy[min(t, strategy.shape[0] - 1)]
            if t > t0 or reset_first:
                incidents[r, :, :] = False
            _participation(membership[r], founded[r], part)
            _squares(X, sq)
            _members(membership[r], founded[r], c, mem)
            _alignment(part, lead, posture[r], align)
            if on_pressure:
                _pressure(prm, c, dt, part, align, mem, T, dependence[r], membership[r], founded[r], capability,
                          gp_prox, gp_cap, gp_drive, strat, rivals, dep0, push, induce, coerce, offer, punish, cw,
                          lever, wi)
            if on_threat:
                _threat(prm, dt, align, coerce, threat_gp[r], shock[r], transnational[r], trans0, gp_prox, gp_cap,
                        gp_drive, strat, total)
            n_inc = _pairs(prm, dt, year, part, depth[r], X, sq, wi, rpow, capability, proximity, route_comp,
                           threat_gp[r], transnational[r], total, T, density[r], D, threat_state[r], mutual[r],
                           shared[r], hazard[r], contact[r], incidents[r], last_incident[r], ur, o_contact, o_coop,
                           o_incident, inc_pairs, inc_h, pt, xt, keep_s, dot_s)
            if on_identity:
                _bounded_confidence(prm, contact[r], X, pulls, deg)
            if on_pull:
                _cultural_pull(prm, dt, c, part, depth[r], X, centre)
            if n_inc > 0:
                log, nlog = _backing(prm, t, r, rpow, T, n_inc, inc_pairs, inc_h, log, nlog)
            if on_choice:
                log, nlog = _choose(prm, dt, c, t, r, part, T, threat_gp[r], transnational[r], dependence[r],
                                    sovereignty[r], X, depth[r], founded[r], partner_open[r], posture[r],
                                    membership[r], capability, lead, led, elig, route_comp, rpow, cw, offer, punish,
                                    ur, o_review, o_posture, o_member, review, tots, centres, inside, n_inside,
                                    ga, gq, gok,
                                    log, nlog)
            if on_deepen:
                log, nlog = _deepen(prm, dt, c, t, r, found_given, T, sovereignty[r], membership[r], founded[r],
                                    depth[r], led, elig, mem, rowmean, deg, log, nlog)
            for i in range(n):
                T[i, i] = 1.0
            _members(membership[r], founded[r], c, mem)
            for i in range(n):
                ever_member[r, i] = ever_member[r, i] or mem[i]
            _record(prm, c, t + 1, rec0, start_year, spy, r, T, density[r], D, X, threat_gp[r], threat_state[r],
                    transnational[r], dependence[r], posture[r], membership[r], depth[r], founded[r],
                    last_incident[r], incidents[r], mutual[r], shared[r], hazard[r], ever_member[r], metrics, ag_tm,
                    ag_tg, ag_nb, ag_tr, ag_dep, ag_po, ag_me, pairs, ck, part, mem, ref, sq, labels, stack, close, col)
    return log, nlog
