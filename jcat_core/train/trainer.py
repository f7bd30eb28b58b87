"""The training loop: the authors' recipe (Adam, StepLR, frozen backbone, train-mode network) plus the tooling.

One process by default; under ``torchrun`` one DistributedDataParallel process per device (gloo on CPU, NCCL on
CUDA), each taking its share of every step's batch, so an epoch is the same pairs whatever the number of processes.
Every epoch writes ``checkpoints/epoch_NNNN.safetensors`` (our weight format) and ``epoch_NNNN.state.pt``
(optimizer, scheduler, scaler, counters); resuming from them reproduces an uninterrupted run exactly, because
every sample is a function of (seed, index) and the torch RNG is reseeded per epoch.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Sampler

from jcat_core.data.textures import TextureBank, skimage_textures
from jcat_core.models.checkpoint import (
    load_efficientnet_lite,
    load_state_dict_strict,
    load_torchvision_backbone,
    load_weights,
    save_weights,
)
from jcat_core.models.jcat_net import JcatNet
from jcat_core.train.config import SourceConfig, TrainConfig
from jcat_core.train.datasets import Mix, SyntheticVideos, VideoSource, VosFolder, davis, youtube_vos
from jcat_core.train.loss import mask_iou, segmentation_loss
from jcat_core.train.processing import PairDataset

VAL_SEED_OFFSET = 7919  # validation pairs come from their own index stream
# torchvision's ImageNet (IMAGENET1K_V1) ResNet files, for backbone_weights: download
TORCHVISION_URLS = {
    "resnet18": "https://download.pytorch.org/models/resnet18-f37072fd.pth",
    "resnet34": "https://download.pytorch.org/models/resnet34-b627a593.pth",
    "resnet50": "https://download.pytorch.org/models/resnet50-0676ba61.pth",
}


def build_source(config: SourceConfig) -> VideoSource:
    """The dataset a source entry names (layout errors name the expected layout)."""
    if config.type == "youtube_vos":
        return youtube_vos(config.root, config.min_frames, config.min_visible)
    if config.type == "davis":
        return davis(config.root, config.split, config.min_frames, config.min_visible)
    if config.type == "folder":
        return VosFolder(config.root, min_frames=config.min_frames, min_visible=config.min_visible)
    banks = [TextureBank.from_folders(config.textures)] if config.textures else []
    if config.skimage_textures:
        banks.append(skimage_textures())
    textures = None
    if banks:
        textures = TextureBank([im for b in banks for im in b.images], [n for b in banks for n in b.names],
                               [s for b in banks for s in b.skipped])
    return SyntheticVideos(config.num_sequences, config.seed, textures, config.num_frames, config.height,
                           config.width)


def build_mix(sources: tuple[SourceConfig, ...]) -> Mix:
    return Mix(tuple(build_source(s) for s in sources), tuple(s.weight for s in sources))


def build_network(config: TrainConfig) -> JcatNet:
    """The JcatNet to train, its backbone loaded from ``backbone_weights`` (or left random when training it)."""
    net = JcatNet(config.model)
    weights = config.backbone_weights
    if weights == "imagenet":
        if not config.model.is_efficientnet:
            raise ValueError("backbone_weights: imagenet needs an efficientnet_lite backbone (no ResNet ImageNet "
                             "weights are packaged; give a torchvision resnet*.pth file instead)")
        load_efficientnet_lite(net.feature_extractor, config.model.backbone)
    elif weights == "download":
        url = TORCHVISION_URLS.get(config.model.backbone)
        if url is None:
            raise ValueError(f"backbone_weights: download is for ResNets; {config.model.backbone} uses 'imagenet'")
        try:
            state = torch.hub.load_state_dict_from_url(url, map_location="cpu", weights_only=True)
        except OSError as exc:
            raise RuntimeError(f"could not download {url} ({exc}); put the file on this machine and give its path "
                               f"as backbone_weights") from None
        load_state_dict_strict(net.feature_extractor, state, f"backbone weights {url}")
    elif weights is not None:
        if config.model.is_efficientnet:
            load_efficientnet_lite(net.feature_extractor, config.model.backbone, weights)
        else:
            load_torchvision_backbone(net.feature_extractor, weights)
    elif not config.train_backbone:
        warnings.warn("backbone_weights is empty and train_backbone is false: the head learns on a frozen, randomly "
                      "initialised backbone (fine for tests, useless otherwise)", stacklevel=2)
    net.feature_extractor.requires_grad_(config.train_backbone)
    return net


def batch_share(batch_size: int, rank: int, world: int) -> range:
    """Rank's contiguous slice of a step's batch positions; the first batch_size % world ranks take one more."""
    base, extra = divmod(batch_size, world)
    start = rank * base + min(rank, extra)
    return range(start, start + base + (rank < extra))


class EpochBatches(Sampler[list[int]]):
    """One process's index batches of an epoch: epoch e, step s holds samples e*n*b + s*b + [0, b) of the recipe
    (n steps of b), whatever the world size; this rank draws its batch_share of each, so no sample is drawn twice."""

    def __init__(self, iterations: int, batch_size: int, rank: int = 0, world: int = 1) -> None:
        if batch_size < world:
            raise ValueError(f"batch_size {batch_size} cannot be split over {world} processes (at least one each)")
        self.iterations, self.batch_size, self.epoch = iterations, batch_size, 0
        self.share = batch_share(batch_size, rank, world)
        # DDP averages gradients over ranks: scaling each rank's mean loss by this makes it the whole batch's mean
        self.loss_weight = len(self.share) * world / batch_size

    def __iter__(self) -> Iterator[list[int]]:
        first = self.epoch * self.iterations * self.batch_size
        for step in range(self.iterations):
            start = first + step * self.batch_size
            yield [start + i for i in self.share]

    def __len__(self) -> int:
        return self.iterations


@dataclass
class Distributed:
    """This process's place in a torchrun job (rank 0 of 1 when not distributed)."""

    rank: int = 0
    world: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_environment(cls, device: str = "auto") -> Distributed:
        """Initialise the process group when torchrun started us (WORLD_SIZE > 1)."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        use_cuda = torch.cuda.is_available() if device == "auto" else device.startswith("cuda")
        if world == 1:
            return cls(device=torch.device("cuda" if use_cuda else "cpu"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if not dist.is_initialized():
            dist.init_process_group("nccl" if use_cuda else "gloo")
        target = torch.device(f"cuda:{local_rank}" if use_cuda else "cpu")
        if use_cuda:
            torch.cuda.set_device(target)
        return cls(dist.get_rank(), dist.get_world_size(), target)


@dataclass
class TrainResult:
    """What a run ended with."""

    epochs_done: int
    steps: int
    best_val_iou: float | None
    history: list[dict[str, float]]
    checkpoint_dir: Path
    replicas_equal: bool | None = None
    skipped_frames: int = 0
    seconds: float = 0.0


class Trainer:
    """Trains ``config`` into ``config.output_dir``; ``run(resume=...)`` does the epochs."""

    def __init__(self, config: TrainConfig, device: str = "auto", progress: bool = True) -> None:
        self.config = config
        self.dist = Distributed.from_environment(device)
        if config.threads:
            torch.set_num_threads(config.threads)
        self.out = Path(config.output_dir).expanduser()
        self.ckpt_dir = self.out / "checkpoints"
        self.progress = progress and self.dist.main
        torch.manual_seed(config.seed)  # the head's initialisation
        self.net = build_network(config).to(self.dist.device)
        self.model: torch.nn.Module = self.net
        if self.dist.active:
            self.model = torch.nn.parallel.DistributedDataParallel(
                self.net, device_ids=[self.dist.device.index] if self.dist.device.type == "cuda" else None)
        params = [p for p in self.net.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(params, lr=config.lr)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, config.lr_step, config.lr_gamma)
        self.scaler = torch.amp.GradScaler(self.dist.device.type, enabled=config.amp == "fp16")
        self.epoch = 0
        self.steps = 0
        self.best_iou: float | None = None
        self.history: list[dict[str, float]] = []
        self.skipped = 0
        self.writer = None
        self.train_set = PairDataset(build_mix(config.train_sources), config.processing, config.seed)
        self.val_set = (PairDataset(build_mix(config.val_sources), config.processing, config.seed + VAL_SEED_OFFSET)
                        if config.val_sources else None)
        self.batches = EpochBatches(config.iterations, config.batch_size, self.dist.rank, self.dist.world)

    # --- one step -------------------------------------------------------------------------------------------
    def _autocast(self):
        if self.config.amp == "none":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.config.amp == "bf16" else torch.float16
        return torch.autocast(self.dist.device.type, dtype=dtype)

    def _logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        b = {k: v.to(self.dist.device, non_blocking=True) for k, v in batch.items()}
        dist_map = b["test_dist"] if self.net.config.uses_distance_map else None
        with self._autocast():
            return self.model(self.net.normalize(b["ref_image"]), b["ref_mask"], self.net.normalize(b["test_image"]),
                              dist_map)

    def _scored(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(logits, target mask, segmentation loss) of a batch, on the network's device."""
        logits = self._logits(batch)
        mask, contour = batch["test_mask"].to(logits.device), batch["test_contour"].to(logits.device)
        return logits, mask, segmentation_loss(logits, mask, contour)

    def _set_mode(self, training: bool) -> None:
        """Train mode for the whole network (published), except a backbone with frozen BatchNorm statistics."""
        self.net.train(training)
        if training and self.config.backbone_bn == "eval":
            self.net.feature_extractor.eval()

    def train_step(self, batch: dict[str, torch.Tensor]) -> tuple[float, float]:
        """One optimiser step on this process's share of the batch; returns (its loss, its mean mask IoU)."""
        logits, mask, loss = self._scored(batch)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss * self.batches.loss_weight).backward()
        if self.config.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.optimizer.param_groups[0]["params"], self.config.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.steps += 1
        with torch.no_grad():
            return float(loss), float(mask_iou(logits.detach(), mask).mean())

    # --- epochs ---------------------------------------------------------------------------------------------
    def _loader(self, dataset: PairDataset, batches: EpochBatches) -> DataLoader:
        workers, cuda = self.config.num_workers, self.dist.device.type == "cuda"
        return DataLoader(dataset, batch_sampler=batches, num_workers=workers, pin_memory=cuda,
                          multiprocessing_context="spawn" if workers and cuda else None)

    def train_epoch(self) -> dict[str, float]:
        """One epoch of ``iterations`` steps; the torch RNG (dropout) is reseeded from (seed, epoch, rank)."""
        torch.manual_seed(self.config.seed * 100003 + self.epoch * 101 + self.dist.rank)
        self._set_mode(True)
        self.batches.epoch = self.epoch
        losses, ious, pairs = [], [], 0
        batches = self._loader(self.train_set, self.batches)
        if self.progress:
            from tqdm import tqdm

            batches = tqdm(batches, total=len(self.batches), desc=f"epoch {self.epoch + 1}/{self.config.epochs}",
                           dynamic_ncols=True)
        for batch in batches:
            self.skipped += int(batch.pop("skipped").sum())
            pairs += len(batch["test_mask"])
            loss, iou = self.train_step(batch)
            if not math.isfinite(loss):
                raise FloatingPointError(f"loss became {loss} at step {self.steps}; lower lr or enable grad_clip")
            losses.append(loss)
            ious.append(iou)
            if self.progress:
                batches.set_postfix(loss=f"{loss:.4f}", iou=f"{iou:.3f}")
            if self.writer is not None:
                self.writer.add_scalar("train/loss", loss, self.steps)
                self.writer.add_scalar("train/iou", iou, self.steps)
        self.scheduler.step()
        self.epoch += 1
        return {"epoch": self.epoch, "loss": sum(losses) / len(losses), "iou": sum(ious) / len(ious),
                "lr": self.optimizer.param_groups[0]["lr"], "pairs": self._summed(pairs)}

    def _summed(self, count: int) -> int:
        """A count summed over the torchrun processes: the epoch's pairs show the recipe is kept whatever N."""
        if not self.dist.active:
            return count
        total = torch.tensor(count, device=self.dist.device)
        dist.all_reduce(total)
        return int(total)

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Loss and mask IoU of the predicted masks on fixed validation pairs (eval mode)."""
        if self.val_set is None:
            return {}
        self._set_mode(False)
        losses, ious = [], []
        for batch in self._loader(self.val_set, EpochBatches(self.config.val_iterations, self.config.batch_size)):
            batch.pop("skipped")
            logits, mask, loss = self._scored(batch)
            losses.append(float(loss))
            ious.append(float(mask_iou(logits, mask).mean()))
        return {"val_loss": sum(losses) / len(losses), "val_iou": sum(ious) / len(ious)}

    # --- checkpoints ------------------------------------------------------------------------------------------
    def _save(self, path: Path) -> None:
        save_weights(self.net, path, head_only=self.config.save_head_only)

    def save_checkpoint(self) -> Path:
        """epoch_NNNN.safetensors (weights) + epoch_NNNN.state.pt (everything else a resume needs)."""
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        stem = self.ckpt_dir / f"epoch_{self.epoch:04d}"
        self._save(stem.with_suffix(".safetensors"))
        state = {"epoch": self.epoch, "steps": self.steps, "best_iou": self.best_iou, "skipped": self.skipped,
                 "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                 "scaler": self.scaler.state_dict(), "history": json.dumps(self.history)}
        torch.save(state, stem.with_suffix(".state.pt"))
        return stem.with_suffix(".safetensors")

    def resume(self, path: str | os.PathLike[str]) -> None:
        """Continue from a checkpoint: an epoch_NNNN.safetensors/.state.pt, or a run folder (its latest epoch)."""
        path = Path(path).expanduser()
        if path.is_dir():
            folder = path / "checkpoints" if (path / "checkpoints").is_dir() else path
            states = sorted(folder.glob("epoch_*.state.pt"))
            if not states:
                raise FileNotFoundError(f"no epoch_*.state.pt checkpoint in {folder}")
            path = states[-1]
        stem = path.parent / path.name.split(".")[0]
        loaded = load_weights(stem.with_suffix(".safetensors"), self.dist.device)
        if loaded.config != self.net.config:
            raise ValueError(f"{stem}.safetensors was trained with {loaded.config}, this config builds "
                             f"{self.net.config}")
        load_state_dict_strict(self.net, loaded.state_dict(), f"checkpoint {stem}.safetensors")
        state = torch.load(stem.with_suffix(".state.pt"), map_location=self.dist.device, weights_only=True)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.steps, self.best_iou = state["epoch"], state["steps"], state["best_iou"]
        self.skipped, self.history = state["skipped"], json.loads(state["history"])

    def replicas_equal(self) -> bool | None:
        """Under DDP: whether every process holds bit-identical trainable parameters."""
        if not self.dist.active:
            return None
        flat = torch.cat([p.detach().flatten().float() for p in self.net.parameters() if p.requires_grad])
        gathered = [torch.empty_like(flat) for _ in range(self.dist.world)]
        dist.all_gather(gathered, flat)
        return all(torch.equal(gathered[0], g) for g in gathered[1:])

    def run(self, resume: str | os.PathLike[str] | None = None) -> TrainResult:
        """Train up to ``config.epochs`` (continuing a run when ``resume`` is given); returns the summary."""
        started = time.monotonic()
        if resume is not None:
            self.resume(resume)
        if self.dist.main:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.json").write_text(json.dumps(self.config.to_dict(), indent=2, default=str))
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.out / "tensorboard"), purge_step=self.steps + 1)
        while self.epoch < self.config.epochs:
            record = self.train_epoch()
            if self.val_set is not None and (self.epoch % self.config.val_every == 0
                                             or self.epoch == self.config.epochs):
                record.update(self.validate())
            if self.dist.main:
                self._end_of_epoch(record)
        equal = self.replicas_equal()
        result = TrainResult(self.epoch, self.steps, self.best_iou, self.history, self.ckpt_dir, equal,
                             self.skipped, time.monotonic() - started)
        if self.dist.main:
            summary = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(result).items()}
            (self.out / "summary.json").write_text(json.dumps(summary, indent=2))
            self.writer.close()
        return result

    def _end_of_epoch(self, record: dict[str, Any]) -> None:
        record["skipped_frames"] = self.skipped
        self.history.append(record)
        for key, value in record.items():
            if key != "epoch":
                self.writer.add_scalar(f"epoch/{key}", value, self.epoch)
        if "val_iou" in record and (self.best_iou is None or record["val_iou"] > self.best_iou):
            self.best_iou = record["val_iou"]
            self._save(self.out / "best.safetensors")
        self.save_checkpoint()
        (self.out / "history.json").write_text(json.dumps(self.history, indent=2))
        print(json.dumps(record), flush=True)
