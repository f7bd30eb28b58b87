"""What the ROS node adds to the JCAT tracker: the same frames through `track()` in-process and through the node
(a camera publisher, the node and a recorder, three processes), what a frame spends outside the tracker in each,
frame by frame. Method and figures: docs/ROS_LATENCY.md.

    python benchmarks/ros_latency.py                                  # 640x480, CPU, stand-in, both QoS
    python benchmarks/ros_latency.py --reliability best_effort --shm-segment-mb 16   # Fast DDS with a larger SHM
    python benchmarks/ros_latency.py --device cuda --weights ~/.cache/jcat/JcatNet.pth.tar             # GPU machine

--shm-segment-mb N writes a Fast DDS XML profile (shared-memory segment of N MiB + UDPv4) and points
FASTDDS_DEFAULT_PROFILES_FILE of both processes at it; 0 keeps the rmw's defaults (512 KiB segment).
The first --warmup tracked frames are left out of the latency statistics (both paths), not out of the drop count.
--precision sets the autocast precision of both paths (the node's `precision` parameter; fp16 is CUDA only), and
--json FILE also writes the headline figures for scripts (scripts/gpu_check.sh).
"""

from __future__ import annotations

import argparse
import array
import functools
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import astuple, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from jcat_ros.message_fields import time_ns

REPO = Path(__file__).resolve().parents[1]
NODE = "/jcat_tracker"
GOAL_MS = 3.0
RECORDER_ROLE = ["--role", "recorder"]  # the arguments that make this script the ~/state subscriber process
TRACKING = 1  # TrackerState.TRACKING
FASTDDS_PROFILE = """<?xml version="1.0" encoding="UTF-8" ?>
<dds xmlns="http://www.eprosima.com"><profiles>
  <transport_descriptors>
    <transport_descriptor><transport_id>shm</transport_id><type>SHM</type><segment_size>{size}</segment_size>
    </transport_descriptor>
    <transport_descriptor><transport_id>udp</transport_id><type>UDPv4</type></transport_descriptor>
  </transport_descriptors>
  <participant profile_name="jcat_bench" is_default_profile="true"><rtps>
    <userTransports><transport_id>shm</transport_id><transport_id>udp</transport_id></userTransports>
    <useBuiltinTransports>false</useBuiltinTransports>
  </rtps></participant>
</profiles></dds>
"""


# ---- options and machine facts ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Options:
    frames: int
    rate: float | None  # Hz; None = 0.8 x the in-process drop-free rate
    width: int
    height: int
    device: str
    threads: int  # torch CPU threads of both paths, 0 = torch's default
    weights: str
    reliabilities: tuple[str, ...]
    shm_segment_mb: int
    warmup: int
    idle_frames: int  # frames sent before ~/init: the ROS path alone
    idle_warmup: int  # of those, the first ones left out: the node's frame history fills meanwhile
    startup_timeout: float
    keep_log: bool
    precision: str = "fp32"  # autocast precision of both paths (the node's `precision` parameter)
    json_path: Path | None = None  # where --json writes the headline figures


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=300, help="frames in the sequence (frame 0 is the init frame)")
    parser.add_argument("--rate", type=float, default=None,
                        help="publish rate in Hz (default 0.8 x the in-process drop-free rate)")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads of both paths (in-process here, the node's cpu_threads); 0 = torch's "
                             "default. With 2 threads on a 2-core machine that another process loads, the in-process "
                             "track() took 605 ms median against 26 ms with 1")
    parser.add_argument("--weights", default="standin", help="'standin' or a JcatNet weight file")
    parser.add_argument("--reliability", choices=("best_effort", "reliable", "both"), default="both",
                        help="the node's image subscription QoS (its default is best_effort)")
    parser.add_argument("--shm-segment-mb", type=int, default=0, help="Fast DDS shared-memory segment (0 = default)")
    parser.add_argument("--warmup", type=int, default=5, help="tracked frames left out of the latency statistics")
    parser.add_argument("--idle-frames", type=int, default=80, help="frames sent before ~/init (ROS path alone)")
    parser.add_argument("--idle-warmup", type=int, default=35,
                        help="idle frames left out of the ROS-path-alone statistics: while the node's frame history "
                             "(history_size, 30 by default) fills, every frame lands in fresh heap pages")
    parser.add_argument("--startup-timeout", type=float, default=90.0, help="seconds to wait for the node")
    parser.add_argument("--keep-log", action="store_true", help="keep the node's log files")
    parser.add_argument("--precision", choices=("fp32", "fp16", "bf16"), default="fp32",
                        help="autocast precision of both paths (fp16: CUDA only; bf16 is very slow on most CPUs)")
    parser.add_argument("--json", type=Path, default=None, help="also write the headline figures to this JSON file")
    args = parser.parse_args(argv)
    if args.frames < args.warmup + 10:
        parser.error(f"--frames must be at least --warmup + 10 ({args.warmup + 10})")
    if args.threads < 0:
        parser.error("--threads must be >= 0")
    if args.rate is not None and args.rate <= 0:
        parser.error("--rate must be > 0")
    if args.precision == "fp16" and args.device != "cuda":
        parser.error("--precision fp16 needs --device cuda")
    if args.shm_segment_mb < 0:
        parser.error("--shm-segment-mb must be >= 0")
    if not 0 <= args.idle_frames < args.frames:
        parser.error("--idle-frames must be in [0, --frames)")
    if args.idle_frames and not 0 <= args.idle_warmup < args.idle_frames:
        parser.error("--idle-warmup must be in [0, --idle-frames)")
    if args.weights != "standin":
        args.weights = str(Path(args.weights).expanduser().resolve())
        if not Path(args.weights).is_file():
            parser.error(f"--weights: no such file {args.weights}")
    reliabilities = ("best_effort", "reliable") if args.reliability == "both" else (args.reliability,)
    return Options(args.frames, args.rate, args.width, args.height, args.device, args.threads, args.weights,
                   reliabilities, args.shm_segment_mb, args.warmup, args.idle_frames, args.idle_warmup,
                   args.startup_timeout, args.keep_log, args.precision, args.json)


