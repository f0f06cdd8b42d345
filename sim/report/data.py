"""The numbers behind every report figure and table: one ``*_data()`` function each.

Every function takes plain DataFrames (the tidy results table of
:mod:`sim.report.load`, or the rows of a run's own tables) and returns the
exact numbers a drawing function in :mod:`sim.report.plots` puts on the page,
so the tests can check them against hand-computed values (STYLE.md: plot code
split into ``*_data()`` and a thin drawing function).

Conventions:

* only rows with ``status == "ok"`` enter a figure; the others are counted by
  :func:`status_data` and listed by :func:`failed_data`;
* groups (``by``, default ``label``: the point's varied values) keep the order of
  their first appearance, i.e. point order;
* quantiles use numpy's default (linear interpolation);
* "mature" means ``phase_reached`` in :data:`MATURE` unless another outcome set is given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..metrics import CONDITIONS, PHASES
from ..world import LEVELS
from .load import short_name

#: Phases that count as a mature security community (DESIGN.md §3).
MATURE = ("mature-loose", "mature-tight")
#: The time-series metrics of the conditions figure: the three Adler-Barnett conditions and member trust.
CONDITION_METRICS = (*CONDITIONS, "trust_mean")
POSTURES = {-1: "balance", 0: "hedge", 1: "bandwagon"}


class Skip(Exception):
    """A figure whose inputs are absent: the message is the one-line note shown instead."""


def ok_rows(results: pd.DataFrame) -> pd.DataFrame:
    """The finished replicates (``status == "ok"``)."""
    if "status" not in results.columns:
        return results
    return results[results["status"] == "ok"]


def _groups(df: pd.DataFrame, by: str) -> list:
    return list(pd.unique(df[by]))


def outcome_name(outcome: Sequence[str]) -> str:
    """``P(mature)`` for the default set, else ``P(phase in a/b)``."""
    outcome = tuple(outcome)
    if outcome == MATURE:
        return "P(mature)"
    return f"P({'/'.join(outcome)})"


def reached(results: pd.DataFrame, outcome: Sequence[str] = MATURE) -> pd.Series:
    """1.0 where ``phase_reached`` is in ``outcome``, else 0.0 (per row)."""
    return results["phase_reached"].isin(list(outcome)).astype(float)


# --------------------------------------------------------------------------- tables

def status_data(results: pd.DataFrame) -> pd.DataFrame:
    """Rows, jobs and points per status (ok / failed / incomplete), all three always present."""
    out = []
    for status in ("ok", "failed", "incomplete"):
        sub = results[results["status"] == status]
        out.append({"status": status, "rows": len(sub),
                    "jobs": len(sub.drop_duplicates(["source", "job"])) if len(sub) else 0,
                    "points": len(sub.drop_duplicates(["source", "point"])) if len(sub) else 0})
    return pd.DataFrame(out)


def failed_data(results: pd.DataFrame) -> pd.DataFrame:
    """Every row that is not ok, grouped by (source, job, point, status, error): replicates (count and list)."""
    bad = results[results["status"] != "ok"]
    cols = ["source", "job", "point", "label", "status", "error"]
    if bad.empty:
        return pd.DataFrame(columns=[*cols, "rows", "replicates"])
    bad = bad.assign(error=bad["error"].fillna(""))
    rows = []
    for key, sub in bad.groupby(cols, sort=False, dropna=False):
        reps = sorted(int(r) for r in sub["replicate"].dropna())
        rows.append(dict(zip(cols, key)) | {"rows": len(sub),
                                            "replicates": ", ".join(map(str, reps)) if reps else "all"})
    return pd.DataFrame(rows)


def phase_counts_data(results: pd.DataFrame, by: str = "label") -> pd.DataFrame:
    """Per group: how many finished replicates reached each phase, and how many rows were not ok."""
    groups = _groups(results, by)
    ok = ok_rows(results)
    counts = (ok.groupby([by, "phase_reached"]).size().unstack(fill_value=0)
              if len(ok) else pd.DataFrame(index=pd.Index([], name=by)))
    counts = counts.reindex(index=groups, columns=list(PHASES), fill_value=0)
    counts["ok"] = counts[list(PHASES)].sum(axis=1)
    for status in ("failed", "incomplete"):
        counts[status] = results[results["status"] == status].groupby(by).size().reindex(groups, fill_value=0)
    counts.index.name = by
    return counts.astype(int)


# --------------------------------------------------------------------------- phases

def _bin_labels(values: pd.Series, bins: int, name: str) -> pd.Series:
    edges = np.linspace(values.min(), values.max(), bins + 1)
    idx = np.clip(np.searchsorted(edges, values.to_numpy(), side="right") - 1, 0, bins - 1)
    labels = [f"{short_name(name)} in [{edges[i]:.3g}, {edges[i + 1]:.3g}{']' if i == bins - 1 else ')'}"
              for i in range(bins)]
    return pd.Series(pd.Categorical.from_codes(idx, categories=labels), index=values.index)


def phase_probability_data(results: pd.DataFrame, by: str = "label", max_groups: int = 20,
                           factor: str | None = None, bins: int = 8) -> pd.DataFrame:
    """Share of finished replicates whose ``phase_reached`` is each phase, per group; column ``n`` = replicates.

    With more than ``max_groups`` groups and a numeric ``factor`` given, the
    groups are equal-width bins of that factor (``bins`` of them) instead.
    Rows sum to 1 (groups with no finished replicate are left out).
    """
    ok = ok_rows(results)
    if ok.empty:
        raise Skip("no finished replicate")
    key = ok[by]
    order = _groups(ok, by)
    if len(order) > max_groups and factor is not None and factor in ok.columns:
        key = _bin_labels(ok[factor].astype(float), bins, factor)
        order = [c for c in key.cat.categories if (key == c).any()]
    counts = ok.groupby(key, observed=True)["phase_reached"].value_counts().unstack(fill_value=0)
    counts = counts.reindex(index=order, columns=list(PHASES), fill_value=0)
    n = counts.sum(axis=1)
    out = counts.div(n, axis=0)
    out["n"] = n
    out.index.name = "group"
    out.columns.name = None
    return out


def time_to_phase_data(results: pd.DataFrame, by: str = "label",
                       phases: Sequence[str] = PHASES[1:]) -> dict[str, pd.DataFrame]:
    """Years from the start to the first year of each phase (``first_year_<phase> - start_year``).

    Returns ``ecdf``: per group and phase, each distinct time ``years`` with
    ``probability`` = share of all finished replicates of the group that had
    reached the phase by then (replicates that never reach it keep the curve
    below 1); and ``summary``: per group and phase, ``reached``, ``n`` and the
    ``median`` time among those that reached it.
    """
    ok = ok_rows(results)
    phases = [p for p in phases if f"first_year_{p}" in ok.columns]
    if ok.empty or not phases:
        raise Skip("no first_year_<phase> columns in finished replicates")
    if "start_year" not in ok.columns or ok["start_year"].isna().all():
        raise Skip("start year unknown (no scenario.start_year in the config and no timeseries)")
    ecdf, summary = [], []
    for g in _groups(ok, by):
        sub = ok[ok[by] == g]
        n = len(sub)
        for ph in phases:
            t = (sub[f"first_year_{ph}"].astype(float) - sub["start_year"].astype(float)).dropna()
            summary.append({"group": g, "phase": ph, "reached": len(t), "n": n,
                            "median": float(t.median()) if len(t) else math.nan})
            if len(t):
                vc = t.value_counts().sort_index()
                for years, c in zip(vc.index, vc.cumsum()):
                    ecdf.append({"group": g, "phase": ph, "years": float(years), "probability": c / n})
    return {"ecdf": pd.DataFrame(ecdf, columns=["group", "phase", "years", "probability"]),
            "summary": pd.DataFrame(summary)}


def representative_groups(results: pd.DataFrame, max_groups: int = 4, by: str = "label",
                          outcome: Sequence[str] = MATURE) -> list:
    """At most ``max_groups`` groups spanning the outcome: all if few, else evenly spaced by P(outcome).

    Groups are ranked by (P(outcome), mean final_trust_mean, order of
    appearance) and ``max_groups`` evenly spaced ranks are taken (lowest and
    highest included); the result keeps the order of appearance.
    """
    ok = ok_rows(results)
    order = _groups(ok, by)
    if len(order) <= max_groups:
        return order
    score = pd.DataFrame({"p": reached(ok, outcome).groupby(ok[by]).mean(),
                          "trust": ok.groupby(by)["final_trust_mean"].mean() if "final_trust_mean" in ok else 0.0})
    score["pos"] = [order.index(g) for g in score.index]
    ranked = list(score.sort_values(["p", "trust", "pos"]).index)
    picks = {ranked[int(round(i))] for i in np.linspace(0, len(ranked) - 1, max_groups)}
    return [g for g in order if g in picks]


# --------------------------------------------------------------------------- conditions over time

def _phase_spans(years: np.ndarray, codes: np.ndarray) -> list[tuple[float, float, str]]:
    """Contiguous runs of one phase code: (start year, end year, phase); a run ends where the next begins."""
    spans = []
    i = 0
    while i < len(codes):
        j = i
        while j + 1 < len(codes) and codes[j + 1] == codes[i]:
            j += 1
        end = years[j + 1] if j + 1 < len(years) else years[j]
        spans.append((float(years[i]), float(end), PHASES[int(codes[i])]))
        i = j + 1
    return spans


def conditions_data(ts: pd.DataFrame, metrics: Sequence[str] = CONDITION_METRICS, by: str = "label",
                    groups: Sequence | None = None) -> dict[str, pd.DataFrame]:
    """Median and 10-90% band across replicates of each metric per group and year, and the phase shading.

    ``ts`` has one row per (group, replicate, year) with the metric columns
    and ``phase`` (a run's timeseries table with a ``label`` column).
    Returns ``bands`` (group, metric, year, q10, q50, q90, n) and ``phases``
    (group, start, end, phase): runs of the median phase code across
    replicates, rounded down.
    """
    metrics = [m for m in metrics if m in ts.columns]
    if ts.empty or not metrics:
        raise Skip("no timeseries rows with the condition metrics")
    groups = list(groups) if groups is not None else _groups(ts, by)
    bands, spans = [], []
    for g in groups:
        sub = ts[ts[by] == g]
        if sub.empty:
            continue
        grp = sub.groupby("year")
        for m in metrics:
            q = grp[m].quantile([0.1, 0.5, 0.9]).unstack()
            bands.append(pd.DataFrame({"group": g, "metric": m, "year": q.index.astype(float),
                                       "q10": q[0.1].to_numpy(), "q50": q[0.5].to_numpy(),
                                       "q90": q[0.9].to_numpy(), "n": grp[m].count().to_numpy()}))
        if "phase" in sub.columns:
            med = grp["phase"].median()
            for s, e, ph in _phase_spans(med.index.to_numpy(float), np.floor(med.to_numpy()).astype(int)):
                spans.append({"group": g, "start": s, "end": e, "phase": ph})
    return {"bands": pd.concat(bands, ignore_index=True),
            "phases": pd.DataFrame(spans, columns=["group", "start", "end", "phase"])}


def conditions_from_aggregates(agg: pd.DataFrame, metrics: Sequence[str] = CONDITION_METRICS, by: str = "label",
                               groups: Sequence | None = None) -> dict[str, pd.DataFrame]:
    """The same as :func:`conditions_data` from an experiment's aggregates (point, year, metric, q10, q50, q90).

    ``n`` is not known there (left NaN); the phase shading uses the phase metric's q50, rounded down.
    """
    sub = agg[agg["metric"].isin(list(metrics))]
    if sub.empty:
        raise Skip("aggregates.parquet has none of the condition metrics")
    groups = list(groups) if groups is not None else _groups(agg, by)
    bands, spans = [], []
    for g in groups:
        ga = agg[agg[by] == g]
        for m in metrics:
            s = ga[ga["metric"] == m].sort_values("year")
            if s.empty:
                continue
            bands.append(pd.DataFrame({"group": g, "metric": m, "year": s["year"].astype(float).to_numpy(),
                                       "q10": s["q10"].to_numpy(float), "q50": s["q50"].to_numpy(float),
                                       "q90": s["q90"].to_numpy(float), "n": np.nan}))
        ph = ga[ga["metric"] == "phase"].sort_values("year")
        if len(ph):
            codes = np.floor(ph["q50"].to_numpy(float)).astype(int)
            for s_, e, name in _phase_spans(ph["year"].to_numpy(float), codes):
                spans.append({"group": g, "start": s_, "end": e, "phase": name})
    if not bands:
        raise Skip("aggregates.parquet has none of the condition metrics for the chosen points")
    return {"bands": pd.concat(bands, ignore_index=True),
            "phases": pd.DataFrame(spans, columns=["group", "start", "end", "phase"])}


# --------------------------------------------------------------------------- phase diagram

def _is_grid(values: pd.Series, max_levels: int) -> bool:
    return values.nunique() <= max_levels


def phase_diagram_data(results: pd.DataFrame, x: str, y: str, outcome: Sequence[str] = MATURE,
                       bins: int = 8, max_levels: int = 12) -> dict:
    """P(outcome) over two numeric factors: a grid of cells, averaged over every other factor.

    When each factor has at most ``max_levels`` distinct values (a grid
    design) the cells are those values; otherwise (LHS, Sobol, Morris) each
    factor is cut into ``bins`` equal-width bins and ``xs``/``ys`` are the bin
    centres. Returns x, y, xs, ys, ``z`` (len(ys) x len(xs) probabilities, NaN
    where a cell has no finished replicate), ``n`` (replicates per cell),
    ``kind`` (grid | binned) and ``outcome``.
    """
    ok = ok_rows(results)
    ok = ok[ok[x].notna() & ok[y].notna()]
    if ok.empty:
        raise Skip(f"no finished replicate with {x} and {y}")
    hit = reached(ok, outcome).to_numpy()
    xv, yv = ok[x].astype(float).to_numpy(), ok[y].astype(float).to_numpy()
    grid = _is_grid(ok[x], max_levels) and _is_grid(ok[y], max_levels)
    if grid:
        xs, xi = np.unique(xv, return_inverse=True)
        ys, yi = np.unique(yv, return_inverse=True)
    else:
        def cut(v):
            edges = np.linspace(v.min(), v.max(), bins + 1)
            idx = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, bins - 1)
            return (edges[:-1] + edges[1:]) / 2, idx
        xs, xi = cut(xv)
        ys, yi = cut(yv)
    n = np.zeros((len(ys), len(xs)))
    s = np.zeros((len(ys), len(xs)))
    np.add.at(n, (yi, xi), 1)
    np.add.at(s, (yi, xi), hit)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(n > 0, s / np.maximum(n, 1), np.nan)
    return {"x": x, "y": y, "xs": np.asarray(xs, float), "ys": np.asarray(ys, float), "z": z, "n": n.astype(int),
            "kind": "grid" if grid else "binned", "outcome": outcome_name(outcome)}


# --------------------------------------------------------------------------- memberships

def membership_timeline_data(agents: pd.DataFrame, events: pd.DataFrame | None, institution: str,
                             by: str = "label", groups: Sequence | None = None) -> dict[str, pd.DataFrame]:
    """Who is at which level of ``institution`` when, across replicates (a run's agents and events tables).

    ``levels``: per group, state and year the ``mean_level`` (0..3 =
    none/partner/observer/member) and ``share_member`` across replicates;
    ``joins``: per group and state, ``share`` of replicates with a join event
    into the institution (a scheduled event, replicate -1, counts for every
    replicate), the ``median_year`` of each replicate's first join, and ``exits``
    (share of replicates with an exit).
    """
    col = f"level_{institution}"
    if agents is None or agents.empty or col not in agents.columns:
        raise Skip(f"no agents rows with {col}")
    groups = list(groups) if groups is not None else _groups(agents, by)
    states = list(pd.unique(agents["state"]))
    rep_key = [c for c in ("source", "point", "replicate") if c in agents.columns]
    levels = []
    joins = []
    for g in groups:
        sub = agents[agents[by] == g]
        if sub.empty:
            continue
        lv = (sub.assign(_member=(sub[col] == 3).astype(float)).groupby(["state", "year"])
              .agg(mean_level=(col, "mean"), share_member=("_member", "mean")).reset_index())
        lv["state"] = pd.Categorical(lv["state"], categories=states, ordered=True)
        lv = lv.sort_values(["state", "year"])
        lv["state"] = lv["state"].astype(str)
        lv.insert(0, "group", g)
        levels.append(lv)
        reps = sub[rep_key].drop_duplicates().reset_index(drop=True)
        ev = events[events[by] == g] if events is not None and by in events.columns else None
        if ev is not None:
            ev = ev[ev["b"] == institution]
        for st in states:
            row = {"group": g, "state": st, "share": 0.0, "median_year": math.nan, "exits": 0.0}
            if ev is not None and len(ev) and len(reps):
                e = ev[ev["a"] == st]
                for kind in ("join", "exit"):
                    first = _first_event(reps, e[e["type"] == kind], rep_key)
                    if kind == "join":
                        row["share"] = float(first.notna().mean())
                        row["median_year"] = float(first.median()) if first.notna().any() else math.nan
                    else:
                        row["exits"] = float(first.notna().mean())
            joins.append(row)
    return {"levels": pd.concat(levels, ignore_index=True), "joins": pd.DataFrame(joins)}


def _first_event(reps: pd.DataFrame, ev: pd.DataFrame, rep_key: list[str]) -> pd.Series:
    """Per replicate in ``reps``: the first year of an event in ``ev`` (its own, or a scheduled one: replicate -1)."""
    own = ev[ev["replicate"] >= 0].groupby(rep_key)["year"].min().rename("own")
    out = reps.merge(own, left_on=rep_key, right_index=True, how="left")
    run_key = [c for c in rep_key if c != "replicate"]
    sched = ev[ev["replicate"] == -1]
    if len(sched):
        if run_key:
            s = sched.groupby(run_key)["year"].min().rename("sched")
            out = out.merge(s, left_on=run_key, right_index=True, how="left")
        else:
            out["sched"] = sched["year"].min()
    else:
        out["sched"] = math.nan
    return out[["own", "sched"]].min(axis=1)


def membership_final_data(results: pd.DataFrame, institution: str, codes: Sequence[str] | None = None,
                          by: str | None = None) -> pd.DataFrame:
    """Share of finished replicates ending at each level of ``institution``, per state (and group if ``by``).

    From the ``level_<INST>_<CODE>`` columns (a missing value is ``none``).
    Columns: [group,] state, none, partner, observer, member (each row sums to 1).
    """
    ok = ok_rows(results)
    prefix = f"level_{institution}_"
    cols = [c for c in ok.columns if c.startswith(prefix)]
    if codes is not None:
        known = {f"{prefix}{c}" for c in codes}
        cols = [f"{prefix}{c}" for c in codes if f"{prefix}{c}" in known and f"{prefix}{c}" in cols]
    if ok.empty or not cols:
        raise Skip(f"no {prefix}<CODE> columns in finished replicates")
    rows = []
    for g in (_groups(ok, by) if by else [None]):
        sub = ok if g is None else ok[ok[by] == g]
        for c in cols:
            v = sub[c].fillna("none").astype(str)
            row = {"group": g, "state": c[len(prefix):]} if by else {"state": c[len(prefix):]}
            row.update({lv: float((v == lv).mean()) for lv in LEVELS})
            rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- network and postures

def checkpoint_years(years: Sequence[float], chosen: Sequence[float] | None = None) -> list[float]:
    """The network years: ``chosen`` snapped to the nearest checkpoint, else first, middle and last checkpoint."""
    ys = sorted(set(float(y) for y in years))
    if not ys:
        return []
    if chosen:
        return list(dict.fromkeys(min(ys, key=lambda y: (abs(y - c), y)) for c in chosen))
    mid = min(ys, key=lambda y: (abs(y - (ys[0] + ys[-1]) / 2), y))
    return list(dict.fromkeys([ys[0], mid, ys[-1]]))


def network_data(pairs: pd.DataFrame, years: Sequence[float] | None = None, capability: dict | None = None,
                 threshold: float = 0.5, seed: int = 0, by: str = "label",
                 groups: Sequence | None = None) -> dict:
    """The trust network at chosen years: mean pair trust across replicates, blocs, node sizes.

    Returns ``years``, ``groups``, ``nodes`` (group, year, state, capability,
    bloc) and ``edges`` (group, year, a, b, trust) with the pairs whose mean
    trust is at least ``threshold``. Blocs are the Louvain communities
    (networkx, ``seed``) of that thresholded graph weighted by trust, numbered
    by their first state in world order (so a bloc keeps its number, and
    colour, across years); a state alone is bloc -1.
    Capability defaults to 1 for a state the world does not know.
    """
    import networkx as nx

    if pairs is None or pairs.empty:
        raise Skip("no pairs rows")
    years = checkpoint_years(pairs["year"].unique(), years)
    groups = list(groups) if groups is not None else _groups(pairs, by)
    states = list(dict.fromkeys(list(pd.unique(pairs["a"])) + list(pd.unique(pairs["b"]))))
    if capability:
        order = {c: i for i, c in enumerate(capability)}
        first = {s: i for i, s in enumerate(states)}
        states.sort(key=lambda s: (order.get(s, len(order)), first[s]))
    cap = {s: float((capability or {}).get(s, 1.0)) for s in states}
    nodes, edges = [], []
    for g in groups:
        sub = pairs[pairs[by] == g]
        for y in years:
            at = sub[sub["year"] == y]
            mean = at.groupby(["a", "b"], sort=False)["trust"].mean().reset_index()
            strong = mean[mean["trust"] >= threshold]
            G = nx.Graph()
            G.add_nodes_from(states)
            G.add_weighted_edges_from(strong[["a", "b", "trust"]].itertuples(index=False), weight="trust")
            comms = nx.community.louvain_communities(G, weight="trust", seed=seed) if G.number_of_edges() else []
            comms = sorted((sorted(c, key=states.index) for c in comms if len(c) > 1), key=lambda c: states.index(c[0]))
            bloc = {s: -1 for s in states}
            for b, c in enumerate(comms):
                for s in c:
                    bloc[s] = b
            nodes += [{"group": g, "year": y, "state": s, "capability": cap[s], "bloc": bloc[s]} for s in states]
            edges += [{"group": g, "year": y, "a": a, "b": b_, "trust": t}
                      for a, b_, t in strong[["a", "b", "trust"]].itertuples(index=False)]
    return {"years": years, "groups": groups, "nodes": pd.DataFrame(nodes),
            "edges": pd.DataFrame(edges, columns=["group", "year", "a", "b", "trust"]), "threshold": threshold}


def posture_data(agents: pd.DataFrame, year: float | None = None, by: str = "label",
                 groups: Sequence | None = None) -> pd.DataFrame:
    """Share of replicates in which each state balances, hedges or bandwagons toward each great power.

    From the agents table's ``posture_<GP>`` columns (-1/0/1) at ``year``
    (default: the last year). Columns: group, state, gp, balance, hedge, bandwagon.
    """
    if agents is None or agents.empty:
        raise Skip("no agents rows")
    gps = [c[len("posture_"):] for c in agents.columns if c.startswith("posture_")]
    if not gps:
        raise Skip("no posture_<GP> columns in agents.parquet")
    groups = list(groups) if groups is not None else _groups(agents, by)
    states = list(pd.unique(agents["state"]))
    rows = []
    for g in groups:
        sub = agents[agents[by] == g]
        if sub.empty:
            continue
        y = sub["year"].max() if year is None else year
        at = sub[sub["year"] == y]
        for st in states:
            s = at[at["state"] == st]
            for gp in gps:
                v = s[f"posture_{gp}"]
                rows.append({"group": g, "state": st, "gp": gp,
                             **{name: float((v == code).mean()) if len(v) else math.nan
                                for code, name in POSTURES.items()}})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- sensitivity

def point_outcomes(results: pd.DataFrame, outcome: Sequence[str] = MATURE,
                   metrics: Sequence[str] = ("final_trust_mean",)) -> pd.DataFrame:
    """Per point: the mean over finished replicates of each metric and P(outcome); ``n`` replicates."""
    ok = ok_rows(results)
    df = pd.DataFrame({"point": ok["point"].astype(int)})
    for m in metrics:
        df[m] = ok[m].astype(float)
    df[outcome_name(outcome)] = reached(ok, outcome)
    out = df.groupby("point").mean()
    out["n"] = df.groupby("point").size()
    return out


def sensitivity_data(results: pd.DataFrame, design: pd.DataFrame, experiment: dict,
                     outcomes: Sequence[str] = ("final_trust_mean", "P(mature)"),
                     outcome: Sequence[str] = MATURE, seed: int = 0) -> pd.DataFrame:
    """Morris (mu*, sigma) or Sobol (S1, ST) indices with 95% confidence intervals, per outcome and factor.

    The problem (names, bounds) comes from ``experiment["design"]``; the sample
    matrix X is ``design``'s factor columns in point order and Y the mean over
    finished replicates per point (:func:`point_outcomes`). Every point needs
    at least one finished replicate. Columns: outcome, factor, index, value,
    conf. Confidence intervals are bootstrap (SALib, ``seed``); Morris' sigma
    has none (NaN).
    """
    d = (experiment or {}).get("design") or {}
    kind = d.get("kind")
    if kind not in ("morris", "sobol"):
        raise Skip(f"design kind {kind!r} is not morris or sobol")
    factors = list((d.get("factors") or {}).keys())
    if not factors or design is None or any(f not in design.columns for f in factors):
        raise Skip("the design's factors are not all in design.parquet")
    bounds = [[float(v) for v in d["factors"][f]] for f in factors]
    problem = {"num_vars": len(factors), "names": factors, "bounds": bounds}
    design = design.sort_values("point")
    per_point = point_outcomes(results, outcome, [o for o in outcomes if o in results.columns])
    per_point = per_point.reindex(design["point"].astype(int).to_numpy())
    rows = []
    for name in outcomes:
        col = outcome_name(outcome) if name == "P(mature)" else name
        if col not in per_point.columns:
            continue
        Y = per_point[col].to_numpy(float)
        if np.isnan(Y).any():
            raise Skip(f"{int(np.isnan(Y).sum())} design point(s) have no finished replicate")
        if kind == "morris":
            from SALib.analyze import morris

            X = design[factors].to_numpy(float)
            res = morris.analyze(problem, X, Y, num_levels=int(d.get("levels", 4)), conf_level=0.95, seed=seed)
            for i, f in enumerate(factors):
                rows.append({"outcome": col, "factor": f, "index": "mu_star", "value": float(res["mu_star"][i]),
                             "conf": float(res["mu_star_conf"][i])})
                rows.append({"outcome": col, "factor": f, "index": "sigma", "value": float(res["sigma"][i]),
                             "conf": math.nan})
        else:
            from SALib.analyze import sobol

            if np.ptp(Y) == 0:  # no variance: the indices are undefined
                rows += [{"outcome": col, "factor": f, "index": ix, "value": math.nan, "conf": math.nan}
                         for f in factors for ix in ("S1", "ST")]
                continue
            with np.errstate(all="ignore"):
                res = sobol.analyze(problem, Y, calc_second_order=bool(d.get("second_order", False)),
                                    conf_level=0.95, seed=seed)
            for i, f in enumerate(factors):
                for ix in ("S1", "ST"):
                    rows.append({"outcome": col, "factor": f, "index": ix, "value": float(res[ix][i]),
                                 "conf": float(res[f"{ix}_conf"][i])})
    if not rows:
        raise Skip("none of the sensitivity outcomes is in the results")
    return pd.DataFrame(rows)


__all__ = ["CONDITION_METRICS", "MATURE", "POSTURES", "Skip", "checkpoint_years", "conditions_data",
           "conditions_from_aggregates", "failed_data", "membership_final_data", "membership_timeline_data",
           "network_data", "ok_rows", "outcome_name", "phase_counts_data", "phase_diagram_data",
           "phase_probability_data", "point_outcomes", "posture_data", "reached", "representative_groups",
           "sensitivity_data", "status_data", "time_to_phase_data"]
