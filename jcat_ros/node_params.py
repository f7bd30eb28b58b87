"""The tracker node's parameters: declared with descriptors and ranges, validated with a reason."""

from __future__ import annotations

from dataclasses import dataclass

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.node import Node

CHOICES = {
    "device": ("auto", "cuda", "cpu"),
    "precision": ("fp32", "fp16", "bf16"),
    "profile": ("default", "vot"),
    "image_transport": ("raw", "compressed"),
    "reliability": ("best_effort", "reliable"),
}


@dataclass
class NodeParams:
    """Values of the node's parameters; read-only ones take effect at configure."""

    autostart: bool = True
    weights: str = ""
    device: str = "auto"
    precision: str = "fp32"
    profile: str = "default"
    image_transport: str = "raw"
    reliability: str = "best_effort"
    history_size: int = 30
    init_stamp_tolerance: float = 0.5
    publish_mask: bool = True
    diagnostics_period: float = 1.0
    problem: str = ""  # why the values cannot be used, empty when they can

    def build_tracker(self):
        """The tracker these parameters describe, and the device it runs on."""
        if self.problem:
            raise ValueError(self.problem)
        # Heavy (torch): imported at configure, not at start-up.
        from jcat_core.models.checkpoint import default_weights_path
        from jcat_core.tracker import build_tracker

        tracker = build_tracker(weights=self.weights or default_weights_path(), device=self.device,
                                precision=self.precision, profile=self.profile)
        return tracker, str(getattr(tracker, "device", self.device))

    def update(self, name: str, value: object, tracker: object | None) -> str:
        """Apply a run-time change; the reason it is refused, or an empty string."""
        if name in RUNTIME:
            setattr(self, name, value)
        return ""


DESCRIPTIONS = {
    "autostart": "configure and activate at start-up, so a plain launch tracks without lifecycle commands",
    "weights": "JCAT weights: the authors' JcatNet.pth.tar, a jcat safetensors file, or 'standin' (the colour-key "
               "test network); empty = the default location (~/.cache/jcat/JcatNet.pth.tar or $JCAT_WEIGHTS_DIR)",
    "device": "auto (CUDA when available), cuda or cpu",
    "precision": "fp32, fp16 or bf16 (CUDA autocast; bf16 on CPU is very slow)",
    "profile": "tracker defaults: default (the published ones) or vot",
    "image_transport": "raw subscribes to `image` (sensor_msgs/Image), compressed to `image/compressed`",
    "reliability": "QoS reliability of the image subscription (best_effort matches camera drivers' sensor data)",
    "history_size": "frames kept so that ~/init can use the frame nearest its stamp",
    "init_stamp_tolerance": "seconds between an ~/init stamp and the nearest buffered frame beyond which the "
                            "request is refused instead of applied to the wrong frame",
    "publish_mask": "publish ~/mask (mono8, 255 = target) for every processed frame while a target is set",
    "diagnostics_period": "seconds between /diagnostics messages",
}
RANGES = {"history_size": (1, 300), "diagnostics_period": (0.1, 60.0), "init_stamp_tolerance": (0.0, 3600.0)}
RUNTIME = {"publish_mask", "init_stamp_tolerance"}


def _descriptor(name: str) -> ParameterDescriptor:
    descriptor = ParameterDescriptor(description=DESCRIPTIONS[name], read_only=name not in RUNTIME)
    if name in CHOICES:
        descriptor.additional_constraints = "one of: " + ", ".join(CHOICES[name])
    low_high = RANGES.get(name)
    if isinstance(low_high, tuple) and isinstance(low_high[0], int):
        descriptor.integer_range = [IntegerRange(from_value=low_high[0], to_value=low_high[1], step=1)]
    elif low_high:
        descriptor.floating_point_range = [FloatingPointRange(from_value=low_high[0], to_value=low_high[1])]
    return descriptor


def declare_node_params(node: Node) -> NodeParams:
    """Declare every parameter on `node` and return their values, with `problem` set if any is invalid."""
    defaults = NodeParams()
    values, problems = {}, []
    for name in DESCRIPTIONS:
        try:
            values[name] = node.declare_parameter(name, getattr(defaults, name), _descriptor(name)).value
        except (InvalidParameterValueException, InvalidParameterTypeException) as err:
            # Out of range or of the wrong type: keep the node up on the default and report why.
            problems.append(f"parameter {name}: {err}")
            values[name] = node.declare_parameter(name, getattr(defaults, name), _descriptor(name),
                                                  ignore_override=True).value
    params = NodeParams(**values)
    problems += [f"parameter {name}: {values[name]!r} is not one of {', '.join(options)}"
                 for name, options in CHOICES.items() if values[name] not in options]
    params.problem = "; ".join(problems)
    return params
