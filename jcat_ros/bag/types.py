"""One rosbags type store with ROS 2 Kilted's standard messages plus vision_msgs and jcat_ros' own, read from the
.msg/.srv files in this repository (so bags written here carry the exact definitions `ros2 bag play` needs)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

REPO = Path(__file__).resolve().parents[2]
IMAGE = "sensor_msgs/msg/Image"
COMPRESSED = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"
DETECTIONS = "vision_msgs/msg/Detection2DArray"
TRACKER_STATE = "jcat_ros/msg/TrackerState"
DIAGNOSTICS = "diagnostic_msgs/msg/DiagnosticArray"
INIT_REQUEST = "jcat_ros/srv/InitTarget_Request"
CLOCK = "rosgraph_msgs/msg/Clock"
IMAGE_TYPES = (IMAGE, COMPRESSED)


def _share(package: str, source: Path) -> Path:
    """The folder holding a package's msg/ (and srv/): the source checkout's, else the installed share directory."""
    if (source / "msg").is_dir():
        return source
    from ament_index_python.packages import get_package_share_directory  # installed with colcon on a ROS machine

    return Path(get_package_share_directory(package))


def _definitions() -> dict:
    """vision_msgs (compat/ here, identical to 4.1.1) and jcat_ros' message and service request types."""
    vision = _share("vision_msgs", REPO / "compat" / "vision_msgs")
    own = _share("jcat_ros", REPO)
    types: dict = {}
    for path in sorted((vision / "msg").glob("*.msg")):
        types.update(get_types_from_msg(path.read_text(), f"vision_msgs/msg/{path.stem}"))
    types.update(get_types_from_msg((own / "msg" / "TrackerState.msg").read_text(), TRACKER_STATE))
    request = (own / "srv" / "InitTarget.srv").read_text().split("\n---")[0]
    # rosbags would file it under jcat_ros/srv/msg/; ROS names a request type jcat_ros/srv/InitTarget_Request
    types[INIT_REQUEST] = next(iter(get_types_from_msg(request, INIT_REQUEST).values()))
    return types


@cache
def typestore() -> Typestore:
    store = get_typestore(Stores.ROS2_KILTED)
    store.register(_definitions())
    return store
