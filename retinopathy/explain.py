"""Why this grade: Grad-CAM heat maps of a grader's decision, laid over the photo it graded.

    from retinopathy.explain import Explainer, overlay
    explainer = Explainer(load_run_model(run_dir))      # "grade", or target="referable"
    seen = explainer.explain("photo.jpeg")               # photo (HxWx3), heat (HxW, 0..1), ...
    rgb = overlay(seen.photo, seen.heat)                 # the map blended with the photo

**Method.** Grad-CAM (Selvaraju et al., "Grad-CAM: visual explanations from deep networks via
gradient-based localization", ICCV 2017): the gradient of the target with respect to the feature
maps of the backbone's last convolutional stage, averaged over the grid, weights those maps; their
weighted sum, negative parts set to 0, is the map. Targets: ``grade``, the raw output (logit) of
the predicted class (or the class given, e.g. a CSV's grade after eye fusion); ``referable``, the
probability of a referable grade (the sum of the task's referable classes' probabilities). A head
whose outputs are not K logits (regression, ordinal) passes ``probabilities`` and ``score``.

**Why captum.** It is maintained by the PyTorch team (``pytorch/captum``), it works with any
``nn.Module`` as it is (no wrapper model, no re-implementation per architecture), and its layer
attribution API takes the layer to attribute to as a module (:class:`LayerGradCam`), so one
function covers every backbone here; the same API offers Integrated Gradients, occlusion and
Guided Grad-CAM if a finer map is ever needed. It is an optional dependency (the ``explain``
extra); without it ``predict --explain`` stops in one line and the report says so.

**Which layer.** :func:`target_layer` runs one forward pass with hooks and takes the last module
to finish that contains a convolution, returns a 4-D feature map, and is neither the classifier
head nor holds it: ``layer4`` of the ResNets, ``Mixed_7c`` of Inception v3, ``features`` of VGG,
AlexNet and SqueezeNet (whose head is itself a convolution), ``head`` of EfficientNet-Lite0.

**Maps.** The Grad-CAM grid (7x7 for a 224 px ResNet input, 3x3 at 96 px) is resized bilinearly
to the square the model saw, placed where that square lies in the photo (0 outside it), and
divided by its maximum: 0..1 at the photo's own size (all 0 when nothing speaks for the target).
The overlay blends matplotlib's ``jet`` colours into the photo with opacity ``0.6 x heat``: the
photo shows through where the map is cold.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from torch import nn

from retinopathy.config import EXPLAIN_TARGETS
from retinopathy.data.augment import eval_transform
from retinopathy.data.preprocess import graham, locate_eye, read_photo, square_crop
from retinopathy.grading import scored
from retinopathy.heads import CumulativeLogits
from retinopathy.models import KeptModel, load_run_model
from shared import backbones
from shared.atomic import atomic_write_bytes
from shared.device import pick_device
from shared.errors import UserError

INSTALL = "pip install captum"
OVERLAY_ALPHA = 0.6  # the opacity of the colours where the map is at its maximum
COLORMAP = "jet"
EXPLAIN_DIR = "explain"  # beside predict's CSV: one overlay per photo
Outputs = Callable[[torch.Tensor], torch.Tensor]


class CaptumMissing(UserError):
    """captum is not installed: no heat maps."""


def require_captum():
    """captum's LayerGradCam, or :class:`CaptumMissing` naming the install command."""
    try:
        from captum.attr import LayerGradCam
    except ImportError:
        raise CaptumMissing(f"heat maps need captum: {INSTALL}") from None
    return LayerGradCam


