"""Soak: the tracker node fed by a camera for N minutes while it is re-initialised, reset and cycled through its
lifecycle, watched for memory growth, output gaps and frame counters that do not add up (issue #18, item 11).
Method and figures: docs/SOAK.md.

    python benchmarks/soak.py --minutes 30                         # the issue's run: about 32 minutes
    python benchmarks/soak.py --minutes 2 --warmup-minutes 0.5 --init-period 20 --reset-period 45 --cycle-period 35

--json FILE writes every figure, the RSS samples and the actions taken. Exit status: 0 when the three checks pass,
1 when one fails (or cannot be judged), 2 when nothing could be measured (a process did not start or exited).
"""

from __future__ import annotations

import argparse
import bisect
import functools
import itertools
import json
import os
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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
NODE = "/jcat_tracker"
CAMERA = "/jcat_camera"
CAMERA_SOURCE = "synthetic:clean"
LOOP_FRAMES = 900  # frames before the camera starts its sequence again (the target jumps back to its start)
TRACKING = 1  # TrackerState.TRACKING
RSS_SLOPE_GOAL = 5.0  # MB/h
GAP_GOAL = 3.0  # camera frame periods
CAMERA_STEADY = 1.5  # camera frame periods: a gap whose camera never paused longer had frames to answer throughout
WAITING_MAX = 1  # frames_queued and frames_in_progress: the node's one-frame mailbox and its one worker
SERVICE_TIMEOUT_S = 30.0
RESET_IDLE_S = 2.0  # IDLE time between a ~/reset and the ~/init after it
INACTIVE_S = 1.0  # inactive time within a lifecycle cycle
TRUTH_FRESH_S = 1.0  # a ground-truth box older than this is not used for ~/init
NS = 1_000_000_000
OWN_NODES = ["jcat_camera", "jcat_soak_consumer", "jcat_tracker"]
DOMAIN_TRIES = 3  # fresh domains tried when another ROS user turns out to share the random one


# ---- options ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Options:
    minutes: float
    rate: float | None  # camera Hz; None = the camera's default
    weights: str
    cpu_threads: int
    init_period_s: float
    reset_period_s: float
    cycle_period_s: float
    rss_period_s: float
    warmup_s: float  # RSS samples before this many seconds are left out of the slope
    event_margin_s: float  # gaps this close to the benchmark's own actions are left out
    startup_timeout_s: float
    json_path: Path | None
    keep_logs: bool


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0, help="soak duration after the first ~/init")
    parser.add_argument("--rate", type=float, default=None, help="camera rate in Hz (default: the camera's own)")
    parser.add_argument("--weights", default="standin", help="the node's weights parameter")
    parser.add_argument("--cpu-threads", type=int, default=1, help="the node's cpu_threads parameter")
    parser.add_argument("--init-period", type=float, default=60.0, help="seconds between ~/init calls (0: off)")
    parser.add_argument("--reset-period", type=float, default=300.0,
                        help="seconds between ~/reset calls, each followed by ~/init (0: off)")
    parser.add_argument("--cycle-period", type=float, default=180.0,
                        help="seconds between lifecycle cycles, deactivate then activate (0: off)")
    parser.add_argument("--rss-period", type=float, default=5.0, help="seconds between RSS samples")
    parser.add_argument("--warmup-minutes", type=float, default=5.0, help="RSS samples left out of the slope")
    parser.add_argument("--event-margin", type=float, default=1.0,
                        help="seconds around each action of the benchmark within which gaps are not counted")
    parser.add_argument("--startup-timeout", type=float, default=120.0, help="seconds to wait for the processes")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure to this JSON file")
    parser.add_argument("--keep-logs", action="store_true", help="keep the node's and the camera's log files")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or not 0 <= args.warmup_minutes < args.minutes:
        parser.error("--minutes must be > 0 and --warmup-minutes in [0, --minutes)")
    if args.rate is not None and args.rate <= 0:
        parser.error("--rate must be > 0")
    if min(args.init_period, args.reset_period, args.cycle_period, args.event_margin) < 0 or args.rss_period <= 0:
        parser.error("the periods and --event-margin must be >= 0, --rss-period > 0")
    return Options(args.minutes, args.rate, args.weights, args.cpu_threads, args.init_period, args.reset_period,
                   args.cycle_period, args.rss_period, 60 * args.warmup_minutes, args.event_margin,
                   args.startup_timeout, args.json, args.keep_logs)