def check_device(device: str) -> None:
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        sys.exit(f"--device cuda: no CUDA device is available to this torch ({torch.__version__}); "
                 "run on the GPU machine or use --device cpu")


def machine_facts(opts: Options, malloc_setting: str) -> dict[str, str]:
    from importlib.metadata import version

    import torch

    from jcat_ros.image_conversion import BACKEND

    cpu = platform.processor() or "?"
    with suppress(OSError, StopIteration):
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    rmw = os.environ.get("RMW_IMPLEMENTATION", "default")
    inherited = os.environ.get("FASTDDS_DEFAULT_PROFILES_FILE")
    shm = (f"{opts.shm_segment_mb} MiB SHM segment (XML profile)" if opts.shm_segment_mb
           else f"profile {Path(inherited).name}" if inherited else "rmw default transports")
    return {
        "cpu": f"{cpu}, {usable} usable cores (of {os.cpu_count()})",
        "load average at start": " ".join(f"{v:.2f}" for v in os.getloadavg()),
        "python / torch": f"{platform.python_version()} / {torch.__version__} ({torch.get_num_threads()} threads)",
        "rclpy / rmw": f"{version('rclpy')} / {rmw}, {shm}",
        "image conversion backend": BACKEND,
        "malloc (this process and the node)": malloc_setting,
        "device": f"cuda ({torch.cuda.get_device_name(0)})" if opts.device == "cuda" else opts.device,
        "precision (both paths)": opts.precision,
    }


# ---- frames and statistics ------------------------------------------------------------------------------------------
@dataclass
class Frames:
    images: list[np.ndarray]
    box0: tuple[float, float, float, float]  # ground truth (x, y, w, h) on frame 0


def load_frames(height: int, width: int, frames: int) -> Frames:
    from jcat_core.data.synthetic import SyntheticSequence, synthetic_suite

    sequence = SyntheticSequence(synthetic_suite(height, width, frames)["clean"])
    return Frames([frame.image for frame in sequence], tuple(float(v) for v in sequence[0].box))


@dataclass(frozen=True)
class Summary:
    count: int
    median: float
    p95: float
    max: float

    @classmethod
    def of(cls, values: list[float]) -> Summary:
        if not values:
            return cls(0, float("nan"), float("nan"), float("nan"))
        return cls(len(values), statistics.median(values), float(np.percentile(values, 95)), max(values))

    def cell(self) -> str:
        return f"{self.median:6.2f} {self.p95:6.2f} {self.max:6.1f}" if self.count else "-"


