"""The retinopathy app's settings as dataclasses: every default the app has is written here.

    from retinopathy.config import DataConfig, RunConfig
    config = RunConfig.from_options(arch="resnet50", image_size=256, sampling="balanced")
    config.train                     # the engine's TrainConfig, with the DR recipe applied

The engine's own settings and their defaults (batch size, learning rate, momentum, the plateau's
patience and factor, which optimisers and schedulers exist) belong to
:class:`shared.engine.TrainConfig`. This module adds only what the DR recipe chooses on top of
them: a plateau scheduler on the metric that picks the kept model, weight decay 5e-4 with SGD,
and small, quick settings on the built-in sample set against the reports' sizes on real data.

A run's config is stored once, as the run's ``config.json`` (:meth:`RunConfig.to_json`), and
read back from there by resume, evaluate and predict (:func:`read_run_config`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from retinopathy.config_checks import (
    check_bootstrap,
    class_weights_option,
    cut_points_option,
    pretrained_choice,
    sampling_exponent,
)
from retinopathy.data.pooled import SOURCE_SEPARATOR, SYNTHETIC, source_paths
from retinopathy.data.preprocess import check_size
from retinopathy.data.splits import check_shares
from retinopathy.heads import DEFAULT_HEAD, make_head
from retinopathy.operating_points import SENS_TARGET, SPEC_TARGET, check_target
from retinopathy.tasks import Task, get_task
from retinopathy.uncertainty import N_RESAMPLES
from shared import backbones
from shared.device import DEFAULT_DEVICE
from shared.engine import TrainConfig
from shared.errors import UserError
from shared.runs import read_config

APP = "retinopathy"
EXPLAIN_TARGETS = ("grade", "referable")  # what predict --explain's maps are for
DEFAULT_ARCH = "resnet18"
# The validation metric that picks the kept model, and which direction is better.
SELECT = {"val_loss": "min", "val_qwk": "max", "val_f1": "max", "val_acc": "max"}
# The sample set is sized to train in minutes on a laptop CPU; real data gets the reports' sizes.
SAMPLE_SET = {"image_size": 96, "epochs": 5}
REAL_DATA = {"image_size": 512, "epochs": 30}
SCHEDULER = "plateau"  # ReduceLROnPlateau on the kept-model metric, as the DR reports did
SGD_WEIGHT_DECAY = 5e-4  # with SGD; the other optimisers keep the engine's default
FAST_DEV_RESAMPLES = 20  # a fast dev run's intervals: the code path, not a meaningful interval
# Engine settings the recipe derives from ``select``; not options of their own.
DERIVED = ("monitor", "mode")
# What the start of a run found (RunConfig's last fields): recorded, never chosen.
RECORDED = ("mean", "std", "pretrained_loaded", "init_weights", "trained_on", "prepared",
            "extended_from", "sources", "config_file", "overrides")  # fmt: skip


@dataclass
class DataConfig:
    """Which photos, and how they are preprocessed into the cache (``prepare`` and ``train``)."""

    data: str = SYNTHETIC  # a dataset folder, a path,label CSV, or the sample set
    format: str | None = None  # None: detected from the label files
    image_size: int | None = None  # None: SAMPLE_SET or REAL_DATA's
    mode: str = "crop"  # crop, or graham (crop + Graham's colour normalisation)
    storage: str = "npy"  # cached photo format: raw npy (fast) or jpeg (12x smaller)
    cache: str | None = None  # None: retinopathy.data.cache.default_cache_dir()
    workers: int | None = None  # preprocessing processes; None: every core
    # CPU threads of prepare's own process (torch's and OpenCV's); None: the idle cores. Chosen
    # when prepare runs and recorded; the photos come out the same with any count.
    threads: int | None = None
    synthetic_images: int = 2000  # photos in the sample set
    synthetic_size: int = 512  # the sample set's photo height in px

    def __post_init__(self) -> None:
        self.data = SOURCE_SEPARATOR.join(source_paths(str(self.data)))
        if self.cache is not None:
            self.cache = str(self.cache)
        if self.image_size is None:
            self.image_size = self.recipe["image_size"]
        check_size(self.image_size)
        if self.workers is not None and self.workers < 1:
            raise UserError(f"--workers must be at least 1, not {self.workers}")
        if self.threads is not None and self.threads < 1:
            raise UserError(f"--threads must be at least 1, not {self.threads}")

    @property
    def on_sample_set(self) -> bool:
        return str(self.data) == SYNTHETIC

    def each_source(self) -> list[DataConfig]:
        """One config per dataset ``data`` names (several: comma-separated), with these settings."""
        paths = source_paths(self.data)
        return [self] if len(paths) == 1 else [replace(self, data=p) for p in paths]

    @property
    def recipe(self) -> dict[str, int]:
        return SAMPLE_SET if self.on_sample_set else REAL_DATA


@dataclass
class RunConfig:
    """Everything that makes a training run, as plain data; ``to_json`` is its config.json."""

    arch: str = DEFAULT_ARCH
    task: str = "grade5"
    pretrained: str = "auto"  # auto, yes or no (ImageNet weights), or a weights file
    finetune: str = "all"  # all, or head (the rest frozen)
    data: DataConfig = field(default_factory=DataConfig)
    split_seed: int = 0
    test_size: float = 0.25
    val_size: float = 0.25  # share of the non-test photos
    sampling: float | str = "none"  # class-weighted sampling exponent: 0 natural .. 1 balanced
    class_weights: str | list[float] = "none"  # none, inverse, or one weight per class
    head: str = DEFAULT_HEAD  # classify, regress or ordinal (retinopathy.heads)
    loss: str | None = None  # None: the head's own default (retinopathy.heads.HEAD_LOSSES)
    label_smoothing: float = 0.0  # share of a uniform target mixed into each one (ce)
    # cut points between grades given at training, in place of the ones tuned on validation
    thresholds: str | list[float] | None = None
    spec_target: float = SPEC_TARGET  # the screening operating points' targets on validation
    sens_target: float = SENS_TARGET
    bootstrap: int = N_RESAMPLES  # resamples of the test set's 95% confidence intervals
    augment: bool = True
    normalize: bool = True  # standardise inputs by the training photos' channel mean and std
    select: str = "val_qwk"  # the validation metric that picks the kept model
    tta: bool = False  # evaluate over flipped views too
    tensorboard: bool = False  # event files in the run folder too (shared.engine.tensorboard)
    device: str = DEFAULT_DEVICE
    # one batch of each split, one epoch: the whole pipeline checked in seconds (fast_dev_run.py)
    fast_dev_run: bool = False
    keep_last: bool = False  # keep checkpoints/last.pt once the run ends (training_state.py)
    # The engine's settings; a mapping holds only the ones chosen by hand, and becomes a
    # TrainConfig with the DR recipe for the rest.
    train: TrainConfig | Mapping[str, Any] = field(default_factory=dict)
    # What the start of the run found, recorded for resume, evaluate and predict.
    mean: list[float] | None = None
    std: list[float] | None = None
    pretrained_loaded: bool | None = None
    # what the weights were: backbones.weights_record's (None: a run recorded before it was)
    init_weights: dict[str, Any] | None = None
    # the data read: {"format", "photos"} (retinopathy.provenance; None: recorded before it was)
    trained_on: dict[str, Any] | None = None
    prepared: str | None = None  # the prepared set's folder in the cache
    extended_from: list[int] = field(default_factory=list)  # epoch counts before a resume grew it
    # Several datasets (DATA=a,b): each one's name, path, format, prepared folder and photo count
    sources: list[dict[str, Any]] = field(default_factory=list)
    config_file: str | None = None  # the run was made with --config from this file
    overrides: dict[str, Any] = field(default_factory=dict)  # flags given beside it that differ

    def __post_init__(self) -> None:
        self._check_model()
        check_shares(self.test_size, self.val_size)
        if self.split_seed < 0:
            raise UserError(f"--split-seed must be >= 0, not {self.split_seed}")
        if self.select not in SELECT:
            raise UserError(f"select must be one of {', '.join(SELECT)}, not {self.select!r}")
        self.loss = make_head(self.head, self.num_classes, self.loss).loss
        if not 0 <= self.label_smoothing < 1:
            raise UserError(f"--label-smoothing must lie in [0, 1), not {self.label_smoothing}")
        if self.label_smoothing and (self.head, self.loss) != ("classify", "ce"):
            raise UserError("--label-smoothing needs the classify head with --loss ce")
        self.thresholds = cut_points_option(self.thresholds, self.grading)
        self.spec_target = check_target("--spec-target", self.spec_target)
        self.sens_target = check_target("--sens-target", self.sens_target)
        self.bootstrap = check_bootstrap(self.bootstrap)
        self.sampling = sampling_exponent(self.sampling)
        self.class_weights = class_weights_option(self.class_weights, self.num_classes)
        if not isinstance(self.train, TrainConfig):
            self.train = self._engine(self.train)
        if self.fast_dev_run:
            self.train.epochs = 1
            self.bootstrap = min(self.bootstrap, FAST_DEV_RESAMPLES)

    def _check_model(self) -> None:
        try:
            get_task(self.task)
            spec = backbones.get_spec(self.arch)
        except ValueError as exc:
            raise UserError(str(exc)) from None
        smallest = spec.min_input_size
        if spec.extra.get("fixed_input_size") and self.data.image_size != smallest:
            raise UserError(
                f"{self.arch} takes a fixed input size: --image-size {smallest}, "
                f"not {self.data.image_size}"
            )
        self.pretrained = pretrained_choice(self.pretrained)
        if self.data.image_size < smallest:
            raise UserError(
                f"{self.arch} needs --image-size of at least {smallest} px, "
                f"not {self.data.image_size}"
            )

    def _engine(self, chosen: Mapping[str, Any]) -> TrainConfig:
        """The engine's settings: the ones chosen, else the DR recipe's, else TrainConfig's."""
        recipe: dict[str, Any] = {
            "epochs": self.data.recipe["epochs"],
            "scheduler": SCHEDULER,
            "monitor": self.select,
            "mode": SELECT[self.select],
        }
        if chosen.get("optimizer", TrainConfig.optimizer) == "sgd":
            recipe["weight_decay"] = SGD_WEIGHT_DECAY
        return TrainConfig.from_dict({**recipe, **chosen})

    def check_weights_file(self) -> None:
        """A new run's ``--pretrained`` file must be there (checked before any work; a recorded
        run's config is read without it: resume, evaluate and predict never need the file)."""
        if self.pretrained in backbones.PRETRAINED_CHOICES:
            return
        path = Path(self.pretrained)
        if not path.is_file():
            choices = ", ".join(backbones.PRETRAINED_CHOICES)
            what = "is a folder" if path.is_dir() else "does not exist"
            raise UserError(f"--pretrained must be {choices} or a weights file; {path} {what}")

    @property
    def weights(self) -> dict[str, Any]:
        """What the run's weights started from (:func:`shared.backbones.weights_record`'s
        record); for a run recorded before the record existed, from ``pretrained_loaded``."""
        if self.init_weights is not None:
            return self.init_weights
        return {"source": "imagenet" if self.pretrained_loaded else "random"}

    @property
    def grading(self) -> Task:
        return get_task(self.task)

    @property
    def num_classes(self) -> int:
        return self.grading.num_classes

    @classmethod
    def from_options(cls, **options: Any) -> RunConfig:
        """A config from flat options: the fields of DataConfig, RunConfig and TrainConfig.

        The names are the ``train`` command's flags without dashes (``image_size=96``,
        ``augment=False``, ``lr=1e-4``), except ``num_workers`` (``--loader-workers``) and
        ``early_stopping_patience`` (``--early-stopping``). A ``None`` value means the default.
        """
        options = {k: v for k, v in options.items() if v is not None}
        data_names = _names(DataConfig)
        own_names = _names(cls) - {"data", "train", *RECORDED}
        engine_names = _names(TrainConfig) - set(DERIVED)
        unknown = sorted(set(options) - data_names - own_names - engine_names)
        if unknown:
            raise UserError(f"unknown training option(s): {', '.join(unknown)}")
        return cls(
            data=DataConfig(**{k: v for k, v in options.items() if k in data_names}),
            train={k: v for k, v in options.items() if k in engine_names},
            **{k: v for k, v in options.items() if k in own_names},
        )

    def to_json(self) -> dict[str, Any]:
        """config.json: flat, in field order, the engine's settings under ``"train"``."""
        out: dict[str, Any] = {"app": APP}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "data":
                out.update(asdict(value))
            elif f.name == "train":
                out["train"] = value.to_dict()
            else:
                out[f.name] = value
            if f.name == "task":
                out["num_classes"] = self.num_classes
        return out

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> RunConfig:
        """The config :meth:`to_json` wrote (older runs' files lack the newer keys)."""
        stored = {k: record[k] for k in _names(DataConfig) if k in record}
        workers = stored.get("workers")
        if workers is not None and workers < 1:  # older runs took 0 (or less) for every core
            stored["workers"] = None
        data = DataConfig(**stored)
        own = _names(cls) - {"data"}
        return cls(data=data, **{k: record[k] for k in own if k in record})


