"""Architecture rules (STYLE.md): _core is sans-I/O; testing never imports _core; nothing imports testing."""

from __future__ import annotations

import ast
import pathlib

import pytest

PKG = pathlib.Path(__file__).resolve().parents[1] / "binance_conn"
FORBIDDEN_IN_CORE = {"threading", "socket", "requests", "urllib3", "websocket", "websockets", "tenacity", "select"}


def _imports(path: pathlib.Path) -> "set[str]":
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: "set[str]" = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _calls(path: pathlib.Path) -> "set[str]":
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: "set[str]" = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            out.add(f"{node.value.id}.{node.attr}")
    return out


CORE_FILES = sorted((PKG / "_core").glob("*.py"))


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: p.name)
def test_core_is_sans_io(path: pathlib.Path) -> None:
    imported = {name.split(".")[0] for name in _imports(path) if not name.startswith(".")}
    bad = imported & (FORBIDDEN_IN_CORE | {"time"})
    assert not bad, f"{path.name} imports {sorted(bad)}"
    calls = _calls(path)
    assert not calls & {"time.sleep", "time.time", "time.monotonic"}, path.name


def test_testing_does_not_import_core() -> None:
    testing = PKG / "testing"
    if not testing.exists():
        pytest.skip("binance_conn.testing not present")
    for path in testing.rglob("*.py"):
        for name in _imports(path):
            assert "_core" not in name, f"{path} imports {name}"


def test_library_does_not_import_testing() -> None:
    for path in PKG.rglob("*.py"):
        if "testing" in path.relative_to(PKG).parts or path.name in ("demo.py", "demo_futures.py"):
            continue
        for name in _imports(path):
            assert not name.endswith("testing") and ".testing." not in name, f"{path} imports {name}"


def test_value_modules_import_nothing_above_them() -> None:
    allowed = {"enums", "errors", "config", "events", "_core", "_version"}
    for mod in ("enums.py", "errors.py", "events.py", "config.py"):
        for name in _imports(PKG / mod):
            if name.startswith("."):
                head = name.lstrip(".").split(".")[0]
                assert head in allowed or head == "", f"{mod} imports {name}"


# ---------------------------------------------------------------- the layout by role (STYLE.md)
VALUE = {"enums", "errors", "config", "events", "_version"}
ROOMS = {
    # package: the top-level names it may import (besides value modules and itself)
    "_core": set(),
    "_io": {"_core"},
    "_api": {"_core"},
    "_market": {"_io", "_core"},
    "_userdata": {"_io", "_core", "_api"},
    "_rest": {"_io", "_core", "_api", "_redis"},
    "_redis": {"_io", "_core"},
}
NETWORK_LIBS = {"requests", "urllib3", "websocket"}


def _relative_heads(path: pathlib.Path) -> "set[str]":
    """Top-level package names (under binance_conn) that a module imports, relative or absolute."""
    rel = path.relative_to(PKG)
    depth = len(rel.parts) - 1  # 0 for a top-level module
    heads: "set[str]" = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("binance_conn."):
                        heads.add(alias.name.split(".")[1])
            continue
        if node.level == 0:
            if (node.module or "").startswith("binance_conn."):
                heads.add((node.module or "").split(".")[1])
            continue
        up = node.level - 1
        if up > depth:
            continue
        base = list(rel.parts[:-1])[: depth - up]
        parts = base + (node.module.split(".") if node.module else [])
        if parts:
            heads.add(parts[0])
        else:  # "from .. import x" at package root
            heads.update(alias.name for alias in node.names)
    return heads


@pytest.mark.parametrize("room", sorted(ROOMS))
def test_rooms_import_only_what_they_may(room: str) -> None:
    for path in sorted((PKG / room).rglob("*.py")):
        heads = _relative_heads(path) - {room} - VALUE
        bad = heads - ROOMS[room]
        assert not bad, f"{path.relative_to(PKG)} imports {sorted(bad)}"


def test_only_io_and_rest_import_network_libraries() -> None:
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG)
        if rel.parts[0] in ("_io", "_rest", "testing"):
            continue
        imported = {name.split(".")[0] for name in _imports(path) if not name.startswith(".")}
        assert not imported & NETWORK_LIBS, f"{rel} imports {sorted(imported & NETWORK_LIBS)}"


def _module_graph() -> "dict[str, set[str]]":
    """Module -> modules it imports (every import, TYPE_CHECKING ones included), for the library
    (``testing``, the fake exchange, is test tooling with its own rule above)."""
    graph: "dict[str, set[str]]" = {}
    for path in PKG.rglob("*.py"):
        if "testing" in path.relative_to(PKG).parts:
            continue
        rel = path.relative_to(PKG).with_suffix("")
        parts = list(rel.parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        name = ".".join(["binance_conn", *parts])
        pkg_parts = ["binance_conn", *parts] if is_pkg else ["binance_conn", *parts[:-1]]
        deps: "set[str]" = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg_parts[: len(pkg_parts) - (node.level - 1)]
                else:
                    base = []
                mod = base + (node.module.split(".") if node.module else [])
                deps.add(".".join(mod))
                for alias in node.names:  # "from . import x" may name a submodule
                    deps.add(".".join(mod + [alias.name]))
            elif isinstance(node, ast.Import):
                deps.update(alias.name for alias in node.names)
        graph[name] = {d for d in deps if d.startswith("binance_conn")}
    return {k: {d for d in v if d in graph and d != k} for k, v in graph.items()}


def test_no_import_cycles() -> None:
    graph = _module_graph()
    # A package's __init__ importing its own modules is not a cycle worth reporting.
    for k in graph:
        graph[k] = {d for d in graph[k] if not k.startswith(d + ".")}
    state: "dict[str, int]" = {}
    stack: "list[str]" = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep):] + [dep]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


# The value modules (events, config, errors) are declaration tables and exempt.
@pytest.mark.parametrize("path", sorted([*(p for room in ROOMS for p in (PKG / room).rglob("*.py")),
                                          PKG / "connector.py"]),
                         ids=lambda p: str(p.relative_to(PKG)))
def test_modules_stay_small(path: pathlib.Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= 650, f"{path.relative_to(PKG)}: {lines} lines (keep modules under ~600)"


def test_test_module_basenames_are_unique() -> None:
    """pytest imports test files by basename (no packages): two ``test_x.py`` collide."""
    tests = pathlib.Path(__file__).resolve().parent
    seen: "dict[str, pathlib.Path]" = {}
    for path in sorted(tests.rglob("test_*.py")):
        assert path.name not in seen, f"{path.relative_to(tests)} and {seen[path.name].relative_to(tests)}"
        seen[path.name] = path
