"""OpenCV trackers behind JCAT's contract (``initialize(image, box)``, ``track(image) -> TrackOutput``), so the
runner puts them beside JCAT in one run. Every tracker of the installed OpenCV build that needs no model file is
offered; DaSiamRPN, Nano, Vit and GOTURN need downloaded networks and are left out."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from jcat_core.eval.datasets.base import box_to_mask
from jcat_core.tracker.geometry import Box
from jcat_core.tracker.inputs import as_rgb_uint8, checked_box, mask_box
from jcat_core.tracker.tracker import TrackerState, TrackOutput

# name -> (module attribute path, whether it is the legacy API taking float boxes)
_CANDIDATES = {
    "csrt": ("TrackerCSRT_create", False),
    "kcf": ("TrackerKCF_create", False),
    "mil": ("TrackerMIL_create", False),
    "boosting": ("legacy.TrackerBoosting_create", True),
    "medianflow": ("legacy.TrackerMedianFlow_create", True),
    "mosse": ("legacy.TrackerMOSSE_create", True),
    "tld": ("legacy.TrackerTLD_create", True),
}


def _factory(path: str) -> Callable[[], object] | None:
    target: object = cv2
    for part in path.split("."):
        target = getattr(target, part, None)
        if target is None:
            return None
    return target  # type: ignore[return-value]


def available_baselines() -> list[str]:
    """The OpenCV tracker names this build provides (csrt, kcf, mil, and the legacy ones when present)."""
    return [name for name, (path, _) in _CANDIDATES.items() if _factory(path) is not None]


class OpenCVTracker:
    """An OpenCV tracker with JCAT's contract. Its mask is the box filled (OpenCV trackers give no mask); when
    OpenCV reports a failure the last box is kept with state LOST and score 0."""

    def __init__(self, name: str) -> None:
        if name not in _CANDIDATES or _factory(_CANDIDATES[name][0]) is None:
            raise ValueError(f"OpenCV tracker {name!r} is not in this build; available: "
                             f"{', '.join(available_baselines())}")
        self.name = name
        self._path, self._legacy = _CANDIDATES[name]
        self._tracker: object | None = None
        self._box: Box = (0.0, 0.0, 0.0, 0.0)

    def initialize(self, image: np.ndarray, box: Box | None = None, mask: np.ndarray | None = None) -> None:
        """Start on ``box`` (x, y, w, h), or on the bounding box of ``mask``."""
        rgb = as_rgb_uint8(image)
        if (box is None) == (mask is None):
            raise ValueError("initialize needs exactly one of box=(x, y, w, h) or mask=HxW")
        if mask is not None:
            if not np.asarray(mask).any():
                raise ValueError("the initial mask is empty")
            box = mask_box(np.asarray(mask, bool))
        self._box = checked_box(box, rgb.shape[:2])
        self._tracker = _factory(self._path)()  # type: ignore[misc]
        self._tracker.init(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), self._cv_box(self._box))  # type: ignore[attr-defined]

    def track(self, image: np.ndarray) -> TrackOutput:
        if self._tracker is None:
            raise ValueError("track() called before initialize()")
        rgb = as_rgb_uint8(image)
        ok, found = self._tracker.update(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))  # type: ignore[attr-defined]
        if ok:
            self._box = tuple(float(v) for v in found)  # type: ignore[assignment]
        x, y, w, h = self._box
        return TrackOutput(box=self._box, rotated_box=(x + w / 2, y + h / 2, w, h, 0.0),
                           mask=box_to_mask(self._box, rgb.shape[:2]),
                           score=1.0 if ok else 0.0, state=TrackerState.TRACKING if ok else TrackerState.LOST)

    def _cv_box(self, box: Box) -> tuple:
        if self._legacy:
            return tuple(float(v) for v in box)
        return tuple(round(v) for v in box)