# ---- 1. in-process ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InProcess:
    track: Summary  # per-frame track() time, ms
    sustained_ms: float  # mean track() time over the second half of the sequence: the cost per frame in the long
    # run, which the median hides (the DCF filter refresh every update_interval frames takes far longer)
    times_ms: tuple[float, ...]  # every tracked frame's time, in order

    @classmethod
    def of(cls, times_ms: list[float], warmup: int) -> InProcess:
        """From every tracked frame's track() time in order, the first `warmup` left out of the statistics."""
        return cls(Summary.of(times_ms[warmup:]), statistics.fmean(times_ms[len(times_ms) // 2 :]),
                   tuple(times_ms[warmup:]))

    @property
    def sustainable_fps(self) -> float:
        return 1000 / self.sustained_ms

    @functools.cached_property
    def drop_free_fps(self) -> float:
        """The highest rate, in 1 % steps below the sustainable one, at which these frame times through the node's
        one-frame mailbox replace no frame."""
        for step in range(100):
            fps = self.sustainable_fps * (1 - step / 100)
            if mailbox_drops(self.times_ms, 1000 / fps) == 0:
                return fps
        return 0.01 * self.sustainable_fps


def mailbox_drops(times_ms: tuple[float, ...], period_ms: float) -> int:
    """Frames a worker taking times_ms[i] for its i-th frame loses when one arrives every period_ms and at most one
    waits (a newer one replaces it), as in the node."""
    costs = iter(times_ms)
    busy_until, waiting, drops = 0.0, False, 0
    for k in range(len(times_ms)):
        arrival = k * period_ms
        while waiting and busy_until <= arrival:  # the worker takes the waiting frame when it is done
            busy_until, waiting = busy_until + next(costs), False
        if busy_until <= arrival:
            busy_until = arrival + next(costs)
        elif waiting:
            drops += 1
        else:
            waiting = True
    return drops


def initialised_tracker(frames: Frames, device: str, weights: str, precision: str = "fp32"
                        ) -> tuple[Any, Callable[[], None]]:
    """A tracker initialised on frame 0 with its ground-truth box, and what waits for its device's work."""
    import torch

    from jcat_core.tracker import build_tracker

    tracker = build_tracker(weights=weights, device=device, precision=precision)
    tracker.initialize(frames.images[0], box=frames.box0)
    return tracker, torch.cuda.synchronize if device == "cuda" else (lambda: None)


def send_paced(images: list[np.ndarray], rate: float, send: Callable[[np.ndarray], int]
               ) -> tuple[dict[int, int], float]:
    """`send(image)` (which returns the stamp it gave the frame) for each image at `rate` Hz on an absolute
    schedule; ({stamp ns: frame index, 1-based}, the achieved rate)."""
    period = 1.0 / rate
    stamps: dict[int, int] = {}
    start = time.perf_counter()
    for index, image in enumerate(images, start=1):
        delay = start + (index - 1) * period - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        stamps[send(image)] = index
    elapsed = time.perf_counter() - start
    return stamps, (len(stamps) - 1) / elapsed if elapsed > 0 else float("nan")


def time_in_process(frames: Frames, device: str, weights: str, warmup: int, precision: str = "fp32") -> InProcess:
    """track() time per frame in ms, the tracker initialised on frame 0."""
    tracker, sync = initialised_tracker(frames, device, weights, precision)
    times_ms = []
    for image in frames.images[1:]:
        start = time.perf_counter()
        tracker.track(image)
        sync()
        times_ms.append(1000 * (time.perf_counter() - start))
    return InProcess.of(times_ms, warmup)


@dataclass(frozen=True)
class InProcessPaced:
    """The in-process path at the camera rate: frames stamped and handed to a tracking thread as the node gets them."""

    latency: Summary  # stamp -> track() returned, ms, tracked frames after the warm-up
    track: Summary  # track() alone in this run, ms
    dropped: int  # frames replaced in the one-frame mailbox
    rate_achieved: float  # Hz
    outside_by_index: dict[int, float]  # frame index -> (stamp -> track() returned) - track(), ms: hand-off + wait
    track_times_ms: tuple[float, ...]  # every tracked frame's track() time, in frame order


def time_in_process_paced(frames: Frames, device: str, weights: str, warmup: int, rate: float,
                          precision: str = "fp32") -> InProcessPaced:
    """The same frames at `rate` Hz through the node's one-frame mailbox (jcat_ros.frame_buffer.LatestFrame) to a
    worker thread that runs track(), with no ROS in between: the baseline the node's latency is compared with."""
    from jcat_ros.frame_buffer import Frame, LatestFrame

    tracker, sync = initialised_tracker(frames, device, weights, precision)
    mailbox, finished = LatestFrame(), threading.Event()
    done: dict[int, tuple[float, float]] = {}  # stamp ns -> (stamp -> track() returned, track() alone), ms

    def work() -> None:
        while not finished.is_set():
            frame = mailbox.take(timeout=0.05)
            if frame is None:
                continue
            started = time.perf_counter()
            tracker.track(frame.msg)
            sync()
            track_ms = 1000 * (time.perf_counter() - started)
            done[frame.stamp_ns] = ((time.time_ns() - frame.stamp_ns) / 1e6, track_ms)

    def hand_over(image: np.ndarray) -> int:
        stamp_ns = time.time_ns()
        mailbox.put(Frame(stamp_ns=stamp_ns, msg=image, received_ns=stamp_ns))
        return stamp_ns

    worker = threading.Thread(target=work, name="in_process_worker")
    worker.start()
    stamps, achieved = send_paced(frames.images[1:], rate, hand_over)
    end = time.monotonic() + 60
    while len(done) + mailbox.dropped < len(stamps) and time.monotonic() < end:
        time.sleep(0.01)
    finished.set()
    worker.join()
    measured = {index: done[stamp] for stamp, index in stamps.items() if index > warmup and stamp in done}
    return InProcessPaced(Summary.of([e2e for e2e, _ in measured.values()]),
                          Summary.of([t for _, t in measured.values()]), mailbox.dropped, achieved,
                          {index: e2e - track for index, (e2e, track) in measured.items()},
                          tuple(done[stamp][1] for stamp in stamps if stamp in done))


# ---- 2. through the node ------------------------------------------------------------------------------------------
def ros_environment(domain_id: int, shm_segment_mb: int) -> dict[str, str]:
    """Variables both processes need: the domain, localhost discovery and, optionally, the Fast DDS profile."""
    env = {"ROS_DOMAIN_ID": str(domain_id), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST", "PYTHONUNBUFFERED": "1"}
    if shm_segment_mb:
        profile = Path(tempfile.gettempdir()) / f"jcat_bench_fastdds_shm{shm_segment_mb}.xml"
        profile.write_text(FASTDDS_PROFILE.format(size=shm_segment_mb * 1024 * 1024))
        env["FASTDDS_DEFAULT_PROFILES_FILE"] = str(profile)
    return env


@contextmanager
def tracker_process(opts: Options, reliability: str, env: dict[str, str]
                    ) -> Iterator[tuple[subprocess.Popen, Path]]:
    """The tracker node in its own process; always stopped on exit (SIGINT, then SIGTERM, then SIGKILL)."""
    log_path = Path(tempfile.mkstemp(prefix=f"jcat_tracker_node_{reliability}_", suffix=".log")[1])
    command = [sys.executable, "-m", "jcat_ros.tracker_node", "--ros-args", "-p", f"weights:={opts.weights}",
               "-p", f"device:={opts.device}", "-p", f"precision:={opts.precision}",
               "-p", f"reliability:={reliability}", "-p", f"cpu_threads:={opts.threads}"]
    with log_path.open("w") as log:
        proc = subprocess.Popen(command, cwd=REPO, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield proc, log_path
    except BaseException:
        tail = log_path.read_text(errors="replace").splitlines()[-30:]
        print(f"--- tracker node log ({log_path}), last lines ---", *tail, sep="\n", file=sys.stderr)
        raise
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen) -> None:
    for sig, wait_s in ((signal.SIGINT, 10.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            return
        proc.send_signal(sig)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=wait_s)


@dataclass(frozen=True)
class Received:
    """A TrackerState as it arrived in the recorder process."""

    stamp_ns: int
    state: int
    node_latency_ms: float
    node_tracker_ms: float  # TrackerState.tracker_ms: the node's initialize() or track() time for this frame
    frames_dropped: int
    receipt_ns: int  # wall clock in the subscription callback
    rmw_received_ns: int  # the middleware's receive time (0 when the rmw does not give one)

    @property
    def e2e_ms(self) -> float:
        """Stamp -> the recorder's callback."""
        return (self.receipt_ns - self.stamp_ns) / 1e6


@dataclass
class Recorder:
    states: list[Received] = field(default_factory=list)
    diagnostics: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # (receipt ns, values)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_state(self, msg, info) -> None:
        receipt = time.time_ns()
        item = Received(time_ns(msg.header.stamp), msg.state, msg.latency_ms, msg.tracker_ms, msg.frames_dropped,
                        receipt, int(info.get("received_timestamp", 0)))
        with self.lock:
            self.states.append(item)

    def on_diagnostics(self, msg) -> None:
        for status in msg.status:
            if status.name.startswith("jcat_tracker"):
                with self.lock:
                    self.diagnostics.append((time.time_ns(), {kv.key: kv.value for kv in status.values}))

    def snapshot(self) -> tuple[list[Received], list[tuple[int, dict[str, str]]]]:
        with self.lock:
            return list(self.states), list(self.diagnostics)


def recorder_main() -> int:
    """The subscriber process: records ~/state and /diagnostics on a spin thread; for each `new <states>
    <diagnostics>` line on stdin it prints, as one JSON line, the records after those counts and how many
    publishers ~/state has. Ends at `quit` or end of input."""
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from jcat_ros.msg import TrackerState
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from rclpy.signals import SignalHandlerOptions

    from jcat_ros.malloc_tuning import keep_freed_frame_buffers
    from jcat_ros.subscription_thread import SubscriptionThread

    keep_freed_frame_buffers()
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node("jcat_latency_recorder")
    recorder = Recorder()
    state_input = SubscriptionThread(node, TrackerState, f"{NODE}/state", recorder.on_state,
                                     QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE),
                                     name="recorder_state", on_error=lambda err: print(f"recorder: {err!r}",
                                                                                       file=sys.stderr))
    node.create_subscription(DiagnosticArray, "/diagnostics", recorder.on_diagnostics, 10)
    executor = SingleThreadedExecutor()
    executor.add_node(node)

    def spin() -> None:
        with suppress(ExternalShutdownException, RuntimeError):
            executor.spin()

    spinner = threading.Thread(target=spin, name="recorder_spin")
    spinner.start()
    for request in sys.stdin:
        command, *counts = request.split()
        if command != "new":
            break
        states, diagnostics = recorder.snapshot()
        print(json.dumps({"publishers": state_input.subscription.get_publisher_count(),
                          "states": [astuple(r) for r in states[int(counts[0]):]],
                          "diagnostics": diagnostics[int(counts[1]):]}), flush=True)
    state_input.close()
    rclpy.try_shutdown()  # ends the spin
    spinner.join(timeout=10)
    executor.shutdown()
    node.destroy_node()
    return 0


class RecorderProcess:
    """This process's view of the recorder process: the records so far, fetched a few at a time over its pipe."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, *RECORDER_ROLE], cwd=REPO,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.states: list[Received] = []
        self.diagnostics: list[tuple[int, dict[str, str]]] = []
        self.publishers = 0

    def refresh(self) -> None:
        """Fetch the records made since the last call (one request, one reply line; only the main thread asks)."""
        if self.proc.poll() is not None:
            raise RuntimeError(f"the recorder process exited (status {self.proc.returncode})")
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"new {len(self.states)} {len(self.diagnostics)}\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline())
        self.publishers = reply["publishers"]
        self.states += [Received(*r) for r in reply["states"]]
        self.diagnostics += [(t, values) for t, values in reply["diagnostics"]]

    def snapshot(self) -> tuple[list[Received], list[tuple[int, dict[str, str]]]]:
        self.refresh()
        return list(self.states), list(self.diagnostics)

    def has_stamp(self, stamp_ns: int) -> bool:
        return any(r.stamp_ns == stamp_ns for r in self.snapshot()[0])

    def publisher_count(self) -> int:
        """Publishers of ~/state the recorder's subscription is matched with."""
        self.refresh()
        return self.publishers

    def close(self) -> None:
        with suppress(OSError, ValueError):
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        with suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Client:
    """One rclpy node in this process: image publisher and ~/init client; ~/state and /diagnostics are recorded in
    a process of their own. Every entity is created before the spin thread starts (rclpy must not create entities
    during a wait)."""

    def __init__(self, domain_id: int) -> None:
        import rclpy
        from jcat_ros.srv import InitTarget
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from rclpy.signals import SignalHandlerOptions
        from sensor_msgs.msg import Image

        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain_id, signal_handler_options=SignalHandlerOptions.NO)
        self.node = rclpy.create_node("jcat_latency_bench", context=self.context)
        self.recorder = RecorderProcess()  # in this process's environment: the same domain
        self.image_pub = self.node.create_publisher(Image, "image",
                                                    QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE))
        self.init_client = self.node.create_client(InitTarget, f"{NODE}/init")
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self._spin, name="bench_spin", daemon=True)
        self.thread.start()

    def _spin(self) -> None:
        from rclpy.executors import ExternalShutdownException

        with suppress(ExternalShutdownException, RuntimeError):
            while self.context.ok():
                self.executor.spin_once(timeout_sec=0.05)

    def close(self) -> None:
        self.context.try_shutdown()
        self.thread.join(timeout=5)
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        self.recorder.close()


