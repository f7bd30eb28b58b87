"""End-to-end check of jcat_ros's interfaces between two ROS processes, without the tracker.

`serve` answers ``~/init`` (jcat_ros/srv/InitTarget) like the tracker node would and publishes the box back as a
jcat_ros/msg/TrackerState and a vision_msgs/msg/Detection2DArray; `call` sends a box and prints, as JSON, what
came back. Used by the tests and by the setup check to prove that the generated types work over rclpy.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import rclpy
from builtin_interfaces.msg import Time
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Header
from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

from jcat_ros.init_checks import box_problem
from jcat_ros.init_client import init_request
from jcat_ros.msg import TrackerState
from jcat_ros.srv import InitTarget

SERVER_NAME = "jcat_interface_check"
# Latched outputs: a caller that subscribes just before calling still receives the answer.
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)


class InitResponder(Node):
    """Serves ~/init and echoes each accepted box as a TrackerState and a one-detection Detection2DArray."""

    def __init__(self) -> None:
        super().__init__(SERVER_NAME)
        self.state_pub = self.create_publisher(TrackerState, "~/state", LATCHED)
        self.detections_pub = self.create_publisher(Detection2DArray, "~/detections", LATCHED)
        self.create_service(InitTarget, "~/init", self.on_init)
        self.requests = 0

    def on_init(self, request: InitTarget.Request, response: InitTarget.Response) -> InitTarget.Response:
        self.requests += 1
        problem = box_problem(request.box)
        response.success = not problem
        response.message = problem
        if problem:
            return response
        response.target_id = request.target_id or f"target_{self.requests}"
        header = Header(stamp=request.stamp, frame_id="camera")

        state = TrackerState(header=header, state=TrackerState.TRACKING, target_id=response.target_id)
        state.score = 1.0
        state.bbox = request.box
        state.rotated_bbox = request.box
        state.frames_tracked = 1

        detection = Detection2D(header=header, bbox=request.box, id=response.target_id)
        hypothesis = ObjectHypothesisWithPose()
        hypothesis.hypothesis.score = 1.0
        detection.results.append(hypothesis)

        self.state_pub.publish(state)
        self.detections_pub.publish(Detection2DArray(header=header, detections=[detection]))
        return response


def serve(requests: int) -> int:
    """Answer `requests` init calls (0 = until interrupted), then exit."""
    rclpy.init()
    node = InitResponder()
    print("ready", flush=True)
    try:
        while rclpy.ok() and (requests == 0 or node.requests < requests):
            rclpy.spin_once(node, timeout_sec=0.1)
        # Give subscribers a moment to fetch the last latched messages before the publisher disappears.
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.05)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass  # Ctrl-C or SIGTERM: a normal way to stop the responder
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


def call(box: tuple[float, float, float, float], stamp: tuple[int, int], target_id: str, timeout: float) -> int:
    """Send one init request with an (x, y, w, h) box; print the response and the messages that came back."""
    rclpy.init()
    node = Node("jcat_interface_check_caller")
    received: dict[str, object] = {}
    node.create_subscription(
        TrackerState, f"/{SERVER_NAME}/state", lambda m: received.setdefault("state", m), LATCHED
    )
    node.create_subscription(
        Detection2DArray, f"/{SERVER_NAME}/detections", lambda m: received.setdefault("detections", m), LATCHED
    )
    client = node.create_client(InitTarget, f"/{SERVER_NAME}/init")
    result: dict[str, object] = {}
    try:
        if not client.wait_for_service(timeout_sec=timeout):
            print(json.dumps({"error": f"service /{SERVER_NAME}/init did not appear within {timeout} s"}))
            return 1
        future = client.call_async(init_request(box, Time(sec=stamp[0], nanosec=stamp[1]), target_id))
        rclpy.spin_until_future_complete(node, future, timeout_sec=timeout)
        if not future.done():
            print(json.dumps({"error": f"no response within {timeout} s"}))
            return 1
        response = future.result()
        result["response"] = {
            "success": response.success, "message": response.message, "target_id": response.target_id
        }
        if response.success:
            end = time.monotonic() + timeout
            while len(received) < 2 and time.monotonic() < end:
                rclpy.spin_once(node, timeout_sec=0.05)
            result.update(summarise(received))
        print(json.dumps(result), flush=True)
        return 0 if not response.success or len(received) == 2 else 1
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


def summarise(received: dict[str, object]) -> dict[str, object]:
    """Plain-data view of the received TrackerState and Detection2DArray."""
    out: dict[str, object] = {}
    state = received.get("state")
    if isinstance(state, TrackerState):
        out["state"] = {
            "state": state.state,
            "target_id": state.target_id,
            "score": state.score,
            "stamp": [state.header.stamp.sec, state.header.stamp.nanosec],
            "bbox": [state.bbox.center.position.x, state.bbox.center.position.y, state.bbox.size_x,
                     state.bbox.size_y],
        }
    detections = received.get("detections")
    if isinstance(detections, Detection2DArray):
        out["detections"] = [
            {
                "id": d.id,
                "class_id": d.results[0].hypothesis.class_id if d.results else "",
                "score": d.results[0].hypothesis.score if d.results else 0.0,
                "stamp": [d.header.stamp.sec, d.header.stamp.nanosec],
                "bbox": [d.bbox.center.position.x, d.bbox.center.position.y, d.bbox.size_x, d.bbox.size_y],
            }
            for d in detections.detections
        ]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve_parser = sub.add_parser("serve", help="answer ~/init requests like the tracker node")
    serve_parser.add_argument("--requests", type=int, default=0, help="exit after this many requests (0: never)")
    call_parser = sub.add_parser("call", help="send one init request and print what comes back as JSON")
    call_parser.add_argument("--box", default="100,80,50,40", help="x,y,w,h in pixels (x, y = top-left corner)")
    call_parser.add_argument("--stamp", default="0,0", help="sec,nanosec of the frame the box was drawn on")
    call_parser.add_argument("--target-id", default="")
    call_parser.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for each step")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args.requests)
    try:
        box = tuple(float(v) for v in args.box.split(","))
        sec, nanosec = (int(v) for v in args.stamp.split(","))
    except ValueError:
        parser.error("--box takes four numbers x,y,w,h and --stamp two integers sec,nanosec")
    if len(box) != 4:
        parser.error(f"--box takes four numbers x,y,w,h, got {args.box!r}")
    return call(box, (sec, nanosec), args.target_id, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
