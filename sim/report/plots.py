"""Thin drawing functions: each takes what a ``*_data()`` function of :mod:`sim.report.data` returns.

Every function returns a :class:`matplotlib.figure.Figure` (no pyplot, so no
global state and no GUI backend) with labelled axes and units. One style for
all of them: :data:`STYLE` (rcParams), applied by :func:`style` around
drawing and saving. Colours and names of phases, levels, postures, metrics,
groups and blocs come from :mod:`sim.report.colors`, shared with the browser
page. Rules every figure keeps (tested in tests/test_report.py):

* a legend or colour bar for every colour used;
* nothing drawn outside the canvas (constrained layout; nodes and labels of
  the network are not clipped by their axes, so an overflow would show);
* no text smaller than :data:`MIN_FONT` points;
* curves of several groups in one panel differ in colour, line style and
  marker, and are offset slightly so that identical curves stay visible.
"""

from __future__ import annotations

import contextlib
import math
import textwrap

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import patheffects
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..core.vocab import LEVELS, PHASES, POSTURES
from .colors import (BLOC_COLORS, LEVEL_COLORS, LEVEL_TEXT, METRIC_COLORS, METRIC_NAMES, NO_BLOC, PHASE_COLORS,
                     PHASE_TEXT, POSTURE_COLORS, POSTURE_LETTERS, group_style)
from .load import short_name

#: The smallest font size (points) of any text in a report figure.
MIN_FONT = 7.5
STYLE = {
    "font.family": "DejaVu Sans", "font.size": 9, "axes.titlesize": 9.5, "axes.labelsize": 9,
    "xtick.labelsize": 8, "ytick.labelsize": 8, "legend.fontsize": 8, "legend.title_fontsize": 8.5,
    "legend.frameon": False, "axes.spines.top": False, "axes.spines.right": False, "axes.titlelocation": "left",
    "figure.dpi": 100, "savefig.dpi": 130,
    "image.cmap": "viridis", "lines.linewidth": 1.6, "figure.constrained_layout.use": True,
}
METRIC_STYLES = {"identity": "-", "interaction": "--", "interest": ":", "trust_mean": "-"}
LEVEL_CMAP = mpl.colors.LinearSegmentedColormap.from_list("levels", [LEVEL_COLORS[lv] for lv in LEVELS])
POSTURE_CMAP = mpl.colors.LinearSegmentedColormap.from_list(
    "postures", [POSTURE_COLORS[p] for p in POSTURES])  # balance -> hedge -> bandwagon (codes -1, 0, 1)
WHISKER = {"color": "#222222", "lw": 0.9, "capsize": 2.5, "capthick": 0.9, "fmt": "none", "zorder": 4}


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


def _pct(x: float) -> str:
    return f"{100 * x:.0f}"


def _integer_years(ax) -> None:
    ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True, steps=[1, 2, 5, 10]))


def _phase_legend(fig: Figure, phases, title: str = "phase (median across replicates)") -> None:
    handles = [Patch(facecolor=PHASE_COLORS[p], edgecolor="#999999", label=p) for p in PHASES if p in phases]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncol=_legend_columns(handles, fig.get_figwidth(), 5),
                   title=_title_fit(title, fig))


def _stacked(ax, y: np.ndarray, shares: pd.DataFrame, cats, colors: dict, text: dict, n: np.ndarray,
             whiskers: bool = True, height: float = 0.72, label_min: float = 0.09) -> None:
    """Horizontal stacked bars of ``shares`` (rows = bars, columns = ``cats`` in order) with

    the share written inside every segment wide enough, and at each boundary
    between segments k-1 and k a whisker: the 95% Wilson interval of the
    cumulative share P(category >= k), drawn at 1 - P (the boundary's position),
    where that share is neither 0 nor 1.
    """
    from .data import wilson_interval

    left = np.zeros(len(y))
    for c in cats:
        v = shares[c].fillna(0).to_numpy(float)
        ax.barh(y, v, left=left, height=height, color=colors[c], edgecolor="#8c8c8c", lw=0.4, label=c)
        for yi, l0, w in zip(y, left, v):
            if w >= label_min:
                ax.text(l0 + w / 2, yi - height * 0.12, _pct(w) + "%", ha="center", va="center", fontsize=MIN_FONT,
                        color=text[c])
        left += v
    if not whiskers:
        return
    for k, c in enumerate(cats[1:], start=1):
        ge = shares[list(cats[k:])].fillna(0).sum(axis=1).to_numpy(float)
        lo, hi = wilson_interval(np.round(ge * n), n)
        inside = (ge > 1e-9) & (ge < 1 - 1e-9)  # a share of 0 or 1: its interval is stated in the caption
        if not inside.any():
            continue
        x = 1 - ge
        dy = height * (0.22 + 0.05 * (k - 1))  # below the segment labels (the y axis is inverted: + is down)
        ax.errorbar(x[inside], (y + dy)[inside], xerr=[np.clip(hi - ge, 0, None)[inside],
                                                      np.clip(ge - lo, 0, None)[inside]], **WHISKER)


