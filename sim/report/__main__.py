"""``python -m sim.report DIR [DIR ...]`` (console script ``sim-report``): write DIR/report/.

Exit status 0 on success (even when some jobs failed: they are listed in the
report); 1 when an input file could not be read (a truncated Parquet table,
unreadable JSON or YAML: the report is still written from what could be read,
and each such file is named on stderr, one line each); 2 on bad input (one
line on stderr, no traceback; ``HYDRA_FULL_ERROR=1`` shows the traceback of
an unexpected error).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from ..core.metrics import PHASES


def _phases(text: str) -> tuple[str, ...]:
    out = tuple(p.strip() for p in text.split(",") if p.strip())
    bad = [p for p in out if p not in PHASES]
    if not out or bad:
        raise argparse.ArgumentTypeError(f"unknown phase {', '.join(bad) or '(none)'}; allowed: {', '.join(PHASES)}")
    return out


def _years(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(y) for y in text.split(",") if y.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give years as numbers separated by commas, e.g. 2025,2035") \
            from None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sim-report",
        description="Tidy results table, figures and a self-contained report.html for a run directory, a Hydra "
                    "multirun directory, a batch-engine experiment directory, or shards (docs/DATA.md).")
    p.add_argument("dirs", nargs="+", metavar="DIR", help="result directory (several: merged into one report)")
    p.add_argument("-o", "--out",
                   help="output directory (default: DIR/report; several DIRs: their common parent/report)")
    p.add_argument("--outcome", type=_phases, default=("mature-loose", "mature-tight"),
                   help="phases counted as the outcome of the phase diagram, comma-separated "
                        "(default: mature-loose,mature-tight)")
    p.add_argument("--institution", help="institution of the membership figure (default: the community institution)")
    p.add_argument("--years", type=_years, default=(), help="years of the trust-network panels, e.g. 2025,2035,2045")
    p.add_argument("--max-groups", type=int, default=4, help="groups drawn in the per-group figures (default 4)")
    p.add_argument("--threshold", type=float, default=None,
                   help="trust of a network link (default: params.phase.bloc_trust of the run, else 0.5)")
    p.add_argument("--no-pdf", action="store_true", help="write PNG figures only")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap intervals (default 0)")
    p.add_argument("--reference", metavar="NAME",
                   help="group (label or scenario) the headline contrasts compare with (default: the design's base "
                        "point, else the first scenario / point)")
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    from . import Options, ReportError, make_report

    if args.max_groups < 1:
        print("sim-report: error: --max-groups must be >= 1", file=sys.stderr)
        return 2
    if args.threshold is not None and not 0 <= args.threshold <= 1:
        print("sim-report: error: --threshold must be in [0, 1]", file=sys.stderr)
        return 2
    opt = Options(outcome=args.outcome, institution=args.institution, years=args.years, max_groups=args.max_groups,
                  pdf=not args.no_pdf, seed=args.seed, threshold=args.threshold, reference=args.reference)
    argv_list = sys.argv[1:] if argv is None else list(argv)
    command = "python -m sim.report " + " ".join(shlex.quote(a) for a in argv_list)
    try:
        rep = make_report(args.dirs, args.out, opt, command=command)
    except ReportError as exc:
        print(f"sim-report: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        from ..engine.io import os_error_line

        print(f"sim-report: error: {os_error_line(exc)} (the report was not written)", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback, unless asked for
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        text = " ".join(str(exc).split())[:300]
        print(f"sim-report: error: internal error: {type(exc).__name__}: {text} "
              "(set HYDRA_FULL_ERROR=1 for the traceback)", file=sys.stderr)
        return 1
    st = rep.tables["status"].set_index("status")["rows"]
    drawn = sum(f.drawn for f in rep.figures)
    print(f"report: {rep.out / 'report.html'}")
    print(f"rows: {int(st.sum())} (ok {int(st['ok'])}, failed {int(st['failed'])}, "
          f"incomplete {int(st['incomplete'])}); "
          f"figures: {drawn} drawn, {len(rep.figures) - drawn} skipped; {rep.seconds:.1f} s")
    for f in rep.figures:
        if not f.drawn:
            print(f"  skipped {f.name}: {f.note}")
    unreadable = rep.study.unreadable()
    for p in unreadable:
        print(f"sim-report: error: cannot read {p['path']}: {p['problem']}", file=sys.stderr)
    return 1 if unreadable else 0


if __name__ == "__main__":
    sys.exit(main())
