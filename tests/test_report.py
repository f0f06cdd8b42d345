"""The whole report on a run, a multirun and an experiment directory, each with one broken job."""

from __future__ import annotations

import math
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import report_fixtures as F
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

import sim
from sim.report import FIGURE_NAMES, Options, make_report
from sim.report import data as D
from sim.report import plots as P
from sim.report.__main__ import main
from sim.report.load import load
from sim.core.metrics import PHASES

IMG = re.compile(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]+"')
CAPTION = re.compile(r"<figcaption><b>Figure (\d+)\. ")


def snapshot(root):
    return {p.relative_to(root): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")
            if "report" not in p.relative_to(root).parts}


def assert_self_contained(page: str) -> None:
    """No external URL anywhere; every src/href is a data: URI or a #fragment."""
    assert not re.search(r"https?://", page, re.I)
    assert "//" not in re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)  # no protocol-relative URL
    for attr in re.findall(r"""(?:src|href)\s*=\s*["']?([^"'\s>]*)""", page, re.I):
        assert attr.startswith("data:") or attr.startswith("#"), attr
    assert "<link" not in page and "@import" not in page and "url(" not in page


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    root = tmp_path_factory.mktemp("report_e2e")
    dirs = {
        "run": F.write_run_dir(root / "run", broken="agents", scenario_name=F.SCRIPT_NAME,
                               description="A hostile <b>description</b> citing https://example.org/x"),
        "multi": F.write_multirun_dir(root / "multi"),
        "exp": F.write_experiment_dir(root / "exp"),
        "morris": F.write_experiment_dir(root / "morris", kind="morris", samples=2, failed=[],
                                         factors={"params.pressure.intensity": [0.0, 1.0],
                                                  "params.identity.confidence": [0.0, 1.0]}),
    }
    before = {k: snapshot(d) for k, d in dirs.items()}
    out = {k: make_report(d, options=Options(pdf=(k == "run"))) for k, d in dirs.items()}
    return dirs, out, before


def drawn(rep):
    return {f.name for f in rep.figures if f.drawn}


def test_every_kind_draws_what_its_inputs_allow(reports):
    _, rep, _ = reports
    assert drawn(rep["multi"]) == {"conditions", "phase_probability", "time_to_phase", "memberships", "network",
                                   "postures"}
    # the run's agents.parquet is corrupt: postures skipped, memberships fall back to the final levels
    assert drawn(rep["run"]) == {"conditions", "phase_probability", "time_to_phase", "memberships", "network"}
    assert drawn(rep["exp"]) == {"conditions", "phase_probability", "time_to_phase", "phase_diagram", "memberships"}
    assert drawn(rep["morris"]) == drawn(rep["exp"]) | {"sensitivity"}
    for r in rep.values():
        assert [f.name for f in r.figures] == list(FIGURE_NAMES)
        for f in r.figures:
            assert f.drawn != bool(f.note)  # skipped figures carry their one-line note


def test_html_has_every_figure_with_caption_and_no_external_reference(reports):
    _, rep, _ = reports
    for r in rep.values():
        page = (r.out / "report.html").read_text()
        n = len(drawn(r))
        assert len(IMG.findall(page)) == n
        assert [int(k) for k in CAPTION.findall(page)] == list(range(1, n + 1))
        for f in r.figures:
            if f.drawn:
                assert f.caption and len(f.caption) > 40
                assert (r.out / "figures" / f"{f.name}.png").exists()
            else:
                assert "Skipped: <b>" + f.title in page
        assert f"sim {sim.__version__}" in page
        assert_self_contained(page)


def test_scenario_names_are_escaped(reports):
    _, rep, _ = reports
    page = (rep["run"].out / "report.html").read_text()
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "<b>description</b>" not in page and "&lt;b&gt;description&lt;/b&gt;" in page
    assert "example.org" in page  # the text is there, as text, not as a link


def test_run_report_lists_the_broken_files(reports):
    _, rep, _ = reports
    r = rep["run"]
    page = (r.out / "report.html").read_text()
    assert "Unreadable or missing files (2)" in page
    assert "agents.parquet" in page and "events.parquet" in page
    res = pd.read_parquet(r.out / "results.parquet")
    assert len(res) == 3 and res["status"].eq("ok").all()
    assert (r.out / "figures" / "conditions.pdf").exists()  # PDFs for papers
    assert (r.out / "figures" / "conditions.pdf").read_bytes()[:4] == b"%PDF"