def image_msg(image: np.ndarray, stamp_ns: int):
    """An rgb8 Image stamped `stamp_ns`; the data goes in as array.array, rclpy's fast path (no per-byte check)."""
    from sensor_msgs.msg import Image

    height, width = image.shape[:2]
    msg = Image(height=height, width=width, encoding="rgb8", is_bigendian=0, step=width * 3)
    msg.data = array.array("B", image.tobytes())
    msg.header.frame_id = "camera"
    set_stamp(msg.header, stamp_ns)
    return msg


def set_stamp(header, stamp_ns: int) -> None:
    header.stamp.sec, header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)


def wait_until(condition: Callable[[], bool], timeout: float, what: str, proc: subprocess.Popen) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        if proc.poll() is not None:
            raise RuntimeError(f"the tracker node exited (status {proc.returncode}) while waiting for {what}")
        time.sleep(0.01)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def deliver_frame0(client: Client, frames: Frames, proc: subprocess.Popen, tries: int = 30) -> tuple[int, int]:
    """Publish frame 0 until the node answers it with an IDLE state; (its stamp, copies sent)."""
    for copy in range(1, tries + 1):
        stamp_ns = time.time_ns()
        client.image_pub.publish(image_msg(frames.images[0], stamp_ns))
        with suppress(TimeoutError):
            wait_until(lambda s=stamp_ns: client.recorder.has_stamp(s), 0.5, "the state of frame 0", proc)
            return stamp_ns, copy
    raise TimeoutError(f"none of {tries} copies of frame 0 was answered by the tracker node")


