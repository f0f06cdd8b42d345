"""Thin drawing functions: each takes what a ``*_data()`` function of :mod:`sim.report.data` returns.

Every function returns a :class:`matplotlib.figure.Figure` (no pyplot, so no
global state and no GUI backend) with labelled axes and units. One style for
all of them: :data:`STYLE` (rcParams), applied by :func:`style` around
drawing and saving; phases, levels and postures have fixed colours.
"""

from __future__ import annotations

import contextlib
import textwrap
import math

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import patheffects
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..metrics import PHASES
from ..world import LEVELS
from .load import short_name

STYLE = {
    "font.family": "DejaVu Sans", "font.size": 9, "axes.titlesize": 9.5, "axes.labelsize": 9,
    "xtick.labelsize": 8, "ytick.labelsize": 8, "legend.fontsize": 8, "legend.frameon": False,
    "axes.spines.top": False, "axes.spines.right": False, "axes.titlelocation": "left",
    "figure.dpi": 100, "savefig.dpi": 130,
    "image.cmap": "viridis", "lines.linewidth": 1.6, "figure.constrained_layout.use": True,
}
PHASE_COLORS = dict(zip(PHASES, ("#f2f2f2", "#fde9a9", "#b7e1a1", "#7fb8dc", "#2c6fb0")))
METRIC_COLORS = {"identity": "#d95f02", "interaction": "#1b9e77", "interest": "#7570b3", "trust_mean": "#222222"}
METRIC_NAMES = {"identity": "shared identity", "interaction": "interaction", "interest": "mutual interest",
                "trust_mean": "member trust (mean)"}
LEVEL_COLORS = dict(zip(LEVELS, ("#f0f0f0", "#c6dbef", "#6baed6", "#08519c")))
BLOC_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


@contextlib.contextmanager
def style():
    """The report's rcParams for drawing and saving."""
    with mpl.rc_context(STYLE):
        yield


def _fig(w: float, h: float) -> Figure:
    return Figure(figsize=(w, h), layout="constrained")


def _plain(text) -> str:
    """A name from a config as literal text (a ``$`` would start matplotlib's mathtext)."""
    return str(text).replace("$", r"\$")


def _short(text, limit: int = 48) -> str:
    text = str(text)
    return _plain(text if len(text) <= limit else text[: limit - 1] + "…")


def _wrap(text, width: int) -> str:
    return _plain("\n".join(textwrap.wrap(str(text), width, max_lines=3, placeholder="…")) or str(text))


def _integer_years(ax) -> None:
    ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))


def _phase_legend(fig: Figure, phases) -> None:
    handles = [Patch(facecolor=PHASE_COLORS[p], edgecolor="#999999", label=p) for p in PHASES if p in phases]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles),
                   title="phase (median across replicates)")


# --------------------------------------------------------------------------- conditions

def plot_conditions(data: dict) -> Figure:
    """Median and 10-90% band of each condition and member trust over time; background = phase."""
    bands, spans = data["bands"], data["phases"]
    groups = list(pd.unique(bands["group"]))
    fig = _fig(7.5, 1.2 + 2.0 * len(groups))
    axes = fig.subplots(len(groups), 1, sharex=True, squeeze=False)[:, 0]
    for ax, g in zip(axes, groups):
        for _, s in spans[spans["group"] == g].iterrows():
            if s["phase"] != "none":
                ax.axvspan(s["start"], s["end"], color=PHASE_COLORS[s["phase"]], alpha=0.55, lw=0, zorder=0)
        b = bands[bands["group"] == g]
        for m in pd.unique(b["metric"]):
            d = b[b["metric"] == m]
            c = METRIC_COLORS.get(m, None)
            ax.fill_between(d["year"], d["q10"], d["q90"], color=c, alpha=0.18, lw=0)
            ax.plot(d["year"], d["q50"], color=c, label=METRIC_NAMES.get(m, m))
        ax.set_ylim(0, 1)
        ax.set_ylabel("index (0–1)")
        ax.set_title(_short(g, 90))
    axes[-1].set_xlabel("year")
    _integer_years(axes[-1])
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _phase_legend(fig, set(spans["phase"]) - {"none"})
    return fig


