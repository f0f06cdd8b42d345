"""Interactive exploration in the browser: a Mesa ``SolaraViz`` page for the model.

Run it with the ``viz`` extra installed::

    pip install -e '.[viz]'
    solara run sim/app.py          # then open http://localhost:8765

The page builds :class:`sim.model.RegionalAlignmentModel` (the same core as the
CLI; nothing here steps any dynamics) and shows, updated at every step:

- the year, the community phase (Adler & Barnett 1998) and the main indices;
- the trust network: one node per state (size by capability), an edge where
  trust ``T_ij >= phase.bloc_trust`` (width by trust), nodes coloured by their
  level in the community institution or by trust bloc;
- every state's level in every institution and its posture toward each great
  power (a table);
- the three Adler-Barnett conditions and member trust (Mesa's
  ``make_plot_component`` over the model reporters).

The sidebar has the scenario picker (every ``conf/scenario/*.yaml``), the seed
and sliders for the main great-power pressure and identity parameters; press
*Reset* to rebuild the model with them. Seed ``s`` runs replicate 0 of master
seed ``s``, the same stream as ``python -m sim seed=s``.

Works with Mesa 3.3 and 3.5 (their ``SolaraViz`` differ in how they rebuild
the model; ``RegionalAlignmentModel.__init__`` accepts both). The plotting and table helpers
(:func:`network_figure`, :func:`membership_rows`, ...) are plain functions, so
they are tested without a browser.
"""

from __future__ import annotations

import html
import math
import sys
from pathlib import Path

# `solara run sim/app.py` runs this file as a script with sim/ itself first on sys.path, where
# sim/io.py, sim/tables.py, ... would shadow top-level modules of the same names: take it off.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if not p or Path(p).resolve() != _HERE]

import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
import solara  # noqa: E402
from matplotlib.colors import rgb_to_hsv, to_rgb  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import FancyArrowPatch, Patch  # noqa: E402
from mesa.visualization import SolaraViz, make_plot_component  # noqa: E402
from mesa.visualization.utils import update_counter  # noqa: E402

from sim.agents import Posture  # noqa: E402
from sim.metrics import PHASES  # noqa: E402
from sim.model import RegionalAlignmentModel  # noqa: E402
from sim.params import Params  # noqa: E402
from sim.scenario import SCENARIO_DIR  # noqa: E402

TITLE = "Turkic security community: regional alignment under great-power pressure"

#: The sliders: model keyword -> (label, min, max, step). Defaults come from :class:`sim.params.Params`.
SLIDERS = {
    "pressure__intensity": ("Pressure intensity", 0.0, 1.0, 0.05),
    "pressure__reaction": ("Pressure reaction", 0.0, 5.0, 0.1),
    "identity__confidence": ("Confidence bound ε", 0.0, 1.0, 0.05),
    "identity__convergence": ("Convergence μ", 0.0, 0.5, 0.01),
    "interaction__temptation": ("Wedge temptation", 0.0, 10.0, 0.25),
}

#: Schematic map positions (longitude, latitude of the capital) for the Turkic world's states.
#: Seoul is drawn pulled in west of Central Asia (at 86°E) so the map stays readable.
CAPITALS = {
    "TUR": (32.9, 39.9), "AZE": (49.9, 40.4), "KAZ": (71.4, 51.2), "KGZ": (74.6, 42.9),
    "UZB": (69.2, 41.3), "TKM": (58.4, 37.9), "HUN": (19.0, 47.5), "TRNC": (33.4, 35.2),
    "ARM": (44.5, 40.2), "TJK": (68.8, 38.6), "KOR": (86.0, 37.5),
}

LEVEL_COLOURS = {"none": "#d9d9d9", "partner": "#c6dbef", "observer": "#6baed6", "member": "#08519c"}
LEVEL_SHORT = {"none": "·", "partner": "partner", "observer": "observer", "member": "member"}
POSTURE_SHORT = {Posture.BALANCE: "balance", Posture.HEDGE: "hedge", Posture.BANDWAGON: "bandwagon"}
BLOC_COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d")
COLOUR_MODES = ("community level", "trust bloc")


def scenario_names(directory: Path = SCENARIO_DIR) -> list[str]:
    """Names of the scenario files (``conf/scenario/*.yaml``), sorted, read each time (new files show up)."""
    return sorted(p.stem for p in Path(directory).glob("*.yaml"))


