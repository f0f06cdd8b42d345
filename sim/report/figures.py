"""Run figures: the figures of a run directory, drawn by the report's data and plot functions.

One implementation of each figure (DESIGN.md §2 "The report"): the
``*_data()`` functions of :mod:`sim.report.data` (asserted exactly in
tests/test_report_data.py) and the thin drawing functions of
:mod:`sim.report.plots`, applied to one run's tables with the run's title as
the only group:

- conditions: the three Adler-Barnett conditions (Adler & Barnett 1998 p. 31)
  and member trust over time, replicate median with a 10-90% band, shaded by
  the median phase (DESIGN.md §3 "Outcomes");
- memberships: each state's level in the community institution over time and
  when it first joined (DOMAIN.md §6 "who joins, at what level");
- network: the trust network at chosen years (links where mean trust is at
  least the run's ``phase.bloc_trust``, nodes sized by capability, coloured by
  trust bloc: :func:`sim.core.metrics.bloc_labels`, the rule of the ``blocs``
  column, named after their most capable member; states on a fixed circle in
  world order).

Colours and names are those of the report and the browser page
(:mod:`sim.report.colors`); the full report of the run (headline table with
intervals, all figures) is ``report/report.html``, written by ``python -m sim``
unless ``report=false``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..core.params import Params
from ..core.world import World
from ..engine.io import write_figure_atomic


def write_run_figures(tables: dict[str, pd.DataFrame], world: World, out_dir: str | Path, title: str,
                      network_years=(), seed: int = 0, params: Params | None = None) -> list[Path]:
    """Draw conditions.png, memberships.png and network.png into ``out_dir`` (atomic writes).

    The network's links and blocs use the run's ``params.phase.bloc_trust`` (the default parameters'
    when ``params`` is None).
    """
    from . import data as D
    from . import plots as P

    out_dir = Path(out_dir)
    community = world.institutions[world.community]
    t = {name: df.assign(label=title) for name, df in tables.items()}
    capability = dict(zip(world.codes, map(float, world.capability)))
    threshold = (params if params is not None else Params()).phase.bloc_trust
    with P.style():
        figs = {
            "conditions": P.plot_conditions(D.conditions_data(t["timeseries"])),
            "memberships": P.plot_membership_timeline(
                D.membership_timeline_data(t["agents"], t["events"], community), community),
            "network": P.plot_network(D.network_data(t["pairs"], list(network_years) or None, capability,
                                                     threshold=threshold, seed=seed), seed=seed),
        }
        return [write_figure_atomic(fig, out_dir / f"{name}.png") for name, fig in figs.items()]
