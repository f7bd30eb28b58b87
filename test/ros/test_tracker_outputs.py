"""Output messages from one tracker result: boxes and angles converted right, empty when no target."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

pytestmark = pytest.mark.ros

outputs = pytest.importorskip("jcat_ros.tracker_outputs")
from jcat_ros.msg import TrackerState  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

HEADER = Header(frame_id="cam")
HEADER.stamp.sec, HEADER.stamp.nanosec = 12, 34


def rotated_mask_result(angle: float) -> tuple:
    """A rotated rectangle drawn into a mask, with OpenCV's minAreaRect reading of it."""
    mask = np.zeros((200, 300), np.uint8)
    corners = cv2.boxPoints(((150.0, 100.0), (120.0, 40.0), angle)).astype(np.int32)
    cv2.fillPoly(mask, [corners], 1)
    contour = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0][0]
    (cx, cy), (w, h), a = cv2.minAreaRect(contour)
    return mask.astype(bool), (cx, cy, w, h, a)


@pytest.mark.parametrize("angle", [0.0, 20.0, 45.0, 70.0, 90.0])
def test_rotated_box_theta_turns_the_x_side_from_plus_x_towards_plus_y(angle: float) -> None:
    mask, rotated = rotated_mask_result(angle)
    msg = outputs.rotated_box_msg(rotated)
    assert -math.pi / 2 < msg.center.theta <= math.pi / 2
    # The box's x side, turned by theta from +x towards +y (y down), runs along the mask's pixels.
    direction = np.array([math.cos(msg.center.theta), math.sin(msg.center.theta)])
    along = [np.array([msg.center.position.x, msg.center.position.y]) + t * direction
             for t in np.linspace(-0.45, 0.45, 9) * msg.size_x]
    assert all(mask[round(float(y)), round(float(x))] for x, y in along)
    assert msg.size_x * msg.size_y == pytest.approx(120 * 40, rel=0.06)


def test_detections_and_state_while_tracking_and_while_lost() -> None:
    tracking = outputs.FrameResult("TRACKING", "cup", 0.8, (10.0, 20.0, 30.0, 40.0), None, None, tracker_ms=12.5)
    [detection] = outputs.detections_msg(HEADER, tracking).detections
    assert detection.header == HEADER and detection.id == "cup"
    assert detection.results[0].hypothesis.class_id == ""  # an object id, not a class
    assert detection.results[0].hypothesis.score == pytest.approx(0.8)
    assert (detection.bbox.center.position.x, detection.bbox.center.position.y) == (25.0, 40.0)
    # With a rotated mask box: the detection keeps the axis-aligned box (theta 0) unless asked for the rotated one.
    mask, rotated = rotated_mask_result(30.0)
    turned = outputs.FrameResult("TRACKING", "cup", 0.8, (90.0, 60.0, 120.0, 80.0), rotated, mask)
    [axis_aligned] = outputs.detections_msg(HEADER, turned).detections
    assert axis_aligned.bbox.center.theta == 0.0 and (axis_aligned.bbox.size_x, axis_aligned.bbox.size_y) == (120, 80)
    assert axis_aligned.bbox == outputs.state_msg(HEADER, turned, latency_ms=0, frames_tracked=1,
                                                  frames_dropped=0).bbox
    [turned_box] = outputs.detections_msg(HEADER, turned, rotated=True).detections
    assert turned_box.bbox == outputs.rotated_box_msg(rotated) and turned_box.bbox.center.theta != 0.0
    state = outputs.state_msg(HEADER, tracking, latency_ms=5.0, frames_tracked=3, frames_dropped=1)
    assert (state.state, state.score, state.frames_tracked, state.frames_dropped) == (TrackerState.TRACKING,
                                                                                       pytest.approx(0.8), 3, 1)
    assert state.rotated_bbox == state.bbox  # no mask: the rotated box is the axis-aligned one
    assert state.tracker_ms == pytest.approx(12.5)
    assert not state.input_stale and state.input_problem == ""
    stale = outputs.state_msg(HEADER, tracking, latency_ms=0, frames_tracked=3, frames_dropped=1,
                              input_problem="no frame for 2.0 s")
    assert stale.input_stale and stale.input_problem == "no frame for 2.0 s"

    for name in ("LOST", "IDLE"):
        result = outputs.FrameResult(name, "cup", 0.1, (10.0, 20.0, 30.0, 40.0), None, None)
        assert outputs.detections_msg(HEADER, result).detections == []
        state = outputs.state_msg(HEADER, result, latency_ms=0.0, frames_tracked=9, frames_dropped=0)
        assert state.score == 0.0 and state.bbox.size_x == 0.0 and state.header == HEADER
    with pytest.raises(ValueError, match="unknown tracker state"):
        outputs.state_name("FLYING")


def test_mask_and_overlay() -> None:
    mask, rotated = rotated_mask_result(30.0)
    msg = outputs.mask_msg(HEADER, mask)
    assert (msg.encoding, msg.width, msg.height, msg.step) == ("mono8", 300, 200, 300)
    values = np.frombuffer(bytes(msg.data), np.uint8).reshape(200, 300)
    np.testing.assert_array_equal(values == 255, mask)
    image = np.zeros((200, 300, 3), np.uint8)
    view = outputs.overlay(image, outputs.FrameResult("TRACKING", "t", 0.9, (90.0, 60.0, 120.0, 80.0), rotated, mask))
    assert view.shape == image.shape and view[mask].mean() > 0 and image.max() == 0
