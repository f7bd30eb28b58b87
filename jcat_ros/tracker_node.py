"""The JCAT tracker as a ROS 2 lifecycle node (default name jcat_tracker).

configure builds the tracker, activate subscribes to `image` (or `image/compressed`) and advertises the outputs,
deactivate stops processing, cleanup frees the model. An input thread takes each frame as it arrives, outside the
executor, and numbers it; a worker thread tracks the newest frame only; frames that arrive while it is busy replace
the pending one and are counted as dropped. Frames are ordered by arrival number, never by a clock, so sim time,
looping bags and stamps shared by several frames change nothing. ~/init and ~/reset are served in every state so
that a refusal can say why; a refused request changes nothing; nothing a client or a camera sends stops the node.
Diagnostics and the stale-input check run on wall-clock timers.
"""

from __future__ import annotations

import collections
import gc
import itertools
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
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.subscription import MessageInfo
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from std_srvs.srv import Trigger
from vision_msgs.msg import Detection2DArray

from jcat_ros.executor import InlineSubscriptionExecutor
from jcat_ros.frame_buffer import BAD, PROCESSED, Frame, FrameHistory, LatestFrame
from jcat_ros.image_conversion import ImageConversionError, cv2_to_imgmsg, to_rgb8
from jcat_ros.init_checks import init_request_problem
from jcat_ros.input_watch import InputWatch
from jcat_ros.jobs import Job, JobQueue
from jcat_ros.malloc_tuning import keep_freed_frame_buffers, release_freed_memory
from jcat_ros.message_fields import time_ns
from jcat_ros.msg import TrackerState
from jcat_ros.node_params import TRACKER_PREFIX, NodeParams, declare_node_params
from jcat_ros.node_usage import TRACKER_NOTES, exit_with_usage_if_asked, tracker_parameters
from jcat_ros.srv import InitTarget
from jcat_ros.subscription_thread import SubscriptionThread
from jcat_ros.tracker_outputs import FrameResult, detections_msg, mask_msg, overlay, state_msg, state_name

INIT_TIMEOUT_S = 30.0
GIL_SWITCH_INTERVAL_S = 1e-4  # a thread waiting for the GIL gets it after 0.1 ms instead of Python's 5 ms
SERVICE_THREADS = 8
WATCH_PERIOD_S = 0.1  # how often the wall-clock timer checks for stale input
WORKER_JOIN_LOG_S = 5.0  # while stopping, say every this many seconds that the worker is still finishing a frame


@dataclass
class Stats:
    """Timings and transport losses since activation (frame counts are the mailbox's: LatestFrame.counts)."""

    lost_before_node: int = 0  # sent by a publisher but never delivered to the callback
    last_sequence: dict[str, int] = field(default_factory=dict)  # publisher gid -> last publication sequence
    last_error: str = ""
    latencies_ms: collections.deque = field(default_factory=lambda: collections.deque(maxlen=1000))
    # (wall, CPU) ms of track() alone; CPU is the worker thread's own: wall - CPU is time it waited for a core
    track_ms: collections.deque = field(default_factory=lambda: collections.deque(maxlen=1000))
    processed_at_last_report: int = 0


