"""Tracking and segmentation metrics: IoU, centre error, OTB success/precision, normalised precision, GOT-10k AO/SR,
mask IoU and the DAVIS J&F, VOT-style accuracy is in vot.py.

Boxes are (x, y, w, h) in 0-based pixels with (x, y) the top-left corner and the box covering the continuous area
[x, x + w) x [y, y + h) (pixel c covers [c, c + 1)), so IoU and centres need no "+1" terms.

How frames become scores is a ``ScoringProtocol``. The default, ``PRESENT_FRAMES`` (every dataset family but OTB
and LaSOT, and the rosbag evaluation): frames where the ground truth is NaN, has a non-positive width or height, or
is marked not visible, are frames with the target absent and are left out of every score, divisor included (the
divisor pytracking uses for datasets other than LaSOT); a missing or degenerate prediction on a frame where the
target is present scores IoU 0 and an infinite centre error, so it fails every threshold.

``OTB_TOOLKIT`` and ``LASOT_TOOLKIT`` follow the MATLAB toolkits (OTB: util/calcSeqErrRobust.m, genPerfMat.m,
util/plotDrawSave.m of tracker_benchmark_v1.0; LaSOT: utils/calc_seq_err_robust.m, utils/eval_tracker.m,
utils/plot_draw_save.m of LaSOT_Evaluation_Toolkit):
- an invalid prediction after the first frame (width or height <= 0, or NaN: in all four values for OTB, in any
  for LaSOT) takes the previous frame's box, unless that frame's ground truth has a NaN (``hold_invalid_predictions``);
- the first frame's prediction is replaced by its ground truth;
- every frame counts in the divisor: frames flagged absent (LaSOT's full_occlusion / out_of_view) score no hit;
- a present frame whose ground truth the toolkit rejects (a value <= 0 in its 1-based file, i.e. x or y <= -1 or
  w or h <= 0 here, or NaN) fails every overlap threshold and passes every distance threshold (the toolkits' -1);
- a sequence whose success (or precision) curve is all zero is left out of that curve's mean over sequences.

IoU is taken on the boxes as given (as OTB's and LaSOT's toolkits do) or, given the image size, on both boxes
bounded by the image first (as GOT-10k's toolkit does; see ``clip_to_image``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

IOU_THRESHOLDS = np.linspace(0.0, 1.0, 21)  # OTB's success-plot thresholds
PIXEL_THRESHOLDS = np.arange(0, 51, dtype=float)  # precision-plot thresholds, pixels
NORMALIZED_THRESHOLDS = np.linspace(0.0, 0.5, 51)  # normalised-precision thresholds (box-size units)
PRECISION_PIXELS = 20.0
NORMALIZED_PRECISION_AT = 0.2  # pytracking's LaSOT/TrackingNet convention (the value of the curve at 0.2)


@dataclass(frozen=True)
class ScoringProtocol:
    """Where the benchmarks' toolkits differ in turning per-frame boxes into curves (see the module docstring)."""

    name: str
    hold: str = ""  # invalid predictions hold the previous box: "" never, "all_nan" (OTB), "any_nan" (LaSOT)
    truth_first: bool = False  # the first frame's prediction is replaced by its ground truth
    every_frame: bool = False  # divide by every frame; absent frames fail; rejected ground truth: -1 as the toolkits
    drop_zero_curves: bool = False  # a sequence whose curve is all zero is left out of that curve's mean
    cut_long_results: bool = False  # results longer than the ground truth are cut to it (LaSOT: monkey-17)


PRESENT_FRAMES = ScoringProtocol("present-frames")
OTB_TOOLKIT = ScoringProtocol("otb-toolkit", hold="all_nan", truth_first=True, every_frame=True,
                              drop_zero_curves=True)
LASOT_TOOLKIT = ScoringProtocol("lasot-toolkit", hold="any_nan", truth_first=True, every_frame=True,
                                drop_zero_curves=True, cut_long_results=True)


def as_boxes(boxes: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """An (N, 4) float array of (x, y, w, h) boxes, refusing any other shape."""
    array = np.asarray(boxes, dtype=float)
    if array.ndim == 1 and array.size == 0:
        array = array.reshape(0, 4)
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(f"boxes must be an (N, 4) array of x, y, w, h, got shape {array.shape}")
    return array


def valid_boxes(boxes: np.ndarray) -> np.ndarray:
    """(N,) bool: the box is finite with a positive width and height."""
    boxes = as_boxes(boxes)
    return np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)