# ---- processes ----------------------------------------------------------------------------------------------------
class SharedDomainError(RuntimeError):
    """Nodes other than the benchmark's are in its DDS domain: their frames and services would mix with ours."""


def ros_environment(domain_id: int) -> dict[str, str]:
    """The benchmark's own DDS domain, discovery kept on this host: nothing else on the machine joins in."""
    return {"ROS_DOMAIN_ID": str(domain_id), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST", "PYTHONUNBUFFERED": "1"}


def tracker_args(opts: Options) -> list[str]:
    return ["-m", "jcat_ros.tracker_node", "--ros-args", "-p", f"weights:={opts.weights}",
            "-p", f"cpu_threads:={opts.cpu_threads}"]


def camera_args(opts: Options) -> list[str]:
    rate = ["-p", f"rate:={opts.rate}"] if opts.rate else []
    return ["-m", "jcat_ros.camera_node", "--ros-args", "-p", f"source:={CAMERA_SOURCE}",
            "-p", f"num_frames:={LOOP_FRAMES}", "-p", "loop:=true", *rate]


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    log_path: Path

    def check(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"the {self.name} process exited (status {self.proc.returncode}); log: {self.log_path}")


@contextmanager
def child_process(name: str, args: list[str]) -> Iterator[Child]:
    """`python args...` with its output in a log file; stopped on exit (SIGINT, then SIGTERM, then SIGKILL)."""
    log_path = Path(tempfile.mkstemp(prefix=f"jcat_soak_{name}_", suffix=".log")[1])
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, *args], cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield Child(name, proc, log_path)
    except BaseException:
        tail = log_path.read_text(errors="replace").splitlines()[-20:]
        print(f"--- {name} log ({log_path}), last lines ---", *tail, sep="\n", file=sys.stderr)
        raise
    finally:
        for sig, wait_s in ((signal.SIGINT, 10.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            if proc.poll() is None:
                proc.send_signal(sig)
                with suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=wait_s)


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (10^6 bytes), from VmRSS in /proc (given in KiB)."""
    for text in Path(f"/proc/{pid}/status").read_text().splitlines():
        if text.startswith("VmRSS:"):
            return int(text.split()[1]) * 1024 / 1e6
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")


def log_problems(path: Path) -> list[str]:
    text = path.read_text(errors="replace") if path.exists() else ""
    return [row for row in text.splitlines() if any(word in row for word in ("WARN", "ERROR", "Traceback"))]


# ---- the consumer -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StateSample:
    """A ~/state message as it reached the consumer."""

    arrived_ns: int  # the consumer's middleware receive time (wall clock; the callback's when the rmw gives none)
    published_ns: int  # the node's publish time (the middleware's source timestamp), 0 when unknown
    state: int
    stale: bool  # a repeat from the node's stale-input timer, not the output of a frame
    frame_ns: int  # header.stamp: the camera's time of the frame it describes
    tracker_ms: float  # the node's track() (or initialise) time for that frame


@dataclass(frozen=True)
class DiagSample:
    at_ns: int
    values: dict[str, str]


@dataclass(frozen=True)
class Truth:
    """The camera's latest ground truth: the target's (x, y, w, h) on the frame stamped `stamp`."""

    box: tuple[float, float, float, float]
    stamp: Any  # builtin_interfaces/Time
    arrived: float  # time.monotonic()


class Consumer:
    """The benchmark's rclpy node: ~/state taken on a thread of its own (its arrival times are not the executor's),
    detections, /diagnostics and ground truth in an executor thread, and clients of the node's services."""

    def __init__(self, domain_id: int) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from jcat_ros.msg import TrackerState
        from jcat_ros.srv import InitTarget
        from lifecycle_msgs.srv import ChangeState
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from rclpy.signals import SignalHandlerOptions
        from std_srvs.srv import Trigger
        from vision_msgs.msg import Detection2DArray

        from jcat_ros.subscription_thread import SubscriptionThread

        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain_id, signal_handler_options=SignalHandlerOptions.NO)
        self.node = rclpy.create_node("jcat_soak_consumer", context=self.context)
        self.lock = threading.Lock()
        self.states: list[StateSample] = []
        self.diagnostics: list[DiagSample] = []
        self.camera_ns: list[int] = []  # stamps of the camera's frames, from their ground-truth messages
        self.detections = 0
        self.truth: Truth | None = None
        reliable = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        self.state_input = SubscriptionThread(self.node, TrackerState, f"{NODE}/state", self._on_state, reliable,
                                              name="soak_state", on_error=lambda err: print(f"consumer: {err!r}"))
        self.node.create_subscription(Detection2DArray, f"{NODE}/detections", self._on_detections, reliable)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.node.create_subscription(Detection2DArray, f"{CAMERA}/ground_truth", self._on_truth, reliable)
        self.clients = {"init": self.node.create_client(InitTarget, f"{NODE}/init"),
                        "reset": self.node.create_client(Trigger, f"{NODE}/reset"),
                        "change_state": self.node.create_client(ChangeState, f"{NODE}/change_state")}
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self._spin, name="soak_spin", daemon=True)
        self.thread.start()

    def _spin(self) -> None:
        from rclpy.executors import ExternalShutdownException

        with suppress(ExternalShutdownException, RuntimeError):
            while self.context.ok():
                self.executor.spin_once(timeout_sec=0.05)

    def _on_state(self, msg: Any, info: dict[str, int]) -> None:
        from jcat_ros.message_fields import time_ns

        arrived = info.get("received_timestamp") or time.time_ns()
        sample = StateSample(arrived, info.get("source_timestamp", 0), msg.state, msg.input_stale,
                             time_ns(msg.header.stamp), msg.tracker_ms)
        with self.lock:
            self.states.append(sample)

    def _on_detections(self, msg: Any) -> None:
        with self.lock:
            self.detections += 1

    def _on_diagnostics(self, msg: Any) -> None:
        for status in msg.status:
            if status.name.startswith(NODE.lstrip("/")):
                sample = DiagSample(time.time_ns(), {kv.key: kv.value for kv in status.values})
                with self.lock:
                    self.diagnostics.append(sample)

    def _on_truth(self, msg: Any) -> None:
        from jcat_ros.message_fields import box_xywh, time_ns

        with self.lock:
            self.camera_ns.append(time_ns(msg.header.stamp))
            if msg.detections:
                self.truth = Truth(box_xywh(msg.detections[0].bbox), msg.header.stamp, time.monotonic())

    def fresh_truth(self) -> Truth | None:
        with self.lock:
            truth = self.truth
        return truth if truth is not None and time.monotonic() - truth.arrived < TRUTH_FRESH_S else None

    def domain_problem(self) -> str:
        """Why the domain is not the benchmark's alone (a node not ours, or one of ours twice); empty when it is."""
        names = sorted(name for name, _ in self.node.get_node_names_and_namespaces())
        return "" if names == OWN_NODES else f"domain {self.context.get_domain_id()} is shared: {', '.join(names)}"

    def state_count(self) -> int:
        with self.lock:
            return len(self.states)

    def call(self, service: str, request: Any) -> Any:
        """The response of the node's `service`; TimeoutError when it does not answer within SERVICE_TIMEOUT_S."""
        client = self.clients[service]
        if not client.wait_for_service(timeout_sec=SERVICE_TIMEOUT_S):
            raise TimeoutError(f"{NODE}/{service} is not available")
        future = client.call_async(request)
        end = time.monotonic() + SERVICE_TIMEOUT_S
        while not future.done():
            if time.monotonic() > end:
                raise TimeoutError(f"no answer from {NODE}/{service} within {SERVICE_TIMEOUT_S:g} s")
            time.sleep(0.01)
        return future.result()

    def close(self) -> None:
        self.state_input.close()
        self.context.try_shutdown()
        self.thread.join(timeout=5)
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()