def answer_errors(callback: Callable, log: Callable[[str], None]) -> Callable:
    """Wrap a service callback so that an unexpected error becomes a refusal in words (the details go to the log),
    never a crash."""

    def guarded(request, response):
        try:
            return callback(request, response)
        except Exception as err:  # a bug in one request must not take the node down
            log(f"{callback.__name__} failed: {type(err).__name__}: {err}")
            response.success = False
            response.message = "the node could not handle this request (an internal error, logged by the node)"
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
        self.last_result = FrameResult("IDLE")
        self.last_header: Header | None = None  # of the newest frame with published outputs
        self.published_sequence = 0  # arrival number of the newest frame with published outputs
        self.arrivals = itertools.count(1)
        self.history = FrameHistory(self.params.history_size)
        self.mailbox = LatestFrame()
        self.jobs = JobQueue()
        self.stats = Stats()
        self.watch = InputWatch()
        self.stale_published_at = 0.0
        self.worker: threading.Thread | None = None
        self.running = threading.Event()
        self.output_lock = threading.Lock()  # publishing vs. destroying the publishers
        self.image_input: SubscriptionThread | None = None
        self.image_topic = ""
        self.publishers_: dict[str, object] = {}

        log_error = self.get_logger().error
        services = ReentrantCallbackGroup()
        self.create_service(InitTarget, "~/init", answer_errors(self._on_init, log_error), callback_group=services)
        self.create_service(Trigger, "~/reset", answer_errors(self._on_reset, log_error), callback_group=services)
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        wall = Clock(clock_type=ClockType.STEADY_TIME)  # not the ROS clock: runs without /clock under sim time
        self.create_timer(self.params.diagnostics_period, self._publish_diagnostics,
                          callback_group=MutuallyExclusiveCallbackGroup(), clock=wall)
        self.create_timer(WATCH_PERIOD_S, self._watch_input, callback_group=MutuallyExclusiveCallbackGroup(),
                          clock=wall)
        self.last_report = time.monotonic()

    # ---- lifecycle ---------------------------------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self.tracker, self.device_name, weights = self.params.build_tracker()
        except Exception as err:
            self.error = f"could not build the tracker: {err}"
            self.get_logger().error(self.error)
            return TransitionCallbackReturn.FAILURE
        self.error = ""
        self.get_logger().info(f"weights: {weights}")
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
        if self.worker is not None:  # _stop_worker always joins it: this would be a second worker
            self.get_logger().error("activation refused: the previous worker thread is still running")
            return TransitionCallbackReturn.FAILURE
        self.stats = Stats()
        self.mailbox.reopen()
        self.published_sequence = 0
        self.last_header = None
        self.watch.start()
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
        with self.output_lock:
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
        """Stop the input, then wait for the worker to finish its frame or job: nothing it publishes can outlive
        this call, so cleanup may destroy the publishers afterwards."""
        if self.image_input is not None:
            self.image_input.close()
            self.image_input = None
        self.running.clear()
        self.mailbox.close()
        worker, self.worker = self.worker, None
        while worker is not None and worker.is_alive():
            worker.join(timeout=WORKER_JOIN_LOG_S)
            if worker.is_alive():
                self.get_logger().warning("waiting for the tracker to finish the frame in progress")
        self.history.clear()
        release_freed_memory()  # the kept frames and the stopped threads' buffers

    def _release_tracker(self) -> None:
        self.tracker = None
        self.state, self.target_id, self.last_result = "IDLE", "", FrameResult("IDLE")
        gc.collect()
        release_freed_memory()  # the old model's pages: the next configure's would land beside them
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()

    # ---- input ---------------------------------------------------------------------------------------------------
    def _on_image(self, msg: Image | CompressedImage, info: MessageInfo) -> None:
        frame = Frame(stamp_ns=time_ns(msg.header.stamp), msg=msg, received_ns=self.get_clock().now().nanoseconds,
                      sequence=next(self.arrivals))
        self.watch.frame_arrived()
        self._count_transport_losses(info)
        self.history.add(frame)
        self.mailbox.put(frame)

    def _input_error(self, err: Exception) -> None:
        self.watch.frame_arrived()
        self.mailbox.reject()
        self._note_bad(f"{type(err).__name__} while receiving a frame: {err}")

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

    def _on_init(self, request: InitTarget.Request, response: InitTarget.Response) -> InitTarget.Response:
        refusal = self._refusal() or init_request_problem(request)
        frame = None
        if not refusal:  # the frame is chosen now, while the stamp's frame is surely still kept
            frame, refusal = self._frame_for(time_ns(request.stamp))
        if refusal:
            response.success, response.message = False, refusal
            self.get_logger().warning(f"init refused: {refusal}")
            return response
        target_id = request.target_id or f"target_{self.target_count + 1}"
        b = request.box
        box = (b.center.position.x - b.size_x / 2, b.center.position.y - b.size_y / 2, b.size_x, b.size_y)
        response.success, response.message = self.jobs.submit(lambda: self._initialise(frame, box, target_id),
                                                              INIT_TIMEOUT_S)
        response.target_id = target_id if response.success else ""
        if response.success:
            self.get_logger().info(f"init {target_id!r}: ok")
        else:
            self.get_logger().warning(f"init {target_id!r} refused: {response.message}")
        return response

    def _frame_for(self, stamp_ns: int) -> tuple[Frame | None, str]:
        """The kept frame an init with this stamp applies to (0: the newest), or the reason there is none."""
        frame = self.history.nearest(stamp_ns) if stamp_ns else self.history.newest()
        if frame is None:
            return None, f"no camera frame received yet on {self.image_topic}"
        gap_s = abs(frame.stamp_ns - stamp_ns) / 1e9 if stamp_ns else 0.0
        if gap_s > self.params.init_stamp_tolerance:
            return None, (f"no buffered frame near the requested stamp: the nearest is {gap_s:.3f} s away "
                          f"(tolerance {self.params.init_stamp_tolerance} s, {self.params.history_size} frames "
                          "kept); draw the box on a newer frame or send a zero stamp for the newest")
        return frame, ""

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        refusal = self._refusal()
        if refusal:
            response.success, response.message = False, refusal
            return response
        response.success, response.message = self.jobs.submit(self._reset, INIT_TIMEOUT_S)
        return response

    # ---- worker ----------------------------------------------------------------------------------------------------
    def _work(self) -> None:
        while self.running.is_set():
            self.jobs.run_pending(self._run_job)
            frame = self.mailbox.take(timeout=0.05)
            if frame is None:
                continue
            if frame.sequence <= self.published_sequence:  # already re-tracked and published by an init's catch-up
                self.mailbox.release(frame)
                continue
            try:
                self._process(frame)
            except Exception as err:  # the worker must outlive any single frame
                self._bad_frame(frame, f"{type(err).__name__} while tracking: {err}")
        self.jobs.refuse_pending("node was deactivated")

    def _run_job(self, job: Job) -> tuple[bool, str]:
        try:
            return job.run()
        except Exception as err:
            self.get_logger().error(f"service job failed: {type(err).__name__}: {err}")
            return False, "the tracker failed on this request (an internal error, logged by the node)"
        finally:
            # An init's first-frame solve frees hundreds of MB the malloc tuning would keep: RSS would climb in steps
            # with each init (benchmarks/soak.py). Handing them back costs milliseconds, once per request.
            release_freed_memory()

    def _initialise(self, frame: Frame, box: tuple[float, float, float, float], target_id: str) -> tuple[bool, str]:
        """Start `target_id` on `frame`, then re-track the frames kept after it. On any refusal the tracker keeps its
        previous target (JcatTracker.initialize changes nothing when it fails)."""
        kept = f"; still tracking {self.target_id!r}" if self.state != "IDLE" else ""
        later = self.history.newer_than(frame)  # held now: frames arriving while initialize runs may push them out
        try:
            image = to_rgb8(frame.msg)
        except ImageConversionError as err:
            return False, f"the frame to initialise on cannot be used: {err}{kept}"
        try:
            started = time.perf_counter()
            self.tracker.initialize(image, box=box)
            init_ms = 1000 * (time.perf_counter() - started)
        except ValueError as err:  # the tracker's checks of the box against the image, in words
            return False, f"{err}{kept}"
        except Exception as err:
            self.get_logger().error(f"initialise failed: {type(err).__name__}: {err}")
            return False, f"the tracker could not start on this box (an internal error, logged by the node){kept}"
        self.target_count += 1
        self.target_id, self.state, self.frames_tracked = target_id, "TRACKING", 1
        self._emit(frame, image, FrameResult("TRACKING", target_id, 1.0, box, None, None, init_ms))
        later += self.history.newer_than(later[-1] if later else frame)  # and those that came meanwhile
        for newer in later:  # catch up to the newest frame
            self._process(newer)
        return True, ""

    def _reset(self) -> tuple[bool, str]:
        if self.tracker is not None:
            self.tracker.reset()
        previous, self.target_id, self.state, self.frames_tracked = self.target_id, "", "IDLE", 0
        self.last_result = FrameResult("IDLE")
        return True, f"stopped tracking {previous!r}" if previous else "no target was being tracked"

    def _process(self, frame: Frame) -> None:
        try:
            image = to_rgb8(frame.msg)
        except ImageConversionError as err:
            self._bad_frame(frame, str(err))
            return
        if self.state == "IDLE":
            self._emit(frame, image, FrameResult("IDLE"))
            return
        try:
            started, cpu_started = time.perf_counter(), time.thread_time()
            out = self.tracker.track(image)
            track_ms = 1000 * (time.perf_counter() - started)
            cpu_ms = 1000 * (time.thread_time() - cpu_started)
        except ValueError as err:  # e.g. the frame size changed: the tracker refuses, the node goes on
            self._bad_frame(frame, f"tracker refused the frame: {err}")
            return
        self.stats.track_ms.append((track_ms, cpu_ms))
        self.state = state_name(out.state)
        self.frames_tracked += 1
        self._emit(frame, image, FrameResult(self.state, self.target_id, float(out.score), tuple(out.box),
                                             tuple(out.rotated_box), out.mask, track_ms))

    def _emit(self, frame: Frame, image: np.ndarray, result: FrameResult) -> None:
        """Publish the outputs of a frame tracked for the first time; a frame re-tracked after an init whose outputs
        went out before is not published again (no header twice, no stamp going back)."""
        self.watch.frame_used()
        self.last_result = FrameResult(result.state, result.target_id, result.score, result.box, result.rotated_box,
                                       None, result.tracker_ms)
        if frame.sequence <= self.published_sequence:
            return
        self.published_sequence = frame.sequence
        self.mailbox.settle(frame, PROCESSED)
        self._publish(frame, image, result)

    def _bad_frame(self, frame: Frame, reason: str) -> None:
        if frame.sequence > self.published_sequence:  # a frame re-tracked after an init was counted before
            self.mailbox.settle(frame, BAD)
        self._note_bad(reason)

    def _note_bad(self, reason: str) -> None:
        self.watch.frame_bad()
        self.stats.last_error = reason
        self.get_logger().warning(f"frame skipped: {reason}", throttle_duration_sec=5.0)

    # ---- output ---------------------------------------------------------------------------------------------------
    def _latency_ms(self, frame: Frame) -> float:
        if frame.stamp_ns == 0:
            return 0.0
        return (self.get_clock().now().nanoseconds - frame.stamp_ns) / 1e6

    def _publish(self, frame: Frame, image: np.ndarray, result: FrameResult) -> None:
        header: Header = frame.msg.header
        self.last_header = header
        latency = self._latency_ms(frame)
        self.stats.latencies_ms.append(latency)
        with self.output_lock:
            if not self.publishers_:
                return
            self.publishers_["detections"].publish(detections_msg(header, result, self.params.rotated_detections))
            self.publishers_["state"].publish(state_msg(header, result, latency_ms=latency,
                                                        frames_tracked=self.frames_tracked,
                                                        frames_dropped=self.mailbox.dropped))
            if result.state != "IDLE" and self.params.publish_mask:  # the large message last: the small ones first
                mask = result.mask if result.mask is not None else np.zeros(image.shape[:2], bool)
                self.publishers_["mask"].publish(mask_msg(header, mask))
            debug = self.publishers_["debug"]
            if debug.get_subscription_count() > 0:  # the overlay costs time: only draw it for someone
                debug.publish(cv2_to_imgmsg(overlay(image, result), "rgb8", header))

    def _input_problem(self) -> str:
        if not self.running.is_set():
            return ""
        return self.watch.problem(self.params.stale_after, self.image_topic, self.stats.last_error)

    def _watch_input(self) -> None:
        """While the input is stale, publish the last state again with input_stale set, once every stale_after s.
        It carries the last published frame's header (outputs only ever carry input headers); before the first
        frame there is none, and /diagnostics alone says that nothing has arrived."""
        problem = self._input_problem()
        now = time.monotonic()
        if not problem or self.last_header is None or now - self.stale_published_at < self.params.stale_after:
            return
        self.stale_published_at = now
        with self.output_lock:
            if self.publishers_ and self.running.is_set():
                self.publishers_["state"].publish(state_msg(self.last_header, self.last_result, latency_ms=0.0,
                                                            frames_tracked=self.frames_tracked,
                                                            frames_dropped=self.mailbox.dropped,
                                                            input_problem=problem))

    # ---- parameters and diagnostics ----------------------------------------------------------------------------------
    def _on_set_parameters(self, parameters) -> SetParametersResult:
        """Apply a set of parameters wholly (node and tracker) or not at all."""
        candidate = self.params.copy()
        reasons = [reason for p in parameters if (reason := candidate.update(p.name, p.value))]
        if not reasons:
            try:
                candidate.tracker_params()  # the changes together, not only one by one
            except ValueError as err:
                reasons.append(f"tracker parameters together: {err}")
        if reasons:
            return SetParametersResult(successful=False, reason="; ".join(reasons))
        changes = {p.name.removeprefix(TRACKER_PREFIX): p.value for p in parameters
                   if p.name.startswith(TRACKER_PREFIX)}
        if changes and self.tracker is not None:

            def apply() -> tuple[bool, str]:
                try:
                    self.tracker.update_params(**changes)
                except ValueError as err:
                    return False, str(err)
                return True, ""

            ok, reason = self.jobs.submit(apply, INIT_TIMEOUT_S) if self.running.is_set() else apply()
            if not ok:
                return SetParametersResult(successful=False, reason=reason)
        self.params = candidate
        return SetParametersResult(successful=True)

    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        period, self.last_report = now - self.last_report, now
        counts = self.mailbox.counts()
        processed = counts.processed - self.stats.processed_at_last_report
        self.stats.processed_at_last_report = counts.processed
        latencies, track_ms = sorted(self.stats.latencies_ms), sorted(self.stats.track_ms)  # by wall time
        self.stats.latencies_ms.clear()
        self.stats.track_ms.clear()
        input_problem = self._input_problem()
        status = DiagnosticStatus(name=f"{self.get_name()}: tracker", hardware_id=self.device_name)
        if self.error:
            status.level, status.message = DiagnosticStatus.ERROR, self.error
        elif not self.running.is_set():
            status.level, status.message = DiagnosticStatus.WARN, "not active"
        elif input_problem:
            status.level, status.message = DiagnosticStatus.WARN, f"input stale: {input_problem}"
        elif self.state == "LOST":
            status.level, status.message = DiagnosticStatus.WARN, "target lost"
        else:
            status.level, status.message = DiagnosticStatus.OK, self.state.lower()
        values = {
            "state": self.state,
            "target_id": self.target_id,
            "device": self.device_name,
            "input_problem": input_problem,
            "fps": f"{processed / period:.2f}" if period > 0 else "0",
            "latency_median_ms": f"{statistics.median(latencies):.1f}" if latencies else "",
            "latency_max_ms": f"{latencies[-1]:.1f}" if latencies else "",
            "track_median_ms": f"{statistics.median(t[0] for t in track_ms):.1f}" if track_ms else "",  # rest: ROS's
            # The period's slowest track() and the worker thread's CPU time in it: their difference is time the
            # worker waited for a core (other processes or threads), the CPU time is the tracker's own arithmetic.
            "track_max_ms": f"{track_ms[-1][0]:.1f}" if track_ms else "",
            "track_max_cpu_ms": f"{track_ms[-1][1]:.1f}" if track_ms else "",
            # Every received frame is in exactly one of processed, dropped, bad, queued and in progress.
            "frames_received": str(counts.received),
            "frames_processed": str(counts.processed),
            "frames_dropped": str(counts.dropped),
            "frames_bad": str(counts.bad),
            "frames_queued": str(counts.queued),
            "frames_in_progress": str(counts.in_progress),
            "counters_balanced": str(counts.balanced).lower(),
            "frames_lost_before_node": str(self.stats.lost_before_node),
            "last_frame_error": self.stats.last_error,
        }
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        self.diagnostics_pub.publish(DiagnosticArray(header=Header(stamp=self.get_clock().now().to_msg()),
                                                     status=[status]))


def main(argv: list[str] | None = None) -> int:
    exit_with_usage_if_asked(argv, "tracker_node", __doc__, tracker_parameters(), TRACKER_NOTES)
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)  # the worker wakes for a new frame while other threads still run
    malloc_setting = keep_freed_frame_buffers()  # before any frame is allocated
    rclpy.init(args=argv)
    node = TrackerNode()
    node.get_logger().info(malloc_setting)
    # Services, timers and transitions in the pool; frames come on the input thread. An ~/init holds a pool thread
    # while it waits for the worker, and its frame is chosen when a thread takes the request: with SERVICE_THREADS,
    # that many clients at once (less the two timers) all get the frame of their stamp.
    executor = InlineSubscriptionExecutor(num_threads=SERVICE_THREADS)
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
