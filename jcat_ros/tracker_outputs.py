"""The node's output messages built from one tracker result, all carrying the input frame's header."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from vision_msgs.msg import BoundingBox2D, Detection2D, Detection2DArray, ObjectHypothesisWithPose

from jcat_ros.image_conversion import cv2_to_imgmsg
from jcat_ros.msg import TrackerState

STATE_CODES = {"IDLE": TrackerState.IDLE, "TRACKING": TrackerState.TRACKING, "UNCERTAIN": TrackerState.UNCERTAIN,
               "LOST": TrackerState.LOST}
STATE_NAMES = {code: name for name, code in STATE_CODES.items()}
STATE_COLOURS = {"TRACKING": (40, 220, 40), "UNCERTAIN": (240, 200, 20), "LOST": (230, 40, 40), "IDLE": (160,) * 3}


@dataclass(frozen=True)
class FrameResult:
    """What the node knows about one processed frame, independent of message types."""

    state: str  # IDLE, TRACKING, UNCERTAIN or LOST
    target_id: str = ""
    score: float = 0.0
    box: tuple[float, float, float, float] | None = None  # (x, y, w, h), top-left corner, pixels
    rotated_box: tuple[float, float, float, float, float] | None = None  # (cx, cy, w, h, OpenCV degrees)
    mask: np.ndarray | None = None  # HxW bool, full image
    tracker_ms: float = 0.0  # time in the tracker's initialize() or track() for this frame


def state_name(state: object) -> str:
    """Tracker state (enum member or string) as one of STATE_CODES' names."""
    name = str(getattr(state, "name", state)).upper()
    if name not in STATE_CODES:
        raise ValueError(f"unknown tracker state {state!r}")
    return name


def box_msg(box: tuple[float, float, float, float]) -> BoundingBox2D:
    """(x, y, w, h) with x, y the top-left corner -> centre + size, theta 0."""
    x, y, w, h = (float(v) for v in box)
    msg = BoundingBox2D(size_x=w, size_y=h)
    msg.center.position.x = x + w / 2
    msg.center.position.y = y + h / 2
    return msg


def rotated_box_msg(rotated: tuple[float, float, float, float, float]) -> BoundingBox2D:
    """(cx, cy, w, h, degrees) in OpenCV's minAreaRect convention -> centre + size with theta in radians; both turn
    the box's x side from the image's +x axis towards +y (clockwise on screen, as y points down). theta is
    normalised to (-pi/2, pi/2]: a box turned by half a turn is the same box."""
    cx, cy, w, h, degrees = (float(v) for v in rotated)
    theta = math.radians(degrees)
    theta = math.atan2(math.sin(theta), math.cos(theta))  # (-pi, pi]
    if abs(theta) > math.pi / 2 or theta == -math.pi / 2:
        theta += -math.pi if theta > 0 else math.pi  # a half turn maps the box onto itself
    msg = BoundingBox2D(size_x=w, size_y=h)
    msg.center.position.x = cx
    msg.center.position.y = cy
    msg.center.theta = theta
    return msg


def has_target(result: FrameResult) -> bool:
    return result.state in ("TRACKING", "UNCERTAIN") and result.box is not None


def detections_msg(header: Header, result: FrameResult, rotated: bool = False) -> Detection2DArray:
    """One Detection2D while the target is found, an empty array otherwise. Its bbox is the axis-aligned box
    (theta 0), what vision_msgs consumers read; `rotated` puts the rotated mask box there instead. The target id is
    Detection2D.id (an object id); the hypothesis has the score and no class_id: the tracker knows no classes."""
    out = Detection2DArray(header=header)
    if not has_target(result):
        return out
    use_rotated = rotated and result.rotated_box is not None
    bbox = rotated_box_msg(result.rotated_box) if use_rotated else box_msg(result.box)
    detection = Detection2D(header=header, bbox=bbox, id=result.target_id)
    hypothesis = ObjectHypothesisWithPose()
    hypothesis.hypothesis.score = float(result.score)
    detection.results.append(hypothesis)
    out.detections.append(detection)
    return out


def state_msg(header: Header, result: FrameResult, *, latency_ms: float, frames_tracked: int,
              frames_dropped: int, input_problem: str = "") -> TrackerState:
    """The ~/state message; `input_problem` (why no usable frame has come for a while) marks it input_stale."""
    msg = TrackerState(header=header, state=STATE_CODES[result.state], target_id=result.target_id)
    msg.input_stale = bool(input_problem)
    msg.input_problem = input_problem
    msg.latency_ms = float(latency_ms)
    msg.tracker_ms = float(result.tracker_ms)
    msg.frames_tracked = int(frames_tracked)
    msg.frames_dropped = int(frames_dropped)
    if has_target(result):
        msg.score = float(result.score)
        msg.bbox = box_msg(result.box)
        msg.rotated_bbox = rotated_box_msg(result.rotated_box) if result.rotated_box is not None else msg.bbox
    return msg


def mask_msg(header: Header, mask: np.ndarray) -> Image:
    """mono8, 255 = target, at the input image's resolution."""
    return cv2_to_imgmsg(mask.astype(np.uint8) * 255, "mono8", header)


def overlay(image: np.ndarray, result: FrameResult) -> np.ndarray:
    """RGB debug view: mask tinted, axis-aligned box, rotated box and the state written in the corner."""
    colour = STATE_COLOURS[result.state]
    view = image.copy()
    if result.mask is not None and result.mask.shape == view.shape[:2] and result.mask.any():
        view[result.mask] = (0.5 * view[result.mask] + 0.5 * np.array(colour)).astype(np.uint8)
    if has_target(result):
        x, y, w, h = (round(v) for v in result.box)
        cv2.rectangle(view, (x, y), (x + w, y + h), colour, 2)
        if result.rotated_box is not None:
            cx, cy, rw, rh, degrees = result.rotated_box
            corners = cv2.boxPoints(((cx, cy), (rw, rh), degrees)).astype(np.int32)
            cv2.polylines(view, [corners], True, (255, 255, 255), 1)
    label = f"{result.state} {result.score:.2f} {result.target_id}".strip()
    cv2.putText(view, label, (8, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, 2, cv2.LINE_AA)
    return view