# ---- the benchmark's actions --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Event:
    """One action of the benchmark on the node, wall clock in ns."""

    kind: str  # init, reset or cycle
    start_ns: int
    end_ns: int
    ok: bool
    detail: str


@functools.cache
def fixed_box() -> tuple[float, float, float, float]:
    """The camera's target on the first frame of its sequence: the init box when no ground truth has come."""
    from jcat_core.data.sources import open_source

    return next(open_source(CAMERA_SOURCE, num_frames=LOOP_FRAMES)).box


class Driver:
    """Calls the node's services and remembers when each call happened (gaps around them are not counted)."""

    def __init__(self, consumer: Consumer) -> None:
        self.consumer = consumer
        self.events: list[Event] = []

    def _timed(self, kind: str, action: Callable[[], tuple[bool, str]]) -> None:
        start = time.time_ns()
        try:
            ok, detail = action()
        except TimeoutError as err:
            ok, detail = False, str(err)
        self.events.append(Event(kind, start, time.time_ns(), ok, detail))
        if not ok:
            print(f"{kind} failed: {detail}", flush=True)

    def init(self) -> None:
        from jcat_ros.init_client import init_request

        def call() -> tuple[bool, str]:
            truth = self.consumer.fresh_truth()
            count = sum(e.kind == "init" for e in self.events) + 1
            request = (init_request(truth.box, truth.stamp, f"soak_{count}") if truth
                       else init_request(fixed_box(), target_id=f"soak_{count}"))
            response = self.consumer.call("init", request)
            return response.success, response.message or ("ground truth" if truth else "fixed box")

        self._timed("init", call)

    def reset(self) -> None:
        from std_srvs.srv import Trigger

        def call() -> tuple[bool, str]:
            response = self.consumer.call("reset", Trigger.Request())
            return response.success, response.message

        self._timed("reset", call)

    def cycle(self) -> None:
        """Deactivate, stay inactive a moment, activate."""
        from lifecycle_msgs.msg import Transition
        from lifecycle_msgs.srv import ChangeState

        def change(transition_id: int) -> bool:
            request = ChangeState.Request()
            request.transition.id = transition_id
            return self.consumer.call("change_state", request).success

        def call() -> tuple[bool, str]:
            if not change(Transition.TRANSITION_DEACTIVATE):
                return False, "deactivate refused"
            time.sleep(INACTIVE_S)
            return (True, "") if change(Transition.TRANSITION_ACTIVATE) else (False, "activate refused")

        self._timed("cycle", call)


