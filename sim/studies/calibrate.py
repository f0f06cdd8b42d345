"""Calibration by approximate Bayesian computation against the historical record (pattern-oriented modelling).

Grimm et al. 2005: a model is calibrated on several qualitative patterns of the
record at once, not on one number. The patterns, all from shared/DOMAIN.md and
nothing else, are checked on the ``historical`` scenario (1991-2025) at its end
(the state after the 2025 step):

1. ``roster`` -- the 2025 roster (§3): TUR, AZE, KAZ, KGZ, UZB full members;
   TKM, HUN, TRNC observers; ARM, TJK and KOR outside the OTS;
2. ``peace`` -- no militarised incident between two full members after the 2009
   founding (§5: members stop fighting);
3. ``conflicts`` -- the Karabakh (AZE-ARM) and Kyrgyz-Tajik conflicts occur, with
   Armenia and Tajikistan outside the membership (§5);
4. ``neutral`` -- Turkmenistan never more than an observer, and hedging toward
   every great power in 2025 (§3: permanent neutrality);
5. ``emerging`` -- by 2025 an emerging, loosely coupled community: nascent or
   ascendant, not mature, not tightly coupled (§1-2, the seed literature).

Each replicate of a simulation gives one :func:`target_record` (a flat dict);
:func:`summary_statistics` turns a batch of records into the share of
replicates matching each pattern (the roster as the mean share of the 11
states at their 2025 level), and :func:`distance` is the root mean square of
(1 - share) over the five patterns: 0 when every replicate matches every
pattern, 1 when none matches any. The observed data are all ones.

The later accession years (when Uzbekistan became a full member and the
observers joined) are held out: they are not targets, and the backtest
(``experiments/backtest``) reports the model's predicted years as predictions.

``python -m sim.studies.calibrate`` runs pyabc's ABC-SMC (Toni et al. 2009; Klinger et
al. 2018) over the parameters the Morris screening ranks highest
(``experiments/sensitivity/top_parameters.csv``), uniform priors on their
plausible ranges inside their documented ranges (``PRIORS``), and writes the weighted posterior sample to
``sim/data/posterior.parquet``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from ..core.params import Params, flatten, with_overrides
from ..core.scenario import load_scenario
from ..engine.simulate import POSTERIOR, Trajectory, load_posterior, simulate
from ..core.world import LEVELS, load_world

#: The 2025 OTS roster (DOMAIN.md §3).
ROSTER = {"TUR": "member", "AZE": "member", "KAZ": "member", "KGZ": "member", "UZB": "member",
          "TKM": "observer", "HUN": "observer", "TRNC": "observer", "ARM": "none", "TJK": "none", "KOR": "none"}
#: The conflicts that occur outside the membership (DOMAIN.md §5).
CONFLICTS = (("AZE", "ARM"), ("KGZ", "TJK"))
FOUNDED = 2009  # Nakhchivan Agreement (DOMAIN.md §5)
TARGETS = ("roster", "peace", "conflicts", "neutral", "emerging")


def target_record(tr: Trajectory) -> list[dict]:
    """Per replicate of a historical run: what the five patterns are judged on (a flat dict each).

    Needs the agents table (``simulate(..., agents=True)``) for Turkmenistan's level at every step.
    """
    w, st, ts = tr.ctx.world, tr.final, tr.timeseries
    c = w.community
    code = {x: i for i, x in enumerate(w.codes)}
    after = tr.years > FOUNDED
    member_fights = ts["member_incidents"][after].sum(0)
    tkm = code.get("TKM")
    out = []
    for r in range(st.trust.shape[0]):
        rec = {f"level_{x}": LEVELS[int(st.membership[r, i, c])] for x, i in code.items() if x in ROSTER}
        rec["member_incidents_after_founding"] = int(member_fights[r])
        for a, b in CONFLICTS:
            i, j = code[a], code[b]
            rec[f"conflict_{a}_{b}"] = bool(np.isfinite(st.last_incident[r, i, j]))
        if tkm is not None:
            rec["tkm_max_level"] = LEVELS[int(tr.agents["membership"][:, r, tkm, c].max())]
            rec["tkm_hedges_all"] = bool((st.posture[r, tkm] == 0).all())
        rec["phase_2025"] = ("none", "nascent", "ascendant", "mature-loose", "mature-tight")[int(ts["phase"][-1, r])]
        out.append(rec)
    return out


def matches(rec: dict) -> dict[str, float]:
    """How one replicate's record meets each pattern: 1/0, the roster as the share of states at their level."""
    roster = np.mean([rec.get(f"level_{x}") == lvl for x, lvl in ROSTER.items()])
    outside = all(rec.get(f"level_{x}") != "member" for pair in CONFLICTS for x in pair if x in ("ARM", "TJK"))
    return {
        "roster": float(roster),
        "peace": float(rec["member_incidents_after_founding"] == 0),
        "conflicts": float(all(rec[f"conflict_{a}_{b}"] for a, b in CONFLICTS) and outside),
        "neutral": float(LEVELS.index(rec["tkm_max_level"]) <= LEVELS.index("observer") and rec["tkm_hedges_all"]),
        "emerging": float(rec["phase_2025"] in ("nascent", "ascendant")),
    }


