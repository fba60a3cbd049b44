"""Train the arbitrary-style decoder and register it.

    make train-arbitrary                                    # demo photos, generated paintings
    make train-arbitrary PHOTOS=~/coco/train2017 STYLES=~/wikiart/train
    python -m style_transfer train-arbitrary --resume runs/style_transfer/<stamp>-train-arbitrary
    make stylize METHOD=arbitrary STYLE_IMAGE=painting.jpg  # then: any painting, one pass

    from style_transfer.arbitrary.train import train_arbitrary
    from style_transfer.arbitrary.recipe import ArbitraryRequest, ArbitrarySettings
    train_arbitrary(ArbitraryRequest(ArbitrarySettings(photos="~/coco")))

A run folder (``runs/style_transfer/<stamp>-train-arbitrary/``) gets config.json,
checkpoints/last.pt every 100 steps and at the end (exact resume after a kill), plots/curves.png,
plots/sheet.png (held-out photos under paintings from the held-out generated stream) and the
decoder (``decoder.safetensors``, fp16). It is then registered where
:func:`~style_transfer.arbitrary.model_file.find_decoder` looks first, unless ``out`` names
another file.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from shared.contact_sheet import save_image_grid
from shared.device import describe, pick_device
from shared.engine import TrainConfig, Trainer
from shared.engine.resume import grown_plan
from shared.errors import UserError
from shared.rng import seed_everything
from shared.runs import RunPaths, check_new_run_dir, new_run_dir, read_config, write_config
from shared.threads import choose_threads, cpu_threads, resumed_threads
from style_transfer.arbitrary.data import training_pairs
from style_transfer.arbitrary.decoder import Decoder, DecoderConfig
from style_transfer.arbitrary.encoder import ENCODERS, build_encoder, resolve_encoder
from style_transfer.arbitrary.loss import AdaINLoss
from style_transfer.arbitrary.model_file import save_decoder, user_decoder_path
from style_transfer.arbitrary.net import ArbitraryNet
from style_transfer.arbitrary.recipe import ArbitraryRequest, ArbitrarySettings, recipe_command
from style_transfer.images import skimage_photo, to_tensor
from style_transfer.outputs import APP
from style_transfer.styles.painters.corpus import HELD_OUT_SEED, GeneratedStyles

DECODER_FILE = "decoder.safetensors"
SHEET_PHOTOS = ("astronaut", "coffee", "chelsea")  # scikit-image photos, uncropped
SHEET_STYLES = 3


@dataclass
class ArbitraryJob:
    settings: ArbitrarySettings
    trainer: Trainer
    encoder: torch.nn.Module
    run: RunPaths
    threads: int | None


def new_training(
    settings: ArbitrarySettings,
    train: TrainConfig,
    *,
    run: str | Path | None = None,
    device: str = "auto",
    verbose: bool = True,
) -> ArbitraryJob:
    """Check the input, then make the run folder (bad input leaves nothing behind)."""
    if run is not None:
        check_new_run_dir(run)
    settings = replace(settings, encoder=resolve_encoder(settings.encoder))
    pairs = training_pairs(settings, train.seed)
    pairs[0]  # unreadable folders fail here, before the run folder exists
    settings.n_photos, settings.n_styles = len(pairs.photos), len(pairs.paintings)  # type: ignore[arg-type]
    train = replace(train, threads=choose_threads(train.threads))
    run_dir = new_run_dir(APP, "train-arbitrary", run=run)
    write_config(
        run_dir,
        {
            "app": APP,
            "recipe": recipe_command(settings, train),
            "arbitrary": asdict(settings),
            "train": train.to_dict(),
            "device": device,
        },
    )
    return _job(run_dir, settings, train, pick_device(device), verbose, train.threads)


def resume_training(
    run: str | Path,
    *,
    device: str | None = None,
    threads: int | None = None,
    epochs: int | None = None,
    verbose: bool = True,
) -> ArbitraryJob:
    """The run in ``run`` rebuilt from its config.json, with its recorded thread count;
    ``epochs`` above the planned count continues it that far (recorded, recipe included)."""
    config = read_config(run)
    if "arbitrary" not in config:
        raise UserError(f"{run} is not a decoder-training run (no 'arbitrary' in config.json)")
    settings = ArbitrarySettings.from_dict(config["arbitrary"])
    train = grown_plan(run, config, epochs)
    pairs = training_pairs(settings, train.seed)
    found = (len(pairs.photos), len(pairs.paintings))  # type: ignore[arg-type]
    if found != (settings.n_photos, settings.n_styles):
        raise UserError(
            f"the training folders now hold {found[0]} photos and {found[1]} paintings, the run "
            f"started with {settings.n_photos} and {settings.n_styles}: an exact resume needs the "
            "same ones"
        )
    count = resumed_threads(train.threads, threads)
    return _job(Path(run), settings, train, pick_device(device or config["device"]), verbose, count)


def _job(
    run_dir: Path,
    settings: ArbitrarySettings,
    train: TrainConfig,
    device: torch.device,
    verbose: bool,
    threads: int | None,
) -> ArbitraryJob:
    spec = ENCODERS[settings.encoder]
    with cpu_threads(threads) as threads:
        encoder = build_encoder(settings.encoder, device)
        seed_everything(train.seed)  # the initial weights are part of the recipe
        decoder = Decoder(DecoderConfig(spec.channels, settings.widths))  # type: ignore[arg-type]
        loss = AdaINLoss(
            encoder,
            spec,
            style_weight=settings.style_weight,
            own_style_share=settings.own_style_share,
            reconstruction_weight=settings.reconstruction_weight,
            photo_weight=settings.photo_weight,
        )
        pairs = training_pairs(settings, train.seed)
        trainer = Trainer(
            decoder, pairs, config=train, run_dir=run_dir, device=device, step_fn=loss,
            verbose=verbose, arch="adain-decoder",
        )  # fmt: skip
        if verbose:
            photos = settings.photos or f"demo set ({len(pairs.photos)} crops)"  # type: ignore[arg-type]
            styles = settings.styles or f"generated corpus ({len(pairs.paintings)} paintings)"  # type: ignore[arg-type]
            print(
                f"decoder for {encoder.describe()}: photos {photos}, paintings {styles}, "
                f"{settings.image_size} px; {describe(device)}; run {run_dir}",
                flush=True,
            )
    return ArbitraryJob(settings, trainer, encoder, RunPaths(run_dir), threads)


def registered_path(settings: ArbitrarySettings) -> Path:
    return Path(settings.out) if settings.out else user_decoder_path()


def finish(job: ArbitraryJob) -> tuple[Path, Path]:
    """Save the decoder in the run folder and register it; returns (run copy, registered)."""
    trainer = job.trainer
    last = trainer.history[-1] if trainer.history else {}
    meta = {
        "encoder": job.settings.encoder,
        "recipe": trainer.run_config.get("recipe", ""),
        "settings": {k: v for k, v in asdict(job.settings).items() if k != "out"},
        "train": trainer.config.to_dict(),
        "steps": trainer.step,
        "loss_network": job.encoder.describe(),
        "final": {k: round(float(v), 6) for k, v in last.items()},
    }
    decoder = trainer.model
    in_run = save_decoder(job.run.root / DECODER_FILE, decoder, meta)  # type: ignore[arg-type]
    registered = save_decoder(registered_path(job.settings), decoder, meta)  # type: ignore[arg-type]
    write_sheet(job, job.run.plot("sheet"))
    return in_run, registered


def write_sheet(job: ArbitraryJob, path: Path, side: int = 256) -> Path:
    """Held-out photos (rows) under held-out generated paintings (columns)."""
    net = ArbitraryNet(job.encoder, job.trainer.model, job.settings.encoder).eval()  # type: ignore[arg-type]
    paintings = GeneratedStyles(SHEET_STYLES, side, seed=HELD_OUT_SEED)
    images, titles = [torch.zeros(3, side, side)], [""]
    images += [paintings[j] for j in range(SHEET_STYLES)]
    titles += [f"held-out style {j}" for j in range(SHEET_STYLES)]
    device = next(net.decoder.parameters()).device
    for name in SHEET_PHOTOS:
        photo = to_tensor(skimage_photo(name))
        photo = torch.nn.functional.interpolate(photo[None], size=(side, side), mode="area")[0]
        images.append(photo)
        titles.append(name)
        for j in range(SHEET_STYLES):
            net.set_styles([paintings[j]])
            with torch.no_grad():
                images.append(net(photo[None].to(device))[0].float().cpu())
            titles.append("")
    job.trainer.model.train()
    return save_image_grid(images, path, titles=titles, ncol=SHEET_STYLES + 1, cell_inches=2.5)


def train_arbitrary(request: ArbitraryRequest, *, verbose: bool = True) -> tuple[Path, Path]:
    """The ``train-arbitrary`` command: train (or resume), save and register the decoder."""
    if request.resume is not None:
        print(f"resuming {request.resume} with its own settings (config.json)", flush=True)
        job = resume_training(
            request.resume, threads=request.threads, epochs=request.epochs, verbose=verbose
        )
    else:
        train = replace(request.training.train_config(), threads=request.threads)
        job = new_training(
            request.settings, train, run=request.run, device=request.device, verbose=verbose
        )
    start = time.perf_counter()
    with cpu_threads(job.threads):
        job.trainer.fit(resume=request.resume is not None)
        in_run, registered = finish(job)
    minutes = (time.perf_counter() - start) / 60
    print(f"{job.trainer.step} steps, this session {minutes:.1f} min; decoder {in_run}")
    print(
        f"registered: {registered}; use it: make stylize METHOD=arbitrary STYLE_IMAGE=painting.jpg"
    )
    return in_run, registered
