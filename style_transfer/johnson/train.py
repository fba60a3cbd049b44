"""Train a feed-forward style network (Johnson et al. 2016) and register it under the style's name.

    make train-style STYLE=starry DATA=~/coco/train2017    # the paper's recipe: 2 epochs of COCO
    make train-style STYLE=monet STYLE_IMAGE=monet.jpg DATA=~/photos
    make train-style STYLE=monet STYLE_IMAGE=monet.jpg     # no DATA: a demo set of sample photos
    python -m style_transfer train --resume runs/style_transfer/<stamp>-train-monet
    make stylize STYLE=monet                               # then: one pass per photo

    from style_transfer.johnson.train import train_style
    from style_transfer.johnson.recipe import JohnsonSettings, TrainRequest
    train_style(TrainRequest(JohnsonSettings("monet"), style_image=Path("monet.jpg")))
    train_style(TrainRequest(resume=Path("runs/style_transfer/<stamp>-train-monet")))

    from style_transfer.johnson.train import fit, finish, new_training   # step by step
    job = new_training(JohnsonSettings("monet"), TrainConfig(epochs=2, batch_size=4),
                       style_image="monet.jpg")
    fit(job); run_copy, registered = finish(job)

Everything lands in a run folder (``runs/style_transfer/<stamp>-train-<style>/``): config.json,
the style image as used (style.png, so the run can be resumed alone), checkpoints/last.pt every
500 batches and at each epoch end (exact resume after a kill), plots/preview-<step>.png (training
photos beside their stylised versions) and plots/curves.png, and the finished model
``<style>.safetensors`` (fp16). The model is then registered: copied to the user's styles
(:func:`style_transfer.styles.user_style_dir`, with the style image) unless ``out`` names
another file, and ``make stylize STYLE=<style>`` picks it up.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from shared.device import DEFAULT_DEVICE, describe, pick_device
from shared.engine import Callback, TrainConfig, Trainer
from shared.engine.resume import grown_plan
from shared.errors import UserError
from shared.image_files import list_images
from shared.rng import seed_everything
from shared.runs import RunPaths, check_new_run_dir, new_run_dir, read_config, write_config
from shared.threads import choose_threads, cpu_threads, resumed_threads
from style_transfer.images import fit_size, read_image, resize, write_image
from style_transfer.johnson.loss import PerceptualLoss, build_perceptual_loss, resolve_loss_backbone
from style_transfer.johnson.model_file import save_model
from style_transfer.johnson.net import NetConfig, TransformerNet
from style_transfer.johnson.photos import DemoPhotos, PhotoFolder
from style_transfer.johnson.previews import PreviewSheet, preview_photos
from style_transfer.johnson.recipe import (
    JohnsonSettings,
    TrainRequest,
    recipe_command,
)
from style_transfer.johnson.temporal_loss import random_motion, temporal_loss, warp
from style_transfer.outputs import APP
from style_transfer.styles import BUNDLED, STYLE_SIDE, get_style, user_style_dir

STYLE_FILE = "style.png"  # the style image as trained on, inside the run folder


class Speed(Callback):
    """Optimiser steps and seconds of this session (a resumed run counts from where it was)."""

    def __init__(self) -> None:
        self.start, self.first_step, self.steps, self.seconds = 0.0, 0, 0, 0.0

    def on_fit_start(self, trainer: Trainer) -> None:
        self.start, self.first_step = time.perf_counter(), trainer.step

    def on_fit_end(self, trainer: Trainer, rows: list[dict[str, Any]]) -> None:
        self.steps = trainer.step - self.first_step
        self.seconds = time.perf_counter() - self.start

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds if self.seconds else 0.0


@dataclass
class Job:
    """A training run ready to go: :func:`fit`, then :func:`finish`."""

    settings: JohnsonSettings
    trainer: Trainer
    loss: PerceptualLoss
    run: RunPaths
    speed: Speed
    threads: int | None  # CPU threads it computes with (the run's recorded count)


# ----------------------------------------------------------------------------- pieces


def training_photos(settings: JohnsonSettings) -> Dataset:
    if settings.data is None:
        return DemoPhotos(settings.demo_images, settings.image_size)
    return PhotoFolder(list_images(settings.data, recursive=True), settings.image_size)


def johnson_step(loss: PerceptualLoss, temporal_weight: float = 0.0):
    """The engine's ``step_fn``: stylise the batch, score it against itself and the style; with
    ``temporal_weight``, also stylise it moved by a known motion and penalise the two results'
    disagreement (:mod:`~style_transfer.johnson.temporal_loss`)."""

    def step(model: nn.Module, photos: torch.Tensor):
        stylised = model(photos)
        total, logs = loss(photos, stylised)
        if not temporal_weight:
            return total, logs
        # the engine's generator: seeded, and restored on resume, like the batches' order
        motion = random_motion(photos.shape[0], photos.shape[-2:], device=photos.device)
        moved = model(warp(photos, motion))
        temporal = temporal_weight * temporal_loss(stylised, moved, motion)
        return total + temporal, {**logs, "temporal": temporal.detach()}

    return step


def style_target(image: torch.Tensor, settings: JohnsonSettings) -> torch.Tensor:
    return resize(image, fit_size(*image.shape[-2:], settings.style_size))


# ----------------------------------------------------------------------------- runs


def new_training(
    settings: JohnsonSettings,
    train: TrainConfig,
    *,
    style_image: str | Path | None = None,
    run: str | Path | None = None,
    device: str = DEFAULT_DEVICE,
    recipe: str = "",
    callbacks: tuple[Callback, ...] = (),
    verbose: bool = True,
) -> Job:
    """Check the input, then make the run folder (bad input leaves nothing behind).

    ``recipe``: the command that reproduces the run, kept in config.json and the model file.
    A ``run`` folder that exists must be empty (:func:`shared.runs.check_new_run_dir`).
    ``train.threads`` None: chosen by load now; the count is recorded and a resume reuses it.
    """
    if run is not None:
        check_new_run_dir(run)
    if settings.style in BUNDLED and style_image is not None:
        raise UserError(
            f"{settings.style!r} is a bundled style; train your image under another name"
        )
    compute_on = pick_device(device)
    style = get_style(settings.style, image=style_image)
    image = read_image(style.image_path)
    data = training_photos(settings)
    data[0]  # a folder of unreadable files fails here, before the run folder exists
    settings.backbone = _loss_backbone(settings.backbone)
    settings.n_photos = len(data)  # type: ignore[arg-type]
    train = replace(train, threads=choose_threads(train.threads))
    run_dir = new_run_dir(APP, f"train-{settings.style}", run=run)
    write_image(image, run_dir / STYLE_FILE)
    write_config(
        run_dir,
        {
            "app": APP,
            "recipe": recipe,
            "johnson": asdict(settings),
            "train": train.to_dict(),
            "device": device,
        },
    )
    return _job(run_dir, settings, train, data, compute_on, callbacks, verbose, train.threads)


def resume_training(
    run: str | Path,
    *,
    device: str | None = None,
    threads: int | None = None,
    epochs: int | None = None,
    callbacks: tuple[Callback, ...] = (),
    verbose: bool = True,
) -> Job:
    """The run in ``run`` rebuilt from its config.json and style image, ready to resume.

    It computes with the run's recorded thread count (``threads`` only for a run that recorded
    none): the style's Gram targets and every step's reductions depend on it. ``epochs`` above
    the planned count continues it that far (recorded, recipe included)."""
    config = read_config(run)
    if "johnson" not in config:
        raise UserError(f"{run} is not a style-training run (no 'johnson' section in config.json)")
    compute_on = pick_device(device or config["device"])
    settings = JohnsonSettings.from_dict(config["johnson"])
    data = training_photos(settings)
    if len(data) != settings.n_photos:  # type: ignore[arg-type]
        raise UserError(
            f"{settings.data} now holds {len(data)} images, the run started with "  # type: ignore[arg-type]
            f"{settings.n_photos}; an exact resume needs the same photos"
        )
    train = grown_plan(run, config, epochs)
    count = resumed_threads(train.threads, threads)
    return _job(Path(run), settings, train, data, compute_on, callbacks, verbose, count)


def _loss_backbone(name: str) -> str:
    try:
        return resolve_loss_backbone(name)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _job(
    run_dir: Path,
    settings: JohnsonSettings,
    train: TrainConfig,
    data: Dataset,
    device: torch.device,
    callbacks: tuple[Callback, ...],
    verbose: bool,
    threads: int | None,
) -> Job:
    paths = RunPaths(run_dir)
    with cpu_threads(threads) as threads:  # the Gram targets are float reductions too
        loss = _perceptual_loss(read_image(paths.root / STYLE_FILE), settings, device)
        seed_everything(train.seed)  # the initial weights are part of the recipe
        model = TransformerNet(NetConfig(settings.widths, settings.residual_blocks))
        preview, speed = PreviewSheet(preview_photos(data), settings.preview_every), Speed()
        trainer = Trainer(
            model,
            data,
            config=train,
            run_dir=run_dir,
            device=device,
            step_fn=johnson_step(loss, settings.temporal_weight),
            callbacks=(preview, speed, *callbacks),
            verbose=verbose,
        )
        if verbose:  # in the block: the device's description names the thread count
            source = settings.data or f"demo set ({len(data)} crops of sample photos)"  # type: ignore[arg-type]
            print(
                f"style {settings.style!r}: {len(data)} photos at {settings.image_size} px from "  # type: ignore[arg-type]
                f"{source}; loss network {loss.net.describe()}; {describe(device)}; run {run_dir}",
                flush=True,
            )
    return Job(settings, trainer, loss, paths, speed, threads)


def _perceptual_loss(
    style: torch.Tensor, settings: JohnsonSettings, device: torch.device
) -> PerceptualLoss:
    return build_perceptual_loss(
        style_target(style, settings),
        backbone=settings.backbone,
        pooling=settings.pooling,
        device=device,
        content_weight=settings.content_weight,
        style_weight=settings.style_weight,
        tv_weight=settings.tv_weight,
        layer_weights=settings.style_layer_weights,
    )


def fit(job: Job, resume: bool = False) -> Speed:
    """Train (or continue from the last checkpoint); this session's steps and seconds."""
    with cpu_threads(job.threads):
        job.trainer.fit(resume=resume)
    return job.speed