@dataclass
class Schedule:
    """When each periodic action is next due (monotonic seconds); an action with period 0 is never due."""

    periods_s: dict[str, float]
    next_at: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        now = time.monotonic()
        self.next_at = {kind: now + period for kind, period in self.periods_s.items() if period > 0}

    def due(self, kind: str) -> bool:
        return kind in self.next_at and time.monotonic() >= self.next_at[kind]

    def done(self, *kinds: str) -> None:
        for kind in kinds:
            if kind in self.next_at:
                self.next_at[kind] = time.monotonic() + self.periods_s[kind]


# ---- the run ------------------------------------------------------------------------------------------------------
@dataclass
class Recording:
    """Everything measured, raw."""

    started_ns: int  # the first ~/init: the soak's time zero
    ended_ns: int
    states: list[StateSample]
    diagnostics: list[DiagSample]
    camera_ns: list[int]
    detections: int
    rss: list[tuple[float, float]]  # (seconds since the start, MB)
    load: list[tuple[float, float]]  # (seconds since the start, the machine's 1-minute load average)
    events: list[Event]


def wait_until(condition: Callable[[], bool], timeout: float, what: str, children: list[Child]) -> None:
    end = time.monotonic() + timeout
    while not condition():
        for child in children:
            child.check()
        if time.monotonic() > end:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


def soak(opts: Options, consumer: Consumer, tracker: Child, camera: Child) -> Recording:
    """Wait for the node's first state, ~/init, then the periodic actions and RSS samples for opts.minutes."""
    children = [tracker, camera]
    wait_until(lambda: consumer.state_count() > 0 and consumer.fresh_truth() is not None, opts.startup_timeout_s,
               "the node's first ~/state and the camera's ground truth", children)
    problem = consumer.domain_problem()
    if problem:
        raise SharedDomainError(problem)
    driver = Driver(consumer)
    started_ns = time.time_ns()
    driver.init()
    rss: list[tuple[float, float]] = []
    load: list[tuple[float, float]] = []  # other users of the machine show here: a loaded machine stalls the node
    schedule = Schedule({"rss": opts.rss_period_s, "init": opts.init_period_s, "reset": opts.reset_period_s,
                         "cycle": opts.cycle_period_s})
    end = time.monotonic() + 60 * opts.minutes
    while time.monotonic() < end:
        for child in children:
            child.check()
        if not rss or schedule.due("rss"):
            problem = consumer.domain_problem()
            if problem:  # what was measured since is not this node's alone
                raise RuntimeError(f"{problem} (another ROS user joined mid-run)")
            now_s = (time.time_ns() - started_ns) / NS
            rss.append((now_s, rss_mb(tracker.proc.pid)))
            load.append((now_s, os.getloadavg()[0]))
            schedule.done("rss")
        if schedule.due("cycle"):
            driver.cycle()
            schedule.done("cycle")
        elif schedule.due("reset"):
            driver.reset()
            time.sleep(RESET_IDLE_S)
            driver.init()
            schedule.done("reset", "init")
        elif schedule.due("init"):
            driver.init()
            schedule.done("init")
        time.sleep(0.1)
    rss.append(((time.time_ns() - started_ns) / NS, rss_mb(tracker.proc.pid)))
    settled = time.time_ns()
    with suppress(TimeoutError):  # one more diagnostics sample, taken after the last action
        wait_until(lambda: bool(consumer.diagnostics) and consumer.diagnostics[-1].at_ns > settled, 5.0,
                   "a last /diagnostics", children)
    with consumer.lock:
        return Recording(started_ns, time.time_ns(), list(consumer.states), list(consumer.diagnostics),
                         list(consumer.camera_ns), consumer.detections, rss, load, driver.events)


