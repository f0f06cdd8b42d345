"""Aggregate and plotted result reports: ``python -m sim.report DIR [DIR ...]`` (console script ``sim-report``).

Reads a single run directory, a Hydra multirun directory, a batch-engine
experiment directory or merged shards (docs/DATA.md; :mod:`sim.report.load`)
and writes, into ``DIR/report/`` (or ``--out``), without touching the inputs:

* ``results.parquet`` and ``results.csv``: the tidy table, one row per point x
  replicate, failed and incomplete jobs included with their error;
* ``headline.csv``: the headline table (every main outcome per group with its
  95% interval, and the paired contrast to the reference group);
* ``phase_counts.csv``, ``failed.csv``: the summary tables of the page;
* ``figures/<name>.png`` and ``.pdf``: the figures (:mod:`sim.report.plots`,
  numbers from :mod:`sim.report.data`);
* ``report.html``: one self-contained page (figures as base64 PNG, inline CSS,
  no external reference): the research question, the headline table, the
  exact command, the figures with captions, the tables, the config, the
  package version and the date.

The report directory is built under a temporary name beside its destination
and renamed into place at the end, so a killed report never leaves a
half-written ``report/`` that looks complete; each file inside is written
with the atomic writers of :mod:`sim.engine.io`. A figure whose inputs are absent is
skipped with a one-line note; it never stops the report.

Library use: :func:`make_report` (returns a :class:`Report`), or
:func:`load_dirs` (= :func:`sim.report.load.load`) plus the ``*_data`` / ``plot_*`` functions.
"""

from __future__ import annotations

import io
import os
import shlex
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import yaml

from ..engine.io import write_atomic, write_text_atomic
from ..core.metrics import PHASES
from . import data as D
from . import plots as P
from .load import ReportError, Study, short_name
from .load import load as load_dirs

FIGURE_NAMES = ("conditions", "phase_probability", "time_to_phase", "phase_diagram", "memberships", "network",
                "postures", "sensitivity")


@dataclass
class FigureResult:
    """One figure of the report: drawn (``png`` bytes) or skipped (``note``)."""

    name: str
    title: str
    caption: str = ""
    png: bytes | None = None
    note: str = ""
    data: object = None
    files: list[str] = field(default_factory=list)

    @property
    def drawn(self) -> bool:
        return self.png is not None


@dataclass
class Report:
    """What :func:`make_report` produced."""

    out: Path
    study: Study
    figures: list[FigureResult]
    tables: dict[str, pd.DataFrame]
    seconds: float = 0.0


@dataclass
class Options:
    """Report choices (all have defaults; the CLI exposes them)."""

    outcome: tuple[str, ...] = D.MATURE  # phases counted as "mature" in the phase diagram and P(mature)
    institution: str | None = None  # membership figure; default: the world's community institution
    years: tuple[float, ...] = ()  # network years; default: first, middle and last checkpoint
    max_groups: int = 4  # groups drawn in the time-series, membership, network and posture figures
    pdf: bool = True  # also write each figure as PDF
    seed: int = 0  # seed of every bootstrap interval (headline, medians, sensitivity)
    threshold: float | None = None  # network link threshold; default: params.phase.bloc_trust (0.5)
    reference: str | None = None  # group (label or scenario) the contrasts compare with; default: base point or first
    headline_rows: int = 30  # more groups than this: the headline table shows the selected ones (all in the CSV)


def _png_pdf(fig, pdf: bool) -> tuple[bytes, bytes | None]:
    with P.style():
        buf = io.BytesIO()
        fig.savefig(buf, format="png", metadata={"Software": None})
        png = buf.getvalue()
        pdf_bytes = None
        if pdf:
            buf = io.BytesIO()
            fig.savefig(buf, format="pdf", metadata={"Creator": None, "Producer": None, "CreationDate": None})
            pdf_bytes = buf.getvalue()
    return png, pdf_bytes


