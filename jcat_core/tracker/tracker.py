"""The JCAT online tracker: DCF localisation, sample filter, segmentation with a memory bank, mask-based box/scale.

Coordinates: 0-based pixels, boxes (x, y, w, h) with (x, y) the top-left corner; see geometry.py.

States (per frame), from the uncertainty u, the confidence ratio r (uncertainty.py) and the mask:
- TRACKING: u < ``uncertainty_threshold`` (3), r > ``sample_filter_ratio`` (0.15) and a mask was accepted.
- LOST: u >= ``segmentation_uncertainty`` (10), or u >= 3 with no accepted mask. While LOST the DCF keeps searching
  around the last position with a crop ``lost_search_growth`` times wider, and the state returns to TRACKING as
  soon as the rules above hold again.
- UNCERTAIN: everything else.
Score in [0, 1]: min(1, 1/u) (1 up to frame 5) x min(1, r), halved when no mask was accepted.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import torch

from jcat_core.models.precision import Precision, autocast
from jcat_core.tracker.augment import first_frame_samples
from jcat_core.tracker.dcf import CorrelationFilter, Localization, hann2d
from jcat_core.tracker.geometry import (
    Box,
    CropWindow,
    MaskFit,
    RotatedBox,
    box_mask,
    crop,
    crop_moved,
    distance_map,
    fit_mask,
    paste_mask,
)
from jcat_core.tracker.inputs import as_rgb_uint8, checked_box, checked_mask, mask_box
from jcat_core.tracker.memory_bank import MemoryBank
from jcat_core.tracker.network import Features, TrackerNetwork
from jcat_core.tracker.params import TrackerParams
from jcat_core.tracker.readback import to_host
from jcat_core.tracker.scale import ScaleEstimator
from jcat_core.tracker.uncertainty import Assessment, SampleFilter


class TrackerState(StrEnum):
    TRACKING = "TRACKING"
    UNCERTAIN = "UNCERTAIN"
    LOST = "LOST"


@dataclass(frozen=True)
class TrackOutput:
    """One frame's result: axis-aligned box, rotated box, full-image mask, score in [0, 1] and state."""

    box: Box
    rotated_box: RotatedBox
    mask: np.ndarray  # HxW bool; all False when no mask was accepted
    score: float
    state: TrackerState


# Parameters that only steer per-frame decisions, so they may change between two frames without a new tracker;
# the others size crops, filters or histories.
RUNTIME_PARAMS = frozenset({
    "uncertainty_threshold", "confidence_accept_ratio", "sample_filter_ratio", "segmentation_uncertainty",
    "scale_uncertainty", "hard_negative_threshold", "learning_rate", "hard_negative_learning_rate",
    "update_interval", "segm_threshold", "segm_threshold_mask_init", "min_contour_area", "second_contour_ratio",
    "area_change_scale", "area_change_position", "bank_interval", "bank_hard_negative_gap",
})


