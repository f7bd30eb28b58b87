"""Training pairs exactly as the authors' recipe (JCAT_SPEC.md section 2): sampling, crops, jitter, maps.

``PairDataset[i]`` is a pure function of (seed, i): the reference frame, a test frame within ±max_gap frames
(widened by 5 until a visible one exists), the reference crop at 4x the target, the jittered test crop, the
brightness change, the test distance map, the target mask, its contour map (the mask's own boundary pixels), and
with probability 0.005 the (reference, reference) pair whose reference mask is its box.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from jcat_core.tracker.geometry import CropWindow
from jcat_core.tracker.inputs import mask_box
from jcat_core.train.datasets import CorruptFrameError, Mix, VideoSource


@dataclass(frozen=True)
class ProcessingConfig:
    """The published sampling and processing parameters."""

    crop_size: int = 384
    search_area_factor: float = 4.0
    scale_jitter: float = 0.25  # test crop side x exp(N(0, 1) * this)
    center_jitter: float = 1.5  # test crop centre shifted uniformly by ±center_jitter / 2 * sqrt(w * h)
    brightness: float = 0.2  # factor uniform in [1 - b, 1 + b]
    dist_shift: float = 0.125  # distance-map centre shifted by up to ± this x (w, h)
    box_mask_probability: float = 0.005
    max_gap: int = 50  # test frame within ± this many frames of the reference
    min_visible_pixels: int = 1


def crop_window(box: tuple[float, float, float, float], factor: float, rng: np.random.Generator | None,
                config: ProcessingConfig) -> CropWindow:
    """The square crop of side ceil(sqrt(w h) * factor) around the box, jittered when rng is given."""
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    if rng is not None:
        w, h = (s * math.exp(rng.normal() * config.scale_jitter) for s in (w, h))
        shift = math.sqrt(w * h) * config.center_jitter
        cx += (rng.random() - 0.5) * shift
        cy += (rng.random() - 0.5) * shift
    return CropWindow(cx, cy, float(math.ceil(math.sqrt(w * h) * factor)), config.crop_size)


def crop(image: np.ndarray, window: CropWindow, interpolation: int, border: int) -> np.ndarray:
    """The window resampled to its size x size with OpenCV (numpy in, numpy out; the tracker's torch crop is
    geometry.crop, with the same pixel-centre convention); outside the image: replicated border (image) or 0 (mask)."""
    scale = 1 / window.scale  # crop pixels per image pixel
    ox, oy = window.origin
    matrix = np.array([[scale, 0, -ox * scale], [0, scale, -oy * scale]], np.float64)
    matrix[:, 2] += matrix[:, :2] @ np.array([0.5, 0.5]) - 0.5  # pixel centres map onto pixel centres
    return cv2.warpAffine(image, matrix, (window.size, window.size), flags=interpolation, borderMode=border,
                          borderValue=0)


def contour_map(mask: np.ndarray) -> np.ndarray:
    """The mask's edge pixels as the authors mark them (external contours drawn 1 px wide): inside the mask, so the
    loss weights the target's edge without growing the target; the edges of holes are not marked."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return cv2.drawContours(np.zeros(mask.shape, np.uint8), contours, -1, 1, thickness=1).astype(bool)


