"""The training loop: overfitting a few pairs, exact resume, DDP (2 gloo processes on CPU) sharing an epoch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from torch.utils.data import default_collate

from jcat_core.models.checkpoint import load_network
from jcat_core.train.config import config_from_dict
from jcat_core.train.trainer import Trainer

OVERFIT_STEPS, OVERFIT_LOSS, OVERFIT_IOU = 150, 0.40, 0.9


def tiny(tmp_path: Path, **overrides) -> dict:
    """A seconds-sized run: ResNet-18 (random, BatchNorm in train mode), 64-px crops, synthetic data."""
    return {"model": {"backbone": "resnet18", "crop_size": 64, "inter_dims": [4, 8, 16, 32]},
            "processing": {"crop_size": 64}, "train_backbone": False, "batch_size": 2, "iterations": 2, "epochs": 2,
            "lr_step": 1, "val_every": 1, "val_iterations": 1, "num_workers": 0, "threads": 1,
            "train_sources": [{"type": "synthetic", "num_sequences": 20}],
            "val_sources": [{"type": "synthetic", "num_sequences": 5, "seed": 9}],
            "output_dir": str(tmp_path), **overrides}


@pytest.mark.slow
def test_overfits_a_few_pairs(tmp_path) -> None:
    config = config_from_dict({
        "model": {"backbone": "efficientnet_lite0", "crop_size": 64, "inter_dims": [4, 8, 16, 32]},
        "processing": {"crop_size": 64}, "backbone_weights": "imagenet", "backbone_bn": "eval", "lr": 1e-2,
        "num_workers": 0, "threads": 1, "batch_size": 3, "train_sources": [{"type": "synthetic", "num_sequences": 3}],
        "output_dir": str(tmp_path)})
    trainer = Trainer(config, progress=False)
    batch = default_collate([trainer.train_set[i] for i in range(3)])
    batch.pop("skipped")
    trainer._set_mode(True)
    for _ in range(OVERFIT_STEPS):
        loss, iou = trainer.train_step(batch)
        if loss < OVERFIT_LOSS and iou > OVERFIT_IOU:
            break
    assert loss < OVERFIT_LOSS and iou > OVERFIT_IOU, f"after {trainer.steps} steps: loss {loss:.3f}, IoU {iou:.3f}"


@pytest.mark.slow
def test_resume_reproduces_an_uninterrupted_run(tmp_path) -> None:
    straight = Trainer(config_from_dict(tiny(tmp_path / "a")), progress=False).run()
    Trainer(config_from_dict(tiny(tmp_path / "b", epochs=1)), progress=False).run()
    resumed = Trainer(config_from_dict(tiny(tmp_path / "b")), progress=False).run(resume=tmp_path / "b")
    assert straight.steps == resumed.steps == 4 and straight.history == resumed.history
    a = load_network(tmp_path / "a/checkpoints/epoch_0002.safetensors").state_dict()
    b = load_network(tmp_path / "b/checkpoints/epoch_0002.safetensors").state_dict()
    assert all(torch.equal(v, b[k]) for k, v in a.items())  # head and the backbone's BatchNorm statistics
    assert (tmp_path / "a/best.safetensors").is_file() and "val_iou" in straight.history[-1]
    assert any((tmp_path / "a/tensorboard").iterdir())


@pytest.mark.slow
def test_ddp_two_gloo_processes_share_the_epoch_and_keep_replicas_equal(tmp_path) -> None:
    """Each step's batch of 3 is split 2 + 1 over the processes: together they train the recipe's 2 x 3 pairs."""
    config = tmp_path / "ddp.yaml"
    config.write_text(yaml.safe_dump(tiny(tmp_path / "run", epochs=1, batch_size=3, val_sources=[])))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "jcat_core.cli.train", "--config", str(config), "--device", "cpu", "--no-progress"],
                          env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "run/summary.json").read_text())
    assert summary["steps"] == 2 and summary["replicas_equal"] is True
    assert summary["history"][-1]["pairs"] == 2 * 3