def test_multirun_report_counts_and_lists_the_failed_job(reports):
    dirs, rep, _ = reports
    r = rep["multi"]
    res = pd.read_parquet(r.out / "results.parquet")
    csv = pd.read_csv(r.out / "results.csv")
    assert len(res) == len(csv) == 9
    assert res["status"].value_counts().to_dict() == {"ok": 8, "failed": 1}
    st = r.tables["status"].set_index("status")["rows"].to_dict()
    assert st == {"ok": 8, "failed": 1, "incomplete": 0}
    failed = pd.read_csv(r.out / "failed.csv")
    assert failed["job"].tolist() == ["params.pressure.intensity=1.5,scenario=baseline"]
    page = (r.out / "report.html").read_text()
    assert "Failed and incomplete jobs (1 row(s))" in page and "outside [0, 1]" in page
    assert "1 failed or incomplete row(s)" in page
    counts = pd.read_csv(r.out / "phase_counts.csv").set_index("label")
    assert counts["ok"].sum() == 8 and counts["failed"].sum() == 1
    # the others are all there, in the figures' numbers too
    cond = next(f for f in r.figures if f.name == "conditions").data
    assert cond["bands"]["group"].nunique() == 4 and cond["bands"]["n"].max() == 2


def test_experiment_report_counts_failed_rows_and_draws_the_phase_diagram(reports):
    _, rep, _ = reports
    r = rep["exp"]
    res = pd.read_parquet(r.out / "results.parquet")
    assert len(res) == 12 and (res["status"] == "failed").sum() == 1
    diag = next(f for f in r.figures if f.name == "phase_diagram").data
    assert diag["kind"] == "grid" and diag["z"].shape == (3, 2)
    assert int(diag["n"].sum()) == 11  # the failed replicate is not in any cell
    page = (r.out / "report.html").read_text()
    assert "Does more pressure" in page and "python -m sim +experiment=pressure_identity_grid" in page


def test_sensitivity_of_a_morris_design(reports):
    _, rep, _ = reports
    s = next(f for f in rep["morris"].figures if f.name == "sensitivity").data
    assert set(s["index"]) == {"mu_star", "sigma"}
    assert set(s["factor"]) == {"params.pressure.intensity", "params.identity.confidence"}


def test_inputs_untouched_and_no_temporary_left(reports):
    dirs, rep, before = reports
    for k, d in dirs.items():
        assert snapshot(d) == before[k]
        assert not [p for p in d.iterdir() if p.name.startswith(".report")]


def test_reports_inside_an_input_are_not_read_as_results(reports, tmp_path):
    dirs, rep, _ = reports
    assert (dirs["multi"] / "report" / "results.parquet").exists()
    shutil.copytree(rep["multi"].out, dirs["multi"] / "second")  # a report written with -o under another name
    try:
        for d in ("multi", "exp"):
            assert len(load(dirs[d]).frame()) == len(pd.read_parquet(rep[d].out / "results.parquet"))
    finally:
        shutil.rmtree(dirs["multi"] / "second")


def test_rerun_replaces_the_report(tmp_path):
    d = F.write_run_dir(tmp_path / "killed", broken="summary", replicates=1, steps=1)  # nothing to draw: fast
    out = tmp_path / "rep"
    make_report(d, out, Options(pdf=False))
    (out / "stale.txt").write_text("old")
    make_report(d, out, Options(pdf=False))
    assert not (out / "stale.txt").exists() and (out / "report.html").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["killed", "rep"]


def test_cli(reports, tmp_path, capsys):
    dirs, _, _ = reports
    assert main([str(dirs["exp"]), "-o", str(tmp_path / "r"), "--no-pdf", "--outcome", "ascendant"]) == 0
    out = capsys.readouterr().out
    assert "rows: 12 (ok 11, failed 1, incomplete 0)" in out
    page = (tmp_path / "r" / "report.html").read_text()
    assert "P(ascendant)" in page and "--outcome ascendant" in page
    assert main([str(tmp_path / "nothing")]) == 2
    assert "no such directory" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main([str(dirs["exp"]), "--outcome", "mature"])
    assert e.value.code == 2


