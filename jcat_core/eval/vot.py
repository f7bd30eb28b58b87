"""VOT-style supervised run for quick local checks: initialise, track until the overlap with the ground truth
drops to 0 (a failure), re-initialise ``skip`` (5) frames later, and leave the first ``burn_in`` (10) frames after
every initialisation out of the accuracy. Gives VOT's accuracy (mean overlap, averaged over sequences) and
failure counts and writes the VOT result format. It is not the toolkit's EAO: run `vot evaluate`/`vot analysis`
with the trax wrapper (trax_tracker.py) for official numbers.

Overlaps: polygons (VOT2016-2019 ground truth) are intersected exactly as convex polygons with the predicted box
(region "box") or rotated box (region "rotated"); mask ground truth (VOT2020+) is compared with the predicted
mask (region "mask") or the filled box.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from jcat_core.eval import results
from jcat_core.eval.datasets import Dataset, Sequence
from jcat_core.eval.datasets.base import box_to_mask, encode_rle
from jcat_core.eval.metrics import mask_iou, valid_boxes
from jcat_core.eval.trackers import TrackerSpec

REGIONS = ("box", "rotated", "mask")


@dataclass(frozen=True)
class SupervisedConfig:
    skip: int = 5  # frames between a failure and the re-initialisation
    burn_in: int = 10  # frames after each initialisation (itself included) left out of the accuracy
    region: str = "box"  # what the tracker reports: "box", "rotated" or "mask"

    def __post_init__(self) -> None:
        if self.region not in REGIONS:
            raise ValueError(f"region must be one of {REGIONS}, got {self.region!r}")


@dataclass(frozen=True)
class SupervisedResult:
    """One sequence: per-frame overlaps (NaN where not counted), failure frames, the VOT entries and timing."""

    sequence: str
    overlaps: list[float]
    failures: list[int]
    entries: list[str]
    times: list[float]

    @property
    def accuracy(self) -> float:
        counted = np.array(self.overlaps, float)
        counted = counted[np.isfinite(counted)]
        return float(counted.mean()) if counted.size else float("nan")


def box_polygon(box: np.ndarray) -> np.ndarray:
    x, y, w, h = box
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float32)


def polygon_overlap(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two convex polygons ((K, 2) points each)."""
    a, b = np.asarray(a, np.float32).reshape(-1, 2), np.asarray(b, np.float32).reshape(-1, 2)
    area_a, area_b = abs(cv2.contourArea(a)), abs(cv2.contourArea(b))
    if area_a <= 0 or area_b <= 0:
        return 0.0
    inter, _ = cv2.intersectConvexConvex(a, b)
    union = area_a + area_b - inter
    return float(inter / union) if union > 0 else 0.0


def supervised_run(tracker: object, sequence: Sequence, config: SupervisedConfig = SupervisedConfig(),
                   takes_polygons: bool = False) -> SupervisedResult:
    """Run one sequence under VOT's reset protocol (``takes_polygons``: initialise from the ground-truth polygon,
    or the box's corners, as the toolkit hands them to a polygon tracker)."""
    n = len(sequence)
    overlaps, entries, times = [float("nan")] * n, [results.VOT_SKIP] * n, [0.0] * n
    failures: list[int] = []
    frame = _next_present(sequence, 0)
    while frame is not None and frame < n:
        image = sequence.image(frame)
        truth_mask = sequence.mask(frame) if config.region == "mask" else None
        began = time.perf_counter()
        if truth_mask is not None and truth_mask.any():
            tracker.initialize(image, mask=truth_mask)  # type: ignore[attr-defined]
        elif takes_polygons:
            tracker.initialize(image, polygon=_truth_polygon(sequence, frame))  # type: ignore[attr-defined]
        else:
            tracker.initialize(image, box=tuple(float(v) for v in sequence.boxes[frame]))  # type: ignore[attr-defined]
        times[frame] = time.perf_counter() - began
        entries[frame] = results.VOT_INIT
        started, frame = frame, frame + 1
        while frame < n:
            image = sequence.image(frame)
            began = time.perf_counter()
            output = tracker.track(image)  # type: ignore[attr-defined]
            times[frame] = time.perf_counter() - began
            entries[frame] = _entry(output, config.region)
            overlap = _overlap(sequence, frame, output, config.region)
            if overlap is not None and overlap <= 0.0:
                entries[frame] = results.VOT_FAILURE
                failures.append(frame)
                frame = _next_present(sequence, frame + config.skip)
                break
            if overlap is not None and frame - started >= config.burn_in:
                overlaps[frame] = overlap
            frame += 1
        else:
            break
    return SupervisedResult(sequence.name, overlaps, failures, entries, times)