def model_params(directory: Path = SCENARIO_DIR) -> dict:
    """SolaraViz ``model_params``: scenario picker, seed and the sliders (the same dict format on Mesa 3.3 and 3.5)."""
    names = scenario_names(directory)
    defaults = Params()
    out: dict = {
        "scenario_name": {"type": "Select", "value": "baseline" if "baseline" in names else names[0],
                          "values": names, "label": "Scenario"},
        "rng": {"type": "SliderInt", "value": 0, "min": 0, "max": 99, "step": 1, "label": "Seed"},
    }
    for key, (label, lo, hi, step) in SLIDERS.items():
        group, name = key.split("__")
        out[key] = {"type": "SliderFloat", "value": float(getattr(getattr(defaults, group), name)),
                    "min": lo, "max": hi, "step": step, "label": label}
    return out


# ---------------------------------------------------------------- data for the views (tested)


def positions(codes) -> dict[str, tuple[float, float]]:
    """Node positions: a schematic map where every code has a capital, else a circle."""
    if all(c in CAPITALS for c in codes):
        return {c: CAPITALS[c] for c in codes}
    n = len(codes)
    return {c: (math.cos(2 * math.pi * i / n + math.pi / 2), math.sin(2 * math.pi * i / n + math.pi / 2))
            for i, c in enumerate(codes)}


def trust_edges(model, threshold: float | None = None) -> list[tuple[str, str, float]]:
    """Pairs (i < j) with trust T_ij at least the threshold (default ``phase.bloc_trust``), with T_ij.

    Trust is symmetric in the core (``sim.dynamics.State.trust``), so T_ij = T_ji.
    """
    thr = model.params.phase.bloc_trust if threshold is None else threshold
    trust = model.state.trust[0]
    codes = model.world.codes
    n = len(codes)
    return [(codes[i], codes[j], float(trust[i, j])) for i in range(n) for j in range(i + 1, n)
            if trust[i, j] >= thr]


def trust_blocs(model, threshold: float | None = None) -> dict[str, int]:
    """Bloc of each state: connected components with >= 2 states of the trust graph, numbered from 1
    by size (then by first state); 0 for a state in no bloc. The same graph as ``metrics.blocs``."""
    g = nx.Graph()
    g.add_nodes_from(model.world.codes)
    g.add_edges_from((a, b) for a, b, _ in trust_edges(model, threshold))
    order = {c: i for i, c in enumerate(model.world.codes)}
    comps = sorted((c for c in nx.connected_components(g) if len(c) >= 2),
                   key=lambda c: (-len(c), min(order[s] for s in c)))
    out = dict.fromkeys(model.world.codes, 0)
    for b, comp in enumerate(comps, start=1):
        for code in comp:
            out[code] = b
    return out


def membership_rows(model) -> list[dict[str, str]]:
    """One row per state: name, level in every institution, posture toward every great power."""
    rows = []
    for agent in model.state_agents:
        row = {"State": agent.code, "Name": agent.name}
        row.update({inst: level.name.lower() for inst, level in agent.memberships.items()})
        row.update({gp: POSTURE_SHORT[p] for gp, p in agent.posture.items()})
        rows.append(row)
    return rows


def status(model) -> dict[str, object]:
    """What the header shows: year, phase, step, scenario, the main indices and the page's parameters."""
    m = {k: float(v[0]) for k, v in model.metrics.items()}
    year = float(model.year)
    params = {}
    for key in SLIDERS:
        group, name = key.split("__")
        params[key] = float(getattr(getattr(model.params, group), name))
    return {
        "year": int(year) if year.is_integer() else round(year, 2),
        "phase": model.phase, "step": int(model.state.step), "steps": int(model.context.schedule.steps),
        "scenario": model.regional_scenario.name, "description": model.regional_scenario.description,
        "seed": int(model.seed), "params": params,
        "members": int(m["members"]), "trust_mean": m["trust_mean"], "peace": m["peace"],
        "depth": m["depth"], "incidents": int(m["incidents"]), "blocs": int(m["blocs"]),
        "running": bool(model.running),
    }


# ---------------------------------------------------------------- drawing