# --------------------------------------------------------------------------- phases

def plot_phase_probability(df: pd.DataFrame) -> Figure:
    """Stacked horizontal bars: probability of each phase reached, per group."""
    groups = list(df.index)
    fig = _fig(7.5, 1.3 + 0.32 * max(len(groups), 2))
    ax = fig.subplots()
    left = np.zeros(len(groups))
    y = np.arange(len(groups))
    for p in PHASES:
        v = df[p].to_numpy(float)
        ax.barh(y, v, left=left, color=PHASE_COLORS[p], edgecolor="#999999", lw=0.4, label=p)
        left += v
    ax.set_yticks(y, [_short(g) for g in groups])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability (share of replicates)")
    ax.set_ylabel("scenario / point")
    for yi, n in zip(y, df["n"]):
        ax.text(1.01, yi, f"n={int(n)}", va="center", fontsize=7, transform=ax.get_yaxis_transform())
    fig.legend(loc="outside lower center", ncol=len(PHASES), title="highest phase reached")
    return fig


def plot_time_to_phase(data: dict, horizon: float | None = None) -> Figure:
    """ECDF of years to each phase per group: the probability of having reached it by then.

    ``horizon`` (years; default: the largest time observed) is where the curves end: the run length.
    """
    ecdf, summary = data["ecdf"], data["summary"]
    phases = [p for p in pd.unique(summary["phase"]) if (ecdf["phase"] == p).any()] or list(pd.unique(summary["phase"]))
    groups = list(pd.unique(summary["group"]))
    fig = _fig(2.4 * max(len(phases), 1) + 1.2, 3.2)
    axes = fig.subplots(1, len(phases), sharey=True, squeeze=False)[0]
    horizon = max(float(ecdf["years"].max()) if len(ecdf) else 1.0, horizon or 0.0, 1.0)
    cmap = mpl.colormaps["tab10"]
    for ax, p in zip(axes, phases):
        for k, g in enumerate(groups):
            d = ecdf[(ecdf["phase"] == p) & (ecdf["group"] == g)]
            xs = np.concatenate([[0.0], d["years"].to_numpy(float), [horizon]])
            ys = np.concatenate([[0.0], d["probability"].to_numpy(float), [d["probability"].max() if len(d) else 0.0]])
            ax.step(xs, ys, where="post", color=cmap(k % 10), label=_short(g, 40), alpha=0.9,
                    lw=max(3.2 - 0.8 * k, 1.0))  # later groups thinner, so identical curves stay visible
        ax.set_title(p)
        ax.set_xlabel("years since start")
        ax.set_ylim(0, 1.02)
        ax.set_xlim(0, horizon * 1.02)
    axes[0].set_ylabel("probability reached")
    handles, labels = axes[0].get_legend_handles_labels()
    if len(groups) > 1:
        fig.legend(handles, labels, loc="outside lower center", ncol=min(len(groups), 3))
    return fig


