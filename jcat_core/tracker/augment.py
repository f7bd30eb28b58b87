"""The DCF's first-frame training samples: 27 transformed views of one expanded crop (JCAT_SPEC section 3)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

SHIFTS = ((0.25, 0.25), (-0.25, 0.25), (0.25, -0.25), (-0.25, -0.25),
          (0.75, 0.75), (-0.75, 0.75), (0.75, -0.75), (-0.75, -0.75))  # x, y in half sample sizes
BLURS = ((2.0, 0.2), (0.2, 2.0), (3.0, 1.0), (1.0, 3.0), (2.0, 2.0))  # Gaussian sigma (x, y), crop pixels
ROTATIONS = (5, -5, 10, -10, 20, -20, 30, -30, 45, -45, 60, -60)  # degrees


def _centre_cut(image: torch.Tensor, size: int, dx: int = 0, dy: int = 0) -> torch.Tensor:
    top = (image.shape[-2] - size) // 2 + dy
    left = (image.shape[-1] - size) // 2 + dx
    return image[..., top:top + size, left:left + size]


def _gaussian_blur(image: torch.Tensor, sigma_x: float, sigma_y: float) -> torch.Tensor:
    def kernel(sigma: float) -> torch.Tensor:
        radius = max(1, math.ceil(2.5 * sigma))
        t = torch.arange(-radius, radius + 1, dtype=image.dtype, device=image.device)
        k = torch.exp(-0.5 * (t / sigma) ** 2)
        return k / k.sum()

    kx, ky = kernel(sigma_x), kernel(sigma_y)
    channels = image.shape[1]
    rx, ry = kx.numel() // 2, ky.numel() // 2
    out = F.conv2d(F.pad(image, (rx, rx, 0, 0), mode="replicate"), kx.view(1, 1, 1, -1).repeat(channels, 1, 1, 1),
                   groups=channels)
    return F.conv2d(F.pad(out, (0, 0, ry, ry), mode="replicate"), ky.view(1, 1, -1, 1).repeat(channels, 1, 1, 1),
                    groups=channels)


def _rotate(image: torch.Tensor, degrees: float) -> torch.Tensor:
    angle = math.radians(degrees)
    theta = torch.tensor([[math.cos(angle), -math.sin(angle), 0.0], [math.sin(angle), math.cos(angle), 0.0]],
                         dtype=image.dtype, device=image.device).unsqueeze(0)
    grid = F.affine_grid(theta, list(image.shape), align_corners=False)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False)


def first_frame_samples(expanded: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """From a 1x3xExE crop centred on the target (E > size), the 27 samples (27x3xSxS) and the target's centre in
    each sample (27x2, crop (x, y) coordinates): identity, flip, 8 shifts, 5 blurs, 12 rotations."""
    samples = [_centre_cut(expanded, size), _centre_cut(expanded, size).flip(-1)]
    centre = size / 2
    centres = [(centre, centre), (centre, centre)]
    limit = (expanded.shape[-1] - size) // 2
    for rx, ry in SHIFTS:
        dx = max(-limit, min(limit, round(rx * size / 2)))
        dy = max(-limit, min(limit, round(ry * size / 2)))
        samples.append(_centre_cut(expanded, size, dx, dy))
        centres.append((centre - dx, centre - dy))
    for sx, sy in BLURS:
        samples.append(_centre_cut(_gaussian_blur(expanded, sx, sy), size))
        centres.append((centre, centre))
    for degrees in ROTATIONS:
        samples.append(_centre_cut(_rotate(expanded, degrees), size))
        centres.append((centre, centre))
    return torch.cat(samples), torch.tensor(centres, dtype=torch.float32, device=expanded.device)
