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
* "mature" means ``phase_reached`` in :data:`MATURE` unless another outcome set is given;
* every share comes with a 95% Wilson score interval (:func:`wilson_interval`),
  every mean with a seeded percentile-bootstrap interval (:func:`bootstrap_mean`),
  every contrast between two groups pairs replicate k with replicate k (same
  seed: common random numbers) when the seeds match (:func:`paired_contrast`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..core.metrics import CONDITIONS, bloc_labels
from ..core.vocab import LEVELS, PHASES, POSTURE_NAMES, Phase
from .load import short_name

#: Phases that count as a mature security community (DESIGN.md §3).
MATURE = tuple(p.label for p in Phase if p >= Phase.MATURE_LOOSE)
#: The time-series metrics of the conditions figure: the three Adler-Barnett conditions and member trust.
CONDITION_METRICS = (*CONDITIONS, "trust_mean")
#: Posture name by code (``sim.core.vocab.POSTURE_NAMES``).
POSTURES = POSTURE_NAMES
#: z of a two-sided 95% normal interval.
Z95 = 1.959963984540054
#: Bootstrap resamples of every interval of a mean, a median or a paired mean difference.
N_BOOT = 2000


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


# --------------------------------------------------------------------------- intervals and contrasts

def wilson_interval(k, n, z: float = Z95):
    """Wilson score interval of a binomial share k/n (Wilson 1927; Brown, Cai & DasGupta 2001).

    ``k`` and ``n`` may be numbers or arrays; returns ``(lo, hi)`` (NaN where
    n == 0). Unlike the normal approximation it stays inside [0, 1] and does
    not collapse at k = 0 or k = n: 0 of 30 gives [0, 0.114].
    """
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        z2 = z * z
        denom = 1 + z2 / n
        centre = (p + z2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
        lo = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
        hi = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    if lo.ndim == 0:
        return float(lo), float(hi)
    return lo, hi


def share_interval(hits) -> dict:
    """Share of True in ``hits`` (NaN dropped) with its Wilson interval: estimate, lo, hi, k, n."""
    h = np.asarray(pd.Series(hits, dtype=float).dropna(), dtype=float)
    n, k = len(h), float(h.sum())
    lo, hi = wilson_interval(k, n)
    return {"estimate": k / n if n else math.nan, "lo": lo, "hi": hi, "k": int(k), "n": n}


def _resample_index(n: int, seed: int, n_boot: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def bootstrap_mean(x, seed: int = 0, n_boot: int = N_BOOT, level: float = 0.95) -> dict:
    """Mean of ``x`` (NaN dropped) with a percentile-bootstrap interval (Efron & Tibshirani 1993, ch. 13).

    ``n_boot`` resamples of size n with replacement from ``numpy.random.default_rng(seed)``;
    the interval is the (1 - level)/2 and (1 + level)/2 quantiles of the
    resampled means (numpy's linear interpolation). Deterministic for a seed.
    Returns estimate, lo, hi, n.
    """
    v = np.asarray(pd.Series(x, dtype=float).dropna(), dtype=float)
    n = len(v)
    if n == 0:
        return {"estimate": math.nan, "lo": math.nan, "hi": math.nan, "n": 0}
    means = v[_resample_index(n, seed, n_boot)].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return {"estimate": float(v.mean()), "lo": float(lo), "hi": float(hi), "n": n}


def bootstrap_quantile_band(values: np.ndarray, q: float = 0.5, seed: int = 0, n_boot: int = 1000,
                            level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile-bootstrap interval of the ``q`` quantile across replicates, per row of ``values`` (T, R).

    The same resampled replicates are used for every row (a resampled
    replicate keeps its whole trajectory). Returns ``(lo, hi)``, each (T,).
    """
    v = np.asarray(values, dtype=float)
    T, R = v.shape
    if R == 0:
        return np.full(T, np.nan), np.full(T, np.nan)
    idx = _resample_index(R, seed, n_boot)
    qs = np.quantile(v[:, idx], q, axis=2)  # (T, n_boot)
    lo, hi = np.quantile(qs, [(1 - level) / 2, (1 + level) / 2], axis=1)
    return lo, hi


def newcombe_difference(x, y, paired: bool = True, z: float = Z95) -> dict:
    """Difference of two shares, mean(x) - mean(y), with Newcombe's score interval.

    ``x`` and ``y`` are 0/1 outcomes. ``paired``: pair i of x goes with pair i
    of y (the same replicate seed in both groups) and the interval is
    Newcombe's (1998b) method 10 from the 2 x 2 table of pairs (a both, b x
    only, c y only, d neither), with phi = (ad - bc) / sqrt((a+b)(c+d)(a+c)(b+d))
    (0 when a margin is empty); else the independent-samples method 10 of
    Newcombe (1998a) (phi = 0, any lengths). With Wilson intervals
    (l1, u1) of p1 and (l2, u2) of p2:

        lo = d - sqrt((p1 - l1)^2 - 2 phi (p1 - l1)(u2 - p2) + (u2 - p2)^2)
        hi = d + sqrt((u1 - p1)^2 - 2 phi (u1 - p1)(p2 - l2) + (p2 - l2)^2)

    Returns diff, lo, hi, n (pairs, or n of x), paired.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if paired:
        if len(x) != len(y):
            raise ValueError("paired shares need equally long outcome vectors")
        keep = ~(np.isnan(x) | np.isnan(y))
        x, y = x[keep] > 0.5, y[keep] > 0.5
        n1 = n2 = len(x)
        a, b = float(np.sum(x & y)), float(np.sum(x & ~y))
        c, d = float(np.sum(~x & y)), float(np.sum(~x & ~y))
        k1, k2 = a + b, a + c
        den = (a + b) * (c + d) * (a + c) * (b + d)
        phi = (a * d - b * c) / math.sqrt(den) if den > 0 else 0.0
    else:
        x, y = x[~np.isnan(x)] > 0.5, y[~np.isnan(y)] > 0.5
        n1, n2 = len(x), len(y)
        k1, k2 = float(x.sum()), float(y.sum())
        phi = 0.0
    if n1 == 0 or n2 == 0:
        return {"diff": math.nan, "lo": math.nan, "hi": math.nan, "n": 0, "paired": paired}
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson_interval(k1, n1, z)
    l2, u2 = wilson_interval(k2, n2, z)
    diff = p1 - p2
    lo = diff - math.sqrt(max((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2, 0.0))
    hi = diff + math.sqrt(max((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2, 0.0))
    return {"diff": diff, "lo": max(lo, -1.0), "hi": min(hi, 1.0), "n": n1, "paired": paired}


def bootstrap_mean_difference(x, y, paired: bool = True, seed: int = 0, n_boot: int = N_BOOT,
                              level: float = 0.95) -> dict:
    """mean(x) - mean(y) with a percentile-bootstrap interval.

    ``paired``: the differences x_i - y_i of the pairs where both are known
    are resampled (pairs stay together, so the seed noise that the two groups
    share cancels); otherwise x and y are resampled independently (seeds
    ``seed`` and ``seed + 1``). Returns diff, lo, hi, n (pairs, or n of x), paired.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if paired:
        if len(x) != len(y):
            raise ValueError("paired means need equally long vectors")
        d = x - y
        r = bootstrap_mean(d, seed=seed, n_boot=n_boot, level=level)
        return {"diff": r["estimate"], "lo": r["lo"], "hi": r["hi"], "n": r["n"], "paired": True}
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    if len(x) == 0 or len(y) == 0:
        return {"diff": math.nan, "lo": math.nan, "hi": math.nan, "n": 0, "paired": False}
    mx = x[_resample_index(len(x), seed, n_boot)].mean(axis=1)
    my = y[_resample_index(len(y), seed + 1, n_boot)].mean(axis=1)
    lo, hi = np.quantile(mx - my, [(1 - level) / 2, (1 + level) / 2])
    return {"diff": float(x.mean() - y.mean()), "lo": float(lo), "hi": float(hi), "n": len(x), "paired": False}


def pair_replicates(a: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Rows of ``a`` and ``b`` that share a replicate (and seed): common random numbers, in replicate order.

    Replicate k of every scenario or point runs on the same seed
    (``SeedSequence(seed, spawn_key=(k,))``), so a contrast between two groups
    can pair replicate k with replicate k. None when no row pairs up (a
    different master seed, or no replicate column), so callers fall back to
    independent samples.
    """
    key = [c for c in ("replicate", "seed") if c in a.columns and c in b.columns
           and a[c].notna().any() and b[c].notna().any()]
    if "replicate" not in key:
        return None
    ka = a.dropna(subset=key).drop_duplicates(key).set_index(key)
    kb = b.dropna(subset=key).drop_duplicates(key).set_index(key)
    common = ka.index.intersection(kb.index).sort_values()
    if len(common) == 0:
        return None
    return ka.loc[common].reset_index(), kb.loc[common].reset_index()


def start_phase(results: pd.DataFrame) -> pd.Series:
    """Per row: the code of the phase at the start (the highest phase whose first year is the start year)."""
    code = pd.Series(0, index=results.index)
    for k, ph in enumerate(PHASES[1:], start=1):
        col = f"first_year_{ph}"
        if col in results.columns:
            at = results[col].astype(float) <= results["start_year"].astype(float)
            code = code.where(~at, k)
    return code


def years_to_first_advance(results: pd.DataFrame) -> pd.Series:
    """Per row: years from the start to the first year in a phase above the starting one (NaN: never).

    From the ``first_year_<phase>`` columns (the first year the phase or a
    higher one was reached) and ``start_year``; a fall back to a lower phase
    is not counted (the results table does not record it).
    """
    out = pd.Series(math.nan, index=results.index)
    if "start_year" not in results.columns:
        return out
    s = start_phase(results)
    start = results["start_year"].astype(float)
    for k, ph in enumerate(PHASES[1:], start=1):
        col = f"first_year_{ph}"
        if col not in results.columns:
            continue
        t = results[col].astype(float) - start
        take = (k > s) & t.notna() & (out.isna() | (t < out))
        out = out.where(~take, t)
    return out


#: The mean outcomes of the headline table: column -> (name, unit, format).
HEADLINE_MEANS = {"final_members": ("final members", "states", "{:.1f}"),
                  "final_trust_mean": ("member trust", "index 0–1", "{:.2f}"),
                  "member_incidents": ("incidents among members", "per run", "{:.1f}")}


def headline_outcomes(results: pd.DataFrame, outcome: Sequence[str] = MATURE) -> list[dict]:
    """The outcomes of the headline table present in ``results``: key, name, kind, column, unit, format.

    P(reached >= p) for each phase p above none (the ``phase_reached`` column),
    P(outcome) when the outcome set is not one of those, the years to the first
    phase advance, then :data:`HEADLINE_MEANS`.
    """
    out = []
    if "phase_reached" in results.columns:
        for k, ph in enumerate(PHASES[1:], start=1):
            name = f"P(≥ {ph})" if k < len(PHASES) - 1 else f"P({ph})"
            out.append({"key": f"ge_{ph}", "name": name, "kind": "share", "phases": PHASES[k:],
                        "unit": "probability", "format": "{:.2f}"})
        if tuple(outcome) not in [tuple(PHASES[k:]) for k in range(1, len(PHASES))]:
            out.append({"key": "outcome", "name": outcome_name(outcome), "kind": "share", "phases": tuple(outcome),
                        "unit": "probability", "format": "{:.2f}"})
    if "start_year" in results.columns and any(c.startswith("first_year_") for c in results.columns):
        out.append({"key": "years_to_advance", "name": "years to first phase advance", "kind": "mean",
                    "unit": "years", "format": "{:.1f}"})
    for col, (name, unit, fmt) in HEADLINE_MEANS.items():
        if col in results.columns:
            out.append({"key": col, "name": name, "kind": "mean", "unit": unit, "format": fmt})
    return out


def _outcome_values(rows: pd.DataFrame, spec: dict) -> pd.Series:
    if spec["kind"] == "share":
        return rows["phase_reached"].isin(list(spec["phases"])).astype(float).where(rows["phase_reached"].notna())
    if spec["key"] == "years_to_advance":
        return years_to_first_advance(rows)
    return pd.to_numeric(rows[spec["key"]], errors="coerce").astype(float)


def headline_data(results: pd.DataFrame, reference=None, by: str = "label", outcome: Sequence[str] = MATURE,
                  seed: int = 0, n_boot: int = N_BOOT, groups: Sequence | None = None) -> pd.DataFrame:
    """The headline table: every main outcome per group with its 95% interval, and the contrast to ``reference``.

    One row per (group, outcome) in group order then :func:`headline_outcomes`
    order. Columns: group, key, name, kind (share | mean), unit, n (finished
    replicates with a value), k (shares: hits), estimate, lo, hi (Wilson for
    shares, percentile bootstrap of the mean for means, ``seed``), reference
    (the reference group's name), pairs (replicates paired by replicate index
    and seed; 0 = unpaired), diff, diff_lo, diff_hi (group - reference:
    Newcombe's paired interval for shares, bootstrap of the paired differences
    for means; unpaired versions when no replicate pairs up) and
    ``excludes_zero`` (the difference's interval lies wholly above or below 0).
    The reference row has no difference. "years to first phase advance" is
    averaged over the replicates that advanced (n says how many).
    """
    ok = ok_rows(results)
    if ok.empty:
        raise Skip("no finished replicate")
    specs = headline_outcomes(ok, outcome)
    if not specs:
        raise Skip("no outcome columns in the results")
    order = list(groups) if groups is not None else _groups(ok, by)
    ref_rows = ok[ok[by] == reference] if reference is not None else None
    rows = []
    for gi, g in enumerate(order):
        sub = ok[ok[by] == g]
        if sub.empty:
            continue
        pairs = None
        if ref_rows is not None and g != reference and len(ref_rows):
            pairs = pair_replicates(sub, ref_rows)
        for oi, spec in enumerate(specs):
            v = _outcome_values(sub, spec)
            if spec["kind"] == "share":
                est = share_interval(v)
            else:
                est = bootstrap_mean(v, seed=seed, n_boot=n_boot)
                est["k"] = math.nan
            row = {"group": g, "key": spec["key"], "name": spec["name"], "kind": spec["kind"], "unit": spec["unit"],
                   "format": spec["format"], "n": est["n"], "k": est["k"], "estimate": est["estimate"],
                   "lo": est["lo"], "hi": est["hi"], "reference": reference, "pairs": 0,
                   "diff": math.nan, "diff_lo": math.nan, "diff_hi": math.nan, "excludes_zero": False}
            if ref_rows is not None and g != reference and len(ref_rows):
                if pairs is not None:
                    xa, xb = _outcome_values(pairs[0], spec).to_numpy(), _outcome_values(pairs[1], spec).to_numpy()
                    c = (newcombe_difference(xa, xb, paired=True) if spec["kind"] == "share"
                         else bootstrap_mean_difference(xa, xb, paired=True, seed=seed, n_boot=n_boot))
                else:
                    xa, xb = v.to_numpy(), _outcome_values(ref_rows, spec).to_numpy()
                    c = (newcombe_difference(xa, xb, paired=False) if spec["kind"] == "share"
                         else bootstrap_mean_difference(xa, xb, paired=False, seed=seed, n_boot=n_boot))
                row.update(pairs=c["n"] if c["paired"] else 0, diff=c["diff"], diff_lo=c["lo"], diff_hi=c["hi"],
                           excludes_zero=bool(c["lo"] > 0 or c["hi"] < 0))
            rows.append(row)
    return pd.DataFrame(rows)


def pick_reference(results: pd.DataFrame, requested: str | None = None, base: str | None = None,
                   by: str = "label") -> str | None:
    """The reference group: ``requested`` (a group label, or a scenario name), else ``base``, else the first group.

    Raises ValueError naming the groups when ``requested`` matches none. None
    when there is at most one group (nothing to contrast).
    """
    ok = ok_rows(results)
    groups = _groups(ok, by) if len(ok) else _groups(results, by)
    if requested is not None:
        if requested in groups:
            return requested
        if "scenario" in results.columns:
            hit = [g for g in groups if (ok.loc[ok[by] == g, "scenario"] == requested).any()]
            if hit:
                return hit[0]
        shown = ", ".join(map(str, groups[:12])) + (" ..." if len(groups) > 12 else "")
        raise ValueError(f"--reference {requested}: no such group or scenario; groups: {shown}")
    if len(groups) < 2:
        return None
    if base is not None and base in groups:
        return base
    return groups[0]


def base_point_label(results: pd.DataFrame, factors: Sequence[str], config: dict | None,
                     by: str = "label") -> str | None:
    """The design's base point: the group whose factor values equal the config's own values (None if no point does).

    ``config`` is a resolved config (``.hydra/config.yaml``): each factor is
    looked up by its dotted path (``params.pressure.intensity``).
    """
    if not factors or not config:
        return None
    base = {}
    for f in factors:
        node = config
        for part in f.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is None or isinstance(node, (dict, list)):
            return None
        base[f] = node
    ok = ok_rows(results)
    for g in _groups(ok, by):
        row = ok[ok[by] == g].iloc[0]
        try:
            if all(math.isclose(float(row[f]), float(v), rel_tol=1e-9, abs_tol=1e-12) if not isinstance(v, str)
                   else str(row[f]) == v for f, v in base.items()):
                return g
        except (TypeError, ValueError, KeyError):
            continue
    return None


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
    Rows sum to 1 over the phases (groups with no finished replicate are left
    out). For each phase p above none, ``ge:<p>`` is the cumulative share
    P(highest phase >= p) and ``ge:<p>:lo`` / ``ge:<p>:hi`` its 95% Wilson
    interval (the whiskers of the figure, at the boundaries between segments).
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
    for k, ph in enumerate(PHASES[1:], start=1):
        ge = counts[list(PHASES[k:])].sum(axis=1)
        lo, hi = wilson_interval(ge.to_numpy(float), n.to_numpy(float))
        out[f"ge:{ph}"], out[f"ge:{ph}:lo"], out[f"ge:{ph}:hi"] = ge / n, lo, hi
    out.index.name = "group"
    out.columns.name = None
    return out


def time_to_phase_data(results: pd.DataFrame, by: str = "label",
                       phases: Sequence[str] = PHASES[1:]) -> dict[str, pd.DataFrame]:
    """Years from the start to the first year of each phase (``first_year_<phase> - start_year``).

    Returns ``ecdf``: per group and phase, each distinct time ``years`` with
    ``probability`` = share of all finished replicates of the group that had
    reached the phase by then (replicates that never reach it keep the curve
    below 1) and its 95% Wilson interval ``lo``, ``hi``; and ``summary``: per
    group and phase, ``reached``, ``n``, the ``median`` time among those that
    reached it, and the final share ``share`` with ``lo``, ``hi``.
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
            lo, hi = wilson_interval(len(t), n)
            summary.append({"group": g, "phase": ph, "reached": len(t), "n": n,
                            "median": float(t.median()) if len(t) else math.nan,
                            "share": len(t) / n if n else math.nan, "lo": lo, "hi": hi})
            if len(t):
                vc = t.value_counts().sort_index()
                for years, c in zip(vc.index, vc.cumsum()):
                    lo, hi = wilson_interval(int(c), n)
                    ecdf.append({"group": g, "phase": ph, "years": float(years), "probability": c / n,
                                 "lo": lo, "hi": hi})
    return {"ecdf": pd.DataFrame(ecdf, columns=["group", "phase", "years", "probability", "lo", "hi"]),
            "summary": pd.DataFrame(summary)}


def membership_difference(results: pd.DataFrame, institution: str, reference, by: str = "label") -> pd.DataFrame:
    """How far each group's final memberships in ``institution`` are from the reference group's.

    Per group and state, the distribution of the final level (none, partner,
    observer, member) across finished replicates, from the
    ``level_<INST>_<CODE>`` columns; the distance of a group is the largest,
    over states, total-variation distance to the reference's distribution
    (0.5 * sum over levels of |share - reference share|; 0 = same, 1 = disjoint).
    Columns: group, distance, state (the state where it is largest).
    """
    ok = ok_rows(results)
    prefix = f"level_{institution}_"
    cols = [c for c in ok.columns if c.startswith(prefix)]
    groups = _groups(ok, by)
    if not cols or reference not in groups:
        return pd.DataFrame({"group": groups, "distance": 0.0, "state": ""})

    def dist(g):
        sub = ok[ok[by] == g]
        return {c[len(prefix):]: sub[c].fillna("none").astype(str).value_counts(normalize=True)
                .reindex(list(LEVELS), fill_value=0.0) for c in cols}

    ref = dist(reference)
    rows = []
    for g in groups:
        d = dist(g)
        tv = {st: 0.5 * float((d[st] - ref[st]).abs().sum()) for st in d}
        st = max(tv, key=lambda s: (tv[s], -list(tv).index(s)))
        rows.append({"group": g, "distance": tv[st], "state": st if tv[st] > 0 else ""})
    return pd.DataFrame(rows)


def select_groups(results: pd.DataFrame, max_groups: int = 4, by: str = "label", outcome: Sequence[str] = MATURE,
                  reference=None, institution: str | None = None, min_difference: float = 0.15) -> dict:
    """Which groups the per-group figures show (at most ``max_groups``), and why: {group: reason}.

    All groups if they fit. Otherwise, in this order of priority: the
    ``reference`` group; the lowest and the highest group by (P(outcome), mean
    final member trust, order of appearance); every group whose final
    memberships in ``institution`` differ from the reference's by at least
    ``min_difference`` (:func:`membership_difference`; largest first); then
    groups at evenly spaced ranks of that ordering. The result keeps the order
    of appearance.
    """
    ok = ok_rows(results)
    order = _groups(ok, by)
    if len(order) <= max_groups:
        return {g: "all groups" for g in order}
    score = pd.DataFrame({"p": reached(ok, outcome).groupby(ok[by]).mean(),
                          "trust": ok.groupby(by)["final_trust_mean"].mean() if "final_trust_mean" in ok else 0.0})
    score["pos"] = [order.index(g) for g in score.index]
    ranked = list(score.sort_values(["p", "trust", "pos"]).index)
    name = outcome_name(outcome)
    picks: dict = {}

    def add(g, why):
        if g not in picks and len(picks) < max_groups:
            picks[g] = why

    if reference is not None and reference in order:
        add(reference, "reference")
    add(ranked[0], f"lowest {name} = {score.loc[ranked[0], 'p']:.2f}")
    add(ranked[-1], f"highest {name} = {score.loc[ranked[-1], 'p']:.2f}")
    if institution:
        md = membership_difference(ok, institution, reference if reference in order else order[0], by)
        md = md[md["distance"] >= min_difference].sort_values("distance", ascending=False, kind="stable")
        for _, r in md.iterrows():
            add(r["group"], f"{institution} memberships differ: {r['state']} by {r['distance']:.2f}")
    for i in np.linspace(0, len(ranked) - 1, max_groups):
        add(ranked[int(round(i))], f"spread over {name}")
    for g in ranked:  # rounding may have hit a rank twice: fill with the next unused ones
        add(g, f"spread over {name}")
    return {g: picks[g] for g in order if g in picks}


def representative_groups(results: pd.DataFrame, max_groups: int = 4, by: str = "label",
                          outcome: Sequence[str] = MATURE, reference=None, institution: str | None = None) -> list:
    """The groups of :func:`select_groups`, in order of appearance."""
    return list(select_groups(results, max_groups, by, outcome, reference, institution))


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
                    groups: Sequence | None = None, seed: int = 0, n_boot: int = 1000) -> dict[str, pd.DataFrame]:
    """Median and 10-90% band across replicates of each metric per group and year, and the phase shading.

    ``ts`` has one row per (group, replicate, year) with the metric columns
    and ``phase`` (a run's timeseries table with a ``label`` column).
    Returns ``bands`` (group, metric, year, q10, q50, q90, n, and q50_lo,
    q50_hi: the 95% percentile-bootstrap interval of the median, ``n_boot``
    resamples of whole replicates, ``seed``) and ``phases`` (group, start, end,
    phase): runs of the median phase code across replicates, rounded down.
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
        rep_key = [c for c in ("source", "point", "replicate") if c in sub.columns]
        for m in metrics:
            q = grp[m].quantile([0.1, 0.5, 0.9]).unstack()
            if "replicate" in rep_key:
                wide = sub.pivot_table(index="year", columns=rep_key, values=m, aggfunc="first").reindex(q.index)
                lo, hi = _median_band(wide.to_numpy(float), seed, n_boot)
            else:
                lo = hi = np.full(len(q), np.nan)
            bands.append(pd.DataFrame({"group": g, "metric": m, "year": q.index.astype(float),
                                       "q10": q[0.1].to_numpy(), "q50": q[0.5].to_numpy(),
                                       "q90": q[0.9].to_numpy(), "n": grp[m].count().to_numpy(),
                                       "q50_lo": lo, "q50_hi": hi}))
        if "phase" in sub.columns:
            med = grp["phase"].median()
            for s, e, ph in _phase_spans(med.index.to_numpy(float), np.floor(med.to_numpy()).astype(int)):
                spans.append({"group": g, "start": s, "end": e, "phase": ph})
    return {"bands": pd.concat(bands, ignore_index=True),
            "phases": pd.DataFrame(spans, columns=["group", "start", "end", "phase"])}


def _median_band(wide: np.ndarray, seed: int, n_boot: int) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap interval of the per-year median of a (years, replicates) array with gaps (NaN ignored)."""
    if wide.size == 0:
        return np.full(len(wide), np.nan), np.full(len(wide), np.nan)
    if not np.isnan(wide).any():
        return bootstrap_quantile_band(wide, 0.5, seed=seed, n_boot=n_boot)
    idx = _resample_index(wide.shape[1], seed, n_boot)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a year where a resample is all NaN
        qs = np.nanquantile(wide[:, idx], 0.5, axis=2)
        lo, hi = np.nanquantile(qs, [0.025, 0.975], axis=1)
    return lo, hi


def conditions_from_aggregates(agg: pd.DataFrame, metrics: Sequence[str] = CONDITION_METRICS, by: str = "label",
                               groups: Sequence | None = None) -> dict[str, pd.DataFrame]:
    """The same as :func:`conditions_data` from an experiment's aggregates (point, year, metric, q10, q50, q90).

    ``n`` is not known there (left NaN), nor an interval of the median (q50_lo, q50_hi NaN: the
    aggregates keep no replicate); the phase shading uses the phase metric's q50, rounded down.
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
                                       "q90": s["q90"].to_numpy(float), "n": np.nan, "q50_lo": np.nan,
                                       "q50_hi": np.nan}))
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
    where a cell has no finished replicate), ``lo``/``hi`` (their 95% Wilson
    intervals), ``n`` (replicates per cell), ``kind`` (grid | binned) and ``outcome``.
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
    lo, hi = wilson_interval(s, n)
    return {"x": x, "y": y, "xs": np.asarray(xs, float), "ys": np.asarray(ys, float), "z": z, "lo": lo, "hi": hi,
            "n": n.astype(int),
            "kind": "grid" if grid else "binned", "outcome": outcome_name(outcome)}


# --------------------------------------------------------------------------- memberships

def membership_timeline_data(agents: pd.DataFrame, events: pd.DataFrame | None, institution: str,
                             by: str = "label", groups: Sequence | None = None) -> dict[str, pd.DataFrame]:
    """Who is at which level of ``institution`` when, across replicates (a run's agents and events tables).

    ``levels``: per group, state and year the ``mean_level`` (0..3 =
    none/partner/observer/member) and ``share_member`` across replicates;
    ``joins``: per group and state, ``share`` of replicates with a join event
    into the institution (a scheduled event, replicate -1, counts for every
    replicate) with its 95% Wilson interval ``lo``, ``hi`` over ``n`` replicates,
    the ``median_year`` of each replicate's first join, and ``exits``
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
            row = {"group": g, "state": st, "share": 0.0, "median_year": math.nan, "exits": 0.0, "n": len(reps)}
            if ev is not None and len(ev) and len(reps):
                e = ev[ev["a"] == st]
                for kind in ("join", "exit"):
                    first = _first_event(reps, e[e["type"] == kind], rep_key)
                    if kind == "join":
                        row["share"] = float(first.notna().mean())
                        row["lo"], row["hi"] = wilson_interval(int(first.notna().sum()), len(first))
                        row["median_year"] = float(first.median()) if first.notna().any() else math.nan
                    else:
                        row["exits"] = float(first.notna().mean())
            joins.append(row)
    j = pd.DataFrame(joins)
    for c in ("lo", "hi"):
        if c not in j.columns:
            j[c] = math.nan
    miss = j["lo"].isna() & (j["n"] > 0)
    if miss.any():  # no event: 0 of n joined
        lo, hi = wilson_interval(np.zeros(int(miss.sum())), j.loc[miss, "n"].to_numpy(float))
        j.loc[miss, "lo"], j.loc[miss, "hi"] = lo, hi
    return {"levels": pd.concat(levels, ignore_index=True), "joins": j}


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
    Columns: [group,] state, none, partner, observer, member (each row sums to 1), n (replicates).
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
            row["n"] = len(v)
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


def trust_blocs(codes: Sequence[str], trust: np.ndarray, threshold: float,
                capability: dict | None = None) -> dict[str, str]:
    """Bloc of each state of the (n, n) ``trust`` matrix (rows and columns in ``codes`` order).

    :func:`sim.core.metrics.bloc_labels` (the rule the ``blocs`` column counts):
    components with two or more states of the graph T_ij >= ``threshold``, each
    named after its most capable member (``capability``; ties and unknown
    states: first in ``codes``); "" for a state in no bloc.
    """
    cap = capability or {}
    heads = bloc_labels(np.asarray(trust, dtype=float), threshold, [float(cap.get(c, 0.0)) for c in codes])
    return {c: codes[h] if h >= 0 else "" for c, h in zip(codes, heads)}


def bloc_color_index(anchor: str, codes: Sequence[str]) -> int:
    """Index into :data:`sim.report.colors.BLOC_COLORS` of the bloc named ``anchor``: its place in ``codes``."""
    return list(codes).index(anchor) if anchor in codes else len(codes)


def network_data(pairs: pd.DataFrame, years: Sequence[float] | None = None, capability: dict | None = None,
                 threshold: float = 0.5, seed: int = 0, by: str = "label",
                 groups: Sequence | None = None) -> dict:
    """The trust network at chosen years: mean pair trust across replicates, blocs, node sizes.

    Returns ``years``, ``groups``, ``states`` (world order), ``nodes`` (group,
    year, state, capability, bloc) and ``edges`` (group, year, a, b, trust)
    with the pairs whose mean trust is at least ``threshold``. ``bloc`` is the
    name of the state's bloc in that graph (:func:`trust_blocs`, i.e.
    :func:`sim.core.metrics.bloc_labels`: connected components, named after their
    most capable member), "" for none. Pass ``threshold=params.phase.bloc_trust``
    (the report and the run figures do) so that the blocs are those of the ``blocs`` column.
    Capability defaults to 1 for a state the world does not know. ``seed`` is
    unused (kept for callers; the layout is fixed).
    """
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
            idx = {c: i for i, c in enumerate(states)}
            mat = np.full((len(states), len(states)), -np.inf)  # a pair without rows is never linked
            ia, ib = mean["a"].map(idx).to_numpy(), mean["b"].map(idx).to_numpy()
            mat[ia, ib] = mat[ib, ia] = mean["trust"].fillna(-np.inf).to_numpy(float)
            bloc = trust_blocs(states, mat, threshold, cap)
            nodes += [{"group": g, "year": y, "state": s, "capability": cap[s], "bloc": bloc[s]} for s in states]
            edges += [{"group": g, "year": y, "a": a, "b": b_, "trust": t}
                      for a, b_, t in strong[["a", "b", "trust"]].itertuples(index=False)]
    return {"years": years, "groups": groups, "states": states, "nodes": pd.DataFrame(nodes),
            "edges": pd.DataFrame(edges, columns=["group", "year", "a", "b", "trust"]), "threshold": threshold}


def posture_data(agents: pd.DataFrame, year: float | None = None, by: str = "label",
                 groups: Sequence | None = None) -> pd.DataFrame:
    """Share of replicates in which each state balances, hedges or bandwagons toward each great power.

    From the agents table's ``posture_<GP>`` columns (-1/0/1) at ``year``
    (default: the last year). Columns: group, state, gp, balance, hedge, bandwagon, n (replicates),
    top (the most common posture), lo, hi (95% Wilson interval of its share).
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
                shares = {name: float((v == code).mean()) if len(v) else math.nan for code, name in POSTURES.items()}
                top = max(shares, key=lambda k: -1 if math.isnan(shares[k]) else shares[k])
                k_top = int((v == {name: code for code, name in POSTURES.items()}[top]).sum())
                lo, hi = wilson_interval(k_top, len(v))
                rows.append({"group": g, "state": st, "gp": gp, **shares, "n": len(v), "top": top, "lo": lo,
                             "hi": hi})
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
                # SALib's sobol.analyze tests `if seed:` (seed 0 would use numpy's global state); a Generator is
                # always truthy and default_rng(Generator) returns it unchanged (as in sim.studies.sensitivity).
                res = sobol.analyze(problem, Y, calc_second_order=bool(d.get("second_order", False)),
                                    conf_level=0.95, seed=np.random.default_rng(seed))
            for i, f in enumerate(factors):
                for ix in ("S1", "ST"):
                    rows.append({"outcome": col, "factor": f, "index": ix, "value": float(res[ix][i]),
                                 "conf": float(res[f"{ix}_conf"][i])})
    if not rows:
        raise Skip("none of the sensitivity outcomes is in the results")
    return pd.DataFrame(rows)


__all__ = ["CONDITION_METRICS", "HEADLINE_MEANS", "MATURE", "N_BOOT", "POSTURES", "Skip", "Z95", "base_point_label",
           "bloc_color_index", "bootstrap_mean", "bootstrap_mean_difference", "bootstrap_quantile_band",
           "checkpoint_years", "conditions_data", "conditions_from_aggregates", "failed_data", "headline_data",
           "headline_outcomes", "membership_difference", "membership_final_data", "membership_timeline_data",
           "network_data", "newcombe_difference", "ok_rows", "outcome_name", "pair_replicates",
           "phase_counts_data", "phase_diagram_data", "phase_probability_data", "pick_reference", "point_outcomes",
           "posture_data", "reached", "representative_groups", "select_groups", "sensitivity_data", "share_interval",
           "start_phase", "status_data", "time_to_phase_data", "trust_blocs", "wilson_interval",
           "years_to_first_advance"]
