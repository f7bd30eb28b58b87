"""Decoder building blocks: conv+BN(+ReLU) units and the add -> upsample -> ReLU refinement step.

The decoder walks back from layer3 (stride 16) to the full crop, adding one backbone level per step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv_block(in_ch: int, out_ch: int, kernel: int = 3, relu: bool = True) -> nn.Sequential:
    """``C(a→b,k)`` of the spec: conv (bias, padding k//2) + BatchNorm2d (+ ReLU); ``relu=False`` is ``Cn``.

    Index 0 is the conv and 1 the BN, matching the checkpoint's ``<name>.0.*`` / ``<name>.1.*`` keys.
    """
    layers: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, kernel, padding=kernel // 2, bias=True),
                               nn.BatchNorm2d(out_ch)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def upsample2(x: torch.Tensor) -> torch.Tensor:
    """Bilinear x2 upsampling, align_corners=False (BxCxHxW -> BxCx2Hx2W)."""
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


def merge_skip(x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
    """One refinement step: ReLU(up2(x + skip)); the skip is added *before* upsampling."""
    return F.relu(upsample2(x + skip))
