"""`jcat-bag`: make rosbag2 recordings, evaluate them in-process, replay them into the tracker node, compare runs.

    jcat-bag make synthetic:occlusion bags/occlusion --frames 120 --rate 10          # or a video, image folder, GOT-10k
    jcat-bag eval bags/occlusion --out runs/bag/occlusion-eval                        # no ROS processes
    jcat-bag replay bags/occlusion --start-node --out runs/bag/occlusion-replay        # node in the loop
    jcat-bag compare runs/bag/a runs/bag/b                                            # or: jcat-bag --compare a b

Exit status: 0 done, 1 the input or the run failed (message on stderr), 2 bad arguments, 130 interrupted (what was
done before is reported).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path

from jcat_ros.bag.writer import STORAGES, BagError, MakeOptions, make_bag

RUNS = Path("runs") / "bag"


def parse_box(text: str) -> tuple[float, float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"a box is four numbers x,y,w,h (pixels, top-left corner); got {text!r}")
    return values  # type: ignore[return-value]


def out_folder(args: argparse.Namespace, kind: str) -> Path:
    """The report folder: --out, else runs/bag/<bag>-<kind>; an existing report is kept unless --force."""
    out = Path(args.out) if args.out else RUNS / f"{Path(args.bag).name}-{kind}"
    if (out / "report.json").exists() and not args.force:
        raise BagError(f"{out} already holds a report; pass --force to overwrite it, or choose another --out")
    return out


def cmd_make(args: argparse.Namespace) -> int:
    options = MakeOptions(source=args.source, out=Path(args.out), storage=args.storage, rate=args.rate,
                          frames=args.frames, width=args.width, height=args.height, seed=args.seed,
                          camera=args.camera.rstrip("/"), compressed=args.compressed or "", encoding=args.encoding,
                          box=args.box, force=args.force)
    result = make_bag(options)
    print(f"wrote {result.path}: {result.frames} frames at {result.rate:g} Hz ({result.rate_from}), {args.storage}, "
          f"{'with' if result.ground_truth else 'without'} ground truth")
    for topic, kind in result.topics.items():
        print(f"  {topic}  {kind}")
    return 0


def _print_report(paths: dict, report_rows: list) -> None:
    from jcat_ros.bag.report import format_rows

    print(format_rows(report_rows))
    for name, path in paths.items():
        print(f"  {name:<13} {path}")


def cmd_eval(args: argparse.Namespace) -> int:
    import json

    from jcat_core.models.weights_choice import choose_weights
    from jcat_core.tracker import build_tracker
    from jcat_ros.bag.evaluate import EvalOptions, evaluate_bag
    from jcat_ros.bag.report import OverlayVideo, summary_rows, write_report

    out = out_folder(args, "eval")
    weights, description = choose_weights(args.weights)
    print(f"[eval] weights: {description}")
    out.mkdir(parents=True, exist_ok=True)
    video = None if args.no_video else OverlayVideo(out / "overlay.mp4", args.video_fps)
    result = evaluate_bag(EvalOptions(Path(args.bag), args.image_topic, args.box,
                                      args.init_frame, args.max_frames, args.init_mask),
                          lambda: build_tracker(weights=weights, device=args.device), description,
                          None if video is None else video.add)
    paths = write_report(result, out)
    if video is not None and video.close():
        paths["video"], paths["frame_strip"] = video.path, video.frame_strip(out / "frame_strip.png")
    for problem in result.problems:
        print(f"[eval] note: {problem}")
    _print_report(paths, summary_rows(json.loads(paths["json"].read_text())))
    return 130 if any(p.startswith("interrupted") for p in result.problems) else 0


def cmd_replay(args: argparse.Namespace) -> int:
    import json

    from jcat_core.models.weights_choice import choose_weights
    from jcat_ros.bag.processes import Processes, tracker_command
    from jcat_ros.bag.replay import Replay, ReplayOptions
    from jcat_ros.bag.report import OverlayVideo, summary_rows, write_report

    out = out_folder(args, "replay")
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(1, 100)) if args.start_node else "0")
    options = ReplayOptions(bag=Path(args.bag), out=out / "result_bag", node=args.node, topic=args.topic,
                            image_topic=args.image_topic, speed=args.speed, clock=args.clock, box=args.box,
                            init_frame=args.init_frame, init_client=args.init_client, max_frames=args.max_frames,
                            timeout=args.timeout, storage=args.storage, force=args.force)
    processes = Processes(dict(os.environ), out)
    description = "the running node's (attached; see its log for which weights)"
    replay = Replay(options, description, progress=lambda text: print(f"[replay] {text}", flush=True))
    try:
        if args.start_node:
            weights, description = choose_weights(args.weights)
            replay.weights = description
            compressed = replay.compressed
            base = replay.topic.removesuffix("/compressed") if compressed else replay.topic
            command, shown = tracker_command(base, weights, args.device, "compressed" if compressed else "raw",
                                             args.clock)
            print(f"[replay] weights: {description}")
            print(f"[replay] starting the tracker: {shown} (log: {out / 'tracker.log'})")
            replay.node_pids = [processes.start("tracker", command).pid]
        result = replay.run()
        video = None if args.no_video else OverlayVideo(out / "overlay.mp4", args.video_fps)
        paths = write_report(result, out)
        if video is not None:
            replay.write_video(result, video)
            if video.close():
                paths["video"], paths["frame_strip"] = video.path, video.frame_strip(out / "frame_strip.png")
        paths["result_bag"] = options.out
    finally:
        processes.stop()
        replay.close()
    for problem in result.problems:
        print(f"[replay] note: {problem}")
    _print_report(paths, summary_rows(json.loads(paths["json"].read_text())))
    return 130 if replay.interrupted else 0


def cmd_compare(args: argparse.Namespace) -> int:
    from jcat_ros.bag.report import compare

    print(compare([Path(p) for p in args.runs], Path(args.out) if args.out else None))
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="jcat-bag", description=__doc__.splitlines()[0],
                                  formatter_class=argparse.RawDescriptionHelpFormatter,
                                  epilog="\n".join(__doc__.splitlines()[2:]))
    top.add_argument("--compare", nargs="+", metavar="RUN", help="same as `jcat-bag compare RUN RUN ...`")
    sub = top.add_subparsers(dest="command")

    make = sub.add_parser("make", help="a sequence, video or image folder -> rosbag2")
    make.add_argument("source", help="synthetic:<name>, a GOT-10k sequence folder, an image folder or a video file")
    make.add_argument("out", help="bag folder to write")
    make.add_argument("--storage", choices=list(STORAGES), default="mcap")
    make.add_argument("--rate", type=float, help="frames per second of the stamps (default: a video's own rate, "
                                                 "else 10)")
    make.add_argument("--frames", type=int, default=0, help="the most frames taken (default 0: all); a synthetic "
                                                            "sequence's length (default 120)")
    make.add_argument("--width", type=int, default=640, help="synthetic width")
    make.add_argument("--height", type=int, default=480, help="synthetic height")
    make.add_argument("--seed", type=int, default=0)
    make.add_argument("--camera", default="/camera", help="namespace of image_raw, camera_info, ground_truth/*")
    make.add_argument("--compressed", choices=["jpeg", "png"], help="CompressedImage on image_raw/compressed")
    make.add_argument("--encoding", choices=["rgb8", "bgr8"], default="rgb8")
    make.add_argument("--box", type=parse_box, help="x,y,w,h of the target on the first frame, stored as the init "
                                                    "request (for sources without ground truth)")
    make.add_argument("--force", action="store_true", help="overwrite an existing bag")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("bag", help="bag folder (metadata.yaml) or .mcap file")
        p.add_argument("--out", help="report folder (default runs/bag/<bag>-<command>)")
        p.add_argument("--image-topic", help="camera topic, when the bag has several")
        p.add_argument("--weights", help="weights file or 'standin' (default: the best available, printed)")
        p.add_argument("--device", default="auto", help="auto | cuda | cpu")
        p.add_argument("--box", type=parse_box, help="x,y,w,h to start from instead of the bag's init request or "
                                                     "first ground truth")
        p.add_argument("--init-frame", type=int, default=0, help="frame --box is drawn on")
        p.add_argument("--max-frames", type=int, default=0, help="stop after this many frames (0 = all)")
        p.add_argument("--no-video", action="store_true", help="skip overlay.mp4")
        p.add_argument("--video-fps", type=float, default=10.0)
        p.add_argument("--force", action="store_true", help="overwrite an existing report")

    common(evaluate := sub.add_parser("eval", help="the tracker in-process over a bag, against its ground truth"))
    common(replay := sub.add_parser("replay", help="node in the loop: publish the bag, record the node's outputs"))
    evaluate.add_argument("--init-mask", action="store_true", help="start from the init frame's ground-truth mask "
                                                                   "(a mask benchmark's start) instead of its box")
    replay.add_argument("--node", default="/jcat_tracker", help="the tracker node's full name")
    replay.add_argument("--start-node", action="store_true", help="start the node (ros2 launch) for this replay "
                                                                  "instead of attaching to a running one")
    replay.add_argument("--topic", help="publish the frames here (default: the bag's image topic)")
    replay.add_argument("--speed", type=float, default=1.0, help="x N the recorded timing")
    replay.add_argument("--clock", action="store_true", help="keep the stamps and publish /clock (use_sim_time)")
    replay.add_argument("--init-client", action="store_true", help="initialise with `ros2 run jcat_ros init_client`"
                                                                   " in its own process, as from another terminal")
    replay.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the node")
    replay.add_argument("--storage", choices=list(STORAGES), default="mcap", help="of the result bag")
    evaluate.set_defaults(run=cmd_eval)
    replay.set_defaults(run=cmd_replay)
    make.set_defaults(run=cmd_make)
    comparison = sub.add_parser("compare", help="runs side by side (their --out folders)")
    comparison.add_argument("runs", nargs="+")
    comparison.add_argument("--out", help="folder for compare.json and compare_success.png")
    comparison.set_defaults(run=cmd_compare)
    return top


def main(argv: list[str] | None = None) -> int:
    cli = parser()
    args = cli.parse_args(argv)
    if args.compare:
        args = argparse.Namespace(runs=args.compare, out=None, run=cmd_compare)
    elif not args.command:
        cli.print_help()
        return 2
    try:
        return args.run(args)
    except (BagError, FileNotFoundError, TimeoutError) as err:  # TimeoutError: the node did not answer
        print(f"jcat-bag {getattr(args, 'command', 'compare')}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("jcat-bag: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