def _draw(name: str, title: str, build: Callable[[], tuple[object, Callable, str]], pdf: bool,
          store: dict) -> FigureResult:
    """Run a figure's data function and drawing function; a Skip (or any error) becomes a note."""
    res = FigureResult(name=name, title=title)
    try:
        with P.style():
            data, draw, caption = build()
            fig = draw(data)
        res.data, res.caption = data, caption
        res.png, store[name] = _png_pdf(fig, pdf)
    except D.Skip as exc:
        res.note = str(exc)
    except Exception as exc:  # noqa: BLE001 - a broken figure must never stop the report
        res.note = f"could not be drawn ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"
    return res


def _threshold(study: Study, opt: Options) -> float:
    if opt.threshold is not None:
        return opt.threshold
    for job in study.jobs:
        try:
            return float(job.config["params"]["phase"]["bloc_trust"])
        except (TypeError, KeyError, ValueError):
            continue
    return 0.5


def _institution(study: Study, opt: Options) -> str | None:
    if opt.institution:
        return opt.institution
    w = study.world
    levels = study.matching("level_")
    if w is not None and any(c.startswith(f"level_{w.institutions[w.community]}_") for c in levels):
        return w.institutions[w.community]
    if w is not None and not levels:
        return w.institutions[w.community]
    return levels[0].split("_")[1] if levels else None


def _config_value(cfg: dict | None, path: str):
    node = cfg
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def research_question(study: Study) -> str:
    """The research question the inputs state: ``question:`` of the run's config, else of its experiment, else ""."""
    for job in study.jobs:
        for key in ("question", "experiment.question"):
            q = _config_value(job.config, key)
            if isinstance(q, str) and q.strip():
                return q.strip()
    q = (study.experiment or {}).get("question")
    return q.strip() if isinstance(q, str) else ""


def scenario_context(study: Study) -> list[tuple[str, str]]:
    """(scenario, description) of every scenario in the inputs, in order of appearance."""
    seen: dict[str, str] = {}
    for job in study.jobs:
        if job.scenario and job.scenario not in seen:
            seen[job.scenario] = job.scenario_description
    return list(seen.items())


def _hydra_overrides(path: Path) -> tuple[list[str], list[str]] | None:
    try:
        node = yaml.safe_load(path.read_text(encoding="utf-8"))["hydra"]["overrides"]
        return [str(o) for o in node.get("task") or []], [str(o) for o in node.get("hydra") or []]
    except (OSError, yaml.YAMLError, UnicodeDecodeError, TypeError, KeyError, AttributeError):
        return None


def _command(task: list[str], hydra: list[str], multirun: bool) -> str:
    # hydra.mode is Hydra's own; exclude_keys is what sim.face.hydra_callbacks.SweepFolders adds (folder names only)
    extra = [o for o in hydra if not o.startswith(("hydra.mode=", "hydra.job.config.override_dirname.exclude_keys="))]
    return " ".join(["python -m sim" + (" -m" if multirun else "")] + [shlex.quote(o) for o in task + extra])


def exact_commands(study: Study) -> tuple[list[str], list[str]]:
    """The commands that made the inputs, with the Hydra overrides they were run with (``hydra.sweep.dir=``...).

    From ``multirun.yaml`` (a multirun: one command) or each job's
    ``.hydra/hydra.yaml`` (task and hydra overrides as Hydra recorded them),
    else what the summaries and experiment.json say. Returns the commands and
    notes (where the output folder was not given on the command line, or the
    overrides were not recorded).
    """
    cmds, notes = [], []
    for root in study.roots:
        ov = _hydra_overrides(root / "multirun.yaml")
        if ov is not None:
            cmds.append(_command(*ov, multirun=True))
            if not any(o.startswith("hydra.sweep.dir=") for o in ov[1]):
                try:
                    sweep = yaml.safe_load((root / "multirun.yaml").read_text())["hydra"]["sweep"]["dir"]
                except Exception:  # noqa: BLE001
                    sweep = None
                notes.append(f"run without hydra.sweep.dir= (Hydra's default folder{': ' + str(sweep) if sweep else ''})")
    if not cmds:
        for job in study.jobs:
            ov = _hydra_overrides(job.path / ".hydra" / "hydra.yaml")
            if ov is not None:
                cmd = _command(*ov, multirun=False)
            else:
                cmd = (job.summary or {}).get("command") or (job.experiment or {}).get("command")
                if cmd:
                    notes.append(f"{job.name}: the Hydra overrides were not recorded (.hydra/hydra.yaml missing); "
                                 "the command is the one the run stored")
            if cmd and cmd not in cmds:
                cmds.append(str(cmd))
            if len(cmds) >= 20:
                break
    if not cmds:
        cmds = list(study.commands)
    return cmds, notes


