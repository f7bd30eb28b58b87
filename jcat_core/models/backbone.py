"""ResNet-18/34/50 with torchvision's parameter names, so torchvision state_dicts load unchanged.

Stride sits on the 3x3 convolution of a Bottleneck (torchvision "v1.5"). ``forward_levels`` returns the
intermediate feature maps JCAT reads and stops after the deepest one asked for.
"""

from __future__ import annotations

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


def build_backbone(name: str) -> ResNet:
    """ResNet by torchvision name: resnet18, resnet34 or resnet50."""
    if name not in RESNET_SPECS:
        raise ValueError(f"unknown backbone {name!r}; choose from {sorted(RESNET_SPECS)}")
    return ResNet(RESNET_SPECS[name])
