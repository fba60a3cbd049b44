from pathlib import Path

import numpy as np
from PIL import Image

from labs.johnson_showcase import draw


def test_showcase_puts_each_shipped_model_beside_the_photo(tmp_path: Path) -> None:
    out = draw(tmp_path / "sheet.png", styles=("starry", "mosaic"), photos=("coffee",))
    sheet = np.asarray(Image.open(out).convert("RGB")).astype(int)
    height, width, _ = sheet.shape
    assert width > 2 * height  # one row, three panels
    thirds = [sheet[:, k * width // 3 : (k + 1) * width // 3] for k in range(3)]
    # The stylised panels differ from the photo and from each other: each model did its own work.
    assert np.abs(thirds[0] - thirds[1]).mean() > 10
    assert np.abs(thirds[1] - thirds[2]).mean() > 10
