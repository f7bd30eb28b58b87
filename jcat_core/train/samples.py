"""A visual check of the training pairs: one row per pair (reference + mask, test + target mask, distance map)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from jcat_core.train.processing import PairDataset


def _rgb(image: torch.Tensor) -> np.ndarray:
    return (image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def _overlay(image: np.ndarray, mask: torch.Tensor, colour: tuple[int, int, int]) -> np.ndarray:
    out = image.astype(np.float32)
    m = mask[0].numpy() > 0.5
    out[m] = 0.5 * out[m] + 0.5 * np.array(colour, np.float32)
    return out.astype(np.uint8)


def _heat(values: torch.Tensor) -> np.ndarray:
    v = values[0].numpy()
    scaled = (255 * (v - v.min()) / max(float(v.max() - v.min()), 1e-6)).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(scaled, cv2.COLORMAP_VIRIDIS), cv2.COLOR_BGR2RGB)


def write_sample_grid(dataset: PairDataset, count: int, path: str | Path) -> Path:
    """Pairs 0..count-1 as a PNG: reference, reference mask, test, target mask (contour in yellow), distance map."""
    rows = []
    for i in range(count):
        s = dataset[i]
        ref, test = _rgb(s["ref_image"]), _rgb(s["test_image"])
        target = _overlay(_overlay(test, s["test_mask"], (0, 255, 0)), s["test_contour"], (255, 255, 0))
        rows.append(np.concatenate([ref, _overlay(ref, s["ref_mask"], (255, 0, 0)), test, target,
                                    _heat(s["test_dist"])], axis=1))
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))
    return path