def _base_point(study: Study, res: pd.DataFrame) -> str | None:
    """The design's base point (the factors at the values of the experiment's own config), if any."""
    if not study.experiment or not study.factors:
        return None
    cfg = next((j.config for j in study.jobs if j.config), None)
    return D.base_point_label(res, study.factors, cfg)


def choose_reference(study: Study, res: pd.DataFrame, requested: str | None) -> str | None:
    """The reference group of the contrasts (see :func:`sim.report.data.pick_reference`); ReportError if unknown."""
    try:
        return D.pick_reference(res, requested, base=_base_point(study, res))
    except ValueError as exc:
        raise ReportError(str(exc)) from None


def _n_text(counts: pd.Series) -> str:
    """'n = 30 finished replicates per group' or 'n = 28–30 ...'."""
    if counts.empty:
        return "no finished replicates"
    lo, hi = int(counts.min()), int(counts.max())
    what = "per group" if len(counts) > 1 else ""
    return f"n = {lo if lo == hi else f'{lo}–{hi}'} finished replicates {what}".strip()


def _wilson_note(n: int) -> str:
    if n <= 0:
        return ""
    lo, hi = D.wilson_interval(n, n)
    return (f" With n = {n}, a share of 0 has the 95% interval [0, {1 - lo:.2f}] and a share of 1 "
            f"[{lo:.2f}, 1].")