# ---- analysis -----------------------------------------------------------------------------------------------------
def rss_slope(samples: list[tuple[float, float]], warmup_s: float) -> tuple[float | None, int]:
    """Least-squares slope of RSS after the warm-up in MB/h, and the samples it is fitted to (None below 3)."""
    kept = [(t, mb) for t, mb in samples if t >= warmup_s]
    if len(kept) < 3:
        return None, len(kept)
    fit = statistics.linear_regression([t for t, _ in kept], [mb for _, mb in kept])
    return 3600 * fit.slope, len(kept)


def frame_period_s(camera_ns: list[int], states: list[StateSample]) -> float:
    """The camera's median frame interval; from the node's outputs when no ground truth arrived."""
    times = camera_ns if len(camera_ns) > 1 else [s.arrived_ns for s in states if not s.stale]
    intervals = [b - a for a, b in itertools.pairwise(times) if b > a]
    return statistics.median(intervals) / NS if intervals else float("nan")


@dataclass(frozen=True)
class Gap:
    """Time between two consecutive ~/state outputs, the first of them TRACKING."""

    seconds: float  # at the consumer's middleware
    start_ns: int
    published_s: float  # between the node's publish times of the same two states (nan when unknown)
    frames_apart_s: float  # between the stamps of the frames the two states describe
    tracker_ms: float  # the node's track() time of the later frame


def excluded_windows(events: list[Event], margin_s: float) -> list[tuple[int, int]]:
    margin = int(margin_s * NS)
    return [(e.start_ns - margin, e.end_ns + margin) for e in events]


def tracking_gaps(states: list[StateSample], windows: list[tuple[int, int]]) -> list[Gap]:
    """Gaps after a TRACKING output, stale-input repeats skipped, those overlapping a window left out."""
    outputs = [s for s in states if not s.stale]
    gaps = []
    for before, after in itertools.pairwise(outputs):
        if before.state != TRACKING or any(before.arrived_ns < w_end and after.arrived_ns > w_start
                                           for w_start, w_end in windows):
            continue
        published = ((after.published_ns - before.published_ns) / NS if before.published_ns and after.published_ns
                     else float("nan"))
        gaps.append(Gap((after.arrived_ns - before.arrived_ns) / NS, before.arrived_ns, published,
                        (after.frame_ns - before.frame_ns) / NS, after.tracker_ms))
    return gaps


def camera_pause_s(camera_ns: list[int], start_ns: int, end_ns: int) -> float:
    """The camera's longest interval between frames overlapping [start_ns, end_ns]."""
    first = max(bisect.bisect_left(camera_ns, start_ns) - 1, 0)
    last = bisect.bisect_right(camera_ns, end_ns) + 1
    stamps = camera_ns[first:last]
    return max((b - a for a, b in itertools.pairwise(stamps)), default=0) / NS


@dataclass(frozen=True)
class Balance:
    """The node's frame counters on one /diagnostics sample (a key it does not report reads 0)."""

    at_s: float
    received: int
    processed: int
    dropped: int
    bad: int
    queued: int
    in_progress: int
    node_says: str  # the node's counters_balanced ("true"/"false"), empty when not reported

    @classmethod
    def of(cls, sample: DiagSample, started_ns: int) -> Balance:
        def count(key: str) -> int:
            return int(sample.values.get(f"frames_{key}") or 0)

        return cls((sample.at_ns - started_ns) / NS, count("received"), count("processed"), count("dropped"),
                   count("bad"), count("queued"), count("in_progress"), sample.values.get("counters_balanced", ""))

    @property
    def accounted(self) -> int:
        return self.processed + self.dropped + self.bad + self.queued + self.in_progress

    @property
    def holds(self) -> bool:
        return self.received == self.accounted and self.queued <= WAITING_MAX and self.in_progress <= WAITING_MAX

    def describe(self) -> str:
        return (f"received {self.received} vs processed {self.processed} + dropped {self.dropped} + bad {self.bad} "
                f"+ queued {self.queued} + in progress {self.in_progress} = {self.accounted}")


