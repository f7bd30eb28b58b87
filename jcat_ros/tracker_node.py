"""The JCAT tracker as a ROS 2 lifecycle node (default name jcat_tracker).

configure builds the tracker, activate subscribes to `image` (or `image/compressed`) and advertises the outputs,
deactivate stops processing, cleanup frees the model. An input thread takes each frame as it arrives, outside the
executor; a worker thread tracks the newest frame only; frames that arrive while it is busy replace the pending one
and are counted as dropped. ~/init and ~/reset are served in every state so that a refusal can say why; nothing a
client or a camera sends stops the node.
"""

from __future__ import annotations

import collections
import gc
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.executors import ExternalShutdownException
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.subscription import MessageInfo
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from std_srvs.srv import Trigger
from vision_msgs.msg import Detection2DArray

from jcat_ros.executor import InlineSubscriptionExecutor
from jcat_ros.frame_buffer import Frame, FrameHistory, LatestFrame
from jcat_ros.image_conversion import ImageConversionError, cv2_to_imgmsg, to_rgb8
from jcat_ros.malloc_tuning import keep_freed_frame_buffers
from jcat_ros.message_fields import time_ns
from jcat_ros.msg import TrackerState
from jcat_ros.node_params import TRACKER_PREFIX, NodeParams, declare_node_params
from jcat_ros.srv import InitTarget
from jcat_ros.subscription_thread import SubscriptionThread
from jcat_ros.tracker_outputs import FrameResult, detections_msg, mask_msg, overlay, state_msg, state_name

INIT_TIMEOUT_S = 30.0
GIL_SWITCH_INTERVAL_S = 1e-4  # a thread waiting for the GIL gets it after 0.1 ms instead of Python's 5 ms


@dataclass
class Job:
    """Work the service threads hand to the worker, so the tracker is only ever touched by one thread."""

    run: Callable[[], tuple[bool, str]]
    done: threading.Event = field(default_factory=threading.Event)
    result: tuple[bool, str] = (False, "not run")


@dataclass
class Stats:
    """Counters since activation and per-diagnostics-period samples."""

    received: int = 0
    processed: int = 0
    bad_frames: int = 0
    lost_before_node: int = 0  # sent by a publisher but never delivered to the callback
    last_sequence: dict[str, int] = field(default_factory=dict)  # publisher gid -> last publication sequence
    last_error: str = ""
    latencies_ms: collections.deque = field(default_factory=lambda: collections.deque(maxlen=1000))
    track_ms: collections.deque = field(default_factory=lambda: collections.deque(maxlen=1000))  # track() alone
    processed_at_last_report: int = 0


def answer_errors(callback: Callable) -> Callable:
    """Wrap a service callback so that an unexpected error becomes a refusal with its reason, never a crash."""

    def guarded(request, response):
        try:
            return callback(request, response)
        except Exception as err:  # a bug in one request must not take the node down
            response.success, response.message = False, f"internal error: {type(err).__name__}: {err}"
            return response

    return guarded


