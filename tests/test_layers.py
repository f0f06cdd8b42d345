"""The folders are the architecture (README "Layout", DESIGN.md §2), and the imports keep to it.

Every import inside ``sim/`` (module level and inside functions) is read from
the source: a layer imports only its own and lower layers, in the order
core < engine < report < shell < studies < face; nothing below the face imports
Hydra or OmegaConf; and no two modules import each other at module level,
directly or through others.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("core", "engine", "report", "shell", "studies", "face")


def modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for f in sorted((ROOT / "sim").rglob("*.py")):
        parts = list(f.relative_to(ROOT).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_pkg else parts)] = (f, is_pkg)
    return out


MODULES = modules()


def imports(name: str) -> list[tuple[str, bool]]:
    """(imported module, at module level?) for every import statement of ``name``."""
    path, is_pkg = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg = name if is_pkg else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(tree):
        top = node in tree.body
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.append((sub if sub in MODULES else target, top))
        elif isinstance(node, ast.Import):
            out.extend((alias.name, top) for alias in node.names)
    return out


def layer(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "sim" and parts[1] in LAYERS else None


def test_every_module_sits_in_a_layer():
    loose = [m for m in MODULES if layer(m) is None and m not in ("sim", "sim.__main__")]
    assert not loose, loose


def test_each_layer_imports_only_what_sits_below_it():
    bad = [f"{m} imports {t}" for m in MODULES for t, _ in imports(m)
           if layer(m) and layer(t) and LAYERS.index(layer(t)) > LAYERS.index(layer(m))]
    assert not bad, bad


def test_nothing_below_the_face_imports_hydra():
    bad = [f"{m} imports {t}" for m in MODULES if layer(m) not in (None, "face")
           for t, _ in imports(m) if t.split(".")[0] in ("hydra", "omegaconf")]
    assert not bad, bad


def test_no_import_cycle_at_module_level():
    g = nx.DiGraph()
    for m in MODULES:
        for t, top in imports(m):
            if top and t in MODULES and t != m and not m.startswith(t + "."):  # a package's own __init__ is fine
                g.add_edge(m, t)
    cycles = list(nx.simple_cycles(g))
    assert not cycles, cycles


def test_the_import_reader_sees_known_edges():
    """The reader is not vacuous: edges that exist are found (engine -> core, face -> engine, lazy ones)."""
    assert ("sim.core.world", True) in imports("sim.engine.batch")
    assert any(t == "sim.engine.batch" for t, _ in imports("sim.face.config"))
    assert ("sim.engine.runs", False) in imports("sim.face.cli")