def target_layer(
    model: nn.Module, example: torch.Tensor, exclude: Sequence[str] = ()
) -> tuple[str, nn.Module]:
    """``(name, module)``: the last convolutional stage a forward pass of ``example`` runs.

    The last module to finish that contains an ``nn.Conv2d``, outputs a 4-D tensor and is not one
    of the ``exclude`` modules (the classifier head), inside one, or holding one.
    """

    def related(name: str) -> bool:
        return any(
            name == e or e.startswith(f"{name}.") or name.startswith(f"{e}.") for e in exclude
        )

    def recorder(name: str):
        def record(_module: nn.Module, _inputs, out) -> None:
            if torch.is_tensor(out) and out.ndim == 4:
                finished.append(name)

        return record

    finished: list[str] = []
    hooks = []
    for name, module in model.named_modules():
        convolves = any(isinstance(m, nn.Conv2d) for m in module.modules())
        if name and convolves and not related(name):
            hooks.append(module.register_forward_hook(recorder(name)))
    try:
        with torch.no_grad():
            model(example)
    finally:
        for hook in hooks:
            hook.remove()
    if not finished:
        raise UserError(
            f"{type(model).__name__} has no convolutional layer to attribute a heat map to"
        )
    return finished[-1], model.get_submodule(finished[-1])


def grad_cam(
    forward: Outputs | nn.Module,
    layer: nn.Module,
    images: torch.Tensor,
    target: torch.Tensor | int | None = None,
) -> np.ndarray:
    """Grad-CAM grids (N, h, w) at ``layer``'s resolution, negative parts 0 (captum's).

    ``target``: the output column per image (class indices), or None where ``forward`` gives one
    number per image.
    """
    cam = require_captum()(forward, layer)
    with torch.enable_grad():
        grids = cam.attribute(images, target=target, relu_attributions=True)
    return grids.detach().float().cpu().numpy()[:, 0]


def to_photo(grid: np.ndarray, square: tuple[int, int, int], shape: tuple[int, int]) -> np.ndarray:
    """A Grad-CAM ``grid`` on the ``(x0, y0, side)`` square -> an HxW map of the photo, 0..1."""
    x0, y0, side = square
    height, width = shape
    big = cv2.resize(grid.astype(np.float32), (side, side), interpolation=cv2.INTER_LINEAR)
    heat = np.zeros((height, width), np.float32)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + side, width), min(y0 + side, height)
    if sx1 > sx0 and sy1 > sy0:
        heat[sy0:sy1, sx0:sx1] = big[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0]
    np.maximum(heat, 0, out=heat)
    peak = heat.max()
    return heat / peak if peak > 0 else heat


def overlay(photo: np.ndarray, heat: np.ndarray, alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """The photo (HxWx3 uint8 RGB) with the map's colours blended in, opacity ``alpha x heat``."""
    import matplotlib

    colours = matplotlib.colormaps[COLORMAP](heat)[..., :3].astype(np.float32) * 255
    weight = (alpha * heat)[..., None].astype(np.float32)
    blended = photo.astype(np.float32) * (1 - weight) + colours * weight
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)


@dataclass
class Explained:
    """One photo's map: the photo as read (RGB), the map (0..1, the photo's size), the class
    probabilities, and the class the map is for (None for the referable score)."""

    photo: np.ndarray
    heat: np.ndarray
    probs: np.ndarray
    target: int | None


