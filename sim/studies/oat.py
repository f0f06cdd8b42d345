"""One-at-a-time (OAT) effects: does every parameter change an outcome somewhere?

Each parameter of ``conf/params/`` (``sim.core.params.Params``, switches included) is
set to the low and then the high end of its documented range, everything else
at its default, and the two runs are compared replicate by replicate: both use
the same master seed, so replicate k of either run draws the same random
numbers (common random numbers) and the difference is the parameter's effect,
not seed noise. The effect on an outcome (``sim.engine.simulate.outcomes``) is the mean
paired difference high - low; its noise is the standard error of that mean,
and an effect counts as "beyond noise" when |mean| >= 3 standard errors and is
not exactly zero.

Every parameter is measured in the present-day ``baseline`` and in the
``historical`` scenario. A parameter that changes nothing there must name a
documented regime (``REGIMES``) in which it does: a setting of the Turkic
world where the mechanism it belongs to is at work (for instance endogenous
founding needs a start without the OTS). ``tests/test_oat.py`` asserts that
every parameter has an effect in its regime; ``python -m sim.studies.oat`` writes the
table ``docs/one_at_a_time.md`` (and ``.csv``).
"""

from __future__ import annotations

import argparse
import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.params import RANGES, Params, flatten, with_overrides
from ..core.scenario import load_scenario
from ..engine.simulate import outcomes, simulate
from ..core.world import load_world

#: Range ends used where the allowed range is open-ended or far wider than meaningful.
OAT_RANGE: dict[str, tuple[float, float]] = {
    "choice.review_rate": (0.0, 1.0),  # the probability per step is min(1, rate dt): above 1/yr nothing changes
    "choice.temperature": (0.001, 10.0),
    "interaction.density_half": (0.1, 100.0),
    "institutions.min_founders": (2, 6),  # six states are eligible for full OTS membership
    "phase.nascent_members": (2, 6),
}

#: Outcomes reported in the table's main columns (all of ``outcomes`` count for "beyond noise").
MAIN = ("mature", "members", "member_trust", "member_incidents")


@dataclass(frozen=True)
class Regime:
    """A documented setting: scenario, parameter overrides and why the parameter acts there."""

    scenario: str
    overrides: tuple[tuple[str, object], ...] = ()
    why: str = ""


#: Regimes of the parameters that do not act in the baseline (each says why its mechanism is idle there);
#: every other parameter's regime is the baseline. Found from the measured table (``python -m sim.studies.oat``).
_NO_OTS = (("scenario.founded.OTS", False),)
_TIGHT = (("pressure.intensity", 0.1), ("institutions.veto_margin", 1.0), ("interaction.coop_base", 1.0))
_DIVIDE = (("pressure.intensity", 1.0), ("pressure.wedge_cut", 3.0))  # maximal divide-and-rule pressure
REGIMES: dict[str, Regime] = {
    "mechanisms.events": Regime("historical", (), "the present-day baseline schedules no events"),
    "threat.shock_decay": Regime("historical", (), "transnational shocks (2001, 2021 Afghanistan) occur in the historical scenario only"),
    "identity.summit_pull": Regime("historical", (), "summits are scheduled events of the historical scenario (1992-2012)"),
    "regional_power.courting": Regime("historical", (), "courting builds ties that the 2025 start already holds at steady state"),
    "institutions.erode_rate": Regime(
        "baseline", _DIVIDE + (("interaction.coop_base", -2.0),),
        "depth erodes only when member trust falls below erode_trust: under maximal divide-and-rule pressure"
        " on states slow to cooperate"),
    "institutions.veto_margin": Regime(
        "baseline", _DIVIDE, "a member vetoes deepening only when its trust in the others is low"),
    "regional_power.backing": Regime(
        "historical", (), "a regional power backs a side in incidents among its neighbours: the 1991-2025 conflicts"),
    "regional_power.margin": Regime(
        "historical", (("regional_power.backing", 1.0),),
        "as backing; at full backing whether Türkiye takes a side (the margin) decides the trust it moves"),
    "disputes.incident_cut": Regime(
        "historical", (), "incidents among states that matter for the outcomes occur before trust is built (1991-2025)"),
    "disputes.escalation": Regime(
        "baseline", _DIVIDE, "incidents, and so escalation, need distrust: under maximal divide-and-rule pressure"),
    "institutions.endogenous_founding": Regime(
        "baseline", _NO_OTS,
        "the OTS exists in every shipped scenario; without it, founding is endogenous (the 2009 Nakhchivan pattern)"),
    "institutions.found_trust": Regime("baseline", _NO_OTS, "as endogenous_founding"),
    "institutions.min_founders": Regime(
        "baseline", _NO_OTS + (("institutions.found_trust", 0.65),),
        "as endogenous_founding, with a founding trust (0.65) that only three eligible states meet at the start"),
    "institutions.found_depth": Regime("baseline", _NO_OTS, "as endogenous_founding"),
    "regional_power.leadership": Regime(
        "baseline", (("choice.sovereignty", 3.0),),
        "Türkiye's full membership is secure by default; when sovereignty weighs heavily, leading the OTS keeps it in"),
    "phase.tight_trust": Regime(
        "baseline", _TIGHT, "tight coupling needs deep institutions: little pressure, no vetoes, cooperative contacts"),
    "phase.tight_depth": Regime("baseline", _TIGHT, "as tight_trust"),
    "phase.mature_peace": Regime(
        "russia_distracted", (), "the maturity thresholds bite where the community matures often (P = 0.2 in the baseline)"),
    "phase.mature_years": Regime("russia_distracted", (), "as mature_peace"),
    "phase.mature_interest": Regime("russia_distracted", (), "as mature_peace"),
    "phase.breadth": Regime(
        "baseline", (("choice.identity", 0.0), ("pressure.intensity", 0.2)),
        "members leave only when identity fit does not hold them (the issue's shrinking-OTS case)"),
}


