"""Which files are images, and the images of a folder: one answer for every command.

    from shared.image_files import IMAGE_SUFFIXES, is_image_file, list_images
    list_images("photos/")                    # sorted, this folder only
    list_images("dataset/", recursive=True)   # and every folder below

Hidden files are never images here: they are other programs' leftovers (macOS's ``._photo.jpg``
resource forks, this project's own temporary files while they are being written).
"""

from __future__ import annotations

from pathlib import Path

from shared.errors import UserError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def is_image_file(path: str | Path) -> bool:
    """True for a visible file whose suffix is an image format (case-insensitive)."""
    path = Path(path)
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def list_images(folder: str | Path, *, recursive: bool = False) -> list[Path]:
    """The image files in ``folder`` (and below it with ``recursive``), sorted by path.

    A folder that does not exist, or holds no image, is a :class:`UserError` naming it.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder")
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    found = sorted(p for p in candidates if is_image_file(p) and p.is_file())
    if not found:
        raise UserError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    return found
