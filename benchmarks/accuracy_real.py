"""JCAT against OpenCV CSRT, KCF and MIL on real footage and on the held-out synthetic suites, side by side.

Suites: (a) the real clips of docs/REAL_CLIPS.md (scripts/fetch_real_clips.sh puts them in DEST; a held-out test set,
never used for training or tuning); (b) ``synthetic_suite(seed=...)`` with procedural textures, and (c) the same suite
textured with held-out photos (``--textures DIR``, by default scripts/fetch_textures.sh's darknet-data when it is
there), as benchmarks/accuracy_synthetic.py defines them. JCAT is ``build_tracker()`` (the demo weights and the profile
they pick, or ``--weights``); the OpenCV trackers are jcat_core.eval.baselines' wrappers. Every tracker starts from
the ground-truth box of frame 0; frames 1.. are scored where the target is present: mean IoU and AUC (the OTB
success-plot area, IoU thresholds 0..1 step 0.05, jcat_core.eval.metrics). Per frame: mean process CPU time and wall
time of ``track`` (torch and OpenCV on ``--threads`` threads). JCAT's state calibration: the share of present frames
with IoU < 0.3 it reports TRACKING (lower is better), of those with IoU >= 0.5 (higher is better), and of frames with
the target absent (lower is better).

    python benchmarks/accuracy_real.py --threads 2 [--root DEST] [--clips box,cup] [--max-frames N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import cv2
import numpy as np
import torch

from jcat_core.data.synthetic import SyntheticSequence, synthetic_suite
from jcat_core.data.textures import TextureBank
from jcat_core.eval.baselines import OpenCVTracker
from jcat_core.eval.datasets.got10k import load_got10k
from jcat_core.eval.metrics import BoxMetrics, aggregate, box_iou, evaluate_boxes
from jcat_core.tracker import TrackerState, build_tracker

TRACKERS = ("jcat", "csrt", "kcf", "mil")
DEFAULT_ROOT = Path(os.environ.get("JCAT_REAL_CLIPS_DIR", Path.home() / ".cache/jcat/real_clips"))
DEFAULT_TEXTURES = Path(os.environ.get("JCAT_TEXTURE_DIR", Path.home() / ".cache/jcat/textures")) / "darknet-data"
LOW_IOU, HIGH_IOU = 0.3, 0.5


@dataclass(frozen=True)
class Clip:
    """One sequence to run: its frames (RGB, read on demand), ground truth and where the target is present."""

    name: str
    count: int
    image: Callable[[int], np.ndarray]
    boxes: np.ndarray  # (N, 4) x, y, w, h
    present: np.ndarray  # (N,) bool


@dataclass(frozen=True)
class Calibration:
    """How often a tracker says TRACKING when it is wrong (IoU < 0.3 or target absent) and when it is right."""

    low_iou_tracking: float  # share of present frames with IoU < 0.3 reported TRACKING (NaN without such frames)
    high_iou_tracking: float  # share of present frames with IoU >= 0.5 reported TRACKING
    absent_tracking: float  # share of frames with the target absent reported TRACKING
    low_iou_frames: int
    high_iou_frames: int
    absent_frames: int


@dataclass
class Result:
    """One tracker on one clip (frames 1..)."""

    clip: str
    tracker: str
    frames: int  # scored frames (target present)
    mean_iou: float
    auc: float
    cpu_ms: float  # mean process CPU time per frame
    wall_ms: float  # mean wall time per frame
    calibration: Calibration
    metrics: BoxMetrics | None = field(default=None, repr=False)  # for the suite's curves; not in the JSON

    def figures(self) -> dict:
        """The figures for JSON."""
        return {**{f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("metrics", "calibration")},
                "calibration": asdict(self.calibration)}


def share(flags: np.ndarray) -> float:
    """Mean of a bool array; NaN when it is empty."""
    return float(np.mean(flags)) if len(flags) else float("nan")


def calibration(ious: np.ndarray, tracking: np.ndarray, present: np.ndarray) -> Calibration:
    """The state-calibration shares from per-frame IoU, TRACKING flags and target presence."""
    ious, tracking, present = np.asarray(ious, float), np.asarray(tracking, bool), np.asarray(present, bool)
    low, high = present & (ious < LOW_IOU), present & (ious >= HIGH_IOU)
    return Calibration(share(tracking[low]), share(tracking[high]), share(tracking[~present]),
                       int(low.sum()), int(high.sum()), int((~present).sum()))


def pooled(calibrations: Iterable[Calibration]) -> Calibration:
    """The shares over all frames of several clips (weighted by their frame counts)."""
    items = list(calibrations)

    def rate(name: str, count: str) -> float:
        total = sum(getattr(c, count) for c in items)
        hits = sum(getattr(c, name) * getattr(c, count) for c in items if getattr(c, count))
        return hits / total if total else float("nan")

    return Calibration(rate("low_iou_tracking", "low_iou_frames"), rate("high_iou_tracking", "high_iou_frames"),
                       rate("absent_tracking", "absent_frames"), sum(c.low_iou_frames for c in items),
                       sum(c.high_iou_frames for c in items), sum(c.absent_frames for c in items))


def real_clips(root: Path, names: list[str] | None, max_frames: int | None) -> list[Clip]:
    """The fetched clips in ROOT (all, or ``names``); exit 2 when they are not there."""
    require_clips(root)
    dataset = load_got10k(root)
    chosen = names or [s.name for s in dataset.sequences]
    missing = sorted(set(chosen) - {s.name for s in dataset.sequences})
    if missing:
        sys.exit(f"accuracy_real: no clip(s) {', '.join(missing)} in {root}")
    clips = []
    for sequence in (dataset[name] for name in chosen):
        count = min(len(sequence), max_frames or len(sequence))
        present = np.isfinite(sequence.boxes).all(axis=1)
        if sequence.visible is not None:
            present &= sequence.visible
        clips.append(Clip(sequence.name, count, sequence.image, sequence.boxes[:count], present[:count]))
    return clips


def require_clips(root: Path) -> None:
    """Exit 2, saying which command fetches them, when ROOT does not hold the fetched clips."""
    if not (root / "list.txt").is_file():
        print(f"accuracy_real: the real clips are not in {root}; fetch them with scripts/fetch_real_clips.sh {root}",
              file=sys.stderr)
        sys.exit(2)


def synthetic_clips(frames: int, seed: int, bank: TextureBank | None = None) -> list[Clip]:
    """The held-out synthetic suite as accuracy_synthetic.py runs it (procedural, or textured with ``bank``)."""
    clips = []
    for name, spec in synthetic_suite(num_frames=frames, seed=seed).items():
        rendered = list(SyntheticSequence(spec, bank) if bank is not None else SyntheticSequence(spec))
        images = [f.image for f in rendered]
        clips.append(Clip(name, len(rendered), images.__getitem__, np.array([f.box for f in rendered], float),
                          np.array([f.visible for f in rendered], bool)))
    return clips


def track(tracker, clip: Clip) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Run from frame 0's ground truth: boxes and TRACKING flags of frames 1.., mean CPU and wall ms per frame."""
    tracker.initialize(clip.image(0), box=tuple(float(v) for v in clip.boxes[0]))
    boxes, tracking, wall = [], [], 0.0
    cpu = time.process_time()
    for index in range(1, clip.count):
        image = clip.image(index)
        start = time.perf_counter()
        out = tracker.track(image)
        wall += time.perf_counter() - start
        boxes.append(out.box)
        tracking.append(out.state == TrackerState.TRACKING)
    frames = max(clip.count - 1, 1)
    return np.array(boxes, float).reshape(-1, 4), np.array(tracking), \
        1000 * (time.process_time() - cpu) / frames, 1000 * wall / frames


