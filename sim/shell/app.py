"""Interactive exploration in the browser: a Mesa ``SolaraViz`` page for the model.

Run it with the ``viz`` extra installed::

    pip install -e '.[viz]'
    solara run sim/shell/app.py          # then open http://localhost:8765

The page builds :class:`sim.shell.model.RegionalAlignmentModel` (the same core as the
CLI; nothing here steps any dynamics) and shows, updated at every step:

- the year, the community phase (Adler & Barnett 1998), the scenario with its
  full description and the main indices;
- the trust network: one node per state (size by capability) on a schematic
  map, an edge where trust ``T_ij >= phase.bloc_trust`` (width by trust),
  nodes coloured by their level in the community institution or by trust bloc;
- every state's level in every institution and its posture toward each great
  power (a compact table that fits its panel);
- the three Adler-Barnett conditions and member trust against the year, from
  the model's DataCollector; at step 0 the starting values are drawn as points
  on an axis spanning the scenario's years.

Colours and names (phases, levels, postures, metrics, blocs) are those of the
report (:mod:`sim.report.colors`), and blocs are those of the ``blocs`` column
and the report's network figure (:func:`sim.core.metrics.bloc_labels`).

The sidebar has the scenario picker (every ``conf/scenario/*.yaml``), the seed
and sliders for the main great-power pressure and identity parameters; press
*Reset* to rebuild the model with them. Seed ``s`` runs replicate 0 of master
seed ``s``, the same stream as ``python -m sim seed=s``.

Works with Mesa 3.3 and 3.5 (their ``SolaraViz`` differ in how they rebuild
the model; ``RegionalAlignmentModel.__init__`` accepts both). The plotting and
table helpers (:func:`network_figure`, :func:`conditions_figure`,
:func:`membership_rows`, ...) are plain functions, so they are tested without a
browser; ``scripts/screenshot.py app`` takes the README's screenshot the way the
browser test drives the page.
"""

from __future__ import annotations

import html
import io
import json
import math
import re
import sys
from pathlib import Path

# `solara run sim/shell/app.py` runs this file as a script with sim/ itself first on sys.path, where
# sim/engine/io.py, sim/engine/tables.py, ... would shadow top-level modules of the same names: take it off.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if not p or Path(p).resolve() != _HERE]

import matplotlib as mpl  # noqa: E402
import numpy as np  # noqa: E402
import solara  # noqa: E402
from matplotlib.colors import rgb_to_hsv, to_rgb  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import FancyArrowPatch, Patch  # noqa: E402
from mesa.visualization import SolaraViz  # noqa: E402
from mesa.visualization.utils import update_counter  # noqa: E402

from sim.core.metrics import bloc_labels  # noqa: E402
from sim.core.vocab import PHASES  # noqa: E402
from sim.shell.model import MODEL_REPORTERS, RegionalAlignmentModel  # noqa: E402
from sim.core.params import RANGES, Params  # noqa: E402
from sim.report.colors import (BLOC_COLORS, LEVEL_COLORS, LEVEL_LETTERS, LEVEL_TEXT, METRIC_COLORS,  # noqa: E402
                               METRIC_NAMES, NO_BLOC, PHASE_COLORS, PHASE_TEXT, POSTURE_LETTERS, POSTURE_LIGHT)
from sim.report.data import bloc_color_index  # noqa: E402
from sim.core.scenario import SCENARIO_DIR  # noqa: E402

TITLE = "Turkic security community: regional alignment under great-power pressure"

#: The sliders: model keyword -> (label, step). Defaults and ranges come from :class:`sim.core.params.Params`
#: (:data:`sim.core.params.RANGES`, the fields' metadata).
SLIDERS = {
    "pressure__intensity": ("Pressure intensity", 0.05),
    "pressure__reaction": ("Pressure reaction", 0.1),
    "identity__confidence": ("Confidence bound ε", 0.05),
    "identity__convergence": ("Convergence μ", 0.01),
    "interaction__temptation": ("Wedge temptation", 0.25),
}

#: Schematic map positions (roughly longitude, latitude of the capital) for the Turkic world's states,
#: moved apart where capitals are too close for their nodes (Yerevan, Baku, Tashkent, Dushanbe, Bishkek),
#: and Seoul drawn pulled in west of Central Asia (at 86°E) so the map stays readable.
CAPITALS = {
    "TUR": (32.9, 39.9), "AZE": (51.0, 39.6), "KAZ": (71.4, 50.6), "KGZ": (78.5, 43.6),
    "UZB": (67.2, 43.6), "TKM": (58.4, 36.6), "HUN": (19.0, 47.5), "TRNC": (30.5, 33.8),
    "ARM": (43.0, 44.4), "TJK": (70.5, 35.6), "KOR": (88.0, 38.0),
}

