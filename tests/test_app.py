"""The browser page (sim/shell/app.py, the ``viz`` extra): its helpers, Mesa's parameter checks, and the page itself.

The helper tests need solara (and what ``mesa.visualization`` imports); the page
test also needs Playwright (Python) and Debian's ``chromium``. Each test skips
with the reason when something is missing, so the core suite runs without the
extra (``scripts/install_browser.sh`` installs it all).

The page test starts ``solara run sim/shell/app.py`` on a free loopback port (the
helpers of scripts/screenshot.py, which makes docs/screenshots/app.png the same
way), drives it in headless Chromium (steps, year shown, figures drawn, colour
toggle, scenario picker + Reset) and checks what a reader sees: the years on the
plots' axes, the human names in their legends, the membership table inside its
panel, the whole scenario description, no "Page 0" tab, and, after 10 steps,
the header values that the README's screenshot records (docs/screenshots/app.json).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import screenshot as S  # noqa: E402  - scripts/screenshot.py: the same Playwright set-up as the README's screenshot

SHOT = ROOT / "docs" / "screenshots" / "app.png"
VIZ_MODULES = ("solara", "altair")  # mesa.visualization imports both
# Mesa 3.3's own ComponentsView trips solara's hook linter when mesa.visualization is imported.
pytestmark = pytest.mark.filterwarnings("ignore:.*ComponentsView.*use_state.*:UserWarning")


def _missing(modules) -> list[str]:
    return [m for m in modules if importlib.util.find_spec(m) is None]


def _need_viz():
    missing = _missing(VIZ_MODULES)
    if missing:
        reason = f"viz extra not installed (missing: {', '.join(missing)}); pip install -e '.[viz]'"
        print(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def app():
    _need_viz()
    import sim.shell.app

    return sim.shell.app


@pytest.fixture(scope="module")
def stepped(app):
    model = app.RegionalAlignmentModel(rng=3)
    for _ in range(5):
        model.step()
    return model


# ---------------------------------------------------------------- helpers, no browser


def test_model_params_cover_scenarios_and_defaults(app):
    from sim.core.params import Params
    from sim.core.scenario import SCENARIO_DIR

    mp = app.model_params()
    names = sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))
    assert mp["scenario_name"]["type"] == "Select"
    assert mp["scenario_name"]["values"] == names
    assert mp["scenario_name"]["value"] in names
    defaults = Params()
    for key in app.SLIDERS:
        group, name = key.split("__")
        spec = mp[key]
        assert spec["type"] == "SliderFloat"
        assert spec["min"] <= spec["value"] == getattr(getattr(defaults, group), name) <= spec["max"]


def test_model_params_pass_mesas_own_check(app):
    """Mesa 3.3 and 3.5 both validate model_params against the model's __init__ before building it."""
    from mesa.visualization import solara_viz

    solara_viz._check_model_params(app.RegionalAlignmentModel.__init__, app.model_params())


def test_explorer_model_is_the_core_model_with_overrides(app):
    from sim.shell.model import RegionalAlignmentModel

    kwargs = {k: v["value"] for k, v in app.model_params().items()}
    kwargs.update(pressure__intensity=0.9, identity__confidence=0.15, rng=4)
    a = app.RegionalAlignmentModel(**kwargs)
    b = RegionalAlignmentModel(scenario_name=kwargs["scenario_name"], rng=4, pressure__intensity=0.9,
                               identity__confidence=0.15,
                               **{k: kwargs[k] for k in ("pressure__reaction", "identity__convergence",
                                                         "interaction__temptation")})
    assert a.params.pressure.intensity == 0.9 and a.params.identity.confidence == 0.15
    for _ in range(3):
        a.step()
        b.step()
    np.testing.assert_array_equal(a.state.trust, b.state.trust)
    assert a.year == b.year and a.phase == b.phase


def test_reset_kwargs_of_mesa_35_build_the_model(app):
    """Mesa >= 3.5 rebuilds the model on Reset with an empty mesa Scenario besides the page's rng."""
    from mesa.visualization import solara_viz

    build = getattr(solara_viz, "_build_model_init_kwargs", None)
    if build is None:
        pytest.skip("this Mesa's SolaraViz passes the parameters unchanged on Reset (mesa < 3.5)")
    model = app.RegionalAlignmentModel(rng=0)
    params = {k: v["value"] for k, v in app.model_params().items()} | {"rng": 7}
    kwargs = build(model, params, add_scenario_when_empty=True, require_model_accepts_scenario=True)
    rebuilt = type(model)(**kwargs)
    assert rebuilt.seed == 7 and rebuilt.regional_scenario.name == params["scenario_name"]