def score(name: str, tracker, clip: Clip) -> Result:
    """One tracker on one clip, scored on frames 1.. where the target is present."""
    boxes, tracking, cpu_ms, wall_ms = track(tracker, clip)
    gt, present = clip.boxes[1:], clip.present[1:]
    metrics = evaluate_boxes(boxes, gt, visible=present)
    ious = box_iou(boxes, gt)  # 0 on absent frames (NaN ground truth), which calibration counts apart
    return Result(clip.name, name, metrics.num_frames, metrics.mean_iou, metrics.auc, cpu_ms, wall_ms,
                  calibration(ious, tracking, present), metrics)


def run_suite(clips: list[Clip], trackers: dict[str, Callable[[], object]]) -> list[Result]:
    """Every tracker on every clip (JCAT is built once and re-initialised; OpenCV trackers are made per clip)."""
    return [score(name, make(), clip) for clip in clips for name, make in trackers.items()]


def _f(value: float, digits: int = 3) -> str:
    return "-" if value != value else f"{value:.{digits}f}"


def print_table(title: str, results: list[Result]) -> None:
    """Per clip and tracker: frames, mean IoU, AUC, CPU and wall ms, and the calibration shares."""
    print(f"\n{title}")
    print(f"{'clip':13s} {'tracker':7s} {'frames':>6s} {'mIoU':>6s} {'AUC':>6s} {'cpu ms':>7s} {'wall ms':>7s} "
          f"{'TRK|IoU<.3':>11s} {'TRK|IoU>=.5':>11s} {'TRK|absent':>11s}")
    for r in results:
        c = r.calibration
        print(f"{r.clip:13s} {r.tracker:7s} {r.frames:6d} {_f(r.mean_iou):>6s} {_f(r.auc):>6s} {r.cpu_ms:7.1f} "
              f"{r.wall_ms:7.1f} {_f(c.low_iou_tracking, 2):>6s} ({c.low_iou_frames:3d}) "
              f"{_f(c.high_iou_tracking, 2):>5s} ({c.high_iou_frames:3d}) {_f(c.absent_tracking, 2):>5s} "
              f"({c.absent_frames:3d})")