COLOUR_MODES = ("community level", "trust bloc")
#: The plotted reporters of the model's DataCollector: metric key (sim.core.metrics) -> column name.
REPORTER = {key: name for name, key in MODEL_REPORTERS.items()}
CONDITIONS = ("identity", "interaction", "interest")
TRUST = ("trust_mean", "trust_min", "peace")
LINE_STYLES = {"identity": "-", "interaction": "--", "interest": ":", "trust_mean": "-", "trust_min": "--",
               "peace": "-."}
#: Markers (shape, hollow) so that series with the same value, e.g. at step 0, stay visible on top of each other.
MARKERS = {"identity": ("o", False), "interaction": ("s", True), "interest": ("^", False),
           "trust_mean": ("o", False), "trust_min": ("s", True), "peace": ("^", False)}


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
    for key, (label, step) in SLIDERS.items():
        group, name = key.split("__")
        lo, hi = RANGES[f"{group}.{name}"]
        out[key] = {"type": "SliderFloat", "value": float(getattr(getattr(defaults, group), name)),
                    "min": float(lo), "max": float(hi), "step": step, "label": label}
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

    Trust is symmetric in the core (``sim.core.dynamics.State.trust``), so T_ij = T_ji.
    """
    thr = model.params.phase.bloc_trust if threshold is None else threshold
    trust = model.state.trust[0]
    codes = model.world.codes
    n = len(codes)
    return [(codes[i], codes[j], float(trust[i, j])) for i in range(n) for j in range(i + 1, n)
            if trust[i, j] >= thr]


def trust_blocs(model, threshold: float | None = None) -> dict[str, str]:
    """Bloc of each state: :func:`sim.core.metrics.bloc_labels` of the trust graph (default threshold
    ``phase.bloc_trust``; the rule of the ``blocs`` column), named after its most capable member; "" for none."""
    w = model.world
    thr = model.params.phase.bloc_trust if threshold is None else threshold
    heads = bloc_labels(model.state.trust[0], thr, w.capability)
    return {c: w.codes[h] if h >= 0 else "" for c, h in zip(w.codes, heads)}


def bloc_colour(anchor: str, codes) -> str:
    """The colour of the bloc named ``anchor``: the same in the report's network figure."""
    return BLOC_COLORS[bloc_color_index(anchor, codes) % len(BLOC_COLORS)] if anchor else NO_BLOC


def membership_rows(model) -> list[dict[str, str]]:
    """One row per state: name, level in every institution, posture toward every great power."""
    rows = []
    for agent in model.state_agents:
        row = {"State": agent.code, "Name": agent.name}
        row.update({inst: level.label for inst, level in agent.memberships.items()})
        row.update({gp: p.label for gp, p in agent.posture.items()})
        rows.append(row)
    return rows


def _end_year(model) -> float:
    s = model.context.schedule
    return float(s.start_year) + float(s.steps) / float(s.steps_per_year)


def status(model) -> dict[str, object]:
    """What the header shows: year, phase, step, scenario, the main indices and the page's parameters.

    ``peace`` and ``trust_mean`` are None while the community has fewer than two members (no pair to
    measure: not 0).
    """
    m = {k: float(v[0]) for k, v in model.metrics.items()}
    year = float(model.year)
    params = {}
    for key in SLIDERS:
        group, name = key.split("__")
        params[key] = float(getattr(getattr(model.params, group), name))
    members = int(m["members"])
    return {
        "year": int(year) if year.is_integer() else round(year, 2),
        "phase": model.phase, "step": int(model.state.step), "steps": int(model.context.schedule.steps),
        "scenario": model.regional_scenario.name, "description": model.regional_scenario.description,
        "seed": int(model.seed), "params": params,
        "members": members, "trust_mean": m["trust_mean"] if members >= 2 else None,
        "peace": m["peace"] if members >= 2 else None,
        "depth": m["depth"], "incidents": int(m["incidents"]), "blocs": int(m["blocs"]),
        "running": bool(model.running),
    }