def regime(name: str) -> Regime:
    """The documented regime in which ``name`` is tested: ``REGIMES`` or the baseline."""
    return REGIMES.get(name, Regime("baseline"))


def parameter_names() -> list[str]:
    """Every parameter of conf/params/ as a dotted name (switches included; not the value source)."""
    return [n for n in flatten(Params()) if n != "calibration.source"]


def range_ends(name: str) -> tuple[object, object]:
    """The low and high end used for ``name``: its documented range, or ``OAT_RANGE``; switches False/True."""
    default = flatten(Params())[name]
    if isinstance(default, bool):
        return False, True
    lo, hi = OAT_RANGE.get(name, RANGES[name])
    return type(default)(lo), type(default)(hi)


def _scenario(regime: Regime):
    sc = load_scenario(regime.scenario)
    params = {}
    for key, value in regime.overrides:
        if key.startswith("scenario.founded."):
            sc.founded[key.rsplit(".", 1)[1]] = bool(value)
        else:
            params[key] = value
    return sc, params


def effect(name: str, regime: Regime, replicates: int = 40, seed: int = 0, world=None) -> dict[str, tuple]:
    """Paired effect of ``name`` low -> high in ``regime``: outcome -> (mean difference, standard error)."""
    world = world or load_world("turkic")
    sc, base = _scenario(regime)
    lo, hi = range_ends(name)
    res = []
    for value in (lo, hi):
        p = with_overrides(Params(), {**base, name: value})
        tr = simulate(world, sc, p, seed=seed, replicates=replicates, agents=False, pairs=False, log_events=False)
        res.append(outcomes(tr))
    out = {}
    for key in res[0]:
        d = res[1][key] - res[0][key]
        out[key] = (float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0)
    return out


def beyond_noise(diff: float, se: float, z: float = 3.0) -> bool:
    """An effect that is not exactly zero and at least ``z`` paired standard errors from it."""
    return abs(diff) > 1e-12 and abs(diff) >= z * se


def strongest(eff: dict[str, tuple]) -> tuple[str, float]:
    """The outcome with the largest |difference| / standard error (inf where se = 0 and the difference is not)."""
    best, score = "", 0.0
    for key, (d, se) in eff.items():
        if abs(d) <= 1e-12:
            continue
        s = abs(d) / se if se > 0 else np.inf
        if s > score:
            best, score = key, s
    return best, score


