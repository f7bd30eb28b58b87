"""The product end to end on this machine: a camera node publishing a synthetic sequence, the tracker node
started as a user starts it (`ros2 launch` where available), the target initialised with `init_client` as from
another terminal, the outputs recorded, and a summary against the sequence's exact ground truth.

    python -m jcat_ros.demo [--sequence clean] [--frames 240] [--rate 8] [--weights PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from vision_msgs.msg import Detection2DArray

from jcat_core.tracker.geometry import box_iou
from jcat_ros.msg import TrackerState
from jcat_ros.probe import Probe, ProbeTimeoutError
from jcat_ros.tracker_outputs import STATE_NAMES, box_xywh, time_ns

REPO = Path(__file__).resolve().parents[1]
TARGET_ID = "demo"


@dataclass
class Summary:
    """What a user wants to know after a run."""

    weights: str
    frames_seen: int  # camera frames the demo itself received (ground-truth messages)
    frames_processed: int
    frames_dropped: int
    fps: float
    latency_median_ms: float
    latency_p95_ms: float
    mean_iou: float
    time_lost_percent: float
    device: str


def choose_weights(requested: str | None) -> tuple[str, str]:
    """(value for the node's weights parameter, what it is): the given file, the published weights in their
    documented place, or the colour-key stand-in network."""
    from jcat_core.models.checkpoint import default_weights_path

    published = default_weights_path()
    standin = ("standin", f"the colour-key stand-in network: no learned weights, it shows the node and tracker "
                          f"machinery, not JCAT's accuracy (the published weights go to {published})")
    if requested == "standin":
        return standin
    if requested:
        return requested, f"{requested} (given on the command line)"
    if published.is_file():
        return str(published), f"{published}: the authors' published JCAT weights"
    return standin


def summarise(weights: str, truth: list, states: list, device: str) -> Summary:
    """Accuracy against the ground truth by header stamp, and the node's own timing figures."""
    tracked = [m for m in states if m.target_id == TARGET_ID]
    boxes = {time_ns(m.header.stamp): box_xywh(m.detections[0].bbox) for m in truth if m.detections}
    found = (TrackerState.TRACKING, TrackerState.UNCERTAIN)  # LOST counts as 0 overlap
    overlaps = [box_iou(box_xywh(m.bbox), boxes[time_ns(m.header.stamp)]) if m.state in found else 0.0
                for m in tracked if time_ns(m.header.stamp) in boxes]
    latencies = sorted(m.latency_ms for m in tracked)
    span = (time_ns(tracked[-1].header.stamp) - time_ns(tracked[0].header.stamp)) / 1e9 if len(tracked) > 1 else 0.0
    return Summary(
        weights=weights,
        frames_seen=len(truth),
        frames_processed=len(tracked),
        frames_dropped=tracked[-1].frames_dropped if tracked else 0,
        fps=(len(tracked) - 1) / span if span > 0 else 0.0,  # processed frames per second of camera time
        latency_median_ms=statistics.median(latencies) if latencies else 0.0,
        latency_p95_ms=latencies[int(0.95 * (len(latencies) - 1))] if latencies else 0.0,
        mean_iou=statistics.fmean(overlaps) if overlaps else 0.0,
        time_lost_percent=100.0 * sum(m.state == TrackerState.LOST for m in tracked) / max(1, len(tracked)),
        device=device,
    )


def print_summary(summary: Summary) -> None:
    rows = [
        ("camera frames seen / tracked / dropped",
         f"{summary.frames_seen} / {summary.frames_processed} / {summary.frames_dropped}"),
        ("tracker rate", f"{summary.fps:.1f} fps on {summary.device}"),
        ("latency stamp -> output, median / p95", f"{summary.latency_median_ms:.0f} / {summary.latency_p95_ms:.0f} ms"),
        ("mean IoU with the ground truth", f"{summary.mean_iou:.3f}"),
        ("time lost", f"{summary.time_lost_percent:.1f} %"),
    ]
    width = max(len(name) for name, _ in rows)
    print("\n".join(f"  {name:<{width}}  {value}" for name, value in rows))


def tracker_status(diagnostics: list) -> DiagnosticStatus | None:
    """The tracker node's newest diagnostic status, None before the first."""
    return next((d.status[0] for d in reversed(list(diagnostics)) if d.status[0].name.startswith("jcat_tracker")),
                None)


class Processes:
    """Child processes, each in its own process group, all stopped (Ctrl-C first) on exit."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env, self.log_dir, self.children = env, log_dir, []

    def start(self, name: str, command: list[str]) -> subprocess.Popen:
        log = (self.log_dir / f"{name}.log").open("w")
        child = subprocess.Popen(command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        self.children.append(child)
        return child

    def stop(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)  # Ctrl-C to the leader only: ros2 launch forwards it once
        for child in self.children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()


def interrupt_on_sigint_and_sigterm() -> None:
    """Ctrl-C and SIGTERM both raise KeyboardInterrupt, so the child processes are stopped either way; also when
    started in the background, where the shell ignores SIGINT (the children would inherit that)."""

    def raise_interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, raise_interrupt)


def run(args: argparse.Namespace) -> int:
    interrupt_on_sigint_and_sigterm()
    weights, description = choose_weights(args.weights)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("ROS_DOMAIN_ID", str(random.randint(1, 100)))  # a domain of its own unless one is set
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    print(f"[demo] weights: {description}")
    print(f"[demo] ROS_DOMAIN_ID={env['ROS_DOMAIN_ID']}; logs in {out_dir}")
    processes = Processes(env, out_dir)
    probe = Probe("jcat_demo", int(env["ROS_DOMAIN_ID"]))
    try:
        truth = probe.record(Detection2DArray, "/jcat_camera/ground_truth")
        states = probe.record(TrackerState, "/jcat_tracker/state")
        diagnostics = probe.record(DiagnosticArray, "/diagnostics")
        if shutil.which("ros2"):
            print("[demo] starting the tracker: ros2 launch jcat_ros tracker.launch.py image:=/camera/image_raw")
            processes.start("tracker", ["ros2", "launch", "jcat_ros", "tracker.launch.py",
                                        "image:=/camera/image_raw", f"weights:={weights}", f"device:={args.device}"])
        else:
            print("[demo] starting the tracker: tracker_node (ros2 launch is not installed here)")
            processes.start("tracker", [sys.executable, "-m", "jcat_ros.tracker_node", "--ros-args", "--params-file",
                                        str(REPO / "config" / "tracker.yaml"), "-r", "image:=/camera/image_raw",
                                        "-p", f"weights:={weights}", "-p", f"device:={args.device}"])
        probe.wait_for(lambda: tracker_status(diagnostics), args.timeout, "the tracker node's diagnostics")
        if tracker_status(diagnostics).level == DiagnosticStatus.ERROR:
            print(f"[demo] the tracker node reports an error: {tracker_status(diagnostics).message}", file=sys.stderr)
            return 1
        print(f"[demo] starting the camera: synthetic:{args.sequence}, {args.width}x{args.height}, "
              f"{args.frames} frames at {args.rate:g} Hz")
        processes.start("camera", [sys.executable, "-m", "jcat_ros.camera_node", "--ros-args",
                                   "-r", "image:=/camera/image_raw", "-p", f"source:=synthetic:{args.sequence}",
                                   "-p", f"width:={args.width}", "-p", f"height:={args.height}",
                                   "-p", f"num_frames:={args.frames}", "-p", f"rate:={args.rate}"])
        probe.wait_for(lambda: len(states) >= 3 and truth and truth[-1].detections, args.timeout,
                       "the tracker to receive camera frames")
        drawn_on = truth[-1]  # the user draws the box on the frame on screen: the newest one
        x, y, w, h = box_xywh(drawn_on.detections[0].bbox)
        stamp = f"{drawn_on.header.stamp.sec}.{drawn_on.header.stamp.nanosec:09d}"
        print(f"[demo] $ ros2 run jcat_ros init_client --box {x:.0f},{y:.0f},{w:.0f},{h:.0f} --stamp {stamp} "
              f"--target-id {TARGET_ID}")
        init = subprocess.run([sys.executable, "-m", "jcat_ros.init_client", "--box", f"{x},{y},{w},{h}",
                               "--stamp", stamp, "--target-id", TARGET_ID], env=env, capture_output=True, text=True,
                              timeout=args.timeout)
        print(f"[demo]   {(init.stdout + init.stderr).strip()}")
        if init.returncode != 0:
            return 1
        end = time.monotonic() + args.frames / args.rate + 2.0
        while time.monotonic() < end:
            time.sleep(1.0)
            tracked = [m for m in list(states) if m.target_id == TARGET_ID]
            if tracked:
                last = tracked[-1]
                print(f"[demo] {len(tracked):4d} frames tracked  state {STATE_NAMES[last.state]:<9} "
                      f"score {last.score:.2f}  latency {last.latency_ms:5.0f} ms  dropped {last.frames_dropped}")
        device = tracker_status(diagnostics).hardware_id
        summary = summarise(weights, list(truth), list(states), device)
        (out_dir / "summary.json").write_text(json.dumps(asdict(summary), indent=2) + "\n")
        print("[demo] summary")
        print_summary(summary)
        print(f"[demo] report: {out_dir / 'summary.json'}")
        return 0
    except ProbeTimeoutError as err:
        print(f"[demo] failed: {err}; see the logs in {out_dir}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("[demo] interrupted", file=sys.stderr)
        return 130
    finally:
        processes.stop()
        probe.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequence", default="clean", help="synthetic sequence (jcat_core.data.synthetic suite)")
    parser.add_argument("--frames", type=int, default=240)
    parser.add_argument("--rate", type=float, default=8.0, help="camera frames per second")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--weights", help="weights file (default: published weights if present, else stand-in)")
    parser.add_argument("--device", default="auto", help="auto | cuda | cpu")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for each process")
    parser.add_argument("--out", default=str(REPO / "runs" / "demo"), help="folder for the report and the logs")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
