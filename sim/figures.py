"""Run figures: each is a ``*_data()`` function returning the plotted numbers and a thin drawing function.

STYLE.md (Axelrod): the data functions are asserted exactly in tests, the
drawing functions only smoke-tested. Drawing uses matplotlib's object API
(``matplotlib.figure.Figure``, rendered by the Agg canvas), never pyplot, so
no global backend is switched and no figure is kept alive.

- conditions: the three Adler-Barnett conditions (Adler & Barnett 1998 p. 31)
  and mean member trust over time, replicate median with a 10-90% band, the
  background shaded by the median phase of each year (DESIGN.md §3 "Outcomes");
- memberships: each state's level in the community institution over time, as
  the share of replicates at each level (DOMAIN.md §6 "who joins, at what level");
- network: the trust network at chosen years (edges where the replicate-median
  trust is at least 0.5, nodes sized by capability, coloured by the share of
  replicates in which the state is a full member; a seeded spring layout).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from .io import write_figure_atomic
from .metrics import CONDITIONS, PHASES
from .world import LEVELS, World

SERIES = CONDITIONS + ("trust_mean",)
LABELS = {"identity": "shared identity (i)", "interaction": "interaction (ii)",
          "interest": "mutual interest (iii)", "trust_mean": "mean member trust"}
PHASE_COLOURS = ("#ffffff", "#fdf1d6", "#dcefd9", "#cfe0f3", "#e3d7ef")
EDGE_TRUST = 0.5


# --------------------------------------------------------------------------- conditions


def conditions_data(ts: pd.DataFrame) -> dict:
    """Per year: q10, median, q90 over replicates of each condition and mean member trust; the median phase.

    The median phase is the lower median of the phase codes (an existing phase, never a half).
    """
    g = ts.groupby("year", sort=True)
    out = {"years": np.asarray(sorted(ts["year"].unique()), dtype=float)}
    for name in SERIES:
        q = g[name].quantile([0.1, 0.5, 0.9]).unstack()
        out[name] = {"q10": q[0.1].to_numpy(), "q50": q[0.5].to_numpy(), "q90": q[0.9].to_numpy()}
    out["phase"] = g["phase"].apply(lambda s: int(np.sort(s.to_numpy())[(len(s) - 1) // 2])).to_numpy()
    out["replicates"] = int(ts["replicate"].nunique())
    return out


def draw_conditions(data: dict, title: str) -> Figure:
    """Lines (median) with 10-90% bands; background shaded by the median phase."""
    fig = Figure(figsize=(9, 5), layout="constrained")
    ax = fig.subplots()
    years, phase = data["years"], data["phase"]
    step = years[1] - years[0] if len(years) > 1 else 1.0
    for y, p in zip(years, phase):
        if p:
            ax.axvspan(y - step / 2, y + step / 2, color=PHASE_COLOURS[p], lw=0, zorder=0)
    handles = []
    for name, colour in zip(SERIES, ("C0", "C1", "C2", "C3")):
        d = data[name]
        ax.fill_between(years, d["q10"], d["q90"], color=colour, alpha=0.2, lw=0)
        handles += ax.plot(years, d["q50"], color=colour, lw=2, ls="--" if name == "trust_mean" else "-",
                           label=LABELS[name])
    shown = sorted(set(int(p) for p in phase) - {0})
    handles += [Patch(color=PHASE_COLOURS[p], label=f"median phase: {PHASES[p]}") for p in shown]
    ax.set(xlim=(years[0], years[-1]), ylim=(0, 1), xlabel="year",
           ylabel="index among community members (0-1)",
           title=f"{title}\nmedian and 10-90% band over {data['replicates']} replicates")
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    return fig


# --------------------------------------------------------------------------- memberships


def memberships_data(agents: pd.DataFrame, institution: str, codes: tuple[str, ...]) -> dict:
    """Share of replicates at each level above none in ``institution``: {level: (states, years) array}."""
    col = f"level_{institution}"
    years = np.asarray(sorted(agents["year"].unique()), dtype=float)
    out = {"years": years, "states": list(codes), "institution": institution, "shares": {}}
    for lvl in LEVELS[1:]:
        hit = (agents[col] == LEVELS.index(lvl)).astype(float)
        share = hit.groupby([agents["state"], agents["year"]]).mean().unstack("year")
        out["shares"][lvl] = share.reindex(index=list(codes), columns=years).fillna(0.0).to_numpy()
    return out


def draw_memberships(data: dict, title: str) -> Figure:
    """One heatmap per level (member, observer, partner): state x year, colour = share of replicates."""
    levels = list(reversed(LEVELS[1:]))
    n = len(data["states"])
    fig = Figure(figsize=(4.2 * len(levels) + 1, 0.28 * n + 2.4), layout="constrained")
    axes = fig.subplots(1, len(levels), sharey=True)
    years = data["years"]
    extent = (years[0] - 0.5, years[-1] + 0.5, n - 0.5, -0.5)
    for ax, lvl in zip(axes, levels):
        im = ax.imshow(data["shares"][lvl], aspect="auto", cmap="viridis", vmin=0, vmax=1,
                       extent=extent, interpolation="nearest")
        ax.set(title="full member" if lvl == "member" else lvl, xlabel="year")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_yticks(range(n), data["states"], fontsize=8 if n <= 30 else 5)
    axes[0].set_ylabel("state")
    fig.colorbar(im, ax=list(axes), label="share of replicates at this level", shrink=0.9)
    fig.suptitle(f"{title}\nlevel in {data['institution']} over time")
    return fig


# --------------------------------------------------------------------------- network


def pick_years(available: np.ndarray, wanted) -> list[float]:
    """The available checkpoint years nearest each wanted year (default: start, middle, end), deduplicated."""
    available = np.asarray(sorted(set(available)), dtype=float)
    if not len(wanted):
        wanted = [available[0], (available[0] + available[-1]) / 2, available[-1]]
    picked = [float(available[np.argmin(np.abs(available - y))]) for y in wanted]
    return sorted(set(picked))


def network_data(pairs: pd.DataFrame, agents: pd.DataFrame, world: World, years=(), seed: int = 0) -> dict:
    """Trust-network panels at the checkpoints nearest ``years``: edges (a, b, median trust >= 0.5), member shares.

    Node positions come from ``networkx.spring_layout`` (seeded) on the
    replicate-median trust of the last panel, so panels share one layout.
    """
    import networkx as nx

    community = world.institutions[world.community]
    chosen = pick_years(pairs["year"].unique(), list(years))
    med = pairs[pairs["year"].isin(chosen)].groupby(["year", "a", "b"], sort=True)["trust"].median()
    member = agents[f"level_{community}"] == LEVELS.index("member")
    share = member.groupby([agents["year"], agents["state"]]).mean()
    panels = []
    for y in chosen:
        trust = med.loc[y]
        edges = [(a, b, float(t)) for (a, b), t in trust.items() if t >= EDGE_TRUST]
        panels.append({"year": y, "edges": edges,
                       "member_share": {c: float(share.get((y, c), 0.0)) for c in world.codes}})
    g = nx.Graph()
    g.add_nodes_from(world.codes)
    g.add_weighted_edges_from((a, b, float(t)) for (a, b), t in med.loc[chosen[-1]].items())
    pos = nx.spring_layout(g, weight="weight", seed=seed)
    return {"panels": panels, "nodes": list(world.codes),
            "capability": dict(zip(world.codes, world.capability.tolist())),
            "pos": {c: (float(p[0]), float(p[1])) for c, p in pos.items()}, "community": community,
            "threshold": EDGE_TRUST}


def draw_network(data: dict, title: str) -> Figure:
    """One panel per year: nodes sized by capability and coloured by membership share; edges by trust."""
    import networkx as nx
    from matplotlib.lines import Line2D
    from matplotlib.patheffects import withStroke

    panels = data["panels"]
    fig = Figure(figsize=(5 * len(panels) + 1, 5.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    cap = np.array([data["capability"][c] for c in data["nodes"]])
    sizes = 150 + 2500 * cap / max(cap.max(), 1e-12)
    for ax, panel in zip(axes, panels):
        g = nx.Graph()
        g.add_nodes_from(data["nodes"])
        g.add_weighted_edges_from(panel["edges"])
        widths = [0.5 + 4 * (g[a][b]["weight"] - data["threshold"]) / (1 - data["threshold"]) for a, b in g.edges]
        nx.draw_networkx_edges(g, data["pos"], ax=ax, width=widths, edge_color="0.45", alpha=0.7)
        nodes = nx.draw_networkx_nodes(g, data["pos"], ax=ax, node_size=sizes, cmap="viridis", vmin=0, vmax=1,
                                       node_color=[panel["member_share"][c] for c in data["nodes"]],
                                       edgecolors="black", linewidths=0.5)
        labels = nx.draw_networkx_labels(g, data["pos"], ax=ax, font_size=7 if len(data["nodes"]) <= 30 else 5)
        for text in labels.values():
            text.set_path_effects([withStroke(linewidth=2, foreground="white")])
        ax.set_title(f"{panel['year']:g}")
        ax.set_axis_off()
    fig.colorbar(nodes, ax=list(axes), label=f"share of replicates a full {data['community']} member", shrink=0.8)
    key = [Line2D([], [], color="0.45", lw=w, label=f"trust {t:g}") for t, w in
           ((data["threshold"], 0.5), (0.75, 2.5), (1.0, 4.5))]
    key.append(Line2D([], [], ls="", marker="o", mfc="white", mec="black", ms=9, label="node area ~ capability"))
    fig.legend(handles=key, loc="outside lower center", ncol=len(key), frameon=False,
               title=f"edges: replicate-median trust >= {data['threshold']:g}")
    fig.suptitle(title)
    return fig


# --------------------------------------------------------------------------- all run figures


def write_run_figures(tables: dict[str, pd.DataFrame], world: World, out_dir: str | Path, title: str,
                      network_years=(), seed: int = 0) -> list[Path]:
    """Draw conditions.png, memberships.png and network.png into ``out_dir`` (atomic writes)."""
    out_dir = Path(out_dir)
    community = world.institutions[world.community]
    figs = {"conditions": draw_conditions(conditions_data(tables["timeseries"]), title),
            "memberships": draw_memberships(memberships_data(tables["agents"], community, world.codes), title),
            "network": draw_network(network_data(tables["pairs"], tables["agents"], world, network_years, seed),
                                    f"{title}: trust network")}
    return [write_figure_atomic(fig, out_dir / f"{name}.png") for name, fig in figs.items()]
