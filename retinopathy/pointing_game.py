"""The pointing game: does a heat map's maximum fall on a lesion?

    from retinopathy.pointing_game import pointing_game
    game = pointing_game([(heat, mask), ...], radius=5)   # maps and lesion masks, same sizes
    game.rate, game.baseline, game.line()  # "pointing game: 0.62 of 40 photos vs 0.08 ..."

Zhang et al. ("Top-down neural attention by excitation backprop", ECCV 2016) score a saliency
map by one question per image: is its maximum on the object? Here the object is the lesions the
sample set drew (:func:`retinopathy.data.synthetic.read_mask`), grown by ``radius`` pixels, so a
maximum at the edge of a microaneurysm two pixels across still counts.

- **Hit**: the map's maximum lies within ``radius`` pixels (Euclidean, exact:
  ``cv2.distanceTransform``) of a lesion pixel. Where several pixels share the maximum (a coarse
  map enlarged bilinearly is flat near its border) the point is the middle of those pixels. A map
  that is 0 everywhere points nowhere: a miss.
- **Baseline**: a point drawn uniformly over the photo hits with probability the grown mask's
  share of the photo; averaged over the photos, that is the rate a map pointing at random would
  score. A map that points at lesions beats it; one that points at the optic disc, the vessels or
  the black border does not.

The report grows the masks by :data:`RADIUS_SHARE` of the photo's height (5 px on the sample
set's 512 px photos, 1 px at 96 px): :func:`radius_for`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

RADIUS_SHARE = 0.01  # the dilation radius as a share of the photo's height
_TIE = 1e-5  # relative: pixels this close to the maximum share it


def radius_for(height: int) -> int:
    """The dilation radius the report uses for a photo ``height`` pixels high (at least 1)."""
    return max(1, round(RADIUS_SHARE * height))


def grown(mask: np.ndarray, radius: float) -> np.ndarray:
    """``mask`` (HxW, nonzero on a lesion) grown by ``radius`` px: HxW bool."""
    outside = np.ascontiguousarray(mask == 0).astype(np.uint8)
    if outside.all():
        return np.zeros(mask.shape, bool)
    distance = cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return distance <= radius


def peak(heat: np.ndarray) -> tuple[int, int] | None:
    """``(row, column)`` of the map's maximum (the middle of a tie); None for a flat 0 map."""
    top = float(heat.max())
    if top <= 0:
        return None
    rows, cols = np.nonzero(heat >= top * (1 - _TIE))
    return round(float(rows.mean())), round(float(cols.mean()))


def is_hit(heat: np.ndarray, mask: np.ndarray, radius: float) -> bool:
    """True when the map's maximum is within ``radius`` px of the mask."""
    if heat.shape != mask.shape:
        raise ValueError(f"map {heat.shape} and mask {mask.shape} differ in size")
    point = peak(heat)
    return point is not None and bool(grown(mask, radius)[point])


def random_point_rate(mask: np.ndarray, radius: float) -> float:
    """The chance that a uniformly random pixel hits ``mask`` grown by ``radius``."""
    return float(grown(mask, radius).mean())


@dataclass(frozen=True)
class PointingGame:
    hits: int
    photos: int
    baseline: float  # the mean random-point rate over the same photos

    @property
    def rate(self) -> float:
        return self.hits / self.photos if self.photos else float("nan")

    def to_json(self) -> dict[str, float | int]:
        return {"rate": self.rate, "hits": self.hits, "photos": self.photos,
                "baseline": self.baseline}  # fmt: skip

    def line(self) -> str:
        return (
            f"pointing game: {self.rate:.2f} of {self.photos} photos "
            f"vs {self.baseline:.2f} for a random point"
        )


def pointing_game(
    pairs: Iterable[tuple[np.ndarray, np.ndarray]], radius: float | None = None
) -> PointingGame:
    """Score ``(heat, mask)`` pairs; ``radius`` None: :func:`radius_for` each photo's height.

    Pairs whose mask is empty (nothing drawn) are left out: there is nothing to point at.
    """
    hits, photos, chances = 0, 0, []
    for heat, mask in pairs:
        if not np.any(mask):
            continue
        r = radius_for(mask.shape[0]) if radius is None else radius
        hits += is_hit(heat, mask, r)
        photos += 1
        chances.append(random_point_rate(mask, r))
    return PointingGame(hits, photos, float(np.mean(chances)) if chances else float("nan"))
