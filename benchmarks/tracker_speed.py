"""Per-frame CPU time of the JCAT tracker against OpenCV CSRT and KCF, side by side.

All trackers run on the same 640x480 synthetic frames. JCAT-ResNet-50/18 use random weights (timing does not depend
on the values) and the published parameters; "JCAT demo" is ``build_tracker()``: the demo weights
(EfficientNet-Lite0) with the profile it picks, lite (one backbone pass per frame, so its dcf_features column holds
the whole backbone and segmentation only the head). Time is split into DCF features, DCF localisation, DCF update,
segmentation network, mask geometry and memory bank. Ratios are per-frame time / CSRT's.

    python benchmarks/tracker_speed.py --frames 30 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import cv2
import numpy as np
import torch

from jcat_core.data.synthetic import SequenceSpec, SyntheticSequence
from jcat_core.models.jcat_net import JcatConfig, build_jcat_net
from jcat_core.tracker import JcatTracker, auto_profile, build_tracker

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sequence = SyntheticSequence(SequenceSpec(name="speed", height=480, width=640, num_frames=args.frames + 1,
                                              size=0.15, seed=1))
    frames = [frame.image for frame in sequence]
    box = sequence[0].box
    rows: dict[str, tuple[list[float], dict[str, float]]] = {
        "OpenCV CSRT": (time_opencv(cv2.TrackerCSRT_create, frames, box), {}),
        "OpenCV KCF": (time_opencv(cv2.TrackerKCF_create, frames, box), {}),
    }
    for backbone in ("resnet50", "resnet18"):
        torch.manual_seed(0)
        tracker = build_tracker(build_jcat_net(JcatConfig(backbone=backbone)), device="cpu")
        rows[f"JCAT-{backbone} (random weights)"] = time_jcat(tracker, frames, box)
    demo = build_tracker(device="cpu")
    rows[f"JCAT demo ({auto_profile(demo.network)} profile)"] = time_jcat(demo, frames, box)
    csrt = statistics.median(rows["OpenCV CSRT"][0])
    header = f"{'tracker':32s} {'median ms':>9s} {'p95 ms':>8s} {'fps':>7s} {'x CSRT':>7s}  " + " ".join(
        f"{s:>13s}" for s in STAGES)
    print(f"{len(frames) - 1} frames 640x480, CPU, torch threads {torch.get_num_threads()}, fp32; stage columns: ms")
    print(header)
    for name, (times, stages) in rows.items():
        median = statistics.median(times)
        p95 = float(np.percentile(times, 95))
        cells = " ".join(f"{stages[s]:13.1f}" if stages else f"{'-':>13s}" for s in STAGES)
        print(f"{name:32s} {1000 * median:9.1f} {1000 * p95:8.1f} {1 / median:7.1f} {median / csrt:7.1f}  {cells}")


if __name__ == "__main__":
    main()