def table(replicates: int = 40, seed: int = 0, names: list[str] | None = None) -> list[dict]:
    """One row per parameter: range, effects in the baseline, the historical scenario and its regime."""
    world = load_world("turkic")
    rows = []
    for name in names or parameter_names():
        lo, hi = range_ends(name)
        row = {"parameter": name, "low": lo, "high": hi}
        any_effect = False
        for label, regime in (("baseline", Regime("baseline")), ("historical", Regime("historical")),
                              ("regime", REGIMES.get(name))):
            if regime is None:
                row.update({f"{label}_{key}{x}": "" for key in MAIN for x in ("", "_se")}, **{f"{label}_effect": ""})
                continue
            eff = effect(name, regime, replicates, seed, world)
            for key in MAIN:
                row[f"{label}_{key}"], row[f"{label}_{key}_se"] = eff[key]
            key, score = strongest(eff)
            hit = bool(key) and beyond_noise(*eff[key])
            any_effect |= hit
            row[f"{label}_effect"] = f"{key} {eff[key][0]:+.3g} ({score:.1f} se)" if hit else "none"
        row["regime"] = (f"{REGIMES[name].scenario} {dict(REGIMES[name].overrides)}: {REGIMES[name].why}"
                         if name in REGIMES else "")
        row["has_effect"] = any_effect
        rows.append(row)
    return rows


def markdown(rows: list[dict], replicates: int, seed: int) -> str:
    """The table as Markdown, with how it was made."""
    head = ["parameter", "low", "high", "baseline: ΔP(mature)", "Δmembers", "Δmember trust", "Δmember incidents",
            "baseline: strongest effect", "historical: strongest effect", "documented regime", "regime: strongest effect"]
    lines = [
        "# One-at-a-time parameter effects",
        "",
        f"Made by `python -m sim.studies.oat --replicates {replicates} --seed {seed}` (sim/studies/oat.py). Each parameter is set",
        "to the low and then the high end of its documented range (`conf/params/default.yaml`; switches off/on),",
        "every other parameter at its default, in the Turkic world. The two runs share their master seed, so",
        f"replicate k of both draws the same random numbers; an effect is the mean over {replicates} replicates of",
        "the paired difference high - low, and its noise the standard error of that mean. 'Strongest effect' is the",
        "outcome of `sim.engine.simulate.outcomes` with the largest |difference| / standard error, shown when it is",
        "beyond noise (>= 3 standard errors and not exactly zero), otherwise 'none'. Δ columns are high - low",
        "(± one standard error) in",
        "the baseline (2025-2045): P(reaches mature-loose or higher), final full members of the OTS, final mean",
        "trust in the reference group, incidents between full members. A parameter idle in the baseline names",
        "the documented regime (sim.studies.oat.REGIMES) where its mechanism acts; tests/test_oat.py asserts an effect",
        "beyond noise for every parameter in its regime.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in rows:
        cells = [f"`{r['parameter']}`", str(r["low"]), str(r["high"])]
        cells += [f"{r['baseline_' + k]:+.3f} ± {r['baseline_' + k + '_se']:.3f}" for k in MAIN]
        cells += [r["baseline_effect"], r["historical_effect"], r["regime"], r["regime_effect"]]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    idle = [r["parameter"] for r in rows if not r["has_effect"]]
    lines += ["", f"Parameters: {len(rows)}; without an effect beyond noise anywhere: {len(idle)}"
              + (f" ({', '.join(idle)})" if idle else "") + "."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sim.studies.oat", description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--out", default="docs/one_at_a_time", help="path without suffix (.md and .csv are written)")
    ap.add_argument("params", nargs="*", help="only these parameters (default: all)")
    a = ap.parse_args(argv)
    rows = table(a.replicates, a.seed, a.params or None)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    out.with_suffix(".csv").write_text(buf.getvalue(), encoding="utf-8")
    out.with_suffix(".md").write_text(markdown(rows, a.replicates, a.seed), encoding="utf-8")
    idle = [r["parameter"] for r in rows if not r["has_effect"]]
    print(f"{len(rows)} parameters, {len(idle)} without effect: {', '.join(idle) or '-'}")
    return 1 if idle else 0


if __name__ == "__main__":
    raise SystemExit(main())
