"""Measured community formation: Adler-Barnett conditions, trust, peaceful change, phases.

:func:`measure` is the readable reference of what the compiled kernel records
each step (``sim.core.kernel_jit._measure``; tests/test_kernel.py checks that they agree).

DESIGN.md §3 "Outcomes". The community is measured over a reference group that
exclusion cannot shrink: every state that has been a full member of the founded
community institution (the OTS in the Turkic world) at any step of the run,
starting members included (``State.ever_member``). A member that leaves keeps
its pairs in every index, and breadth (members now / reference group) is part
of the phase, so expelling or losing the hardest member never raises the phase
or an index by itself. All indices lie in [0, 1]; with fewer than two states in
the reference group they are 0.

- shared identity (condition i, Adler & Barnett 1998 p. 31): mean pairwise identity
  closeness 1 - ||x_i - x_j|| / sqrt(F);
- interaction (condition ii): mean pairwise I_ij / (I_ij + density_half);
- mutual interest (condition iii): mean pairwise M_ij;
- member trust: mean and minimum pairwise T_ij;
- peaceful-change expectation (Deutsch et al. 1957): 1 - the largest annual
  incident probability among member pairs, and years since the last incident
  among members (counted from the scenario's start when there was none);
- breadth: current full members / reference group (0 without a reference group);
- member incidents: incidents this step between two current full members;
- blocs: connected components (two or more states) of the trust network with
  T_ij >= bloc_trust over the whole region (:func:`bloc_labels`, the one rule
  of blocs: the ``blocs`` column, the report's network figure and the page).

Phase rules (thresholds in ``PhaseParams``, documented in docs/ODD.md):

- nascent: the community institution exists with >= nascent_members members;
- ascendant: nascent, breadth >= breadth, and mean trust, identity and interaction at their thresholds;
- mature-loose: ascendant, and peace >= mature_peace, no incident in the reference group for
  mature_years, minimum trust, mutual interest and shared identity at their (mature) thresholds;
- mature-tight (Adler 1991): mature-loose, and mean trust >= tight_trust and depth >=
  tight_depth (collective security mechanisms).
"""

from __future__ import annotations

import numpy as np

from .dynamics import Context, State, members, pair_mask, pair_mean, similarity
from .vocab import PHASES, Posture

__all__ = ["CONDITIONS", "PHASES", "bloc_labels", "blocs", "classify", "first_years", "measure"]
CONDITIONS = ("identity", "interaction", "interest")


