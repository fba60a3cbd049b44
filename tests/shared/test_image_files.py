"""shared.image_files: one list of image suffixes and one folder lister for every command."""

from __future__ import annotations

import pytest

from shared.errors import UserError
from shared.image_files import is_image_file, list_images


def test_lists_images_sorted_case_insensitive_and_skips_hidden_and_other_files(tmp_path):
    for name in ("b.JPG", "a.png", "c.webp", "notes.txt", "._a.png", ".d.1234-abcd0123.tmp.png"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "e.tiff").write_bytes(b"x")
    assert [p.name for p in list_images(tmp_path)] == ["a.png", "b.JPG", "c.webp"]
    deep = list_images(tmp_path, recursive=True)
    assert [p.relative_to(tmp_path).as_posix() for p in deep] == [
        "a.png", "b.JPG", "c.webp", "sub/e.tiff",
    ]  # fmt: skip
    assert is_image_file("x.jpeg") and not is_image_file("x.gif") and not is_image_file(".x.png")


def test_no_images_and_no_folder_are_one_line_errors(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(UserError, match=r"no images \(.jpg, .jpeg"):
        list_images(tmp_path)
    with pytest.raises(UserError, match="is not a folder"):
        list_images(tmp_path / "missing")