def series(model, keys) -> dict[str, np.ndarray]:
    """Year and the given metrics per step so far, from the model's DataCollector (columns read by name).

    Every metric among the community's members (the conditions, member trust, peace) is NaN at steps with
    fewer than two members: there is no pair to measure, which is not a value of 0.
    """
    df = model.datacollector.get_model_vars_dataframe()
    out = {"year": df[REPORTER["year"]].to_numpy(float) if REPORTER.get("year") in df
           else model.context.schedule.start_year + np.arange(len(df)) / model.context.schedule.steps_per_year}
    for k in keys:
        col = REPORTER.get(k)
        if col in df:
            v = df[col].to_numpy(float).copy()
            if REPORTER.get("members") in df:
                v[df[REPORTER["members"]].to_numpy(float) < 2] = np.nan
            out[k] = v
    return out


# ---------------------------------------------------------------- drawing


def network_figure(model, colour_by: str = COLOUR_MODES[0]) -> Figure:
    """The trust network as a matplotlib Figure (no pyplot, so safe in the server's threads)."""
    world = model.world
    codes = world.codes
    pos = positions(codes)
    thr = model.params.phase.bloc_trust
    community = world.institutions[world.community]

    fig = Figure(figsize=(6.4, 3.9), dpi=110, layout="constrained")
    ax = fig.subplots()
    for a, b, t in trust_edges(model):
        x = (t - thr) / max(1 - thr, 1e-9)
        # slightly curved, so an edge does not run through a state lying between its ends
        ax.add_patch(FancyArrowPatch(pos[a], pos[b], arrowstyle="-", connectionstyle="arc3,rad=0.18",
                                     color="#404040", lw=0.6 + 5.0 * x, alpha=0.25 + 0.55 * x,
                                     shrinkA=0, shrinkB=0, zorder=1))

    if colour_by == COLOUR_MODES[1]:
        bloc = trust_blocs(model)
        colours = [bloc_colour(bloc[c], codes) for c in codes]
        anchors = sorted({b for b in bloc.values() if b}, key=codes.index)
        handles = [Patch(color=bloc_colour(b, codes), label=f"bloc of {b}: {sum(v == b for v in bloc.values())} "
                                                            "states") for b in anchors]
        handles.append(Patch(color=NO_BLOC, label="in no bloc"))
        legend_title = f"Trust blocs (T ≥ {thr:.2f})"
    else:
        levels = [a.community_level for a in model.state_agents]
        colours = [LEVEL_COLORS[lv] for lv in levels]
        handles = [Patch(color=LEVEL_COLORS[lv], label=lv) for lv in reversed(LEVEL_COLORS)]
        legend_title = f"{community} level"
    handles.append(Line2D([], [], color="#404040", lw=3, alpha=0.6, label=f"trust ≥ {thr:.2f}"))

    xy = np.array([pos[c] for c in codes])
    sizes = node_sizes(world)
    ax.scatter(xy[:, 0], xy[:, 1], s=sizes, c=colours, edgecolors="#202020", linewidths=0.8, zorder=2, clip_on=False)
    for (x, y), code, colour, size in zip(xy, codes, colours, sizes):
        radius = math.sqrt(size / math.pi)  # points
        if 2 * radius < 5.2 * len(code) + 4:  # the code does not fit inside its node: below it
            ax.annotate(code, (x, y), xytext=(0, -radius - 1), textcoords="offset points", ha="center", va="top",
                        fontsize=7.5, fontweight="bold", color="#111111", zorder=3, annotation_clip=False)
            continue
        dark = rgb_to_hsv(to_rgb(colour))[2] < 0.65
        ax.text(x, y, code, ha="center", va="center", fontsize=7.5, fontweight="bold",
                color="white" if dark else "#111111", zorder=3)

    ax.legend(handles=handles, title=legend_title, loc="lower left", fontsize=7, title_fontsize=8,
              frameon=True, framealpha=0.9)
    ax.set_title(f"Trust network, {status(model)['year']}  ·  node size: capability", fontsize=10)
    ax.margins(0.07, 0.12)
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    return fig


def node_sizes(world) -> np.ndarray:
    """Marker areas (points²) of the network's nodes: grow with the square root of capability."""
    return 300 + 1300 * np.sqrt(np.asarray(world.capability, dtype=float))


def year_ticks(start: float, end: float) -> list[int]:
    """The start year, then every 5th (10th for spans over 40 years) year up to the end."""
    step = 5 if end - start <= 40 else 10
    first = int(math.ceil(start / step) * step)
    ticks = [int(start)] + [y for y in range(first, int(end) + 1, step) if y - start >= step / 2]
    if end - ticks[-1] >= step / 2 and float(end).is_integer():
        ticks.append(int(end))
    return ticks