def build_figures(study: Study, opt: Options | None = None, reference: str | None = None,
                  res: pd.DataFrame | None = None) -> tuple[list[FigureResult], dict]:
    """Every figure of the report for ``study`` (drawn or skipped with a note); returns them and the PDFs."""
    opt = opt or Options()
    pdfs: dict[str, bytes] = {}
    out = []
    inst = _institution(study, opt)
    if res is None:
        need = ["source", "job", "point", "replicate", "seed", "status", "error", "label", "scenario", "start_year",
                "phase_reached", "final_trust_mean", *study.factors, *study.matching("first_year_")]
        if inst:
            need += study.matching(f"level_{inst}_")
        res = study.frame(need)
    ok = D.ok_rows(res)
    n_bad = int((res["status"] != "ok").sum()) if len(res) else 0
    bad_note = f" {n_bad} failed or incomplete row(s) are left out (listed below)." if n_bad else ""
    if reference is None and len(ok):
        reference = choose_reference(study, res, opt.reference)
    why = D.select_groups(res, opt.max_groups, outcome=opt.outcome, reference=reference,
                          institution=inst) if len(ok) else {}
    shown = list(why)
    n_groups = ok["label"].nunique() if len(ok) else 0
    per_group = ok.groupby("label").size() if len(ok) else pd.Series(dtype=int)
    n_shown = _n_text(per_group.reindex(shown).dropna()) if shown else ""
    chosen = (f" {len(shown)} of {n_groups} groups shown: "
              + "; ".join(f"{g} ({r})" for g, r in why.items())
              + " (the reference, the extremes, those whose memberships differ, then evenly spread; "
                "--max-groups shows more)." if n_groups > len(shown) else "")
    run_jobs = study.run_jobs()
    codes = study.world.codes if study.world is not None else None

    # 1. conditions over time
    def conditions():
        metrics = list(D.CONDITION_METRICS)
        if run_jobs:
            ts = study.read_job_table("timeseries", ["replicate", "year", *metrics, "phase"],
                                      required=("replicate", "year"))
            if ts is None:
                raise D.Skip("no readable timeseries.parquet in any finished job")
            d = D.conditions_data(ts, groups=[g for g in shown if g in set(ts["label"])] or None, seed=opt.seed)
            n = ts.groupby("label")["replicate"].nunique()
            n = n.reindex([g for g in shown if g in n.index]) if shown else n
            src = (f"across replicates ({_n_text(n)}); darker band: 95% percentile-bootstrap interval of the "
                   f"median (1,000 resamples of whole replicates, seed {opt.seed})")
        else:
            agg = study.aggregates([*metrics, "phase"], labels=shown or None)
            if agg is None:
                raise D.Skip("no aggregates.parquet (the experiment was run without timeseries aggregates)")
            d = D.conditions_from_aggregates(agg, groups=[g for g in shown if g in set(agg["label"])] or None)
            src = (f"across replicates (the experiment's aggregates.parquet q10/q50/q90; {n_shown}; no interval "
                   "of the median: the aggregates keep no replicate)")
        cap = ("The three Adler–Barnett conditions (shared identity, interaction, mutual interest) and mean "
               "member trust of the community institution, each an index in [0, 1], per year: median (line) and "
               f"10–90% spread (light band) {src}. Background: the median phase across replicates.{chosen}{bad_note}")
        return d, P.plot_conditions, cap

    out.append(_draw("conditions", "Conditions and trust over time", conditions, opt.pdf, pdfs))

    # 2. phase-reached probabilities
    def probability():
        factor = study.numeric_factors[0] if study.numeric_factors else None
        d = D.phase_probability_data(res, factor=factor)
        grouping = "per group" if d.index.equals(pd.Index(pd.unique(ok["label"]))) else \
            f"per bin of {short_name(factor)} (too many points to list)"
        cap = ("Probability of each highest phase reached by the end (none → nascent → ascendant → mature-loose → "
               f"mature-tight) {grouping}: share of finished replicates ({_n_text(d['n'])}, right). Whiskers: 95% "
               "Wilson score interval of each cumulative share P(highest phase ≥ p), drawn at the boundary "
               f"between segments.{_wilson_note(int(d['n'].min()) if len(d) else 0)}{bad_note}")
        return d, P.plot_phase_probability, cap

    out.append(_draw("phase_probability", "Phase reached", probability, opt.pdf, pdfs))

    # 3. time to phase
    def time_to_phase():
        sub = res[res["label"].isin(shown)] if shown else res
        d = D.time_to_phase_data(sub)
        s = d["summary"]
        held = [p for p in pd.unique(s["phase"])
                if len(e := d["ecdf"][d["ecdf"]["phase"] == p])
                and (e[e["years"] <= 0].groupby("group")["probability"].max()
                     .reindex(pd.unique(s["group"])).fillna(0) >= 1).all()]
        held_note = (f" Not drawn: {', '.join(held)}, held by every replicate from the start." if held else "")
        cap = ("Time to each phase: the share of finished replicates that had first reached the phase (or a "
               "higher one) within the given number of years since the scenario's start year (ECDF; a curve "
               "ending below 1 means some replicates never reached the phase), per group "
               f"({_n_text(s.groupby('group')['n'].first())}). Whiskers at the right: the 95% Wilson interval of "
               "the share reached by the end. Curves of different groups are offset by up to ±0.3 years so that "
               f"identical curves stay visible.{held_note}{chosen}{bad_note}")
        return d, lambda x: P.plot_time_to_phase(x, horizon=study.span_years), cap

    out.append(_draw("time_to_phase", "Time to phase", time_to_phase, opt.pdf, pdfs))

    # 4. phase diagram
    def diagram():
        nf = study.numeric_factors
        if len(nf) < 2:
            raise D.Skip(f"needs two or more numeric swept parameters (this study has {len(nf)})")
        d = D.phase_diagram_data(res, nf[0], nf[1], outcome=opt.outcome)
        others = [short_name(f) for f in nf[2:]]
        how = ("each cell a design value pair" if d["kind"] == "grid"
               else "points binned into an equal-width grid, value = bin centre")
        cells = d["z"].size
        ns = d["n"][d["n"] > 0]
        ncell = f"n = {int(ns.min())}–{int(ns.max())}" if len(ns) and ns.min() != ns.max() else \
            f"n = {int(ns.max()) if len(ns) else 0}"
        ci = ("each cell: the share and its 95% Wilson interval" if cells <= 36 else
              f"95% Wilson half-width at most {np.nanmax((d['hi'] - d['lo']) / 2):.2f}" if np.isfinite(d["hi"]).any()
              else "")
        cap = (f"Phase diagram: {d['outcome']} (share of finished replicates whose highest phase is "
               f"{' or '.join(opt.outcome)}) over {short_name(nf[0])} and {short_name(nf[1])} ({how}"
               + (f"; averaged over {', '.join(others)}" if others else "")
               + f"; {ncell} finished replicates per cell; {ci}). Contours at 0.25, 0.5, 0.75.{bad_note}")
        return d, P.plot_phase_diagram, cap

    out.append(_draw("phase_diagram", "Phase diagram", diagram, opt.pdf, pdfs))

    # 5. memberships
    def memberships():
        if not inst:
            raise D.Skip("no institution levels in the data")
        if run_jobs:
            ag = study.read_job_table("agents", ["replicate", "year", "state", f"level_{inst}"],
                                      required=("replicate", "year", "state", f"level_{inst}"))
            if ag is not None:
                ev = study.read_job_table("events", ["replicate", "year", "type", "a", "b"],
                                          required=("replicate", "year", "type", "a", "b"))
                d = D.membership_timeline_data(ag, ev, inst, groups=[g for g in shown if g in set(ag["label"])] or None)
                ev_note = "" if ev is not None else " (events.parquet unavailable: no join markers)"
                n = ag.groupby("label")["replicate"].nunique()
                cap = (f"Membership in {inst} over time: colour = mean level across replicates (none 0, partner 1, "
                       f"observer 2, member 3) per state and year ({_n_text(n.reindex(d['levels']['group'].unique()))}"
                       f"); ▼ = median year of a state's first join into {inst} (or move up a level), with the share "
                       f"of replicates in which it joined and its 95% Wilson interval{ev_note}.{chosen}{bad_note}")
                return d, lambda x: P.plot_membership_timeline(x, inst), cap
        sub = res[res["label"].isin(shown)] if shown else res
        d = D.membership_final_data(sub, inst, codes=codes, by="label" if len(shown) > 1 else None)
        cap = (f"Membership in {inst} at the end of the run: share of finished replicates ending at each level "
               f"(none, partner, observer, member), per state{' and group' if len(shown) > 1 else ''} "
               f"({n_shown or _n_text(d['n'])}). Whiskers: 95% Wilson interval of each cumulative share "
               f"P(level ≥ l).{chosen}{bad_note}")
        return d, lambda x: P.plot_membership_final(x, inst), cap

    out.append(_draw("memberships", "Memberships", memberships, opt.pdf, pdfs))

    # 6. network
    thr = _threshold(study, opt)

    def network():
        if not run_jobs:
            raise D.Skip("needs pairs.parquet of run directories (an experiment records no pairs)")
        pr = study.read_job_table("pairs", ["replicate", "year", "a", "b", "trust"],
                                  required=("replicate", "year", "a", "b", "trust"))
        if pr is None:
            raise D.Skip("no readable pairs.parquet in any finished job")
        states = pd.unique(pd.concat([pr["a"], pr["b"]]))
        w = study.world_for(states)
        cap_map = dict(zip(w.codes, map(float, w.capability))) if w is not None else None
        groups = [g for g in shown if g in set(pr["label"])][: min(opt.max_groups, 3)] or None
        d = D.network_data(pr, opt.years or None, cap_map, threshold=thr, seed=opt.seed, groups=groups)
        n = pr.groupby("label")["replicate"].nunique().reindex(d["groups"])
        size = "capability share (world data)" if w is not None else "equal (world unknown)"
        more = (f" Groups shown: {', '.join(map(str, d['groups']))} (at most 3)." if n_groups > len(d["groups"])
                else "")
        cap = (f"Trust network at years {', '.join(f'{y:g}' for y in d['years'])}: a link where the mean trust "
               f"across replicates ({_n_text(n)}) is at least {thr:g} (width grows with trust); node size = {size}; "
               f"colour = trust bloc: a connected group of two or more linked states (the rule of the `blocs` "
               f"column), named after its most capable member, the same colour in every panel; grey = in no bloc."
               f"{more}{bad_note}")
        return d, lambda x: P.plot_network(x, seed=opt.seed), cap

    out.append(_draw("network", "Trust network", network, opt.pdf, pdfs))

    # 7. postures
    def postures():
        if not run_jobs:
            raise D.Skip("needs agents.parquet of run directories (an experiment records no postures)")
        cols = ["replicate", "year", "state"]
        ag = study.read_job_table("agents", None, required=tuple(cols))
        if ag is None:
            raise D.Skip("no readable agents.parquet in any finished job")
        ag = ag[[c for c in ag.columns if c in (*cols, "label", "source", "point") or c.startswith("posture_")]]
        d = D.posture_data(ag, groups=[g for g in shown if g in set(ag["label"])] or None)
        cap = ("Postures toward each great power in the final year: colour = share of replicates bandwagoning minus "
               "share balancing; text = the most common posture (B balance, H hedge, W bandwagon), its share and "
               f"its 95% Wilson interval ({_n_text(d.groupby('group')['n'].max())}).{chosen}{bad_note}")
        return d, P.plot_postures, cap

    out.append(_draw("postures", "Postures toward the great powers", postures, opt.pdf, pdfs))

    # 8. sensitivity
    def sensitivity():
        exp = study.experiment or {}
        kind = (exp.get("design") or {}).get("kind")
        if kind not in ("morris", "sobol"):
            raise D.Skip(f"only for Morris or Sobol designs (this design: {kind or 'none'})")
        d = D.sensitivity_data(res, study.design, exp, outcomes=("final_trust_mean", "P(mature)"),
                               outcome=opt.outcome, seed=opt.seed)
        what = ("Morris elementary effects: μ* (bars, 95% bootstrap CI) and σ (diamonds)" if kind == "morris"
                else "Sobol first-order S1 and total ST indices (95% bootstrap CI)")
        cap = (f"Sensitivity ({what}) of the final mean member trust and of {D.outcome_name(opt.outcome)}, each "
               f"averaged over the finished replicates of a design point ({_n_text(per_group)}; "
               f"{study.design['point'].nunique() if study.design is not None else '?'} points; SALib, bootstrap "
               f"seed {opt.seed}).{bad_note}")
        return d, P.plot_sensitivity, cap

    out.append(_draw("sensitivity", "Sensitivity", sensitivity, opt.pdf, pdfs))
    return out, pdfs


