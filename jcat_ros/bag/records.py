"""Per-frame results of an evaluation or a replay, and the figures computed from them (with jcat_core.eval's
metrics, so a bag's accuracy equals the benchmark runner's on the same boxes)."""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field

import numpy as np

from jcat_core.eval.metrics import box_iou, evaluate_boxes

FOUND = ("TRACKING", "UNCERTAIN")
NAN_BOX = (math.nan,) * 4


@dataclass
class FrameRecord:
    """One camera frame: what the tracker said about it (state DROPPED when it never did) and the truth."""

    index: int
    stamp_ns: int
    state: str = "DROPPED"  # IDLE, TRACKING, UNCERTAIN, LOST; DROPPED = no output for this frame
    score: float = 0.0
    box: tuple[float, float, float, float] | None = None
    gt_box: tuple[float, float, float, float] | None = None  # None: not visible, or unknown (see gt_known)
    gt_known: bool = False
    latency_ms: float | None = None  # eval: track() time; replay: publication of the frame -> output received
    sent_ns: int | None = None  # replay: wall-clock publication instant (= the header stamp sent, unless --clock)
    iou: float | None = None  # box IoU where the truth is known and the target visible
    mask_iou: float | None = None


@dataclass
class RunResult:
    """Everything a report needs about one run over one bag."""

    mode: str  # eval | replay
    bag: str
    image_topic: str
    weights: str
    init: dict  # frame, box, from (command line | init request in the bag | first ground truth)
    records: list[FrameRecord] = field(default_factory=list)
    system: dict = field(default_factory=dict)  # replay: fps, latency, drops, jitter, memory; eval: timing
    problems: list[str] = field(default_factory=list)

    def evaluated(self) -> list[FrameRecord]:
        """Frames after the init frame that the tracker answered for the target (dropped frames are counted
        separately). The init frame is given, not tracked: left out, as jcat-eval does for GOT-10k and the synthetic
        sequences. So are frames the node answered IDLE before the init reached it: it publishes no frame twice, so
        they stay IDLE (see before_init)."""
        first = self.init.get("frame", 0)
        return [r for r in self.records if r.index > first and r.state not in ("DROPPED", "IDLE")]

    def before_init(self) -> list[FrameRecord]:
        """Frames after the init frame answered IDLE: published before the node had the target."""
        first = self.init.get("frame", 0)
        return [r for r in self.records if r.index > first and r.state == "IDLE"]


def fill_ious(records: list[FrameRecord]) -> None:
    """Per-frame box IoU (0 when the tracker has no box) with the same function the benchmark metrics use."""
    for r in records:
        if r.gt_known and r.gt_box is not None and r.state != "DROPPED":
            r.iou = float(box_iou(np.array([r.box if r.state in FOUND and r.box else NAN_BOX]),
                                  np.array([r.gt_box]))[0])


def accuracy(result: RunResult) -> dict:
    """AUC, precision@20, normalised precision, AO, SR50/75, mean IoU and mask IoU (jcat-eval's J) over the
    evaluated frames with known ground truth; empty when the bag has none."""
    frames = [r for r in result.evaluated() if r.gt_known]
    if not frames:
        return {}
    pred = np.array([r.box if r.state in FOUND and r.box else NAN_BOX for r in frames], float)
    gt = np.array([r.gt_box if r.gt_box is not None else NAN_BOX for r in frames], float)
    visible = np.array([r.gt_box is not None for r in frames])
    metrics = evaluate_boxes(pred, gt, visible)
    masks = [r.mask_iou for r in frames if r.mask_iou is not None]
    return {
        "frames_with_truth": len(frames), "frames_target_visible": int(visible.sum()),
        "auc": metrics.auc, "precision_20": metrics.precision_20,
        "normalized_precision": metrics.normalized_precision, "ao": metrics.ao, "sr50": metrics.sr50,
        "sr75": metrics.sr75, "mean_iou": metrics.mean_iou,
        "mask_iou": statistics.fmean(masks) if masks else None,
        "success_curve": {"thresholds": metrics.thresholds.tolist(), "success": metrics.success.tolist()},
    }


def state_timeline(result: RunResult) -> dict:
    """Frames per state and the runs of equal states [first frame, last frame, state]."""
    counts: dict[str, int] = {}
    runs: list[list] = []
    for r in result.records:
        counts[r.state] = counts.get(r.state, 0) + 1
        if runs and runs[-1][2] == r.state and runs[-1][1] == r.index - 1:
            runs[-1][1] = r.index
        else:
            runs.append([r.index, r.index, r.state])
    answered = [r for r in result.evaluated() if r.state != "IDLE"]
    lost = sum(r.state == "LOST" for r in answered)
    return {"counts": counts, "runs": runs, "time_lost_percent": 100.0 * lost / len(answered) if answered else 0.0}


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; NaN for no values."""
    return float(np.percentile(values, q)) if values else math.nan


def latency_figures(values: list[float]) -> dict:
    return {"median_ms": percentile(values, 50), "p95_ms": percentile(values, 95),
            "max_ms": max(values) if values else math.nan, "mean_ms": statistics.fmean(values) if values else math.nan}


def summary(result: RunResult) -> dict:
    """The JSON report: run description, accuracy, state timeline, system figures and problems."""
    return {
        "mode": result.mode, "bag": result.bag, "image_topic": result.image_topic, "weights": result.weights,
        "init": result.init, "frames": len(result.records), "accuracy": accuracy(result),
        "states": state_timeline(result), "system": result.system, "problems": result.problems,
        "per_frame": [asdict(r) for r in result.records],
    }
