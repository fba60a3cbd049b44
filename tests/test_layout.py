"""The shape the code keeps: small modules and functions, argparse only at the command line.

These hold the layout the README describes; a change that breaks one should split the module or
function by job, not raise the bound.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGES = ("shared", "retinopathy", "style_transfer", "labs")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules(*packages: str) -> list[Path]:
    return sorted(p for pkg in packages for p in (ROOT / pkg).rglob("*.py"))


def _is_command_line(path: Path) -> bool:
    rel = path.relative_to(ROOT)
    return "cli" in rel.parts[:-1] or rel.name == "__main__.py"


def _imports(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", _modules(*PACKAGES), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_is_small_and_its_functions_short(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    declares_flags = "add_argument(" in text
    if not (declares_flags and _is_command_line(path)):
        assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{path.name}: split it by job"
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            body = ast.get_source_segment(text, node) or ""
            if "add_argument(" in body:
                continue  # an argparse declaration may be as long as its flags
            assert length <= MAX_FUNCTION_LINES, f"{path.name}: {node.name} is {length} lines"


def test_argparse_lives_only_at_the_command_line() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in _modules("shared", "retinopathy", "style_transfer")
        if "argparse" in _imports(ast.parse(p.read_text(encoding="utf-8")))
        and not _is_command_line(p)
    ]
    assert offenders == []


def test_labs_drive_the_apps_through_python_not_their_command_lines() -> None:
    offenders = []
    for path in _modules("labs"):
        for name in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            parts = name.split(".")
            if parts[0] in ("retinopathy", "style_transfer") and (
                "cli" in parts or "__main__" in parts
            ):
                offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []


def test_shared_never_imports_an_app() -> None:
    offenders = [
        f"{p.relative_to(ROOT)}: {name}"
        for p in _modules("shared")
        for name in _imports(ast.parse(p.read_text(encoding="utf-8")))
        if name.split(".")[0] in ("retinopathy", "style_transfer", "labs")
    ]
    assert offenders == []


def test_the_readmes_layout_names_every_module() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = readme[readme.index("## Layout") :]
    words = set(re.findall(r"[A-Za-z_]+", layout))
    missing = [
        str(p.relative_to(ROOT))
        for p in _modules(*PACKAGES)
        if p.name not in ("__init__.py", "__main__.py") and p.stem not in words
    ]
    assert missing == [], "add them to the README's layout table"
