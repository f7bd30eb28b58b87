"""The demo weights (``build_tracker()``) against OpenCV CSRT on the held-out synthetic suite, side by side.

Both trackers start from the ground-truth box of frame 0 and run on the same frames; the score is the mean box
IoU over the frames where the target is visible (then averaged over sequences), plus JCAT's mask IoU. The suite
is ``synthetic_suite(seed=...)``: procedural textures and seeds the demo training never saw (its sequences use
seeds >= 1e6). With ``--textures DIR`` the same suite is also run with objects and backgrounds cut from held-out
photos (scripts/fetch_textures.sh puts Debian darknet's photos, unused in training, in darknet-data/). Per-frame
time is wall time of ``track``/``update`` and process CPU time, with torch on ``--threads`` threads.

``--video FILE --video-box x,y,w,h`` also runs both on a real video from the box on its first frame. Such videos
carry no ground truth: the report gives each tracker's per-frame time, the IoU between the two trackers' boxes and
a contact sheet (``--sheet``) of every 20th frame with both boxes (JCAT green, CSRT red) to judge by eye.

    python benchmarks/accuracy_synthetic.py --threads 2 [--textures ~/.cache/jcat/textures/darknet-data]
        [--video vtest.avi --video-box 640,240,45,82 --sheet sheet.png]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path

import cv2
import numpy as np
import torch

from jcat_core.data.sources import open_source
from jcat_core.data.synthetic import SyntheticSequence, synthetic_suite
from jcat_core.data.textures import TextureBank
from jcat_core.eval.metrics import box_iou, mask_iou
from jcat_core.tracker import build_tracker


@dataclass
class Run:
    """One tracker on one sequence."""

    sequence: str
    tracker: str
    box_iou: float  # mean over frames 1.. with the target visible
    mask_iou: float | None
    wall_ms: float  # median per frame
    cpu_ms: float  # mean process CPU time per frame


def run_jcat(tracker, images, box) -> tuple[list, list, list[float], float]:
    tracker.initialize(images[0], box=box)
    boxes, masks, walls = [], [], []
    cpu = time.process_time()
    for image in images[1:]:
        start = time.perf_counter()
        out = tracker.track(image)
        walls.append(time.perf_counter() - start)
        boxes.append(out.box)
        masks.append(out.mask)
    return boxes, masks, walls, (time.process_time() - cpu) / (len(images) - 1)


def run_csrt(images, init_box) -> tuple[list, list[float], float]:
    tracker = cv2.TrackerCSRT_create()
    tracker.init(cv2.cvtColor(images[0], cv2.COLOR_RGB2BGR), tuple(round(v) for v in init_box))
    boxes, walls = [], []
    cpu = time.process_time()
    for image in images[1:]:
        start = time.perf_counter()  # from the same RGB frame JCAT gets: OpenCV's tracker wants BGR
        ok, box = tracker.update(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        walls.append(time.perf_counter() - start)
        boxes.append(tuple(float(v) for v in box) if ok else (0.0, 0.0, 0.0, 0.0))
    return boxes, walls, (time.process_time() - cpu) / (len(images) - 1)


def evaluate(name: str, sequence: SyntheticSequence, tracker) -> list[Run]:
    frames = list(sequence)
    visible = np.array([f.visible for f in frames[1:]])
    gt = np.array([f.box for f in frames[1:]])
    images = [f.image for f in frames]
    boxes, masks, walls, cpu = run_jcat(tracker, images, frames[0].box)
    jcat_iou = float(box_iou(np.array(boxes), gt)[visible].mean())
    jcat_mask = float(np.mean([mask_iou(m, f.mask) for m, f in zip(masks, frames[1:], strict=True)]))
    csrt_boxes, csrt_walls, csrt_cpu = run_csrt(images, frames[0].box)
    csrt_iou = float(box_iou(np.array(csrt_boxes), gt)[visible].mean())
    return [Run(name, "jcat", jcat_iou, jcat_mask, 1000 * statistics.median(walls), 1000 * cpu),
            Run(name, "csrt", csrt_iou, None, 1000 * statistics.median(csrt_walls), 1000 * csrt_cpu)]


def real_video(path: str, box: tuple[float, ...], count: int, tracker, sheet: str | None) -> dict[str, float]:
    """Both trackers on the first ``count`` frames of a video from ``box``: times, mutual IoU, contact sheet."""
    try:
        images = [f.image for f in islice(open_source(path), count)]
    except (OSError, ValueError):
        images = []
    if len(images) < 2:
        raise SystemExit(f"could not read frames from {path}")
    boxes, _, walls, cpu = run_jcat(tracker, images, box)
    csrt_boxes, csrt_walls, csrt_cpu = run_csrt(images, box)
    agreement = box_iou(np.array(boxes), np.array(csrt_boxes))
    print(f"\nreal video {path}, {len(images)} frames {images[0].shape[1]}x{images[0].shape[0]}, from box {box} "
          f"(no ground truth): JCAT {1000 * statistics.median(walls):.1f} ms/frame ({1000 * cpu:.1f} ms CPU), CSRT "
          f"{1000 * statistics.median(csrt_walls):.1f} ms ({1000 * csrt_cpu:.1f} ms CPU); IoU of the two trackers' "
          f"boxes: mean {agreement.mean():.3f}, last frame {agreement[-1]:.3f}")
    if sheet:
        tiles = []
        for i in range(0, len(images) - 1, 20):
            tile = cv2.cvtColor(images[i + 1], cv2.COLOR_RGB2BGR)
            for b, colour in ((boxes[i], (0, 255, 0)), (csrt_boxes[i], (0, 0, 255))):
                x, y, w, h = (round(v) for v in b)
                cv2.rectangle(tile, (x, y), (x + w, y + h), colour, 2)
            tiles.append(cv2.resize(tile, (tile.shape[1] // 2, tile.shape[0] // 2)))
        while len(tiles) % 4:
            tiles.append(np.zeros_like(tiles[0]))
        cv2.imwrite(sheet, np.concatenate([np.concatenate(tiles[r:r + 4], 1) for r in range(0, len(tiles), 4)], 0))
        print(f"contact sheet: {sheet}")
    return {"jcat_ms": 1000 * statistics.median(walls), "csrt_ms": 1000 * statistics.median(csrt_walls),
            "mutual_iou_mean": float(agreement.mean()), "mutual_iou_last": float(agreement[-1]), "frames": len(images)}


def summarise(title: str, runs: list[Run]) -> dict[str, float]:
    print(f"\n{title}")
    print(f"{'sequence':14s} {'JCAT IoU':>9s} {'mask IoU':>9s} {'CSRT IoU':>9s} {'JCAT ms':>8s} {'CSRT ms':>8s}")
    by_seq: dict[str, dict[str, Run]] = {}
    for r in runs:
        by_seq.setdefault(r.sequence, {})[r.tracker] = r
    for name, pair in by_seq.items():
        j, c = pair["jcat"], pair["csrt"]
        print(f"{name:14s} {j.box_iou:9.3f} {j.mask_iou:9.3f} {c.box_iou:9.3f} {j.wall_ms:8.1f} {c.wall_ms:8.1f}")
    mean = {t: statistics.mean(r.box_iou for r in runs if r.tracker == t) for t in ("jcat", "csrt")}
    wall = {t: statistics.median(r.wall_ms for r in runs if r.tracker == t) for t in ("jcat", "csrt")}
    cpu = {t: statistics.mean(r.cpu_ms for r in runs if r.tracker == t) for t in ("jcat", "csrt")}
    mask = statistics.mean(r.mask_iou for r in runs if r.tracker == "jcat")
    print(f"mean box IoU: JCAT demo {mean['jcat']:.3f}, CSRT {mean['csrt']:.3f}, ratio JCAT/CSRT "
          f"{mean['jcat'] / max(mean['csrt'], 1e-9):.2f}; JCAT mean mask IoU {mask:.3f}")
    print(f"per frame: JCAT {wall['jcat']:.1f} ms wall ({cpu['jcat']:.1f} ms CPU), CSRT {wall['csrt']:.1f} ms wall "
          f"({cpu['csrt']:.1f} ms CPU); time ratio JCAT/CSRT {wall['jcat'] / wall['csrt']:.1f}x")
    return {"jcat_iou": mean["jcat"], "csrt_iou": mean["csrt"], "iou_ratio": mean["jcat"] / max(mean["csrt"], 1e-9),
            "jcat_mask_iou": mask, "jcat_ms": wall["jcat"], "csrt_ms": wall["csrt"], "jcat_cpu_ms": cpu["jcat"],
            "csrt_cpu_ms": cpu["csrt"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", help="a weight file (default: the demo weights, build_tracker())")
    parser.add_argument("--segm-size", type=int, help="segmentation crop side for --weights (the demo's is its own)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0, help="suite seed (the demo training used none of them)")
    parser.add_argument("--textures", help="folder of held-out photos: also run the suite textured with them")
    parser.add_argument("--video", help="a real video file to run both trackers on (no ground truth)")
    parser.add_argument("--video-box", help="x,y,w,h of the target on the video's first frame")
    parser.add_argument("--video-frames", type=int, default=200)
    parser.add_argument("--sheet", help="contact sheet PNG for --video")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    tracker = build_tracker(args.weights, device="cpu", **({"segm_size": args.segm_size} if args.segm_size else {}))
    suite = synthetic_suite(num_frames=args.frames, seed=args.seed)
    print(f"JCAT: {'demo weights' if args.weights is None else args.weights}; {args.threads} threads; "
          f"{len(suite)} sequences x {args.frames} frames, 320x240")
    tracker.profile_stages = True
    runs = [r for name, spec in suite.items() for r in evaluate(name, SyntheticSequence(spec), tracker)]
    report = {"procedural": summarise("held-out synthetic suite (procedural textures)", runs)}
    frames = len(suite) * (args.frames - 1)
    stages = {k: 1000 * v / frames for k, v in tracker.stage_seconds.items()}
    print("JCAT per-frame stages, ms: " + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()))
    report["procedural"]["jcat_stage_ms"] = stages
    if args.textures:
        bank = TextureBank.from_folders([args.textures])
        textured = [r for name, spec in suite.items() for r in evaluate(name, SyntheticSequence(spec, bank), tracker)]
        report["photo_textures"] = summarise(f"the same suite textured with {len(bank)} held-out photos "
                                             f"({args.textures})", textured)
        runs += textured
    if args.video:
        if not args.video_box:
            parser.error("--video needs --video-box x,y,w,h")
        box = tuple(float(v) for v in args.video_box.split(","))
        report["video"] = real_video(args.video, box, args.video_frames, tracker, args.sheet)
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": report, "runs": [asdict(r) for r in runs]}, indent=2))


if __name__ == "__main__":
    main()
