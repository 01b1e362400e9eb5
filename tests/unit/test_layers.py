"""The package layers hold: the core imports no stage, stages don't import each other,
the composition (``wiredesk.app``) sits above them, and no modules import each other in
a circle. Imports inside functions count too: a late import is still a dependency."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("wiredesk", "ingest", "transform", "sink", "devserver")
STAGES = ("ingest", "transform", "sink")
MAX_LINES = 420  # "about 400": a module past this gets split


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                found[_module_name(path)] = path
    return found


def _layer(module: str) -> str:
    top = module.split(".")[0]
    if module == "wiredesk.app" or module.startswith("wiredesk.app."):
        return "app"
    return "core" if top == "wiredesk" else top


def _imports(path: Path, module: str, known: set[str]) -> set[str]:
    """First-party modules imported anywhere in the file (resolved to known modules)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
    return targets


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(path, name, known) for name, path in modules.items()}


def test_layers_only_import_downwards() -> None:
    allowed = {
        "core": {"core"},
        "devserver": {"devserver"},
        "app": {"app", "core", "devserver", *STAGES},
        **{stage: {stage, "core"} for stage in STAGES},
    }
    wrong = sorted(
        f"{src} ({_layer(src)}) imports {dst} ({_layer(dst)})"
        for src, targets in _graph().items()
        for dst in targets
        if _layer(dst) not in allowed[_layer(src)]
    )
    assert wrong == []


def test_no_import_cycles() -> None:
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    # a package's __init__ re-exporting its own submodules is not a cycle of design
    cycles = [c for c in cycles if not _package_reexport(c, graph)]
    assert cycles == []


def _package_reexport(component: list[str], graph: dict[str, set[str]]) -> bool:
    packages = [m for m in component if any(o.startswith(m + ".") for o in component)]
    if len(packages) != 1:
        return False
    inner = set(component) - {packages[0]}
    return not any(dst in inner for src in inner for dst in graph[src])


def test_modules_stay_short() -> None:
    long = {
        name: n
        for name, path in _modules().items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}, f"modules over {MAX_LINES} lines: split them"


def test_the_checker_sees_real_imports() -> None:
    """Guards the checker itself: it must find known edges, or the tests above prove nothing."""
    graph = _graph()
    assert "wiredesk.runner" in graph["wiredesk.app.commands"]
    assert "transform.enrich" in graph["wiredesk.app.topology"]
    layers = defaultdict(set)
    for src, targets in graph.items():
        for dst in targets:
            layers[_layer(src)].add(_layer(dst))
    assert {"core", *STAGES} <= layers["app"]