def _pair_min(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = np.where(pair_mask(mask), values, np.inf).min((1, 2))
    return np.where(np.isfinite(out), out, 0.0)


def _pair_max(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return -_pair_min(-values, mask) if values.size else np.zeros(values.shape[0])


def bloc_labels(trust: np.ndarray, threshold: float, capability: np.ndarray | None = None) -> np.ndarray:
    """The trust blocs: for each state, the index of its bloc's head, -1 for a state in no bloc. (R, n) int64

    A bloc is a connected component with two or more states of the graph with an
    edge where T_ij >= ``threshold`` (``params.phase.bloc_trust``). Its head, after
    which it is named, is its most capable member (``capability``, (n,); ties and
    without capabilities: the first in world order), so a bloc keeps its name, and
    its colour, across years and panels while its leading state stays in it.
    ``trust`` is (R, n, n), or (n, n) for one network (then the result is (n,)).
    """
    trust = np.asarray(trust, dtype=float)
    if trust.ndim == 2:
        return bloc_labels(trust[None], threshold, capability)[0]
    R, n, _ = trust.shape
    adj = (trust >= threshold) & ~np.eye(n, dtype=bool)
    labels = np.broadcast_to(np.arange(n), (R, n)).copy()
    big = n + 1
    while True:  # min-label propagation: converges in (graph diameter) rounds
        nxt = np.minimum(labels, np.where(adj, labels[:, None, :], big).min(2))
        if np.array_equal(nxt, labels):
            break
        labels = nxt
    # component sizes of all replicates in one bincount (labels are state indices 0..n-1)
    flat = (labels + n * np.arange(R)[:, None]).ravel()
    sizes = np.bincount(flat, minlength=R * n)
    # the head of each component: the member first by (capability descending, index)
    cap = np.zeros(n) if capability is None else np.asarray(capability, dtype=float)
    order = np.lexsort((np.arange(n), -cap))  # states, best first
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    best = np.full(R * n, n, dtype=np.int64)
    np.minimum.at(best, flat, np.broadcast_to(rank, (R, n)).ravel())
    head = np.where(best < n, order[np.minimum(best, n - 1)], -1)
    return np.where(sizes[flat] >= 2, head[flat], -1).reshape(R, n).astype(np.int64)


def blocs(trust: np.ndarray, threshold: float) -> np.ndarray:
    """Number of trust blocs (:func:`bloc_labels`: components with >= 2 states of T_ij >= threshold). (R,)"""
    labels = bloc_labels(trust, threshold)
    return (labels == np.arange(labels.shape[-1])).sum(-1).astype(np.int64)  # each bloc has one head


def measure(st: State, ctx: Context) -> dict[str, np.ndarray]:
    """All per-replicate metrics of the current state (each an (R,) array), including the phase."""
    p = ctx.params
    mem = members(st, ctx)
    ref = st.ever_member | mem
    c = ctx.world.community
    year = ctx.schedule.year(st.step)
    n_members = mem.sum(1)
    n_ref = ref.sum(1)
    last = np.where(pair_mask(ref), st.last_incident, -np.inf).max((1, 2))
    since = year - np.maximum(last, ctx.schedule.start_year)
    out = {
        "year": np.full(st.replicates, year),
        "members": n_members.astype(float),
        "breadth": np.where(n_ref > 0, n_members / np.maximum(n_ref, 1), 0.0),
        "identity": pair_mean(similarity(st.identity), ref),
        "interaction": pair_mean(st.density / (st.density + p.interaction.density_half), ref),
        "interest": pair_mean(st.mutual, ref),
        "trust_mean": pair_mean(st.trust, ref),
        "trust_min": _pair_min(st.trust, ref),
        "peace": np.where(n_ref >= 2, 1.0 - _pair_max(st.hazard, ref), 0.0),
        "years_since_incident": np.where(n_ref >= 2, since, 0.0),
        "depth": st.depth[:, c] * st.founded[:, c],
        "incidents": np.triu(st.incidents, 1).sum((1, 2)).astype(float),
        "member_incidents": np.triu(st.incidents & pair_mask(mem), 1).sum((1, 2)).astype(float),
        "region_trust": pair_mean(st.trust, np.ones(mem.shape, dtype=bool)),
        "blocs": blocs(st.trust, p.phase.bloc_trust).astype(float),
    }
    for g, code in enumerate(ctx.world.gp_codes):
        for posture in Posture:
            out[f"{posture.label}_{code}"] = (st.posture[:, :, g] == posture).sum(1).astype(float)
    out["phase"] = classify(out, p.phase).astype(float)
    return out


def classify(m: dict[str, np.ndarray], ph) -> np.ndarray:
    """Phase code 0..4 (index into PHASES) from metrics, by the documented threshold rules."""
    nascent = m["members"] >= ph.nascent_members
    ascendant = (nascent & (m["breadth"] >= ph.breadth) & (m["trust_mean"] >= ph.ascendant_trust) & (m["identity"] >= ph.ascendant_identity)
                 & (m["interaction"] >= ph.ascendant_interaction))
    loose = (ascendant & (m["peace"] >= ph.mature_peace) & (m["years_since_incident"] >= ph.mature_years)
             & (m["trust_min"] >= ph.mature_min_trust) & (m["interest"] >= ph.mature_interest)
             & (m["identity"] >= ph.mature_identity))
    tight = loose & (m["trust_mean"] >= ph.tight_trust) & (m["depth"] >= ph.tight_depth)
    return nascent.astype(int) + ascendant + loose + tight


def first_years(phase: np.ndarray, years: np.ndarray) -> dict[str, list[float | None]]:
    """For each phase name, per replicate, the first year the phase (or a higher one) was reached.

    ``phase`` is (T, R) codes and ``years`` (T,) years.
    """
    out = {}
    for code, name in enumerate(PHASES):
        hit = phase >= code
        idx = np.argmax(hit, axis=0)
        out[name] = [float(years[i]) if hit[i, r] else None for r, i in enumerate(idx)]
    return out
