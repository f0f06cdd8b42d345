"""Global sensitivity analysis of an experiment: Morris screening and Sobol indices (SALib).

Which parameters drive the model's main outcomes? An experiment of kind
``morris`` or ``sobol`` (``conf/experiment/sensitivity_*.yaml``, run by the
batch engine: ``python -m sim +experiment=sensitivity_morris``) leaves one row
per (point, replicate) in ``results.parquet``, and the points in
``design.parquet``, in the order SALib sampled them. This module

1. reads each run's outcomes (:data:`OUTCOMES`, the names of
   ``sim.engine.simulate.outcomes``): ``mature`` (the run reached mature-loose or
   mature-tight), ``members`` (full members of the community institution at the
   end, ``final_members``) and ``member_trust`` (mean trust in the reference
   group at the end, ``final_trust_mean``);
2. averages the finished replicates of each point (:func:`point_means`), so a
   point's ``mature`` is the share of its replicates that matured;
3. runs ``SALib.analyze.morris`` (Morris 1991; mu* of Campolongo, Cariboni &
   Saltelli 2007) or ``SALib.analyze.sobol`` (Sobol' 2001; Saltelli et al. 2010)
   on the point means of each outcome (:func:`morris_indices`,
   :func:`sobol_indices`) and returns tidy tables;
4. ``python -m sim.studies.sensitivity DIR -o OUTDIR`` writes them as CSV with one
   figure per method (:func:`plot_morris`, :func:`plot_sobol`).

Seed noise. Replicate k uses the same seed at every point (common random
numbers), so a parameter the runs never read has elementary effects of exactly
0; a parameter that is read changes the random path, and the mean of R
replicates still carries seed noise. Two measures of it are reported:
``mu_star_noise`` (Morris) is the mu* that seed noise alone would give, the mean
over a parameter's elementary effects of sqrt(2/pi) x the standard error of the
effect over replicates (the expected |effect| of a normal error with that
standard error); ``noise_share`` (:func:`outcome_summary`) is the share of the
variance of the point means that is seed noise (the mean within-point variance
/ R over the variance of the point means). For a Sobol design the indices
describe the point-mean function, noise included: noise adds to every ST and
to no S1.

Morris effects are in outcome units per full range of the parameter (SALib's
unscaled effects: the output change over a step of ``levels / (2 (levels - 1))``
of the range, divided by that fraction), so mu* compares parameters whatever
their units; it does not compare outcomes (a share, a count, a trust level).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

#: The outcomes analysed: name (as in ``sim.engine.simulate.outcomes``) -> results column it is read from.
OUTCOMES: dict[str, str] = {"mature": "phase_reached", "members": "final_members", "member_trust": "final_trust_mean"}
#: Axis and title labels of the outcomes.
LABELS: dict[str, str] = {"mature": "P(reaches mature)", "members": "full members at the end",
                          "member_trust": "mean member trust at the end"}
#: Phases that count as "mature" (the first of them and above in ``sim.core.metrics.PHASES``).
MATURE_FROM = "mature-loose"
#: Bootstrap resamples of SALib's confidence intervals.
RESAMPLES = 1000


class SensitivityError(ValueError):
    """An experiment that cannot be analysed (one line: what and why)."""


# --------------------------------------------------------------------------- inputs


def load(directory) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """``results.parquet``, ``design.parquet`` and ``experiment.json`` of an experiment directory."""
    d = Path(directory)
    missing = [f for f in ("results.parquet", "design.parquet", "experiment.json") if not (d / f).exists()]
    if missing:
        raise SensitivityError(f"{d}: no {', '.join(missing)} (is it a finished experiment directory? "
                               "merge shards first with python -m sim.engine.batch merge)")
    with open(d / "experiment.json", encoding="utf-8") as fh:
        experiment = json.load(fh)
    return pd.read_parquet(d / "results.parquet"), pd.read_parquet(d / "design.parquet"), experiment


def factors_of(experiment: dict) -> list[str]:
    """The design's factor paths, in the order SALib sampled them (that of ``experiment.design.factors``)."""
    return list(((experiment or {}).get("design") or {}).get("factors") or {})