def summary_statistics(records: list[dict]) -> dict[str, float]:
    """Share of replicates matching each pattern (roster: mean share of states at their 2025 level)."""
    m = [matches(r) for r in records]
    return {t: float(np.mean([x[t] for x in m])) for t in TARGETS}


def distance(x: dict, x0: dict) -> float:
    """Root mean square of the shortfall from the observed shares (all 1): sqrt(mean_t (x0_t - x_t)^2)."""
    return float(np.sqrt(np.mean([(x0[t] - x[t]) ** 2 for t in TARGETS])))


OBSERVED = {t: 1.0 for t in TARGETS}


#: Uniform priors of the parameters the screening selects: plausible ranges inside the documented (allowed)
#: ranges of conf/params/default.yaml, each around the documented judgement, with the reason. The allowed
#: ranges are what validation accepts (a logit intercept in [-50, 50]); a prior says what is believable.
PRIORS: dict[str, tuple[float, float, str]] = {
    "choice.review_rate": (0.1, 1.0, "a state reconsiders its alignments every 1-10 years"),
    "choice.sovereignty": (0.4, 3.0, "sovereignty cost of full membership from a third to over twice the security weight (1)"),
    "choice.commitment": (0.0, 1.0, "the fixed cost of membership at most the cost of full depth"),
    "choice.temperature": (0.01, 0.5, "from near best response to choices blurred by a tenth of the utility range"),
    "interaction.coop_base": (-2.0, 1.0, "a contact between strangers cooperates with probability 0.12-0.73"),
    "interaction.coop_trust": (0.0, 5.0, "trust moves the log-odds of cooperating by at most 5"),
    "interaction.trust_gain": (0.02, 0.25, "a cooperative contact closes 2-25% of the gap to full trust"),
    "pressure.intensity": (0.2, 0.8, "great-power pressure neither absent nor at its maximum in 1991-2025"),
}


def prior_range(name: str) -> tuple[float, float]:
    """The calibration prior of ``name``: ``PRIORS`` where stated, else its documented range (sim.studies.oat.range_ends)."""
    from .oat import range_ends

    if name in PRIORS:
        return PRIORS[name][0], PRIORS[name][1]
    return tuple(float(v) for v in range_ends(name))


def top_parameters(path: Path | None = None, k: int = 4) -> list[str]:
    """The parameters to calibrate: the Morris screening's union of the top ``k`` per outcome
    (``sim.studies.sensitivity.top_parameters`` on ``experiments/sensitivity/morris_indices.csv``)."""
    import pandas as pd

    from .sensitivity import top_parameters as union_of_top

    path = path or Path(__file__).resolve().parents[2] / "experiments" / "sensitivity" / "morris_indices.csv"
    return [n.removeprefix("params.") for n in union_of_top(pd.read_csv(path), k)]