def run_totals(balances: list[Balance]) -> dict[str, int]:
    """Frame counts over the whole run: the node counts from 0 at each activation, so each activation's last sample
    (the one before received goes down) is added up."""
    keys = ("received", "processed", "dropped", "bad")
    totals = dict.fromkeys(keys, 0)
    for current, following in zip(balances, [*balances[1:], None], strict=True):
        if following is None or following.received < current.received:
            for key in keys:
                totals[key] += getattr(current, key)
    return totals


# ---- figures and verdict ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    text: str


def rss_check(recording: Recording, opts: Options) -> tuple[Check, dict[str, Any]]:
    slope, fitted = rss_slope(recording.rss, opts.warmup_s)
    mbs = [mb for _, mb in recording.rss]
    figures = {"start_mb": mbs[0], "end_mb": mbs[-1], "peak_mb": max(mbs), "slope_mb_per_h": slope,
               "samples_fitted": fitted, "warmup_s": opts.warmup_s, "samples": recording.rss}
    if slope is None:
        return Check("RSS slope", False, f"INCONCLUSIVE: {fitted} sample(s) after the warm-up, 3 needed"), figures
    text = (f"{slope:+.2f} MB/h over {fitted} samples after a {opts.warmup_s / 60:g}-min warm-up "
            f"(goal <= {RSS_SLOPE_GOAL:g} MB/h)")
    return Check("RSS slope", slope <= RSS_SLOPE_GOAL, text), figures


def tracker_cpu_ms(gap: Gap, diagnostics: list[DiagSample]) -> float | None:
    """The worker thread's CPU time in the later frame's track(), from the first /diagnostics after the gap when
    that frame was its period's slowest (the node reports the slowest frame's wall and CPU time); else None."""
    end_ns = gap.start_ns + int(gap.seconds * NS)
    after = next((d for d in diagnostics if d.at_ns >= end_ns and d.values.get("track_max_ms")), None)
    if after is None or abs(float(after.values["track_max_ms"]) - gap.tracker_ms) > 0.1:
        return None
    return float(after.values["track_max_cpu_ms"])


def describe_gap(gap: Gap, recording: Recording, period_s: float) -> dict[str, Any]:
    """One gap with what tells its cause apart: the node's publish times, the frames' stamps and track() time with
    its CPU time (the rest the worker waited for a core), the camera's own pause, the machine's load and the
    benchmark's last action before it."""
    before = [e for e in recording.events if e.start_ns <= gap.start_ns]
    at_s = (gap.start_ns - recording.started_ns) / NS
    return {"seconds": gap.seconds, "periods": gap.seconds / period_s,
            "at_s": at_s, "published_apart_s": gap.published_s,
            "load_1min": min(recording.load, key=lambda sample: abs(sample[0] - at_s))[1],
            "camera_frames_apart": round(gap.frames_apart_s / period_s), "tracker_ms_after": gap.tracker_ms,
            "tracker_cpu_ms_after": tracker_cpu_ms(gap, recording.diagnostics),
            "camera_longest_pause_s": camera_pause_s(recording.camera_ns, gap.start_ns,
                                                     gap.start_ns + int(gap.seconds * NS)),
            "last_action_before": (f"{before[-1].kind} at {(before[-1].start_ns - recording.started_ns) / NS:.1f} s"
                                   if before else "none")}


def cpu_share(cpu_ms: float | None) -> str:
    return "" if cpu_ms is None else f" ({cpu_ms:.0f} ms of them on the CPU)"


def camera_steady(gap: Gap, camera_ns: list[int], period_s: float) -> bool:
    """Whether the camera published throughout the gap, no pause over CAMERA_STEADY periods: the node had frames."""
    end_ns = gap.start_ns + int(gap.seconds * NS)
    return camera_pause_s(camera_ns, gap.start_ns, end_ns) <= CAMERA_STEADY * period_s