def problem(experiment: dict) -> dict:
    """The SALib problem of the design: names and bounds (the analyses use only names and their order)."""
    d = experiment["design"]
    names = factors_of(experiment)
    return {"num_vars": len(names), "names": names, "bounds": [[float(v) for v in d["factors"][n]] for n in names]}


def run_outcomes(results: pd.DataFrame) -> pd.DataFrame:
    """One row per finished run: point, replicate and each outcome of :data:`OUTCOMES` (floats)."""
    from ..core.metrics import PHASES

    ok = results[results["status"] == "ok"] if "status" in results else results
    missing = [c for c in OUTCOMES.values() if c not in ok.columns]
    if missing:
        raise SensitivityError(f"results have no column {', '.join(missing)}")
    rank = {p: i for i, p in enumerate(PHASES)}
    phase = ok["phase_reached"].map(rank)
    if phase.isna().any():
        bad = sorted(set(ok.loc[phase.isna(), "phase_reached"].astype(str)))
        raise SensitivityError(f"results: unknown phase_reached {', '.join(bad)}; known: {', '.join(PHASES)}")
    return pd.DataFrame({
        "point": ok["point"].astype(np.int64).to_numpy(), "replicate": ok["replicate"].astype(np.int64).to_numpy(),
        "mature": (phase.to_numpy() >= rank[MATURE_FROM]).astype(float),
        "members": ok["final_members"].astype(float).to_numpy(),
        "member_trust": ok["final_trust_mean"].astype(float).to_numpy()})


def point_means(results: pd.DataFrame, design: pd.DataFrame) -> pd.DataFrame:
    """Per design point, in point order: the mean over finished replicates of each outcome, and ``n``.

    Raises :class:`SensitivityError` naming the points without a finished replicate (every point is needed).
    """
    runs = run_outcomes(results)
    means = runs.groupby("point")[list(OUTCOMES)].mean()
    means["n"] = runs.groupby("point").size()
    pts = np.sort(design["point"].astype(np.int64).to_numpy())
    means = means.reindex(pts)
    empty = pts[means["n"].isna().to_numpy()]
    if len(empty):
        shown = ", ".join(map(str, empty[:5])) + (" ..." if len(empty) > 5 else "")
        raise SensitivityError(f"{len(empty)} design point(s) have no finished replicate (points {shown}); "
                               "rerun the experiment's command to retry failed runs")
    means["n"] = means["n"].astype(np.int64)
    means.index.name = "point"
    return means


def outcome_summary(results: pd.DataFrame, design: pd.DataFrame) -> pd.DataFrame:
    """Per outcome: mean and standard deviation of the point means, and the share of their variance that is
    seed noise (``noise_share`` = mean within-point variance / replicates over the variance of the point means)."""
    runs = run_outcomes(results)
    means = point_means(results, design)
    within = runs.groupby("point")[list(OUTCOMES)].var(ddof=1)
    n = means["n"].to_numpy(float)
    rows = []
    for o in OUTCOMES:
        y = means[o].to_numpy(float)
        var = float(np.var(y, ddof=1)) if len(y) > 1 else math.nan
        noise = float(np.nanmean(within[o].reindex(means.index).to_numpy(float) / n)) if (n > 1).any() else math.nan
        rows.append({"outcome": o, "label": LABELS[o], "mean": float(y.mean()), "sd_points": math.sqrt(var)
                     if var == var else math.nan, "replicates": int(np.median(n)),
                     "noise_share": noise / var if var and var > 0 else math.nan})
    return pd.DataFrame(rows)


def _x_matrix(design: pd.DataFrame, names: Sequence[str]) -> np.ndarray:
    missing = [n for n in names if n not in design.columns]
    if missing:
        raise SensitivityError(f"design.parquet has no column {', '.join(missing)}")
    return design.sort_values("point")[list(names)].to_numpy(float)


def _kind(experiment: dict) -> str:
    return str(((experiment or {}).get("design") or {}).get("kind"))


# --------------------------------------------------------------------------- Morris