def test_string_scenario_keyword_is_the_regional_scenario(app):
    model = app.RegionalAlignmentModel(scenario="baseline", rng=1)
    assert model.regional_scenario.name == "baseline"


def test_trust_edges_and_blocs_match_the_metrics(app, stepped):
    thr = stepped.params.phase.bloc_trust
    edges = app.trust_edges(stepped)
    t = stepped.state.trust[0]
    n = stepped.world.n
    assert len(edges) == sum(t[i, j] >= thr for i in range(n) for j in range(i + 1, n))
    assert all(w >= thr for _, _, w in edges)
    blocs = app.trust_blocs(stepped)
    assert set(blocs) == set(stepped.world.codes)
    assert len(set(blocs.values()) - {""}) == int(stepped.metrics["blocs"][0])  # the rule of the blocs column
    for a, b, _ in edges:  # linked states share a bloc
        assert blocs[a] == blocs[b] != ""


def test_blocs_of_a_hand_made_network(app, stepped):
    from types import SimpleNamespace

    codes = stepped.world.codes
    trust = np.full((len(codes), len(codes)), 0.1)
    np.fill_diagonal(trust, 1.0)
    for a, b in ((0, 1), (1, 2), (3, 4)):
        trust[a, b] = trust[b, a] = 0.9
    model = SimpleNamespace(world=stepped.world, params=stepped.params, state=SimpleNamespace(trust=trust[None]))
    blocs = app.trust_blocs(model, threshold=0.5)
    # {TUR, AZE, KAZ}: named after TUR (the most capable); {KGZ, UZB}: after UZB; TKM in no bloc
    assert [blocs[c] for c in codes[:6]] == ["TUR", "TUR", "TUR", "UZB", "UZB", ""]
    assert app.bloc_colour("TUR", codes) != app.bloc_colour("UZB", codes) != app.bloc_colour("", codes)


def test_membership_rows_read_the_agents(app, stepped):
    rows = app.membership_rows(stepped)
    assert [r["State"] for r in rows] == list(stepped.world.codes)
    for row, agent in zip(rows, stepped.state_agents):
        for inst, level in agent.memberships.items():
            assert row[inst] == level.name.lower()
        for gp in stepped.world.gp_codes:
            assert row[gp] in ("balance", "hedge", "bandwagon")
    table = app._table_html(stepped)
    assert table.count("<tr>") == 1 + stepped.world.n and "B balance, H hedge, W bandwagon" in table


def test_status_and_figures(app, stepped):
    from matplotlib.figure import Figure

    s = app.status(stepped)
    assert s["year"] == stepped.context.schedule.start_year + 5 and s["step"] == 5
    assert s["phase"] in app.PHASES and s["seed"] == 3
    assert f"Year {s['year']}" in app._status_html(s)
    assert all(code in app._table_html(stepped) for code in stepped.world.codes)
    for mode in app.COLOUR_MODES:
        fig = app.network_figure(stepped, mode)
        assert isinstance(fig, Figure)
        ax = fig.axes[0]
        assert len(ax.patches) == len(app.trust_edges(stepped))  # one curve per edge
        assert len(ax.texts) == stepped.world.n  # one label per state


def test_positions_fall_back_to_a_circle(app):
    pos = app.positions(("A", "B", "C", "D"))
    assert len(set(pos.values())) == 4
    assert all(abs(np.hypot(x, y) - 1) < 1e-9 for x, y in pos.values())
    assert app.positions(("TUR", "AZE")) == {"TUR": app.CAPITALS["TUR"], "AZE": app.CAPITALS["AZE"]}