def wait_for_node(client: Client, proc: subprocess.Popen, timeout: float) -> None:
    wait_until(lambda: client.image_pub.get_subscription_count() > 0 and client.recorder.publisher_count() > 0
               and client.init_client.service_is_ready(), timeout, "the tracker node's topics and ~/init", proc)


@dataclass(frozen=True)
class LatencySplit:
    """Stamp -> ms at three points of a state's way: the node's publish, the recorder's middleware, its callback."""

    e2e: Summary  # ~/state in the recorder's callback
    rmw: Summary  # ~/state in the recorder's middleware (empty when the rmw gives no receive time)
    node: Summary  # the node's latency_ms: its publish of the state

    @classmethod
    def of(cls, records: list[Received]) -> LatencySplit:
        return cls(Summary.of([r.e2e_ms for r in records]),
                   Summary.of([(r.rmw_received_ns - r.stamp_ns) / 1e6 for r in records if r.rmw_received_ns]),
                   Summary.of([r.node_latency_ms for r in records]))


@dataclass(frozen=True)
class IdlePath:
    """The ROS path alone (node IDLE, no tracking)."""

    latency: LatencySplit
    sent: int  # frames sent in the idle phase, frame-0 copies included


def measure_idle(client: Client, frames: Frames, count: int, warmup: int, rate: float,
                 proc: subprocess.Popen) -> IdlePath:
    """The ROS path alone: `count` frames at `rate` Hz to the node with no target, the first `warmup` of them left
    out of the statistics."""
    if count == 0:
        return IdlePath(LatencySplit.of([]), 0)
    _, copies = deliver_frame0(client, frames, proc)  # the path is open: no idle frame is lost to discovery
    stamps, _ = publish_frames(client, frames.images[1:count + 1], rate)
    wait_for_tail(client, stamps, proc)
    return IdlePath(LatencySplit.of([r for r in client.recorder.snapshot()[0]
                                     if r.stamp_ns in stamps and stamps[r.stamp_ns] > warmup]), copies + count)


def initialise(client: Client, frames: Frames, proc: subprocess.Popen) -> tuple[int, int]:
    """Get frame 0 to the node, ~/init on that frame; (frame 0's stamp, copies of frame 0 sent)."""
    from jcat_ros.init_client import init_request

    stamp_ns, copies = deliver_frame0(client, frames, proc)
    request = init_request(frames.box0, target_id="bench")
    set_stamp(request, stamp_ns)
    future = client.init_client.call_async(request)
    wait_until(future.done, 60.0, "the ~/init response", proc)
    if not future.result().success:
        raise RuntimeError(f"~/init refused: {future.result().message}")
    return stamp_ns, copies


def publish_frames(client: Client, images: list[np.ndarray], rate: float) -> tuple[dict[int, int], float]:
    """`images` published at `rate` Hz (send_paced), each stamped just before publish()."""
    def publish(image: np.ndarray) -> int:
        msg = image_msg(image, 0)  # copying the pixels in is not part of the latency
        stamp_ns = time.time_ns()
        set_stamp(msg.header, stamp_ns)
        client.image_pub.publish(msg)
        return stamp_ns

    return send_paced(images, rate, publish)


