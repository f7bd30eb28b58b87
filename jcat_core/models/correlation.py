"""Correlation (position) branch: where in the test crop do reference foreground cells match best?

Layer3 of test and reference is projected to 64 channels (``segment0``/``segment1``); every test cell is
compared with every reference cell by cosine similarity, and the mean of the top-k similarities to
foreground (resp. background) reference cells gives ``pos`` (resp. ``neg``). The memory bank contributes
through an elementwise max. The head's ``mixer0``/``mixer1`` then turn [p, pos(, dist)] into features.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from jcat_core.models.decoder import conv_block


def projection(in_ch: int, dim: int) -> tuple[nn.Sequential, nn.Sequential]:
    """``C(in→dim,1)`` then ``Cn(dim→dim,3)``: the layer3 projection of both branches."""
    return conv_block(in_ch, dim, kernel=1), conv_block(dim, dim, kernel=3, relu=False)


def mixer(mixer_channels: int, hidden: int, dim: int) -> tuple[nn.Sequential, nn.Sequential]:
    """``C(mixer_channels→hidden,3)`` then ``Cn(hidden→dim,3)``: turns [p, pos(, dist)] into features."""
    return conv_block(mixer_channels, hidden), conv_block(hidden, dim, relu=False)


def resize_nearest(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Nearest-neighbour resize of a Bx1xHxW map to Bx1x(size)."""
    return F.interpolate(mask, size=size, mode="nearest")


def match_evidence(test_proj: torch.Tensor, ref_proj: torch.Tensor, ref_mask: torch.Tensor,
                   topk: int) -> tuple[torch.Tensor, torch.Tensor]:
    """pos/neg evidence (each Bx1xhxw) of every test cell against one reference sample.

    test_proj: Bx64xhxw, ref_proj: Bx64xh'xw', ref_mask: Bx1xHxW (1 = target, any resolution).
    """
    b, _, h, w = test_proj.shape
    fg = resize_nearest(ref_mask.to(ref_proj.dtype), ref_proj.shape[-2:]).flatten(1).unsqueeze(1)  # Bx1xN'
    test = F.normalize(test_proj.flatten(2), dim=1)  # Bx64xN
    ref = F.normalize(ref_proj.flatten(2), dim=1)  # Bx64xN'
    sim = torch.bmm(test.transpose(1, 2), ref)  # BxNxN' cosine similarities
    pos = (sim * fg).topk(topk, dim=2).values.mean(dim=2)  # BxN
    neg = (sim * (1 - fg)).topk(topk, dim=2).values.mean(dim=2)  # BxN
    return pos.view(b, 1, h, w), neg.view(b, 1, h, w)


def foreground_probability(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """Softmax over the (pos, neg) pair, foreground channel: Bx1xhxw."""
    return torch.softmax(torch.cat([pos, neg], dim=1), dim=1)[:, :1]


def correlation_maps(test_proj: torch.Tensor, references: Sequence[tuple[torch.Tensor, torch.Tensor]],
                     topk: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(p, pos) over the initial reference (first entry) and the memory bank (the rest).

    pos and neg are elementwise maxima over all references; p = max(softmax(pos, neg)_fg, p_initial).
    With only the initial reference this reduces to p = softmax(pos0, neg0)_fg.
    """
    evidence = [match_evidence(test_proj, proj, mask, topk) for proj, mask in references]
    p_initial = foreground_probability(*evidence[0])
    pos = torch.stack([e[0] for e in evidence]).amax(dim=0)
    neg = torch.stack([e[1] for e in evidence]).amax(dim=0)
    return torch.maximum(foreground_probability(pos, neg), p_initial), pos


def mixer_input(p: torch.Tensor, pos: torch.Tensor, dist_map: torch.Tensor | None) -> torch.Tensor:
    """[p, pos] or [p, pos, dist] with the Bx1xHxW distance map resized (nearest) to the feature grid."""
    if dist_map is None:
        return torch.cat([p, pos], dim=1)
    return torch.cat([p, pos, resize_nearest(dist_map.to(p.dtype), p.shape[-2:])], dim=1)
