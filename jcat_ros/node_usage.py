"""`--help` for the package's nodes: how to run one and its parameters, printed before any ROS set-up, then exit 0.

rclpy ignores arguments it does not know, so without this `ros2 run jcat_ros camera_node --help` would start a node.
"""

from __future__ import annotations

import dataclasses
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

ROS_ARGS = "--ros-args"
HELP_FLAGS = ("-h", "--help")
WIDTH = 110
TRACKER_NOTES = ("tracker.* parameters left unset take the profile's value (the defaults above are the published "
                 "profile's); `ros2 param describe /jcat_tracker NAME` says which can change while the node runs.")


@dataclass(frozen=True)
class ParameterDoc:
    """A node parameter as its declaration and its usage line both need it."""

    name: str
    default: object
    description: str
    value_range: tuple[float, float] | None = None  # inclusive; None = any value of the type


def ros_value(value: object) -> str:
    """`value` as written after `-p name:=` (ROS's YAML: true/false, [a, b] for arrays, "" for empty)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple | list):
        return f"[{', '.join(ros_value(item) for item in value)}]"
    return str(value) if value != "" else '""'


def asks_for_help(argv: Sequence[str]) -> bool:
    """Whether -h or --help is among the node's own arguments, not ROS's (from --ros-args to the next --)."""
    in_ros_args = False
    for arg in argv:
        if arg == ROS_ARGS or (in_ros_args and arg == "--"):
            in_ros_args = arg == ROS_ARGS
        elif not in_ros_args and arg in HELP_FLAGS:
            return True
    return False


def usage(name: str, description: str, parameters: Sequence[ParameterDoc], notes: str = "") -> str:
    """The usage text: the command line, the description, one entry per parameter, then `notes`."""
    lines = [f"usage: ros2 run jcat_ros {name} [--ros-args -p NAME:=VALUE ...]", "",
             textwrap.dedent(description).strip(), "", "parameters:"]
    for parameter in parameters:
        facts = f"default {ros_value(parameter.default)}"
        if parameter.value_range is not None:
            facts += f", {parameter.value_range[0]} to {parameter.value_range[1]}"
        lines += textwrap.wrap(f"{parameter.name}: {parameter.description} [{facts}]", WIDTH, initial_indent="  ",
                               subsequent_indent="      ", break_on_hyphens=False)
    if notes:
        lines += ["", *textwrap.wrap(notes, WIDTH)]
    return "\n".join(lines)


def exit_with_usage_if_asked(argv: Sequence[str] | None, name: str, description: str,
                             parameters: Sequence[ParameterDoc], notes: str = "") -> None:
    """Print the usage and exit with status 0 when `argv` (None: sys.argv) asks for help; return otherwise."""
    if asks_for_help(sys.argv if argv is None else argv):
        print(usage(name, description, parameters, notes))
        raise SystemExit(0)


def tracker_parameters() -> list[ParameterDoc]:
    """The tracker node's parameters: its own, then tracker.* from TrackerParams (published defaults)."""
    # Imported here: node_params brings torch, which only the tracker node loads.
    from jcat_core.tracker.params import TrackerParams
    from jcat_ros.node_params import DESCRIPTIONS, RANGES, TRACKER_PREFIX, NodeParams

    defaults = NodeParams()
    own = [ParameterDoc(name, getattr(defaults, name), text, RANGES.get(name)) for name, text in DESCRIPTIONS.items()]
    return own + [ParameterDoc(TRACKER_PREFIX + spec.name, spec.default, spec.metadata["doc"],
                               spec.metadata.get("range")) for spec in dataclasses.fields(TrackerParams)]
