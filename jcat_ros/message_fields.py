"""Fields of ROS messages read without importing ROS, so rclpy messages and rosbags' dataclasses (the bag tools,
which run without ROS) share one reading."""

from __future__ import annotations


def time_ns(stamp) -> int:
    """A builtin_interfaces/Time (e.g. header.stamp) in nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def box_xywh(bbox) -> tuple[float, float, float, float]:
    """Centre + size of a vision_msgs/BoundingBox2D -> (x, y, w, h) with x, y the top-left corner (theta ignored:
    the axis-aligned extent is meant)."""
    return (float(bbox.center.position.x - bbox.size_x / 2), float(bbox.center.position.y - bbox.size_y / 2),
            float(bbox.size_x), float(bbox.size_y))