def _morris_steps(x: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every step of every trajectory (r trajectories of d + 1 rows): the row it starts from, the factor
    that changes and the direction (+1 up, -1 down). Raises if a step does not change exactly one factor."""
    r = len(x) // (d + 1)
    if r * (d + 1) != len(x) or r < 1:
        raise SensitivityError(f"a Morris design of {d} factors has a multiple of {d + 1} points, not {len(x)}")
    starts, which, sign = [], [], []
    for t in range(r):
        for k in range(d):
            i0 = t * (d + 1) + k
            dx = x[i0 + 1] - x[i0]
            changed = np.flatnonzero(dx != 0)
            if len(changed) != 1:
                raise SensitivityError(f"Morris trajectory {t}, step {k}: {len(changed)} factors change, not one "
                                       "(design.parquet is not a SALib Morris sample in point order)")
            starts.append(i0)
            which.append(changed[0])
            sign.append(np.sign(dx[changed[0]]))
    return np.array(starts), np.array(which), np.array(sign)


def morris_indices(results: pd.DataFrame, design: pd.DataFrame, experiment: dict, seed: int = 0,
                   resamples: int = RESAMPLES) -> pd.DataFrame:
    """Morris indices of each outcome and factor: one row per (parameter, outcome).

    Columns: parameter, outcome, mu_star (SALib, mean |elementary effect|), mu_star_conf (half-width of its
    95% bootstrap interval over trajectories), sigma (standard deviation of the effects: nonlinearity or
    interactions), mu (mean signed effect: the direction), mu_star_noise (the mu* seed noise alone would
    give, module doc) and rank (1 = largest mu* of that outcome; ties share the smaller rank).
    X is the design's factor columns in point order (the values run), Y the point means.
    """
    from SALib.analyze import morris

    if _kind(experiment) != "morris":
        raise SensitivityError(f"design kind {_kind(experiment)!r} is not morris")
    prob = problem(experiment)
    names = prob["names"]
    levels = int(experiment["design"].get("levels", 4))
    x = _x_matrix(design, names)
    means = point_means(results, design)
    starts, which, sign = _morris_steps(x, len(names))
    delta = levels / (2.0 * (levels - 1))
    runs = run_outcomes(results)
    rows = []
    for o in OUTCOMES:
        y = means[o].to_numpy(float)
        res = morris.analyze(prob, x, y, num_resamples=resamples, conf_level=0.95, num_levels=levels, seed=seed)
        noise = _morris_noise(runs, o, means.index.to_numpy(), starts, which, len(names), delta)
        for i, name in enumerate(names):
            rows.append({"parameter": name, "outcome": o, "mu_star": float(res["mu_star"][i]),
                         "mu_star_conf": float(res["mu_star_conf"][i]), "sigma": float(res["sigma"][i]),
                         "mu": float(res["mu"][i]), "mu_star_noise": noise[i]})
    out = pd.DataFrame(rows)
    out["rank"] = out.groupby("outcome")["mu_star"].rank(ascending=False, method="min").astype(np.int64)
    return out


def _morris_noise(runs: pd.DataFrame, outcome: str, points: np.ndarray, starts, which, d: int,
                  delta: float) -> list[float]:
    """Per factor: mean over its elementary effects of sqrt(2/pi) x the standard error of the effect over the
    replicates both points of the step finished (NaN where fewer than two did)."""
    wide = runs.pivot(index="point", columns="replicate", values=outcome).reindex(points).to_numpy(float)
    diff = (wide[starts + 1] - wide[starts]) / delta  # (steps, R) per-replicate effects
    n = np.sum(~np.isnan(diff), axis=1)
    with np.errstate(all="ignore"):
        se = np.where(n > 1, np.nanstd(diff, axis=1, ddof=1) / np.sqrt(np.maximum(n, 1)), np.nan)
    out = []
    for i in range(d):
        s = se[which == i]
        out.append(float(np.sqrt(2 / np.pi) * np.mean(s)) if len(s) and not np.isnan(s).all() else math.nan)
    return out


def ranking(morris_table: pd.DataFrame) -> pd.DataFrame:
    """The Morris ranking of the parameters that clearly act: parameter, outcome, mu_star, rank (among all
    parameters), mu_star_conf, mu_star_noise; sorted by outcome (as in :data:`OUTCOMES`), then rank.

    A row is kept when its mu* is clearly above zero: its 95% interval excludes 0 (mu* > mu_star_conf) and
    it is above the level seed noise alone would give (mu* > mu_star_noise). Left out are parameters the
    runs never read (mu* = 0 with common random numbers) and effects carried by a handful of runs (a rare
    binary outcome), so an outcome that (almost) never varies over the design has no rows.
    """
    order = {o: i for i, o in enumerate(OUTCOMES)}
    t = morris_table
    clear = (t["mu_star"] > 0) & (t["mu_star"] > t["mu_star_conf"]) & ~(t["mu_star"] <= t["mu_star_noise"])
    t = t.loc[clear, ["parameter", "outcome", "mu_star", "rank", "mu_star_conf", "mu_star_noise"]].copy()
    t = t.assign(_o=t["outcome"].map(order)).sort_values(["_o", "rank", "parameter"], kind="stable")
    return t.drop(columns="_o").reset_index(drop=True)


def top_parameters(morris_table: pd.DataFrame, k: int = 4) -> list[str]:
    """The union over outcomes of the ``k`` best-ranked parameters of :func:`ranking`, by best rank, then name."""
    r = ranking(morris_table)
    best = r[r["rank"] <= k].groupby("parameter")["rank"].min()
    return sorted(best.index, key=lambda p: (best[p], p))


# --------------------------------------------------------------------------- Sobol


def sobol_indices(results: pd.DataFrame, design: pd.DataFrame, experiment: dict, seed: int = 0,
                  resamples: int = RESAMPLES) -> pd.DataFrame:
    """First-order and total Sobol indices of each outcome and factor: one row per (parameter, outcome).

    Columns: parameter, outcome, S1, S1_conf, ST, ST_conf (half-widths of 95% bootstrap intervals, SALib;
    Saltelli 2010 / Jansen estimators). Y is the point means in point order (Saltelli's sample order).
    An outcome that does not vary across the design has undefined indices (NaN).
    """
    from SALib.analyze import sobol

    if _kind(experiment) != "sobol":
        raise SensitivityError(f"design kind {_kind(experiment)!r} is not sobol")
    prob = problem(experiment)
    second = bool(experiment["design"].get("second_order", False))
    d = prob["num_vars"]
    means = point_means(results, design)
    per = 2 * d + 2 if second else d + 2
    if len(means) % per:
        raise SensitivityError(f"a Sobol design of {d} factors has a multiple of {per} points, not {len(means)}")
    rows = []
    for o in OUTCOMES:
        y = means[o].to_numpy(float)
        if np.ptp(y) == 0:
            res = {k: [math.nan] * d for k in ("S1", "S1_conf", "ST", "ST_conf")}
        else:
            with np.errstate(all="ignore"):
                # SALib's sobol.analyze tests `if seed:`, so seed 0 would draw from numpy's global state;
                # a Generator is always truthy, and default_rng(Generator) returns it unchanged.
                res = sobol.analyze(prob, y, calc_second_order=second, num_resamples=resamples, conf_level=0.95,
                                    seed=np.random.default_rng(seed))
        for i, name in enumerate(prob["names"]):
            rows.append({"parameter": name, "outcome": o, **{k: float(res[k][i])
                                                               for k in ("S1", "S1_conf", "ST", "ST_conf")}})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- figures

MORRIS_TOP = 20  # parameters shown per outcome panel of the Morris figure


def short_name(path: str) -> str:
    """``params.pressure.intensity`` -> ``pressure.intensity``."""
    return path[len("params."):] if path.startswith("params.") else path


def _panel_title(o: str, means: dict | None) -> str:
    label = LABELS.get(o, o)
    if means and o in means and means[o] == means[o]:
        return f"{label}\n(mean over the design: {means[o]:.3g})"
    return label


def plot_morris(table: pd.DataFrame, top: int = MORRIS_TOP, title: str = "", means: dict | None = None):
    """One panel per outcome: the ``top`` parameters by mu* (bars, 95% CI), sigma (diamonds) and the
    seed-noise level of mu* (grey ticks); each panel sorted by its own mu*. ``means`` (outcome -> mean over
    the design) goes into the panel titles."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    outcomes = [o for o in OUTCOMES if o in set(table["outcome"])]
    n = min(top, table["parameter"].nunique())
    fig = Figure(figsize=(4.3 * len(outcomes), 1.5 + 0.22 * n), layout="constrained")
    axes = fig.subplots(1, len(outcomes), squeeze=False)[0]
    for ax, o in zip(axes, outcomes):
        t = table[table["outcome"] == o].sort_values(["mu_star", "parameter"], ascending=[False, True]).head(n)
        ax.set_title(_panel_title(o, means), fontsize=9.5, loc="left")
        if not (t["mu_star"] > 0).any():
            ax.text(0.5, 0.5, "μ* = 0 for every parameter:\nthe outcome is the same\nat every point of the design",
                    transform=ax.transAxes, ha="center", va="center", fontsize=9)
            ax.set_yticks([])
            ax.set_xticks([])
            continue
        y = np.arange(len(t))
        ax.barh(y, t["mu_star"], xerr=t["mu_star_conf"].fillna(0), color="#4c72b0", height=0.7,
                error_kw={"ecolor": "#222222", "lw": 0.8, "capsize": 2})
        ax.plot(t["sigma"], y, "D", color="#dd8452", ms=3.5, zorder=4)
        ax.plot(t["mu_star_noise"], y, "|", color="#555555", ms=9, mew=1.6, zorder=5)
        ax.set_yticks(y, [short_name(p) for p in t["parameter"]], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(left=0)
        ax.set_xlabel("μ*: mean |change of the outcome|\nper full range of the parameter", fontsize=8.5)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="x", color="#dddddd", lw=0.6)
        ax.set_axisbelow(True)
    handles = [Patch(color="#4c72b0", label="μ* (bar: 95% bootstrap interval over trajectories)"),
               Line2D([], [], ls="", marker="D", color="#dd8452", ms=4, label="σ (interactions / nonlinearity)"),
               Line2D([], [], ls="", marker="|", color="#555555", ms=9, mew=1.6, label="μ* from seed noise alone")]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=9.5, x=0.01, ha="left")
    return fig


def plot_sobol(table: pd.DataFrame, title: str = "", means: dict | None = None):
    """One panel per outcome: S1 and ST of each parameter with 95% CIs; parameters in one order (largest ST
    over the outcomes first), so the panels compare. ``means`` as in :func:`plot_morris`."""
    from matplotlib.figure import Figure

    outcomes = [o for o in OUTCOMES if o in set(table["outcome"])]
    order = table.groupby("parameter")["ST"].max().fillna(-1).sort_values(ascending=False).index.tolist()
    fig = Figure(figsize=(3.6 * len(outcomes) + 1.6, 1.5 + 0.42 * len(order)), layout="constrained")
    axes = fig.subplots(1, len(outcomes), squeeze=False, sharey=True)[0]
    y = np.arange(len(order))
    for ax, o in zip(axes, outcomes):
        t = table[table["outcome"] == o].set_index("parameter").reindex(order)
        for k, (ix, col) in enumerate((("S1", "#4c72b0"), ("ST", "#dd8452"))):
            ax.barh(y + (k - 0.5) * 0.38, t[ix].fillna(0), height=0.36, xerr=t[f"{ix}_conf"].fillna(0), color=col,
                    label=f"{ix} ({'first order' if ix == 'S1' else 'total'}; bar: 95% bootstrap interval)",
                    error_kw={"ecolor": "#222222", "lw": 0.8, "capsize": 2})
        if t["S1"].isna().all():
            ax.text(0.5, 0.5, "constant outcome:\nindices undefined", transform=ax.transAxes, ha="center")
        lo = float(np.nanmin((t["S1"] - t["S1_conf"]).to_numpy(float))) if t["S1"].notna().any() else 0.0
        ax.set_xlim(left=min(0.0, lo * 1.1))
        ax.axvline(0, color="#555555", lw=0.6)
        ax.set_title(_panel_title(o, means), fontsize=9.5, loc="left")
        ax.set_xlabel("share of the variance of\nthe point means", fontsize=8.5)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="x", color="#dddddd", lw=0.6)
        ax.set_axisbelow(True)
    axes[0].set_yticks(y, [short_name(p) for p in order], fontsize=8)
    axes[0].invert_yaxis()
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=9.5, x=0.01, ha="left")
    return fig


