"""Finding and importing a peer's file from the user's checkout, with one-line errors.

.venv/bin/python -m pytest tests/labs/test_peer_code.py -q
"""

from __future__ import annotations

from pathlib import Path

import pytest

from labs import peer_code
from shared.errors import UserError

CANDIDATES = ("pkg/sub/net.py", "net.py")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_a_file_is_taken_as_it_is(tmp_path) -> None:
    file = write(tmp_path / "anything.py", "")
    assert peer_code.find_file(file, CANDIDATES) == file


def test_a_checkout_gives_its_first_candidate(tmp_path) -> None:
    write(tmp_path / "net.py", "")
    assert peer_code.find_file(tmp_path, CANDIDATES) == tmp_path / "net.py"
    write(tmp_path / "pkg/sub/net.py", "")
    assert peer_code.find_file(tmp_path, CANDIDATES) == tmp_path / "pkg/sub/net.py"


def test_home_is_expanded(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    write(tmp_path / "src/net.py", "")
    assert peer_code.find_file(Path("~/src"), CANDIDATES) == tmp_path / "src/net.py"


def test_a_missing_path_or_file_is_one_line(tmp_path) -> None:
    with pytest.raises(UserError) as exc:
        peer_code.find_file(tmp_path / "nowhere", CANDIDATES)
    assert one_line(exc) == f"--reference {tmp_path / 'nowhere'}: no such file or folder"
    with pytest.raises(UserError) as exc:
        peer_code.find_file(tmp_path, CANDIDATES)
    assert "found none of pkg/sub/net.py, net.py" in one_line(exc)


def test_import_file_runs_the_module_and_checks_its_names(tmp_path) -> None:
    file = write(tmp_path / "net.py", "import math\nVALUE = math.pi\ndef f():\n    return 2\n")
    module = peer_code.import_file(file, needs=["VALUE", "f"])
    assert module.f() == 2 and round(module.VALUE, 5) == 3.14159
    with pytest.raises(UserError) as exc:
        peer_code.import_file(file, needs=["f", "TransformerNet"])
    assert one_line(exc) == f"--reference {file}: defines no TransformerNet"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("raise RuntimeError('needs a GPU\\nand more')", "RuntimeError: needs a GPU)"),
        ("import module_that_is_not_there", "ModuleNotFoundError"),
        ("def broken(:\n", "SyntaxError"),
        ("import sys\nsys.exit(3)", "SystemExit"),
    ],
)
def test_a_file_that_fails_to_import_is_one_line(tmp_path, text, reason) -> None:
    file = write(tmp_path / "net.py", text)
    with pytest.raises(UserError) as exc:
        peer_code.import_file(file, needs=[])
    assert one_line(exc).startswith(f"--reference {file}: importing it failed (")
    assert reason in one_line(exc)


SCRIPT = """
from __future__ import annotations
import torch
from dataclasses import dataclass

LAYERS = ["conv_4"]
size = torch.cuda.device_count() + 512

@dataclass
class Settings:
    steps: int = 3

def where(layers=LAYERS):
    return device, layers

print("the script part runs")
open("/nonexistent/picture.jpg")
raise SystemExit("the script part ran")
"""


def test_import_definitions_leaves_the_script_part_out(tmp_path, capsys) -> None:
    file = write(tmp_path / "tutorial.py", SCRIPT)
    module = peer_code.import_definitions(file, ["where", "Settings"], {"device": "cpu"})
    assert module.where() == ("cpu", ["conv_4"])  # a literal constant kept, a preset global
    assert module.Settings().steps == 3
    assert not hasattr(module, "size")  # an assignment that calls something is script
    assert capsys.readouterr().out == ""
    with pytest.raises(UserError, match="defines no run_style_transfer"):
        peer_code.import_definitions(file, ["run_style_transfer"])


def test_import_definitions_of_a_broken_file_is_one_line(tmp_path) -> None:
    file = write(tmp_path / "tutorial.py", "def broken(:\n")
    with pytest.raises(UserError) as exc:
        peer_code.import_definitions(file, [])
    assert "importing it failed (SyntaxError" in one_line(exc)
