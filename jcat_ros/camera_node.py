"""A stand-in camera: publishes a synthetic sequence, an image folder, a GOT-10k folder or a video file as
sensor_msgs/Image at a fixed rate, with the ground truth (when the source has one) on ~/ground_truth."""

from __future__ import annotations

import sys

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from vision_msgs.msg import Detection2D, Detection2DArray

from jcat_core.data.sources import SourceFrame, open_source
from jcat_ros.descriptors import describe
from jcat_ros.image_conversion import cv2_to_imgmsg
from jcat_ros.malloc_tuning import keep_freed_frame_buffers
from jcat_ros.node_usage import ParameterDoc, exit_with_usage_if_asked

PIXELS = (16, 8192)
PARAMETERS = (  # declared by CameraNode, listed by --help
    ParameterDoc("source", "synthetic:clean", "synthetic:<name>, an image folder, a GOT-10k sequence folder or a video "
                 "file"),
    ParameterDoc("rate", 15.0, "frames per second", (0.1, 1000.0)),
    ParameterDoc("loop", False, "start again after the last frame"),
    ParameterDoc("frame_id", "camera", "header.frame_id of the images"),
    ParameterDoc("encoding", "rgb8", "rgb8 or bgr8"),
    ParameterDoc("width", 640, "width of synthetic frames, px", PIXELS),
    ParameterDoc("height", 480, "height of synthetic frames, px", PIXELS),
    ParameterDoc("num_frames", 120, "length of a synthetic sequence", (1, 100000)),
    ParameterDoc("seed", 0, "random seed of a synthetic sequence"),
)


def ground_truth_message(header: Header, frame: SourceFrame) -> Detection2DArray:
    """The true target box as a one-detection array (empty when the target is not visible)."""
    out = Detection2DArray(header=header)
    if frame.box is not None and frame.visible is not False:
        x, y, w, h = frame.box
        detection = Detection2D(header=header, id="ground_truth")
        detection.bbox.center.position.x = x + w / 2
        detection.bbox.center.position.y = y + h / 2
        detection.bbox.size_x = float(w)
        detection.bbox.size_y = float(h)
        out.detections.append(detection)
    return out


class CameraNode(Node):
    """Publishes frames of a source on `image` at `rate` Hz, stamped with the node clock at publication."""

    def __init__(self) -> None:
        super().__init__("jcat_camera")
        values = {p.name: self.declare_parameter(p.name, p.default, describe(
            p.description, value_range=p.value_range, integer=isinstance(p.default, int))).value for p in PARAMETERS}
        source, rate = values["source"], values["rate"]
        self.loop, self.frame_id, self.encoding = values["loop"], values["frame_id"], values["encoding"]
        size = {name: values[name] for name in ("width", "height", "num_frames", "seed")}
        if self.encoding not in ("rgb8", "bgr8"):
            raise ValueError(f"parameter encoding must be rgb8 or bgr8, got {self.encoding!r}")
        self.source, self.size = source, size
        self.frames = self.open()
        self.published = 0
        qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        self.image_pub = self.create_publisher(Image, "image", qos)
        self.truth_pub = self.create_publisher(Detection2DArray, "~/ground_truth", qos)
        self.timer = self.create_timer(1.0 / rate, self.publish_next)
        self.get_logger().info(f"publishing {source} at {rate:g} Hz on {self.image_pub.topic_name}")

    def open(self):
        """A fresh iterator over the source's frames."""
        return open_source(self.source, **self.size)

    def publish_next(self) -> None:
        frame = next(self.frames, None)
        if frame is None and self.loop:
            self.frames = self.open()
            frame = next(self.frames, None)
        if frame is None:
            self.get_logger().info(f"source finished after {self.published} frames")
            self.timer.cancel()
            return
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.frame_id)
        pixels = frame.image if self.encoding == "rgb8" else frame.image[..., ::-1].copy()
        self.image_pub.publish(cv2_to_imgmsg(pixels, self.encoding, header))
        self.truth_pub.publish(ground_truth_message(header, frame))
        self.published += 1


def main(argv: list[str] | None = None) -> int:
    exit_with_usage_if_asked(argv, "camera_node", __doc__, PARAMETERS)
    malloc_setting = keep_freed_frame_buffers()  # each published frame is copied into DDS: no fresh pages each time
    rclpy.init(args=argv)
    try:
        node = CameraNode()
    except (ValueError, FileNotFoundError, OSError) as err:
        print(f"camera_node: {err}", file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    node.get_logger().debug(malloc_setting)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
