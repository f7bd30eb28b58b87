"""A transparent colour-key network implementing the tracker protocol, for tests without trained weights.

Features are colours: chromaticity (r, g) = (R, G) / (R + G + B), which a global illumination gain leaves
unchanged. ``segment`` back-projects the reference's foreground/background chromaticity histograms (the most
target-like reference of the initial one and the memory bank wins), minus a penalty growing with the distance
from the crop centre, as the real network's distance map does. ``dcf_features`` are soft chromaticity bins
averaged over 16x16 cells. Nothing is learned, so every tracker behaviour seen with it is the tracker's own.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from jcat_core.tracker.network import BankEntry, Features

_BINS = 32  # chromaticity histogram bins per axis
_CENTRES = 6  # soft DCF bins per chromaticity axis


def chromaticity(images: torch.Tensor) -> torch.Tensor:
    """Bx3xHxW RGB in [0, 1] -> Bx2xHxW (r, g) chromaticity; dark pixels are pulled towards grey."""
    total = images.sum(dim=1, keepdim=True) + 0.05
    return (images[:, :2] + 0.05 / 3) / total


class ColourKeyNetwork:
    """Colour-distance segmentation and colour-bin DCF features (see the module docstring)."""

    uses_distance_map = True
    shares_backbone = True

    def __init__(self, distance_penalty: float = 4.0, dcf_bin_width: float = 0.06) -> None:
        self.distance_penalty = distance_penalty
        self.dcf_bin_width = dcf_bin_width

    def extract_features(self, images: torch.Tensor) -> Features:
        return {**_coarse_features(images), "pixels": chromaticity(F.avg_pool2d(images, 2))}

    def bank_entry(self, feats: Features, mask: torch.Tensor) -> BankEntry:
        return feats["layer3"], mask

    def segment(self, test_feats: Features, ref_feats: Features, ref_mask: torch.Tensor,
                dist_map: torch.Tensor | None = None, bank: Sequence[BankEntry] = ()) -> torch.Tensor:
        pixels = test_feats["pixels"]
        bins = _bin_index(pixels)  # Bx(h*w)
        ratios = [_log_ratio_table(ref, mask) for ref, mask in [(ref_feats["layer3"], ref_mask), *bank]]
        table = torch.stack(ratios).amax(dim=0)  # Bx(BINS*BINS): most target-like reference per colour
        score = torch.gather(table, 1, bins).view(pixels.shape[0], 1, *pixels.shape[-2:])
        if dist_map is not None:
            dist = F.interpolate(dist_map, size=pixels.shape[-2:], mode="nearest")
            half = dist_map.shape[-1] / 2
            score = score - self.distance_penalty * (dist / half) ** 2
        size = ref_mask.shape[-2:]
        score = F.interpolate(score, size=size, mode="bilinear", align_corners=False)
        return torch.cat([score / 2, -score / 2], dim=1)

    def dcf_features(self, images: torch.Tensor) -> torch.Tensor:
        return self.dcf_from_features(_coarse_features(images))

    def dcf_from_features(self, feats: Features) -> torch.Tensor:
        chroma = feats["layer3"]  # Bx2x(S/4)x(S/4)
        axis = torch.linspace(0.1, 0.7, _CENTRES, device=chroma.device)
        dr = (chroma[:, 0:1] - axis.view(1, -1, 1, 1)) ** 2  # Bx6xhxw
        dg = (chroma[:, 1:2] - axis.view(1, -1, 1, 1)) ** 2
        soft = torch.exp(-(dr[:, :, None] + dg[:, None, :]) / (2 * self.dcf_bin_width**2))  # Bx6x6xhxw
        soft = soft.flatten(1, 2)
        soft = soft / (soft.sum(dim=1, keepdim=True) + 1e-3)
        return F.avg_pool2d(torch.cat([soft, feats["intensity"]], dim=1), 4)


def _coarse_features(images: torch.Tensor) -> Features:
    """Chromaticity ("layer3") and intensity of 4x4 cells: what the bank and the DCF read."""
    quarter = F.avg_pool2d(images, 4)
    return {"layer3": chromaticity(quarter), "intensity": quarter.mean(dim=1, keepdim=True)}


def _bin_index(chroma: torch.Tensor) -> torch.Tensor:
    """Bx2xHxW chromaticity -> Bx(H*W) flat histogram bin indices."""
    index = (chroma.clamp(0, 1 - 1e-6) * _BINS).long()
    return (index[:, 0] * _BINS + index[:, 1]).flatten(1)


def _log_ratio_table(colours: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """log p(colour | target) - log p(colour | background) per histogram bin (Bx(BINS*BINS)), from one crop."""
    weights = F.interpolate(mask.float(), size=colours.shape[-2:], mode="nearest").flatten(1)  # Bx(h*w)
    bins = _bin_index(colours)
    tables = []
    for b in range(colours.shape[0]):
        fg = torch.bincount(bins[b], weights=weights[b], minlength=_BINS * _BINS)
        bg = torch.bincount(bins[b], weights=1 - weights[b], minlength=_BINS * _BINS)
        hist = torch.stack([fg, bg]).view(2, 1, _BINS, _BINS)
        hist = F.avg_pool2d(hist, 3, stride=1, padding=1, count_include_pad=False).view(2, -1)  # smooth
        prob = hist / hist.sum(dim=1, keepdim=True).clamp_min(1e-6)
        tables.append(torch.log(prob[0] + 1e-4) - torch.log(prob[1] + 1e-4))
    return torch.stack(tables)