def gap_check(recording: Recording, opts: Options, period_s: float) -> tuple[Check, dict[str, Any]]:
    gaps = tracking_gaps(recording.states, excluded_windows(recording.events, opts.event_margin_s))
    if not gaps or period_s != period_s:  # NaN: no interval measured
        return Check("output gap", False, "INCONCLUSIVE: no TRACKING output measured"), {"gaps_measured": 0}
    worst = describe_gap(max(gaps, key=lambda g: g.seconds), recording, period_s)
    over = [describe_gap(g, recording, period_s) for g in gaps if g.seconds > GAP_GOAL * period_s]
    # Beside the check, not instead of it: the longest gap while the camera kept publishing, which a stalled camera
    # or machine (the camera's own pause shows it) cannot make.
    steady = [g.seconds / period_s for g in gaps if camera_steady(g, recording.camera_ns, period_s)]
    figures = {"gaps_measured": len(gaps), "longest_s": worst["seconds"], "longest_periods": worst["periods"],
               "worst": worst, "over_goal": len(over), "over_goal_first": over[:20],
               "worst_periods": sorted((round(g.seconds / period_s, 2) for g in gaps), reverse=True)[:10],
               "camera_steady_gaps": len(steady), "camera_steady_longest_periods": max(steady, default=None)}
    text = (f"{worst['periods']:.2f} frame periods ({1000 * worst['seconds']:.0f} ms) at t={worst['at_s']:.1f} s: "
            f"published {1000 * worst['published_apart_s']:.0f} ms apart by the node, for camera frames "
            f"{worst['camera_frames_apart']} apart, the later tracked in {worst['tracker_ms_after']:.0f} ms"
            f"{cpu_share(worst['tracker_cpu_ms_after'])}; camera's "
            f"longest pause in it {1000 * worst['camera_longest_pause_s']:.0f} ms; machine load "
            f"{worst['load_1min']:.2f}; last action before it: {worst['last_action_before']}; {len(over)} of "
            f"{len(gaps)} gaps over the goal (goal <= {GAP_GOAL:g}); {steady_text(steady)}")
    return Check("output gap", worst["periods"] <= GAP_GOAL, text), figures


def steady_text(steady: list[float]) -> str:
    if not steady:
        return "no gap with the camera publishing steadily"
    return (f"with the camera publishing steadily (no pause over {CAMERA_STEADY:g} periods) the longest gap was "
            f"{max(steady):.2f} periods, in {len(steady)} gaps")


def invariant_check(recording: Recording) -> tuple[Check, dict[str, Any]]:
    balances = [Balance.of(s, recording.started_ns) for s in recording.diagnostics if "frames_received" in s.values]
    misses = [b for b in balances if not b.holds]
    node_false = sum(b.node_says == "false" for b in balances)
    figures = {"held": bool(balances) and not misses, "samples": len(balances), "violations": len(misses),
               "first_violation": asdict(misses[0]) if misses else None,
               "frames_queued_reported": any("frames_queued" in s.values for s in recording.diagnostics),
               "node_counters_balanced_false": node_false, "totals": run_totals(balances)}
    if not balances:
        return Check("counter invariant", False, "INCONCLUSIVE: no /diagnostics sample with frame counters"), figures
    text = f"held on {len(balances) - len(misses)} of {len(balances)} /diagnostics samples"
    if misses:
        text += f"; first miss at t={misses[0].at_s:.1f} s: {misses[0].describe()}"
    text += f"; the node's counters_balanced said false on {node_false}"
    return Check("counter invariant", not misses, text), figures


def action_counts(events: list[Event]) -> dict[str, dict[str, int]]:
    return {kind: {"done": sum(e.kind == kind and e.ok for e in events),
                   "failed": sum(e.kind == kind and not e.ok for e in events)} for kind in ("init", "reset", "cycle")}


def analyse(recording: Recording, opts: Options) -> tuple[list[Check], dict[str, Any]]:
    """The three checks and every figure behind them."""
    period = frame_period_s(recording.camera_ns, recording.states)
    duration = (recording.ended_ns - recording.started_ns) / NS
    soaked = [s for s in recording.states if s.arrived_ns >= recording.started_ns]
    outputs = [s for s in soaked if not s.stale]
    checks_and_figures = [rss_check(recording, opts), gap_check(recording, opts, period),
                          invariant_check(recording)]
    figures = {
        "benchmark": "soak", "options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(opts).items()},
        "duration_s": duration, "frame_period_s": period, "cpu_count": os.cpu_count(),
        "load_1min": {"median": statistics.median(v for _, v in recording.load),
                      "max": max(v for _, v in recording.load), "samples": recording.load},
        "camera_fps": (len(recording.camera_ns) - 1) * NS / (recording.camera_ns[-1] - recording.camera_ns[0])
        if len(recording.camera_ns) > 1 else None,
        "processed_fps": len(outputs) / duration, "states": len(recording.states),
        "stale_states_at_s": [round((s.arrived_ns - recording.started_ns) / NS, 2) for s in soaked if s.stale],
        "detections": recording.detections,
        "diagnostics": len(recording.diagnostics), "actions": action_counts(recording.events),
        "events": [asdict(e) for e in recording.events],
        "rss": checks_and_figures[0][1], "gaps": checks_and_figures[1][1], "invariant": checks_and_figures[2][1],
    }
    checks = [check for check, _ in checks_and_figures]
    figures["checks"] = {c.name: {"passed": c.passed, "text": c.text} for c in checks}
    figures["passed"] = all(c.passed for c in checks)
    return checks, figures