def wait_for_tail(client: Client, stamps: dict[int, int], proc: subprocess.Popen) -> None:
    """Until every published frame has a state or none came for 2 s; then until a fresh /diagnostics message."""
    last_count, quiet_since = -1, time.monotonic()
    while time.monotonic() - quiet_since < 2.0:
        count = sum(1 for r in client.recorder.snapshot()[0] if r.stamp_ns in stamps)
        if count >= len(stamps):
            break
        if count != last_count:
            last_count, quiet_since = count, time.monotonic()
        time.sleep(0.05)
    settled = time.time_ns()
    with suppress(TimeoutError):
        wait_until(lambda: any(t > settled for t, _ in client.recorder.snapshot()[1]), 5.0,
                   "a /diagnostics message after the last state", proc)


@dataclass
class RosResult:
    reliability: str
    rate_achieved: float
    published: int  # tracked frames published (frame 0 not included)
    states: int  # states received for them
    fps: float  # states received per second
    latency: LatencySplit  # of the tracked frames after the warm-up
    outbound: Summary  # e2e - node latency, frame by frame
    frame0_copies: int  # copies of frame 0 sent before the node answered one
    node_dropped: int  # TrackerState.frames_dropped of the last state
    diag: dict[str, str]  # last /diagnostics values of the node
    not_tracking: int  # states received whose state was not TRACKING
    worst: list[tuple[int, float]] = field(default_factory=list)  # (frame index, e2e ms) of the slowest frames
    outside_by_index: dict[int, float] = field(default_factory=dict)  # frame index -> e2e - node_tracker_ms, ms
    tracker: Summary = field(default_factory=lambda: Summary.of([]))  # the node's tracker_ms, ms
    idle: IdlePath = field(default_factory=lambda: IdlePath(LatencySplit.of([]), 0))
    log_path: Path | None = None
    log_problems: list[str] = field(default_factory=list)
    error: str = ""  # why the run could not measure anything

    @classmethod
    def failed(cls, reliability: str, error: str) -> RosResult:
        nothing = Summary.of([])
        return cls(reliability, float("nan"), 0, 0, float("nan"), LatencySplit.of([]), nothing, 0, -1, {}, 0,
                   error=error)

    @property
    def drops(self) -> int:
        return self.published - self.states


def run_through_ros(opts: Options, frames: Frames, rate: float, reliability: str) -> RosResult:
    domain_id = random.randint(1, 100)
    env = ros_environment(domain_id, opts.shm_segment_mb)
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)  # read when this process's DDS participant is created
    try:
        with tracker_process(opts, reliability, env) as (proc, log_path):
            client = Client(domain_id)
            try:
                wait_for_node(client, proc, opts.startup_timeout)
                idle = measure_idle(client, frames, opts.idle_frames, opts.idle_warmup, rate, proc)
                _, copies = initialise(client, frames, proc)
                stamps, achieved = publish_frames(client, frames.images[1:], rate)
                wait_for_tail(client, stamps, proc)
                states, diagnostics = client.recorder.snapshot()
            finally:
                client.close()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    result = summarise(reliability, stamps, states, diagnostics, achieved, opts.warmup, copies)
    result.idle = idle
    result.log_path, result.log_problems = log_path, node_log_problems(log_path)
    return result


def summarise(reliability: str, stamps: dict[int, int], states: list[Received],
              diagnostics: list[tuple[int, dict[str, str]]], achieved: float, warmup: int,
              frame0_copies: int) -> RosResult:
    mine = [r for r in states if r.stamp_ns in stamps]
    measured = [r for r in mine if stamps[r.stamp_ns] > warmup]
    span_s = (mine[-1].receipt_ns - mine[0].receipt_ns) / 1e9 if len(mine) > 1 else 0.0
    worst = sorted(((stamps[r.stamp_ns], r.e2e_ms) for r in measured), key=lambda x: -x[1])
    return RosResult(
        reliability=reliability, rate_achieved=achieved, published=len(stamps), states=len(mine),
        fps=(len(mine) - 1) / span_s if span_s > 0 else float("nan"),
        latency=LatencySplit.of(measured),
        outbound=Summary.of([r.e2e_ms - r.node_latency_ms for r in measured]),
        frame0_copies=frame0_copies,
        node_dropped=states[-1].frames_dropped if states else -1,
        diag=diagnostics[-1][1] if diagnostics else {},
        not_tracking=sum(1 for r in mine if r.state != TRACKING),
        worst=worst[:3],
        outside_by_index={stamps[r.stamp_ns]: r.e2e_ms - r.node_tracker_ms for r in measured},
        tracker=Summary.of([r.node_tracker_ms for r in measured]),
    )


def node_log_problems(log_path: Path) -> list[str]:
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    return [line for line in text.splitlines() if any(w in line for w in ("WARN", "ERROR", "Traceback"))]


# ---- 3. report ------------------------------------------------------------------------------------------------------
LABEL, CELL = 50, 26


def line(label: str, cells: list[str], note: str = "") -> str:
    return (f"  {label:<{LABEL}s}" + "".join(f"{c:>{CELL}s}" for c in cells) + (f"   {note}" if note else "")).rstrip()


def paired_overhead(result: RosResult, paced: InProcessPaced) -> Summary:
    """Frame by frame, over the frames both paths measured: the time outside the tracker through the node (e2e -
    the node's tracker_ms) - the time outside it in-process (hand-off and wait) for the same frame."""
    return Summary.of([outside - paced.outside_by_index[index] for index, outside in result.outside_by_index.items()
                       if index in paced.outside_by_index])