def registered_path(settings: JohnsonSettings) -> Path:
    if settings.out:
        return Path(settings.out)
    return user_style_dir() / f"{settings.style}.safetensors"


def finish(job: Job, recipe: str = "") -> tuple[Path, Path]:
    """Save the model in the run folder, then register it; returns (run copy, registered)."""
    s, trainer = job.settings, job.trainer
    last = trainer.history[-1] if trainer.history else {}
    meta = {
        "style": s.style,
        "recipe": recipe,
        # where the file was written is not part of the recipe, and would leak a local path
        "settings": {k: v for k, v in asdict(s).items() if k != "out"},
        "train": trainer.config.to_dict(),
        "steps": trainer.step,
        "epochs": trainer.epoch,
        "loss_network": job.loss.net.describe(),
        "final": {k: round(float(v), 6) for k, v in last.items()},
    }
    in_run = save_model(job.run.root / f"{s.style}.safetensors", trainer.model, meta)
    target = save_model(registered_path(s), trainer.model, meta)
    if s.out is None and s.style not in BUNDLED:
        # the style image travels with the model: STYLE=<name> alone then works everywhere
        style = read_image(job.run.root / STYLE_FILE)
        side = fit_size(*style.shape[-2:], STYLE_SIDE)
        write_image(resize(style, side), target.with_suffix(".jpg"))
    return in_run, target