def simulate_targets(overrides: dict, seed: int, replicates: int, world=None, scenario=None) -> dict[str, float]:
    """The summary statistics of one simulation of the historical scenario with ``overrides``."""
    world = world or load_world("turkic")
    scenario = scenario or load_scenario("historical")
    p = with_overrides(Params(), overrides)
    tr = simulate(world, scenario, p, seed=seed, replicates=replicates, agents=True, pairs=False, log_events=False)
    return summary_statistics(target_record(tr))


def calibrate(names: list[str], population: int = 200, generations: int = 6, replicates: int = 8,
              workers: int = 2, seed: int = 0, db: Path | None = None, min_epsilon: float = 0.0,
              minutes: float | None = None):
    """ABC-SMC over ``names`` with uniform priors on their documented ranges; returns (posterior frame, history)."""
    import pyabc

    np.random.seed(seed)
    world, scenario = load_world("turkic"), load_scenario("historical")
    kinds = {n: type(flatten(Params())[n]) for n in names}
    priors = {}
    for n in names:
        lo, hi = prior_range(n)
        priors[n.replace(".", "__")] = pyabc.RV("uniform", lo, hi - lo)

    def model(pars):
        over = {k.replace("__", "."): (kinds[k.replace("__", ".")](v) if kinds[k.replace("__", ".")] is int else float(v))
                for k, v in pars.items()}
        return simulate_targets(over, int(np.random.randint(2**31 - 1)), replicates, world, scenario)

    sampler = (pyabc.sampler.SingleCoreSampler() if workers <= 1
               else pyabc.sampler.MulticoreEvalParallelSampler(n_procs=workers))
    # LocalTransition: each particle perturbed with the covariance of its nearest neighbours, which keeps the
    # importance weights usable when some parameters concentrate and others stay near their prior.
    abc = pyabc.ABCSMC(model, pyabc.Distribution(**priors), distance, population_size=population, sampler=sampler,
                       transitions=pyabc.LocalTransition(k_fraction=0.25))
    db = db or Path("outputs/calibration/abc.db")
    db.parent.mkdir(parents=True, exist_ok=True)
    if db.exists():
        db.unlink()
    abc.new(f"sqlite:///{db.resolve()}", OBSERVED)
    from datetime import timedelta

    history = abc.run(minimum_epsilon=min_epsilon, max_nr_populations=generations,
                      max_walltime=timedelta(minutes=minutes) if minutes else None)
    return last_population(history), history


def last_population(history):
    """The last complete population of a pyabc History as a frame: parameter columns (dotted) and ``weight``."""
    frame, weights = history.get_distribution(m=0)
    frame = frame.rename(columns=lambda k: k.replace("__", "."))
    frame["weight"] = weights
    return frame.reset_index(drop=True)