def read_run_config(run_dir: str | Path) -> RunConfig:
    """The config of the retinopathy run in ``run_dir``, from its config.json (the one copy)."""
    record = read_config(run_dir)
    if record.get("app") != APP:
        raise UserError(f"{run_dir} is not a {APP} run")
    return RunConfig.from_json(record)


@dataclass
class EvaluateConfig:
    """``evaluate``: the run, how to compute on it, and optionally another dataset to grade.

    ``thresholds`` (cut points, checked against the run's task once it is read), the two
    targets and ``bootstrap``: None is the run's own (its config.json and thresholds.json).
    """

    run: Path
    tta: bool | None = None  # None: as the run was trained
    device: str = DEFAULT_DEVICE
    threads: int | None = None  # None: the run's recorded count, which reproduces its own numbers
    precision: str | None = None  # auto|fp32|bf16|fp16; None: the run's recorded one, likewise
    thresholds: str | Sequence[float] | None = None
    spec_target: float | None = None
    sens_target: float | None = None
    bootstrap: int | None = None
    # another labelled dataset graded whole, into RUN/external/<name>/ (None: the run's test split)
    data: str | Path | None = None
    format: str | None = None  # the other dataset's; None: detected from its label files
    name: str | None = None  # the report folder's; None: the dataset folder's, made safe

    def __post_init__(self) -> None:
        if self.data is None and (self.format is not None or self.name is not None):
            raise UserError("--format and --name describe another dataset: give it with --data")
        for name, flag in (("spec_target", "--spec-target"), ("sens_target", "--sens-target")):
            if getattr(self, name) is not None:
                setattr(self, name, check_target(flag, getattr(self, name)))
        if self.bootstrap is not None:
            self.bootstrap = check_bootstrap(self.bootstrap)


