"""One rosbags type store with ROS 2 Kilted's standard messages plus vision_msgs and jcat_ros' own, read from the
.msg/.srv files in this repository (so bags written here carry the exact definitions `ros2 bag play` needs)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from rosbags.interfaces import Connection, Nodetype
from rosbags.rosbag2 import Writer
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
IDL_NAMES = {"bool": "boolean", "byte": "octet", "float32": "float", "float64": "double"}  # others: the same word


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


def add_connection(writer: Writer, topic: str, msgtype: str) -> Connection:
    """A bag connection carrying msgtype's full definition and RIHS01 hash. A service type (jcat_ros/srv/X_Request,
    ROS' name) gets its definition as IDL: rosbags files a .msg text of that name under jcat_ros/srv/msg/, so a reader
    that builds its types from the bag (rosbags' AnyReader) would not find the type the connection names."""
    store = typestore()
    if "/srv/" not in msgtype:
        return writer.add_connection(topic, msgtype, typestore=store)
    return writer.add_connection(topic, msgtype, msgdef=idl_definition(msgtype), rihs01=store.hash_rihs01(msgtype))


def idl_definition(msgtype: str) -> str:
    """msgtype and every type it uses in rosbag2's ros2idl encoding (each after a line of 80 '=' and `IDL: <type>`),
    without #include lines: every included type has its own section, and rosbags' IDL parser rejects them."""
    return "".join(f"{'=' * 80}\nIDL: {name}\n{_idl_struct(name)}" for name in _used_types(msgtype))


def _used_types(msgtype: str) -> list[str]:
    """msgtype, then each message type its fields (and theirs) use, once."""
    found = [msgtype]
    for name in found:  # grows while it is walked: breadth first
        for _, (kind, ref) in typestore().fielddefs[name][1]:
            if kind == Nodetype.NAME and ref not in found:
                found.append(ref)
    return found


def _idl_struct(msgtype: str) -> str:
    """One type as rosidl lays it out in IDL, a module per part of its name around the struct."""
    constants, fields = typestore().fielddefs[msgtype]
    if constants:
        raise ValueError(f"{msgtype}: constants are not written as IDL here")
    package, namespace, name = msgtype.split("/")
    members = "".join(f"      {_idl_type(msgtype, desc)} {field};\n" for field, desc in fields)
    return f"module {package} {{\n  module {namespace} {{\n    struct {name} {{\n{members}    }};\n  }};\n}};\n"


def _idl_type(msgtype: str, desc: tuple) -> str:
    """The IDL spelling of a scalar field: a message type or an unbounded base type (all the service types use)."""
    kind, detail = desc
    if kind == Nodetype.NAME:
        return detail.replace("/", "::")
    if kind == Nodetype.BASE and not detail[1]:
        return IDL_NAMES.get(detail[0], detail[0])
    raise ValueError(f"{msgtype}: field type {desc} is not written as IDL here")
