"""JCAT network: frozen backbone (``feature_extractor``) + segmentation head (``segm_predictor``).

Parameter names equal the published ``JcatNet.pth.tar`` so its state_dict loads strictly (see checkpoint.py).
The backbone is the published ResNet-50 by default; ResNet-18/34 and EfficientNet-Lite0/1/2 are variants.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from jcat_core.models.attention import CrossAttentionFusion, from_tokens, to_tokens
from jcat_core.models.backbone import BACKBONES, DEFAULT_LEVELS, LITE_SCALING, build_backbone, normalize_lite
from jcat_core.models.correlation import correlation_maps, mixer, mixer_input, projection
from jcat_core.models.decoder import conv_block, merge_skip, upsample2

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

Features = Mapping[str, torch.Tensor]
BankEntry = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class JcatConfig:
    """What builds a JcatNet; the published model is the default (ResNet-50, distance map on)."""

    backbone: str = "resnet50"  # resnet50 (published) | resnet18 | resnet34 | efficientnet_lite0/1/2
    mixer_channels: int = 3  # 3 = [p, pos, dist] (published), 2 = [p, pos] (no distance map)
    inter_dims: tuple[int, int, int, int] = (4, 16, 32, 64)  # decoder widths at strides 2, 4, 8, 16
    mixer_hidden: int = 32
    topk: int = 3  # reference cells averaged for pos / neg
    crop_size: int = 384  # side of the square crop the tracker feeds in (any multiple of 16 works)

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {list(BACKBONES)}, got {self.backbone!r}")
        if self.mixer_channels not in (2, 3):
            raise ValueError(f"mixer_channels must be 2 (no distance map) or 3, got {self.mixer_channels}")
        if self.crop_size % 16:
            raise ValueError(f"crop_size must be a multiple of 16, got {self.crop_size}")
        object.__setattr__(self, "inter_dims", tuple(int(d) for d in self.inter_dims))

    @property
    def uses_distance_map(self) -> bool:
        return self.mixer_channels == 3

    @property
    def is_efficientnet(self) -> bool:
        return self.backbone in LITE_SCALING

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JcatConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown JcatConfig field(s): {unknown}")
        return cls(**data)


class JcatHead(nn.Module):
    """Segmentation head: correlation branch + attention branch, added, then a 4-step decoder to full size."""

    def __init__(self, level_channels: Mapping[str, int], config: JcatConfig) -> None:
        super().__init__()
        d0, d1, d2, d3 = config.inter_dims
        c0, c1, c2, c3 = (level_channels[name] for name in DEFAULT_LEVELS)
        self.topk = config.topk
        self.mixer_channels = config.mixer_channels
        # correlation (position) branch
        self.segment0, self.segment1 = projection(c3, d3)
        self.mixer0, self.mixer1 = mixer(config.mixer_channels, config.mixer_hidden, d3)
        # attention (semantics) branch
        self.fusion0, self.fusion1 = projection(c3, d3)
        self.fusion = CrossAttentionFusion(d3)
        self.f3_0, self.f3_1 = conv_block(d3, d3), conv_block(d3, d3, relu=False)
        # decoder: stride 16 -> 8 -> 4 -> 2 -> 1
        self.s3_0, self.s3_1 = conv_block(d3, d2), conv_block(d2, d2, relu=False)
        self.f2_0, self.f2_1 = conv_block(c2, d3), conv_block(d3, d2, relu=False)
        self.post2_0, self.post2_1 = conv_block(d2, d1), conv_block(d1, d1, relu=False)
        self.f1_0, self.f1_1 = conv_block(c1, d2), conv_block(d2, d1, relu=False)
        self.post1_0, self.post1_1 = conv_block(d1, d0), conv_block(d0, d0, relu=False)
        self.f0_0, self.f0_1 = conv_block(c0, d1), conv_block(d1, d0, relu=False)
        self.post0_0, self.post0_1 = conv_block(d0, 2), conv_block(2, 2, relu=False)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.kaiming_normal_(m.weight, mode="fan_in")
                nn.init.zeros_(m.bias)

    def correlation_projection(self, layer3: torch.Tensor) -> torch.Tensor:
        """layer3 (BxCx24x24) -> 64-channel features compared by cosine similarity (Bx64x24x24)."""
        return self.segment1(self.segment0(layer3))

    def forward(self, test_feats: Features, ref_layer3: torch.Tensor, ref_mask: torch.Tensor,
                dist_map: torch.Tensor | None = None, bank: Sequence[BankEntry] = ()) -> torch.Tensor:
        """Logits Bx2xHxW (channel 0 target, 1 background); shapes below for a 384 crop and ResNet-50."""
        if (dist_map is not None) != (self.mixer_channels == 3):
            need = "needs a distance map" if self.mixer_channels == 3 else "takes no distance map"
            raise ValueError(f"this head (mixer_channels={self.mixer_channels}) {need}")
        test3 = test_feats["layer3"]  # Bx1024x24x24
        # correlation: [p, pos(, dist)] -> Bx64x24x24
        references = [(self.correlation_projection(ref_layer3), ref_mask), *bank]
        p, pos = correlation_maps(self.correlation_projection(test3), references, self.topk)
        corr = self.mixer1(self.mixer0(mixer_input(p, pos, dist_map)))
        # attention: 576 reference tokens x 576 test tokens -> Bx64x24x24
        ref_tokens = to_tokens(self.fusion1(self.fusion0(ref_layer3)))
        test_tokens = to_tokens(self.fusion1(self.fusion0(test3)))
        att = from_tokens(self.fusion(ref_tokens, test_tokens), test3.shape[-2:])
        x = corr + self.f3_1(self.f3_0(att))  # Bx64x24x24
        x = self.s3_1(self.s3_0(upsample2(x)))  # Bx32x48x48
        x = self.post2_1(self.post2_0(merge_skip(x, self.f2_1(self.f2_0(test_feats["layer2"])))))  # Bx16x96x96
        x = self.post1_1(self.post1_0(merge_skip(x, self.f1_1(self.f1_0(test_feats["layer1"])))))  # Bx4x192x192
        return self.post0_1(self.post0_0(merge_skip(x, self.f0_1(self.f0_0(test_feats["conv1"])))))  # Bx2x384x384


class JcatNet(nn.Module):
    """The full network. The backbone is frozen (no gradients) unless a trainer makes it trainable."""

    def __init__(self, config: JcatConfig | None = None) -> None:
        super().__init__()
        self.config = config or JcatConfig()
        self.feature_extractor = build_backbone(self.config.backbone)
        self.feature_extractor.requires_grad_(False)
        self.segm_predictor = JcatHead(self.feature_extractor.level_channels, self.config)

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """The input normalisation this backbone was trained with: ImageNet mean/std, or (x - 127) / 128 (Lite)."""
        return normalize_lite(images) if self.config.is_efficientnet else normalize(images)

    def extract_features(self, images: torch.Tensor, levels: Sequence[str] = DEFAULT_LEVELS) -> dict[str, torch.Tensor]:
        """Backbone levels of normalised Bx3xHxW images (see ``normalize``): conv1, layer1, layer2, layer3."""
        return self.feature_extractor.forward_levels(images, levels)

    def bank_entry(self, feats: Features, mask: torch.Tensor) -> BankEntry:
        """Memory-bank sample: (64-channel correlation projection of layer3, Bx64x24x24; mask Bx1xHxW)."""
        return self.segm_predictor.correlation_projection(feats["layer3"]), mask

    def segment(self, test_feats: Features, ref_feats: Features, ref_mask: torch.Tensor,
                dist_map: torch.Tensor | None = None, bank: Sequence[BankEntry] = ()) -> torch.Tensor:
        """Segmentation logits Bx2xHxW of the test crop given the reference crop and its mask.

        ref_mask, dist_map: Bx1xHxW (any resolution; resized nearest to the layer3 grid). Only
        ``ref_feats["layer3"]`` is read. bank: entries made by ``bank_entry`` (projected layer3, mask).
        """
        return self.segm_predictor(test_feats, ref_feats["layer3"], ref_mask, dist_map, bank)

    def head_parameters(self) -> list[nn.Parameter]:
        """The trainable parameters (the head's); give these to the optimiser."""
        return list(self.segm_predictor.parameters())

    def forward(self, ref_images: torch.Tensor, ref_masks: torch.Tensor, test_images: torch.Tensor,
                test_dist: torch.Tensor | None = None) -> torch.Tensor:
        """Training pass: reference and test through the frozen backbone in separate calls, then the head.

        The backbone keeps the module's mode (train mode updates its BatchNorm statistics, as the authors
        trained) and runs without autograd unless its parameters were set trainable (full training).
        """
        backbone_grad = next(self.feature_extractor.parameters()).requires_grad
        with torch.set_grad_enabled(torch.is_grad_enabled() and backbone_grad):
            ref_feats = self.extract_features(ref_images, ("layer3",))
            test_feats = self.extract_features(test_images)
        return self.segment(test_feats, ref_feats, ref_masks, test_dist)


def normalize(images: torch.Tensor) -> torch.Tensor:
    """ImageNet-normalise ...x3xHxW images: integer input is 0..255, floating input 0..1."""
    x = images if images.is_floating_point() else images.float() / 255.0
    mean = torch.tensor(IMAGENET_MEAN, dtype=x.dtype, device=x.device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=x.dtype, device=x.device).view(3, 1, 1)
    return (x - mean) / std


def build_jcat_net(config: JcatConfig | None = None) -> JcatNet:
    """A JcatNet with freshly initialised weights (load a checkpoint for real use)."""
    return JcatNet(config)