def _legend_columns(handles, width: float, cap: int = 4) -> int:
    """As many legend columns as fit ``width`` inches (about 0.075 in per character at 8 pt, plus the key)."""
    longest = max((max(len(x) for x in h.get_label().split("\n")) for h in handles), default=10)
    per = 0.6 + 0.075 * longest
    return max(1, min(cap, len(handles), int(width // per)))


def _title_fit(text: str, fig: Figure) -> str:
    """``text`` wrapped to the figure's width (about 0.075 in per character at 8.5 pt)."""
    return _wrap(text, max(20, int((fig.get_figwidth() - 0.4) / 0.075)))


def _whisker_handle(label: str) -> Line2D:
    return Line2D([], [], color=WHISKER["color"], lw=WHISKER["lw"], marker="|", ms=7, label=label)


# --------------------------------------------------------------------------- conditions

def plot_conditions(data: dict) -> Figure:
    """Median (line), its 95% bootstrap interval (dark band) and the 10-90% spread (light band) over time."""
    bands, spans = data["bands"], data["phases"]
    groups = list(pd.unique(bands["group"]))
    fig = _fig(7.5, 1.4 + 2.1 * len(groups))
    axes = fig.subplots(len(groups), 1, sharex=True, squeeze=False)[:, 0]
    metrics = list(pd.unique(bands["metric"]))
    for ax, g in zip(axes, groups):
        for _, s in spans[spans["group"] == g].iterrows():
            if s["phase"] != "none":
                ax.axvspan(s["start"], s["end"], color=PHASE_COLORS[s["phase"]], alpha=0.6, lw=0, zorder=0)
        b = bands[bands["group"] == g]
        for m in metrics:
            d = b[b["metric"] == m]
            c = METRIC_COLORS.get(m, "#555555")
            ax.fill_between(d["year"], d["q10"], d["q90"], color=c, alpha=0.13, lw=0)
            if "q50_lo" in d.columns and d["q50_lo"].notna().any():
                ax.fill_between(d["year"], d["q50_lo"], d["q50_hi"], color=c, alpha=0.35, lw=0)
            ax.plot(d["year"], d["q50"], color=c, ls=METRIC_STYLES.get(m, "-"), lw=2.0 if m == "trust_mean" else 1.6,
                    label=METRIC_NAMES.get(m, m))
        ax.set_ylim(0, 1)
        ax.set_ylabel("index (0–1)")
        ax.set_title(_short(g, 90))
    axes[-1].set_xlabel("year")
    _integer_years(axes[-1])
    handles, labels = axes[0].get_legend_handles_labels()
    has_ci = "q50_lo" in bands.columns and bands["q50_lo"].notna().any()
    handles += [Patch(color="#777777", alpha=0.35 if has_ci else 0.13,
                      label="95% interval of the median" if has_ci else "10–90% of replicates")]
    if has_ci:
        handles.append(Patch(color="#777777", alpha=0.13, label="10–90% of replicates"))
    fig.legend(handles=handles, loc="outside upper center", ncol=3)
    _phase_legend(fig, set(spans["phase"]) - {"none"}, "background: phase (median across replicates)")
    return fig


# --------------------------------------------------------------------------- phases

def plot_phase_probability(df: pd.DataFrame) -> Figure:
    """Stacked horizontal bars: probability of each highest phase reached, per group, with Wilson whiskers."""
    groups = list(df.index)
    fig = _fig(7.5, 1.6 + 0.42 * max(len(groups), 2))
    ax = fig.subplots()
    y = np.arange(len(groups))
    n = df["n"].to_numpy(float)
    _stacked(ax, y, df, list(PHASES), PHASE_COLORS, PHASE_TEXT, n)
    ax.set_yticks(y, [_wrap(g, 40) for g in groups])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability (share of finished replicates)")
    ax.set_ylabel("scenario / point")
    for yi, k in zip(y, df["n"]):
        ax.text(1.01, yi, f"n={int(k)}", va="center", fontsize=MIN_FONT, transform=ax.get_yaxis_transform())
    handles = [Patch(facecolor=PHASE_COLORS[p], edgecolor="#8c8c8c", label=p) for p in PHASES]
    handles.append(_whisker_handle("95% interval of P(≥ phase)"))
    fig.legend(handles=handles, loc="outside lower center", ncol=_legend_columns(handles, fig.get_figwidth(), 3),
               title="highest phase reached")
    return fig


def plot_time_to_phase(data: dict, horizon: float | None = None) -> Figure:
    """ECDF of years to each phase per group (one panel per phase), with the 95% Wilson interval of the

    share reached by the end as a whisker at the right. ``horizon`` (years;
    default: the largest time observed) is where the curves end: the run
    length. Group k is shifted by a small offset in years (at most ±0.3
    years) so that identical curves stay visible. A phase that every
    replicate of every group held from the start is left out (nothing to show).
    """
    from .data import wilson_interval

    ecdf, summary = data["ecdf"], data["summary"]
    at_start = {p for p in pd.unique(summary["phase"])
                if len(e := ecdf[ecdf["phase"] == p]) and (e[e["years"] <= 0].groupby("group")["probability"].max()
                                                            .reindex(pd.unique(summary["group"])).fillna(0) >= 1).all()}
    phases = [p for p in pd.unique(summary["phase"]) if p not in at_start] or list(pd.unique(summary["phase"]))[-1:]
    groups = list(pd.unique(summary["group"]))
    ncol = min(len(phases), 3)
    nrow = math.ceil(len(phases) / ncol)
    fig = _fig(max(2.6 * ncol + 1.2, 7.5), 2.6 * nrow + 0.9 + 0.22 * math.ceil((len(groups) + 1) / 3))
    axes = fig.subplots(nrow, ncol, sharey=True, squeeze=False).ravel()
    horizon = max(float(ecdf["years"].max()) if len(ecdf) else 1.0, horizon or 0.0, 1.0)
    G = len(groups)
    step = (min(0.3, 0.6 / max(G - 1, 1)) * horizon / 20) if G > 1 else 0.0
    for ax, p in zip(axes, phases):
        for k, g in enumerate(groups):
            st = group_style(k)
            d = ecdf[(ecdf["phase"] == p) & (ecdf["group"] == g)]
            off = (k - (G - 1) / 2) * step
            last = float(d["probability"].max()) if len(d) else 0.0
            xs = np.concatenate([[0.0], d["years"].to_numpy(float), [horizon]]) + off
            ys = np.concatenate([[0.0], d["probability"].to_numpy(float), [last]])
            ax.step(xs, ys, where="post", color=st["color"], ls=st["linestyle"], lw=1.5, alpha=0.95)
            ax.plot(xs[1:-1], ys[1:-1], ls="none", marker=st["marker"], ms=3.5, color=st["color"], alpha=0.95)
            s = summary[(summary["phase"] == p) & (summary["group"] == g)]
            if len(s):
                s = s.iloc[0]
                lo, hi = wilson_interval(int(s["reached"]), int(s["n"]))
                xw = horizon * 1.03 + k * horizon * 0.025
                ax.errorbar([xw], [last], yerr=[[max(last - lo, 0)], [max(hi - last, 0)]], color=st["color"],
                            lw=1.0, capsize=2, fmt=st["marker"], ms=3.5)
        ax.set_title(p)
        ax.set_xlabel("years since start")
        ax.set_ylim(-0.025, 1.03)  # a curve at 0 stays visible above the axis
        ax.set_xlim(-0.02 * horizon, horizon * (1.06 + 0.025 * G))
        ax.axvline(horizon, color="#bbbbbb", lw=0.6, ls=":", zorder=0)
    for ax in axes[len(phases):]:
        ax.set_visible(False)
    for r in range(nrow):
        axes[r * ncol].set_ylabel("probability reached")
    handles = [Line2D([], [], **{**group_style(k), "ms": 4}, label=_wrap(g, 34)) for k, g in enumerate(groups)]
    handles.append(_whisker_handle("95% interval of the share\nreached by the end (right)"))
    fig.legend(handles=handles, loc="outside lower center", ncol=_legend_columns(handles, fig.get_figwidth()))
    return fig


def plot_phase_diagram(d: dict) -> Figure:
    """Heatmap of P(outcome) over two factors with contour lines at 0.25, 0.5 and 0.75 and, in small grids,

    each cell's value and 95% Wilson interval."""
    z = np.ma.masked_invalid(d["z"])
    nx_, ny_ = len(d["xs"]), len(d["ys"])
    fig = _fig(6.6, 5.0)
    ax = fig.subplots()
    im = ax.pcolormesh(np.arange(nx_ + 1) - 0.5, np.arange(ny_ + 1) - 0.5, z, cmap="viridis", vmin=0, vmax=1,
                       shading="flat")
    if nx_ >= 2 and ny_ >= 2 and z.count() >= 4 and float(z.max() - z.min()) > 0:
        cs = ax.contour(np.arange(nx_), np.arange(ny_), z, levels=[0.25, 0.5, 0.75], colors="white", linewidths=1.0)
        ax.clabel(cs, fmt="%.2f", fontsize=MIN_FONT)
    lo, hi = d.get("lo"), d.get("hi")
    if nx_ * ny_ <= 100:
        with_ci = lo is not None and nx_ * ny_ <= 36
        for i in range(ny_):
            for j in range(nx_):
                if not np.ma.is_masked(z[i, j]):
                    txt = f"{z[i, j]:.2f}" + (f"\n[{lo[i, j]:.2f}, {hi[i, j]:.2f}]" if with_ci else "")
                    ax.text(j, i, txt, ha="center", va="center", fontsize=MIN_FONT, linespacing=1.1,
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
    fig = _fig(7.5, 1.3 + (0.27 * len(states) + 0.75) * len(groups))
    axes = fig.subplots(len(groups), 1, sharex=True, squeeze=False)[:, 0]
    im = None
    any_join = False
    for ax, g in zip(axes, groups):
        lv = levels[levels["group"] == g]
        years = np.sort(lv["year"].unique())
        grid = lv.pivot(index="state", columns="year", values="mean_level").reindex(index=states, columns=years)
        dy = float(np.median(np.diff(years))) if len(years) > 1 else 1.0
        edges = np.concatenate([years - dy / 2, [years[-1] + dy / 2]])
        im = ax.pcolormesh(edges, np.arange(len(states) + 1) - 0.5, grid.to_numpy(float), cmap=LEVEL_CMAP, vmin=0,
                           vmax=3)
        j = joins[(joins["group"] == g) & (joins["share"] > 0) & joins["median_year"].notna()]
        for _, r in j.iterrows():
            any_join = True
            yi = states.index(r["state"])
            ax.plot(r["median_year"], yi, marker="v", color="#d62728", ms=4 + 5 * r["share"], mec="white", mew=0.6)
            ci = (f" [{_pct(r['lo'])}–{_pct(r['hi'])}]" if "lo" in r and not pd.isna(r.get("lo")) else "")
            x = r["median_year"] + dy * 0.6
            right = x > years[-1] - 0.25 * (years[-1] - years[0])
            ax.text(r["median_year"] - dy * 0.6 if right else x, yi, f"{_pct(r['share'])}%{ci}", va="center",
                    ha="right" if right else "left", fontsize=MIN_FONT, color="#a50f15",
                    path_effects=[patheffects.withStroke(linewidth=2.2, foreground="white")])
        ax.set_yticks(range(len(states)), states)
        ax.invert_yaxis()
        ax.set_ylabel("state")
        ax.set_title(_short(g, 90))
    axes[-1].set_xlabel("year")
    _integer_years(axes[-1])
    height = fig.get_figheight() - 1.3
    cb = fig.colorbar(im, ax=list(axes), ticks=range(4), location="right", shrink=min(1.0, 3.2 / max(height, 1e-9)),
                      aspect=18, anchor=(0.0, 1.0))
    cb.set_label(f"{institution} level (mean across replicates)")
    cb.ax.set_yticklabels(LEVELS)
    if any_join:
        fig.legend(handles=[Line2D([], [], ls="none", marker="v", color="#d62728", mec="white", ms=7,
                                   label=_title_fit(f"median year of first join into {institution}; % = share of "
                                                    "replicates that joined [95% interval]", fig))],
                   loc="outside lower center")
    return fig


def plot_membership_final(df: pd.DataFrame, institution: str) -> Figure:
    """Stacked horizontal bars: share of replicates ending at each level, per state (one panel per group if any)."""
    groups = list(pd.unique(df["group"])) if "group" in df.columns else [None]
    states = list(pd.unique(df["state"]))
    fig = _fig(1.6 + 2.9 * len(groups) if len(groups) > 1 else 6.5, 1.6 + 0.34 * len(states))
    axes = fig.subplots(1, len(groups), squeeze=False, sharey=True)[0]
    y = np.arange(len(states))
    for ax, g in zip(axes, groups):
        d = (df if g is None else df[df["group"] == g]).set_index("state").reindex(states)
        n = d["n"].fillna(0).to_numpy(float) if "n" in d.columns else np.zeros(len(states))
        _stacked(ax, y, d, list(LEVELS), LEVEL_COLORS, LEVEL_TEXT, n, whiskers="n" in d.columns)
        ax.set_xlim(0, 1)
        ax.set_xlabel("share of replicates")
        if g is not None:
            ax.set_title(_wrap(g, 30))
    axes[0].set_yticks(y, states)
    axes[0].invert_yaxis()
    axes[0].set_ylabel("state")
    handles = [Patch(facecolor=LEVEL_COLORS[lv], edgecolor="#8c8c8c", label=lv) for lv in LEVELS]
    if "n" in df.columns:
        handles.append(_whisker_handle("95% interval of P(≥ level)"))
    fig.legend(handles=handles, loc="outside lower center", ncol=_legend_columns(handles, fig.get_figwidth(), 5),
               title=f"{institution} level at the end")
    return fig


# --------------------------------------------------------------------------- network and postures

def _circle(states) -> dict:
    n = len(states)
    return {s: (math.cos(math.pi / 2 - 2 * math.pi * i / n), math.sin(math.pi / 2 - 2 * math.pi * i / n))
            for i, s in enumerate(states)}


def plot_network(data: dict, seed: int = 0) -> Figure:
    """Trust network per group (rows) and year (columns): links at or above the threshold, blocs, capability.

    States sit on a fixed circle (world order), labelled outside their node,
    so years and groups compare at a glance; colour = bloc, named after its
    most capable member, the same colour in every panel (one legend).
    """
    import networkx as nx

    from .data import bloc_color_index

    nodes, edges, years, groups = data["nodes"], data["edges"], data["years"], data["groups"]
    states = data.get("states") or list(pd.unique(nodes["state"]))
    pos = _circle(states)
    capmax = max(float(nodes["capability"].max()), 1e-9)
    thr = data.get("threshold", 0.5)
    blocs = [b for b in pd.unique(nodes["bloc"]) if isinstance(b, str) and b]
    blocs.sort(key=lambda b: bloc_color_index(b, states))
    colour = {b: BLOC_COLORS[bloc_color_index(b, states) % len(BLOC_COLORS)] for b in blocs}
    fig = _fig(max(2.55 * len(years) + 0.6, 5.5), 2.6 * len(groups) + 1.0)
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
            nx.draw_networkx_edges(G, pos, ax=ax, width=widths, edge_color="#8a8a8a", alpha=0.7)
            cols = [colour[b] if isinstance(b, str) and b else NO_BLOC for b in nd["bloc"]]
            sizes = [40 + 420 * cp / capmax for cp in nd["capability"]]
            coll = nx.draw_networkx_nodes(G, pos, nodelist=list(nd["state"]), node_color=cols, node_size=sizes,
                                          ax=ax, edgecolors="#333333", linewidths=0.6)
            coll.set_clip_on(False)
            for s in nd["state"]:
                x0, y0 = pos[s]
                ax.text(1.24 * x0, 1.2 * y0, s, ha="center", va="center", fontsize=MIN_FONT, clip_on=False)
            ax.set_xlim(-1.45, 1.45)
            ax.set_ylim(-1.4, 1.4)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            for s in ax.spines.values():
                s.set_visible(False)
            ax.set_title(f"{y:g}", loc="center")
            if c == 0:
                ax.set_ylabel(_wrap(g, 26))
    handles = [Patch(facecolor=colour[b], edgecolor="#333333", label=f"bloc of {b}") for b in blocs]
    handles.append(Patch(facecolor=NO_BLOC, edgecolor="#333333", label="in no bloc"))
    handles.append(Line2D([], [], color="#8a8a8a", lw=2.5, label=f"mean trust ≥ {thr:g} (width ∝ trust)"))
    fig.legend(handles=handles, loc="outside lower center", ncol=_legend_columns(handles, fig.get_figwidth()),
               title=_title_fit("colour = trust bloc (named after its most capable member); node size ∝ capability "
                                "share", fig))
    return fig


def plot_postures(df: pd.DataFrame) -> Figure:
    """Per group a heatmap state x great power: bandwagon share − balance share, with the dominant posture,

    its share and its 95% Wilson interval in each cell."""
    groups = list(pd.unique(df["group"]))
    gps = list(pd.unique(df["gp"]))
    states = list(pd.unique(df["state"]))
    ncol = 2 if len(groups) == 4 else min(len(groups), 3)
    nrow = math.ceil(len(groups) / ncol)
    fig = _fig(1.5 + (0.78 * len(gps) + 0.75) * ncol, 1.2 + (0.42 * len(states) + 0.7) * nrow)
    axes = fig.subplots(nrow, ncol, squeeze=False, sharey=True)
    flat = axes.ravel()
    im = None
    for ax, g in zip(flat, groups):
        d = df[df["group"] == g].set_index(["state", "gp"])
        net = np.array([[d.loc[(st, gp), "bandwagon"] - d.loc[(st, gp), "balance"] for gp in gps] for st in states])
        im = ax.imshow(net, cmap=POSTURE_CMAP, vmin=-1, vmax=1, aspect="auto")
        for i, st in enumerate(states):
            for j, gp in enumerate(gps):
                r = d.loc[(st, gp)]
                top = r["top"] if "top" in r else max(POSTURES, key=lambda k: r[k])
                share = r[top]
                if pd.isna(share):
                    continue
                ci = f"\n[{_pct(r['lo'])}–{_pct(r['hi'])}]" if "lo" in r and not pd.isna(r["lo"]) else ""
                ax.text(j, i, f"{POSTURE_LETTERS[top]} {_pct(share)}%{ci}", ha="center", va="center",
                        fontsize=MIN_FONT, linespacing=1.0, color="white" if abs(net[i, j]) > 0.55 else "#111111")
        ax.set_xticks(range(len(gps)), gps)
        ax.set_yticks(range(len(states)), states)
        ax.set_xlabel("great power")
        ax.set_title(_wrap(g, 30))
    for ax in flat[len(groups):]:
        ax.set_visible(False)
    for r in range(nrow):
        axes[r, 0].set_ylabel("state")
    cb = fig.colorbar(im, ax=[a for a in flat[:len(groups)]], shrink=0.8, aspect=30)
    cb.set_label("bandwagon share − balance share")
    cb.set_ticks([-1, 0, 1], labels=["−1 balance", "0", "+1 bandwagon"])
    fig.legend(handles=[Patch(facecolor=POSTURE_COLORS[k], edgecolor="#8c8c8c",
                              label=f"{POSTURE_LETTERS[k]} = {k}") for k in POSTURES],
               loc="outside lower center", ncol=3,
               title=_title_fit("cell text: the most common posture, its share and [95% interval]", fig))
    return fig


# --------------------------------------------------------------------------- sensitivity

def plot_sensitivity(df: pd.DataFrame) -> Figure:
    """Horizontal bars per outcome: Morris mu* (with sigma as a marker) or Sobol S1 and ST, with 95% CIs."""
    outcomes = list(pd.unique(df["outcome"]))
    factors = list(pd.unique(df["factor"]))
    morris = "mu_star" in set(df["index"])
    fig = _fig(3.6 * len(outcomes) + 0.8, 1.6 + 0.45 * len(factors))
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
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=_legend_columns(handles, fig.get_figwidth()))
    return fig


__all__ = ["LEVEL_COLORS", "MIN_FONT", "PHASE_COLORS", "STYLE", "plot_conditions", "plot_membership_final",
           "plot_membership_timeline", "plot_network", "plot_phase_diagram", "plot_phase_probability",
           "plot_postures", "plot_sensitivity", "plot_time_to_phase", "style"]
