"""What an ~/init request must satisfy before the node touches the tracker, with the reason in words when not.

The box against the image (inside it, not absurdly large, not below the minimum size) is checked by the tracker
itself (jcat_core.tracker.inputs.checked_box), before it changes any state.
"""

from __future__ import annotations

import math

MAX_TARGET_ID_CHARS = 256
NANOSECONDS_PER_SECOND = 1_000_000_000


def box_problem(box) -> str:
    """Why a vision_msgs/BoundingBox2D cannot be a target box whatever the image, or ''."""
    values = (box.center.position.x, box.center.position.y, box.size_x, box.size_y)
    if not all(math.isfinite(v) for v in values):
        return f"box has a non-finite value: centre ({values[0]}, {values[1]}), size {values[2]} x {values[3]}"
    if box.size_x <= 0 or box.size_y <= 0:
        return f"degenerate box: size {box.size_x} x {box.size_y} pixels (both must be > 0)"
    return ""


def stamp_problem(stamp) -> str:
    """Why a builtin_interfaces/Time is not a valid time, or ''."""
    if not 0 <= stamp.nanosec < NANOSECONDS_PER_SECOND:
        return f"stamp.nanosec must be in [0, 1e9), got {stamp.nanosec}: write the whole seconds in stamp.sec"
    if stamp.sec < 0:
        return f"stamp.sec must not be negative, got {stamp.sec}"
    return ""


def target_id_problem(target_id: str) -> str:
    if len(target_id) > MAX_TARGET_ID_CHARS:
        return f"target_id is {len(target_id)} characters long; at most {MAX_TARGET_ID_CHARS} are accepted"
    if any(not c.isprintable() for c in target_id):
        return "target_id must be printable text (no control characters)"
    return ""


def init_request_problem(request) -> str:
    """Why a jcat_ros/srv/InitTarget request cannot be applied to any frame, or ''."""
    return box_problem(request.box) or stamp_problem(request.stamp) or target_id_problem(request.target_id)
