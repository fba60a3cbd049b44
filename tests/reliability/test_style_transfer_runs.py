"""``style-transfer stylize`` runs with a hostile part: a style image given with a style that has
a trained model, content folders with broken photos, and model files whose header was edited
(the shipped models' too). What is written, what is skipped, and the one line a user reads.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from safetensors import safe_open

from shared.errors import UserError
from style_transfer.johnson.model_file import CHECKSUM, header_digest, load_model
from style_transfer.styles import MODEL_DIR, get_style, user_style_dir
from tests.reliability.corpus import case, one_line_error
from tests.reliability.style_files import (
    GATYS,
    JOHNSON,
    bomb_png,
    edit_header,
    files_under,
    real_photo,
    run_cli,
    spy_on_sheets,
)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch) -> None:
    """No user styles but the test's own; run folders land in the test's folder."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)


def _register(name: str, model: Path, image: bytes) -> Path:
    """A style trained under ``name``, as training registers it: the model and its image."""
    folder = user_style_dir()
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model, folder / f"{name}.safetensors")
    (folder / f"{name}.jpg").write_bytes(image)
    return folder / f"{name}.safetensors"


def _outputs(tmp: Path) -> list[str]:
    return [f for f in files_under(tmp) if not f.startswith(("xdg", "in/"))]


# -- a style image given with a style that has a trained model -------------------------------

