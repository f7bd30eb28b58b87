"""The generated interfaces have exactly the documented fields, types and constants.

vision_msgs: the table below is upstream vision_msgs 4.1.1's definitions; the compat package must match it and
must produce the same RIHS01 type hashes as the upstream package built from ../shared/vendor/ros2.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.ros

REPO = Path(__file__).resolve().parents[2]
UPSTREAM_VISION_MSGS = [
    REPO.parent / "shared" / "vendor" / "ros2" / "src" / "vision_msgs",
    REPO / "shared" / "vendor" / "ros2" / "src" / "vision_msgs",
]

HEADER = "std_msgs/Header"
VISION_MSGS: dict[str, dict[str, str]] = {
    "Point2D": {"x": "double", "y": "double"},
    "Pose2D": {"position": "vision_msgs/Point2D", "theta": "double"},
    "BoundingBox2D": {"center": "vision_msgs/Pose2D", "size_x": "double", "size_y": "double"},
    "BoundingBox2DArray": {"header": HEADER, "boxes": "sequence<vision_msgs/BoundingBox2D>"},
    "BoundingBox3D": {"center": "geometry_msgs/Pose", "size": "geometry_msgs/Vector3"},
    "BoundingBox3DArray": {"header": HEADER, "boxes": "sequence<vision_msgs/BoundingBox3D>"},
    "ObjectHypothesis": {"class_id": "string", "score": "double"},
    "ObjectHypothesisWithPose": {
        "hypothesis": "vision_msgs/ObjectHypothesis", "pose": "geometry_msgs/PoseWithCovariance"
    },
    "Detection2D": {
        "header": HEADER, "results": "sequence<vision_msgs/ObjectHypothesisWithPose>",
        "bbox": "vision_msgs/BoundingBox2D", "id": "string",
    },
    "Detection2DArray": {"header": HEADER, "detections": "sequence<vision_msgs/Detection2D>"},
    "Detection3D": {
        "header": HEADER, "results": "sequence<vision_msgs/ObjectHypothesisWithPose>",
        "bbox": "vision_msgs/BoundingBox3D", "id": "string",
    },
    "Detection3DArray": {"header": HEADER, "detections": "sequence<vision_msgs/Detection3D>"},
    "Classification": {"header": HEADER, "results": "sequence<vision_msgs/ObjectHypothesis>"},
    "VisionClass": {"class_id": "uint16", "class_name": "string"},
    "LabelInfo": {"header": HEADER, "class_map": "sequence<vision_msgs/VisionClass>", "threshold": "float"},
    "VisionInfo": {
        "header": HEADER, "method": "string", "database_location": "string", "database_version": "int32"
    },
}

TRACKER_STATE = {
    "header": HEADER,
    "state": "uint8",
    "target_id": "string",
    "score": "float",
    "bbox": "vision_msgs/BoundingBox2D",
    "rotated_bbox": "vision_msgs/BoundingBox2D",
    "latency_ms": "float",
    "tracker_ms": "float",
    "frames_tracked": "uint32",
    "frames_dropped": "uint32",
    "input_stale": "boolean",
    "input_problem": "string",
}
INIT_TARGET_REQUEST = {
    "box": "vision_msgs/BoundingBox2D", "stamp": "builtin_interfaces/Time", "target_id": "string"
}
INIT_TARGET_RESPONSE = {"success": "boolean", "message": "string", "target_id": "string"}


@pytest.mark.parametrize("name", sorted(VISION_MSGS))
def test_vision_msgs_fields_match_upstream_table(name: str) -> None:
    msg_type = getattr(importlib.import_module("vision_msgs.msg"), name)
    assert msg_type.get_fields_and_field_types() == VISION_MSGS[name]
    assert constants(msg_type) == {}  # upstream defines no constants in these messages


def constants(msg_type: type) -> dict[str, object]:
    """The constants a generated message type defines (rosidl keeps them on its metaclass)."""
    metaclass = type(msg_type)
    return dict(getattr(metaclass, f"_{metaclass.__name__}__constants"))


def test_tracker_state_fields_and_constants() -> None:
    from jcat_ros.msg import TrackerState

    assert TrackerState.get_fields_and_field_types() == TRACKER_STATE
    assert constants(TrackerState) == {"IDLE": 0, "TRACKING": 1, "UNCERTAIN": 2, "LOST": 3}
    assert TrackerState().state == TrackerState.IDLE  # a default-constructed state means "no target"


def test_init_target_request_and_response_fields() -> None:
    from jcat_ros.srv import InitTarget

    assert InitTarget.Request.get_fields_and_field_types() == INIT_TARGET_REQUEST
    assert InitTarget.Response.get_fields_and_field_types() == INIT_TARGET_RESPONSE


def type_hashes(share_dir: Path) -> dict[str, str]:
    """RIHS01 hash of every message in an installed interface package's share/<pkg>/msg/*.json."""
    hashes = {}
    for path in sorted((share_dir / "msg").glob("*.json")):
        own = json.loads(path.read_text())["type_hashes"][0]
        hashes[own["type_name"]] = own["hash_string"]
    return hashes


def colcon_build(package: Path, workspace: Path) -> Path:
    """Build one interface package with colcon into `workspace`; return its installed share directory."""
    env = dict(os.environ)
    result = subprocess.run(
        ["colcon", "--log-base", str(workspace / "log"), "build", "--paths", str(package),
         "--build-base", str(workspace / "build"), "--install-base", str(workspace / "install"),
         "--cmake-args", "-DBUILD_TESTING=OFF", f"-DPython3_EXECUTABLE={sys.executable}"],
        cwd=workspace, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return workspace / "install" / "vision_msgs" / "share" / "vision_msgs"


@pytest.mark.slow
def test_compat_vision_msgs_type_hashes_equal_upstream(tmp_path: Path) -> None:
    upstream = next((p for p in UPSTREAM_VISION_MSGS if (p / "package.xml").exists()), None)
    if upstream is None:
        pytest.skip("upstream vision_msgs sources (../shared/vendor/ros2/src/vision_msgs) are not on this machine")
    (tmp_path / "upstream").mkdir()
    (tmp_path / "compat").mkdir()
    upstream_hashes = type_hashes(colcon_build(upstream, tmp_path / "upstream"))
    compat_hashes = type_hashes(colcon_build(REPO / "compat" / "vision_msgs", tmp_path / "compat"))
    assert set(compat_hashes) == set(upstream_hashes)
    assert compat_hashes == upstream_hashes
    assert len(compat_hashes) == len(VISION_MSGS)
