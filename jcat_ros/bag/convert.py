"""rosbags messages <-> numpy and boxes: images, camera info, ground-truth detections and masks, init requests.

Boxes are (x, y, w, h) pixels with (x, y) the top-left corner; vision_msgs boxes are centre + size.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from jcat_ros.bag import types as T
from jcat_ros.image_conversion import ImageConversionError, to_rgb8
from jcat_ros.message_fields import box_xywh

GT_ID = "ground_truth"


def _store():
    return T.typestore().types


def stamp(ns: int):
    """builtin_interfaces/Time for a time in nanoseconds."""
    return _store()["builtin_interfaces/msg/Time"](sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def header(ns: int, frame_id: str):
    return _store()["std_msgs/msg/Header"](stamp=stamp(ns), frame_id=frame_id)


def image_message(rgb: np.ndarray, head, encoding: str = "rgb8"):
    """sensor_msgs/Image of an HxWx3 RGB frame, as rgb8 or bgr8."""
    pixels = rgb if encoding == "rgb8" else np.ascontiguousarray(rgb[..., ::-1])
    height, width = rgb.shape[:2]
    return _store()[T.IMAGE](header=head, height=height, width=width, encoding=encoding, is_bigendian=0,
                             step=width * 3, data=np.frombuffer(pixels.tobytes(), np.uint8))


def compressed_message(rgb: np.ndarray, head, fmt: str = "jpeg", quality: int = 90):
    """sensor_msgs/CompressedImage (jpeg or png) of an HxWx3 RGB frame; `format` as image_transport writes it."""
    ext, params = (".png", []) if fmt == "png" else (".jpg", [cv2.IMWRITE_JPEG_QUALITY, quality])
    ok, data = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ValueError(f"could not encode a {rgb.shape} frame as {fmt}")
    return _store()[T.COMPRESSED](header=head, format=f"rgb8; {fmt} compressed bgr8", data=data.reshape(-1))


def camera_info_message(head, width: int, height: int):
    """A plain pinhole camera_info (focal length = image width, principal point at the centre, no distortion)."""
    f, cx, cy = float(width), width / 2.0, height / 2.0
    store = _store()
    return store[T.CAMERA_INFO](
        header=head, height=height, width=width, distortion_model="plumb_bob", d=np.zeros(5),
        k=np.array([f, 0, cx, 0, f, cy, 0, 0, 1.0]), r=np.eye(3).reshape(-1),
        p=np.array([f, 0, cx, 0, 0, f, cy, 0, 0, 0, 1.0, 0]), binning_x=0, binning_y=0,
        roi=store["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))


def bbox_message(box: tuple[float, float, float, float]):
    """vision_msgs/BoundingBox2D (centre + size, theta 0) of an (x, y, w, h) box."""
    store = _store()
    x, y, w, h = (float(v) for v in box)
    centre = store["vision_msgs/msg/Pose2D"](position=store["vision_msgs/msg/Point2D"](x=x + w / 2, y=y + h / 2),
                                             theta=0.0)
    return store["vision_msgs/msg/BoundingBox2D"](center=centre, size_x=w, size_y=h)


def detections_message(head, box: tuple[float, float, float, float] | None, object_id: str = GT_ID):
    """vision_msgs/Detection2DArray with one detection for `box`, empty when the target is not visible (None)."""
    store = _store()
    detections = []
    if box is not None:
        detections.append(store["vision_msgs/msg/Detection2D"](header=head, results=[], bbox=bbox_message(box),
                                                                id=object_id))
    return store[T.DETECTIONS](header=head, detections=detections)


def mask_message(mask: np.ndarray, head):
    """mono8 Image, 255 = target."""
    height, width = mask.shape
    return _store()[T.IMAGE](header=head, height=height, width=width, encoding="mono8", is_bigendian=0,
                             step=width, data=(mask.astype(np.uint8) * 255).reshape(-1))


def init_request_message(box: tuple[float, float, float, float], at_ns: int, target_id: str):
    """jcat_ros/srv/InitTarget request as recorded in a bag: what to send to ~/init."""
    return _store()[T.INIT_REQUEST](box=bbox_message(box), stamp=stamp(at_ns), target_id=target_id)


def detection_box(msg) -> tuple[float, float, float, float] | None:
    """The first detection's box, None for an empty array (target not visible)."""
    return box_xywh(msg.detections[0].bbox) if msg.detections else None


def finite_box(box: tuple[float, float, float, float] | None) -> bool:
    return box is not None and all(math.isfinite(v) for v in box)


def decode_mask(msg) -> np.ndarray:
    """HxW bool of a mono8 mask image."""
    if msg.encoding not in ("mono8", "8UC1"):
        raise ImageConversionError(f"a mask must be mono8, got '{msg.encoding}'")
    return to_rgb8(msg)[..., 0] > 127
