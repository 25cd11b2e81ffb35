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
        if "testing" in path.relative_to(PKG).parts or path.name == "demo.py":
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