def _years_axis(ax, model) -> None:
    """The whole scenario span on the x axis, whatever the step: the year, never the step number."""
    start, end = float(model.context.schedule.start_year), _end_year(model)
    ax.set_xlim(start - 0.03 * (end - start) - 0.5, end + 0.03 * (end - start) + 0.5)
    ax.set_xticks(year_ticks(start, end))
    ax.set_xlabel("year")


def _lines_figure(model, keys, title: str) -> Figure:
    """The metrics ``keys`` against the year so far, points at every step (the starting values at step 0)."""
    s = series(model, keys)
    fig = Figure(figsize=(6.4, 3.6), dpi=100, layout="constrained")
    ax = fig.subplots()
    for k in keys:
        if k not in s:
            continue
        v = s[k]
        last = v[~np.isnan(v)][-1] if np.isfinite(v).any() else math.nan
        now = f" ({last:.2f})" if math.isfinite(last) else " (fewer than 2 members)"
        colour = METRIC_COLORS.get(k, "#555555")
        marker, hollow = MARKERS.get(k, ("o", False))
        ax.plot(s["year"], v, color=colour, ls=LINE_STYLES.get(k, "-"), marker=marker, lw=1.8,
                ms=(4 if len(v) > 1 else 7) + (2 if hollow else 0), mfc="none" if hollow else colour, mew=1.4,
                label=METRIC_NAMES.get(k, k) + now)
    if not any(np.isfinite(s[k]).any() for k in keys if k in s):
        ax.text(0.5, 0.5, "no community yet: fewer than 2 members", transform=ax.transAxes, ha="center",
                va="center", fontsize=9, color="#666666")
    ax.set_title(title, fontsize=10)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("index (0–1)")
    ax.grid(alpha=0.3)
    _years_axis(ax, model)
    ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    return fig


def conditions_figure(model) -> Figure:
    """The three Adler-Barnett conditions among the community's members against the year."""
    return _lines_figure(model, CONDITIONS, "Adler–Barnett conditions among members")


def trust_figure(model) -> Figure:
    """Member trust (mean, lowest pair) and the peaceful-change expectation against the year."""
    return _lines_figure(model, TRUST, "Member trust and peaceful-change expectation")


def svg_html(fig: Figure, salt: str) -> str:
    """The figure as inline SVG with its text as text (so the year axis and the legend are in the page itself),
    scaled to the panel's width; ``salt`` keeps the element ids of two figures on one page apart."""
    buf = io.StringIO()
    with mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    return re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r'<svg\1 width="100%" style="height:auto"', text,
                  count=1)


# ---------------------------------------------------------------- components

PARAM_SYMBOLS = {"pressure__intensity": "pressure", "pressure__reaction": "reaction",
                 "identity__confidence": "ε", "identity__convergence": "μ", "interaction__temptation": "temptation"}

#: Page-wide CSS: Mesa 3.3's ComponentsView always draws a tab bar ("PAGE 0") even for one page: hide it.
PAGE_CSS = ".v-tabs:not(.sim-keep){display:none !important}"
_CSS = """<style>
.sim-panel{font-family:Roboto,sans-serif;color:#222;line-height:1.3;width:100%;box-sizing:border-box}
.sim-panel .head{font-size:18px;margin-bottom:2px}
.sim-panel .chip{border-radius:10px;padding:0 6px;margin-right:3px;font-size:11px;border:1px solid #bbb}
.sim-panel .line{font-size:12px}
.sim-panel .desc{font-size:12px;white-space:normal;overflow-wrap:anywhere}
.sim-panel .muted{color:#666}
.sim-panel table{border-collapse:collapse;font-size:11px;width:100%;table-layout:fixed;margin-top:3px}
.sim-panel th,.sim-panel td{border-bottom:1px solid #e6e6e6;padding:0 2px;line-height:1.4;text-align:center;
overflow:hidden;white-space:nowrap}
.sim-panel th{background:#f5f5f5;font-weight:600}
.sim-panel td.st,.sim-panel th.st{text-align:left;width:3.4em}
.sim-panel .key{font-size:10.5px;color:#555;margin-top:2px}
</style>"""


