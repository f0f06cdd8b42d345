"""Historical backtest: the calibrated model from 1991 to 2025 beside the record, and out-of-sample predictions.

For each calibration pattern (``sim.studies.calibrate.TARGETS``) the share of replicates
that match it, and per state the share at its 2025 roster level. Then the
predictions the calibration never saw: the year each later member or observer
first reaches its 2025 level (Uzbekistan a full member; Turkmenistan, Hungary
and Northern Cyprus observers). Those years are held out of the calibration:
DOMAIN.md does not give them and they were not looked up for it; the
predictions are reported as the model's, to be compared with the record by
the reader. Last, the model's 2025 state beside what the world file documents for
today (member trust, shared identity, OTS depth), which no target constrains.

    python -m sim.studies.backtest -o experiments/backtest   # 200 posterior-predictive replicates of `historical`
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from .calibrate import ROSTER, TARGETS, matches, target_record
from ..core.params import Params, with_overrides
from ..core.scenario import load_scenario
from ..engine.simulate import simulate
from ..core.world import LEVELS, load_world

#: The accessions after the 2009 founding that the backtest predicts: state -> the level it holds in 2025.
LATER = {"UZB": "member", "TKM": "observer", "HUN": "observer", "TRNC": "observer"}


def accession_years(tr, later: dict[str, str] = LATER) -> dict[str, list[float | None]]:
    """Per state, per replicate: the first recorded year at or above its 2025 level after the founding (None: never)."""
    w = tr.ctx.world
    lv = tr.agents["membership"][:, :, :, w.community]  # (T+1, R, N)
    out = {}
    for code, level in later.items():
        i = w.codes.index(code)
        hit = (lv[:, :, i] >= LEVELS.index(level)) & (tr.years[:, None] > 2009)
        first = np.argmax(hit, axis=0)
        out[code] = [float(tr.years[t]) - 1 if hit[t, r] else None for r, t in enumerate(first)]
    return out


def summarize_backtest(records: list[dict], years: dict[str, list]) -> tuple[list[dict], list[dict], list[dict]]:
    """(targets, roster, predictions) tables from target records and accession years."""
    m = [matches(r) for r in records]
    n = len(records)
    targets = [{"target": t, "share_matched": float(np.mean([x[t] == 1.0 for x in m])),
                "mean_score": float(np.mean([x[t] for x in m])), "replicates": n} for t in TARGETS]
    roster = []
    for code, level in ROSTER.items():
        got = [r[f"level_{code}"] for r in records]
        roster.append({"state": code, "record_2025": level, "share_at_level": float(np.mean([g == level for g in got])),
                       **{f"share_{lvl}": float(np.mean([g == lvl for g in got])) for lvl in LEVELS}})
    preds = []
    for code, ys in years.items():
        reached = np.array([y for y in ys if y is not None])
        row = {"state": code, "level": LATER[code], "share_reached": len(reached) / len(ys)}
        if len(reached):
            row.update(median=float(np.median(reached)), q10=float(np.quantile(reached, 0.1)),
                       q90=float(np.quantile(reached, 0.9)))
        preds.append(row)
    return targets, roster, preds


def documented_2025(tr) -> list[dict]:
    """The model's 2025 state beside the values conf/world/turkic.yaml documents for today (not calibration targets):
    mean and minimum trust among the five 2025 members, their shared-identity index, and the OTS's depth."""
    from ..core.dynamics import pair_mean, similarity
    from ..core.metrics import _pair_min

    w, st = tr.ctx.world, tr.final
    core = np.isin(np.array(w.codes), [c for c, lvl in ROSTER.items() if lvl == "member"])
    model_mask = np.broadcast_to(core, st.membership.shape[:2])
    trust0, ident0 = np.asarray(w.trust)[None], np.asarray(w.identity)[None]
    rows = []
    model = {"member_trust_mean": pair_mean(st.trust, model_mask), "member_trust_min": _pair_min(st.trust, model_mask),
             "member_identity": pair_mean(similarity(st.identity), model_mask),
             "ots_depth": st.depth[:, w.community]}
    doc = {"member_trust_mean": pair_mean(trust0, core[None])[0], "member_trust_min": _pair_min(trust0, core[None])[0],
           "member_identity": pair_mean(similarity(ident0), core[None])[0],
           "ots_depth": float(w.inst_depth[w.community])}
    for k, v in model.items():
        v = np.asarray(v, float)
        rows.append({"quantity": k, "documented_2025": float(doc[k]), "model_median": float(np.median(v)),
                     "model_q10": float(np.quantile(v, 0.1)), "model_q90": float(np.quantile(v, 0.9))})
    return rows


def run_backtest(replicates: int = 200, seed: int = 0, source: str = "posterior"):
    """Run the historical scenario and return (targets, roster, predictions, documented-2025 comparison)."""
    p = with_overrides(Params(), {"calibration.source": source})
    tr = simulate(load_world("turkic"), load_scenario("historical"), p, seed=seed, replicates=replicates,
                  pairs=False, log_events=False)
    return (*summarize_backtest(target_record(tr), accession_years(tr)), documented_2025(tr))


def _write(path: Path, rows: list[dict]) -> None:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", encoding="utf-8", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=keys)
        wr.writeheader()
        wr.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sim.studies.backtest", description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--source", choices=("posterior", "default"), default="posterior")
    ap.add_argument("-o", "--out", default="experiments/backtest")
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    targets, roster, preds, today = run_backtest(a.replicates, a.seed, a.source)
    _write(out / "targets.csv", targets)
    _write(out / "roster.csv", roster)
    _write(out / "predictions.csv", preds)
    _write(out / "documented_2025.csv", today)
    for t in targets:
        print(f"{t['target']:10s} matched in {t['share_matched']:.2f} of {t['replicates']} replicates")
    for p in preds:
        span = f"median {p['median']:.0f} (10-90%: {p['q10']:.0f}-{p['q90']:.0f})" if "median" in p else "never"
        print(f"{p['state']} {p['level']}: reached in {p['share_reached']:.2f}; {span}")
    for t in today:
        print(f"{t['quantity']}: model {t['model_median']:.2f} ({t['model_q10']:.2f}-{t['model_q90']:.2f}), "
              f"documented for 2025 {t['documented_2025']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
