"""Reports of a bag run: report.json, plots (IoU over time with the states shaded, or the tracker's score over time
when the bag has no ground truth; latency histogram, success curve), an MP4 a person can watch (mask, box, ground
truth, state, latency), a printed summary, and two runs side by side (`jcat-bag compare`).

Pictures number frames from 1 (#1 is the bag's first frame; 00000001.jpg of the GOT-10k folder it was made from), as
jcat-eval's strip does; report.json's per-frame "index", its "init" frame and --init-frame count from 0."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np

from jcat_ros.bag.records import FOUND, FrameRecord, RunResult, state_timeline, summary

# RGB, the node's debug-overlay colours, so a report frame reads like the node's ~/debug_image
COLOURS = {"TRACKING": (40, 220, 40), "UNCERTAIN": (240, 200, 20), "LOST": (230, 40, 40), "IDLE": (160, 160, 160),
           "DROPPED": (130, 80, 210)}
REPORT = "report.json"


def _finite(value):
    """JSON without NaN/inf (not valid JSON): they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


class OverlayVideo:
    """MP4 (mp4v) of the frames with the tracker's mask and box, the ground-truth box and a status line."""

    STRIP_KEPT = 32  # thumbnails kept for the frame strip: every `step`-th frame, the step doubling when full

    def __init__(self, path: Path, fps: float) -> None:
        self.path, self.fps, self.writer = path, max(1.0, fps), None
        self.thumbnails: list[np.ndarray] = []
        self.step, self.count = 1, 0

    def add(self, image: np.ndarray, record: FrameRecord, mask: np.ndarray | None) -> None:
        view = image.copy()
        colour = COLOURS.get(record.state, (255, 255, 255))
        if mask is not None and mask.shape == view.shape[:2] and mask.any():
            view[mask] = (0.5 * view[mask] + 0.5 * np.array(colour)).astype(np.uint8)
        if record.gt_box is not None:
            x, y, w, h = (round(v) for v in record.gt_box)
            cv2.rectangle(view, (x, y), (x + w, y + h), (255, 255, 255), 1)
        if record.state in FOUND and record.box is not None:
            x, y, w, h = (round(v) for v in record.box)
            cv2.rectangle(view, (x, y), (x + w, y + h), colour, 2)
        parts = [f"#{record.index + 1}", record.state, f"{record.score:.2f}"]  # from 1, as jcat-eval's strip
        if record.latency_ms is not None:
            parts.append(f"{record.latency_ms:.0f} ms")
        if record.iou is not None:
            parts.append(f"IoU {record.iou:.2f}")
        label = "  ".join(parts)
        if self.count % self.step == 0:  # labelled at its own size, so the strip stays readable
            size = (200, round(200 * view.shape[0] / view.shape[1]))
            thumbnail = cv2.resize(view, size, interpolation=cv2.INTER_AREA)
            cv2.putText(thumbnail, label, (4, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.33, colour, 1, cv2.LINE_AA)
            self.thumbnails.append(thumbnail)
            if len(self.thumbnails) == self.STRIP_KEPT:
                self.thumbnails, self.step = self.thumbnails[::2], self.step * 2
        self.count += 1
        cv2.putText(view, label, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)
        if self.writer is None:
            height, width = view.shape[:2]
            self.writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (width, height))
        self.writer.write(cv2.cvtColor(view, cv2.COLOR_RGB2BGR))

    def frame_strip(self, path: Path, frames: int = 5) -> Path | None:
        """`frames` evenly spaced overlay frames side by side (PNG): the run at a glance."""
        if not self.thumbnails:
            return None
        picks = np.linspace(0, len(self.thumbnails) - 1, min(frames, len(self.thumbnails))).round().astype(int)
        strip = np.concatenate([np.pad(self.thumbnails[i], ((0, 0), (0, 2), (0, 0))) for i in picks], axis=1)
        cv2.imwrite(str(path), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))
        return path

    def close(self) -> Path | None:
        if self.writer is None:
            return None
        self.writer.release()
        return self.path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_iou(result: RunResult, path: Path) -> Path:
    """IoU (and mask IoU) per frame over the background of the tracker's state; without ground truth, the tracker's
    score per frame instead (its own confidence, not accuracy), titled so. Frames numbered from 1."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 2.6), dpi=80)
    for first, last, state in state_timeline(result)["runs"]:
        ax.axvspan(first + 0.5, last + 1.5, color=np.array(COLOURS.get(state, (255,) * 3)) / 255, alpha=0.25, lw=0)
    frames = [r.index + 1 for r in result.records]  # NaN where there is nothing to score: gaps, not joined lines
    truth = any(r.gt_known for r in result.records) or any(r.mask_iou is not None for r in result.records)
    if truth:
        ax.plot(frames, [math.nan if r.iou is None else r.iou for r in result.records], color="black", lw=1.2,
                label="box IoU")
        title, ylabel, top = "IoU with the ground truth, states shaded", "IoU", 1.02
    else:  # the score of the frames the tracker answered (IDLE before the init, DROPPED: none)
        scores = [r.score if r.state not in ("IDLE", "DROPPED") else math.nan for r in result.records]
        ax.plot(frames, scores, color="black", lw=1.2, label="tracker score")
        title, ylabel = "no ground truth: the tracker's score (confidence), states shaded", "score"
        top = max([1.02, *(1.05 * v for v in scores if math.isfinite(v))])
    if any(r.mask_iou is not None for r in result.records):
        ax.plot(frames, [math.nan if r.mask_iou is None else r.mask_iou for r in result.records], color="tab:blue",
                lw=0.8, label="mask IoU")
    handles = [plt.Rectangle((0, 0), 1, 1, color=np.array(c) / 255, alpha=0.4) for c in COLOURS.values()]
    ax.legend([*ax.get_legend_handles_labels()[0], *handles],
              [*ax.get_legend_handles_labels()[1], *[s.lower() for s in COLOURS]], loc="lower left", fontsize=7,
              ncol=7, framealpha=0.8)
    ax.set(xlabel="frame (from 1)", ylabel=ylabel, ylim=(0, top), xlim=(0.5, max(len(result.records), 1) + 0.5),
           title=f"{Path(result.bag).name}: {title}")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_latency(result: RunResult, path: Path) -> Path:
    plt = _pyplot()
    values = [r.latency_ms for r in result.records if r.latency_ms is not None and r.index > result.init["frame"]]
    fig, ax = plt.subplots(figsize=(5, 3), dpi=80)
    ax.hist(values, bins=min(40, max(5, len(values) // 4)), color="tab:gray")
    if values:
        for q, style in ((50, "-"), (95, "--")):
            at = float(np.percentile(values, q))
            ax.axvline(at, color="black", ls=style, lw=1, label=f"p{q} {at:.0f} ms")
        ax.legend(fontsize=8)
    what = "image stamp -> output received" if result.mode == "replay" else "track() time in-process"
    ax.set(xlabel="ms", ylabel="frames", title=f"latency: {what}")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_success(results: dict[str, dict], path: Path) -> Path:
    """Success curves (fraction of frames with IoU above each threshold) of one or more runs' reports."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 3.5), dpi=80)
    for name, report in results.items():
        curve = report["accuracy"].get("success_curve")
        if curve:
            ax.plot(curve["thresholds"], curve["success"], label=f"{name} (AUC {report['accuracy']['auc']:.3f})")
    ax.set(xlabel="IoU threshold", ylabel="success rate", xlim=(0, 1), ylim=(0, 1.02), title="success plot")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_report(result: RunResult, out: Path) -> dict[str, Path]:
    """report.json and the plots in `out`; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    report = _finite(summary(result))
    paths = {"json": out / REPORT}
    paths["json"].write_text(json.dumps(report, indent=1) + "\n")
    paths["iou_plot"] = plot_iou(result, out / "iou_over_time.png")
    if result.mode == "replay" or any(r.latency_ms is not None for r in result.records):
        paths["latency_plot"] = plot_latency(result, out / "latency_histogram.png")
    if report["accuracy"]:
        paths["success_plot"] = plot_success({Path(result.bag).name: report}, out / "success.png")
    return paths


def summary_rows(report: dict) -> list[tuple[str, str]]:
    """The short table a person reads first."""
    system, accuracy, states = report["system"], report["accuracy"], report["states"]

    def ms(value) -> str:
        return "-" if value is None else f"{value:.0f}"

    rows = [("frames", str(report["frames"]))]
    if report["mode"] == "replay":
        rows += [
            ("answered / dropped", f"{system['frames_answered']} / {system['frames_dropped']}"),
            ("tracker rate", f"{system['fps']:.1f} fps (input {system['input_fps']:.1f} fps) on "
                             f"{system['node'].get('device') or '?'}"),
            ("latency stamp -> output, median / p95", f"{ms(system['latency']['median_ms'])} / "
                                                      f"{ms(system['latency']['p95_ms'])} ms"),
            ("outputs with their input's header", f"{system['outputs_with_input_header']} / {system['outputs']}"),
        ]
    else:
        rows.append(("track() time, median / p95", f"{ms(system['track_time']['median_ms'])} / "
                                                   f"{ms(system['track_time']['p95_ms'])} ms"))
    if accuracy:
        mask = "-" if accuracy["mask_iou"] is None else f"{accuracy['mask_iou']:.3f}"
        rows += [("mean IoU / mask IoU", f"{accuracy['mean_iou']:.3f} / {mask}"),
                 ("AUC / precision@20px", f"{accuracy['auc']:.3f} / {accuracy['precision_20']:.3f}")]
    else:
        rows.append(("accuracy", "no ground truth in the bag"))
    rows.append(("time lost", f"{states['time_lost_percent']:.1f} %"))
    return rows


def format_rows(rows: list[tuple[str, str]]) -> str:
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"  {name:<{width}}  {value}" for name, value in rows)


def load_report(path: Path) -> dict:
    """A run's report.json, given the file or its folder."""
    path = Path(path)
    file = path / REPORT if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"no {REPORT} in {path}: give the --out folder of a jcat-bag eval or replay")
    return json.loads(file.read_text())


def compare(paths: list[Path], out: Path | None = None) -> str:
    """Two (or more) runs side by side: the summary rows of each, and their success curves in one plot."""
    reports = {str(p): load_report(p) for p in paths}
    tables = {name: dict(summary_rows(r)) for name, r in reports.items()}
    keys = list(dict.fromkeys(k for t in tables.values() for k in t))
    names = list(tables)
    width = max(len(k) for k in keys)
    cols = [max(len(n), *(len(t.get(k, "")) for k in keys)) for n, t in tables.items()]
    lines = ["  " + " " * width + "  " + "  ".join(f"{n:<{c}}" for n, c in zip(names, cols, strict=True))]
    lines += ["  " + f"{k:<{width}}  " + "  ".join(f"{tables[n].get(k, '-'):<{c}}" for n, c in zip(names, cols,
                                                                                                        strict=True))
              for k in keys]
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        plot_success({Path(n).name: r for n, r in reports.items()}, out / "compare_success.png")
        (out / "compare.json").write_text(json.dumps({n: r["accuracy"] | {"system": r["system"]}
                                                      for n, r in reports.items()}, indent=1) + "\n")
    return "\n".join(lines)