def network_figure(model, colour_by: str = COLOUR_MODES[0]) -> Figure:
    """The trust network as a matplotlib Figure (no pyplot, so safe in the server's threads)."""
    world = model.world
    codes = world.codes
    pos = positions(codes)
    thr = model.params.phase.bloc_trust
    community = world.institutions[world.community]

    fig = Figure(figsize=(6.4, 3.8), dpi=110, layout="constrained")
    ax = fig.subplots()
    for a, b, t in trust_edges(model):
        x = (t - thr) / max(1 - thr, 1e-9)
        # slightly curved, so an edge does not run through a state lying between its ends
        ax.add_patch(FancyArrowPatch(pos[a], pos[b], arrowstyle="-", connectionstyle="arc3,rad=0.18",
                                     color="#404040", lw=0.6 + 5.0 * x, alpha=0.25 + 0.55 * x,
                                     shrinkA=0, shrinkB=0, zorder=1))

    if colour_by == COLOUR_MODES[1]:
        bloc = trust_blocs(model)
        colours = [BLOC_COLOURS[(bloc[c] - 1) % len(BLOC_COLOURS)] if bloc[c] else LEVEL_COLOURS["none"]
                   for c in codes]
        handles = [Patch(color=BLOC_COLOURS[(b - 1) % len(BLOC_COLOURS)],
                         label=f"bloc {b}: {sum(v == b for v in bloc.values())} states")
                   for b in sorted(set(bloc.values()) - {0})]
        handles.append(Patch(color=LEVEL_COLOURS["none"], label="in no bloc"))
        legend_title = f"Trust blocs (T ≥ {thr:.2f})"
    else:
        levels = [a.community_level for a in model.state_agents]
        colours = [LEVEL_COLOURS[lv] for lv in levels]
        handles = [Patch(color=LEVEL_COLOURS[lv], label=lv) for lv in reversed(LEVEL_COLOURS)]
        legend_title = f"{community} level"
    handles.append(Line2D([], [], color="#404040", lw=3, alpha=0.6, label=f"trust ≥ {thr:.2f}"))

    xy = np.array([pos[c] for c in codes])
    size = 480 + 2000 * np.sqrt(np.asarray(world.capability, dtype=float))
    ax.scatter(xy[:, 0], xy[:, 1], s=size, c=colours, edgecolors="#202020", linewidths=0.8, zorder=2)
    for (x, y), code, colour in zip(xy, codes, colours):
        dark = rgb_to_hsv(to_rgb(colour))[2] < 0.65
        ax.text(x, y, code, ha="center", va="center", fontsize=8, fontweight="bold",
                color="white" if dark else "#111111", zorder=3)

    ax.legend(handles=handles, title=legend_title, loc="lower left", fontsize=7, title_fontsize=8,
              frameon=True, framealpha=0.9)
    ax.set_title(f"Trust network, {status(model)['year']}  ·  node size: capability", fontsize=10)
    ax.margins(0.08, 0.14)
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    return fig


def _unit_axes(title: str):
    """post_process for make_plot_component: a title, the index range [0, 1] and a light grid."""

    def post_process(ax):
        ax.set_title(title, fontsize=10)
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("index")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)

    return post_process


# ---------------------------------------------------------------- components

PHASE_COLOURS = ("#bdbdbd", "#9ecae1", "#4292c6", "#2171b5", "#08306b")
PARAM_SYMBOLS = {"pressure__intensity": "pressure", "pressure__reaction": "reaction",
                 "identity__confidence": "ε", "identity__convergence": "μ", "interaction__temptation": "temptation"}

_CSS = """<style>
.sim-panel{font-family:Roboto,sans-serif;color:#222;line-height:1.35}
.sim-panel .head{font-size:19px;margin-bottom:3px}
.sim-panel .chip{border-radius:10px;padding:0 7px;margin-right:3px;font-size:11.5px;border:1px solid #ccc}
.sim-panel .line{font-size:12.5px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.sim-panel .muted{color:#666}
.sim-panel table{border-collapse:collapse;font-size:11px;width:100%;margin-top:2px}
.sim-panel th,.sim-panel td{border-bottom:1px solid #e6e6e6;padding:0 4px;line-height:1.45;text-align:left}
.sim-panel th{background:#f5f5f5;font-weight:600}
</style>"""


