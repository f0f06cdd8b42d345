"""One colour map and one set of human names, shared by the report (:mod:`sim.report.plots`) and the page (sim/shell/app.py).

A phase, a membership level, a posture or a metric has the same colour and
the same name in every figure of a report and on the browser page, so a
reader who learns them once can read both. Nothing here imports matplotlib or
solara: plain hex strings and dicts.

* :data:`PHASE_COLORS`: a light sequential ramp none → mature-tight (light
  enough to shade a plot's background behind lines);
* :data:`LEVEL_COLORS`: none → member, light grey to dark blue (the order of
  :class:`sim.core.vocab.Level`), and :data:`LEVEL_LETTERS` for table cells;
* :data:`POSTURE_COLORS`: balance (orange-brown) ↔ hedge (grey) ↔ bandwagon
  (purple), the ends of the diverging map of the posture figure;
* :data:`METRIC_COLORS` / :data:`METRIC_NAMES`: the Adler–Barnett conditions,
  member trust and peace, keyed by the metric names of :func:`sim.core.metrics.measure`;
* :data:`GROUP_COLORS` / :data:`GROUP_STYLES`: scenarios or design points in a
  shared panel (colour-blind-safe Okabe–Ito colours, each with its own line
  style and marker so that identical curves stay distinguishable);
* :data:`BLOC_COLORS`: trust blocs.

Every phase, level and posture dict is keyed by the names of :mod:`sim.core.vocab`
(the ``Phase``, ``Level`` and ``Posture`` labels), in their code order.
"""

from __future__ import annotations

from ..core.vocab import LEVELS, PHASES, POSTURE_NAMES, POSTURES

PHASE_COLORS = dict(zip(PHASES, ("#f0f0f0", "#fde9a9", "#b7e1a1", "#7fb8dc", "#2c6fb0")))
#: Text colour that reads on each phase colour.
PHASE_TEXT = dict(zip(PHASES, ("#222222", "#222222", "#222222", "#111111", "#ffffff")))
LEVEL_COLORS = dict(zip(LEVELS, ("#e0e0e0", "#c6dbef", "#6baed6", "#08519c")))
LEVEL_TEXT = dict(zip(LEVELS, ("#222222", "#222222", "#111111", "#ffffff")))
#: One-letter level names for table cells (the page's membership table).
LEVEL_LETTERS = dict(zip(LEVELS, ("·", "P", "O", "M")))
# POSTURE_NAMES (code -> name, as stored in agents.parquet ``posture_<GP>``) is sim.core.vocab's, re-exported.
POSTURE_LETTERS = dict(zip(POSTURES, ("B", "H", "W")))
POSTURE_COLORS = dict(zip(POSTURES, ("#b35806", "#f2f2f2", "#542788")))
#: Light versions for table cells (text stays black on them).
POSTURE_LIGHT = dict(zip(POSTURES, ("#fdd9b1", "#f2f2f2", "#d8d0ea")))

METRIC_COLORS = {"identity": "#d95f02", "interaction": "#1b9e77", "interest": "#7570b3",
                 "trust_mean": "#222222", "trust_min": "#888888", "peace": "#2c7fb8", "depth": "#a6761d"}
METRIC_NAMES = {"identity": "shared identity", "interaction": "interaction", "interest": "mutual interest",
                "trust_mean": "member trust (mean)", "trust_min": "member trust (lowest pair)",
                "peace": "peaceful-change expectation", "depth": "institutional depth"}

GROUP_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
GROUP_STYLES = (("-", "o"), ("--", "s"), (":", "^"), ("-.", "D"), ((0, (5, 1.5, 1, 1.5, 1, 1.5)), "v"),
                ((0, (1, 1)), "P"), ((0, (6, 2)), "X"), ((0, (3, 1, 1, 1)), "*"))
BLOC_COLORS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#17becf")
NO_BLOC = "#c8c8c8"


def group_style(k: int) -> dict:
    """Colour, line style and marker of the k-th group (cycling)."""
    ls, marker = GROUP_STYLES[k % len(GROUP_STYLES)]
    return {"color": GROUP_COLORS[k % len(GROUP_COLORS)], "linestyle": ls, "marker": marker}


__all__ = ["BLOC_COLORS", "GROUP_COLORS", "GROUP_STYLES", "LEVEL_COLORS", "LEVEL_LETTERS", "LEVEL_TEXT", "METRIC_COLORS",
           "METRIC_NAMES", "NO_BLOC", "PHASE_COLORS", "PHASE_TEXT", "POSTURE_COLORS", "POSTURE_LETTERS",
           "POSTURE_LIGHT", "POSTURE_NAMES", "group_style"]
