"""The product end to end on a recorded camera stream: a demo bag is made (a synthetic sequence with exact ground
truth, or your video), the tracker node is started as a user starts it (`ros2 launch` where available), the bag
is replayed into it, the target is initialised with `init_client` as from another terminal, every output is
recorded, and a summary and a report (JSON, plots, MP4) are written.

    python -m jcat_ros.demo [--sequence clean] [--frames 120] [--rate 10] [--weights PATH]
    python -m jcat_ros.demo --video FILE --box x,y,w,h          # your footage (no ground truth: system figures)
    python -m jcat_ros.demo --bag DIR [--box x,y,w,h]           # a rosbag2 recorded elsewhere
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import sys
import time
from pathlib import Path

from jcat_core.models.weights_choice import choose_weights
from jcat_ros.bag.cli import parse_box
from jcat_ros.bag.processes import REPO, Processes, tracker_command
from jcat_ros.bag.reader import Bag
from jcat_ros.bag.report import OverlayVideo, format_rows, summary_rows, write_report
from jcat_ros.bag.writer import BagError, MakeOptions, make_bag

TARGET_ID = "demo"


def say(text: str) -> None:
    print(f"[demo] {text}", flush=True)


def interrupt_on_sigint_and_sigterm() -> None:
    """Ctrl-C and SIGTERM both raise KeyboardInterrupt, so the child processes are stopped either way; also when
    started in the background, where the shell ignores SIGINT (the children would inherit that)."""

    def raise_interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, raise_interrupt)


def demo_bag(args: argparse.Namespace, bags: Path) -> Path:
    """The bag to replay: --bag as given, else one made from the video or the synthetic sequence, made once and
    reused by later runs with the same settings (a bag is complete once its metadata.yaml is written)."""
    if args.bag:
        return Path(args.bag)
    if args.video:
        video = Path(args.video).expanduser()
        if not video.is_file():
            raise BagError(f"--video {video}: no such file")
        if args.box is None:
            raise BagError("--video needs --box x,y,w,h: where the target is on the first frame")
        stat = video.stat()
        key = f"{video.resolve()}:{stat.st_size}:{stat.st_mtime_ns}:{args.box}:{args.rate}:{args.frames}"
        name = f"video-{video.stem}-{hashlib.sha1(key.encode()).hexdigest()[:8]}"
        source = str(video)
    else:
        name = f"synthetic-{args.sequence}-{args.frames}f-{args.width}x{args.height}-{args.rate or 10:g}hz"
        source = f"synthetic:{args.sequence}"
    path = bags / name
    if (path / "metadata.yaml").is_file():
        say(f"demo bag: {path} (made by an earlier run)")
        return path
    rate = f"{args.rate:g} Hz" if args.rate else "its own rate" if args.video else "10 Hz"
    say(f"making the demo bag from {source}: {args.frames} frames at {rate} -> {path}")
    partial = path.with_name(path.name + ".partial")  # renamed when complete: an interrupted one is made again
    result = make_bag(MakeOptions(source=source, out=partial, rate=args.rate, frames=args.frames, width=args.width,
                                  height=args.height, box=args.box if args.video else None, force=True))
    partial.rename(path)
    say(f"  {result.frames} frames at {result.rate:g} Hz, {'with' if result.ground_truth else 'without'} ground truth")
    return path


def run(args: argparse.Namespace) -> int:
    interrupt_on_sigint_and_sigterm()
    started = time.monotonic()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    weights, description = choose_weights(args.weights)
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(1, 100)))  # a domain of its own unless one is set
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    say(f"weights: {description}")
    say(f"ROS_DOMAIN_ID={os.environ['ROS_DOMAIN_ID']}; report and logs in {out}")
    processes = Processes(dict(os.environ), out)
    replay = None
    try:
        bag_path = demo_bag(args, out / "bags")
        bag = Bag(bag_path)  # fails early, with the bag's topics, when it has no usable camera topic
        compressed, topic = bag.image_type.endswith("CompressedImage"), bag.image_topic
        bag.close()
        from jcat_ros.bag.replay import Replay, ReplayOptions  # rclpy: only once the bag is there

        base = topic.removesuffix("/compressed") if compressed else topic
        command, shown = tracker_command(base, weights, args.device, "compressed" if compressed else "raw")
        say(f"starting the tracker: {shown}")
        node = processes.start("tracker", command)
        replay = Replay(ReplayOptions(bag=bag_path, out=out / "result_bag", box=args.box if args.bag else None,
                                      target_id=TARGET_ID, init_client=True, speed=args.speed,
                                      timeout=args.timeout, force=True),
                        description, [node.pid], progress=say)
        result = replay.run()
        if replay.interrupted:
            raise KeyboardInterrupt
        say("writing the report (plots, overlay video)")
        paths = write_report(result, out)
        # at the camera's rate
        video = OverlayVideo(out / "overlay.mp4", result.system.get("input_fps") or args.rate or 10.0)
        replay.write_video(result, video)
        paths["video"] = video.close()
        paths["frame_strip"] = video.frame_strip(out / "frame_strip.png")
        paths["result_bag"] = out / "result_bag"
        report = json.loads(paths["json"].read_text())
        say(f"summary ({time.monotonic() - started:.0f} s)")
        print(format_rows(summary_rows(report)))
        for problem in report["problems"]:
            say(f"note: {problem}")
        say("report:")
        print("\n".join(f"  {name:<13} {path}" for name, path in paths.items() if path is not None))
        return 0
    except (BagError, TimeoutError) as err:
        print(f"[demo] failed: {err}; see the logs in {out}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("[demo] interrupted", file=sys.stderr, flush=True)
        return 130
    finally:
        processes.stop()
        if replay is not None:
            replay.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[5:]))
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--video", help="make the demo bag from this video (needs --box)")
    source.add_argument("--bag", help="replay this rosbag2 instead of a demo bag")
    parser.add_argument("--box", type=parse_box, help="x,y,w,h of the target on the first frame (pixels)")
    parser.add_argument("--sequence", default="clean", help="synthetic sequence (jcat_core.data.synthetic suite)")
    parser.add_argument("--frames", type=int, default=120, help="frames in the demo bag")
    parser.add_argument("--rate", type=float, default=None,
                        help="camera frames per second in the demo bag (default: a video's own rate, else 10)")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--speed", type=float, default=1.0, help="replay at N times the recorded rate")
    parser.add_argument("--weights", help="weights file or 'standin' (default: the best available, printed)")
    parser.add_argument("--device", default="auto", help="auto | cuda | cpu")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the node")
    parser.add_argument("--out", default=str(REPO / "runs" / "demo"), help="folder for the report and the logs")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