def headline_table(study: Study, res: pd.DataFrame, reference: str | None, opt: Options) -> pd.DataFrame:
    """The headline rows (:func:`sim.report.data.headline_data`) for the groups of the page; empty if none."""
    ok = D.ok_rows(res)
    if ok.empty:
        return pd.DataFrame()
    groups = None
    if ok["label"].nunique() > opt.headline_rows:
        groups = list(D.select_groups(res, max(opt.max_groups, 12), outcome=opt.outcome, reference=reference,
                                      institution=_institution(study, opt)))
    try:
        return D.headline_data(res, reference=reference, outcome=opt.outcome, seed=opt.seed, groups=groups)
    except D.Skip:
        return pd.DataFrame()


def _write_table_files(table: pa.Table, dest: Path) -> None:
    def parquet(fh):
        pq.write_table(table, fh)

    def csv(fh):
        pacsv.write_csv(table, fh)

    write_atomic(dest / "results.parquet", parquet)
    write_atomic(dest / "results.csv", csv)


def default_out(paths: Sequence[Path]) -> Path:
    """``DIR/report`` for one input; for several, ``report`` in their common parent directory."""
    paths = [Path(p).resolve() for p in paths]
    if len(paths) == 1:
        return paths[0] / "report"
    return Path(os.path.commonpath([str(p) for p in paths])) / "report"