def box_iou(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(N,) intersection over union of two (N, 4) box arrays, at most 1; 0 where either box is NaN or degenerate."""
    pred, gt = _pair(pred, gt)
    ok = valid_boxes(pred) & valid_boxes(gt)
    ious = np.zeros(len(pred))
    p, g = pred[ok], gt[ok]
    width = np.minimum(p[:, 0] + p[:, 2], g[:, 0] + g[:, 2]) - np.maximum(p[:, 0], g[:, 0])
    height = np.minimum(p[:, 1] + p[:, 3], g[:, 1] + g[:, 3]) - np.maximum(p[:, 1], g[:, 1])
    inter = np.clip(width, 0, None) * np.clip(height, 0, None)
    union = p[:, 2] * p[:, 3] + g[:, 2] * g[:, 3] - inter
    ious[ok] = np.minimum(inter / union, 1.0)  # rounding can put identical boxes a hair above 1 (got10k clips too)
    return ious


def toolkit_truth(gt: np.ndarray) -> np.ndarray:
    """(N,) bool: the ground-truth row is one OTB's and LaSOT's toolkits score, all four values > 0 in their 1-based
    files (``sum(rect_anno > 0, 2) == 4``): x and y > -1 on our 0-based boxes, w and h > 0; False for NaN."""
    gt = as_boxes(gt)
    with np.errstate(invalid="ignore"):
        return (gt[:, 0] > -1) & (gt[:, 1] > -1) & (gt[:, 2] > 0) & (gt[:, 3] > 0)


def hold_invalid_predictions(pred: np.ndarray, gt: np.ndarray, protocol: ScoringProtocol) -> np.ndarray:
    """The predictions with each invalid one after the first frame replaced by the previous frame's (itself possibly
    replaced) box, as the toolkits' calcSeqErrRobust do before scoring: invalid is a width or height <= 0, or NaN in
    all four values (OTB) or in any (LaSOT); a frame whose ground truth has a NaN keeps its prediction. Unchanged
    when the protocol holds nothing."""
    pred, gt = _pair(pred, gt)
    held = pred.copy()
    if not protocol.hold:
        return held
    nan = np.isnan(pred)
    with np.errstate(invalid="ignore"):
        invalid = (nan.all(axis=1) if protocol.hold == "all_nan" else nan.any(axis=1)) | (pred[:, 2] <= 0) \
            | (pred[:, 3] <= 0)
    for index in np.flatnonzero(invalid & ~np.isnan(gt).any(axis=1)):
        if index > 0:
            held[index] = held[index - 1]
    return held


def clip_to_image(boxes: np.ndarray, image_size: tuple[float, float]) -> np.ndarray:
    """(N, 4) boxes bounded by a (width, height) image as the GOT-10k toolkit does before IoU: x and y into
    [0, W] and [0, H], then w and h into [0, W - x] and [0, H - y]; so a box over the left or top edge is moved
    inside whole rather than cut."""
    boxes = as_boxes(boxes).copy()
    size = np.asarray(image_size, dtype=float)
    boxes[:, :2] = np.clip(boxes[:, :2], 0, size)
    boxes[:, 2:] = np.clip(boxes[:, 2:], 0, size - boxes[:, :2])
    return boxes


def centres(boxes: np.ndarray) -> np.ndarray:
    """(N, 2) box centres (x + w / 2, y + h / 2)."""
    boxes = as_boxes(boxes)
    return boxes[:, :2] + boxes[:, 2:] / 2


def center_errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(N,) distance in pixels between the box centres; inf where the prediction is NaN or degenerate."""
    pred, gt = _pair(pred, gt)
    errors = np.linalg.norm(centres(pred) - centres(gt), axis=1)
    return np.where(valid_boxes(pred), errors, np.inf)