def report(checks: list[Check], figures: dict[str, Any]) -> str:
    opts, rss, actions = figures["options"], figures["rss"], figures["actions"]
    totals = figures["invariant"]["totals"]
    camera_fps = figures["camera_fps"] or float("nan")
    load = figures["load_1min"]
    lines = [
        f"JCAT soak: {figures['duration_s'] / 60:.1f} min, weights={opts['weights']}, "
        f"cpu_threads={opts['cpu_threads']}; machine: {figures['cpu_count']} cores, 1-min load average "
        f"{load['median']:.2f} median, {load['max']:.2f} max during the run",
        f"  camera: {camera_fps:.2f} frames/s, frame period {1000 * figures['frame_period_s']:.1f} ms (median)",
        f"  node: {figures['processed_fps']:.2f} frames/s processed (states received; "
        f"{len(figures['stale_states_at_s'])} stale-input repeats), {figures['detections']} detections messages, "
        f"{figures['diagnostics']} diagnostics samples",
        f"  node counters over all activations: received {totals['received']}, processed {totals['processed']}, "
        f"dropped {totals['dropped']}, bad {totals['bad']}",
        "  actions: " + ", ".join(f"{kind} {n['done']} done, {n['failed']} failed" for kind, n in actions.items()),
        f"  tracker RSS: start {rss['start_mb']:.1f} MB, end {rss['end_mb']:.1f} MB, peak {rss['peak_mb']:.1f} MB, "
        f"{len(rss['samples'])} samples every {opts['rss_period_s']:g} s",
    ]
    lines += [f"CHECK {c.name}: {'PASS' if c.passed else 'FAIL'}: {c.text}" for c in checks]
    failed = [c.name for c in checks if not c.passed]
    lines.append(f"VERDICT: {'FAIL (' + ', '.join(failed) + ')' if failed else 'PASS'}")
    return "\n".join(lines)


def json_safe(value: Any) -> Any:
    """NaN -> null, recursively (JSON has no NaN)."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


# ---- main ---------------------------------------------------------------------------------------------------------
def measure(opts: Options) -> tuple[Recording, list[Child]]:
    """The soak in a random domain; another one when the domain turns out to be shared before the soak begins."""
    for _ in range(DOMAIN_TRIES - 1):
        try:
            return measure_in(opts, random.randint(1, 100))
        except SharedDomainError as err:
            print(f"{err}; trying another domain", flush=True)
    return measure_in(opts, random.randint(1, 100))


def measure_in(opts: Options, domain_id: int) -> tuple[Recording, list[Child]]:
    os.environ.update(ros_environment(domain_id))  # read by the children and by this process's participant
    with child_process("tracker", tracker_args(opts)) as tracker, child_process("camera", camera_args(opts)) as camera:
        consumer = Consumer(domain_id)
        try:
            print(f"soaking for {opts.minutes:g} min (domain {domain_id}) ...", flush=True)
            return soak(opts, consumer, tracker, camera), [tracker, camera]
        finally:
            consumer.close()


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks (children stopped) on SIGTERM
    try:
        recording, children = measure(opts)
    except (RuntimeError, TimeoutError) as err:
        print(f"VERDICT: FAIL: nothing measured: {err}")
        return 2
    except KeyboardInterrupt:
        print("interrupted; the node and the camera were stopped", file=sys.stderr)
        return 130
    checks, figures = analyse(recording, opts)
    problems = log_problems(children[0].log_path)
    figures["node_log_problems"] = problems[:20]
    print(report(checks, figures))
    if problems:
        print(f"node log: {len(problems)} warning/error line(s), e.g. {problems[0]}; kept at {children[0].log_path}")
    if opts.json_path is not None:
        opts.json_path.write_text(json.dumps(json_safe(figures), indent=2) + "\n")
    for child in children:
        if opts.keep_logs or (problems and child.name == "tracker"):
            print(f"{child.name} log kept at {child.log_path}")
        else:
            child.log_path.unlink(missing_ok=True)
    return 0 if figures["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