def test_nodes_do_not_overlap_and_stay_on_the_canvas(app, stepped):
    """In display space (points), every pair of nodes is at least the sum of their radii apart."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = app.network_figure(stepped)
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    ax = fig.axes[0]
    nodes = ax.collections[0]
    xy = ax.transData.transform(nodes.get_offsets()) * 72 / fig.dpi  # points
    r = np.sqrt(nodes.get_sizes() / np.pi)
    codes = stepped.world.codes
    for i in range(len(codes)):
        for j in range(i + 1, len(codes)):
            d = float(np.hypot(*(xy[i] - xy[j])))
            assert d >= r[i] + r[j], f"{codes[i]} and {codes[j]} overlap ({d:.1f} < {r[i] + r[j]:.1f} points)"
    w, h = fig.get_size_inches() * 72
    assert (xy - r[:, None] >= 0).all() and (xy[:, 0] + r <= w).all() and (xy[:, 1] + r <= h).all()


def test_plots_show_years_human_names_and_starting_points(app):
    model = app.RegionalAlignmentModel(rng=0)
    start = model.context.schedule.start_year
    for fig, names in ((app.conditions_figure(model), ("shared identity", "interaction", "mutual interest")),
                       (app.trust_figure(model), ("member trust (mean)", "member trust (lowest pair)",
                                                  "peaceful-change expectation"))):
        ax = fig.axes[0]
        assert ax.get_xlabel() == "year"
        assert [int(t) for t in ax.get_xticks()] == app.year_ticks(start, start + 20) == [2025, 2030, 2035, 2040,
                                                                                           2045]
        lo, hi = ax.get_xlim()
        assert lo < start and hi > start + 20  # the whole scenario span at step 0
        legend = [t.get_text().rsplit(" (", 1)[0] for t in ax.get_legend().get_texts()]
        assert legend == list(names)
        for line in ax.get_lines():  # step 0: one point per series, drawn with a marker
            assert len(line.get_xdata()) == 1 and line.get_marker() not in ("", "None", None)
            assert line.get_xdata()[0] == start
        assert len({ln.get_marker() for ln in ax.get_lines()}) == 3  # equal values stay visible
    from sim.report import colors as C

    lines = {ln.get_label().rsplit(" (", 1)[0]: ln for ln in app.conditions_figure(model).axes[0].get_lines()}
    assert lines["shared identity"].get_color() == C.METRIC_COLORS["identity"]  # the report's colours


def test_no_community_yet_is_not_zero(app):
    """Historical 1991: no member yet; peace and member trust are missing, not 0.00."""
    model = app.RegionalAlignmentModel(scenario_name="historical", rng=0)
    s = app.status(model)
    assert s["members"] < 2 and s["peace"] is None and s["trust_mean"] is None
    text = app._status_html(s)
    assert "peace –" in text and "peace 0.00" not in text
    assert np.isnan(app.series(model, ["peace"])["peace"]).all()
    ax = app.trust_figure(model).axes[0]
    assert any("fewer than 2 members" in t.get_text() for t in ax.texts)


def test_readme_screenshot_matches_the_current_model(app):
    """docs/screenshots/app.json records what the README's screenshot shows; the model must still show it.

    Regenerate both with ``python scripts/screenshot.py app`` after a model change.
    """
    meta = json.loads(SHOT.with_suffix(".json").read_text())
    model = app.RegionalAlignmentModel(scenario_name=meta["scenario"], rng=meta["seed"])
    for _ in range(meta["steps"]):
        model.step()
    now = json.loads(json.dumps({k: app.status(model)[k] for k in meta["header"]}))
    for k, v in meta["header"].items():
        if isinstance(v, float):
            assert now[k] == pytest.approx(v, abs=1e-9), (k, "rerun: python scripts/screenshot.py app")
        else:
            assert now[k] == v, (k, "rerun: python scripts/screenshot.py app")
    assert SHOT.stat().st_size > 20_000


# ---------------------------------------------------------------- the page in a browser


@pytest.fixture
def server(tmp_path):
    _need_viz()
    chromium = S.chromium()
    missing = _missing(("playwright",))
    if missing or chromium is None:
        what = " and ".join(filter(None, ["Playwright (pip install playwright)" if missing else "",
                                          "chromium (apt-get install chromium)" if chromium is None else ""]))
        reason = f"browser test needs {what}; scripts/install_browser.sh installs them"
        print(reason)
        pytest.skip(reason)
    log = tmp_path / "solara.log"
    try:
        with S.serve_app(log) as url:
            yield {"url": url, "chromium": chromium, "log": log}
    except RuntimeError as exc:
        pytest.fail(str(exc))


def _other_scenario(start_year: int) -> tuple[str, int] | None:
    """A scenario whose start year differs from the default one (to see Reset take the picker's value)."""
    from sim.core.scenario import SCENARIO_DIR, load_scenario

    for path in sorted(SCENARIO_DIR.glob("*.yaml")):
        try:
            sc = load_scenario(path.stem)
        except Exception:  # noqa: BLE001 - a scenario being edited elsewhere is not this test's concern
            continue
        if sc.start_year != start_year:
            return sc.name, sc.start_year
    return None


def _svg_text(page, selector: str) -> str:
    return page.eval_on_selector(selector, "el => [...el.querySelectorAll('svg text')].map(t => t.textContent)"
                                           ".join('|')")


def _fits(page, inner: str) -> dict:
    """Widths and edges of ``inner`` and of the grid panel it sits in (Mesa's draggable grid item)."""
    return page.eval_on_selector(inner, """el => {
        const panel = el.closest('.vue-grid-item') || el.parentElement;
        const a = el.getBoundingClientRect(), b = panel.getBoundingClientRect();
        return {scroll: el.scrollWidth, width: el.clientWidth, right: a.right, bottom: a.bottom,
                panel_right: b.right, panel_bottom: b.bottom, panel_width: panel.clientWidth};
    }""")


def test_page_steps_and_draws(server, tmp_path, app):
    from playwright.sync_api import sync_playwright

    model0 = app.RegionalAlignmentModel(rng=0)
    start = model0.context.schedule.start_year
    shot = Path(os.environ.get("SIM_APP_SCREENSHOT") or tmp_path / "app.png")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=server["chromium"], args=S.CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=S.VIEWPORT)
            page.set_default_timeout(30_000)
            page.goto(server["url"])
            try:
                page.get_by_text(f"Year {start}", exact=True).wait_for(timeout=45_000)
            except Exception:
                page.screenshot(path=tmp_path / "failed.png")
                pytest.fail(f"the page did not show 'Year {start}'; server log:\n{server['log'].read_text()[-3000:]}")
            S.wait_for_figures(page)

            # step 0: years on the axes (the whole span), the report's names, the starting values as points
            for sel, names in ((".sim-conditions", ("shared identity", "interaction", "mutual interest")),
                               (".sim-trust", ("member trust (mean)", "peaceful-change expectation"))):
                text = _svg_text(page, sel)
                assert "year" in text.split("|") and "Step" not in text
                assert all(str(y) in text.split("|") for y in (start, start + 10, start + 20)), text
                assert all(n in text for n in names), text
                assert "TrustMean" not in text and "Identity" not in text
            assert not page.get_by_text("Page 0").is_visible()  # no tab bar for a single page

            # the membership table and the scenario description fit their panel
            assert page.locator(".sim-panel table tr").count() == 1 + model0.world.n
            t = _fits(page, ".sim-panel table")
            assert t["scroll"] <= t["width"] + 1 and t["right"] <= t["panel_right"] + 1, t
            assert t["bottom"] <= t["panel_bottom"] + 1, t
            d = _fits(page, ".sim-description")
            assert d["scroll"] <= d["width"] + 1 and d["right"] <= d["panel_right"] + 1, d
            assert page.locator(".sim-description").inner_text() == model0.regional_scenario.description

            S.step_to(page, start, 3)
            assert page.locator(".sim-phase").inner_text() in app.PHASES

            # colour toggle redraws the network
            network = ".sim-network img"
            before = page.locator(network).get_attribute("src")
            page.get_by_role("button", name=app.COLOUR_MODES[1]).click()
            page.wait_for_function("([sel, src]) => document.querySelector(sel).getAttribute('src') !== src",
                                   arg=[network, before])

            for k in range(4, 11):
                page.get_by_role("button", name="Step").click()
                page.get_by_text(f"Year {start + k}", exact=True).wait_for()
            page.get_by_role("button", name=app.COLOUR_MODES[0]).click()
            S.wait_for_figures(page)
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=shot, full_page=True)
            assert shot.stat().st_size > 20_000
            # the README's screenshot shows what this page shows after 10 steps of the default model
            meta = json.loads(SHOT.with_suffix(".json").read_text())
            if (meta["scenario"], meta["seed"], meta["steps"]) == ("baseline", 0, 10):
                assert S.header(page) == meta["header"], "rerun: python scripts/screenshot.py app"
            text = _svg_text(page, ".sim-conditions")
            assert str(start + 10) in text.split("|")

            # the scenario picker and Reset rebuild the model (Mesa 3.5 adds its own Scenario here)
            other = _other_scenario(start)
            if other is not None:
                name, year = other
                page.locator(".v-select").first.click()
                page.get_by_role("option", name=name, exact=True).click()
            else:
                year = start
            page.get_by_role("button", name="Reset").click()
            page.get_by_text(f"Year {year}", exact=True).wait_for()
            page.get_by_role("button", name="Step").click()
            page.get_by_text(f"Year {year + 1}", exact=True).wait_for()
            assert "Traceback" not in page.inner_text("body")
        finally:
            browser.close()
