"""Aggregate and plotted result reports: ``python -m sim.report DIR [DIR ...]`` (console script ``sim-report``).

Reads a single run directory, a Hydra multirun directory, a batch-engine
experiment directory or merged shards (docs/DATA.md; :mod:`sim.report.load`)
and writes, into ``DIR/report/`` (or ``--out``), without touching the inputs:

* ``results.parquet`` and ``results.csv``: the tidy table, one row per point x
  replicate, failed and incomplete jobs included with their error;
* ``phase_counts.csv``, ``failed.csv``: the summary tables of the page;
* ``figures/<name>.png`` and ``.pdf``: the figures (:mod:`sim.report.plots`,
  numbers from :mod:`sim.report.data`);
* ``report.html``: one self-contained page (figures as base64 PNG, inline CSS,
  no external reference) with the question, command, config, figures with
  captions, tables, package version and date.

The report directory is built under a temporary name beside its destination
and renamed into place at the end, so a killed report never leaves a
half-written ``report/`` that looks complete; each file inside is written
with the atomic writers of :mod:`sim.io`. A figure whose inputs are absent is
skipped with a one-line note; it never stops the report.

Library use: :func:`make_report` (returns a :class:`Report`), or
:func:`load_dirs` (= :func:`sim.report.load.load`) plus the ``*_data`` / ``plot_*`` functions.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..io import write_atomic, write_text_atomic
from ..metrics import PHASES
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
    seed: int = 0  # seeds of the community detection, the network layout and the sensitivity bootstraps
    threshold: float | None = None  # network link threshold; default: params.phase.bloc_trust (0.5)


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


def build_figures(study: Study, opt: Options | None = None) -> tuple[list[FigureResult], dict]:
    """Every figure of the report for ``study`` (drawn or skipped with a note); returns them and the PDFs."""
    opt = opt or Options()
    pdfs: dict[str, bytes] = {}
    out = []
    need = ["source", "job", "point", "replicate", "status", "error", "label", "scenario", "start_year",
            "phase_reached", "final_trust_mean", *study.factors, *study.matching("first_year_")]
    inst = _institution(study, opt)
    if inst:
        need += study.matching(f"level_{inst}_")
    res = study.frame(need)
    ok = D.ok_rows(res)
    n_bad = int((res["status"] != "ok").sum()) if len(res) else 0
    bad_note = f" {n_bad} failed or incomplete row(s) are left out (listed below)." if n_bad else ""
    shown = D.representative_groups(res, opt.max_groups, outcome=opt.outcome) if len(ok) else []
    n_groups = ok["label"].nunique() if len(ok) else 0
    chosen = (f" {len(shown)} of {n_groups} groups shown, evenly spread over {D.outcome_name(opt.outcome)}."
              if n_groups > len(shown) else "")
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
            d = D.conditions_data(ts, groups=[g for g in shown if g in set(ts["label"])] or None)
            n = int(ts.groupby("label")["replicate"].nunique().max()) if len(ts) else 0
            src = f"across replicates (up to {n} per group)"
        else:
            agg = study.aggregates([*metrics, "phase"], labels=shown or None)
            if agg is None:
                raise D.Skip("no aggregates.parquet (the experiment was run without timeseries aggregates)")
            d = D.conditions_from_aggregates(agg, groups=[g for g in shown if g in set(agg["label"])] or None)
            src = "across replicates (the experiment's aggregates.parquet q10/q50/q90)"
        cap = ("The three Adler–Barnett conditions (shared identity, interaction, mutual interest) and mean "
               f"member trust of the community institution, each an index in [0, 1]: median (line) and 10–90% "
               f"band {src}. Background: the median phase across replicates.{chosen}{bad_note}")
        return d, P.plot_conditions, cap

    out.append(_draw("conditions", "Conditions and trust over time", conditions, opt.pdf, pdfs))

    # 2. phase-reached probabilities
    def probability():
        factor = study.numeric_factors[0] if study.numeric_factors else None
        d = D.phase_probability_data(res, factor=factor)
        grouping = "per group" if d.index.equals(pd.Index(pd.unique(ok["label"]))) else \
            f"per bin of {short_name(factor)} (too many points to list)"
        cap = ("Probability of each highest phase reached (none → nascent → ascendant → mature-loose → "
               f"mature-tight) {grouping}: share of finished replicates; n = replicates.{bad_note}")
        return d, P.plot_phase_probability, cap

    out.append(_draw("phase_probability", "Phase reached", probability, opt.pdf, pdfs))

    # 3. time to phase
    def time_to_phase():
        sub = res[res["label"].isin(shown)] if shown else res
        d = D.time_to_phase_data(sub)
        cap = ("Time to each phase: the share of finished replicates that had first reached the phase (or a "
               "higher one) within the given number of years since the scenario's start year (ECDF; a curve "
               f"ending below 1 means some replicates never reached the phase).{chosen}{bad_note}")
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
        cap = (f"Phase diagram: {d['outcome']} (share of finished replicates whose highest phase is "
               f"{' or '.join(opt.outcome)}) over {short_name(nf[0])} and {short_name(nf[1])} ({how}"
               + (f"; averaged over {', '.join(others)}" if others else "")
               + f"). Contours at 0.25, 0.5, 0.75.{bad_note}")
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
                cap = (f"Membership in {inst} over time: colour = mean level across replicates (none 0, partner 1, "
                       f"observer 2, member 3) per state and year; ▼ = median year of a state's first join into "
                       f"{inst}, with the share of replicates in which it joined{ev_note}.{chosen}{bad_note}")
                return d, lambda x: P.plot_membership_timeline(x, inst), cap
        sub = res[res["label"].isin(shown)] if shown else res
        d = D.membership_final_data(sub, inst, codes=codes, by="label" if len(shown) > 1 else None)
        cap = (f"Membership in {inst} at the end of the run: share of finished replicates ending at each level "
               f"(none, partner, observer, member), per state{' and group' if len(shown) > 1 else ''}."
               f"{chosen}{bad_note}")
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
        size = "capability share (world data)" if w is not None else "equal (world unknown)"
        cap = (f"Trust network at years {', '.join(f'{y:g}' for y in d['years'])}: a link where the mean trust "
               f"across replicates is at least {thr:g} (width grows with trust); node size = {size}; colour = bloc "
               f"(Louvain communities of the linked graph, seed {opt.seed}; grey = no bloc).{bad_note}")
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
               "share balancing; text = the most common posture (B balance, H hedge, W bandwagon) and its share."
               f"{chosen}{bad_note}")
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
               f"averaged over the finished replicates of a design point (SALib).{bad_note}")
        return d, P.plot_sensitivity, cap

    out.append(_draw("sensitivity", "Sensitivity", sensitivity, opt.pdf, pdfs))
    return out, pdfs


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
    figures, pdfs = build_figures(study, opt)
    results_small = study.frame(["source", "job", "point", "replicate", "label", "status", "error", "phase_reached"])
    tables = {"status": D.status_data(results_small), "phase_counts": D.phase_counts_data(results_small),
              "failed": D.failed_data(results_small),
              "problems": pd.DataFrame(study.problems, columns=["source", "job", "file", "problem"])}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        _write_table_files(study.table, tmp)
        write_text_atomic(tables["phase_counts"].reset_index().to_csv(index=False), tmp / "phase_counts.csv")
        write_text_atomic(tables["failed"].to_csv(index=False), tmp / "failed.csv")
        for f in figures:
            if f.drawn:
                write_atomic(tmp / "figures" / f"{f.name}.png", lambda fh, b=f.png: fh.write(b))
                f.files.append(f"figures/{f.name}.png")
                if f.name in pdfs and pdfs[f.name] is not None:
                    write_atomic(tmp / "figures" / f"{f.name}.pdf", lambda fh, b=pdfs[f.name]: fh.write(b))
                    f.files.append(f"figures/{f.name}.pdf")
        page = H.render(study, figures, tables, command=command,
                        created=datetime.now(timezone.utc).isoformat(timespec="seconds"))
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


__all__ = ["FIGURE_NAMES", "FigureResult", "Options", "PHASES", "Report", "ReportError", "build_figures",
           "check_out", "default_out", "load_dirs", "make_report"]