def save(frame, history, out: Path, **info) -> dict:
    """Write the posterior Parquet file and, beside it, a JSON record of how it was made."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out, index=False)
    pops = history.get_all_populations()
    info.update(parameters=[c for c in frame.columns if c != "weight"], generations=int(history.max_t + 1),
                particles=len(frame), epsilons=[float(e) for e in pops["epsilon"].tolist()[1:]],
                simulations=int(history.total_nr_simulations), targets=list(TARGETS))
    out.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return info


def posterior_summary(frame) -> list[dict]:
    """Per parameter: the prior range, the weighted posterior median and 5-95% quantiles."""
    w = frame["weight"].to_numpy(float)
    w = w / w.sum()
    rows = []
    for name in [c for c in frame.columns if c != "weight"]:
        x = frame[name].to_numpy(float)
        order = np.argsort(x)
        cdf = np.cumsum(w[order])
        q = {p: float(x[order][min(np.searchsorted(cdf, p), len(x) - 1)]) for p in (0.05, 0.5, 0.95)}
        lo, hi = prior_range(name)
        rows.append({"parameter": name, "prior_low": float(lo), "prior_high": float(hi),
                     "median": q[0.5], "q05": q[0.05], "q95": q[0.95]})
    return rows


def plot_posterior(frame, path: Path) -> Path:
    """Marginals (weighted histograms over the prior range) on the diagonal, pairwise scatter below it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [c for c in frame.columns if c != "weight"]
    n = len(names)
    w = frame["weight"].to_numpy(float)
    fig, axes = plt.subplots(n, n, figsize=(2.1 * n + 1, 2.1 * n + 1), squeeze=False)
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            ax = axes[i, j]
            lo_a, hi_a = prior_range(a)
            lo_b, hi_b = prior_range(b)
            if i == j:
                ax.hist(frame[a], bins=15, range=(lo_a, hi_a), weights=w, color="#4c72b0")
                ax.set_xlim(lo_a, hi_a)
                ax.set_yticks([])
            elif i > j:
                ax.scatter(frame[b], frame[a], s=6 + 300 * w / w.max() * 0.1, alpha=0.5, color="#4c72b0")
                ax.set_xlim(lo_b, hi_b)
                ax.set_ylim(lo_a, hi_a)
            else:
                ax.axis("off")
            if i == n - 1:
                ax.set_xlabel(b.replace(".", ".\n"), fontsize=8)
            else:
                ax.set_xticklabels([])
            if j == 0 and i > 0:
                ax.set_ylabel(a.replace(".", ".\n"), fontsize=8)
            elif j > 0:
                ax.set_yticklabels([])
            ax.tick_params(labelsize=7)
    fig.suptitle(f"ABC-SMC posterior ({len(frame)} weighted particles); axes span the uniform priors", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sim.studies.calibrate", description=__doc__.splitlines()[0])
    ap.add_argument("--population", type=int, default=200)
    ap.add_argument("--generations", type=int, default=6)
    ap.add_argument("--replicates", type=int, default=8, help="replicates per particle (shares are over these)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--params", default="", help="comma-separated parameters (default: Morris top parameters)")
    ap.add_argument("--minutes", type=float, default=None, help="stop after the generation that passes this wall time")
    ap.add_argument("--db", default="outputs/calibration/abc.db", help="pyabc's SQLite history")
    ap.add_argument("--export", action="store_true", help="only write the last complete population of --db")
    ap.add_argument("-o", "--out", default=str(POSTERIOR), help="posterior Parquet file")
    ap.add_argument("--study", default=None, help="only write the posterior's summary table and figure to this folder")
    a = ap.parse_args(argv)
    if a.study:
        import csv

        frame = load_posterior(a.out)
        study = Path(a.study)
        study.mkdir(parents=True, exist_ok=True)
        rows = posterior_summary(frame)
        for r in rows:
            r["why_prior"] = PRIORS.get(r["parameter"], (0, 0, "documented range"))[2]
        with open(study / "posterior_summary.csv", "w", encoding="utf-8", newline="") as fh:
            wr = csv.DictWriter(fh, fieldnames=list(rows[0]))
            wr.writeheader()
            wr.writerows(rows)
        plot_posterior(frame, study / "posterior.png")
        print(f"wrote {study / 'posterior_summary.csv'} and {study / 'posterior.png'}")
        return 0
    if a.export:
        import pyabc

        history = pyabc.History(f"sqlite:///{Path(a.db).resolve()}")
        info = save(last_population(history), history, a.out, exported_from=str(a.db))
    else:
        names = [n for n in a.params.split(",") if n] or top_parameters()
        t0 = time.time()
        frame, history = calibrate(names, a.population, a.generations, a.replicates, a.workers, a.seed,
                                   db=Path(a.db), minutes=a.minutes)
        info = save(frame, history, a.out, population=a.population, replicates_per_particle=a.replicates,
                    seed=a.seed, seconds=round(time.time() - t0, 1))
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
