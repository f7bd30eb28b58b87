"""`jcat-bag replay`: node in the loop. The bag's frames are published to a running tracker node with their
recorded timing (or N times faster), the target is initialised through ~/init, every output is recorded into a
result bag, and the run is summarised with accuracy and system figures.

Timing: each frame is published at its bag-time offset / speed and, unless --clock is given, restamped with the
wall clock at publication, as a live camera stamps its frames; latency is then "output received - header stamp".
With --clock the original stamps are kept and /clock carries bag time (for nodes with use_sim_time); latency is
measured from the frame's publication, the same instant as the restamped case. Frames without an output are
counted as dropped; the node's own counters (busy drops, lost before the node) come from /diagnostics.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.qos import qos_profile_sensor_data
from rclpy.serialization import deserialize_message, serialize_message
from rosbags.rosbag2 import Writer
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from vision_msgs.msg import Detection2DArray

from jcat_core.eval.metrics import mask_iou
from jcat_ros.bag import types as T
from jcat_ros.bag.evaluate import initial_target, record_truth
from jcat_ros.bag.reader import Bag, GroundTruth
from jcat_ros.bag.records import FOUND, FrameRecord, RunResult, fill_ious, latency_figures
from jcat_ros.bag.writer import INIT_TOPIC, STORAGES, BagError, prepare_output
from jcat_ros.image_conversion import to_rgb8
from jcat_ros.init_client import init_request
from jcat_ros.message_fields import box_xywh, time_ns
from jcat_ros.msg import TrackerState
from jcat_ros.probe import Probe, ProbeTimeoutError
from jcat_ros.srv import InitTarget
from jcat_ros.tracker_outputs import STATE_NAMES

INPUT_HEADERS = "/jcat_bag/input_headers"  # the header of every frame as published, in order: output -> frame


@dataclass
class ReplayOptions:
    """What to replay, into which node, how fast, and where the outputs go."""

    bag: Path
    out: Path  # result bag folder
    node: str = "/jcat_tracker"
    topic: str | None = None  # where to publish the frames; default the bag's own image topic
    image_topic: str | None = None  # the bag's camera topic, when it has several
    speed: float = 1.0  # x N of the recorded timing
    clock: bool = False  # keep the stamps and publish /clock (use_sim_time)
    box: tuple[float, float, float, float] | None = None
    init_frame: int = 0
    target_id: str = "target"
    init_client: bool = False  # initialise with `init_client` in its own process, as from another terminal
    max_frames: int = 0
    timeout: float = 60.0
    settle: float = 3.0  # seconds to wait for outputs after the last frame
    storage: str = "mcap"
    force: bool = False


def frame_time(stamp: Time) -> str:
    return f"{stamp.sec}.{stamp.nanosec:09d}"


class SimClock:
    """Recorded time for /clock (in the header stamps' time base): runs at `speed` from an anchor, frozen while
    the replay waits for ~/init."""

    def __init__(self, speed: float) -> None:
        self.speed, self.lock = speed, threading.Lock()
        self.wall0, self.bag0, self.frozen = time.monotonic_ns(), 0, True

    def set(self, bag_ns: int, running: bool) -> None:
        with self.lock:
            self.wall0, self.bag0, self.frozen = time.monotonic_ns(), bag_ns, not running

    def now(self) -> int:
        with self.lock:
            return self.bag0 if self.frozen else self.bag0 + int((time.monotonic_ns() - self.wall0) * self.speed)


class MemorySampler:
    """Peak resident memory of the node's processes (and their children) and GPU memory from nvidia-smi."""

    def __init__(self, pids: list[int]) -> None:
        self.pids, self.peak_rss, self.peak_gpu_mib = pids, 0, None
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        if pids:
            self.thread.start()

    def _processes(self) -> list[psutil.Process]:
        found = []
        for pid in self.pids:
            try:
                root = psutil.Process(pid)
                found += [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                pass
        return found

    def _run(self) -> None:
        while not self.stop_event.wait(0.5):
            processes = self._processes()
            rss = 0
            for p in processes:
                with contextlib.suppress(psutil.NoSuchProcess):
                    rss += p.memory_info().rss
            self.peak_rss = max(self.peak_rss, rss)
            gpu = self._gpu_mib({p.pid for p in processes})
            if gpu is not None:
                self.peak_gpu_mib = max(self.peak_gpu_mib or 0, gpu)

    @staticmethod
    def _gpu_mib(pids: set[int]) -> int | None:
        try:
            out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,"
                                  "nounits"], capture_output=True, text=True, timeout=5).stdout
        except (OSError, subprocess.TimeoutExpired):
            return None
        rows = [line.split(",") for line in out.splitlines() if "," in line]
        used = [int(mib) for pid, mib in rows if int(pid) in pids]
        return sum(used) if used else None

    def stop(self) -> dict:
        self.stop_event.set()
        if self.thread.is_alive():
            self.thread.join(timeout=2)
        if not self.pids:
            return {"peak_rss_mib": None, "peak_gpu_mib": None, "note": "attached to a node started elsewhere"}
        return {"peak_rss_mib": round(self.peak_rss / 2**20, 1), "peak_gpu_mib": self.peak_gpu_mib}


