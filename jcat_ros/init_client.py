"""`init_client`: start or stop tracking from the command line.

    ros2 run jcat_ros init_client --box 120,80,60,40            # x,y,w,h in pixels on the newest frame
    ros2 run jcat_ros init_client --box 120,80,60,40 --stamp 1712.250000000 --target-id cup
    ros2 run jcat_ros init_client --reset

Exit status: 0 accepted, 1 refused (the node's reason is printed), 2 bad arguments, 3 no answer.
"""

from __future__ import annotations

import argparse
import sys
import time

import rclpy
from builtin_interfaces.msg import Time
from rclpy.node import Node
from std_srvs.srv import Trigger

from jcat_ros.srv import InitTarget


def init_request(box: tuple[float, float, float, float], stamp: Time | None = None,
                 target_id: str = "") -> InitTarget.Request:
    """An InitTarget request for an (x, y, w, h) box with (x, y) its top-left corner."""
    x, y, w, h = (float(v) for v in box)
    request = InitTarget.Request(target_id=target_id)
    request.box.center.position.x = x + w / 2
    request.box.center.position.y = y + h / 2
    request.box.size_x, request.box.size_y = w, h
    if stamp is not None:
        request.stamp = stamp
    return request


def parse_box(text: str) -> tuple[float, float, float, float]:
    values = tuple(float(v) for v in text.split(","))
    if len(values) != 4:
        raise ValueError(f"a box is four numbers x,y,w,h; got {text!r}")
    return values  # type: ignore[return-value]


def parse_stamp(text: str) -> Time:
    """'SEC.NANOSEC' (nanoseconds as written, 9 digits) or a plain number of seconds; '0' = newest frame."""
    seconds, _, fraction = text.partition(".")
    return Time(sec=int(seconds), nanosec=int(fraction.ljust(9, "0")[:9]) if fraction else 0)


def call(node: Node, srv_type: type, name: str, request: object, timeout: float) -> object | None:
    """The service's response, or None when it did not appear or answer within `timeout` seconds."""
    client = node.create_client(srv_type, name)
    end = time.monotonic() + timeout
    if not client.wait_for_service(timeout_sec=timeout):
        return None
    future = client.call_async(request)
    rclpy.spin_until_future_complete(node, future, timeout_sec=max(0.0, end - time.monotonic()))
    return future.result() if future.done() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Start (--box) or stop (--reset) tracking on a jcat_tracker node.")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--box", help="x,y,w,h in pixels, (x, y) = the box's top-left corner")
    action.add_argument("--reset", action="store_true", help="stop tracking")
    parser.add_argument("--stamp", default="0", help="header stamp SEC.NANOSEC of the frame the box was drawn on "
                                                     "(default 0: the newest frame)")
    parser.add_argument("--target-id", default="", help="name for the target (default: chosen by the node)")
    parser.add_argument("--node", default="/jcat_tracker", help="the tracker node's full name")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the node")
    args = parser.parse_args(rclpy.utilities.remove_ros_args(sys.argv if argv is None else ["prog", *argv])[1:])
    try:
        request = (Trigger.Request() if args.reset
                   else init_request(parse_box(args.box), parse_stamp(args.stamp), args.target_id))
    except ValueError as err:
        parser.error(str(err))
    service = f"{args.node.rstrip('/')}/{'reset' if args.reset else 'init'}"
    rclpy.init(args=argv)
    node = rclpy.create_node("jcat_init_client")
    try:
        response = call(node, Trigger if args.reset else InitTarget, service, request, args.timeout)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    if response is None:
        print(f"no answer from {service} within {args.timeout:g} s (is the tracker node running?)", file=sys.stderr)
        return 3
    if not response.success:
        print(f"refused: {response.message}", file=sys.stderr)
        return 1
    print(f"tracking {response.target_id!r}" if not args.reset else response.message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