def normalized_center_errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(N,) centre distance with each axis divided by the ground-truth box's size (TrackingNet, LaSOT)."""
    pred, gt = _pair(pred, gt)
    with np.errstate(divide="ignore", invalid="ignore"):
        errors = np.linalg.norm((centres(pred) - centres(gt)) / gt[:, 2:], axis=1)
    return np.where(valid_boxes(pred), errors, np.inf)


def success_curve(ious: np.ndarray, thresholds: np.ndarray = IOU_THRESHOLDS) -> np.ndarray:
    """Fraction of frames whose IoU is above each threshold (strictly, as OTB)."""
    return _rate(np.asarray(ious)[:, None] > thresholds[None, :])


def precision_curve(errors: np.ndarray, thresholds: np.ndarray = PIXEL_THRESHOLDS) -> np.ndarray:
    """Fraction of frames whose centre error is at most each threshold."""
    return _rate(np.asarray(errors)[:, None] <= thresholds[None, :])


@dataclass(frozen=True, eq=False)
class BoxMetrics:
    """Box scores over the evaluated frames (those where the target is present, or every frame under a toolkit
    protocol with ``every_frame``); every score is NaN when there is no such frame.

    auc: mean of the success curve (21 thresholds, OTB); precision_20: centre error <= 20 px;
    normalized_precision: normalised centre error <= 0.2; ao: mean IoU (GOT-10k); sr50 / sr75: IoU above 0.5 /
    0.75. For one sequence ao equals mean_iou; ``aggregate`` pools them differently (see there).
    """

    auc: float
    precision_20: float
    normalized_precision: float
    ao: float
    sr50: float
    sr75: float
    mean_iou: float
    ious: np.ndarray  # (M,) per evaluated frame
    thresholds: np.ndarray  # IOU_THRESHOLDS
    success: np.ndarray  # (21,) success rate per threshold
    center_errors: np.ndarray  # (M,) pixels: inf for missing predictions and absent frames, -1 for rejected truth
    precision: np.ndarray  # (51,) precision per PIXEL_THRESHOLDS
    normalized_precision_curve: np.ndarray  # (51,) per NORMALIZED_THRESHOLDS
    frames: np.ndarray  # (M,) indices of the evaluated frames in the input
    protocol: ScoringProtocol = PRESENT_FRAMES

    @property
    def num_frames(self) -> int:
        return len(self.ious)

    def scores(self) -> dict[str, float]:
        """The scalar scores by name (for tables and JSON)."""
        return {name: getattr(self, name) for name in SCORE_NAMES}


SCORE_NAMES = ("auc", "precision_20", "normalized_precision", "ao", "sr50", "sr75", "mean_iou")


def evaluate_boxes(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray | None = None,
                   image_size: tuple[float, float] | None = None,
                   protocol: ScoringProtocol = PRESENT_FRAMES) -> BoxMetrics:
    """Score one sequence's predicted boxes against its ground truth. With the default protocol, over the frames
    where the target is present (gt finite with positive size and, when given, ``visible`` True); with OTB_TOOLKIT or
    LASOT_TOOLKIT, over every frame as those toolkits do (``visible`` False is their absent flag). With
    ``image_size`` (width, height) the IoU scores use both boxes bounded by the image (GOT-10k's protocol); centre
    errors always use the boxes as given."""
    pred, gt = _pair(pred, gt)
    if visible is not None:
        visible = np.asarray(visible, dtype=bool)
        if visible.shape != (len(gt),):
            raise ValueError(f"visible must have one flag per frame ({len(gt)}), got shape {visible.shape}")
    pred = hold_invalid_predictions(pred, gt, protocol)
    if protocol.truth_first and len(pred):
        pred[0] = gt[0]
    if protocol.every_frame:
        return _every_frame(pred, gt, visible, image_size, protocol)
    present = valid_boxes(gt)
    if visible is not None:
        present &= visible
    frames = np.flatnonzero(present)
    pred, gt = pred[frames], gt[frames]
    ious = _iou(pred, gt, image_size)
    errors = center_errors(pred, gt)
    normalized = normalized_center_errors(pred, gt)
    return _metrics(ious, errors, success_curve(ious), precision_curve(errors),
                    precision_curve(normalized, NORMALIZED_THRESHOLDS), frames, protocol)