# ----------------------------------------------------------------------------- the command


def train_style(
    request: TrainRequest, *, callbacks: tuple[Callback, ...] = (), verbose: bool = True
) -> tuple[Path, Path]:
    """The ``train`` command: train (or resume), save the model and register it; returns
    (the run folder's copy, the registered file)."""
    job = _started(request, callbacks, verbose)
    speed = fit(job, resume=request.resume is not None)
    with cpu_threads(job.threads):
        in_run, registered = finish(job, recipe=job.trainer.run_config.get("recipe", ""))
        exported = _export(job, in_run, request.export)
    row = job.trainer.history[-1] if job.trainer.history else {}
    losses = ", ".join(f"{k[6:]} {row[k]:.4g}" for k in row if k.startswith("train_"))
    print(
        f"{speed.steps} steps in {speed.seconds / 60:.1f} min ({speed.steps_per_second:.2f} it/s, "
        f"batch {job.trainer.config.batch_size}); last epoch: {losses}"
    )
    print(f"model: {in_run} ({in_run.stat().st_size / 2**20:.1f} MB, fp16)")
    if exported is not None:
        print(f"{request.export}: {exported}")
    print(f"registered: {registered}; use it with: make stylize STYLE={job.settings.style}")
    return in_run, registered


def _started(request: TrainRequest, callbacks: tuple[Callback, ...], verbose: bool) -> Job:
    if request.resume is not None:
        print(f"resuming {request.resume} with its own settings (config.json)", flush=True)
        device = None if request.device == DEFAULT_DEVICE else request.device
        return resume_training(
            request.resume,
            device=device,
            threads=request.threads,
            epochs=request.training.epochs,
            callbacks=callbacks,
            verbose=verbose,
        )
    # resolved first: the recipe names the network actually used, and the thread count
    settings = replace(request.settings, backbone=_loss_backbone(request.settings.backbone))
    on_photos = settings.data is not None
    train = request.training.train_config(on_photos=on_photos)
    train = replace(train, threads=choose_threads(request.threads))
    return new_training(
        settings,
        train,
        style_image=request.style_image,
        run=request.run,
        device=request.device,
        recipe=recipe_command(replace(request, settings=settings), train),
        callbacks=callbacks,
        verbose=verbose,
    )


def _export(job: Job, model_path: Path, export: str | None) -> Path | None:
    if export is None:
        return None
    from style_transfer.johnson.export import export_onnx  # onnx only when asked

    return export_onnx(job.trainer.model, model_path.with_suffix(".onnx"))