class PairDataset(Dataset):
    """Sample i -> dict of tensors: ref_image, ref_mask, test_image (3xSxS float in [0, 1]), test_mask,
    test_contour, test_dist (1xSxS), skipped (corrupt frames met while making it)."""

    def __init__(self, mix: Mix, config: ProcessingConfig, seed: int = 0, length: int = 10**9,
                 max_tries: int = 100) -> None:
        self.mix, self.config, self.seed, self.length, self.max_tries = mix, config, seed, length, max_tries

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, index])
        skipped = 0
        for _ in range(self.max_tries):
            source = self.mix.pick(rng)
            try:
                pair = self._pair(source, rng)
            except CorruptFrameError as exc:
                skipped += 1
                warnings.warn(f"skipped unreadable frame {exc}", stacklevel=2)
                continue
            if pair is not None:
                sample = self._process(*pair, rng)
                sample["skipped"] = torch.tensor(skipped)
                return sample
        raise RuntimeError(f"no valid training pair after {self.max_tries} tries ({skipped} corrupt frames)")

    def _visible_frame(self, source: VideoSource, seq: int, index: int) -> tuple[np.ndarray, np.ndarray] | None:
        image, mask = source.frame(seq, index)
        return (image, mask) if mask.sum() >= self.config.min_visible_pixels else None

    def _pair(self, source: VideoSource, rng: np.random.Generator):
        """(ref image, ref mask, test image, test mask) from one sequence, or None to try another."""
        seq = int(rng.integers(len(source)))
        n = source.num_frames(seq)
        known = source.visible(seq)
        candidates = [i for i in range(n) if known[i]] if known is not None else list(range(n))
        if not candidates:
            return None
        ref_index = candidates[int(rng.integers(len(candidates)))]
        ref = self._visible_frame(source, seq, ref_index)
        if ref is None:
            return None
        gap = self.config.max_gap
        while True:  # widen the window by 5 until it holds a visible frame other than the reference
            lo, hi = max(0, ref_index - gap), min(n - 1, ref_index + gap)
            window = [i for i in range(lo, hi + 1) if i != ref_index and (known is None or known[i])]
            if window or (lo == 0 and hi == n - 1):
                break
            gap += 5
        if not window:
            return None
        test = self._visible_frame(source, seq, window[int(rng.integers(len(window)))])
        return None if test is None else (*ref, *test)

    def _process(self, ref_image: np.ndarray, ref_mask: np.ndarray, test_image: np.ndarray, test_mask: np.ndarray,
                 rng: np.random.Generator) -> dict[str, torch.Tensor]:
        cfg, size = self.config, self.config.crop_size
        ref_box = mask_box(ref_mask)
        box_pair = rng.random() < cfg.box_mask_probability
        if box_pair:  # (reference, reference), the reference mask replaced by its box: the box-initialised frame
            test_image, test_mask = ref_image, ref_mask
            x, y, w, h = (int(v) for v in ref_box)
            ref_mask = np.zeros_like(ref_mask)
            ref_mask[y:y + h, x:x + w] = True
        test_box = mask_box(test_mask)
        ref_window = crop_window(ref_box, cfg.search_area_factor, None, cfg)
        test_window = crop_window(test_box, cfg.search_area_factor, rng, cfg)
        ref_crop = crop(ref_image, ref_window, cv2.INTER_LINEAR, cv2.BORDER_REPLICATE)
        test_crop = crop(test_image, test_window, cv2.INTER_LINEAR, cv2.BORDER_REPLICATE)
        ref_mask_crop = crop(ref_mask.astype(np.uint8), ref_window, cv2.INTER_NEAREST, cv2.BORDER_CONSTANT)
        test_mask_crop = crop(test_mask.astype(np.uint8), test_window, cv2.INTER_NEAREST,
                              cv2.BORDER_CONSTANT).astype(bool)
        x, y, w, h = test_box
        centre = test_window.to_crop(np.array([[x + w / 2 + rng.uniform(-1, 1) * cfg.dist_shift * w,
                                                y + h / 2 + rng.uniform(-1, 1) * cfg.dist_shift * h]]))[0]
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        dist = np.sqrt((xx + 0.5 - centre[0]) ** 2 + (yy + 0.5 - centre[1]) ** 2)
        contour = contour_map(test_mask_crop)
        images = [self._brightness(c, rng) for c in (ref_crop, test_crop)]
        return {
            "ref_image": images[0], "test_image": images[1],
            "ref_mask": torch.from_numpy(ref_mask_crop.astype(np.float32))[None],
            "test_mask": torch.from_numpy(test_mask_crop.astype(np.float32))[None],
            "test_contour": torch.from_numpy(contour.astype(np.float32))[None],
            "test_dist": torch.from_numpy(dist)[None],
        }

    def _brightness(self, image: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        factor = rng.uniform(1 - self.config.brightness, 1 + self.config.brightness)
        tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255.0
        return (tensor * factor).clamp_(0, 1)
