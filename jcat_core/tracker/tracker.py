"""The JCAT online tracker: DCF localisation, sample filter, segmentation with a memory bank, mask-based box/scale.

Each frame runs the published tracker's stages in order (JCAT_SPEC section 3), one method each: localise (DCF
peak), assess (uncertainty u, confidence ratio r), decide the position, segment (mask, scale, position, output
box), learn (DCF sample), refresh (filter), feed the memory bank; then the state.

Coordinates: 0-based pixels, boxes (x, y, w, h) with (x, y) the top-left corner; see geometry.py.

States (ours; the published tracker reports none), from u, r and the mask:
- TRACKING: u < ``uncertainty_threshold`` (3), r > ``sample_filter_ratio`` (0.15) and a mask was accepted.
- LOST: u >= ``segmentation_uncertainty`` (10), or u >= 3 with no accepted mask. With ``lost_search_growth`` > 1
  (the lite profile) the DCF searches a wider crop while LOST.
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
import torch.nn.functional as F

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
    filled_box_mask,
    fit_mask,
    paste_mask,
    polygon_box,
    polygon_mask,
    probability_mask,
)
from jcat_core.tracker.inputs import as_rgb_uint8, checked_box, checked_mask, checked_polygon, mask_box
from jcat_core.tracker.memory_bank import MemoryBank
from jcat_core.tracker.network import Features, TrackerNetwork
from jcat_core.tracker.params import TrackerParams
from jcat_core.tracker.readback import to_host
from jcat_core.tracker.scale import MaskDecision, ScaleEstimator
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
    mask: np.ndarray  # HxW bool; without an accepted mask all False, or the filled DCF box (dcf_box_when_no_mask)
    score: float
    state: TrackerState
    polygon: np.ndarray | None = None  # 4x2 image (x, y) corners of the box fitted to the mask (VOT's region)


@dataclass
class FrameRecord:
    """The published tracker's decisions on one frame, as this tracker took them (traces, tests, diagnostics)."""

    frame: int
    dcf_peak: tuple[float, float] = (0.0, 0.0)  # image (x, y) of the DCF score peak
    dcf_window: CropWindow | None = None  # the DCF crop the peak was found in (score index p is crop pixel p)
    hard_negative: bool = False  # DCF: peak 2 > 0.3 x peak 1
    uncertainty: float = 0.0
    ratio: float = 1.0
    moved: bool = False  # u < 3: position (kept inside) and scale follow the DCF; learning and the bank may run
    segmented: bool = False
    mask_area: float | None = None  # largest contour, crop px
    area_change: float | None = None
    position_source: str = "dcf"  # "mask" (minAreaRect centre), "dcf" (the peak) or "kept"
    learned: bool = False
    label_xy: tuple[float, float] | None = None  # image (x, y) the new DCF sample's label is centred on
    refresh_iterations: int = 0
    bank_added: bool = False
    segm_hard_negative: bool = False
    scale_changed: bool = False