def check_out(out: Path, roots: Sequence[Path]) -> None:
    """Refuse an output directory that would replace an input or a directory that is not a previous report."""
    for r in roots:
        r = Path(r).resolve()
        if out == r or out in r.parents:
            raise ReportError(f"--out {out}: is {'an input' if out == r else 'a parent of the input ' + str(r)}; "
                              "choose a new directory (default: DIR/report)")
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "report.html").exists())):
        raise ReportError(f"--out {out}: exists and is not a previous report (no report.html); "
                          "choose a new or empty directory")


def make_report(paths, out: str | Path | None = None, options: Options | None = None, command: str = "") -> Report:
    """Read ``paths`` and write the report directory (see the module docstring); returns what was written."""
    from . import html as H

    t0 = time.perf_counter()
    opt = options or Options()
    if isinstance(paths, (str, Path)):
        paths = [paths]
    study = load_dirs(paths)
    study.check_tables()
    out = Path(out).resolve() if out is not None else default_out(study.roots)
    check_out(out, study.roots)
    inst = _institution(study, opt)
    need = ["source", "job", "point", "replicate", "seed", "status", "error", "label", "scenario", "start_year",
            "phase_reached", *D.HEADLINE_MEANS, *study.factors, *study.matching("first_year_")]
    if inst:
        need += study.matching(f"level_{inst}_")
    res = study.frame(need)
    reference = choose_reference(study, res, opt.reference) if len(D.ok_rows(res)) else None
    figures, pdfs = build_figures(study, opt, reference=reference, res=res)
    results_small = res[[c for c in ("source", "job", "point", "replicate", "label", "status", "error",
                                     "phase_reached") if c in res.columns]]
    tables = {"status": D.status_data(results_small), "phase_counts": D.phase_counts_data(results_small),
              "failed": D.failed_data(results_small),
              "problems": pd.DataFrame(study.problems, columns=["source", "job", "file", "problem"]),
              "headline": headline_table(study, res, reference, opt)}
    commands, command_notes = exact_commands(study)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        _write_table_files(study.table, tmp)
        write_text_atomic(tables["phase_counts"].reset_index().to_csv(index=False), tmp / "phase_counts.csv")
        write_text_atomic(tables["failed"].to_csv(index=False), tmp / "failed.csv")
        if len(tables["headline"]):
            write_text_atomic(tables["headline"].drop(columns=["format"]).to_csv(index=False), tmp / "headline.csv")
        for f in figures:
            if f.drawn:
                write_atomic(tmp / "figures" / f"{f.name}.png", lambda fh, b=f.png: fh.write(b))
                f.files.append(f"figures/{f.name}.png")
                if f.name in pdfs and pdfs[f.name] is not None:
                    write_atomic(tmp / "figures" / f"{f.name}.pdf", lambda fh, b=pdfs[f.name]: fh.write(b))
                    f.files.append(f"figures/{f.name}.pdf")
        page = H.render(study, figures, tables, command=command,
                        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        question=research_question(study), context=scenario_context(study), commands=commands,
                        command_notes=command_notes, reference=reference, pdf=opt.pdf, seed=opt.seed)
        write_text_atomic(page, tmp / "report.html")
        os.chmod(tmp, 0o755)
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / out.name)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Report(out=out, study=study, figures=figures, tables=tables, seconds=time.perf_counter() - t0)