def _every_frame(pred: np.ndarray, gt: np.ndarray, visible: np.ndarray | None,
                 image_size: tuple[float, float] | None, protocol: ScoringProtocol) -> BoxMetrics:
    """The toolkits' scoring: every frame is in the divisor; a frame flagged absent has IoU 0 and an infinite centre
    error (no hit); a present frame with rejected ground truth has IoU 0 and centre errors -1 (a hit at every
    distance threshold, as the toolkits' -1); the rest are scored on the boxes as given, a NaN error failing."""
    present = np.ones(len(gt), bool) if visible is None else visible
    scored = present & toolkit_truth(gt)
    rejected = present & ~scored
    ious = np.zeros(len(gt))
    ious[scored] = _iou(pred[scored], gt[scored], image_size)
    errors, normalized = np.full(len(gt), np.inf), np.full(len(gt), np.inf)
    with np.errstate(invalid="ignore"):
        offsets = centres(pred[scored]) - centres(gt[scored])
        errors[scored] = np.nan_to_num(np.linalg.norm(offsets, axis=1), nan=np.inf)
        normalized[scored] = np.nan_to_num(np.linalg.norm(offsets / gt[scored, 2:], axis=1), nan=np.inf)
    errors[rejected] = normalized[rejected] = -1.0
    return _metrics(ious, errors, success_curve(ious), precision_curve(errors),
                    precision_curve(normalized, NORMALIZED_THRESHOLDS), np.arange(len(gt)), protocol)


def _iou(pred: np.ndarray, gt: np.ndarray, image_size: tuple[float, float] | None) -> np.ndarray:
    if image_size is None:
        return box_iou(pred, gt)
    return box_iou(clip_to_image(pred, image_size), clip_to_image(gt, image_size))


def aggregate(per_sequence: Sequence[BoxMetrics]) -> BoxMetrics:
    """Dataset scores: the success, precision and normalised-precision curves (hence auc, precision_20 and
    normalized_precision) are averaged over sequences, as OTB and pytracking do (under the OTB/LaSOT toolkit
    protocols leaving out a sequence whose curve is all zero, as their plot code does); ao, sr50, sr75 and mean_iou
    pool all frames, as the GOT-10k toolkit does. Sequences without evaluated frames are left out; the sequences must
    share one protocol."""
    used = [m for m in per_sequence if m.num_frames]
    protocols = {m.protocol for m in used}
    if len(protocols) > 1:
        names = sorted(p.name for p in protocols)
        raise ValueError(f"cannot aggregate sequences scored with different protocols: {names}")
    protocol = protocols.pop() if protocols else PRESENT_FRAMES
    ious = np.concatenate([m.ious for m in used]) if used else np.zeros(0)
    errors = np.concatenate([m.center_errors for m in used]) if used else np.zeros(0)
    frames = np.concatenate([m.frames for m in used]) if used else np.zeros(0, int)

    def mean_curve(name: str, size: int) -> np.ndarray:
        curves = [getattr(m, name) for m in used]
        if protocol.drop_zero_curves:  # plotDrawSave.m / plot_draw_save.m: aa(sum(aa, 2) > eps, :)
            curves = [c for c in curves if c.sum() > np.finfo(float).eps]
        return np.mean(curves, axis=0) if curves else np.full(size, np.nan)

    return _metrics(ious, errors, mean_curve("success", len(IOU_THRESHOLDS)),
                    mean_curve("precision", len(PIXEL_THRESHOLDS)),
                    mean_curve("normalized_precision_curve", len(NORMALIZED_THRESHOLDS)), frames, protocol)


def mask_iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """IoU of two HxW masks (any non-zero value is foreground); 1.0 when both are empty (DAVIS's convention)."""
    pred, gt = _mask_pair(pred, gt)
    union = np.logical_or(pred, gt).sum()
    return 1.0 if union == 0 else float(np.logical_and(pred, gt).sum() / union)