def ros_rows(results: list[RosResult], local: Summary, paced: InProcessPaced) -> list[str]:
    def each(get: Callable[[RosResult], str]) -> list[str]:
        return [get(r) for r in results]

    def node_count(r: RosResult, key: str) -> str:
        return r.diag.get(key, "?")

    def never_arrived(r: RosResult) -> str:
        if "frames_received" not in r.diag:
            return "?"
        return str(r.published + r.frame0_copies + r.idle.sent - int(r.diag["frames_received"]))

    return [
        line("image subscription QoS (node param reliability)", each(lambda r: r.reliability)),
        line("publish rate achieved [Hz]", each(lambda r: f"{r.rate_achieved:.1f}")),
        line("tracked frames published / states received", each(lambda r: f"{r.published} / {r.states}")),
        line("states received per second", each(lambda r: f"{r.fps:.1f}")),
        line("latency [ms]                       median / p95 / max", ["" for _ in results]),
        line("  stamp -> ~/state in the recorder's callback (e2e)", each(lambda r: r.latency.e2e.cell())),
        line("  stamp -> the recorder's middleware receive", each(lambda r: r.latency.rmw.cell())),
        line("  node's latency_ms (stamp -> its publish)", each(lambda r: r.latency.node.cell()),
             "inbound + wait + convert + track"),
        line("  outbound (e2e - node's latency_ms)", each(lambda r: r.outbound.cell())),
        line("  slowest frames (index:ms)", each(lambda r: " ".join(f"{i}:{ms:.0f}" for i, ms in r.worst))),
        line("drops: published - states received", each(lambda r: str(r.drops))),
        line("  never reached the node (sent - node received)", each(never_arrived),
             "sent includes the frame-0 copies and idle frames"),
        line("  node frames_dropped (last TrackerState)", each(lambda r: str(r.node_dropped)),
             "replaced in the node's mailbox"),
        line("  node received / processed / bad (diagnostics)", each(
            lambda r: "/".join(node_count(r, k) for k in ("frames_received", "frames_processed", "frames_bad")))),
        line("  copies of frame 0 sent before one got through", each(lambda r: str(r.frame0_copies))),
        line("states not TRACKING", each(lambda r: str(r.not_tracking))),
        line("ROS path alone: stamp -> IDLE ~/state [ms]", each(lambda r: r.idle.latency.e2e.cell()),
             "before ~/init: convert + publish, no tracking"),
        line("  stamp -> the node's publish (its latency_ms)", each(lambda r: r.idle.latency.node.cell()),
             "camera publish, DDS, take, hand-off, convert"),
        line("  stamp -> the recorder's middleware receive", each(lambda r: r.idle.latency.rmw.cell()),
             "the rest to e2e: the recorder's take and callback"),
        line("the node's track() (TrackerState.tracker_ms) [ms]", each(lambda r: r.tracker.cell()),
             f"in-process at the same rate: {paced.track.median:.2f} ms median"),
        line("ROS overhead: time outside the tracker [ms]", each(lambda r: paired_overhead(r, paced).cell()),
             f"(e2e - tracker_ms) - (in-process - track()), frame by frame; goal: median <= {GOAL_MS:g} ms"),
        line("  median e2e - median in-process [ms]",
             each(lambda r: f"{r.latency.e2e.median - paced.latency.median:.2f}"), "tracker times included"),
        line("  median e2e - median back-to-back track() [ms]",
             each(lambda r: f"{r.latency.e2e.median - local.median:.2f}"), "earlier stops' measure"),
        line("ratio: median e2e / median in-process",
             each(lambda r: f"{r.latency.e2e.median / paced.latency.median:.2f}x")),
    ]


def verdict(result: RosResult, paced: InProcessPaced) -> str:
    if result.error:
        return f"VERDICT [{result.reliability}]: FAIL: nothing measured: {result.error}"
    overhead = paired_overhead(result, paced).median
    alone = (f"; the ROS path alone (node IDLE) takes {result.idle.latency.e2e.median:.2f} ms median"
             if result.idle.latency.e2e.count else "")
    if overhead < 0:
        return (f"VERDICT [{result.reliability}]: INCONCLUSIVE: frames spent longer outside the tracker in-process "
                f"than through the node ({overhead:.2f} ms median): the machine was busier during the baseline; run "
                f"again{alone}")
    ok_latency, ok_drops = overhead <= GOAL_MS, result.drops == 0 and result.node_dropped == 0
    drops = ("drops nothing" if ok_drops else
             f"drops {result.drops} of {result.published} (node mailbox: {result.node_dropped})")
    return (f"VERDICT [{result.reliability}]: {'PASS' if ok_latency and ok_drops else 'FAIL'}: ROS adds "
            f"{overhead:.2f} ms median ({'<=' if ok_latency else '>'} {GOAL_MS:g} ms goal) and {drops} at "
            f"{result.rate_achieved:.1f} Hz{alone}")


def report(opts: Options, facts: dict[str, str], local: InProcess, paced: InProcessPaced,
           results: list[RosResult], rate: float, rate_note: str, wall_s: float) -> str:
    title = (f"JCAT through ROS 2 vs in-process: {opts.width}x{opts.height} rgb8, weights={opts.weights}, "
             f"{opts.frames} frames (frame 0 = init; the first {opts.warmup} tracked ones not in the latency stats)")
    lines = [title, *(line(k, [], v) for k, v in facts.items())]
    lines.append(line("in-process track() [ms]          median / p95 / max", [local.track.cell()],
                      f"{1000 / local.track.median:.1f} fps at the median"))
    lines.append(line("in-process mean track(), second half [ms]", [f"{local.sustained_ms:.2f}"],
                      f"sustainable {local.sustainable_fps:.1f} fps"))
    lines.append(line("in-process drop-free rate [Hz]", [f"{local.drop_free_fps:.1f}"],
                      "one-frame mailbox, these frame times (slow refresh frames included)"))
    lines.append(line("publish rate requested [Hz]", [f"{rate:.1f}"], rate_note))
    lines.append(line("in-process at that rate: stamp -> track() returned", [paced.latency.cell()],
                      f"{paced.rate_achieved:.1f} Hz through a one-frame mailbox to a worker thread, no ROS"))
    lines.append(line("  its track() alone [ms]             median / p95 / max", [paced.track.cell()],
                      f"mailbox drops: {paced.dropped}"))
    lines += ros_rows(results, local.track, paced)
    lines.append(line("benchmark wall time [s]", [f"{wall_s:.1f}"]))
    lines += [verdict(r, paced) for r in results]
    return "\n".join(lines)