class Explainer:
    """Grad-CAM maps of a run's kept model on photos, preprocessed as its training photos were."""

    def __init__(
        self,
        kept: KeptModel,
        target: str = "grade",
        *,
        probabilities: Outputs | None = None,
        score: Outputs | None = None,
        device: torch.device | None = None,
    ) -> None:
        if target not in EXPLAIN_TARGETS:
            raise UserError(f"--explain is one of {', '.join(EXPLAIN_TARGETS)}, not {target!r}")
        require_captum()
        config = kept.config
        self.model = kept.model.eval() if device is None else kept.model.eval().to(device)
        self.device = next(self.model.parameters()).device
        self.size, self.mode = config.data.image_size, config.data.mode
        self.transform = eval_transform(self.size, config.mean, config.std)
        self.target = target
        self.referable = list(config.grading.referable_classes)
        head = kept.head
        self.probabilities = probabilities or head.probabilities
        # a regress or ordinal head's grade is its score cut at cut points: the map is the score's
        self.score = score if score is not None or not scored(head.name) else head.score
        example = torch.zeros(1, 3, self.size, self.size, device=self.device)
        classifier = backbones.get_spec(config.arch).head
        if isinstance(self.model, CumulativeLogits):  # the ordinal head wraps the backbone
            classifier = tuple(f"backbone.{name}" for name in classifier)
        self.layer_name, self.layer = target_layer(self.model, example, classifier)

    def _forward(self) -> Outputs:
        if self.target == "referable":
            return lambda x: self.probabilities(self.model(x).float())[:, self.referable].sum(1)
        if self.score is not None:
            return lambda x: self.score(self.model(x).float())
        return self.model

    def attribute(
        self, images: torch.Tensor, classes: Sequence[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray, list[int | None]]:
        """Grad-CAM grids (N, h, w), class probabilities (N, K) and the class each map is for."""
        images = images.to(self.device)
        with torch.no_grad():
            outputs = self.model(images).float()
        probs = self.probabilities(outputs).cpu().numpy()
        target = None
        targets: list[int | None] = [None] * len(images)
        if self.target == "grade" and self.score is None:
            targets = list(probs.argmax(1) if classes is None else classes)
            target = torch.as_tensor([int(k) for k in targets], device=self.device)
        return grad_cam(self._forward(), self.layer, images, target), probs, targets

    def _attribute_one(self, rgb: np.ndarray, grade: int | None):
        batch = self.transform(torch.from_numpy(rgb).permute(2, 0, 1))[None]
        return self.attribute(batch, None if grade is None else [grade])

    def explain_seen(self, rgb: np.ndarray, grade: int | None = None) -> Explained:
        """The map of a photo as the model sees it (a prepared set's item, RGB), its size."""
        grids, probs, targets = self._attribute_one(rgb, grade)
        heat = to_photo(grids[0], (0, 0, rgb.shape[0]), rgb.shape[:2])
        return Explained(rgb, heat, probs[0], targets[0])

    def explain(self, path: str | Path, grade: int | None = None) -> Explained:
        """The map of the photo at ``path`` for class ``grade`` (None: the predicted class)."""
        image, factor, square, _ = locate_eye(path, self.size)
        seen = square_crop(image, square, self.size)
        seen = graham(seen) if self.mode == "graham" else seen
        grids, probs, targets = self._attribute_one(np.ascontiguousarray(seen[..., ::-1]), grade)
        full = image if factor == 1 else read_photo(path, self.size, reduce=False)[0]
        scale = full.shape[0] / image.shape[0]
        x0, y0, side = (round(v * scale) for v in square)
        heat = to_photo(grids[0], (x0, y0, max(side, 1)), full.shape[:2])
        return Explained(np.ascontiguousarray(full[..., ::-1]), heat, probs[0], targets[0])


def write_png(path: Path, rgb: np.ndarray) -> Path:
    """An RGB image as PNG, whole or not at all."""
    ok, png = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:
        raise OSError(f"cannot encode {path}")
    atomic_write_bytes(path, png.tobytes())
    return path


def overlay_names(paths: Sequence[str | Path]) -> list[str]:
    """``explain/<stem>.png`` per photo, ``<stem>-2`` and on for a name already taken."""
    taken: set[str] = set()
    names = []
    for path in paths:
        stem, k = Path(path).stem, 1
        name = f"{EXPLAIN_DIR}/{stem}.png"
        while name in taken:
            k += 1
            name = f"{EXPLAIN_DIR}/{stem}-{k}.png"
        taken.add(name)
        names.append(name)
    return names


def explain_predictions(
    run_dir: Path, frame: pd.DataFrame, csv: Path, target: str = "grade", device: str = "auto"
) -> pd.DataFrame:
    """Write an overlay per graded photo beside ``csv``; the frame with an ``explain`` column.

    Each map is for the photo's row grade (``target="grade"``: after any eye fusion, the grade
    the CSV gives) or for the referable score. Nothing is written when the explainer cannot be
    built (captum missing, no convolution in the network).
    """
    explainer = Explainer(load_run_model(Path(run_dir)), target, device=pick_device(device))
    names = overlay_names(frame["path"])
    for path, grade, name in zip(frame["path"], frame["grade"], names, strict=True):
        seen = explainer.explain(path, int(grade) if target == "grade" else None)
        write_png(Path(csv).parent / name, overlay(seen.photo, seen.heat))
    print(f"{len(names)} heat maps ({target}) -> {Path(csv).parent / EXPLAIN_DIR}")
    return frame.assign(explain=names)
