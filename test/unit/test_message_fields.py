"""jcat_ros.message_fields reads stamps and boxes of rosbags' messages (no ROS needed) as of rclpy's."""

from __future__ import annotations

import numpy as np
import pytest

from jcat_ros.bag import convert
from jcat_ros.message_fields import box_xywh, time_ns


def test_a_box_written_for_a_bag_reads_back_as_top_left_and_size() -> None:
    bbox = convert.bbox_message((10.5, 20.0, 30.0, 41.0))
    assert (bbox.center.position.x, bbox.center.position.y) == (25.5, 40.5)
    assert box_xywh(bbox) == pytest.approx((10.5, 20.0, 30.0, 41.0))
    assert all(type(v) is float for v in box_xywh(bbox))


def test_stamps_in_nanoseconds_survive_numpy_integer_fields() -> None:
    ns = 1_796_177_358_500_003_153
    assert time_ns(convert.stamp(ns)) == ns
    assert time_ns(convert.header(ns, "camera").stamp) == ns
    wide = convert.stamp(0)
    wide.sec, wide.nanosec = np.int32(1_796_177_358), np.uint32(500_003_153)  # 32-bit: would overflow if multiplied
    assert time_ns(wide) == ns