def _truth_polygon(sequence: Sequence, frame: int) -> np.ndarray:
    """The frame's ground-truth polygon (4x2), or its box's four corners."""
    if sequence.polygons is not None:
        return np.asarray(sequence.polygons[frame], float).reshape(-1, 2)
    return box_polygon(np.asarray(sequence.boxes[frame], float))


def run_supervised(dataset: Dataset, trackers: list[TrackerSpec], out: Path,
                   config: SupervisedConfig = SupervisedConfig(), progress: bool = True) -> dict:
    """Every tracker on every sequence (sequences with a saved result are kept), VOT files under
    out/<tracker>/, and a summary (vot_summary.json): accuracy, failures, failures per 100 frames."""
    summary: dict = {"dataset": dataset.name, "config": asdict(config), "trackers": {},
                     "skipped": [{"sequence": p.sequence, "reason": p.message} for p in dataset.problems if p.skipped]}
    for spec in trackers:
        folder = Path(out) / spec.name
        tracker = spec.build()
        per: dict[str, SupervisedResult] = {}
        failed: dict[str, str] = {}
        for sequence in tqdm(dataset.sequences, desc=f"{spec.name} supervised", disable=not progress):
            saved = folder / "records" / f"{sequence.name}.vot.json"
            if saved.is_file():
                per[sequence.name] = SupervisedResult(**json.loads(saved.read_text()))
                continue
            try:
                result = supervised_run(tracker, sequence, config, spec.takes_polygons)
            except (OSError, ValueError) as error:
                failed[sequence.name] = f"{type(error).__name__}: {error}"
                continue
            results.write_vot(folder, sequence.name, result.entries, np.array(result.times))
            saved.parent.mkdir(parents=True, exist_ok=True)
            saved.write_text(json.dumps(asdict(result), allow_nan=True))
            per[sequence.name] = result
        accuracies = [r.accuracy for r in per.values() if np.isfinite(r.accuracy)]
        frames = sum(len(r.entries) for r in per.values())
        failures = sum(len(r.failures) for r in per.values())
        summary["trackers"][spec.name] = {
            "accuracy": float(np.mean(accuracies)) if accuracies else None, "failures": failures,
            "failures_per_100_frames": 100 * failures / frames if frames else None,
            "per_sequence": {name: {"accuracy": r.accuracy if np.isfinite(r.accuracy) else None,
                                    "failures": len(r.failures)} for name, r in per.items()},
            "failed": failed,
        }
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "vot_summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def _next_present(sequence: Sequence, frame: int) -> int | None:
    """The first frame from ``frame`` on whose ground truth can initialise a tracker."""
    usable = np.flatnonzero(valid_boxes(sequence.boxes[frame:]))
    return frame + int(usable[0]) if usable.size else None


def _overlap(sequence: Sequence, frame: int, output: object, region: str) -> float | None:
    """Overlap with the ground truth; None when the target is absent on this frame (never a failure)."""
    truth = sequence.mask(frame) if sequence.masks is not None else None
    if truth is not None:
        if not truth.any():
            return None
        predicted = output.mask if region == "mask" else box_to_mask(output.box, truth.shape)  # type: ignore[attr-defined]
        return mask_iou(predicted, truth)
    if not np.isfinite(sequence.boxes[frame]).all():
        return None
    return polygon_overlap(_polygon(output, region), _truth_polygon(sequence, frame))


def _polygon(output: object, region: str) -> np.ndarray:
    if region == "rotated":
        cx, cy, w, h, angle = output.rotated_box  # type: ignore[attr-defined]
        return cv2.boxPoints(((cx, cy), (w, h), angle))
    return box_polygon(np.asarray(output.box, float))  # type: ignore[attr-defined]


def _entry(output: object, region: str) -> str:
    """The tracker's region as a VOT result entry."""
    if region == "mask":
        return encode_rle(output.mask)  # type: ignore[attr-defined]
    if region == "rotated":
        return ",".join(f"{v:.3f}" for v in _polygon(output, region).ravel())
    return results.vot_region(np.asarray(output.box, float))  # type: ignore[attr-defined]