def boundary_f_measure(pred: np.ndarray, gt: np.ndarray, tolerance: float = 0.008) -> float:
    """DAVIS contour accuracy F: precision/recall of boundary pixels matched within ``tolerance`` x the image
    diagonal; 1.0 when both masks are empty, 0.0 when only one is."""
    pred, gt = _mask_pair(pred, gt)
    pred_edge, gt_edge = _boundary(pred), _boundary(gt)
    if not pred_edge.any() and not gt_edge.any():
        return 1.0
    if not pred_edge.any() or not gt_edge.any():
        return 0.0
    radius = max(1, int(np.ceil(tolerance * np.hypot(*pred.shape))))
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    gt_near = cv2.dilate(gt_edge.astype(np.uint8), disk).astype(bool)
    pred_near = cv2.dilate(pred_edge.astype(np.uint8), disk).astype(bool)
    precision = (pred_edge & gt_near).sum() / pred_edge.sum()
    recall = (gt_edge & pred_near).sum() / gt_edge.sum()
    return 0.0 if precision + recall == 0 else float(2 * precision * recall / (precision + recall))


@dataclass(frozen=True, eq=False)
class MaskMetrics:
    """DAVIS region (J) and contour (F) scores of one object over its evaluated frames, and their mean."""

    j_mean: float
    f_mean: float
    jf_mean: float
    j_recall: float  # fraction of frames with J > 0.5
    f_recall: float
    j: np.ndarray  # (M,) per frame
    f: np.ndarray


def evaluate_masks(pred: Sequence[np.ndarray], gt: Sequence[np.ndarray]) -> MaskMetrics:
    """J and F of one object per frame and their means (DAVIS semi-supervised: the caller drops the first and
    last frame when following that protocol)."""
    if len(pred) != len(gt):
        raise ValueError(f"{len(pred)} predicted masks for {len(gt)} ground-truth masks")
    j = np.array([mask_iou(p, g) for p, g in zip(pred, gt, strict=True)])
    f = np.array([boundary_f_measure(p, g) for p, g in zip(pred, gt, strict=True)])
    j_mean, f_mean = _mean(j), _mean(f)
    return MaskMetrics(j_mean=j_mean, f_mean=f_mean, jf_mean=(j_mean + f_mean) / 2, j_recall=_rate(j > 0.5),
                       f_recall=_rate(f > 0.5), j=j, f=f)


def _metrics(ious: np.ndarray, errors: np.ndarray, success: np.ndarray, precision: np.ndarray,
             normalized: np.ndarray, frames: np.ndarray, protocol: ScoringProtocol = PRESENT_FRAMES) -> BoxMetrics:
    mean_iou = _mean(ious)
    return BoxMetrics(
        auc=_mean(success), precision_20=_at(precision, PIXEL_THRESHOLDS, PRECISION_PIXELS),
        normalized_precision=_at(normalized, NORMALIZED_THRESHOLDS, NORMALIZED_PRECISION_AT),
        ao=mean_iou, sr50=_rate(ious > 0.5), sr75=_rate(ious > 0.75), mean_iou=mean_iou, ious=ious,
        thresholds=IOU_THRESHOLDS.copy(), success=success, center_errors=errors, precision=precision,
        normalized_precision_curve=normalized, frames=frames, protocol=protocol)


def _rate(hits: np.ndarray) -> np.ndarray | float:
    """Mean over the first axis (frames); NaN when there are no frames."""
    if len(hits) == 0:
        return np.full(hits.shape[1:], np.nan) if hits.ndim > 1 else float("nan")
    rate = hits.mean(axis=0)
    return rate if hits.ndim > 1 else float(rate)


def _at(curve: np.ndarray, thresholds: np.ndarray, value: float) -> float:
    """The curve's value at one of its thresholds."""
    return float(curve[int(np.argmin(np.abs(thresholds - value)))])


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def _pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, gt = as_boxes(pred), as_boxes(gt)
    if len(pred) != len(gt):
        raise ValueError(f"{len(pred)} predicted boxes for {len(gt)} ground-truth boxes")
    return pred, gt


def _mask_pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, gt = np.asarray(pred) != 0, np.asarray(gt) != 0
    if pred.shape != gt.shape or pred.ndim != 2:
        raise ValueError(f"masks must be two HxW arrays of one shape, got {pred.shape} and {gt.shape}")
    return pred, gt


def _boundary(mask: np.ndarray) -> np.ndarray:
    """Pixels of the mask with a 4-neighbour outside it (the image border counts as outside)."""
    eroded = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT,
                       borderValue=0)
    return mask & ~eroded.astype(bool)
