"""One camera frame from one rclpy process to another: glibc's malloc defaults against freed buffers kept, and the
subscription taken by the node's executor against a thread of its own. Method: docs/ROS_LATENCY.md.

    python benchmarks/image_hop.py                      # 640x480, 300 frames at 20 Hz per way
    python benchmarks/image_hop.py --width 1280 --height 720
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WAYS = (("malloc defaults, executor", False, "executor"), ("buffers kept, executor", True, "executor"),
        ("buffers kept, own thread", True, "thread"))  # (label, keep freed buffers, who takes the frames)


def subscriber(frames: int, timeout: float, taker: str) -> None:
    """Print one JSON line: the latencies in ms of the frames received, once `frames` came, none came for 3 s
    after the first, or `timeout` seconds passed. `taker`: "executor" or "thread" (a SubscriptionThread)."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    from jcat_ros.image_conversion import to_rgb8
    from jcat_ros.message_fields import time_ns
    from jcat_ros.subscription_thread import SubscriptionThread

    rclpy.init()
    node = rclpy.create_node("image_hop_subscriber")
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    latencies: list[float] = []

    def on_frame(msg, info=None) -> None:
        image = to_rgb8(msg)
        now = time.time_ns()
        assert image.shape == (msg.height, msg.width, 3)
        latencies.append((now - time_ns(msg.header.stamp)) / 1e6)

    qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
    own_thread = (SubscriptionThread(node, Image, "image", on_frame, qos, name="image_hop_input", on_error=print)
                  if taker == "thread" else None)
    if own_thread is None:
        node.create_subscription(Image, "image", on_frame, qos)
    print("ready", flush=True)
    end, last_count, quiet_since = time.monotonic() + timeout, 0, time.monotonic()
    while len(latencies) < frames and time.monotonic() < end:
        executor.spin_once(timeout_sec=0.1)
        if len(latencies) != last_count:
            last_count, quiet_since = len(latencies), time.monotonic()
        elif latencies and time.monotonic() - quiet_since > 3.0:
            break
    if own_thread is not None:
        own_thread.close()
    print(json.dumps(latencies), flush=True)


def publisher(width: int, height: int, frames: int, rate: float) -> None:
    """Publish `frames` frames at `rate` Hz once the subscriber is matched; print the median publish() time."""
    import array

    import numpy as np
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    rclpy.init()
    node = rclpy.create_node("image_hop_publisher")
    pub = node.create_publisher(Image, "image", QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE))
    pixels = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    msg = Image(height=height, width=width, encoding="rgb8", step=width * 3)
    msg.data = array.array("B", pixels.tobytes())
    msg.header.frame_id = "camera"
    deadline = time.monotonic() + 30
    while pub.get_subscription_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # discovery finished both ways
    publish_s = []
    for _ in range(frames):
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(time.time_ns(), 1_000_000_000)
        started = time.perf_counter()
        pub.publish(msg)
        publish_s.append(time.perf_counter() - started)
        time.sleep(1.0 / rate)
    print(json.dumps(1000 * statistics.median(publish_s)), flush=True)


def run_way(keep_buffers: bool, taker: str, opts: argparse.Namespace) -> tuple[list[float], float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.update(ROS_DOMAIN_ID=str(random.randint(101, 200)), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
               JCAT_HOP_KEEP_BUFFERS="1" if keep_buffers else "0")
    timeout = opts.frames / opts.rate + 60
    me = [sys.executable, __file__]
    sub = subprocess.Popen([*me, "--role", "subscriber", "--taker", taker, "--frames", str(opts.frames),
                            "--timeout", str(timeout)], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert sub.stdout is not None and sub.stdout.readline().strip() == "ready"
        pub = subprocess.run([*me, "--role", "publisher", "--frames", str(opts.frames), "--rate", str(opts.rate),
                              "--width", str(opts.width), "--height", str(opts.height)], cwd=REPO, env=env,
                             stdout=subprocess.PIPE, text=True, timeout=timeout, check=True)
        latencies = json.loads(sub.stdout.readline() or "[]")
    finally:
        sub.kill()
        sub.wait()
    return latencies, json.loads(pub.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--rate", type=float, default=20.0, help="Hz")
    parser.add_argument("--warmup", type=int, default=20, help="first received frames left out")
    parser.add_argument("--role", choices=("main", "publisher", "subscriber"), default="main", help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=float, default=60.0, help=argparse.SUPPRESS)
    parser.add_argument("--taker", choices=("executor", "thread"), default="executor", help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    if opts.role != "main":
        if os.environ.get("JCAT_HOP_KEEP_BUFFERS") == "1":
            from jcat_ros.malloc_tuning import keep_freed_frame_buffers

            keep_freed_frame_buffers()
        if opts.role == "publisher":
            publisher(opts.width, opts.height, opts.frames, opts.rate)
        else:
            subscriber(opts.frames, opts.timeout, opts.taker)
        return 0
    print(f"one {opts.width}x{opts.height} rgb8 frame, publish() -> RGB array in another process; {opts.frames} "
          f"frames at {opts.rate:g} Hz per way; Fast DDS profile: "
          f"{Path(os.environ.get('FASTDDS_DEFAULT_PROFILES_FILE', 'rmw defaults')).name}; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'way':26s} {'received':>9s} {'median ms':>10s} {'p95 ms':>8s} {'publish() ms':>13s} {'vs first':>9s}")
    baseline = None
    for label, keep, taker in WAYS:
        latencies, publish_ms = run_way(keep, taker, opts)
        kept = sorted(latencies[opts.warmup:])
        if not kept:
            print(f"{label:26s} {len(latencies):9d} {'-':>10s}")
            continue
        median, p95 = statistics.median(kept), kept[int(0.95 * (len(kept) - 1))]
        baseline = baseline or median
        print(f"{label:26s} {len(latencies):9d} {median:10.2f} {p95:8.2f} {publish_ms:13.2f} "
              f"{median / baseline:8.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
