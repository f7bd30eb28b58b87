"""Scale and position from the mask: JCAT's area-change test and the bounded per-frame scale step."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from jcat_core.tracker.params import TrackerParams


@dataclass(frozen=True)
class MaskDecision:
    """What one mask is allowed to change."""

    area_change: float  # |area − mean of recent areas| / mean (0 while no history)
    accepted: bool  # change below the scale threshold: the mask's box is the output
    scale_factor: float  # multiply the target size by this (1 = unchanged)
    move_to_polygon: bool  # position = polygon centre


class ScaleEstimator:
    """History of accepted mask areas (image px) and the rules of JCAT_SPEC section 3."""

    def __init__(self, params: TrackerParams) -> None:
        self.params = params
        self.areas: deque[float] = deque(maxlen=params.area_history)

    def decide(self, uncertainty: float, mask_area: float, polygon_area: float, target_area: float,
               target_scale: float) -> MaskDecision:
        """Judge a mask of ``mask_area`` against the area history and move the scale towards the box of
        ``polygon_area`` (areas in image px), for a target of ``target_area`` whose DCF crop has ``target_scale``
        (image px per crop px)."""
        p = self.params
        mean = sum(self.areas) / len(self.areas) if self.areas else mask_area
        change = abs(mask_area - mean) / mean if mean > 0 else float("inf")
        accepted = change < p.area_change_scale
        factor = 1.0
        if uncertainty < p.scale_uncertainty and accepted:
            self.areas.append(mask_area)
            wanted = math.sqrt(polygon_area / target_area) if target_area > 0 else 1.0
            low, high = p.scale_step_range
            step = min(max(wanted, low), high)
            if target_scale * step > p.min_target_scale and abs(wanted - 1) < p.max_scale_change:
                factor = step
        move = uncertainty < p.scale_uncertainty and change < p.area_change_position
        return MaskDecision(change, accepted, factor, move)
