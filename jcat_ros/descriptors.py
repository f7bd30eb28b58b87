"""ROS parameter descriptors: description, read-only flag and inclusive range in one call."""

from __future__ import annotations

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor


def describe(text: str, *, read_only: bool = True, value_range: tuple[float, float] | None = None,
             integer: bool = False) -> ParameterDescriptor:
    """A descriptor that ROS enforces: read-only parameters and values outside the range are refused."""
    descriptor = ParameterDescriptor(description=text, read_only=read_only)
    if value_range is not None:
        low, high = value_range
        if integer:
            descriptor.integer_range = [IntegerRange(from_value=int(low), to_value=int(high), step=1)]
        else:
            descriptor.floating_point_range = [FloatingPointRange(from_value=float(low), to_value=float(high))]
    return descriptor
