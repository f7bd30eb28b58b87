"""Per-frame CPU time of the JCAT tracker against OpenCV CSRT and KCF, side by side.

All trackers run on the same 640x480 synthetic frames. JCAT-ResNet-50/18 use random weights (timing does not depend
on the values) and the published parameters; "JCAT demo" is ``build_tracker()``: the demo weights
(EfficientNet-Lite0) with the profile it picks, lite (one backbone pass per frame, so its dcf_features column holds
the whole backbone and segmentation only the head). Time is split into DCF features, DCF localisation, DCF update,
segmentation network, mask geometry and memory bank. Ratios are per-frame time / CSRT's.

The CPU in fp32 by default. ``--device cuda --precisions fp32,fp16,bf16`` times the JCAT rows on a GPU under each
autocast precision (``--skip-opencv`` leaves out the CPU-only OpenCV baselines, and the ratio column with them);
``--networks`` picks the JCAT rows, ``--weights FILE`` adds one for a weight file (the published JcatNet.pth.tar or
ours), ``--json FILE`` writes the rows for scripts (scripts/gpu_check.sh). There is no torch.compile row: the tracker
(``build_tracker``) offers no compile switch.

    python benchmarks/tracker_speed.py --frames 30 --threads 2
    python benchmarks/tracker_speed.py --device cuda --precisions fp32,fp16,bf16 --skip-opencv --frames 30
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch

from jcat_core.data.synthetic import SequenceSpec, SyntheticSequence
from jcat_core.models.jcat_net import JcatConfig, build_jcat_net
from jcat_core.tracker import JcatTracker, auto_profile, build_tracker

NETWORKS = ("resnet50", "resnet18", "demo")
PRECISIONS = ("fp32", "fp16", "bf16")
STAGES = ("dcf_features", "dcf_localize", "dcf_update", "segmentation", "mask_geometry", "memory_bank")


def time_opencv(create: Callable[[], cv2.Tracker], frames: list, box: tuple) -> list[float]:
    tracker = create()
    tracker.init(cv2.cvtColor(frames[0], cv2.COLOR_RGB2BGR), tuple(round(v) for v in box))
    times = []
    for image in frames[1:]:
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        start = time.perf_counter()
        tracker.update(bgr)
        times.append(time.perf_counter() - start)
    return times


def time_jcat(tracker: JcatTracker, frames: list, box: tuple) -> tuple[list[float], dict[str, float]]:
    tracker.initialize(frames[0], box=box)
    tracker.profile_stages = True
    times = []
    for image in frames[1:]:
        start = time.perf_counter()
        tracker.track(image)
        times.append(time.perf_counter() - start)
    per_frame = {stage: 1000 * tracker.stage_seconds.get(stage, 0.0) / len(times) for stage in STAGES}
    return times, per_frame


def names_list(allowed: tuple[str, ...]) -> Callable[[str], list[str]]:
    """An argparse type: a comma-separated list of names from ``allowed``, in the order given."""

    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in allowed]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"{text!r}: give a comma-separated list from {', '.join(allowed)}")
        return names

    return parse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the JCAT rows run")
    parser.add_argument("--precisions", type=names_list(PRECISIONS), default=["fp32"],
                        help="comma-separated autocast precisions of the JCAT rows (fp16 needs CUDA; default fp32)")
    parser.add_argument("--networks", type=names_list(NETWORKS), default=list(NETWORKS),
                        help="JCAT rows: resnet50 / resnet18 (random weights, published parameters), demo (the demo "
                             "weights); default all three")
    parser.add_argument("--weights", type=Path, default=None,
                        help="also a row for this JcatNet weight file (e.g. ~/.cache/jcat/JcatNet.pth.tar)")
    parser.add_argument("--skip-opencv", action="store_true", help="leave out the OpenCV CSRT and KCF rows")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows to this JSON file")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device cuda: torch {torch.__version__} sees no CUDA device")
    if args.device == "cpu" and "fp16" in args.precisions:
        parser.error("fp16 is CUDA only: use fp32 or bf16 on the CPU")
    if args.weights is not None and not args.weights.expanduser().is_file():
        parser.error(f"--weights: no such file {args.weights}")
    torch.set_num_threads(args.threads)
    sequence = SyntheticSequence(SequenceSpec(name="speed", height=480, width=640, num_frames=args.frames + 1,
                                              size=0.15, seed=1))
    frames = [frame.image for frame in sequence]
    box = sequence[0].box
    rows: dict[str, tuple[list[float], dict[str, float]]] = {}
    about: dict[str, dict[str, str]] = {}  # row name -> network and precision, for --json
    if not args.skip_opencv:
        rows["OpenCV CSRT"] = (time_opencv(cv2.TrackerCSRT_create, frames, box), {})
        rows["OpenCV KCF"] = (time_opencv(cv2.TrackerKCF_create, frames, box), {})
        about["OpenCV CSRT"] = about["OpenCV KCF"] = {"network": "none (OpenCV, CPU)", "precision": "fp32"}
    # (row label, which network, weights for build_tracker: a module, None = the demo weights, or a file)
    jcat: list[tuple[str, str, torch.nn.Module | Path | None]] = []
    for backbone in ("resnet50", "resnet18"):
        if backbone in args.networks:
            torch.manual_seed(0)
            jcat.append((f"JCAT-{backbone} (random weights)", f"JcatNet {backbone}, random init (published config)",
                         build_jcat_net(JcatConfig(backbone=backbone))))
    if "demo" in args.networks:
        from jcat_core.models.demo_weights import DEMO_WEIGHTS

        jcat.append(("JCAT demo ({profile} profile)", f"demo weights ({DEMO_WEIGHTS.name})", None))
    if args.weights is not None:
        weights = args.weights.expanduser()
        jcat.append((f"JCAT {weights.name} ({{profile}} profile)", f"weight file {weights}", weights))
    for label, network, weights in jcat:
        for precision in args.precisions:
            tracker = build_tracker(weights, device=args.device, precision=precision)
            name = label.format(profile=auto_profile(tracker.network))
            name = name if args.precisions == ["fp32"] else f"{name} {precision}"
            rows[name] = time_jcat(tracker, frames, box)
            about[name] = {"network": network, "precision": precision}
    csrt = statistics.median(rows["OpenCV CSRT"][0]) if "OpenCV CSRT" in rows else None
    width = max(32, *(len(name) for name in rows))
    header = f"{'tracker':{width}s} {'median ms':>9s} {'p95 ms':>8s} {'fps':>7s} {'x CSRT':>7s}  " + " ".join(
        f"{s:>13s}" for s in STAGES)
    where = "CPU" if args.device == "cpu" else f"cuda ({torch.cuda.get_device_name()}) for JCAT"
    print(f"{len(frames) - 1} frames 640x480, {where}, torch threads {torch.get_num_threads()}, "
          f"{','.join(args.precisions)}; stage columns: ms")
    print(header)
    results = []
    for name, (times, stages) in rows.items():
        median = statistics.median(times)
        p95 = float(np.percentile(times, 95))
        cells = " ".join(f"{stages[s]:13.1f}" if stages else f"{'-':>13s}" for s in STAGES)
        ratio = f"{median / csrt:7.1f}" if csrt else f"{'-':>7s}"
        print(f"{name:{width}s} {1000 * median:9.1f} {1000 * p95:8.1f} {1 / median:7.1f} {ratio}  {cells}")
        results.append({"name": name, **about[name], "median_ms": 1000 * median, "p95_ms": 1000 * p95,
                        "fps": 1 / median, "x_csrt": median / csrt if csrt else None, "stages_ms": stages})
    if args.json is not None:
        args.json.write_text(json.dumps({
            "benchmark": "tracker_speed", "device_type": args.device, "torch": torch.__version__,
            "device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
            "frames": len(frames) - 1, "size": "640x480", "rows": results}, indent=2) + "\n")

if __name__ == "__main__":
    main()