class TrackerNode(LifecycleNode):
    """Lifecycle node running the JCAT tracker on a camera topic."""

    def __init__(self, name: str = "jcat_tracker") -> None:
        super().__init__(name)
        self.params: NodeParams = declare_node_params(self)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.tracker = None
        self.error = ""  # why the node cannot track (configure failed), shown in diagnostics and service replies
        self.device_name = "none"
        self.target_id = ""
        self.target_count = 0
        self.frames_tracked = 0
        self.state = "IDLE"
        self.last_processed_received_ns = -1
        self.history = FrameHistory(self.params.history_size)
        self.mailbox = LatestFrame()
        self.jobs: collections.deque[Job] = collections.deque()
        self.stats = Stats()
        self.worker: threading.Thread | None = None
        self.running = threading.Event()
        self.image_input: SubscriptionThread | None = None
        self.image_topic = ""
        self.publishers_: dict[str, object] = {}

        services = ReentrantCallbackGroup()
        self.create_service(InitTarget, "~/init", answer_errors(self._on_init), callback_group=services)
        self.create_service(Trigger, "~/reset", answer_errors(self._on_reset), callback_group=services)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(self.params.diagnostics_period, self._publish_diagnostics,
                          callback_group=MutuallyExclusiveCallbackGroup())
        self.last_report = time.monotonic()

    # ---- lifecycle ---------------------------------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self.tracker, self.device_name = self.params.build_tracker()
        except Exception as err:
            self.error = f"could not build the tracker: {err}"
            self.get_logger().error(self.error)
            return TransitionCallbackReturn.FAILURE
        self.error = ""
        reliability = (ReliabilityPolicy.BEST_EFFORT if self.params.reliability == "best_effort"
                       else ReliabilityPolicy.RELIABLE)
        image_qos = QoSProfile(depth=1, reliability=reliability)
        if self.params.image_transport == "compressed":
            self.subscription_args = (CompressedImage, "image/compressed", image_qos)
        else:
            self.subscription_args = (Image, "image", image_qos)
        self.publishers_ = {
            "detections": self.create_lifecycle_publisher(Detection2DArray, "~/detections", 10),
            "mask": self.create_lifecycle_publisher(Image, "~/mask", 10),
            "state": self.create_lifecycle_publisher(TrackerState, "~/state", 10),
            "debug": self.create_lifecycle_publisher(Image, "~/debug_image", 2),
        }
        self.get_logger().info(f"tracker ready on {self.device_name}")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.stats = Stats()
        self.mailbox.reopen()
        self.running.set()
        self.worker = threading.Thread(target=self._work, name="jcat_tracker_worker", daemon=True)
        self.worker.start()
        message_type, topic, qos = self.subscription_args
        self.image_input = SubscriptionThread(self, message_type, topic, self._on_image, qos,
                                              name="jcat_tracker_input", on_error=self._input_error)
        self.image_topic = self.image_input.topic_name
        self.get_logger().info(f"tracking on {self.image_topic}")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_worker()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_worker()
        for publisher in self.publishers_.values():
            self.destroy_lifecycle_publisher(publisher)
        self.publishers_ = {}
        self._release_tracker()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_worker()
        self._release_tracker()
        return TransitionCallbackReturn.SUCCESS

    def _stop_worker(self) -> None:
        if self.image_input is not None:
            self.image_input.close()
            self.image_input = None
        self.running.clear()
        self.mailbox.close()
        if self.worker is not None:
            self.worker.join(timeout=30)
            self.worker = None
        self.history.clear()

    def _release_tracker(self) -> None:
        self.tracker = None
        self.state, self.target_id = "IDLE", ""
        gc.collect()
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()

    # ---- input ---------------------------------------------------------------------------------------------------
    def _on_image(self, msg: Image | CompressedImage, info: MessageInfo) -> None:
        now_ns = self.get_clock().now().nanoseconds
        frame = Frame(stamp_ns=time_ns(msg.header.stamp), msg=msg, received_ns=now_ns)
        self.stats.received += 1
        self._count_transport_losses(info)
        self.history.add(frame)
        self.mailbox.put(frame)

    def _input_error(self, err: Exception) -> None:
        self._bad_frame(f"{type(err).__name__} while receiving a frame: {err}")

    def _count_transport_losses(self, info: MessageInfo) -> None:
        """Frames a publisher sent that never reached this callback (lost in DDS or overwritten in the depth-1
        queue), from gaps in its publication sequence numbers."""
        sequence = info.get("publication_sequence_number")
        if not sequence:
            return  # the middleware does not report sequence numbers
        publisher = str(info.get("publisher_gid"))
        previous = self.stats.last_sequence.get(publisher)
        if previous is not None and sequence > previous + 1:
            self.stats.lost_before_node += sequence - previous - 1
        self.stats.last_sequence[publisher] = sequence

    # ---- services ------------------------------------------------------------------------------------------------
    def _refusal(self) -> str:
        if self.error:
            return self.error
        if not self.running.is_set():
            return f"node is not active (lifecycle state: {self._state_machine.current_state[1]})"
        return ""

    def _submit(self, run: Callable[[], tuple[bool, str]]) -> tuple[bool, str]:
        job = Job(run)
        self.jobs.append(job)
        if not job.done.wait(INIT_TIMEOUT_S):
            return False, f"the tracker did not answer within {INIT_TIMEOUT_S:.0f} s"
        return job.result

    def _on_init(self, request: InitTarget.Request, response: InitTarget.Response) -> InitTarget.Response:
        refusal = self._refusal()
        if refusal:
            response.success, response.message = False, refusal
            return response
        target_id = request.target_id or f"target_{self.target_count + 1}"
        stamp_ns = time_ns(request.stamp)
        box = request.box
        response.success, response.message = self._submit(
            lambda: self._initialise(stamp_ns, (box.center.position.x, box.center.position.y, box.size_x,
                                                box.size_y), target_id))
        response.target_id = target_id if response.success else ""
        if response.success:
            self.get_logger().info(f"init {target_id!r}: ok")
        else:
            self.get_logger().warning(f"init {target_id!r} refused: {response.message}")
        return response

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        refusal = self._refusal()
        if refusal:
            response.success, response.message = False, refusal
            return response
        response.success, response.message = self._submit(self._reset)
        return response

    # ---- worker ----------------------------------------------------------------------------------------------------
    def _work(self) -> None:
        while self.running.is_set():
            while self.jobs:
                self._run_job(self.jobs.popleft())
            frame = self.mailbox.take(timeout=0.05)
            if frame is not None and frame.received_ns > self.last_processed_received_ns:
                try:
                    self._process(frame)
                except Exception as err:  # the worker must outlive any single frame
                    self._bad_frame(f"{type(err).__name__} while tracking: {err}")
        while self.jobs:  # answer whatever is left so no service call waits for nothing
            job = self.jobs.popleft()
            job.result = (False, "node was deactivated")
            job.done.set()

    def _run_job(self, job: Job) -> None:
        try:
            job.result = job.run()
        except Exception as err:
            job.result = (False, f"{type(err).__name__}: {err}")
        job.done.set()

    def _initialise(self, stamp_ns: int, centre_size: tuple[float, float, float, float],
                    target_id: str) -> tuple[bool, str]:
        frame = self.history.nearest(stamp_ns) if stamp_ns else self.history.newest()
        if frame is None:
            return False, f"no camera frame received yet on {self.image_topic}"
        gap_s = abs(frame.stamp_ns - stamp_ns) / 1e9 if stamp_ns else 0.0
        if gap_s > self.params.init_stamp_tolerance:
            return False, (f"no buffered frame near the requested stamp: the nearest is {gap_s:.3f} s away "
                           f"(tolerance {self.params.init_stamp_tolerance} s, {self.params.history_size} frames kept);"
                           " draw the box on a newer frame or send a zero stamp for the newest")
        try:
            image = to_rgb8(frame.msg)
        except ImageConversionError as err:
            return False, f"the frame to initialise on cannot be used: {err}"
        cx, cy, w, h = centre_size
        box = (cx - w / 2, cy - h / 2, w, h)
        try:  # the tracker checks the box: finite, positive size, overlapping the image
            started = time.perf_counter()
            self.tracker.initialize(image, box=box)
            init_ms = 1000 * (time.perf_counter() - started)
        except ValueError as err:
            return False, str(err)
        self.target_count += 1
        self.target_id, self.state, self.frames_tracked = target_id, "TRACKING", 1
        self._publish(frame, image, FrameResult("TRACKING", target_id, 1.0, box, None, None, init_ms))
        for later in self.history.newer_than(frame):  # catch up to the newest frame
            self._process(later)
        return True, ""

    def _reset(self) -> tuple[bool, str]:
        if self.tracker is not None:
            self.tracker.reset()
        previous, self.target_id, self.state, self.frames_tracked = self.target_id, "", "IDLE", 0
        newest = self.history.newest()
        if newest is not None:
            self._publish_state_only(newest)
        return True, f"stopped tracking {previous!r}" if previous else "no target was being tracked"

    def _process(self, frame: Frame) -> None:
        self.last_processed_received_ns = frame.received_ns
        try:
            image = to_rgb8(frame.msg)
        except ImageConversionError as err:
            self._bad_frame(str(err))
            return
        if self.state == "IDLE":
            self._publish(frame, image, FrameResult("IDLE"))
            return
        try:
            started = time.perf_counter()
            out = self.tracker.track(image)
            track_ms = 1000 * (time.perf_counter() - started)
            self.stats.track_ms.append(track_ms)
        except ValueError as err:  # e.g. the frame size changed: the tracker refuses, the node goes on
            self._bad_frame(f"tracker refused the frame: {err}")
            return
        self.state = state_name(out.state)
        self.frames_tracked += 1
        self._publish(frame, image, FrameResult(self.state, self.target_id, float(out.score), tuple(out.box),
                                                tuple(out.rotated_box), out.mask, track_ms))

    def _bad_frame(self, reason: str) -> None:
        self.stats.bad_frames += 1
        self.stats.last_error = reason
        self.get_logger().warning(f"frame skipped: {reason}", throttle_duration_sec=5.0)

    # ---- output ---------------------------------------------------------------------------------------------------
    def _latency_ms(self, frame: Frame) -> float:
        if frame.stamp_ns == 0:
            return 0.0
        return (self.get_clock().now().nanoseconds - frame.stamp_ns) / 1e6

    def _publish(self, frame: Frame, image: np.ndarray, result: FrameResult) -> None:
        header: Header = frame.msg.header
        self.stats.processed += 1
        latency = self._latency_ms(frame)
        self.stats.latencies_ms.append(latency)
        self.publishers_["detections"].publish(detections_msg(header, result))
        self.publishers_["state"].publish(state_msg(header, result, latency_ms=latency,
                                                    frames_tracked=self.frames_tracked,
                                                    frames_dropped=self.mailbox.dropped))
        if result.state != "IDLE" and self.params.publish_mask:  # the large message last: the small ones first
            mask = result.mask if result.mask is not None else np.zeros(image.shape[:2], bool)
            self.publishers_["mask"].publish(mask_msg(header, mask))
        debug = self.publishers_["debug"]
        if debug.get_subscription_count() > 0:  # the overlay costs time: only draw it for someone
            debug.publish(cv2_to_imgmsg(overlay(image, result), "rgb8", header))

    def _publish_state_only(self, frame: Frame) -> None:
        self.publishers_["state"].publish(state_msg(frame.msg.header, FrameResult("IDLE"), latency_ms=0.0,
                                                    frames_tracked=0, frames_dropped=self.mailbox.dropped))

    # ---- parameters and diagnostics ----------------------------------------------------------------------------------
    def _on_set_parameters(self, parameters) -> SetParametersResult:
        reasons = [reason for p in parameters if (reason := self.params.update(p.name, p.value))]
        if reasons:
            return SetParametersResult(successful=False, reason="; ".join(reasons))
        changes = {p.name.removeprefix(TRACKER_PREFIX): p.value for p in parameters
                   if p.name.startswith(TRACKER_PREFIX)}
        if changes and self.tracker is not None:

            def apply() -> tuple[bool, str]:
                self.tracker.update_params(**changes)
                return True, ""

            ok, reason = self._submit(apply) if self.running.is_set() else apply()
            return SetParametersResult(successful=ok, reason=reason)
        return SetParametersResult(successful=True)

    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        period, self.last_report = now - self.last_report, now
        processed = self.stats.processed - self.stats.processed_at_last_report
        self.stats.processed_at_last_report = self.stats.processed
        latencies, track_ms = sorted(self.stats.latencies_ms), sorted(self.stats.track_ms)
        self.stats.latencies_ms.clear()
        self.stats.track_ms.clear()
        status = DiagnosticStatus(name=f"{self.get_name()}: tracker", hardware_id=self.device_name)
        if self.error:
            status.level, status.message = DiagnosticStatus.ERROR, self.error
        elif not self.running.is_set():
            status.level, status.message = DiagnosticStatus.WARN, "not active"
        elif self.state == "LOST":
            status.level, status.message = DiagnosticStatus.WARN, "target lost"
        else:
            status.level, status.message = DiagnosticStatus.OK, self.state.lower()
        values = {
            "state": self.state,
            "target_id": self.target_id,
            "device": self.device_name,
            "fps": f"{processed / period:.2f}" if period > 0 else "0",
            "latency_median_ms": f"{statistics.median(latencies):.1f}" if latencies else "",
            "latency_max_ms": f"{latencies[-1]:.1f}" if latencies else "",
            "track_median_ms": f"{statistics.median(track_ms):.1f}" if track_ms else "",  # the rest is ROS's
            "frames_received": str(self.stats.received),
            "frames_processed": str(self.stats.processed),
            "frames_dropped": str(self.mailbox.dropped),
            "frames_lost_before_node": str(self.stats.lost_before_node),
            "frames_bad": str(self.stats.bad_frames),
            "last_frame_error": self.stats.last_error,
        }
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        self.diagnostics_pub.publish(DiagnosticArray(header=Header(stamp=self.get_clock().now().to_msg()),
                                                     status=[status]))


def main(argv: list[str] | None = None) -> int:
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)  # the worker wakes for a new frame while other threads still run
    malloc_setting = keep_freed_frame_buffers()  # before any frame is allocated
    rclpy.init(args=argv)
    node = TrackerNode()
    node.get_logger().info(malloc_setting)
    executor = InlineSubscriptionExecutor(num_threads=3)  # services in the pool; frames come on the input thread
    executor.add_node(node)
    if node.params.autostart and node.trigger_configure() == TransitionCallbackReturn.SUCCESS:
        node.trigger_activate()
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node._stop_worker()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