def test_empty_multirun_still_reports(tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    (d / "multirun.yaml").write_text("hydra: {}\n")
    r = make_report(d, options=Options(pdf=False))
    assert not drawn(r)
    assert (r.out / "report.html").exists() and len(pd.read_parquet(r.out / "results.parquet")) == 0


# --------------------------------------------------------------------------- drawing functions (smoke)

def labelled(fig: Figure) -> bool:
    return any(ax.get_xlabel() or ax.get_title() for ax in fig.axes) and any(ax.get_ylabel() for ax in fig.axes)


DRAW = {"conditions": P.plot_conditions, "phase_probability": P.plot_phase_probability,
        "time_to_phase": P.plot_time_to_phase, "phase_diagram": P.plot_phase_diagram,
        "network": P.plot_network, "postures": P.plot_postures, "sensitivity": P.plot_sensitivity,
        "memberships": (lambda d: P.plot_membership_timeline(d, "OTS") if isinstance(d, dict)
                        else P.plot_membership_final(d, "OTS"))}


def drawn_figures(rep):
    for f in rep.figures:
        if f.drawn:
            with P.style():
                fig = DRAW[f.name](f.data)
                FigureCanvasAgg(fig)
                fig.canvas.draw()
            yield f, fig


def test_every_figure_fits_its_canvas_with_readable_text(reports):
    """Nothing drawn outside the canvas (matplotlib's tight bounding box of every artist, nodes and labels
    of the network included: they are not clipped to their axes), no text below MIN_FONT points, no empty margin."""
    _, rep, _ = reports
    for r in rep.values():
        for f, fig in drawn_figures(r):
            w, h = fig.get_size_inches()
            bb = fig.get_tightbbox(fig.canvas.get_renderer())
            assert bb.x0 >= -0.01 and bb.y0 >= -0.01 and bb.x1 <= w + 0.01 and bb.y1 <= h + 0.01, (f.name, bb, w, h)
            assert bb.width > 0.9 * w and bb.height > 0.9 * h, (f.name, "blank margin", bb, w, h)
            small = [(t.get_text(), t.get_fontsize()) for t in fig.findobj(Text)
                     if t.get_visible() and t.get_text().strip() and t.get_fontsize() < P.MIN_FONT - 1e-9]
            assert not small, (f.name, small[:5])


def test_every_colour_has_a_legend(reports):
    _, rep, _ = reports
    for r in rep.values():
        for f, fig in drawn_figures(r):
            legends = [lg for lg in fig.legends] + [a.get_legend() for a in fig.axes if a.get_legend()]
            colorbars = [a for a in fig.axes if a.get_label() == "<colorbar>"]
            assert legends or colorbars, f.name
            labels = {t.get_text() for lg in legends for t in lg.get_texts()}
            if f.name == "network":  # every bloc of every panel is in the one legend, with one colour
                blocs = {b for b in f.data["nodes"]["bloc"] if b}
                assert {f"bloc of {b}" for b in blocs} <= labels and "in no bloc" in labels
            if f.name == "phase_probability":
                assert set(PHASES) <= labels
            if f.name in ("postures", "phase_diagram") or (f.name == "memberships" and isinstance(f.data, dict)):
                assert colorbars, f.name
            elif f.name == "memberships":  # final levels as bars: one legend entry per level
                assert {"none", "partner", "observer", "member"} <= labels


def test_overlapping_curves_stay_distinguishable():
    """Two groups with identical time-to-phase curves: different colour, line style and marker, and offset."""
    rows = pd.DataFrame({"label": ["A"] * 4 + ["B"] * 4, "status": "ok", "start_year": 2025.0,
                         "first_year_ascendant": [2027.0, 2030.0, 2027.0, math.nan] * 2})
    d = D.time_to_phase_data(rows, phases=("ascendant",))
    with P.style():
        fig = P.plot_time_to_phase(d, horizon=10)
    ax = fig.axes[0]
    steps = [ln for ln in ax.get_lines() if ln.get_linestyle() not in ("None", "none") and len(ln.get_xdata()) > 2]
    a, b = steps[:2]
    assert a.get_color() != b.get_color() and a.get_linestyle() != b.get_linestyle()
    assert not np.allclose(a.get_xdata(), b.get_xdata())  # offset in years ...
    assert np.abs(np.asarray(a.get_xdata()) - np.asarray(b.get_xdata())).max() <= 0.6  # ... by less than a year
    np.testing.assert_allclose(a.get_ydata(), b.get_ydata())  # the same numbers
    marks = [ln.get_marker() for ln in ax.get_lines() if ln.get_linestyle() in ("None", "none")]
    assert len(set(marks)) >= 2


def test_report_and_page_share_one_colour_map():
    from sim.report import colors as C

    assert P.PHASE_COLORS is C.PHASE_COLORS and P.LEVEL_COLORS is C.LEVEL_COLORS
    assert list(C.PHASE_COLORS) == list(PHASES) and list(C.LEVEL_COLORS) == ["none", "partner", "observer", "member"]


def test_drawing_functions_return_labelled_figures(reports):
    _, rep, _ = reports
    seen = set()
    for r in rep.values():
        for f in r.figures:
            if not f.drawn or (f.name, type(f.data)) in seen:
                continue
            seen.add((f.name, type(f.data)))
            draw = DRAW[f.name]
            with P.style():
                fig = draw(f.data)
            assert isinstance(fig, Figure) and labelled(fig), f.name


def test_sobol_plot_and_binned_diagram_draw():
    s = pd.DataFrame({"outcome": "final_trust_mean", "factor": ["a", "a", "b", "b"], "index": ["S1", "ST"] * 2,
                      "value": [0.7, 0.8, 0.1, 0.2], "conf": [0.05, 0.05, 0.02, 0.03]})
    assert labelled(P.plot_sensitivity(s))
    df = pd.DataFrame({"x": [0.0, 0.3, 0.6, 1.0] * 3, "y": [0.1, 0.5, 0.9, 0.2] * 3, "status": "ok",
                       "phase_reached": ["none", "mature-loose", "mature-tight", "nascent"] * 3})
    assert labelled(P.plot_phase_diagram(D.phase_diagram_data(df, "x", "y", bins=3, max_levels=2)))


def test_library_use_through_load(reports):
    dirs, _, _ = reports
    s = load(dirs["multi"])
    ts = s.read_job_table("timeseries", ["replicate", "year", "trust_mean", "phase"])
    d = D.conditions_data(ts, metrics=("trust_mean",))
    assert set(d["bands"]["group"]) == set(s.frame(["label", "status"]).query("status == 'ok'")["label"])


def test_many_points_bin_and_pick_representatives(tmp_path):
    """An LHS sweep with more points than can be listed: phase bars binned, 4 groups drawn, grid binned."""
    d = F.big_experiment(tmp_path / "big", points=200, replicates=5, steps=4)
    r = make_report(d, options=Options(pdf=False))
    figs = {f.name: f for f in r.figures}
    assert len(pd.read_parquet(r.out / "results.parquet")) == 1000
    assert figs["phase_probability"].data.index[0].startswith("pressure.intensity in [")
    assert figs["phase_probability"].data["n"].sum() == (r.study.frame(["status"])["status"] == "ok").sum()
    assert figs["conditions"].data["bands"]["group"].nunique() == 4
    assert figs["phase_diagram"].data["kind"] == "binned"
    assert "4 of 200 groups shown" in figs["conditions"].caption
    page = (r.out / "report.html").read_text()
    assert "more row(s) in phase_counts.csv" in page  # the page lists 60 groups, the CSV all 200
    assert len(pd.read_csv(r.out / "phase_counts.csv")) == 200


def test_refuses_to_replace_an_input_or_foreign_directory(tmp_path, capsys):
    d = F.write_run_dir(tmp_path / "killed", broken="summary", replicates=1, steps=1)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    for out in (d, tmp_path, tmp_path / "mine"):
        assert main([str(d), "-o", str(out), "--no-pdf"]) == 2
        assert "choose a new" in capsys.readouterr().err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me" and (d / ".hydra").exists()


def test_names_with_dollar_signs_are_drawn_literally():
    df = pd.DataFrame({"none": [0.5], "nascent": [0.5], "ascendant": [0.0], "mature-loose": [0.0],
                       "mature-tight": [0.0], "n": [2]}, index=pd.Index(["cost $5 vs $10 ^_^"], name="group"))
    fig = P.plot_phase_probability(df)
    fig.canvas.draw()  # mathtext would fail here on an unescaped name
    assert fig.axes[0].get_yticklabels()[0].get_text() == r"cost \$5 vs \$10 ^_^"


# --------------------------------------------------------------------------- the headline, question and command

HEADLINE = re.compile(r'<table class="headline" id="headline">(.*?)</table>', re.S)


def test_the_first_table_is_the_headline_with_intervals_and_paired_contrasts(reports):
    _, rep, _ = reports
    r = rep["multi"]
    page = (r.out / "report.html").read_text()
    assert page.index("<table") == page.index('<table class="headline"')  # the first table of the page
    table = HEADLINE.search(page).group(1)
    ref = "baseline, pressure.intensity=0.2"  # the first scenario / point
    assert "differs from the reference (95%)" in table and table.count("Δ ") >= 3 * 2  # 3 other groups x outcomes
    assert f"the reference group <b>{ref}</b>" in page
    assert re.search(r"\d\.\d\d<br><span class=\"ci\">\[\d\.\d\d, \d\.\d\d\]</span>", table)  # estimate [lo, hi]
    assert "Wilson score interval" in page and "common random numbers" in page
    h = pd.read_csv(r.out / "headline.csv")
    assert {"group", "name", "estimate", "lo", "hi", "diff", "diff_lo", "diff_hi", "pairs", "excludes_zero"} <= set(h)
    other = h[(h["group"] != ref) & (h["kind"] == "share")]
    assert len(other) and (other["pairs"] == 2).all()  # replicate k paired with replicate k (2 replicates per job)
    known = h[h["n"] > 0]  # (no replicate advanced: no estimate)
    assert (known["lo"] <= known["estimate"] + 1e-12).all() and (known["estimate"] <= known["hi"] + 1e-12).all()


def test_reference_option_and_unknown_reference(reports, tmp_path, capsys):
    dirs, _, _ = reports
    assert main([str(dirs["multi"]), "-o", str(tmp_path / "r"), "--no-pdf", "--reference", "russia_resurgence"]) == 0
    h = pd.read_csv(tmp_path / "r" / "headline.csv")
    assert h["reference"].dropna().unique().tolist() == ["russia_resurgence, pressure.intensity=0.2"]
    assert main([str(dirs["multi"]), "-o", str(tmp_path / "r2"), "--no-pdf", "--reference", "nope"]) == 2
    assert "--reference nope: no such group or scenario" in capsys.readouterr().err


def test_pdfs_are_named_only_when_written(reports):
    _, rep, _ = reports
    with_pdf = (rep["run"].out / "report.html").read_text()
    without = (rep["multi"].out / "report.html").read_text()
    assert "figures/*.pdf</code>" in with_pdf
    assert "figures/*.pdf" not in without and "no PDFs: made with <code>--no-pdf</code>" in without


def test_question_from_the_config_then_scenarios_as_context(reports, tmp_path):
    dirs, _, _ = reports
    d = tmp_path / "run"
    shutil.copytree(dirs["run"], d, ignore=shutil.ignore_patterns("report"))
    cfg = d / ".hydra" / "config.yaml"
    cfg.write_text('question: "Does a hostile <b>name</b> change trust?"\n' + cfg.read_text())
    page = (make_report(d, options=Options(pdf=False)).out / "report.html").read_text()
    q = page.index('<div class="question" id="question">Does a hostile &lt;b&gt;name&lt;/b&gt; change trust?')
    assert q < page.index("Scenarios:") < page.index('id="headline"')
    assert "A hostile &lt;b&gt;description&lt;/b&gt;" in page  # the scenario description, as context
    plain = (rep_out := make_report(dirs["multi"], tmp_path / "m", Options(pdf=False)).out / "report.html").read_text()
    assert "No research question recorded" in plain and rep_out.exists()


def test_exact_command_includes_the_hydra_overrides(reports, tmp_path):
    from sim.report import exact_commands

    dirs, _, _ = reports
    d = tmp_path / "multi"
    shutil.copytree(dirs["multi"], d, ignore=shutil.ignore_patterns("report"))
    (d / "multirun.yaml").write_text(
        "hydra:\n  sweep: {dir: /data/sweeps/a}\n  overrides:\n    hydra: [hydra.sweep.dir=/data/sweeps/a, "
        "hydra.mode=MULTIRUN]\n    task: ['scenario=glob(*)', 'params.pressure.intensity=0.2,0.8']\n")
    cmds, notes = exact_commands(load(d))
    assert cmds == ["python -m sim -m 'scenario=glob(*)' params.pressure.intensity=0.2,0.8 "
                    "hydra.sweep.dir=/data/sweeps/a"] and not notes
    cmds, notes = exact_commands(load(dirs["multi"]))  # the fixture's multirun.yaml records no hydra overrides
    assert cmds[0].startswith("python -m sim -m scenario=baseline,russia_resurgence")
    assert notes and "without hydra.sweep.dir=" in notes[0]


def test_sweep_folders_exclude_the_overrides_that_are_not_swept():
    from sim.face.hydra_callbacks import fixed_override_keys

    assert fixed_override_keys(["scenario=baseline,ots_plus", "replicates=30", "figures=false",
                                "params.pressure.intensity=0.8"]) == ["figures", "params.pressure.intensity",
                                                                      "replicates"]
    assert fixed_override_keys(["scenario=glob(*)", "experiment.shard=range(0,4)", "seed=3"]) == ["seed"]
    assert fixed_override_keys(["replicates=30"]) is None  # nothing swept: Hydra's names stay as they are
