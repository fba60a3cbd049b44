"""shared.contact_sheet: images in a grid under their titles, written whole, as named."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from shared.contact_sheet import MARGIN, PIXELS_PER_INCH, contact_sheet, save_image_grid, to_hwc


@pytest.mark.parametrize("image", [torch.rand(3, 5, 6), torch.rand(5, 6, 3).numpy()])
def test_images_become_hwc_in_unit_range(image):
    out = to_hwc(image * 2 - 0.5)
    assert out.shape == (5, 6, 3) and out.min() >= 0 and out.max() <= 1


def test_cells_are_laid_out_in_rows_and_keep_each_image():
    red = torch.zeros(3, 40, 80)
    red[0] = 1
    grey = torch.full((1, 8, 8), 0.5)
    blue = np.zeros((60, 30, 3), np.uint8)
    blue[..., 2] = 255
    sheet = np.asarray(contact_sheet([red, grey, blue], ncol=2, cell_inches=1))
    cell = PIXELS_PER_INCH
    assert sheet.shape[1] == 2 * (cell + MARGIN) + MARGIN  # two columns
    # the wide red image fills its cell's width at half its height, centred in the first row
    row = sheet[MARGIN + cell // 4 + 2]
    assert (row[MARGIN + 2 : MARGIN + cell - 2] == [255, 0, 0]).all()
    # the tiny grey one is scaled up with its pixels kept: one flat grey square
    grey_cell = sheet[MARGIN : MARGIN + cell, 2 * MARGIN + cell : 2 * MARGIN + 2 * cell]
    assert set(map(tuple, grey_cell.reshape(-1, 3))) == {(128, 128, 128)}
    # the tall blue one starts the second row, its full height there
    second = sheet[2 * MARGIN + cell :, MARGIN : MARGIN + cell]
    blue_rows = (second == [0, 0, 255]).all(axis=2).any(axis=1)
    assert blue_rows.sum() == cell


def test_titles_are_drawn_above_the_images_and_long_ones_wrapped():
    white = torch.ones(3, 32, 32)
    plain = np.asarray(contact_sheet([white, white], cell_inches=1))
    titled = np.asarray(contact_sheet([white, white], titles=["a", "x " * 40], cell_inches=1))
    assert titled.shape[0] > plain.shape[0] + 3 * 15  # the long title took several lines
    assert titled.shape[1] == plain.shape[1]  # and no extra width
    strip = titled[: titled.shape[0] - PIXELS_PER_INCH - MARGIN]
    assert (strip < 128).any()  # dark text where the titles are
    with pytest.raises(ValueError, match="at least one image"):
        contact_sheet([])


@pytest.mark.parametrize(("name", "kind"), [("sheet.png", "PNG"), ("a/sheet.jpg", "JPEG")])
def test_written_whole_in_the_format_of_its_name(tmp_path, name, kind):
    path = save_image_grid([torch.rand(3, 16, 24)] * 3, tmp_path / name, titles=["a", "b", "c"])
    with Image.open(path) as image:
        assert image.format == kind and image.width > 2 * image.height
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left