def plot_phase_diagram(d: dict) -> Figure:
    """Heatmap of P(outcome) over two factors with contour lines at 0.25, 0.5 and 0.75."""
    z = np.ma.masked_invalid(d["z"])
    nx_, ny_ = len(d["xs"]), len(d["ys"])
    fig = _fig(6.2, 4.6)
    ax = fig.subplots()
    im = ax.pcolormesh(np.arange(nx_ + 1) - 0.5, np.arange(ny_ + 1) - 0.5, z, cmap="viridis", vmin=0, vmax=1,
                       shading="flat")
    if nx_ >= 2 and ny_ >= 2 and z.count() >= 4 and float(z.max() - z.min()) > 0:
        cs = ax.contour(np.arange(nx_), np.arange(ny_), z, levels=[0.25, 0.5, 0.75], colors="white", linewidths=1.0)
        ax.clabel(cs, fmt="%.2f", fontsize=7)
    if nx_ * ny_ <= 100:
        for i in range(ny_):
            for j in range(nx_):
                if not np.ma.is_masked(z[i, j]):
                    ax.text(j, i, f"{z[i, j]:.2f}", ha="center", va="center", fontsize=7,
                            color="black" if z[i, j] > 0.6 else "white")
    step_x = max(1, nx_ // 8)
    step_y = max(1, ny_ // 8)
    ax.set_xticks(range(0, nx_, step_x), [f"{v:.3g}" for v in d["xs"][::step_x]])
    ax.set_yticks(range(0, ny_, step_y), [f"{v:.3g}" for v in d["ys"][::step_y]])
    binned = " (bin centre)" if d["kind"] == "binned" else ""
    ax.set_xlabel(f"{short_name(d['x'])} (parameter value{binned})")
    ax.set_ylabel(f"{short_name(d['y'])} (parameter value{binned})")
    fig.colorbar(im, ax=ax, label=f"{d['outcome']} (probability)")
    return fig


# --------------------------------------------------------------------------- memberships

def plot_membership_timeline(data: dict, institution: str) -> Figure:
    """Mean membership level per state and year (heatmap) with each state's median first join (markers)."""
    levels, joins = data["levels"], data["joins"]
    groups = list(pd.unique(levels["group"]))
    states = list(pd.unique(levels["state"]))
    fig = _fig(7.5, 0.8 + (0.25 * len(states) + 0.9) * len(groups))
    axes = fig.subplots(len(groups), 1, sharex=True, squeeze=False)[:, 0]
    cmap = mpl.colors.LinearSegmentedColormap.from_list("levels", list(LEVEL_COLORS.values()))
    im = None
    for ax, g in zip(axes, groups):
        lv = levels[levels["group"] == g]
        years = np.sort(lv["year"].unique())
        grid = lv.pivot(index="state", columns="year", values="mean_level").reindex(index=states, columns=years)
        dy = float(np.median(np.diff(years))) if len(years) > 1 else 1.0
        edges = np.concatenate([years - dy / 2, [years[-1] + dy / 2]])
        im = ax.pcolormesh(edges, np.arange(len(states) + 1) - 0.5, grid.to_numpy(float), cmap=cmap, vmin=0, vmax=3)
        j = joins[(joins["group"] == g) & (joins["share"] > 0) & joins["median_year"].notna()]
        for _, r in j.iterrows():
            yi = states.index(r["state"])
            ax.plot(r["median_year"], yi, marker="v", color="#d62728", ms=4 + 6 * r["share"], mec="white", mew=0.5)
            ax.text(r["median_year"] + dy * 0.6, yi, f"{r['share']:.0%}", va="center", fontsize=6.5, color="#b2182b",
                    path_effects=[patheffects.withStroke(linewidth=2, foreground="white")])
        ax.set_yticks(range(len(states)), states)
        ax.invert_yaxis()
        ax.set_ylabel("state")
        ax.set_title(_short(g, 90))
    axes[-1].set_xlabel("year")
    _integer_years(axes[-1])
    cb = fig.colorbar(im, ax=list(axes), ticks=range(4), location="bottom", shrink=0.6, aspect=40)
    cb.set_label(f"{institution} level (mean across replicates)")
    cb.ax.set_xticklabels(LEVELS)
    return fig


def plot_membership_final(df: pd.DataFrame, institution: str) -> Figure:
    """Stacked horizontal bars: share of replicates ending at each level, per state (one panel per group if any)."""
    groups = list(pd.unique(df["group"])) if "group" in df.columns else [None]
    states = list(pd.unique(df["state"]))
    fig = _fig(1.4 + 2.6 * len(groups) if len(groups) > 1 else 6.5, 1.3 + 0.3 * len(states))
    axes = fig.subplots(1, len(groups), squeeze=False, sharey=True)[0]
    y = np.arange(len(states))
    for ax, g in zip(axes, groups):
        d = (df if g is None else df[df["group"] == g]).set_index("state").reindex(states)
        left = np.zeros(len(states))
        for lv in LEVELS:
            v = d[lv].fillna(0).to_numpy(float)
            ax.barh(y, v, left=left, color=LEVEL_COLORS[lv], edgecolor="#999999", lw=0.4, label=lv)
            left += v
        ax.set_xlim(0, 1)
        ax.set_xlabel("share of replicates")
        if g is not None:
            ax.set_title(_wrap(g, 30))
    axes[0].set_yticks(y, states)
    axes[0].invert_yaxis()
    axes[0].set_ylabel("state")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=4, title=f"{institution} level at the end")
    return fig


# --------------------------------------------------------------------------- network and postures

def plot_network(data: dict, seed: int = 0) -> Figure:
    """Trust network per group (rows) and year (columns): links at or above the threshold, blocs, capability."""
    import networkx as nx

    nodes, edges, years, groups = data["nodes"], data["edges"], data["years"], data["groups"]
    states = list(pd.unique(nodes["state"]))
    union = nx.Graph()
    union.add_nodes_from(states)
    for a, b, t in edges[["a", "b", "trust"]].itertuples(index=False):
        if union.has_edge(a, b):
            union[a][b]["trust"] = max(union[a][b]["trust"], t)
        else:
            union.add_edge(a, b, trust=t)
    pos = nx.circular_layout(states)  # fixed positions (world order) so years and groups compare at a glance
    capmax = max(float(nodes["capability"].max()), 1e-9)
    thr = data.get("threshold", 0.5)
    fig = _fig(2.7 * len(years) + 0.3, 2.8 * len(groups) + 0.6)
    axes = fig.subplots(len(groups), len(years), squeeze=False)
    for r, g in enumerate(groups):
        for c, y in enumerate(years):
            ax = axes[r, c]
            nd = nodes[(nodes["group"] == g) & (nodes["year"] == y)]
            ed = edges[(edges["group"] == g) & (edges["year"] == y)]
            G = nx.Graph()
            G.add_nodes_from(nd["state"])
            G.add_weighted_edges_from(ed[["a", "b", "trust"]].itertuples(index=False), weight="trust")
            widths = [0.6 + 4 * (d["trust"] - thr) / max(1 - thr, 1e-9) for _, _, d in G.edges(data=True)]
            nx.draw_networkx_edges(G, pos, ax=ax, width=widths, edge_color="#888888", alpha=0.7)
            colors = [BLOC_COLORS[b % len(BLOC_COLORS)] if b >= 0 else "#bbbbbb" for b in nd["bloc"]]
            sizes = [40 + 560 * cp / capmax for cp in nd["capability"]]
            nx.draw_networkx_nodes(G, pos, nodelist=list(nd["state"]), node_color=colors, node_size=sizes, ax=ax,
                                   edgecolors="white", linewidths=0.6)
            nx.draw_networkx_labels(G, pos, ax=ax, font_size=6.5)
            ax.set_xticks([])
            ax.set_yticks([])
            for s in ax.spines.values():
                s.set_visible(False)
            ax.set_xlabel(f"year {y:g}")
            if c == 0:
                ax.set_ylabel(_wrap(g, 28))
    fig.suptitle(f"links: mean trust ≥ {thr:g} (width ∝ trust); node size ∝ capability share; colour = bloc",
                 fontsize=8)
    return fig


def plot_postures(df: pd.DataFrame) -> Figure:
    """Per group a heatmap state x great power: bandwagon share − balance share, with the dominant posture."""
    groups = list(pd.unique(df["group"]))
    gps = list(pd.unique(df["gp"]))
    states = list(pd.unique(df["state"]))
    fig = _fig(1.2 + (0.55 * len(gps) + 1.0) * len(groups), 1.0 + 0.26 * len(states))
    axes = fig.subplots(1, len(groups), squeeze=False, sharey=True)[0]
    im = None
    for ax, g in zip(axes, groups):
        d = df[df["group"] == g]
        net = (d["bandwagon"] - d["balance"]).to_numpy().reshape(len(states), len(gps))
        im = ax.imshow(net, cmap="PuOr_r", vmin=-1, vmax=1, aspect="auto")
        for (i, st), (j, gp) in ((a, b) for a in enumerate(states) for b in enumerate(gps)):
            r = d[(d["state"] == st) & (d["gp"] == gp)].iloc[0]
            shares = {"B": r["balance"], "H": r["hedge"], "W": r["bandwagon"]}
            k = max(shares, key=shares.get)
            if not math.isnan(shares[k]):
                ax.text(j, i, f"{k} {shares[k]:.0%}", ha="center", va="center", fontsize=6.5)
        ax.set_xticks(range(len(gps)), gps)
        ax.set_yticks(range(len(states)), states)
        ax.set_xlabel("great power")
        ax.set_title(_wrap(g, 30))
    axes[0].set_ylabel("state")
    fig.colorbar(im, ax=list(axes), label="bandwagon − balance (share of replicates)", shrink=0.9)
    return fig


# --------------------------------------------------------------------------- sensitivity

def plot_sensitivity(df: pd.DataFrame) -> Figure:
    """Horizontal bars per outcome: Morris mu* (with sigma as a marker) or Sobol S1 and ST, with 95% CIs."""
    outcomes = list(pd.unique(df["outcome"]))
    factors = list(pd.unique(df["factor"]))
    morris = "mu_star" in set(df["index"])
    fig = _fig(3.6 * len(outcomes) + 0.8, 1.2 + 0.45 * len(factors))
    axes = fig.subplots(1, len(outcomes), squeeze=False, sharey=True)[0]
    y = np.arange(len(factors))
    for ax, o in zip(axes, outcomes):
        d = df[df["outcome"] == o].set_index(["factor", "index"])
        if morris:
            v = d.xs("mu_star", level="index").reindex(factors)
            s = d.xs("sigma", level="index").reindex(factors)
            ax.barh(y, v["value"], xerr=v["conf"].fillna(0), color="#4c72b0", capsize=2, label="μ* (95% CI)")
            ax.plot(s["value"], y, "D", color="#dd8452", ms=4, label="σ")
            if not (v["value"].abs().sum() + s["value"].abs().sum()) > 0:
                ax.text(0.5, 0.5, "outcome constant\nacross the design", transform=ax.transAxes, ha="center")
            ax.set_xlabel(f"μ* of {o}\n(mean |elementary effect| over the factor's range)")
        else:
            for k, (ix, col) in enumerate((("S1", "#4c72b0"), ("ST", "#dd8452"))):
                v = d.xs(ix, level="index").reindex(factors)
                ax.barh(y + (k - 0.5) * 0.38, v["value"].fillna(0), height=0.36, xerr=v["conf"].fillna(0),
                        color=col, capsize=2, label=f"{ix} (95% CI)")
            if d["value"].isna().all():
                ax.text(0.5, 0.5, "constant outcome:\nindices undefined", transform=ax.transAxes, ha="center")
            ax.set_xlabel(f"Sobol index of {o}\n(share of output variance)")
            ax.set_xlim(left=min(0.0, float(np.nanmin(d["value"].to_numpy(float) - d["conf"].fillna(0).to_numpy(float)))
                                 if d["value"].notna().any() else 0.0))
        ax.axvline(0, color="#555555", lw=0.6)
        ax.set_title(o)
    axes[0].set_yticks(y, [short_name(f) for f in factors])
    axes[0].invert_yaxis()
    axes[0].set_ylabel("factor")
    axes[0].legend(loc="lower right")
    return fig


__all__ = ["LEVEL_COLORS", "PHASE_COLORS", "STYLE", "plot_conditions", "plot_membership_final",
           "plot_membership_timeline", "plot_network", "plot_phase_diagram", "plot_phase_probability",
           "plot_postures", "plot_sensitivity", "plot_time_to_phase", "style"]
