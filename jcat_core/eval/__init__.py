"""Benchmark evaluation: metrics, dataset loaders, a resumable runner, result files, plots, OpenCV baselines and
the VOT toolkit integration. Boxes are (x, y, w, h) in 0-based pixels, (x, y) the top-left corner."""

from jcat_core.eval.metrics import (
    BoxMetrics,
    MaskMetrics,
    aggregate,
    box_iou,
    center_errors,
    evaluate_boxes,
    evaluate_masks,
    mask_iou,
)

__all__ = ["BoxMetrics", "MaskMetrics", "aggregate", "box_iou", "center_errors", "evaluate_boxes",
           "evaluate_masks", "mask_iou"]
