"""JCAT's online sample filter: the uncertainty u and confidence ratio r that gate moving, learning and states."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from jcat_core.tracker.params import TrackerParams


@dataclass(frozen=True)
class Assessment:
    """The filter's verdict on one frame."""

    uncertainty: float  # u = mean(recent accepted peaks) / peak; 0 up to the start frame
    ratio: float  # r = c / mean(recent accepted confidences); 1 up to the start frame
    move: bool  # u < threshold: follow the DCF peak (and update the segmentation bank)
    learn: bool  # move and r > sample-filter ratio: add the DCF sample


class SampleFilter:
    """Histories of accepted peaks and confidences, and the u / r rules of JCAT_SPEC section 3."""

    def __init__(self, params: TrackerParams) -> None:
        self.params = params
        self.peaks: deque[float] = deque(maxlen=params.peak_history)
        self.confidences: deque[float] = deque(maxlen=params.confidence_history)

    def move_threshold(self, frame: int) -> float:
        """The peak that frame ``frame`` must exceed to move: u < threshold ⇔ peak > max(mean peak / threshold, 0).

        -inf up to the start frame (u = 0 there). Rounded to float32 so that a device-side comparison with a
        float32 peak decides exactly as ``assess`` does on the host."""
        p = self.params
        if frame <= p.uncertainty_start_frame or not self.peaks or not self.confidences:
            return float("-inf")
        return float(np.float32(max(sum(self.peaks) / len(self.peaks) / p.uncertainty_threshold, 0.0)))

    def assess(self, frame: int, peak: float, confidence: float) -> Assessment:
        """Judge frame ``frame`` (1 = the initial frame) from its DCF peak and confidence, updating histories."""
        p = self.params
        if frame > p.uncertainty_start_frame and self.peaks and self.confidences:
            mean_peak = sum(self.peaks) / len(self.peaks)
            mean_conf = sum(self.confidences) / len(self.confidences)
            u = mean_peak / peak if peak > 0 else float("inf")
            r = confidence / mean_conf if mean_conf > 0 else 0.0
        else:
            u, r = 0.0, 1.0
        move = peak > self.move_threshold(frame)
        if move:
            self.peaks.append(peak)
        if r > p.confidence_accept_ratio:
            self.confidences.append(confidence)
        return Assessment(u, r, move, move and r > p.sample_filter_ratio)
