"""Run R replicates of one configuration on the core and record what the data contract needs.

This is the one loop every client shares: the Hydra face records everything
for a run directory, the batch engine asks only for summaries and timeseries,
and the Mesa shell steps the core itself but summarises through the same
:func:`summarize`. The stepping and the recording (metrics every step, agent
rows, pair arrays at checkpoints) run in the compiled kernel (:mod:`sim.core.kernel`);
:func:`agent_rows`, :func:`sim.core.metrics.measure` and :func:`sim.core.dynamics.step`
are the readable reference it is tested against.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.dynamics import STATE_ARRAYS, Context, State, init_state, replicate_rngs
from ..core.metrics import PHASES, first_years
from ..core.params import Params
from ..core.scenario import Scenario, compile_schedule
from ..core.vocab import LEVELS, EventRecord, Posture
from ..core.world import World


@dataclass
class Trajectory:
    """What one call of :func:`simulate` recorded. Time axis first, then replicate."""

    ctx: Context
    seed: int
    replicate_ids: list[int]  # replicate indices k (their seeds are SeedSequence(seed, spawn_key=(k,)))
    years: np.ndarray  # (T+1,)
    timeseries: dict[str, np.ndarray]  # metric -> (T+1, R)
    agents: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (T+1, R, N[, X])
    pairs: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (C, R, N, N) at checkpoint steps
    checkpoints: list[int] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)  # replicate is the batch position (-1: scheduled)
    final: State | None = None


def agent_rows(st: State) -> dict[str, np.ndarray]:
    """Per-state variables recorded each step (the `agents` table); the readable reference of what the kernel records."""
    n = st.trust.shape[1]
    off = ~np.eye(n, dtype=bool)
    return {
        "trust_in_others": (st.trust * off).sum(2) / max(n - 1, 1),
        "threat_gp": st.threat_gp.copy(),
        "threat_neighbours": st.threat_state.max(2),
        "transnational": st.transnational.copy(),
        "dependence": st.dependence.copy(),
        "posture": st.posture.copy(),
        "membership": st.membership.copy(),
    }


#: Pair arrays recorded at checkpoints (``Trajectory.pairs``; the columns of the pairs table after a, b).
PAIR_FIELDS = ("trust", "density", "dispute", "shared", "mutual")
#: Per-state variables recorded each step, in the order of :func:`agent_rows` (the kernel records them);
#: ``trust_in_others`` is a state's mean trust in all other states.
AGENT_FIELDS = ("trust_in_others", "threat_gp", "threat_neighbours", "transnational", "dependence", "posture",
                "membership")


def simulate(world: World, scenario: Scenario, params: Params, seed: int, replicates: int = 1,
             first: int = 0, steps: int | None = None, agents: bool = True, pairs: bool = True,
             log_events: bool = True, checkpoint_every: int = 5, progress=None) -> Trajectory:
    """Run replicates ``first .. first+replicates-1`` of ``seed`` for ``steps`` steps (default: the scenario's span).

    ``checkpoint_every`` is in years; the pairs table holds the start, every
    checkpoint and the end. ``progress`` (callable taking the number of steps
    done) is called as steps complete. With ``params.calibration.source ==
    "posterior"`` each replicate runs with its own draw from the calibrated
    posterior (:func:`posterior_params`): a posterior-predictive run.
    ``log_events`` keeps the event log (``Trajectory.events``, the events table;
    the scheduled events themselves are switched by ``params.mechanisms.events``).
    """
    if params.calibration.source == "posterior":
        return _posterior_predictive(world, scenario, params, seed, replicates, first, steps=steps, agents=agents,
                                     pairs=pairs, log_events=log_events, checkpoint_every=checkpoint_every,
                                     progress=progress)
    from ..core import kernel  # here: numba and the kernel load only in processes that step a model

    ctx = Context(world, params, compile_schedule(scenario, world, steps))
    T = ctx.schedule.steps
    rngs = replicate_rngs(seed, replicates, first)
    st = init_state(ctx, replicates)
    kernel.check_state(st)
    every = max(1, int(round(checkpoint_every * ctx.schedule.steps_per_year)))
    checkpoints = sorted(set(range(0, T + 1, every)) | {T})
    rec = kernel.Recorder.for_run(ctx, replicates, T, agents=agents, checkpoints=checkpoints if pairs else None)
    log: list | None = [] if log_events else None
    # the compiled kernel steps every replicate and records what the tables need (sim.core.kernel)
    kernel.advance(st, ctx, rngs, T, log, rec, record_first=True, progress=progress)
    years = np.array([ctx.schedule.year(t) for t in range(T + 1)])
    # rec.trust_mean is the kernel's name of trust_in_others (a state's mean trust in all others)
    agent_series = dict(zip(AGENT_FIELDS, (rec.trust_mean, rec.threat_gp, rec.threat_neighbours, rec.transnational,
                                           rec.dependence, rec.posture, rec.membership))) if agents else {}
    return Trajectory(
        ctx=ctx, seed=seed, replicate_ids=list(range(first, first + replicates)), years=years,
        timeseries={name: rec.metrics[m] for m, name in enumerate(kernel.pack(ctx).metrics)},
        agents=agent_series,
        pairs={f: rec.pairs[q] for q, f in enumerate(PAIR_FIELDS)} if pairs else {},
        checkpoints=checkpoints if pairs else [], events=[EventRecord(*e) for e in log or []], final=st)


def summarize(tr: Trajectory) -> list[dict]:
    """One outcome record per replicate (DESIGN.md §3 "A run's summary")."""
    ts, w = tr.timeseries, tr.ctx.world
    phase = ts["phase"].astype(int)
    firsts = first_years(phase, tr.years)
    R = len(tr.replicate_ids)
    joins, exits = [0] * R, [0] * R  # counted from the event log, in one pass
    for e in tr.events:
        if e.type == "join":
            joins[e.replicate] += 1
        elif e.type == "exit":
            exits[e.replicate] += 1
    reached, last = phase.max(0).tolist(), phase[-1].tolist()
    incidents = ts["incidents"][1:].sum(0).tolist()
    member_incidents = ts["member_incidents"][1:].sum(0).tolist()
    finals = {m: ts[m][-1].tolist() for m in ("identity", "interaction", "interest", "trust_mean", "trust_min", "peace",
                                              "depth", "members", "breadth", "blocs", "region_trust")}
    membership, founded = tr.final.membership.tolist(), tr.final.founded.tolist()
    out = []
    for r, k in enumerate(tr.replicate_ids):
        levels = membership[r]
        final_members = {inst: {code: LEVELS[levels[i][j]] for i, code in enumerate(w.codes) if levels[i][j] > 0}
                         for j, inst in enumerate(w.institutions)}
        out.append({
            "replicate": k,
            "seed": tr.seed,
            "phase_reached": PHASES[reached[r]],
            "phase_final": PHASES[last[r]],
            "first_year": {name: firsts[name][r] for name in PHASES[1:]},
            "memberships": final_members,
            "founded": {inst: bool(founded[r][j]) for j, inst in enumerate(w.institutions)},
            "incidents": int(incidents[r]),
            "member_incidents": int(member_incidents[r]),
            "joins": joins[r],
            "exits": exits[r],
            "final": {m: v[r] for m, v in finals.items()},
        })
    return out


def outcomes(tr: Trajectory, window: int = 10) -> dict[str, np.ndarray]:
    """The main outcomes of each replicate (DOMAIN.md §6), each an (R,) array; names used by scenario
    ``expected:`` directions, the theory tests and the one-at-a-time table (``sim.studies.oat``).

    Phases reached (mature = mature-loose or higher) and the first mature year (the year after
    the end when never), final members, breadth, condition
    indices, member trust, depth and blocs at the end; incidents over the run; postures
    toward each great power (states per posture, mean over the last ``window`` steps);
    mean dependence on each great power at the end; and each state's final level in
    the community institution (``community_<CODE>``, 0 none .. 3 member).
    """
    ts, w, st = tr.timeseries, tr.ctx.world, tr.final
    phase = ts["phase"].max(0)
    out = {"ascendant": (phase >= 2).astype(float), "mature": (phase >= 3).astype(float),
           "tight": (phase >= 4).astype(float)}
    never = tr.years[-1] + 1
    out["mature_year"] = np.array([never if y is None else y
                                   for y in first_years(ts["phase"].astype(int), tr.years)["mature-loose"]], float)
    for name, col in (("members", "members"), ("breadth", "breadth"), ("member_trust", "trust_mean"),
                      ("trust_min", "trust_min"), ("identity", "identity"), ("interaction", "interaction"),
                      ("interest", "interest"), ("depth", "depth"), ("blocs", "blocs"), ("peace", "peace")):
        out[name] = ts[col][-1].astype(float)
    out["incidents"] = ts["incidents"][1:].sum(0)
    out["member_incidents"] = ts["member_incidents"][1:].sum(0)
    tail = slice(max(1, ts["phase"].shape[0] - window), None)
    for g, code in enumerate(w.gp_codes):
        for posture in (p.label for p in Posture):
            out[f"{posture}_{code}"] = ts[f"{posture}_{code}"][tail].mean(0)
        out[f"dependence_{code}"] = st.dependence[:, :, g].mean(1)
    for i, code in enumerate(w.codes):
        out[f"community_{code}"] = st.membership[:, i, w.community].astype(float)
    return out


#: The calibrated posterior shipped with the package (sim.studies.calibrate writes it).
POSTERIOR = Path(__file__).resolve().parents[1] / "data" / "posterior.parquet"


def load_posterior(path: Path | None = None):
    """The calibrated posterior sample (one row per particle: parameter columns and ``weight``)."""
    import pandas as pd

    path = Path(path or POSTERIOR)
    if not path.is_file():
        raise FileNotFoundError(f"params.calibration.source=posterior: no posterior at {path}; "
                                "run python -m sim.studies.calibrate")
    return pd.read_parquet(path)


#: spawn_key suffix of the stream that picks replicate k's posterior draw: SeedSequence(seed, spawn_key=(k, 1)),
#: independent of the stream of its dynamics, SeedSequence(seed, spawn_key=(k,)).
POSTERIOR_STREAM = 1


def posterior_params(params: Params, seed: int, k: int, posterior=None) -> Params:
    """Replicate k's parameters: ``params`` with one weighted draw from the posterior sample (DESIGN.md §6).

    The draw is fixed by (seed, k) alone, so replicate k gets the same parameter set alone,
    in a batch of any size, on any worker or launcher. Parameters the posterior does not
    hold keep their values in ``params``.
    """
    from ..core.params import with_overrides

    post = load_posterior() if posterior is None else posterior
    g = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(k, POSTERIOR_STREAM)))
    w = post["weight"].to_numpy(float)
    i = int(g.choice(len(post), p=w / w.sum()))
    names = [c for c in post.columns if c != "weight"]
    out = with_overrides(params, {n: post[n].iloc[i] for n in names})
    out.calibration.source = "default"
    return out


def _posterior_predictive(world, scenario, params, seed, replicates, first, progress=None, **kw) -> Trajectory:
    """One replicate at a time, each with its posterior draw, stacked into one Trajectory (replicate axis 1)."""
    post = load_posterior()
    parts = [simulate(world, scenario, posterior_params(params, seed, k, post), seed, 1, k, **kw)
             for k in range(first, first + replicates)]
    if progress is not None:
        progress(parts[0].timeseries["phase"].shape[0] - 1)
    one = parts[0]
    events = [e._replace(replicate=r) for r, tr in enumerate(parts) for e in tr.events]
    final = State(one.final.step, *(np.concatenate([getattr(tr.final, f) for tr in parts]) for f in STATE_ARRAYS))
    return Trajectory(
        ctx=Context(world, params, one.ctx.schedule), seed=seed, replicate_ids=list(range(first, first + replicates)),
        years=one.years, timeseries={k: np.concatenate([tr.timeseries[k] for tr in parts], axis=1) for k in one.timeseries},
        agents={k: np.concatenate([tr.agents[k] for tr in parts], axis=1) for k in one.agents},
        pairs={k: np.concatenate([tr.pairs[k] for tr in parts], axis=1) for k in one.pairs},
        checkpoints=one.checkpoints, events=events, final=final)
