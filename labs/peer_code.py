"""A peer project's own module, imported from the user's checkout for a bench's ``--reference``.

    file = find_file(Path("~/src/examples"), ["fast_neural_style/neural_style/transformer_net.py"])
    module = import_file(file, needs=["TransformerNet"])

No peer's code is kept in this repository: a bench that times a peer next to ours finds the file
in the checkout the user names and imports it from there. A path that is not there, a file that
does not import, or one without the names the bench calls is a one-line :class:`UserError`.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from shared.errors import UserError

FLAG = "--reference"
# What a definitions-only import keeps of a script: what makes names, and nothing that runs.
_DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def find_file(path: Path, candidates: Sequence[str]) -> Path:
    """``path`` itself when it is a file, else the first of ``candidates`` (relative) under it."""
    path = path.expanduser()
    if path.is_file():
        return path
    if not path.is_dir():
        raise UserError(f"{FLAG} {path}: no such file or folder")
    for candidate in candidates:
        if (path / candidate).is_file():
            return path / candidate
    raise UserError(f"{FLAG} {path}: found none of {', '.join(candidates)} in it")


def import_file(file: Path, needs: Sequence[str]) -> ModuleType:
    """Import ``file`` as a module (all of it runs, as ``import`` would run it)."""
    module, spec = _empty_module(file)
    _guarded(file, lambda: spec.loader.exec_module(module))
    return _check_names(file, module, needs)


def import_definitions(
    file: Path, needs: Sequence[str], namespace: Mapping[str, Any] | None = None
) -> ModuleType:
    """Import only what ``file`` defines: its imports, functions, classes and literal constants.

    For a tutorial written as a script, whose top level also loads its own images, downloads
    weights and runs for minutes: none of that runs. ``namespace`` presets globals that its
    functions read but that the skipped statements would have set (a ``device``, say).
    """
    module, _ = _empty_module(file)
    module.__dict__.update(namespace or {})

    def run() -> None:
        tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
        tree.body = [node for node in tree.body if _is_definition(node)]
        exec(compile(tree, str(file), "exec"), module.__dict__)

    _guarded(file, run)
    return _check_names(file, module, needs)


def _is_definition(node: ast.stmt) -> bool:
    if isinstance(node, _DEFINITIONS):
        return True
    if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
        try:
            ast.literal_eval(node.value)
        except (ValueError, TypeError):
            return False
        return True
    return False


def _empty_module(file: Path) -> tuple[ModuleType, Any]:
    name = f"peer_{file.stem}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise UserError(f"{FLAG} {file}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # decorators such as @dataclass look their module up there
    return module, spec


def _guarded(file: Path, run: Any) -> None:
    try:
        run()
    except (Exception, SystemExit) as exc:  # a peer's file can fail in any way: all mean one thing
        reason = str(exc).splitlines()[0] if str(exc) else ""
        raise UserError(
            f"{FLAG} {file}: importing it failed ({type(exc).__name__}: {reason})"
        ) from None


def _check_names(file: Path, module: ModuleType, needs: Sequence[str]) -> ModuleType:
    missing = [name for name in needs if not hasattr(module, name)]
    if missing:
        raise UserError(f"{FLAG} {file}: defines no {', '.join(missing)}")
    return module
