"""Inference copies of networks: BatchNorm folded into the convolution before it, channels-last memory.

A frozen network in eval mode applies each BatchNorm as a fixed affine map, so folding it into the preceding
convolution saves one pass over every feature map; channels-last lets oneDNN (CPU) and cuDNN choose their fast
kernels. The tracker runs such a copy; training and checkpoints keep the original modules and names.
"""

from __future__ import annotations

import copy
import itertools

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def fold_batchnorm(module: nn.Module) -> nn.Module:
    """Fold, in place, every BatchNorm2d into the Conv2d registered just before it in the same parent module.

    Every conv + BN unit of the backbones and the head is laid out that way (Sequential(conv, bn, ...) or
    ``convN`` then ``bnN`` in a ResNet block); the folded BN becomes an Identity. Needs eval mode.
    """
    if module.training:
        raise ValueError("fold_batchnorm needs a module in eval mode (train-mode BatchNorm uses batch statistics)")
    for parent in list(module.modules()):
        for (conv_name, conv), (bn_name, bn) in itertools.pairwise(parent.named_children()):
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                setattr(parent, conv_name, fuse_conv_bn_eval(conv, bn))
                setattr(parent, bn_name, nn.Identity())
    return module


def inference_copy(module: nn.Module) -> nn.Module:
    """A frozen eval-mode copy with BatchNorm folded and channels-last weights; ``module`` is left unchanged."""
    frozen = copy.deepcopy(module).eval().requires_grad_(False)
    return fold_batchnorm(frozen).to(memory_format=torch.channels_last)


def channels_last(images: torch.Tensor) -> torch.Tensor:
    """A BxCxHxW batch in the memory layout the inference copy's convolutions are fastest with."""
    return images.contiguous(memory_format=torch.channels_last)
