"""The code's shape: no import circles inside syncapp/, imports flow one way, and
docs/architecture.md names only modules that exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "syncapp"

# The layers, lowest first. A module may import its own layer and the layers below it, never above.
LAYERS = {
    "domain": 0,
    "monday": 1,
    "engine": 2,
    "selectors": 2,
    "services": 3,
    "runbooks": 3,
    "views": 4,
    "api": 4,
    "management": 4,
    "tasks": 4,
    "admin": 4,
    "urls": 5,
}
# Who may not import whom, beyond the order above (selectors read; they never call the engine).
FORBIDDEN = {("selectors", "engine"), ("engine", "selectors"), ("domain", "models")}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def app_modules() -> dict[str, Path]:
    return {
        module_name(p): p for p in APP.rglob("*.py") if "migrations" not in p.parts and "emulator" not in p.parts
    } | {module_name(p): p for p in (APP / "emulator").rglob("*.py")}


def imports_of(path: Path, known: set[str]) -> list[tuple[str, int, bool]]:
    """(imported syncapp module, line, inside a function) for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []

    def visit(node: ast.AST, nested: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = nested or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                found.extend((a.name, child.lineno, inner) for a in child.names if a.name.startswith("syncapp"))
            elif isinstance(child, ast.ImportFrom) and child.module and child.module.startswith("syncapp"):
                for alias in child.names:
                    candidate = f"{child.module}.{alias.name}"
                    found.append((candidate if candidate in known else child.module, child.lineno, inner))
            visit(child, inner)

    visit(tree, False)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = app_modules()
    known = set(modules)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = {target for target, _, _ in imports_of(path, known) if target in known and target != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def strongconnect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return found


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def test_it_finds_a_circle_when_there_is_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_it_has_no_import_circles_inside_syncapp():
    found = cycles(import_graph())
    assert not found, "import circles (module-level or inside functions): " + "; ".join(" <-> ".join(c) for c in found)


def test_it_imports_one_way_through_the_layers():
    modules = app_modules()
    known = set(modules)
    wrong = []
    for name, path in modules.items():
        source = layer(name)
        if source is None:
            continue
        for target, line, _ in imports_of(path, known):
            target_layer = layer(target) or target.split(".")[1] if "." in target else None
            if target_layer is None:
                continue
            if (source, target_layer) in FORBIDDEN or (
                target_layer in LAYERS and LAYERS[target_layer] > LAYERS[source]
            ):
                wrong.append(f"{path.relative_to(ROOT)}:{line} ({source}) imports {target} ({target_layer})")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_it_says_why_next_to_every_function_level_import():
    modules = app_modules()
    known = set(modules)
    unexplained = []
    for path in modules.values():
        lines = path.read_text(encoding="utf-8").splitlines()
        for _target, line, nested in imports_of(path, known):
            if not nested:
                continue
            here, above = lines[line - 1], lines[line - 2] if line > 1 else ""
            if "#" not in here and not above.strip().startswith("#"):
                unexplained.append(f"{path.relative_to(ROOT)}:{line}: {here.strip()}")
    assert not unexplained, "function-level imports without a reason written next to them:\n" + "\n".join(unexplained)


def test_it_documents_only_modules_that_exist():
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(syncapp/[\w/]+\.py|syncapp/[\w/]+/|templates/[\w/.]+|tests/[\w/]+\.py)`", text))
    assert len(named) >= 20, "docs/architecture.md should name where each responsibility lives"
    missing = sorted(n for n in named if not (ROOT / n).exists())
    assert not missing, f"docs/architecture.md names modules that do not exist: {missing}"


# Modules allowed past ~500 lines, each with its reason.
LONG_MODULES = {
    # The order of checks of one request (auth, version, limits, idempotency, faults, execution) reads
    # best in one place; board views, versions, limits and faults are their own modules.
    "syncapp/emulator/server.py": "one request's checks in monday's order",
    # The write mutations and the column writers they share; the reads are emulator/reads.py.
    "syncapp/emulator/resolvers.py": "the emulated mutations and the column writers they share",
    # One request loop: batching, retries, budgets, throttles, lost answers and batch splitting share
    # its state; the values it takes are monday/types.py, the reading of answers monday/responses.py.
    "syncapp/monday/client.py": "one request loop with its retry, budget and recovery rules",
    "syncapp/sync_config.py": "the configuration file's reader and every check of it, with messages",
}


def test_it_keeps_modules_small_enough_to_read():
    allowed = set(LONG_MODULES)
    large = [
        f"{p.relative_to(ROOT)}: {n} lines"
        for p in APP.rglob("*.py")
        if "migrations" not in p.parts
        and str(p.relative_to(ROOT)) not in allowed
        and (n := len(p.read_text(encoding="utf-8").splitlines())) > 560
    ]
    assert not large, "modules over ~500 lines (split them, or say why in this test's allowed list):\n" + "\n".join(
        large
    )
