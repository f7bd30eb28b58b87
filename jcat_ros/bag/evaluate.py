"""`jcat-bag eval`: the core tracker in-process over a bag's camera topic, against the bag's ground truth.

No ROS processes: frames are decoded with the node's own image conversion and fed to the same `build_tracker`
the node uses, so the figures are the tracker's, without transport or scheduling effects. It starts from a box, as
the node's ~/init does; `init_mask` starts from the init frame's ground-truth mask instead (a mask benchmark's start).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jcat_core.eval.metrics import mask_iou
from jcat_ros.bag.reader import Bag, BagFrame, GroundTruth
from jcat_ros.bag.records import FOUND, FrameRecord, RunResult, fill_ious, latency_figures
from jcat_ros.bag.writer import BagError
from jcat_ros.image_conversion import ImageConversionError, to_rgb8


@dataclass
class EvalOptions:
    """Which bag, topic and start; the tracker itself comes from evaluate_bag's factory."""

    bag: Path
    image_topic: str | None = None
    box: tuple[float, float, float, float] | None = None  # init box instead of the bag's
    init_frame: int = 0  # frame the --box is drawn on
    max_frames: int = 0  # 0 = all
    init_mask: bool = False  # start from the init frame's ground-truth mask (a mask benchmark's start), not its box


def initial_target(bag: Bag, truth: GroundTruth, frames: list, box, init_frame: int) -> dict:
    """Where to start: a box from the command line, else the init request recorded in the bag (nearest frame
    by stamp), else the first visible ground truth. BagError when there is none."""
    if box is not None:
        if not 0 <= init_frame < len(frames):
            raise BagError(f"--init-frame {init_frame} is outside the bag's {len(frames)} frames")
        return {"frame": init_frame, "box": list(box), "from": "command line"}
    request = bag.init_request()
    if request is not None:
        nearest = min(range(len(frames)), key=lambda i: abs(frames[i].stamp_ns - request.stamp_ns))
        return {"frame": nearest, "box": list(request.box), "from": f"init request in the bag ({bag.init_topic})"}
    for i, frame in enumerate(frames):
        gt = truth.boxes.get(frame.stamp_ns)
        if gt is not None and gt[2] > 0 and gt[3] > 0:
            return {"frame": i, "box": list(gt), "from": f"first ground truth ({bag.truth_topic})"}
    raise BagError(f"{bag.path}: no ground truth and no recorded init request; give the target with --box x,y,w,h")


def initial_mask(frame: BagFrame, truth: GroundTruth) -> np.ndarray:
    """The init frame's ground-truth mask, for --init-mask; BagError when the bag has none there, rather than
    quietly starting from the box."""
    mask = truth.mask(frame.stamp_ns)
    if mask is None or not mask.any():
        raise BagError(f"--init-mask: the bag has no ground-truth mask (or an empty one) on the init frame "
                       f"{frame.index}; start from the box instead")
    return mask


def record_truth(record: FrameRecord, truth: GroundTruth) -> None:
    if record.stamp_ns in truth.boxes:
        record.gt_known, record.gt_box = True, truth.boxes[record.stamp_ns]


def predicted_mask_iou(mask: np.ndarray | None, stamp_ns: int, truth: GroundTruth) -> float | None:
    gt = truth.mask(stamp_ns)
    if gt is None:
        return None
    return mask_iou(mask if mask is not None else np.zeros_like(gt), gt)


def evaluate_bag(options: EvalOptions, tracker_factory: Callable, weights_description: str,
                 on_frame: Callable[[np.ndarray, FrameRecord, np.ndarray | None], None] | None = None) -> RunResult:
    """Track every frame of the bag from the init frame on; frames before it are IDLE. `on_frame(image, record,
    mask)` sees each frame (the report's video)."""
    bag = Bag(options.bag, options.image_topic)
    try:
        truth = bag.ground_truth()
        index = bag.frame_index(options.max_frames)
        if not index:
            raise BagError(f"{bag.path}: no messages on {bag.image_topic}")
        init = initial_target(bag, truth, index, options.box, options.init_frame)
        start_mask = initial_mask(index[init["frame"]], truth) if options.init_mask else None
        init["start"] = "mask" if options.init_mask else "box"
        result = RunResult("eval", str(bag.path), bag.image_topic, weights_description, init)
        if truth.not_finite:
            result.problems.append(f"{len(truth.not_finite)} ground-truth boxes are not finite (NaN or inf): those "
                                   "frames are left out of the accuracy")
        tracker = tracker_factory()
        timings: list[float] = []
        try:
            for frame in bag.frames():  # streamed: one frame's pixels in memory at a time
                if frame.index >= len(index):
                    break
                record = FrameRecord(frame.index, frame.stamp_ns, state="IDLE")
                record_truth(record, truth)
                mask = None
                try:
                    image = to_rgb8(frame.message())
                except ImageConversionError as err:
                    result.problems.append(f"frame {frame.index}: {err}")
                    record.state = "DROPPED"
                    result.records.append(record)
                    continue
                if frame.index == init["frame"]:
                    if start_mask is not None:
                        tracker.initialize(image, mask=start_mask)
                    else:
                        tracker.initialize(image, box=tuple(init["box"]))
                    record.state, record.score, record.box = "TRACKING", 1.0, tuple(init["box"])
                elif frame.index > init["frame"]:
                    start = time.perf_counter()
                    out = tracker.track(image)
                    record.latency_ms = 1000.0 * (time.perf_counter() - start)
                    timings.append(record.latency_ms)
                    record.state, record.score = str(getattr(out.state, "name", out.state)), float(out.score)
                    record.box = tuple(float(v) for v in out.box) if record.state in FOUND else None
                    mask = out.mask if record.state in FOUND else None
                    record.mask_iou = predicted_mask_iou(mask, frame.stamp_ns, truth)
                result.records.append(record)
                if on_frame is not None:
                    on_frame(image, record, mask)
        except KeyboardInterrupt:  # the frames evaluated so far are still reported
            result.problems.append(f"interrupted after {len(result.records)} frames; the report covers those")
        result.problems.extend(bag.problems)
        fill_ious(result.records)
        track_time = latency_figures(timings)
        result.system = {"track_time": track_time, "fps": 1000.0 / track_time["mean_ms"] if timings else 0.0}
        return result
    finally:
        bag.close()