def summarise(results: list[Result]) -> dict[str, dict[str, float]]:
    """Per tracker over the suite: AUC (mean success curve over clips), mean IoU (pooled frames), mean times, the
    pooled calibration; and JCAT/CSRT ratios."""
    summary: dict[str, dict[str, float]] = {}
    for name in dict.fromkeys(r.tracker for r in results):
        mine = [r for r in results if r.tracker == name]
        suite = aggregate([r.metrics for r in mine])
        summary[name] = {"auc": suite.auc, "mean_iou": suite.mean_iou,
                         "cpu_ms": float(np.mean([r.cpu_ms for r in mine])),
                         "wall_ms": float(np.mean([r.wall_ms for r in mine])),
                         **asdict(pooled(r.calibration for r in mine))}
    if "jcat" in summary and "csrt" in summary:
        summary["jcat_over_csrt"] = {key: summary["jcat"][key] / summary["csrt"][key] if summary["csrt"][key] else
                                     float("nan") for key in ("auc", "mean_iou", "cpu_ms", "wall_ms")}
    return summary


def print_summary(summary: dict[str, dict[str, float]]) -> None:
    for name, row in summary.items():
        if name == "jcat_over_csrt":
            print(f"  JCAT/CSRT: AUC {row['auc']:.2f}, mIoU {row['mean_iou']:.2f}, CPU {row['cpu_ms']:.1f}x, "
                  f"wall {row['wall_ms']:.1f}x")
        else:
            print(f"  {name:5s} AUC {_f(row['auc'])}  mIoU {_f(row['mean_iou'])}  {row['cpu_ms']:.1f} ms CPU  "
                  f"{row['wall_ms']:.1f} ms wall  TRACKING when IoU<0.3 {_f(row['low_iou_tracking'], 2)}, IoU>=0.5 "
                  f"{_f(row['high_iou_tracking'], 2)}, absent {_f(row['absent_tracking'], 2)}")


def suites(args: argparse.Namespace) -> dict[str, tuple[str, Callable[[], list[Clip]]]]:
    """The suites to run: name -> (title, clip loader)."""
    names = args.clips.split(",") if args.clips else None
    frames = min(args.frames, args.max_frames or args.frames)
    chosen = {"real": (f"real clips ({args.root})", lambda: real_clips(args.root, names, args.max_frames)),
              "procedural": (f"held-out synthetic suite, procedural textures (seed {args.seed}, {frames} frames)",
                             lambda: synthetic_clips(frames, args.seed))}
    textures = args.textures or (DEFAULT_TEXTURES if DEFAULT_TEXTURES.is_dir() else None)
    if textures:
        chosen["photo_textures"] = (f"the same suite textured with held-out photos ({textures})",
                                    lambda: synthetic_clips(frames, args.seed, TextureBank.from_folders([textures])))
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="the fetched clips (fetch_real_clips.sh DEST)")
    parser.add_argument("--clips", help="comma-separated real clip names (default: all)")
    parser.add_argument("--max-frames", type=int, help="at most this many frames per sequence (quick runs)")
    parser.add_argument("--weights", help="JCAT weight file (default: build_tracker()'s demo weights)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--frames", type=int, default=60, help="synthetic sequence length")
    parser.add_argument("--seed", type=int, default=0, help="synthetic suite seed")
    parser.add_argument("--textures", type=Path, help="held-out photos for the textured suite")
    parser.add_argument("--json", type=Path, help="write every figure here")
    args = parser.parse_args()
    require_clips(args.root)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    jcat = build_tracker(args.weights, device="cpu")
    trackers = {"jcat": lambda: jcat, **{n: (lambda n=n: OpenCVTracker(n)) for n in TRACKERS[1:]}}
    print(f"JCAT: {args.weights or 'demo weights'}; {args.threads} threads; trackers {', '.join(trackers)}")
    report = {}
    for key, (title, load) in suites(args).items():
        results = run_suite(load(), trackers)
        print_table(title, results)
        summary = summarise(results)
        print_summary(summary)
        report[key] = {"title": title, "summary": summary,
                       "clips": [r.figures() for r in results]}
    if args.json:
        args.json.write_text(json.dumps({"threads": args.threads, "weights": args.weights or "demo",
                                         "suites": report}, indent=2))


if __name__ == "__main__":
    main()