@dataclass
class PredictConfig:
    """``predict`` and :func:`retinopathy.grade`: which run grades which photos, and how."""

    run: Path
    images: Path | Sequence[Path]  # a photo, a folder of photos, or a list of either
    out: Path | None = None  # None: RUN/predictions/<name>-<time>.csv
    tta: bool = False  # average over horizontal and vertical flips
    fuse_eyes: bool = False  # blend the two eyes of <patient>_left / <patient>_right
    batch_size: int = 32
    device: str = DEFAULT_DEVICE
    threads: int | None = None  # None: the idle cores, by the load average
    thresholds: str | Sequence[float] | None = None  # None: the run's cut points
    explain: str | None = None  # heat maps beside the CSV, for "grade" or "referable"
    # auto|fp32|bf16|fp16; None: the run's recorded one (why: KeptModel.compute_dtype)
    precision: str | None = None

    def __post_init__(self) -> None:
        if self.threads is not None and self.threads < 1:
            raise UserError(f"--threads must be at least 1, not {self.threads}")
        if self.explain is not None and self.explain not in EXPLAIN_TARGETS:
            raise UserError(f"--explain is one of {', '.join(EXPLAIN_TARGETS)}, not {self.explain}")
        if self.batch_size < 1:
            raise UserError(f"--batch-size must be at least 1, not {self.batch_size}")
        if self.out is not None and Path(self.out).is_dir():
            raise UserError(
                f"--out {self.out} is a folder; --out names the CSV file to write "
                f"(e.g. {Path(self.out) / 'grades.csv'})"
            )


def _names(cls: type) -> set[str]:
    return {f.name for f in fields(cls)}
