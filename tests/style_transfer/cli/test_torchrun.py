"""``stylize`` over a folder under ``torchrun``, 2 gloo processes: the README's command, one run
folder, and the same files as one process (this one, with the ranks' one thread) writes.

.venv/bin/python -m pytest tests/style_transfer/cli/test_torchrun.py -q
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from style_transfer.__main__ import main
from tests.helpers import photo, readme_torchrun_commands, torchrun

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "hubble_deep_field")


def photo_folder(folder: Path) -> Path:
    """Real photos of several sizes, one a JPEG, two of one size (a batch of two), and a
    damaged file: 9 files, 3 batches of 4, so rank 0 runs two and rank 1 one."""
    folder.mkdir()
    for name in PHOTOS:
        picture = Image.fromarray(photo(name)).convert("RGB")
        picture.reduce(4).save(folder / f"{name}.png")
    Image.fromarray(photo("astronaut")[:96, :120]).save(folder / "face.jpg", quality=90)
    (folder / "damaged.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a photo")
    return folder


def files(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in run.rglob("*") if p.is_file()}


def record(data: bytes) -> dict:
    """The run's record without what differs between runs: its timings and rank count."""
    kept = json.loads(data)
    for key in ("seconds", "ranks"):
        kept.pop(key)
    return kept


@pytest.mark.slow
def test_the_readme_command_writes_what_one_process_writes(tmp_path: Path, monkeypatch):
    command = readme_torchrun_commands("style_transfer")["stylize"]
    content = command[command.index("--content") + 1]
    photo_folder(tmp_path / content)
    runs = tmp_path / "runs" / "style_transfer"
    done = torchrun(command, tmp_path)
    (sharded,) = runs.iterdir()  # one run folder, not one per rank
    assert done.stdout.count("stylised 8 photo(s)") == 1  # the summary, by rank 0 alone
    assert done.stdout.count("damaged.jpg") == 1

    monkeypatch.chdir(tmp_path)  # the README's paths are relative
    assert main([*command[command.index("style_transfer") + 1 :], "--threads", "1"]) == 0
    (single,) = set(runs.iterdir()) - {sharded}
    ours, theirs = files(sharded), files(single)
    assert sorted(ours) == sorted(theirs)
    assert sum(name.startswith("stylized/") for name in ours) == 8
    assert "plots/sheet.png" in ours
    by_rank = json.loads(ours.pop("config.json"))
    assert by_rank["ranks"] == 2 and by_rank["threads"] == 1 and len(by_rank["skipped"]) == 1
    assert record(theirs.pop("config.json")) == record(json.dumps(by_rank).encode())
    assert ours == theirs  # every stylised photo and the sheet, byte for byte