class Replay:
    """One replay of a bag into a tracker node; `run()` returns the RunResult (its records and figures)."""

    def __init__(self, options: ReplayOptions, weights: str = "", node_pids: list[int] | None = None,
                 progress: Callable[[str], None] = print) -> None:
        if options.speed <= 0:
            raise BagError(f"--speed must be positive, got {options.speed}")
        self.options, self.weights, self.progress = options, weights, progress
        self.node_pids = node_pids or []
        prepare_output(options.out, options.force)
        self.bag = Bag(options.bag, options.image_topic)
        self.compressed = self.bag.image_type == T.COMPRESSED
        self.topic = options.topic or self.bag.image_topic
        self.probe = Probe("jcat_bag_replay", int(os.environ.get("ROS_DOMAIN_ID", "0")))
        node = options.node.rstrip("/")
        self.outputs = {
            f"{node}/state": (TrackerState, self.probe.record(TrackerState, f"{node}/state", 100, True)),
            f"{node}/detections": (Detection2DArray, self.probe.record(Detection2DArray, f"{node}/detections", 100,
                                                                       True)),
            f"{node}/mask": (Image, self.probe.record(Image, f"{node}/mask", 100, True)),
            "/diagnostics": (DiagnosticArray, self.probe.record(DiagnosticArray, "/diagnostics", 100, True)),
        }
        self.states = self.outputs[f"{node}/state"][1]
        self.publisher = self.probe.publisher(CompressedImage if self.compressed else Image, self.topic,
                                              qos_profile_sensor_data)
        self.clock = SimClock(options.speed)
        self.clock_pub = self.probe.publisher(Clock, "/clock", 10) if options.clock else None
        self.published: list[tuple[int, int, Header]] = []  # (frame index, publication wall ns, header as sent)
        self.init_sent: tuple[int, InitTarget.Request] | None = None
        self.interrupted = False

    # ---- publishing -----------------------------------------------------------------------------------------
    def _tick_clock(self, stop: threading.Event) -> None:
        while not stop.wait(0.01):
            self.clock_pub.publish(Clock(clock=Time(sec=(now := self.clock.now()) // 10**9, nanosec=now % 10**9)))

    def _publish(self, index: int, frame) -> Header:
        msg = deserialize_message(frame.raw, CompressedImage if self.compressed else Image)
        now = time.time_ns()  # the publication instant: the stamp, unless the original stamps are kept
        if not self.options.clock:
            msg.header.stamp = Time(sec=now // 10**9, nanosec=now % 10**9)
        self.publisher.publish(msg)
        self.published.append((index, now, msg.header))
        return msg.header

    def _output_for(self, head: Header) -> bool:
        return any(m.header.stamp == head.stamp for _, m in list(self.states))

    def _wait_for_node(self) -> None:
        self.progress(f"waiting for {self.options.node} (subscribed to {self.topic})")
        self.probe.wait_for(lambda: self._node_error() or self.publisher.get_subscription_count() > 0,
                            self.options.timeout,
                            f"a subscriber on {self.topic} (is the tracker node running, remapped to it?)")
        if self._node_error():
            raise BagError(f"the tracker node reports an error: {self._node_error()}")
        state = f"{self.options.node.rstrip('/')}/state"
        self.probe.wait_for(lambda: self.probe.node.count_publishers(state) > 0, self.options.timeout,
                            f"the node's {state} (is the node active?)")

    def _node_status(self) -> DiagnosticStatus | None:
        """The tracker node's newest diagnostic status (its name starts with the node's), None before the first."""
        name = self.options.node.strip("/").split("/")[-1]
        for _, msg in reversed(list(self.outputs["/diagnostics"][1])):
            for status in msg.status:
                if status.name.startswith(name):
                    return status
        return None

    def _node_error(self) -> str:
        """Why the node cannot track, when its newest diagnostics say so (e.g. the weights could not be loaded)."""
        status = self._node_status()
        return status.message if status is not None and status.level == DiagnosticStatus.ERROR else ""

    def _initialise(self, index: int, frame, init: dict) -> None:
        """Publish the init frame until the node has answered for it, then send ~/init with its stamp."""
        for _ in range(5):
            head = self._publish(index, frame)
            try:
                self.probe.wait_for(lambda h=head: self._output_for(h), min(10.0, self.options.timeout),
                                    f"the node's output for frame {index}")
                break
            except ProbeTimeoutError:
                continue  # a best-effort frame can be lost: send it again
        else:
            raise ProbeTimeoutError(f"the node never answered frame {index} of {self.options.bag}")
        box = tuple(init["box"])
        request = init_request(box, head.stamp, self.options.target_id)
        self.init_sent = (time.time_ns(), request)
        x, y, w, h = box
        command = (f"init_client --box {x:.1f},{y:.1f},{w:.1f},{h:.1f} --stamp {frame_time(head.stamp)} "
                   f"--target-id {self.options.target_id} --node {self.options.node}")
        if self.options.init_client:
            self.progress(f"$ ros2 run jcat_ros {command}")
            done = subprocess.run([sys.executable, "-m", "jcat_ros.init_client", *command.split()[1:]],
                                  capture_output=True, text=True, timeout=self.options.timeout)
            self.progress(f"  {(done.stdout + done.stderr).strip()}")
            if done.returncode != 0:
                raise BagError(f"~/init refused: {(done.stdout + done.stderr).strip()}")
        else:
            response = self.probe.call(InitTarget, f"{self.options.node.rstrip('/')}/init", request,
                                       self.options.timeout)
            if not response.success:
                raise BagError(f"~/init refused: {response.message}")
            self.progress(f"~/init on frame {index}: tracking {response.target_id!r}")

    def run(self) -> RunResult:
        options = self.options
        truth = self.bag.ground_truth()
        stamps = self.bag.frame_index(options.max_frames)
        if not stamps:
            raise BagError(f"{self.bag.path}: no messages on {self.bag.image_topic}")
        init = initial_target(self.bag, truth, stamps, options.box, options.init_frame)
        frames = self.bag.frames()
        result = RunResult("replay", str(self.bag.path), self.bag.image_topic, self.weights, init)
        self._wait_for_node()
        stop_clock = threading.Event()
        if self.clock_pub is not None:
            self.clock.set(stamps[0].stamp_ns, running=False)
            threading.Thread(target=self._tick_clock, args=(stop_clock,), daemon=True).start()
        sampler = MemorySampler(self.node_pids)
        original: dict[int, int] = {}  # frame index -> original stamp
        try:
            self._send(frames, init, original)
            self._settle(result)
        except KeyboardInterrupt:  # what was replayed before Ctrl-C is still recorded and reported
            result.problems.append(f"interrupted after {len(self.published)} frames; the report covers those")
            self.interrupted = True
        finally:
            stop_clock.set()
            memory = sampler.stop()
        result.problems.extend(self.bag.problems)
        self._fill(result, truth, original)
        result.system.update(memory)
        self._write_result_bag()
        return result

    def _send(self, frames, init: dict, original: dict[int, int]) -> None:
        """Publish the frames on their schedule, pausing at the init frame for ~/init."""
        anchor_wall, anchor_bag, last_report = None, 0, time.monotonic()
        for frame in frames:
            index = frame.index
            if self.options.max_frames and index >= self.options.max_frames:
                break
            original[index] = frame.stamp_ns
            if index == init["frame"]:  # /clock (header-stamp time) stands still while ~/init is answered
                self.clock.set(frame.stamp_ns, running=False)
                self._initialise(index, frame, init)
                anchor_wall, anchor_bag = time.monotonic_ns(), frame.bag_ns
                self.clock.set(frame.stamp_ns, running=True)
                continue
            if anchor_wall is None:
                anchor_wall, anchor_bag = time.monotonic_ns(), frame.bag_ns
                self.clock.set(frame.stamp_ns, running=True)
            delay = (anchor_wall + (frame.bag_ns - anchor_bag) / self.options.speed - time.monotonic_ns()) / 1e9
            if delay > 0:
                time.sleep(delay)
            self._publish(index, frame)
            if time.monotonic() - last_report >= 1.0:
                last_report = time.monotonic()
                self._report_progress()

    def _settle(self, result: RunResult) -> None:
        """Wait for the last frame's outputs and for a /diagnostics message with the final counters."""
        last = self.published[-1][2] if self.published else None
        end = time.monotonic() + self.options.settle
        while time.monotonic() < end and last is not None and not self._output_for(last):
            time.sleep(0.05)
        time.sleep(0.3)  # the last mask and detections follow the state by a little
        seen = len(self.outputs["/diagnostics"][1])
        try:
            self.probe.wait_for(lambda: len(self.outputs["/diagnostics"][1]) > seen, 3.0,
                                "a diagnostics message after the last frame")
        except ProbeTimeoutError:
            result.problems.append("no /diagnostics after the last frame: the node's counters may be stale")

    def _report_progress(self) -> None:
        init_stamp = self.init_sent[1].stamp if self.init_sent else None
        tracked = [item for item in list(self.states) if item[1].header.stamp != init_stamp]
        if tracked:
            last = tracked[-1][1]
            self.progress(f"{len(self.published):4d} frames sent, {len(tracked):4d} answered  state "
                          f"{STATE_NAMES.get(last.state, '?'):<9} score {last.score:.2f}  latency "
                          f"{last.latency_ms:5.0f} ms  dropped {last.frames_dropped}")

    # ---- results ----------------------------------------------------------------------------------------------
    def _fill(self, result: RunResult, truth: GroundTruth, original: dict[int, int]) -> None:
        """Per-frame records from the outputs, matched to the published frames by header, and system figures."""
        sent = {(time_ns(h.stamp), h.frame_id): (index, wall) for index, wall, h in self.published}
        first_sent = self._first_sent()
        records = {index: FrameRecord(index, original[index]) for index in sorted(first_sent)}
        for r in records.values():
            record_truth(r, truth)
        matched = total = 0
        for topic, (_, messages) in self.outputs.items():
            if topic == "/diagnostics":
                continue
            for _, msg in messages:
                total += 1
                matched += (time_ns(msg.header.stamp), msg.header.frame_id) in sent
        receipts = []
        for received, msg in list(self.states):
            key = (time_ns(msg.header.stamp), msg.header.frame_id)
            if key not in sent:
                continue
            index = sent[key][0]
            r = records[index]
            if r.state != "DROPPED" and not (r.state == "IDLE" and msg.state != TrackerState.IDLE):
                continue  # the first answer counts (the init frame is answered IDLE, then TRACKING)
            r.state, r.score = STATE_NAMES[msg.state], float(msg.score)
            r.box = box_xywh(msg.bbox) if r.state in FOUND else None
            r.sent_ns = first_sent[index][0]
            if index != result.init["frame"]:  # the init frame's answer waits for ~/init: not a tracking latency
                r.latency_ms = (received - r.sent_ns) / 1e6
            if index > result.init["frame"]:
                receipts.append(received)
        masks = self._masks()
        for index, (_, head) in first_sent.items():
            r = records[index]
            if r.stamp_ns not in truth.masks or index <= result.init["frame"] or r.state == "DROPPED":
                continue
            gt = truth.mask(r.stamp_ns)
            out = masks.get(time_ns(head.stamp))
            r.mask_iou = mask_iou(to_rgb8(out)[..., 0] > 127 if out is not None and r.state in FOUND
                                  else np.zeros_like(gt), gt)
        result.records = list(records.values())
        fill_ious(result.records)
        result.system = self._system(result, matched, total, sorted(receipts))

    def _first_sent(self) -> dict[int, tuple[int, Header]]:
        """frame index -> (publication wall ns, header) of its first sending: a re-sent init frame counts once."""
        first: dict[int, tuple[int, Header]] = {}
        for index, wall, head in self.published:
            first.setdefault(index, (wall, head))
        return first

    def _masks(self) -> dict[int, Image]:
        """The node's mask outputs by header stamp (ns)."""
        return {time_ns(m.header.stamp): m for _, m in self.outputs[f"{self.options.node.rstrip('/')}/mask"][1]}

    def _system(self, result: RunResult, matched: int, total: int, receipts: list[int]) -> dict:
        after = [r for r in result.records if r.index > result.init["frame"]]
        answered = [r for r in after if r.state != "DROPPED"]
        latencies = [r.latency_ms for r in answered if r.latency_ms is not None]
        span = (receipts[-1] - receipts[0]) / 1e9 if len(receipts) > 1 else 0.0
        intervals = np.diff(receipts) / 1e6 if len(receipts) > 2 else np.array([])
        status = self._node_status()
        node = {kv.key: kv.value for kv in status.values} if status is not None else {}
        bag_span = ((after[-1].stamp_ns - after[0].stamp_ns) / 1e9 if len(after) > 1 else 0.0)
        return {
            "frames_published": len(result.records),
            "frames_answered": sum(r.state != "DROPPED" for r in result.records),
            "frames_answered_before_init": len(result.before_init()),  # IDLE: out before the init took effect
            "frames_dropped": sum(r.state == "DROPPED" for r in result.records),
            "fps": (len(receipts) - 1) / span if span > 0 else 0.0,
            "input_fps": (len(after) - 1) / (bag_span / self.options.speed) if bag_span > 0 else 0.0,
            "speed": self.options.speed,
            "latency": latency_figures(latencies),
            "latency_jitter_ms": statistics.pstdev(latencies) if len(latencies) > 1 else 0.0,
            "output_interval_std_ms": float(intervals.std()) if intervals.size else 0.0,
            "outputs_with_input_header": matched,
            "outputs": total,
            "node": {k: node.get(k) for k in ("device", "frames_received", "frames_processed", "frames_dropped",
                                              "frames_lost_before_node", "frames_bad", "last_frame_error")},
            "clock": "bag time on /clock, original stamps" if self.options.clock else "wall clock, restamped",
        }

    def _write_result_bag(self) -> None:
        """Every output received, at its receipt time, plus the input headers and the init request sent."""
        types = {"/diagnostics": T.DIAGNOSTICS, INIT_TOPIC: T.INIT_REQUEST, INPUT_HEADERS: "std_msgs/msg/Header"}
        for topic in self.outputs:
            types.setdefault(topic, {TrackerState: T.TRACKER_STATE, Detection2DArray: T.DETECTIONS,
                                     Image: T.IMAGE}.get(self.outputs[topic][0]))
        self.options.out.parent.mkdir(parents=True, exist_ok=True)
        with Writer(self.options.out, version=9, storage_plugin=STORAGES[self.options.storage]) as writer:
            connections = {topic: T.add_connection(writer, topic, kind) for topic, kind in types.items()}
            rows = [(received, topic, msg) for topic, (_, messages) in self.outputs.items()
                    for received, msg in list(messages)]
            rows += [(wall, INPUT_HEADERS, head) for _, wall, head in self.published]
            if self.init_sent is not None:
                rows.append((self.init_sent[0], INIT_TOPIC, self.init_sent[1]))
            for at, topic, msg in sorted(rows, key=lambda row: row[0]):
                writer.write(connections[topic], at, serialize_message(msg))

    def write_video(self, result: RunResult, video) -> None:
        """The replayed frames with the node's masks and boxes (report.OverlayVideo)."""
        first_sent = {index: time_ns(head.stamp) for index, (_, head) in self._first_sent().items()}
        masks = self._masks()
        records = {r.index: r for r in result.records}
        for frame in self.bag.frames():
            if frame.index not in records:
                break
            record = records[frame.index]
            mask_msg = masks.get(first_sent[frame.index]) if record.state in FOUND else None
            video.add(to_rgb8(frame.message()), record, None if mask_msg is None else to_rgb8(mask_msg)[..., 0] > 127)

    def close(self) -> None:
        self.bag.close()
        self.probe.close()
