"""The tracker node's parameters: declared with descriptors and ranges, validated with a reason."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.node import Node
from rclpy.parameter import Parameter

from jcat_core.tracker import AUTO, PROFILES, RUNTIME_PARAMS, TrackerParams
from jcat_ros.descriptors import describe

TRACKER_PREFIX = "tracker."  # tracker.<TrackerParams field>: unset = the profile's published default

CHOICES = {
    "device": ("auto", "cuda", "cpu"),
    "precision": ("fp32", "fp16", "bf16"),
    "profile": (AUTO, *PROFILES),
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
    cpu_threads: int = 0
    profile: str = AUTO
    image_transport: str = "raw"
    reliability: str = "best_effort"
    history_size: int = 30
    init_stamp_tolerance: float = 0.5
    publish_mask: bool = True
    rotated_detections: bool = False
    stale_after: float = 1.0
    diagnostics_period: float = 1.0
    tracker_overrides: dict[str, object] = field(default_factory=dict)  # the tracker.* values that are set
    problem: str = ""  # why the values cannot be used, empty when they can

    def tracker_params(self, **changes: object) -> TrackerParams:
        """The profile's parameters with the overrides (and `changes`) applied; ValueError when invalid. For
        "auto", which the weights decide at configure, the checks use the published profile's ranges (the same)."""
        profile = "default" if self.profile == AUTO else self.profile
        return TrackerParams.profile(profile).with_overrides(**{**self.tracker_overrides, **changes})

    def build_tracker(self):
        """The tracker these parameters describe, the device it runs on, and what its weights are (for the log, with
        where the published weights go when these are not them)."""
        if self.problem:
            raise ValueError(self.problem)
        # Heavy (torch): imported at configure, not at start-up.
        import torch

        from jcat_core.models.checkpoint import default_weights_path
        from jcat_core.models.weights_choice import choose_weights, published_hint
        from jcat_core.tracker import build_tracker

        weights, description = choose_weights(self.weights or None)
        if weights != str(default_weights_path()):
            description += f". {published_hint()}"
        if self.cpu_threads:
            torch.set_num_threads(self.cpu_threads)
        tracker = build_tracker(weights=weights, device=self.device, precision=self.precision,
                                profile=self.profile, **self.tracker_overrides)
        return tracker, str(getattr(tracker, "device", self.device)), description

    def copy(self) -> NodeParams:
        """An independent copy, to try a parameter set on before applying it."""
        return dataclasses.replace(self, tracker_overrides=dict(self.tracker_overrides))

    def update(self, name: str, value: object) -> str:
        """Record a run-time change of a node parameter or a tracker.* one; the reason it is refused, or ''."""
        if name.startswith(TRACKER_PREFIX):
            key = name.removeprefix(TRACKER_PREFIX)
            try:
                self.tracker_params(**{key: value})
            except ValueError as err:
                return f"{name}: {err}"
            self.tracker_overrides[key] = value
        elif name in RUNTIME:
            setattr(self, name, value)
        return ""


DESCRIPTIONS = {
    "autostart": "configure and activate at start-up, so a plain launch tracks without lifecycle commands",
    "weights": "JCAT weights: empty = the best available (the authors' JcatNet.pth.tar in ~/.cache/jcat or "
               "$JCAT_WEIGHTS_DIR if it is there, else the project's demo weights; the log says which), 'published' "
               "(that file or a clear failure), a JcatNet.pth.tar or jcat .safetensors path, or 'standin' (the "
               "colour-key test network)",
    "device": "auto (CUDA when available), cuda or cpu",
    "precision": "fp32, fp16 or bf16 (CUDA autocast; bf16 on CPU is very slow)",
    "cpu_threads": "PyTorch intra-op threads for the tracker on the CPU, 0 = PyTorch's default (one per core); on a "
                   "machine whose cores are busy with other processes, 1 is far steadier",
    "profile": "tracker defaults: auto (lite for EfficientNet-Lite weights such as the demo ones, else default), "
               "default (the published ones), vot, or lite (one backbone pass per frame)",
    "image_transport": "raw subscribes to `image` (sensor_msgs/Image), compressed to `image/compressed`",
    "reliability": "QoS reliability of the image subscription (best_effort matches camera drivers' sensor data)",
    "history_size": "frames kept so that ~/init can use the frame nearest its stamp",
    "init_stamp_tolerance": "seconds between an ~/init stamp and the nearest buffered frame beyond which the "
                            "request is refused instead of applied to the wrong frame",
    "publish_mask": "publish ~/mask (mono8, 255 = target) for every processed frame while a target is set",
    "rotated_detections": "put the rotated box fitted to the mask in ~/detections (bbox.center.theta set) instead of "
                          "the axis-aligned box; ~/state always has both",
    "stale_after": "seconds without a usable frame after which the input counts as stale: /diagnostics goes to WARN "
                   "and ~/state is published on a wall timer with input_stale set",
    "diagnostics_period": "seconds between /diagnostics messages (a wall-clock timer: published without /clock too)",
}
RANGES = {"cpu_threads": (0, 256), "history_size": (1, 300), "diagnostics_period": (0.1, 60.0),
          "init_stamp_tolerance": (0.0, 3600.0), "stale_after": (0.05, 3600.0)}
RUNTIME = {"publish_mask", "init_stamp_tolerance", "rotated_detections", "stale_after"}


def _descriptor(name: str) -> ParameterDescriptor:
    value_range = RANGES.get(name)
    descriptor = describe(DESCRIPTIONS[name], read_only=name not in RUNTIME, value_range=value_range,
                          integer=value_range is not None and isinstance(value_range[0], int))
    if name in CHOICES:
        descriptor.additional_constraints = "one of: " + ", ".join(CHOICES[name])
    return descriptor


def _tracker_descriptor(spec: dataclasses.Field) -> tuple[Parameter.Type, ParameterDescriptor]:
    """Type and descriptor of tracker.<field>, from TrackerParams' own range and documentation."""
    text = f"{spec.metadata['doc']} (published default: {spec.default})"
    read_only = spec.name not in RUNTIME_PARAMS
    if isinstance(spec.default, tuple):
        return Parameter.Type.DOUBLE_ARRAY, describe(text, read_only=read_only)
    if isinstance(spec.default, bool):
        return Parameter.Type.BOOL, describe(text, read_only=read_only)
    integer = isinstance(spec.default, int)
    descriptor = describe(text, read_only=read_only, value_range=spec.metadata["range"], integer=integer)
    return (Parameter.Type.INTEGER if integer else Parameter.Type.DOUBLE), descriptor


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
    for spec in dataclasses.fields(TrackerParams):
        name = TRACKER_PREFIX + spec.name
        param_type, descriptor = _tracker_descriptor(spec)
        try:
            value = node.declare_parameter(name, param_type, descriptor).value
        except (InvalidParameterValueException, InvalidParameterTypeException) as err:
            problems.append(f"parameter {name}: {err}")
            node.declare_parameter(name, param_type, descriptor, ignore_override=True)
            continue
        if value is not None:
            params.tracker_overrides[spec.name] = list(value) if isinstance(spec.default, tuple) else value
    if params.profile in CHOICES["profile"]:
        try:
            params.tracker_params()
        except ValueError as err:
            problems.append(f"tracker parameters: {err}")
    params.problem = "; ".join(problems)
    return params