STYLE_IMAGE = [
    case(
        "style-transfer stylize", "`--style starry --style-image other.png` (starry has a shipped "
        "model)", "the image is used (Gatys); the sheet titles it `other.png`, the run folder is "
        "`<stamp>-other`, config.json records the method and the image (was: the model ran, the "
        "image was ignored and the sheet said `starry`)", ["--style", "starry"], True, 0,
        id="style-image-with-trained-style",
    ),
    case(
        "style-transfer stylize", "`--style-image other.png --method johnson`", "exit 2 before "
        "any work: `the johnson method runs a trained model, which keeps its own style image, so "
        "it cannot use <path>: choose method gatys (or auto), or train a model on it: make "
        "train-style STYLE=other STYLE_IMAGE=<path> DATA=dir`", ["--method", "johnson"], True, 2,
        message=r"the johnson method runs a trained model, which keeps its own style image, so "
        r"it cannot use \S+other\.png: .* make train-style STYLE=other ", id="style-image-johnson",
    ),
    case(
        "style-transfer stylize", "`--style starry` with an unreadable --style-image", "exit 2, "
        "one line: `cannot read image <path>: ...`, before any work: no output file, no run "
        "folder (was: the output was written, then the command failed)", ["--style", "starry"],
        False, 2, message=r"cannot read image \S+other\.png: cannot identify",
        id="style-image-unreadable",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("entry", "argv", "readable", "status"), STYLE_IMAGE)
def test_a_style_image_is_used_or_refused_before_any_work(
    tmp_path, capsys, monkeypatch, entry, argv, readable, status
) -> None:
    sheets = spy_on_sheets(monkeypatch)
    other = tmp_path / "in" / "other.png"
    other.parent.mkdir()
    Image.fromarray(real_photo("coffee")).save(other)
    if not readable:
        other.write_text("not an image")
    gatys = [a for a in GATYS if a not in ("--method", "gatys")]  # the method is the case's
    assert run_cli("stylize", "--style-image", other, *argv, *gatys) == status
    if status == 2:
        one_line_error(capsys.readouterr().err, entry)
        assert _outputs(tmp_path) == []
        return
    (run,) = (tmp_path / "runs" / "style_transfer").iterdir()
    assert run.name.endswith("-other")
    record = json.loads((run / "config.json").read_text())
    assert record["method"] == "gatys" and record["style_images"] == [str(other)]
    assert sheets[-1][1] == ["content", "other.png", "result"]


@pytest.mark.parametrize(
    "entry",
    [
        case(
            "style-transfer stylize", "a trained style whose registered style image is damaged",
            "exit 0 with one warning: `the sheet shows no style image: cannot read image "
            "<path>: ...`; the result, the sheet (photo and result) and config.json are written "
            "(was: the result was written, then the command failed)",
            message=r"^the sheet shows no style image: cannot read image \S+mine\.jpg",
            id="trained-style-image-damaged",
        )
    ],
)  # fmt: skip
def test_a_damaged_style_image_does_not_stop_its_model(tmp_path, monkeypatch, entry) -> None:
    sheets = spy_on_sheets(monkeypatch)
    _register("mine", get_style("starry").model_path, b"not a jpeg any more")
    out = tmp_path / "out.png"
    with pytest.warns(UserWarning) as caught:
        assert run_cli("stylize", "--style", "mine", *JOHNSON, "--out", out) == 0
    assert [str(w.message) for w in caught if entry.matches(str(w.message))], caught.list
    assert _outputs(tmp_path) == ["out-config.json", "out-sheet.png", "out.png"]
    assert sheets[-1][1] == ["chelsea", "mine (Johnson)"]


# -- content folders with broken photos -----------------------------------------------------


def _folder(tmp: Path, bad: dict[str, bytes], good: int) -> Path:
    """``good`` real photos and the ``bad`` files, in one folder."""
    folder = tmp / "in" / "photos"
    folder.mkdir()
    for i, name in enumerate(["coffee", "chelsea", "rocket", "astronaut", "camera", "cat"][:good]):
        Image.fromarray(real_photo(name, (48 + 8 * i, 40))).save(folder / f"{name}.png")
    for name, body in bad.items():
        (folder / name).write_bytes(body)
    return folder


def _truncated_jpeg(scratch: Path) -> bytes:
    Image.fromarray(real_photo("coffee", (96, 64))).save(scratch / "whole.jpg", quality=95)
    whole = (scratch / "whole.jpg").read_bytes()
    return whole[: len(whole) // 2]  # past the header: Pillow fails in the pixel data


FOLDERS = [
    case(
        "style-transfer stylize", "a content folder of 7 photos, one of them broken (a JPEG cut "
        "short)", "exit 0: the other 6 stylised, the sheet and config.json written; one warning "
        "`1 of 7 photos could not be read and were skipped (listed in <out>-config.json): "
        "broken.jpg: image file is truncated ...`; the skipped photo and its reason are printed "
        "and in config.json's `skipped` (was: stopped after 4, no sheet, no config)",
        {"broken.jpg": "truncated"}, 6,
        message=r"^1 of 7 photos could not be read and were skipped \(listed in \S+out-config"
        r"\.json\): broken\.jpg: image file is truncated", id="folder-one-broken",
    ),
    case(
        "style-transfer stylize", "a 1x1 photo and a decompression bomb among 4 photos",
        "exit 0: both skipped with their reasons (`1x1 px is too small for the network ...`, "
        "`Image size (900000000 pixels) exceeds limit ...`), the other 2 stylised",
        {"dot.png": "dot", "bomb.png": "bomb"}, 2,
        message=r"^2 of 4 photos could not be read and were skipped .*: bomb\.png: Image size",
        id="folder-tiny-and-bomb",
    ),
]  # fmt: skip


def _bad_files(tmp: Path, kinds: dict[str, str]) -> dict[str, bytes]:
    scratch = tmp / "in" / "scratch"
    scratch.mkdir(parents=True)
    Image.fromarray(real_photo(size=(1, 1))).save(scratch / "dot.png")
    made = {
        "truncated": _truncated_jpeg(scratch),
        "dot": (scratch / "dot.png").read_bytes(),
        "bomb": bomb_png(scratch / "bomb.png").read_bytes(),
        "empty": b"",
        "text": b"a shopping list",
    }
    return {name: made[kind] for name, kind in kinds.items()}


@pytest.mark.parametrize(("entry", "bad", "good"), FOLDERS)
def test_a_folder_skips_and_lists_unreadable_photos(tmp_path, capsys, entry, bad, good) -> None:
    folder = _folder(tmp_path, _bad_files(tmp_path, bad), good)
    out = tmp_path / "out"
    with pytest.warns(UserWarning) as caught:
        assert run_cli("stylize", "--content", folder, *JOHNSON, "--out", out) == 0
    said = [str(w.message) for w in caught if "could not be read" in str(w.message)]
    assert len(said) == 1 and entry.matches(said[0]), said
    assert sorted(p.name for p in out.iterdir()) == sorted(
        p.name for p in folder.iterdir() if p.name not in bad
    )
    record = json.loads((tmp_path / "out-config.json").read_text())
    assert sorted(Path(p).name for p in record["skipped"]) == sorted(bad)
    assert record["photos"] == good and (tmp_path / "out-sheet.png").is_file()
    printed = capsys.readouterr().out
    assert all(f"{folder / name}: " in printed for name in bad), printed


@pytest.mark.parametrize(
    "entry",
    [
        case(
            "style-transfer stylize", "a content folder where no photo is readable (empty, text "
            "named .jpg, a JPEG cut short, a bomb)", "exit 2, one line naming the first three "
            "and why: `none of the 4 photos could be read: a.jpg: cannot identify image file "
            "...; b.jpg: ...; c.jpg: image file is truncated ... (and 1 more)`; nothing written",
            message=r"none of the 4 photos could be read: a\.jpg: cannot identify image file "
            r".*; b\.jpg: cannot identify .*; c\.jpg: image file is truncated .* \(and 1 more\)$",
            id="folder-none-readable",
        )
    ],
)  # fmt: skip
@pytest.mark.parametrize("out", [True, False], ids=["out", "run-folder"])
def test_a_folder_with_no_readable_photo_is_one_line(tmp_path, capsys, entry, out) -> None:
    bad = {"a.jpg": "empty", "b.jpg": "text", "c.jpg": "truncated", "d.png": "bomb"}
    folder = _folder(tmp_path, _bad_files(tmp_path, bad), 0)
    where = ["--out", tmp_path / "out"] if out else []
    assert run_cli("stylize", "--content", folder, *JOHNSON, *where) == 2
    one_line_error(capsys.readouterr().err, entry)
    assert _outputs(tmp_path) == []


# -- model files with an edited header ------------------------------------------------------


def _older(header: dict[str, str]) -> dict[str, str]:
    """The header as files were written before it had its own checksum."""
    del header[CHECKSUM]
    return header


CORRUPT = r"is corrupt \(its header does not match its checksum\)$"
TAMPERED = [
    case("style-transfer stylize", f"a trained style's model file with {what}", gets, edit,
         message=message, id=f"model-{name}")
    for name, what, edit, gets, message in [
        ("meta-not-json", "its metadata edited into broken JSON, tensors intact",
         lambda h: h.update(meta="{broken"), "exit 2, one line: `model file <path> is corrupt "
         "(its header does not match its checksum)` (was: JSONDecodeError)", CORRUPT),
        ("meta-removed", "its metadata field removed", lambda h: h.pop("meta"),
         "exit 2, the same line (was: KeyError: 'meta')", CORRUPT),
        ("meta-changed", "its metadata changed to other valid JSON", lambda h: h.update(
            meta=json.dumps({"style": "someone else's"})), "exit 2, the same line (was: "
         "loaded, with the other metadata)", CORRUPT),
        ("config-changed", "its network config changed, still valid", lambda h: h.update(
            config=json.dumps({**json.loads(h["config"]), "residual_blocks": 2})), "exit 2, "
         "the same line, before any network is built (was: a mismatch found by the tensors)",
         CORRUPT),
        ("version-junk", "`arch_version` set to text", lambda h: h.update(arch_version="x"),
         "exit 2: `<path> is 'johnson-transformer' version x; this code reads version 1` "
         "(was: ValueError)", r"version x; this code reads version 1$"),
        ("old-file-meta-broken", "no header checksum (written before there was one) and "
         "broken metadata", lambda h: _older(h).update(meta="{broken"),
         "exit 2: `<path> has unreadable metadata: JSONDecodeError: ...` (an intact older "
         "file still loads)", r"has unreadable metadata: JSONDecodeError: "),
    ]
]  # fmt: skip


@pytest.mark.parametrize(("entry", "edit"), TAMPERED)
def test_a_tampered_model_header_is_one_line(tmp_path, capsys, entry, edit) -> None:
    starry = get_style("starry")
    model = _register("mine", starry.model_path, starry.image_path.read_bytes())
    edit_header(model, edit)
    assert run_cli("stylize", "--style", "mine", *JOHNSON, "--out", tmp_path / "out.png") == 2
    one_line_error(capsys.readouterr().err, entry)
    assert _outputs(tmp_path) == []


@pytest.mark.parametrize(
    "entry",
    [
        case(
            "style-transfer stylize", "the shipped models, whose checksum covered only the "
            "tensors", "resealed: the header checksum added, the tensors byte for byte as "
            "trained (a stylised photo was byte-identical before and after); the same file "
            "without its header checksum still loads as an older file",
            id="shipped-models-sealed",
        )
    ],
)  # fmt: skip
def test_the_shipped_models_carry_a_header_checksum(tmp_path, entry) -> None:
    shipped = sorted(MODEL_DIR.glob("*.safetensors"))
    assert [p.stem for p in shipped] == ["mosaic", "starry", "starry.steady", "wave"]
    for path in shipped:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata()
        assert header[CHECKSUM] == header_digest(header), path.name
        model, meta = load_model(path)
        older = edit_header(shutil.copyfile(path, tmp_path / path.name), _older)
        again, older_meta = load_model(older)
        assert older_meta == meta and all(
            np.array_equal(a.numpy(), b.numpy())
            for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True)
        )
        edit_header(older, lambda h: h.update(meta=json.dumps({"style": "x"}), **{CHECKSUM: "0"}))
        with pytest.raises(UserError, match=CORRUPT):
            load_model(older)