def fits_canvas(fig) -> bool:
    """True if everything drawn lies on the canvas (matplotlib's tight bounding box within the figure)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    fig.canvas.draw()
    w, h = fig.get_size_inches()
    bb = fig.get_tightbbox(fig.canvas.get_renderer())
    return bb.x0 >= -0.01 and bb.y0 >= -0.01 and bb.x1 <= w + 0.01 and bb.y1 <= h + 0.01


# --------------------------------------------------------------------------- command line


def _title(experiment: dict, means: pd.DataFrame) -> str:
    d = experiment.get("design", {})
    n = len(factors_of(experiment))
    size = (f"r = {d.get('samples')} trajectories, {d.get('levels', 4)} levels" if d.get("kind") == "morris"
            else f"N = {d.get('samples')}")
    return (f"{experiment.get('name', '')}: {d.get('kind')} over {n} parameters ({size}, {len(means)} points "
            f"x {int(means['n'].median())} replicates), scenario {experiment.get('scenario', '?')}")


def analyse(directory, out_dir, seed: int = 0, top: int = 4, prefix: str | None = None) -> dict[str, Path]:
    """Analyse an experiment directory into ``out_dir``; return the files written by name.

    Files are named by ``prefix`` (default: the design kind). Morris: ``<prefix>_indices.csv``
    (:func:`morris_indices`), the ranking (:func:`ranking`; ``top_parameters.csv`` for the prefix
    ``morris``, else ``<prefix>_top_parameters.csv``), ``<prefix>_outcomes.csv`` (:func:`outcome_summary`)
    and ``<prefix>.png`` (:func:`plot_morris`). Sobol: ``<prefix>_indices.csv`` (:func:`sobol_indices`),
    ``<prefix>_outcomes.csv`` and ``<prefix>.png`` (:func:`plot_sobol`).
    """
    results, design, experiment = load(directory)
    kind = _kind(experiment)
    if kind not in ("morris", "sobol"):
        raise SensitivityError(f"{directory}: design kind {kind!r}; only morris and sobol designs are analysed")
    prefix = prefix or kind
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    means = point_means(results, design)
    summary = outcome_summary(results, design)
    avg = dict(zip(summary["outcome"], summary["mean"]))
    files = {}
    if kind == "morris":
        table = morris_indices(results, design, experiment, seed=seed)
        fig = plot_morris(table, title=_title(experiment, means), means=avg)
    else:
        table = sobol_indices(results, design, experiment, seed=seed)
        fig = plot_sobol(table, title=_title(experiment, means), means=avg)
    if not fits_canvas(fig):
        raise SensitivityError("the figure does not fit its canvas (a label would be clipped)")
    files["indices"] = out / f"{prefix}_indices.csv"
    table.to_csv(files["indices"], index=False, float_format="%.6g")
    if kind == "morris":
        files["ranking"] = out / ("top_parameters.csv" if prefix == "morris" else f"{prefix}_top_parameters.csv")
        ranking(table).to_csv(files["ranking"], index=False, float_format="%.6g")
    files["outcomes"] = out / f"{prefix}_outcomes.csv"
    summary.to_csv(files["outcomes"], index=False, float_format="%.6g")
    files["figure"] = out / f"{prefix}.png"
    fig.savefig(files["figure"], dpi=130)
    if kind == "morris":
        print(f"top parameters (union of the top {top} per outcome): {', '.join(top_parameters(table, top)) or '-'}")
    return files


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sim.studies.sensitivity", description=__doc__.splitlines()[0])
    ap.add_argument("directory", type=Path, help="a finished experiment directory of kind morris or sobol")
    ap.add_argument("-o", "--out", type=Path, default=None, help="output directory (default: DIR/sensitivity)")
    ap.add_argument("--seed", type=int, default=0, help="seed of SALib's bootstrap confidence intervals")
    ap.add_argument("--top", type=int, default=4, help="Morris: parameters per outcome in the printed union")
    ap.add_argument("--prefix", default=None, help="prefix of the file names (default: the design kind)")
    a = ap.parse_args(argv)
    try:
        files = analyse(a.directory, a.out or a.directory / "sensitivity", seed=a.seed, top=a.top, prefix=a.prefix)
    except (SensitivityError, OSError) as exc:
        print(f"sim.studies.sensitivity: error: {exc}", file=sys.stderr)
        return 1
    for path in files.values():
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
