"""JCAT's online sample filter: the uncertainty u and confidence ratio r that gate moving, learning and states."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from jcat_core.tracker.params import TrackerParams


@dataclass(frozen=True)
class Assessment:
    """The filter's verdict on one frame."""

    uncertainty: float  # u = mean(1.0 and recent accepted peaks) / peak; 0 up to the start frame
    ratio: float  # r = c / mean(recent accepted confidences); 1 up to the start frame
    move: bool  # u < threshold: follow the DCF peak (and update the segmentation bank)
    learn: bool  # move and r > sample-filter ratio: add the DCF sample


class SampleFilter:
    """Histories of accepted peaks (seeded with 1.0, the first frame's) and confidences, and the u / r rules of
    JCAT_SPEC section 3."""

    def __init__(self, params: TrackerParams) -> None:
        self.params = params
        self.peaks: deque[float] = deque([1.0], maxlen=params.peak_history)
        self.confidences: deque[float] = deque(maxlen=params.confidence_history)

    def assess(self, frame: int, peak: float, confidence: float) -> Assessment:
        """Judge frame ``frame`` (1 = the initial frame) from its DCF peak and confidence, updating histories."""
        p = self.params
        u, r = 0.0, 1.0
        if frame > p.uncertainty_start_frame:
            u = sum(self.peaks) / len(self.peaks) / peak if peak > 0 else float("inf")
            if self.confidences:
                mean_conf = sum(self.confidences) / len(self.confidences)
                r = confidence / mean_conf if mean_conf > 0 else 0.0
        move = u < p.uncertainty_threshold
        if move:
            self.peaks.append(peak)
        if r > p.confidence_accept_ratio:
            self.confidences.append(confidence)
        learn = move and (r > p.sample_filter_ratio or not p.sample_filter)
        return Assessment(u, r, move, learn)