class JcatTracker:
    """Single-target tracker driven by any ``TrackerNetwork``. ``initialize`` once, then ``track`` every frame."""

    def __init__(self, network: TrackerNetwork, params: TrackerParams | None = None,
                 device: torch.device | str = "cpu", precision: Precision = "fp32") -> None:
        self.network = network
        self.params = params or TrackerParams()
        self.device = torch.device(device)
        self.precision = precision
        if self.params.one_backbone_pass and not network.shares_backbone:
            raise ValueError("one_backbone_pass (the lite profile) needs a network whose DCF reads its segmentation "
                             "backbone; this one has a separate DCF backbone (dcf_weights)")
        self.profile_stages = False  # accumulate per-stage seconds in ``stage_seconds`` (benchmarks)
        self.stage_seconds: dict[str, float] = defaultdict(float)
        self._dist_map = distance_map(self.params.segm_size).to(self.device).view(1, 1, *(self.params.segm_size,) * 2)
        self._windows: dict[int, torch.Tensor] = {}
        self.reset()

    # -- public API --
    def reset(self) -> None:
        """Forget the target; ``initialize`` must be called again."""
        self.frame = 0
        self.image_shape: tuple[int, int] | None = None
        self.position = (0.0, 0.0)
        self.size = (0.0, 0.0)
        self.lost = False
        self.initialised_from_mask = False
        self.dcf = CorrelationFilter(self.params, self.device)
        self.sample_filter = SampleFilter(self.params)
        self.bank = MemoryBank(self.params)
        self.scale = ScaleEstimator(self.params)
        self.last_assessment: Assessment | None = None
        self._pending_bank: tuple[torch.Tensor, Features, int] | None = None  # segmented, not yet on the host

    @property
    def initialized(self) -> bool:
        return self.image_shape is not None

    @property
    def threshold(self) -> float:
        """Foreground threshold on the segmentation softmax: lower when the target was given as a mask."""
        p = self.params
        return p.segm_threshold_mask_init if self.initialised_from_mask else p.segm_threshold

    def update_params(self, **changes: object) -> None:
        """Change parameters of RUNTIME_PARAMS between frames, keeping the target; others raise ValueError."""
        fixed = sorted(set(changes) - RUNTIME_PARAMS)
        if fixed:
            raise ValueError(f"{fixed} cannot change while tracking (they size crops, filters or histories); "
                             f"build a new tracker. Changeable: {sorted(RUNTIME_PARAMS)}")
        self.params = self.params.with_overrides(**changes)
        for part in (self.dcf, self.sample_filter, self.bank, self.scale):
            part.params = self.params

    def initialize(self, image: np.ndarray, box: Box | None = None, mask: np.ndarray | None = None) -> None:
        """Start tracking the target given by ``box`` (x, y, w, h) or by an HxW ``mask`` in ``image``."""
        rgb = as_rgb_uint8(image)
        shape = rgb.shape[:2]
        if (box is None) == (mask is None):
            raise ValueError("initialize needs exactly one of box=(x, y, w, h) or mask=HxW")
        target_mask = None if mask is None else checked_mask(mask, shape, self.params.init_mask_threshold)
        target_box = checked_box(box, shape) if box is not None else mask_box(target_mask)  # type: ignore[arg-type]
        self.reset()
        try:
            self._start(rgb, target_box, target_mask)
        except Exception:
            self.reset()
            raise

    def track(self, image: np.ndarray) -> TrackOutput:
        """Locate the target in the next frame (same size as the initial one)."""
        if not self.initialized:
            raise ValueError("track() called before initialize(): give the first frame and box first")
        rgb = as_rgb_uint8(image)
        if rgb.shape[:2] != self.image_shape:
            raise ValueError(f"frame size changed from {self.image_shape} to {rgb.shape[:2]}; call initialize() "
                             f"again for a new stream")
        self.frame += 1
        with torch.no_grad():
            return self._track(self._upload(rgb))

    # -- first frame --
    def _start(self, rgb: np.ndarray, box: Box, target_mask: np.ndarray | None) -> None:
        self.image_shape = rgb.shape[:2]
        self.frame = 1
        x, y, w, h = box
        self.position = (x + w / 2, y + h / 2)
        self.size = (w, h)
        self.initialised_from_mask = target_mask is not None
        with torch.no_grad():
            frame = self._upload(rgb)
            self._start_dcf(frame)
            self._start_segmentation(frame, box, target_mask)

    def _start_dcf(self, frame: torch.Tensor) -> None:
        p = self.params
        window = self._dcf_window(1.0)
        expanded = CropWindow(window.cx, window.cy, window.side * p.augmentation_expansion,
                              round(window.size * p.augmentation_expansion))
        samples, centres = first_frame_samples(crop(frame, expanded) / 255.0, window.size)
        with self._network_scope():
            features = self.network.dcf_features(samples).float()
        stride = window.size / features.shape[-1]
        cells = torch.stack([torch.tensor(self.dcf.label_centre(float(cx), float(cy), stride))
                             for cx, cy in centres.cpu()]).to(self.device)
        self.dcf.initialize(features, cells, self._label_sigma(window, stride))

    def _start_segmentation(self, frame: torch.Tensor, box: Box, target_mask: np.ndarray | None) -> None:
        p = self.params
        window = self._segm_window()
        image = crop(frame, window) / 255.0
        with self._network_scope():
            features = self.network.extract_features(image)
        if target_mask is not None:
            mask_t = torch.from_numpy(target_mask.astype(np.float32)).to(self.device)[:, :, None]
            reference = (crop(mask_t, window, pad_with_border=False) > 0.5).float()
        else:
            boxed = box_mask(box, window).to(self.device).view(1, 1, p.segm_size, p.segm_size)
            with self._network_scope():
                logits = self.network.segment(features, features, boxed, self._dist_arg(), ())
            refined = (torch.softmax(logits.float(), dim=1)[:, :1] > p.segm_threshold).float() * boxed
            # a network that finds nothing in the box (e.g. untrained) keeps the box itself as the reference
            reference = refined if float(refined.sum()) > p.min_contour_area else boxed
        self.reference_features = features
        self.reference_mask = reference
        self.scale.areas.append(float(reference.sum()) * window.scale**2)

    # -- every frame --
    def _track(self, frame: torch.Tensor) -> TrackOutput:
        """One frame. The device locates the DCF peak, decides whether to move there and segments the crop at
        the resulting position (with ``one_backbone_pass``: the DCF's own crop, from the same backbone pass); one
        read-back brings those results to the host, which does the geometry."""
        p = self.params
        growth = p.lost_search_growth if self.lost else 1.0
        one_pass = p.one_backbone_pass and growth == 1.0  # a widened search while LOST is a crop of its own
        with self._stage("dcf_features"):
            window = self._dcf_window(growth)
            image = crop(frame, window) / 255.0
            with self._network_scope():
                if one_pass:
                    seg_features = self.network.extract_features(image)
                    features = self.network.dcf_from_features(seg_features).float()
                else:
                    features = self.network.dcf_features(image).float()
            projected = self.dcf.project(features)
        with self._stage("dcf_localize"):
            target_in_crop = (self.size[0] / window.scale, self.size[1] / window.scale)
            values, _ = self.dcf.localize(projected, window.size, self._hann(window.size), target_in_crop)
            move = values[2] > self.sample_filter.move_threshold(self.frame)
            reach = window.side / 2  # the peak lies in the DCF crop, which is centred on the current position
            centre = torch.stack([self._next_centre(values[axis], move, window, axis, reach) for axis in (0, 1)])
        with self._stage("segmentation"):
            # segmented before the host knows whether the frame is usable: the read-back below is the only one
            if one_pass:
                seg_window = window
                foreground = self._foreground(seg_features)
            else:
                seg_window = self._segm_window()
                foreground, seg_features = self._segment(crop_moved(frame, seg_window, centre, reach) / 255.0)
        host = to_host({"dcf": values, "centre": centre, "foreground": foreground, **self._pending_bank_mask()})
        found = Localization.from_values(host["dcf"], p.hard_negative_threshold)
        assessment = self.sample_filter.assess(self.frame, found.peak, found.confidence)
        self.last_assessment = assessment
        self._add_pending_bank_sample(host)
        if not one_pass:
            seg_window = CropWindow(float(host["centre"][0]), float(host["centre"][1]), seg_window.side,
                                    seg_window.size)
        if assessment.move:
            self.position = (float(host["centre"][0]), float(host["centre"][1]))
            if assessment.learn and growth == 1.0:  # a widened crop does not fit the sample memory
                with self._stage("dcf_update"):
                    stride = window.size / features.shape[-1]
                    rate = p.hard_negative_learning_rate if found.hard_negative else p.learning_rate
                    self.dcf.add_sample(projected, self.dcf.label_centre(found.x, found.y, stride),
                                        self._label_sigma(window, stride), rate)
                    if found.hard_negative or self.frame % p.update_interval == 0:
                        self.dcf.refine(p.update_cg_iterations)
        output_box = self._dcf_box()
        rotated = (*self.position, *self.size, 0.0)
        mask = np.zeros(self.image_shape, bool)  # type: ignore[arg-type]
        mask_accepted = segmentation_hard_negative = False
        fit = None
        if assessment.uncertainty < p.segmentation_uncertainty:
            with self._stage("mask_geometry"):
                fit = self._fit(host["foreground"])
                if fit is not None:
                    segmentation_hard_negative = fit.second_contour_large
                    area_scale = seg_window.scale**2
                    decision = self.scale.decide(assessment.uncertainty, float(fit.mask.sum()) * area_scale,
                                                 fit.polygon_area * area_scale, self.size[0] * self.size[1],
                                                 self._dcf_window(1.0).scale)
                    if decision.accepted:
                        mask_accepted = True
                        output_box = seg_window.box_to_image(fit.box)
                        rotated = seg_window.rotated_to_image(fit.rotated_box)
                        mask = paste_mask(fit.mask, seg_window, self.image_shape)  # type: ignore[arg-type]
                    self.size = (self.size[0] * decision.scale_factor, self.size[1] * decision.scale_factor)
                    if decision.move_to_polygon:
                        centre_xy = seg_window.to_image(np.array([fit.centre]))[0]
                        self.position = self._keep_inside(*centre_xy)
        if assessment.move and self.bank.due(self.frame, found.hard_negative or segmentation_hard_negative):
            with self._stage("memory_bank"):
                if not one_pass:
                    self._start_bank_sample(frame)
                elif fit is not None:  # the segmented crop itself, its mask already fitted
                    self._add_bank_entry(seg_features, fit.mask, self.frame)
        state = self._state(assessment, mask_accepted)
        self.lost = state is TrackerState.LOST
        return TrackOutput(box=output_box, rotated_box=rotated, mask=mask,
                           score=self._score(assessment, mask_accepted), state=state)

    def _segment(self, image: torch.Tensor) -> tuple[torch.Tensor, Features]:
        """Foreground (SxS uint8, on the device) of a 1x3xSxS crop in [0, 1] and the crop's features."""
        with self._network_scope():
            features = self.network.extract_features(image)
        return self._foreground(features), features

    def _foreground(self, features: Features) -> torch.Tensor:
        """Foreground (SxS uint8, on the device) of a crop's features segmented against the reference and the
        memory bank."""
        with self._network_scope():
            logits = self.network.segment(features, self.reference_features, self.reference_mask, self._dist_arg(),
                                          tuple(self.bank.entries))
        return (torch.softmax(logits.float(), dim=1)[0, 0] > self.threshold).to(torch.uint8)

    def _start_bank_sample(self, frame: torch.Tensor) -> None:
        """Segment the bank crop now, on the device; its mask is fitted (and the entry added) when it reaches the
        host with the next frame's read-back, so bank frames need no read of their own."""
        p = self.params
        window = CropWindow.around(*self.position, *self.size, p.bank_search_area_scale, p.segm_size)
        foreground, features = self._segment(crop(frame, window) / 255.0)
        self._pending_bank = (foreground, features, self.frame)

    def _pending_bank_mask(self) -> dict[str, torch.Tensor]:
        return {} if self._pending_bank is None else {"bank_foreground": self._pending_bank[0]}

    def _add_pending_bank_sample(self, host: dict[str, np.ndarray]) -> None:
        """Fit the pending bank sample's mask, read back in ``host``, and add the entry if a target was found."""
        if self._pending_bank is None:
            return
        _, features, frame = self._pending_bank
        self._pending_bank = None
        fit = self._fit(host["bank_foreground"])
        if fit is not None:
            self._add_bank_entry(features, fit.mask, frame)

    def _add_bank_entry(self, features: Features, mask: np.ndarray, frame: int) -> None:
        """Add a crop's features with its fitted SxS mask to the memory bank (uploaded without a read)."""
        mask_t = torch.from_numpy(mask).to(self.device, non_blocking=True).float().view(1, 1, *mask.shape)
        with self._network_scope():
            self.bank.add(self.network.bank_entry(features, mask_t), frame)

    # -- helpers --
    def _fit(self, foreground: np.ndarray) -> MaskFit | None:
        p = self.params
        return fit_mask(foreground, p.min_contour_area, p.second_contour_ratio, p.aa_box_area_ratio)

    def _state(self, assessment: Assessment, mask_accepted: bool) -> TrackerState:
        p = self.params
        if assessment.uncertainty >= p.segmentation_uncertainty or (not assessment.move and not mask_accepted):
            return TrackerState.LOST
        if assessment.move and assessment.ratio > p.sample_filter_ratio and mask_accepted:
            return TrackerState.TRACKING
        return TrackerState.UNCERTAIN

    @staticmethod
    def _score(assessment: Assessment, mask_accepted: bool) -> float:
        u = assessment.uncertainty
        score = (1.0 if u <= 1.0 else 1.0 / u) * min(1.0, max(0.0, assessment.ratio))
        return float(score if mask_accepted else 0.5 * score)

    def _upload(self, rgb: np.ndarray) -> torch.Tensor:
        if not rgb.flags.writeable:  # e.g. a view of a bag message's bytes: torch must not wrap read-only memory
            rgb = rgb.copy()
        return torch.from_numpy(rgb).to(self.device, non_blocking=True)

    def _dcf_window(self, growth: float) -> CropWindow:
        p = self.params
        base = self._segm_window() if p.one_backbone_pass else \
            CropWindow.around(*self.position, *self.size, p.dcf_search_area_scale, p.dcf_sample_size)
        if growth == 1.0:
            return base
        size = round(base.size * growth / 16) * 16
        return CropWindow(base.cx, base.cy, base.scale * size, size)

    def _segm_window(self) -> CropWindow:
        p = self.params
        return CropWindow.around(*self.position, *self.size, p.segm_search_area_scale, p.segm_size)

    def _label_sigma(self, window: CropWindow, stride: float) -> float:
        cells_w = self.size[0] / window.scale / stride
        cells_h = self.size[1] / window.scale / stride
        return self.params.label_sigma_factor * math.sqrt(cells_w * cells_h)

    def _hann(self, size: int) -> torch.Tensor:
        if size not in self._windows:
            self._windows[size] = hann2d(size, self.device)
        return self._windows[size]

    def _dist_arg(self) -> torch.Tensor | None:
        return self._dist_map if self.network.uses_distance_map else None

    def _keep_inside(self, cx: float, cy: float) -> tuple[float, float]:
        """Clamp a centre so that at least ``min_target_fraction_inside`` of the target's width/height is inside."""
        (low_x, low_y), (high_x, high_y) = self._inside_bounds()
        return (min(max(cx, low_x), high_x), min(max(cy, low_y), high_y))

    def _next_centre(self, peak: torch.Tensor, move: torch.Tensor, window: CropWindow, axis: int, reach: float
                     ) -> torch.Tensor:
        """On the device, one coordinate of the next centre: the DCF peak (crop pixels) in the image, kept inside
        as ``_keep_inside`` does and within ``reach`` of the current centre, if ``move``; else the current one."""
        low, high = (bound[axis] for bound in self._inside_bounds())
        current = self.position[axis]
        image = (peak * window.scale + window.origin[axis]).clamp(low, high)
        return torch.where(move, image.clamp(current - reach, current + reach), current)

    def _inside_bounds(self) -> tuple[tuple[float, float], tuple[float, float]]:
        height, width = self.image_shape  # type: ignore[misc]
        slack = 0.5 - self.params.min_target_fraction_inside
        w, h = self.size
        return (-slack * w, -slack * h), (width + slack * w, height + slack * h)

    def _dcf_box(self) -> Box:
        (cx, cy), (w, h) = self.position, self.size
        return (cx - w / 2, cy - h / 2, w, h)

    def _network_scope(self) -> contextlib.AbstractContextManager:
        return autocast(self.device, self.precision)

    @contextlib.contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        if not self.profile_stages:
            yield
            return
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        start = time.perf_counter()
        yield
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.stage_seconds[name] += time.perf_counter() - start