def write_default_report(paths, out: str | Path | None = None, options: Options | None = None) -> Path | None:
    """The report ``python -m sim`` writes after a run or a multirun (``report=false`` turns it off).

    Writes ``DIR/report/`` (PNG and PDF figures) and prints ``report: <path of report.html>``. A report that
    fails never fails the run it describes: it prints one ``sim: note:`` line on stderr (with the command
    to retry) and returns None.
    """
    import sys

    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    cmd = "python -m sim.report " + " ".join(shlex.quote(str(p)) for p in paths)
    try:
        rep = make_report(paths, out, options or Options(), command=cmd + "   # written by python -m sim")
    except Exception as exc:  # noqa: BLE001 - the runs are complete and written; the report is an extra
        text = " ".join(str(exc).split())[:300]
        print(f"sim: note: no report written ({type(exc).__name__}: {text}); retry with: {cmd}", file=sys.stderr)
        return None
    page = rep.out / "report.html"
    print(f"report: {page}")
    return page


__all__ = ["FIGURE_NAMES", "FigureResult", "Options", "PHASES", "Report", "ReportError", "build_figures",
           "check_out", "choose_reference", "default_out", "exact_commands", "headline_table", "load_dirs",
           "make_report", "research_question", "scenario_context", "write_default_report"]