# Parameters that only steer per-frame decisions, so they may change between two frames without a new tracker;
# the others size crops, filters or histories.
RUNTIME_PARAMS = frozenset({
    "uncertainty_threshold", "confidence_accept_ratio", "sample_filter_ratio", "segmentation_uncertainty",
    "scale_uncertainty", "hard_negative_threshold", "learning_rate", "hard_negative_learning_rate",
    "update_interval", "segm_threshold", "segm_threshold_mask_init", "min_contour_area", "second_contour_ratio",
    "area_change_scale", "area_change_position", "bank_interval", "bank_hard_negative_gap", "sample_filter",
    "bank_on_schedule", "bank_every_frame_until", "hard_negative_cg_iterations", "max_scale_change",
    "min_target_scale", "scale_step_range", "scale_step_range_mask_init", "aa_box_area_ratio",
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
        self.segm_hard_negative = False  # sticky: set and cleared only by frames with two or more contours
        self.dcf = CorrelationFilter(self.params, self.device)
        self.sample_filter = SampleFilter(self.params)
        self.bank = MemoryBank(self.params)
        self.scale = ScaleEstimator(self.params)
        self.last_record: FrameRecord | None = None

    @property
    def initialized(self) -> bool:
        return self.image_shape is not None

    @property
    def threshold(self) -> float:
        """Foreground threshold on the segmentation softmax: lower when the target was given as a mask (unless
        ``mask_init_overrides`` is off)."""
        p = self.params
        return p.segm_threshold_mask_init if self._mask_init_rules else p.segm_threshold

    @property
    def _mask_init_rules(self) -> bool:
        """Whether the mask-init threshold and scale step apply: started from a mask, with mask_init_overrides."""
        return self.initialised_from_mask and self.params.mask_init_overrides

    def update_params(self, **changes: object) -> None:
        """Change parameters of RUNTIME_PARAMS between frames, keeping the target; others raise ValueError."""
        fixed = sorted(set(changes) - RUNTIME_PARAMS)
        if fixed:
            raise ValueError(f"{fixed} cannot change while tracking (they size crops, filters or histories); "
                             f"build a new tracker. Changeable: {sorted(RUNTIME_PARAMS)}")
        self.params = self.params.with_overrides(**changes)
        for part in (self.dcf, self.sample_filter, self.bank, self.scale):
            part.params = self.params

    def initialize(self, image: np.ndarray, box: Box | None = None, mask: np.ndarray | None = None,
                   polygon: np.ndarray | None = None) -> None:
        """Start tracking the target given by ``box`` (x, y, w, h), by an HxW ``mask`` or by a VOT ``polygon`` (Nx2
        corners, as the published VOT tracker takes its region: ``polygon_box`` and ``polygon_mask``) in ``image``.
        On any error the tracker is left as it was (still tracking its previous target, if any)."""
        rgb = as_rgb_uint8(image)
        shape = rgb.shape[:2]
        if sum(region is not None for region in (box, mask, polygon)) != 1:
            raise ValueError("initialize needs exactly one of box=(x, y, w, h), mask=HxW or polygon=Nx2 corners")
        target_mask = None if mask is None else checked_mask(mask, shape, self.params.init_mask_threshold)
        corners = None if polygon is None else checked_polygon(polygon)
        if box is not None:
            target_box = checked_box(box, shape)
        else:
            target_box = checked_box(polygon_box(corners), shape) if corners is not None else mask_box(target_mask)  # type: ignore[arg-type]
        previous = dict(vars(self))  # reset() and _start() only rebind attributes: this is the whole old state
        self.reset()
        try:
            self._start(rgb, target_box, target_mask, corners)
        except Exception:
            vars(self).update(previous)  # a failed start leaves the previous target tracking
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
    def _start(self, rgb: np.ndarray, box: Box, target_mask: np.ndarray | None, corners: np.ndarray | None) -> None:
        self.image_shape = rgb.shape[:2]
        self.frame = 1
        x, y, w, h = box
        self.position = (x + w / 2, y + h / 2)
        self.size = (w, h)
        self.initialised_from_mask = target_mask is not None
        with torch.no_grad():
            frame = self._upload(rgb)
            self._start_dcf(frame)
            self._start_segmentation(frame, box, target_mask, corners)

    def _start_dcf(self, frame: torch.Tensor) -> None:
        p = self.params
        window = self._dcf_window(1.0)
        expanded = CropWindow(window.cx, window.cy, window.side * p.augmentation_expansion,
                              round(window.size * p.augmentation_expansion))
        samples, centres = first_frame_samples(self._crop(frame, expanded) / 255.0, window.size)
        with self._network_scope():
            features = self.network.dcf_features(samples).float()
        stride = window.size / features.shape[-1]
        cells = torch.stack([torch.tensor(self.dcf.label_centre(float(cx), float(cy), stride))
                             for cx, cy in centres.cpu()]).to(self.device)
        self.dcf.initialize(features, cells, self._label_sigma(window, stride))

    def _start_segmentation(self, frame: torch.Tensor, box: Box, target_mask: np.ndarray | None,
                            corners: np.ndarray | None) -> None:
        """The reference crop, its mask and the area history's seed. From a box (or polygon), as published: the head
        runs once with the crop as reference and test and the box's (polygon's) crop as mask; the reference mask is
        its foreground within that crop dilated by max(5, ``init_dilation`` x the smaller side) crop px."""
        p = self.params
        window = self._segm_window()
        image = self._crop(frame, window) / 255.0
        with self._network_scope():
            features = self.network.extract_features(image)
        if target_mask is not None:
            mask_t = torch.from_numpy(target_mask.astype(np.float32)).to(self.device)[:, :, None]
            reference = (crop(mask_t, window, pad_with_border=False) > p.init_mask_threshold).float()
        else:
            drawn = box_mask(box, window, self.image_shape) if corners is None else polygon_mask(  # type: ignore[arg-type]
                corners, window, self.image_shape)  # type: ignore[arg-type]
            boxed = drawn.to(self.device).view(1, 1, p.segm_size, p.segm_size)
            with self._network_scope():
                logits = self.network.segment(features, features, boxed, self._dist_arg(), ())
            k = max(5, round(p.init_dilation * min(box[2], box[3]) / window.scale))
            dilated = F.max_pool2d(F.pad(boxed, (k // 2, k - 1 - k // 2) * 2), k, stride=1)  # cv2.dilate's anchor
            refined = (torch.softmax(logits.float(), dim=1)[:, :1] > p.segm_threshold).float() * dilated
            # a network that finds nothing in the box (e.g. untrained) keeps the box itself as the reference
            reference = refined if float(refined.sum()) > p.min_contour_area else boxed
        self.reference_features = features
        self.reference_mask = reference
        self.scale.areas.append(float(reference.sum()))

    # -- every frame --
    def _track(self, frame: torch.Tensor) -> TrackOutput:
        """One frame, stage by stage. The device localises the DCF peak and segments the crop centred on it; one
        read-back brings both to the host (the crop's foreground, or its probability map with
        ``mask_from_probability``), which takes the decisions and does the geometry. A frame that feeds the memory
        bank reads its bank crop's segmentation once more (the entry is used from the next frame on)."""
        p = self.params
        record = FrameRecord(self.frame)
        growth = p.lost_search_growth if self.lost else 1.0
        one_pass = p.one_backbone_pass and growth == 1.0  # a widened search while LOST is a crop of its own
        window, projected, values, seg_features = self._localise(frame, growth, one_pass)
        with self._stage("segmentation"):
            # segmented before the host knows whether the frame is usable, so one read-back brings both
            centre = self._segmentation_centre(values, window)
            if one_pass:
                seg_window, segmentation = window, self._segmentation_map(seg_features)
            else:
                seg_window = self._segm_window()
                reach = window.side / 2 + self._outside_distance()
                segmentation, seg_features = self._segment(
                    crop_moved(frame, seg_window, centre, reach, p.antialias_crops) / 255.0)
        host = to_host({"dcf": values, "centre": centre, "segmentation": segmentation})
        found = Localization.from_values(host["dcf"], p.hard_negative_threshold)
        peak_x, peak_y = window.to_image(np.array([[found.x, found.y]]))[0]
        peak = (float(peak_x), float(peak_y))
        segm_centre = (float(host["centre"][0]), float(host["centre"][1]))
        if not one_pass:
            seg_window = seg_window.moved_to(*segm_centre)
        assessment = self.sample_filter.assess(self.frame, found.peak, found.confidence)
        record.dcf_peak, record.dcf_window, record.hard_negative = peak, window, found.hard_negative
        record.uncertainty, record.ratio, record.moved = assessment.uncertainty, assessment.ratio, assessment.move
        size_at_start = self.size
        self._decide_position(assessment, peak)
        result = self._segmentation_result(host["segmentation"], seg_window, assessment, segm_centre, record)
        self._learn(frame, assessment, found, window, projected, size_at_start, growth, record)
        self._refresh(found, record)
        self._feed_bank(frame, assessment, found, segm_centre, size_at_start, seg_features, result.fit, record)
        state = self._state(assessment, result.accepted)
        self.lost = state is TrackerState.LOST
        self.last_record = record
        return TrackOutput(box=result.box, rotated_box=result.rotated, mask=result.mask, polygon=result.polygon,
                           score=self._score(assessment, result.accepted), state=state)

    def _localise(self, frame: torch.Tensor, growth: float, one_pass: bool
                  ) -> tuple[CropWindow, torch.Tensor, torch.Tensor, Features | None]:
        """Stage 1, on the device: the DCF crop at the current position, its RMS-normalised projected features
        and the score's (x, y, peak, second peak, confidence) (``CorrelationFilter.localize``)."""
        seg_features = None
        with self._stage("dcf_features"):
            window = self._dcf_window(growth)
            image = self._crop(frame, window) / 255.0
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
        return window, projected, values, seg_features

    def _segmentation_centre(self, values: torch.Tensor, window: CropWindow) -> torch.Tensor:
        """On the device, where the published tracker segments: the DCF peak in the image, clamped to the image's
        pixel range (whatever u is)."""
        height, width = self.image_shape  # type: ignore[misc]
        x = (values[0] * window.scale + window.origin[0]).clamp(0, width - 1)
        y = (values[1] * window.scale + window.origin[1]).clamp(0, height - 1)
        return torch.stack([x, y])

    def _decide_position(self, assessment: Assessment, peak: tuple[float, float]) -> None:
        """Stage 3: with u < 3 the position goes to the DCF peak, keeping ``min_target_fraction_inside`` of the
        target in the image; otherwise it stays until the segmentation stage decides."""
        if assessment.move:
            self.position = self._keep_inside(*peak)

    def _segmentation_result(self, segmentation: np.ndarray, window: CropWindow, assessment: Assessment,
                             segm_centre: tuple[float, float], record: FrameRecord) -> _Segmentation:
        """Stage 4 (u < 10): the largest contour gives the mask, the scale step, the position (minAreaRect centre
        when the area is consistent) and the output box; without a usable mask, and when u >= 10, the position is
        the segmentation centre (the clamped DCF peak), the output box the DCF box and the mask ``_no_mask``."""
        p = self.params
        fit = None
        decision: MaskDecision | None = None
        if assessment.uncertainty < p.segmentation_uncertainty:
            record.segmented = True
            with self._stage("mask_geometry"):
                fit = self._fit(self._host_foreground(segmentation))
                if fit is not None:
                    decision = self._apply_mask(fit, window, assessment.uncertainty, record)
        if decision is None or not decision.accepted:
            self.position = segm_centre
            record.position_source = "dcf"
            return _Segmentation(self._dcf_box(), (*self.position, *self.size, 0.0), self._no_mask(), None, fit)
        if decision.move_to_mask:
            record.position_source = "mask"
        elif not assessment.move:
            record.position_source = "kept"
        corners = window.index_to_image(fit.output_corners)  # type: ignore[union-attr]
        (x0, y0), (x1, y1) = corners.min(axis=0), corners.max(axis=0)
        box = (float(x0), float(y0), float(x1 - x0 + 1), float(y1 - y0 + 1))  # covering the corner pixels
        mask = self._output_mask(fit, segmentation, window)  # type: ignore[arg-type]
        return _Segmentation(box, window.rotated_to_image(fit.rotated_box), mask, corners + 0.5, fit)  # type: ignore[union-attr]

    def _output_mask(self, fit: MaskFit, segmentation: np.ndarray, window: CropWindow) -> np.ndarray:
        """The accepted mask in the image: the filled contour resampled, or with ``mask_from_probability`` the
        VOT2020 mask tracker's contour-gated probability (``probability_mask``; ``segmentation`` is then the
        crop's probability map)."""
        if self.params.mask_from_probability:
            return probability_mask(fit.mask, segmentation, window, self.image_shape)  # type: ignore[arg-type]
        return paste_mask(fit.mask, window, self.image_shape)  # type: ignore[arg-type]

    def _no_mask(self) -> np.ndarray:
        """The output mask without an accepted one: empty, or with ``dcf_box_when_no_mask`` the VOT2020 mask
        tracker's filled DCF state (x, y) = position - (size - 1) / 2, our position standing for theirs as
        everywhere (the segmentation crop, the traces)."""
        if not self.params.dcf_box_when_no_mask:
            return np.zeros(self.image_shape, bool)  # type: ignore[arg-type]
        (cx, cy), (w, h) = self.position, self.size
        return filled_box_mask((cx - (w - 1) / 2, cy - (h - 1) / 2, w, h), self.image_shape)  # type: ignore[arg-type]

    def _apply_mask(self, fit: MaskFit, window: CropWindow, uncertainty: float, record: FrameRecord
                    ) -> MaskDecision:
        """The published mask rules: the contour area against its history, the scale step towards the
        minAreaRect's area-preserving box, the position to the minAreaRect's centre."""
        p = self.params
        if fit.second_contour_large is not None:
            self.segm_hard_negative = fit.second_contour_large
        record.segm_hard_negative = self.segm_hard_negative
        rect = window.index_to_image(fit.rect)
        target_scale = self._target_scale()
        step_range = p.scale_step_range_mask_init if self._mask_init_rules else p.scale_step_range
        decision = self.scale.decide(uncertainty, fit.area, self._wanted_scale(rect, target_scale), target_scale,
                                     step_range)
        record.mask_area, record.area_change = fit.area, decision.area_change
        record.scale_changed = decision.scale_factor != 1.0
        self.size = (self.size[0] * decision.scale_factor, self.size[1] * decision.scale_factor)
        if decision.move_to_mask:
            cx, cy = rect.mean(axis=0) + 0.5  # pixel indices -> continuous coordinates
            self.position = (float(cx), float(cy))
        return decision

    def _wanted_scale(self, rect: np.ndarray, current: float) -> float:
        """The DCF target scale the mask asks for: that of the area-preserving box of the minAreaRect (same
        centre, the rectangle's area, its hull's aspect, +1 px per side)."""
        p = self.params
        extent = rect.max(axis=0) - rect.min(axis=0)
        if extent[0] * extent[1] <= 0:
            return current
        _, _, w, h = polygon_box(rect)
        return math.sqrt(w * h) * p.dcf_search_area_scale / p.dcf_crop_size

    def _learn(self, frame: torch.Tensor, assessment: Assessment, found: Localization, window: CropWindow,
               projected: torch.Tensor, size_at_start: tuple[float, float], growth: float, record: FrameRecord
               ) -> None:
        """Stage 5 (u < 3, and r > 0.15 with the sample filter): the frame's DCF crop joins the sample memory with
        its label centred on the final position; the VOT tracker crops the sample anew around that position."""
        p = self.params
        if not assessment.learn or growth != 1.0:  # a widened crop does not fit the sample memory
            return
        with self._stage("dcf_update"):
            if p.relearn_at_new_position:
                window = self._dcf_window_at(self.position, size_at_start)
                with self._network_scope():
                    projected = self.dcf.project(self.network.dcf_features(self._crop(frame, window) / 255.0).float())
            stride = window.size / projected.shape[-1]
            crop_x, crop_y = (self.position[0] - window.origin[0]) / window.scale, \
                (self.position[1] - window.origin[1]) / window.scale
            rate = p.hard_negative_learning_rate if found.hard_negative else p.learning_rate
            self.dcf.add_sample(projected, self.dcf.label_centre(crop_x, crop_y, stride),
                                self._label_sigma(window, stride), rate)
        record.learned, record.label_xy = True, self.position

    def _refresh(self, found: Localization, record: FrameRecord) -> None:
        """Stage 6: conjugate-gradient iterations on the filter on a DCF hard negative and on frames 1 + k x
        ``update_interval``, whether or not a sample was added."""
        p = self.params
        if found.hard_negative:
            iterations = p.hard_negative_cg_iterations
        elif (self.frame - 1) % p.update_interval == 0:
            iterations = p.update_cg_iterations
        else:
            return
        with self._stage("dcf_update"):
            self.dcf.refine(iterations)
        record.refresh_iterations = iterations

    def _feed_bank(self, frame: torch.Tensor, assessment: Assessment, found: Localization,
                   segm_centre: tuple[float, float], size_at_start: tuple[float, float], seg_features: Features,
                   fit: MaskFit | None, record: FrameRecord) -> None:
        """Stage 7 (u < 3, on the bank's schedule): segment a wider crop around the segmentation centre and keep
        its largest contour's mask with the crop's features. The published rule uses the entry from the next frame
        on, so its mask is read back now: a second read on bank frames. With one backbone pass (lite) the frame's
        own segmented crop is the entry."""
        p = self.params
        if not (assessment.move and self.bank.due(self.frame, found.hard_negative or self.segm_hard_negative)):
            return
        self.bank.attempted(self.frame)
        with self._stage("memory_bank"):
            if p.one_backbone_pass:
                bank_fit, features = fit, seg_features
            else:
                window = CropWindow.pixel_aligned(*segm_centre, *size_at_start, p.bank_search_area_scale, p.segm_size)
                segmentation, features = self._segment(self._crop(frame, window) / 255.0)
                bank_fit = self._fit(self._host_foreground(to_host({"segmentation": segmentation})["segmentation"]))
            if bank_fit is not None:
                mask_t = torch.from_numpy(bank_fit.mask).to(self.device, non_blocking=True).float()
                with self._network_scope():
                    self.bank.add(self.network.bank_entry(features, mask_t.view(1, 1, *bank_fit.mask.shape)))
                record.bank_added = True

    def _segment(self, image: torch.Tensor) -> tuple[torch.Tensor, Features]:
        """``_segmentation_map`` of a 1x3xSxS crop in [0, 1], and the crop's features."""
        with self._network_scope():
            features = self.network.extract_features(image)
        return self._segmentation_map(features), features

    def _segmentation_map(self, features: Features) -> torch.Tensor:
        """What the host reads of a crop segmented against the reference and the memory bank (SxS, on the
        device): its foreground (uint8), or with ``mask_from_probability`` the foreground probability (float32),
        which the output mask needs and the host thresholds itself: one read either way."""
        with self._network_scope():
            logits = self.network.segment(features, self.reference_features, self.reference_mask, self._dist_arg(),
                                          tuple(self.bank.entries))
        probability = torch.softmax(logits.float(), dim=1)[0, 0]  # SxS, channel 0 = target
        if self.params.mask_from_probability:
            return probability
        return (probability > self.threshold).to(torch.uint8)

    def _host_foreground(self, segmentation: np.ndarray) -> np.ndarray:
        """The SxS uint8 foreground of a read-back ``_segmentation_map``, thresholded in float32 as on the
        device."""
        if self.params.mask_from_probability:
            return (segmentation > np.float32(self.threshold)).astype(np.uint8)
        return segmentation

    # -- helpers --
    def _fit(self, foreground: np.ndarray) -> MaskFit | None:
        p = self.params
        return fit_mask(foreground, p.min_contour_area, p.second_contour_ratio, p.aa_box_area_ratio,
                        p.rotated_box_fit)

    def _crop(self, frame: torch.Tensor, window: CropWindow) -> torch.Tensor:
        return crop(frame, window, antialias=self.params.antialias_crops)

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
        base = self._segm_window() if p.one_backbone_pass else self._dcf_window_at(self.position, self.size)
        if growth == 1.0:
            return base
        size = round(base.size * growth / 16) * 16
        return CropWindow(base.cx, base.cy, base.scale * size, size)

    def _dcf_window_at(self, position: tuple[float, float], size: tuple[float, float]) -> CropWindow:
        """The DCF crop around ``position`` for a target of ``size``: its side / sqrt(target area) is less than
        ``dcf_search_area_scale`` when the crop keeps fewer pixels than the side its scale refers to (VOT: 352 of
        360)."""
        p = self.params
        area_scale = p.dcf_search_area_scale * p.dcf_crop_size / p.dcf_sample_size
        return CropWindow.around(*position, *size, area_scale, p.dcf_crop_size)

    def _target_scale(self) -> float:
        """The published DCF target scale: image px per px of the asked crop side (``dcf_sample_size``)."""
        p = self.params
        return p.dcf_search_area_scale * math.sqrt(self.size[0] * self.size[1]) / p.dcf_sample_size

    def _segm_window(self) -> CropWindow:
        p = self.params
        return CropWindow.pixel_aligned(*self.position, *self.size, p.segm_search_area_scale, p.segm_size)

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

    def _outside_distance(self) -> float:
        """How far the current position lies outside the image's pixel range (0 inside)."""
        height, width = self.image_shape  # type: ignore[misc]
        x, y = self.position
        return max(0.0, -x, x - (width - 1), -y, y - (height - 1))

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


@dataclass(frozen=True)
class _Segmentation:
    """What the segmentation stage gives the frame's output."""

    box: Box
    rotated: RotatedBox
    mask: np.ndarray
    polygon: np.ndarray | None
    fit: MaskFit | None

    @property
    def accepted(self) -> bool:
        return self.polygon is not None
