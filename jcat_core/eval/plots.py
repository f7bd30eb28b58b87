"""Comparison figures as PNG and SVG (matplotlib, no display needed): success and precision curves with each
tracker's score in the legend, per-sequence bars, and a qualitative strip of frames with box and mask overlays."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from jcat_core.eval.metrics import IOU_THRESHOLDS, NORMALIZED_THRESHOLDS, PIXEL_THRESHOLDS, BoxMetrics

TRUTH_COLOUR = "#ffd700"
COLOURS = ("#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")


def save(figure: Figure, stem: Path) -> list[Path]:
    """Write a figure as stem.png and stem.svg."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    for path in paths:
        figure.savefig(path, dpi=120, bbox_inches="tight")
    return paths


def curve_plot(overall: dict[str, BoxMetrics], kind: str, title: str, stem: Path) -> list[Path]:
    """kind "success" (AUC in the legend), "precision" (P@20 px) or "normalized" (normalised P@0.2); trackers in
    the legend ordered by that score."""
    x, y_of, score_of, xlabel, label = {
        "success": (IOU_THRESHOLDS, lambda m: m.success, lambda m: m.auc, "overlap threshold (IoU)", "AUC"),
        "precision": (PIXEL_THRESHOLDS, lambda m: m.precision, lambda m: m.precision_20,
                      "location error threshold (px)", "P@20"),
        "normalized": (NORMALIZED_THRESHOLDS, lambda m: m.normalized_precision_curve,
                       lambda m: m.normalized_precision, "normalised location error threshold", "P@0.2"),
    }[kind]
    figure = Figure(figsize=(5, 4))
    axes = figure.add_subplot()
    ranked = sorted(overall.items(), key=lambda item: -np.nan_to_num(score_of(item[1]), nan=-1))
    for i, (name, metrics) in enumerate(ranked):
        axes.plot(x, y_of(metrics), color=_colour(list(overall).index(name)), lw=2 if i == 0 else 1.5,
                  label=f"{name} [{label} {score_of(metrics):.3f}]")
    axes.set(xlabel=xlabel, ylabel=f"{kind} rate" if kind == "success" else "precision", title=title,
             xlim=(x[0], x[-1]), ylim=(0, 1.02))
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right" if kind != "success" else "lower left", fontsize=8)
    return save(figure, stem)


def sequence_bars(values: dict[str, dict[str, float]], metric: str, title: str, stem: Path) -> list[Path]:
    """One group of bars per sequence, one bar per tracker (``values[tracker][sequence]``)."""
    sequences = sorted({s for per in values.values() for s in per})
    figure = Figure(figsize=(max(5.0, 0.45 * len(sequences) * max(1, len(values)) + 1.5), 3.6))
    axes = figure.add_subplot()
    width = 0.8 / max(1, len(values))
    for i, (name, per) in enumerate(values.items()):
        heights = [np.nan_to_num(per.get(s, np.nan)) for s in sequences]
        axes.bar(np.arange(len(sequences)) + (i - (len(values) - 1) / 2) * width, heights, width,
                 color=_colour(i), label=name)
    axes.set_xticks(np.arange(len(sequences)), sequences, rotation=45, ha="right", fontsize=8)
    axes.set(ylabel=metric, title=title, ylim=(0, 1.05))
    axes.legend(fontsize=8, ncol=min(4, len(values)))
    axes.grid(axis="y", alpha=0.3)
    return save(figure, stem)


def qualitative_strip(image: Callable[[int], np.ndarray], frames: list[int], truth: np.ndarray,
                      boxes: dict[str, np.ndarray], masks: dict[str, Callable[[int], np.ndarray | None]],
                      title: str, stem: Path) -> list[Path]:
    """A row of frames with the ground-truth box (gold, dashed), each tracker's box in its colour and the outlines
    (dotted) of the masks of the trackers in ``masks``."""
    figure = Figure(figsize=(2.6 * len(frames), 2.6))
    names = list(boxes)
    for column, index in enumerate(frames):
        axes = figure.add_subplot(1, len(frames), column + 1)
        picture = image(index)
        axes.imshow(picture)
        for name, mask_of in masks.items():
            mask = mask_of(index)
            if mask is not None and mask.shape == picture.shape[:2] and mask.any():
                axes.contour(mask.astype(float), levels=[0.5], colors=[_colour(names.index(name))], linewidths=1.2,
                             linestyles="dotted")
        if np.isfinite(truth[index]).all():
            x, y, w, h = truth[index]
            axes.add_patch(Rectangle((x - 0.5, y - 0.5), w, h, fill=False, ec=TRUTH_COLOUR, ls="--", lw=1.2))
        for i, name in enumerate(names):
            if np.isfinite(boxes[name][index]).all():
                x, y, w, h = boxes[name][index]
                axes.add_patch(Rectangle((x - 0.5, y - 0.5), w, h, fill=False, ec=_colour(i), lw=1.4))
        axes.set_title(f"#{index + 1}", fontsize=8)
        axes.axis("off")
    handles = [Rectangle((0, 0), 1, 1, fill=False, ec=TRUTH_COLOUR, ls="--", label="ground truth")]
    handles += [Rectangle((0, 0), 1, 1, fill=False, ec=_colour(i), label=name) for i, name in enumerate(names)]
    figure.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    figure.suptitle(title, fontsize=9)
    return save(figure, stem)


def _colour(index: int) -> str:
    return COLOURS[index % len(COLOURS)]

