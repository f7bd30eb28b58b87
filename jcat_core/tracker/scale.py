"""Scale and position from the mask: JCAT's area-change test on contour areas and the bounded per-frame scale step."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from jcat_core.tracker.params import TrackerParams


@dataclass(frozen=True)
class MaskDecision:
    """What one mask is allowed to change."""

    area_change: float  # |area − mean of recent areas| / mean
    accepted: bool  # change below the scale threshold: the mask's box is the output
    scale_factor: float  # multiply the target size by this (1 = unchanged)
    move_to_mask: bool  # position = the centre of the mask's minAreaRect


class ScaleEstimator:
    """History of accepted contour areas (crop px, which factors out the target's scale) and the rules of
    JCAT_SPEC section 3."""

    def __init__(self, params: TrackerParams) -> None:
        self.params = params
        self.areas: deque[float] = deque(maxlen=params.area_history)

    def decide(self, uncertainty: float, area: float, wanted_scale: float, target_scale: float,
               step_range: tuple[float, float]) -> MaskDecision:
        """Judge a contour of ``area`` crop px against the history; move the DCF's ``target_scale`` (image px per
        DCF crop px) towards ``wanted_scale``, the scale the mask's area-preserving box asks for, by at most
        ``step_range`` per frame."""
        p = self.params
        mean = sum(self.areas) / len(self.areas) if self.areas else area
        change = abs(mean - area) / mean if mean > 0 else float("inf")
        factor = 1.0
        if uncertainty < p.scale_uncertainty and change < p.area_change_scale:
            self.areas.append(area)
            if wanted_scale > p.min_target_scale and abs(wanted_scale - target_scale) / target_scale \
                    < p.max_scale_change:
                low, high = step_range
                factor = min(max(wanted_scale / target_scale, low), high)
        return MaskDecision(change, change < p.area_change_scale, factor, change < p.area_change_position)
