"""Every tunable number of the online tracker, with the published defaults (JCAT_SPEC section 3) and the VOT profile.

``TrackerParams()`` is the published tracker; ``TrackerParams.profile("vot")`` its VOT variant,
``TrackerParams.profile("vot2020")`` its VOT2020 mask tracker and ``TrackerParams.profile("lite")`` the
light-backbone one (one backbone pass per frame, not published);
``params.with_overrides(name=value)`` a checked copy (unknown names and out-of-range values raise ValueError).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

PROFILES = ("default", "vot", "lite", "vot2020")
BOOL_PARAMS = ("one_backbone_pass", "antialias_crops", "sample_filter", "relearn_at_new_position", "bank_on_schedule",
               "rotated_box_fit", "mask_init_overrides", "mask_from_probability", "dcf_box_when_no_mask")


def _p(default: Any, low: float, high: float, doc: str) -> Any:
    """A parameter with its valid closed range and its meaning."""
    return field(default=default, metadata={"range": (low, high), "doc": doc})


@dataclass(frozen=True)
class TrackerParams:
    """The tracker's parameters. Sizes in pixels, scales as multiples of sqrt(target area)."""

    # -- DCF (localisation) --
    one_backbone_pass: bool = field(default=False, metadata={
        "doc": "the DCF reads layer3 of the segmentation crop, which is then segmented where it is instead of "
               "re-centred on the DCF's position, and bank entries reuse that crop: one backbone pass per frame "
               "(the lite profile; dcf_search_area_scale and dcf_sample_size are then unused)"})
    dcf_search_area_scale: float = _p(4.5, 1.0, 20.0, "DCF crop side / sqrt(target area)")
    dcf_sample_size: int = _p(288, 64, 1024, "DCF crop side asked, px (VOT: 360), a multiple of 8; the target scale "
                              "refers to it, and the crop keeps an even number of feature cells (dcf_crop_size: "
                              "352 for 360), as published")
    feature_stride: int = _p(16, 1, 64, "stride of the DCF features (layer3: 16)")
    projection_dim: int = _p(64, 1, 1024, "channels after the learned projection (capped at the feature channels)")
    filter_size: int = _p(4, 1, 9, "spatial size of the DCF filter, cells")
    spatial_penalty: tuple[float, ...] = field(default=(1.0, 0.3, 0.3, 1.0), metadata={
        "doc": "W = outer(p, p): per-tap weight of the filter regulariser (JCAT); length = filter_size"})
    filter_regularization: float = _p(0.1, 0.0, 100.0, "weight of ||W * f||^2")
    projection_regularization: float = _p(1e-4, 0.0, 100.0, "weight of ||P||^2")
    label_sigma_factor: float = _p(0.25, 0.01, 10.0, "Gaussian label sigma = factor * sqrt(target area in cells)")
    mlu_slope: float = _p(0.05, 1e-3, 1.0, "activation elu(leaky_relu(x, 1/slope), slope) in the DCF loss")
    init_gauss_newton_iterations: int = _p(6, 1, 50, "first frame: Gauss-Newton iterations")
    init_cg_iterations: int = _p(10, 1, 100, "first frame: conjugate-gradient iterations per Gauss-Newton step")
    update_cg_iterations: int = _p(5, 1, 100, "filter refresh: conjugate-gradient iterations")
    update_interval: int = _p(10, 1, 1000, "refresh the filter on frames 1 + k x this (and on a hard negative)")
    augmentation_expansion: float = _p(2.0, 1.0, 4.0, "first frame: the augmentation crop is this much larger")
    sample_memory_size: int = _p(250, 30, 5000, "DCF training samples kept (VOT: 300)")
    learning_rate: float = _p(0.0075, 0.0, 1.0, "weight of a new DCF sample")
    hard_negative_learning_rate: float = _p(0.02, 0.0, 1.0, "weight of a new DCF sample on a hard negative")
    target_neighborhood_scale: float = _p(2.2, 0.5, 10.0, "zeroed around peak 1 before peak 2, x target size")
    hard_negative_threshold: float = _p(0.3, 0.0, 1.0, "hard negative when peak2 > threshold * peak1")
    min_target_fraction_inside: float = _p(0.2, 0.0, 1.0, "the DCF position keeps this much of the target inside")
    hard_negative_cg_iterations: int = _p(5, 0, 100, "filter refresh on a DCF hard negative: CG iterations")
    lost_search_growth: float = _p(1.0, 1.0, 4.0,
                                   "while LOST the DCF crop covers this many times more pixels per side at the "
                                   "same scale, so the search widens (not in the published tracker: 1 = off; "
                                   "lite: 2)")
    antialias_crops: bool = field(default=False, metadata={
        "doc": "large downscales subsample and average-pool before the bilinear crop (not in the published "
               "tracker, which samples bilinearly at any scale; lite: on)"})
    # -- online sample filter and uncertainty --
    uncertainty_start_frame: int = _p(5, 1, 1000, "u = 0 and r = 1 up to this frame")
    peak_history: int = _p(25, 1, 1000, "u = mean(last accepted peaks, seeded with 1.0 at the first frame) / peak")
    confidence_history: int = _p(5, 1, 1000, "r = c / mean(last accepted confidences)")
    uncertainty_threshold: float = _p(3.0, 1.0, 100.0, "u below: move to the DCF peak, learn, update the bank")
    confidence_accept_ratio: float = _p(0.3, 0.0, 10.0, "r above: the confidence enters its history")
    sample_filter_ratio: float = _p(0.15, 0.0, 10.0, "r above (and u below its threshold): add the DCF sample")
    sample_filter: bool = field(default=True, metadata={
        "doc": "the confidence ratio gates DCF learning (the VOT tracker learns on every u < 3 frame)"})
    relearn_at_new_position: bool = field(default=False, metadata={
        "doc": "the DCF sample is a new crop centred on the frame's final position (VOT tracker) instead of the "
               "frame's search crop with its label moved there"})
    segmentation_uncertainty: float = _p(10.0, 1.0, 1000.0, "u below: segment this frame; above: LOST")
    scale_uncertainty: float = _p(3.5, 1.0, 100.0, "u below: the mask may update the scale")
    # -- segmentation --
    segm_search_area_scale: float = _p(4.0, 1.0, 20.0, "segmentation crop side / sqrt(target area)")
    segm_size: int = _p(384, 64, 1024, "segmentation crop side after resizing, px; a multiple of 16")
    segm_threshold: float = _p(0.5, 0.0, 1.0, "foreground when softmax channel 0 exceeds this (box init)")
    segm_threshold_mask_init: float = _p(0.2, 0.0, 1.0, "the same when initialised from a mask")
    init_dilation: float = _p(0.05, 0.0, 1.0, "box initialisation: the refined reference mask is kept within the box "
                              "dilated by max(5, this x the smaller box side) crop px")
    init_mask_threshold: float = _p(0.1, 0.0, 1.0, "a given initial mask is foreground above this")
    min_contour_area: float = _p(50.0, 0.0, 1e6, "smallest target contour, crop px")
    second_contour_ratio: float = _p(0.4, 0.0, 1.0, "segmentation hard negative when contour 2 > ratio * contour 1")
    aa_box_area_ratio: tuple[float, float] = field(default=(0.1, 2.5), metadata={
        "doc": "the box fitted to the mask replaces its minAreaRect in the output when area(fit)/area(minAreaRect) "
               "is inside this range"})
    rotated_box_fit: bool = field(default=False, metadata={
        "doc": "the box fitted to the mask is rotated (VOT tracker: ellipse angle, greedily shrunk sides) instead of "
               "the mask's axis-aligned extent"})
    area_history: int = _p(25, 1, 1000, "mask contour areas (crop px) averaged for the change test")
    area_change_scale: float = _p(2.0, 0.0, 100.0, "|area - mean| / mean below: scale update; at or above: "
                                  "mask rejected")
    area_change_position: float = _p(1.0, 0.0, 100.0, "|area - mean| / mean below: position = polygon centre")
    scale_step_range: tuple[float, float] = field(default=(0.95, 1.05), metadata={
        "doc": "per-frame limits of the scale factor"})
    scale_step_range_mask_init: tuple[float, float] = field(default=(0.9, 1.1), metadata={
        "doc": "the same when initialised from a mask"})
    mask_init_overrides: bool = field(default=True, metadata={
        "doc": "initialised from a mask, the tracker uses segm_threshold_mask_init and scale_step_range_mask_init "
               "(the VOT2020 mask tracker keeps segm_threshold and scale_step_range)"})
    min_target_scale: float = _p(0.2, 0.0, 10.0, "a scale update must leave the DCF target scale above this")
    max_scale_change: float = _p(0.75, 0.0, 10.0, "a scale update needs a relative change below this")
    # -- mask output --
    mask_from_probability: bool = field(default=False, metadata={
        "doc": "the output mask is the largest contour dilated 7x7 times the foreground probability, resized to "
               "the crop's image side and thresholded at 0.5 (the VOT2020 mask tracker's resize_mask) instead of "
               "the filled contour resampled into the image"})
    dcf_box_when_no_mask: bool = field(default=False, metadata={
        "doc": "without an accepted mask the output mask is the DCF box filled (the VOT2020 mask tracker never "
               "reports an empty mask) instead of empty"})
    # -- segmentation memory bank --
    bank_capacity: int = _p(4, 0, 100, "bank samples kept, oldest evicted")
    bank_search_area_scale: float = _p(4.5, 1.0, 20.0, "crop side / sqrt(target area) of a bank sample")
    bank_on_schedule: bool = field(default=True, metadata={
        "doc": "add samples on the schedule below besides hard negatives (the VOT tracker: hard negatives only)"})
    bank_every_frame_until: int = _p(10, 1, 1000, "add a sample on every frame from 2 up to this frame")
    bank_interval: int = _p(20, 1, 1000, "afterwards, add one when this many frames passed since the last addition")
    bank_hard_negative_gap: int = _p(10, 1, 1000, "on a hard negative, add when this many frames passed since the "
                                     "last addition")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if "range" in f.metadata:
                low, high = f.metadata["range"]
                if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
                        or not low <= value <= high:
                    raise ValueError(f"{f.name}={value!r} is out of range [{low}, {high}]: {f.metadata['doc']}")
                if isinstance(f.default, int) and not isinstance(value, int):
                    raise ValueError(f"{f.name} must be an integer, got {value!r}")
        for name in BOOL_PARAMS:
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if len(self.spatial_penalty) != self.filter_size or min(self.spatial_penalty) < 0:
            raise ValueError(f"spatial_penalty needs {self.filter_size} non-negative values (one per filter tap), "
                             f"got {self.spatial_penalty!r}")
        for name in ("aa_box_area_ratio", "scale_step_range", "scale_step_range_mask_init"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise ValueError(f"{name} must be (low, high) with 0 < low <= high, got {(low, high)!r}")
        if self.dcf_sample_size % 8 or self.segm_size % 16:
            raise ValueError(f"dcf_sample_size must be a multiple of 8 and segm_size of 16, got "
                             f"{self.dcf_sample_size} and {self.segm_size}")

    @classmethod
    def profile(cls, name: str = "default") -> TrackerParams:
        """The published tracker ("default"), the published VOT tracker ("vot": larger DCF crop and memory, no
        sample filter, DCF samples re-cropped at the new position, memory bank on hard negatives only, rotated box
        fit), the published VOT2020 mask tracker ("vot2020", ``_vot2020``) or "lite" (ours, not published): one
        backbone pass per frame for a light backbone whose layer3 also feeds the DCF (EfficientNet-Lite), a wider
        search while LOST and anti-aliased crops."""
        if name == "default":
            return cls()
        if name == "vot":
            return cls._vot()
        if name == "vot2020":
            return cls._vot2020()
        if name == "lite":
            return cls(one_backbone_pass=True, lost_search_growth=2.0, antialias_crops=True)
        raise ValueError(f"unknown profile {name!r}; choose from {PROFILES}")

    @classmethod
    def _vot(cls) -> TrackerParams:
        """The published VOT2016-2019 tracker (their ``Jcat_vot`` with ``Jcat_vot`` parameters)."""
        return cls(dcf_sample_size=360, sample_memory_size=300, sample_filter=False, relearn_at_new_position=True,
                   bank_on_schedule=False, bank_hard_negative_gap=20, second_contour_ratio=0.25,
                   rotated_box_fit=True)

    @classmethod
    def _vot2020(cls) -> TrackerParams:
        """The published VOT2020 mask tracker (their ``vot20_wrapper`` driving ``Jcat_mask``), started from the
        toolkit's mask. Known from that code: no sample filter and DCF samples re-cropped at the new position (as
        ``vot``), the axis-aligned box fit, second-contour ratio 0.4, no memory-bank entry ever, no switch to the
        mask-init threshold and scale step, the probability-weighted mask output and the filled DCF box when no
        mask is accepted. Its parameter file (``Jcat_vot20``) was published only as a .pyc, so the values are
        ``vot``'s (DCF crop 360, memory 300, segm_threshold 0.5, scale step 0.95-1.05, the uncertainty and
        learning settings, ...) and the given mask's threshold is ``init_segm_mask_thr`` = 0.5 as in both
        published parameter files."""
        return dataclasses.replace(cls._vot(), rotated_box_fit=False, second_contour_ratio=0.4, bank_capacity=0,
                                   init_mask_threshold=0.5, mask_init_overrides=False, mask_from_probability=True,
                                   dcf_box_when_no_mask=True)

    @property
    def dcf_crop_size(self) -> int:
        """The DCF crop's side after resizing: ``dcf_sample_size`` moved to an even number of feature cells the
        published way (288 stays 288, 360 becomes 352)."""
        stride = self.feature_stride
        return self.dcf_sample_size + stride - (self.dcf_sample_size + stride) % (2 * stride)

    def with_overrides(self, **overrides: Any) -> TrackerParams:
        """A copy with some values changed; unknown names or invalid values raise ValueError naming them."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown tracker parameter(s) {unknown}; valid names: {sorted(known)}")
        cleaned = {k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()}
        return dataclasses.replace(self, **cleaned)

    @classmethod
    def describe(cls) -> dict[str, str]:
        """Each parameter's meaning, for documentation and ROS parameter descriptors."""
        return {f.name: f.metadata["doc"] for f in dataclasses.fields(cls)}