def _status_html(s: dict) -> str:
    chips = []
    reached = PHASES.index(s["phase"])
    for i, name in enumerate(PHASES):
        bg, fg = (PHASE_COLOURS[i], "white" if i >= 2 else "#222") if i <= reached else ("#f4f4f4", "#999")
        border = "border:2px solid #111;" if i == reached else ""
        chips.append(f'<span class="chip" style="background:{bg};color:{fg};{border}">{name}</span>')
    end = " · <b>end of scenario</b>" if not s["running"] else ""
    params = " · ".join(f"{PARAM_SYMBOLS[k]} {v:g}" for k, v in s["params"].items())
    return (
        f'<div class="head"><span class="sim-year">Year {s["year"]}</span>'
        f' · phase <b class="sim-phase">{s["phase"]}</b></div>'
        f'<div>{"".join(chips)}</div>'
        f'<div class="line" style="margin-top:3px">Scenario <b>{html.escape(s["scenario"])}</b> · '
        f'step {s["step"]}/{s["steps"]}{end} · '
        f'<span class="muted" title="{html.escape(s["description"])}">{html.escape(s["description"])}</span></div>'
        f'<div class="line">{s["members"]} members · member trust {s["trust_mean"]:.2f} · '
        f'peace {s["peace"]:.2f} · depth {s["depth"]:.2f} · incidents {s["incidents"]} · '
        f'trust blocs {s["blocs"]}</div>'
        f'<div class="line muted">seed {s["seed"]} · {params}</div>'
    )


def _table_html(model) -> str:
    rows = membership_rows(model)
    insts = list(model.world.institutions)
    gps = list(model.world.gp_codes)
    community = insts[model.world.community]
    head = "".join(f"<th>{h}</th>" for h in ["State", *insts, *(f"→{g}" for g in gps)])
    body = []
    for r in rows:
        cells = [f'<td title="{html.escape(r["Name"])}"><b>{r["State"]}</b></td>']
        for k in insts:
            lv = r[k]
            style = (f' style="background:{LEVEL_COLOURS[lv]};color:{"white" if lv == "member" else "#111"}"'
                     if k == community else "")
            cells.append(f"<td{style}>{LEVEL_SHORT[lv]}</td>")
        cells += [f"<td>{r[g]}</td>" for g in gps]
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (f'<table class="sim-table"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
            f'<div class="muted" style="font-size:11px">Levels in each institution; →: posture toward each '
            f'great power.</div>')


@solara.component
def StatusPanel(model):
    """Year, phase, scenario, main indices, and the membership table."""
    update_counter.get()  # re-render after every step (Mesa bumps this counter)
    solara.HTML(tag="div", unsafe_innerHTML=_CSS + _status_html(status(model)) + _table_html(model),
                classes=["sim-panel"])


@solara.component
def TrustNetwork(model):
    """The trust network, redrawn at every step; colour by community level or by trust bloc."""
    update_counter.get()
    colour_by, set_colour_by = solara.use_state(COLOUR_MODES[0])
    with solara.Column(gap="0px", classes=["sim-network"]):
        with solara.Row(gap="8px", style={"align-items": "center"}):
            solara.Text("Colour states by", style={"font-size": "13px"})
            solara.ToggleButtonsSingle(value=colour_by, values=list(COLOUR_MODES), on_value=set_colour_by,
                                       dense=True)
        solara.FigureMatplotlib(network_figure(model, colour_by), format="png", bbox_inches="tight")


CONDITIONS_PLOT = make_plot_component(
    {"Identity": "#1b9e77", "Interaction": "#d95f02", "Interest": "#7570b3"},
    post_process=_unit_axes("Adler–Barnett conditions among members"),
)
TRUST_PLOT = make_plot_component(
    {"TrustMean": "#08519c", "TrustMin": "#6baed6", "Peace": "#31a354"},
    post_process=_unit_axes("Member trust (mean, min) and peaceful-change expectation"),
)
COMPONENTS = [(StatusPanel, 0), (TrustNetwork, 0), CONDITIONS_PLOT, TRUST_PLOT]


@solara.component
def Page():
    """The page ``solara run sim/app.py`` serves: one model per browser session."""
    model = solara.use_memo(lambda: RegionalAlignmentModel(rng=0), [])
    SolaraViz(model, components=COMPONENTS, model_params=model_params(), name=TITLE)