def write_json(path: Path, opts: Options, facts: dict[str, str], local: InProcess, paced: InProcessPaced,
               results: list[RosResult], rate: float) -> None:
    """The headline figures of the report as JSON (NaN -> null), for scripts that collect several runs."""

    def number(value: float) -> float | None:
        return None if value != value else round(value, 3)  # NaN != NaN

    def ros(result: RosResult) -> dict[str, Any]:
        return {"reliability": result.reliability, "error": result.error or None,
                "e2e_median_ms": number(result.latency.e2e.median), "e2e_p95_ms": number(result.latency.e2e.p95),
                "ros_overhead_median_ms": number(paired_overhead(result, paced).median),
                "node_track_median_ms": number(result.tracker.median),
                "idle_path_median_ms": number(result.idle.latency.e2e.median),
                "published": result.published, "states": result.states, "drops": result.drops,
                "node_dropped": result.node_dropped, "rate_achieved_hz": number(result.rate_achieved),
                "verdict": verdict(result, paced)}

    path.write_text(json.dumps({
        "benchmark": "ros_latency", "device": facts["device"], "precision": opts.precision, "weights": opts.weights,
        "size": f"{opts.width}x{opts.height}", "frames": opts.frames, "rate_hz": number(rate),
        "in_process": {"track_median_ms": number(local.track.median), "track_p95_ms": number(local.track.p95),
                       "paced_latency_median_ms": number(paced.latency.median),
                       "paced_track_median_ms": number(paced.track.median)},
        "ros": [ros(result) for result in results],
    }, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    if (sys.argv[1:] if argv is None else argv) == RECORDER_ROLE:
        return recorder_main()
    opts = parse_args(argv)
    check_device(opts.device)
    from jcat_ros.malloc_tuning import keep_freed_frame_buffers

    malloc_setting = keep_freed_frame_buffers()  # as the node and camera_node do: both paths run with it
    if opts.threads:
        import torch

        torch.set_num_threads(opts.threads)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks (node shutdown) on SIGTERM
    started = time.monotonic()
    facts = machine_facts(opts, malloc_setting)
    frames = load_frames(opts.height, opts.width, opts.frames)
    local = time_in_process(frames, opts.device, opts.weights, opts.warmup, opts.precision)
    rate = opts.rate or 0.8 * local.drop_free_fps
    rate_note = "--rate" if opts.rate else "0.8 x the drop-free rate of back-to-back track()"
    print(f"in-process track(): median {local.track.median:.2f} ms, mean over the second half "
          f"{local.sustained_ms:.2f} ms, drop-free {local.drop_free_fps:.1f} Hz -> {rate:.1f} Hz", flush=True)
    paced = time_in_process_paced(frames, opts.device, opts.weights, opts.warmup, rate, opts.precision)
    paced_drop_free = InProcess.of(list(paced.track_times_ms), opts.warmup).drop_free_fps
    if not opts.rate and 0.8 * paced_drop_free < rate:  # track() is slower at a camera rate: what it sustains there
        print(f"track() at {rate:.1f} Hz is drop-free up to {paced_drop_free:.1f} Hz only", flush=True)
        rate_note = f"0.8 x the drop-free rate of track() at {rate:.1f} Hz (back-to-back: {local.drop_free_fps:.1f} Hz)"
        rate = 0.8 * paced_drop_free
        paced = time_in_process_paced(frames, opts.device, opts.weights, opts.warmup, rate, opts.precision)
    print(f"in-process at {paced.rate_achieved:.1f} Hz: stamp -> track() returned, median {paced.latency.median:.2f}"
          f" ms (track() alone {paced.track.median:.2f} ms)", flush=True)
    results = []
    try:
        for reliability in opts.reliabilities:
            print(f"through the node, reliability {reliability} ...", flush=True)
            try:
                results.append(run_through_ros(opts, frames, rate, reliability))
            except (RuntimeError, TimeoutError) as err:
                results.append(RosResult.failed(reliability, str(err)))
    except KeyboardInterrupt:
        print("interrupted; the tracker node was stopped", file=sys.stderr)
        return 130
    print(report(opts, facts, local, paced, results, rate, rate_note, time.monotonic() - started))
    if opts.json_path is not None:
        write_json(opts.json_path, opts, facts, local, paced, results, rate)
    for result in results:
        if result.log_problems:
            print(f"node log [{result.reliability}]: {len(result.log_problems)} warning/error line(s), e.g. "
                  f"{result.log_problems[0]}; kept at {result.log_path}")
        elif opts.keep_log:
            print(f"node log [{result.reliability}] kept at {result.log_path}")
        elif result.log_path:
            result.log_path.unlink(missing_ok=True)
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
