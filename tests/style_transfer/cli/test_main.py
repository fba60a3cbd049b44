"""The entry points: ``python -m style_transfer`` and the ``style-transfer`` console script list
the same sub-commands, each with ``--help``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from style_transfer.__main__ import COMMANDS, main

REPO = Path(__file__).resolve().parents[3]


def test_help_lists_every_command(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    listed = capsys.readouterr().out
    assert all(f"    {name}" in listed for name in COMMANDS)
    assert set(COMMANDS) == {"stylize", "styles", "train", "train-arbitrary", "video", "paint"}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help_with_its_defaults(command: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: style_transfer {command}")
    if command != "paint":
        assert "--device {auto,cuda,mps,cpu}" in text and "--threads THREADS" in text


def test_console_script_points_at_main_and_runs() -> None:
    with open(REPO / "pyproject.toml", "rb") as f:
        scripts = tomllib.load(f)["project"]["scripts"]
    assert scripts["style-transfer"] == "style_transfer.__main__:main"
    script = Path(sys.executable).parent / "style-transfer"
    if not script.is_file():
        pytest.skip("the package is not installed in this environment")
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # this checkout, not another one installed
    proc = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert all(name in proc.stdout for name in COMMANDS)


# What a fresh process running one network command must not load: each costs a good part of a
# second (torchvision pulls in torch._dynamo; so does naming torch.compile's wrapper class),
# longer than the network takes on a 512 px photo.
HEAVY = (
    "torchvision",
    "matplotlib",
    "style_transfer.johnson.train",
    "style_transfer.arbitrary.train",
)


@pytest.mark.parametrize("method", ["johnson", "arbitrary"])
def test_a_network_stylises_without_loading_the_other_commands(method, tmp_path) -> None:
    from skimage import data

    painting = Path(data.__file__).parent / "rocket.jpg"
    style = ["--style-image", str(painting)] if method == "arbitrary" else ["--style", "starry"]
    argv = ["stylize", "--method", method, *style, "--content", "chelsea", "--size", "64",
            "--threads", "1", "--out", str(tmp_path / "out.png")]  # fmt: skip
    code = (
        "import sys; from style_transfer.__main__ import main; rc = main(sys.argv[1:]); "
        f"print(rc, [m for m in {HEAVY!r} if m in sys.modules])"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "0 []"
    assert (tmp_path / "out.png").is_file() and (tmp_path / "out-sheet.png").is_file()
