"""The node's parameter declarations: the tracker profile choice and the BOOL tracker.one_backbone_pass, with the
reasons bad values are refused (the node stays up on its defaults and reports them)."""

from __future__ import annotations

import random

import pytest

rclpy = pytest.importorskip("rclpy")
from jcat_ros.node_params import declare_node_params  # noqa: E402

pytestmark = pytest.mark.ros


def declared(*overrides: str):
    """The NodeParams a node gets with these `-p name:=value` overrides, declared in a private context."""
    context = rclpy.Context()
    args = ["--ros-args", *(arg for item in overrides for arg in ("-p", item))]
    rclpy.init(args=args, context=context, domain_id=random.randint(101, 200))
    node = rclpy.create_node("params_test", context=context)
    try:
        return declare_node_params(node)
    finally:
        node.destroy_node()
        context.try_shutdown()


def test_the_lite_profile_and_a_bool_tracker_parameter_are_accepted() -> None:
    params = declared("profile:=lite", "tracker.one_backbone_pass:=true")
    assert params.problem == "" and params.tracker_overrides == {"one_backbone_pass": True}
    assert params.tracker_params().one_backbone_pass
    defaults = declared()
    assert defaults.profile == "auto" and defaults.problem == "" and defaults.tracker_overrides == {}


def test_an_unknown_profile_and_a_non_bool_value_are_refused_with_reasons() -> None:
    params = declared("profile:=fastest", "tracker.one_backbone_pass:=3")
    assert "'fastest' is not one of auto, default, vot, lite" in params.problem
    assert "tracker.one_backbone_pass" in params.problem and "expecting type 'BOOL'" in params.problem
    assert "one_backbone_pass" not in params.tracker_overrides  # left unset: the profile decides
