#!/usr/bin/env python
"""Screenshots of the browser page (sim/shell/app.py) and of report pages, in headless Chromium through Playwright.

Plain ``chromium --headless --screenshot URL`` captures the page before
solara has connected, i.e. only its "Loading app" spinner: the page is a
live app that draws after a websocket round trip. This script does what
tests/test_app.py does instead: it starts ``solara run sim/shell/app.py`` on a free
loopback port, opens it with Playwright (driving /usr/bin/chromium, no
Playwright browser download), waits for the year to show, presses Step, and
saves the screenshot once the figures have arrived.

    python scripts/screenshot.py app -o docs/screenshots/app.png              # after 10 steps (the README's)
    python scripts/screenshot.py app --steps 0 -o /tmp/step0.png --seed 0 --scenario baseline
    python scripts/screenshot.py report outputs/.../report/report.html -o /tmp/report.png

``app`` also writes ``<output>.json`` beside the PNG: the scenario, seed,
step and the header values shown (year, phase, members, member trust,
depth), which tests/test_app.py compares with the current model, so a
screenshot that no longer matches the model fails the test.

Needs the viz extra and Playwright (``bash scripts/install_browser.sh``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1600, "height": 1100}


def chromium() -> str | None:
    """The system Chromium (Debian's ``chromium``), or None."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_app(log_path: Path, timeout: float = 40.0):
    """Run ``solara run sim/shell/app.py`` on a free port; yield its URL; stop it (only this process) at the end."""
    port = free_port()
    log = open(log_path, "w")
    env = dict(os.environ, SOLARA_TELEMETRY_MIXPANEL_ENABLE="False", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "solara", "run", "sim/shell/app.py", "--host", "127.0.0.1",
                             "--port", str(port), "--production", "--no-open"],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"solara run exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"solara run did not answer within {timeout:.0f} s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def wait_for_figures(page) -> None:
    """Until the network (a decoded PNG) and the two plots (inline SVG) are on the page, then a short settle."""
    page.wait_for_function("() => [...document.querySelectorAll('.sim-network img')]"
                           ".filter(e => e.complete && e.naturalWidth > 100).length >= 1"
                           " && document.querySelectorAll('.sim-plot svg').length >= 2")
    page.wait_for_timeout(800)


def step_to(page, start_year: int, steps: int, steps_per_year: int = 1) -> None:
    """Press Step ``steps`` times, waiting each time for the year to advance."""
    step = page.get_by_role("button", name="Step")
    for k in range(1, steps + 1):
        step.click()
        year = start_year + k / steps_per_year
        label = f"Year {int(year)}" if float(year).is_integer() else f"Year {round(year, 2)}"
        page.get_by_text(label, exact=True).wait_for()


def choose_scenario(page, name: str) -> None:
    page.locator(".v-select").first.click()
    page.get_by_role("option", name=name, exact=True).click()
    page.get_by_role("button", name="Reset").click()


def header(page) -> dict:
    """What the page's header says (the values the screenshot's .json records)."""
    return page.eval_on_selector(".sim-panel", "el => JSON.parse(el.querySelector('.sim-state').textContent)")


def shoot_app(out: Path, steps: int = 10, scenario: str = "baseline", seed: int = 0) -> dict:
    """Screenshot of the page after ``steps`` steps of ``scenario`` (seed ``seed``); writes out and out.json."""
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(ROOT))
    from sim.shell.model import RegionalAlignmentModel

    model = RegionalAlignmentModel(scenario_name=scenario, rng=seed)
    start, spy = model.context.schedule.start_year, model.context.schedule.steps_per_year
    browser_path = chromium()
    if browser_path is None:
        raise RuntimeError("no chromium: bash scripts/install_browser.sh")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with serve_app(out.with_suffix(".solara.log")) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(30_000)
            page.goto(url)
            page.get_by_text("Year ", exact=False).first.wait_for(timeout=45_000)
            if scenario != "baseline" or seed != 0:
                if seed != 0:
                    raise RuntimeError("--seed other than 0: set it with the slider (not scripted)")
                choose_scenario(page, scenario)
            page.get_by_text(f"Year {start}", exact=True).wait_for(timeout=45_000)
            step_to(page, start, steps, spy)
            wait_for_figures(page)
            page.screenshot(path=out, full_page=True)
            shown = header(page)
        finally:
            browser.close()
    out.with_suffix(".solara.log").unlink(missing_ok=True)
    meta = {"scenario": scenario, "seed": seed, "steps": steps, "viewport": VIEWPORT, "header": shown,
            "command": f"python scripts/screenshot.py app --steps {steps} --scenario {scenario} -o {out.name}"}
    out.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def shoot_file(path: Path, out: Path, width: int = 1200, full_page: bool = True) -> None:
    """Screenshot of a local HTML file (a report.html: self-contained, no server needed)."""
    from playwright.sync_api import sync_playwright

    browser_path = chromium()
    if browser_path is None:
        raise RuntimeError("no chromium: bash scripts/install_browser.sh")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(Path(path).resolve().as_uri())
            page.wait_for_load_state("load")
            page.screenshot(path=out, full_page=full_page)
        finally:
            browser.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    a = sub.add_parser("app", help="the browser page after --steps steps")
    a.add_argument("-o", "--out", default=str(ROOT / "docs" / "screenshots" / "app.png"))
    a.add_argument("--steps", type=int, default=10)
    a.add_argument("--scenario", default="baseline")
    a.add_argument("--seed", type=int, default=0)
    r = sub.add_parser("report", help="a report.html (or any local HTML file)")
    r.add_argument("path")
    r.add_argument("-o", "--out", required=True)
    r.add_argument("--width", type=int, default=1200)
    r.add_argument("--viewport-only", action="store_true", help="only the first screen, not the full page")
    args = ap.parse_args(argv)
    if args.what == "app":
        meta = shoot_app(Path(args.out), args.steps, args.scenario, args.seed)
        print(f"{args.out}: {json.dumps(meta['header'])}")
    else:
        shoot_file(Path(args.path), Path(args.out), args.width, not args.viewport_only)
        print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