def _status_html(s: dict) -> str:
    chips = []
    reached = PHASES.index(s["phase"])
    for i, name in enumerate(PHASES):
        bg, fg = (PHASE_COLORS[name], PHASE_TEXT[name]) if i <= reached else ("#fafafa", "#aaa")
        border = "border:2px solid #111;" if i == reached else ""
        chips.append(f'<span class="chip" style="background:{bg};color:{fg};{border}">{name}</span>')
    end = " · <b>end of scenario</b>" if not s["running"] else ""
    params = " · ".join(f"{PARAM_SYMBOLS[k]} {v:g}" for k, v in s["params"].items())
    none = '<span title="fewer than two members: no pair to measure">{} –</span>'
    peace = f'peace {s["peace"]:.2f}' if s["peace"] is not None else none.format("peace")
    trust = f'member trust {s["trust_mean"]:.2f}' if s["trust_mean"] is not None else none.format("member trust")
    state = {k: s[k] for k in ("year", "phase", "step", "scenario", "seed", "members", "trust_mean", "peace", "depth",
                               "incidents", "blocs")}
    return (
        f'<div class="head"><span class="sim-year">Year {s["year"]}</span>'
        f' · phase <b class="sim-phase">{s["phase"]}</b></div>'
        f'<div>{"".join(chips)}</div>'
        f'<div class="line" style="margin-top:3px">Scenario <b>{html.escape(s["scenario"])}</b> · '
        f'step {s["step"]}/{s["steps"]}{end}</div>'
        f'<div class="desc muted sim-description">{html.escape(s["description"])}</div>'
        f'<div class="line">{s["members"]} members · {trust} · {peace} · '
        f'depth {s["depth"]:.2f} · incidents {s["incidents"]} · trust blocs {s["blocs"]}</div>'
        f'<div class="line muted">seed {s["seed"]} · {params}</div>'
        f'<span class="sim-state" style="display:none">{html.escape(json.dumps(state))}</span>'
    )


def _table_html(model) -> str:
    rows = membership_rows(model)
    insts = list(model.world.institutions)
    gps = list(model.world.gp_codes)
    community = insts[model.world.community]
    head = "".join(['<th class="st">State</th>', *(f"<th>{h}</th>" for h in insts),
                    *(f'<th title="posture toward {g}">→{g}</th>' for g in gps)])
    body = []
    for r in rows:
        cells = [f'<td class="st" title="{html.escape(r["Name"])}"><b>{r["State"]}</b></td>']
        for k in insts:
            lv = r[k]
            style = (f' style="background:{LEVEL_COLORS[lv]};color:{LEVEL_TEXT[lv]}"' if k == community else "")
            cells.append(f'<td{style} title="{lv}">{LEVEL_LETTERS[lv]}</td>')
        cells += [f'<td style="background:{POSTURE_LIGHT[r[g]]}" title="{r[g]}">{POSTURE_LETTERS[r[g]]}</td>'
                  for g in gps]
        body.append(f"<tr>{''.join(cells)}</tr>")
    key = (f"Level in each institution: M member, O observer, P partner, · none ({community} shaded). "
           "→: posture toward each great power: B balance, H hedge, W bandwagon.")
    return (f'<table class="sim-table"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
            f'<div class="key">{key}</div>')


@solara.component
def StatusPanel(model):
    """Year, phase, scenario, main indices, and the membership table."""
    update_counter.get()  # re-render after every step (Mesa bumps this counter)
    solara.Style(PAGE_CSS)
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


@solara.component
def ConditionsPlot(model):
    """The Adler–Barnett conditions against the year (the report's colours and names), as inline SVG."""
    update_counter.get()
    solara.HTML(tag="div", unsafe_innerHTML=svg_html(conditions_figure(model), "conditions"),
                classes=["sim-plot", "sim-conditions"])


@solara.component
def TrustPlot(model):
    """Member trust and peace against the year, as inline SVG."""
    update_counter.get()
    solara.HTML(tag="div", unsafe_innerHTML=svg_html(trust_figure(model), "trust"), classes=["sim-plot", "sim-trust"])


COMPONENTS = [(StatusPanel, 0), (TrustNetwork, 0), (ConditionsPlot, 0), (TrustPlot, 0)]


@solara.component
def Page():
    """The page ``solara run sim/shell/app.py`` serves: one model per browser session."""
    model = solara.use_memo(lambda: RegionalAlignmentModel(rng=0), [])
    SolaraViz(model, components=COMPONENTS, model_params=model_params(), name=TITLE)
