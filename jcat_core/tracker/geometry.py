"""Square crops around the target and the mapping of points, boxes and masks between a crop and the image.

Coordinates are continuous 0-based pixels: pixel (row r, column c) covers [c, c+1) x [r, r+1), its centre is
(c + 0.5, r + 0.5). Boxes are (x, y, w, h) with (x, y) the top-left corner; rotated boxes (cx, cy, w, h, angle)
use OpenCV's minAreaRect/boxPoints angle (degrees).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

Box = tuple[float, float, float, float]
RotatedBox = tuple[float, float, float, float, float]


@dataclass(frozen=True)
class CropWindow:
    """The square image region [cx - side/2, cx + side/2)^2, resampled to size x size crop pixels."""

    cx: float
    cy: float
    side: float
    size: int

    @classmethod
    def around(cls, cx: float, cy: float, target_w: float, target_h: float, area_scale: float, size: int
               ) -> CropWindow:
        """The crop of side area_scale * sqrt(target area) centred on (cx, cy)."""
        return cls(cx, cy, area_scale * math.sqrt(max(target_w * target_h, 1e-6)), size)

    @property
    def scale(self) -> float:
        """Image pixels per crop pixel."""
        return self.side / self.size

    @property
    def origin(self) -> tuple[float, float]:
        return self.cx - self.side / 2, self.cy - self.side / 2

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """Nx2 crop (x, y) -> image (x, y)."""
        return np.asarray(points, np.float64) * self.scale + np.array(self.origin)

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Nx2 image (x, y) -> crop (x, y)."""
        return (np.asarray(points, np.float64) - np.array(self.origin)) / self.scale

    def box_to_image(self, box: Box) -> Box:
        x, y = self.to_image(np.array([box[:2]]))[0]
        return (float(x), float(y), box[2] * self.scale, box[3] * self.scale)

    def box_to_crop(self, box: Box) -> Box:
        x, y = self.to_crop(np.array([box[:2]]))[0]
        return (float(x), float(y), box[2] / self.scale, box[3] / self.scale)

    def rotated_to_image(self, rotated: RotatedBox) -> RotatedBox:
        cx, cy = self.to_image(np.array([rotated[:2]]))[0]
        return (float(cx), float(cy), rotated[2] * self.scale, rotated[3] * self.scale, rotated[4])


def crop(frame: torch.Tensor, window: CropWindow, pad_with_border: bool = True) -> torch.Tensor:
    """Resample a window of an HxWxC (uint8 or float) frame into a 1xCxSxS float crop.

    Outside the image the border is replicated (images) or zeros are used (masks, ``pad_with_border=False``).
    Large downscales first subsample and average-pool, so memory stays bounded for any image size.
    """
    return _resample(frame, window.origin, window, window, pad_with_border)


def crop_moved(frame: torch.Tensor, window: CropWindow, centre: torch.Tensor, reach: float) -> torch.Tensor:
    """``crop`` of a window moved to a device-side ``centre`` (x, y), which must lie within ``reach`` px (per
    axis) of the window's own centre: the image region read is bounded on the host, so no read-back is needed."""
    bounds = CropWindow(window.cx, window.cy, window.side + 2 * reach, window.size)
    origin = centre.float() - window.side / 2
    return _resample(frame, (origin[0], origin[1]), window, bounds, True)


def _resample(frame: torch.Tensor, origin: tuple[float | torch.Tensor, float | torch.Tensor], window: CropWindow,
              bounds: CropWindow, pad_with_border: bool) -> torch.Tensor:
    """The crop of ``window``'s side and size with its top-left at ``origin``, reading only ``bounds``."""
    height, width = frame.shape[:2]
    bx0, by0 = bounds.origin
    ix0 = min(max(math.floor(bx0), 0), width - 1)
    iy0 = min(max(math.floor(by0), 0), height - 1)
    ix1 = max(min(math.ceil(bx0 + bounds.side), width), ix0 + 1)
    iy1 = max(min(math.ceil(by0 + bounds.side), height), iy0 + 1)
    step = max(1, math.floor(window.scale / 4))  # cheap subsampling, bounded loss: averaging follows
    region = frame[iy0:iy1:step, ix0:ix1:step].permute(2, 0, 1).unsqueeze(0).float()
    pool = max(1, math.floor(window.scale / step))
    pool = min(pool, region.shape[-2], region.shape[-1])
    if pool > 1:
        region = F.avg_pool2d(region, pool, stride=pool)
    stride = step * pool
    first_centre = ((pool - 1) * step + 1) / 2  # centre of region element 0, relative to ix0 / iy0
    centres = (torch.arange(window.size, device=frame.device, dtype=torch.float32) + 0.5) * window.scale
    x0, y0 = origin
    gx = (x0 + centres - ix0 - first_centre) / stride  # region element index of each crop pixel
    gy = (y0 + centres - iy0 - first_centre) / stride
    gx = (gx + 0.5) / region.shape[-1] * 2 - 1
    gy = (gy + 0.5) / region.shape[-2] * 2 - 1
    grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], dim=-1).unsqueeze(0)
    return F.grid_sample(region, grid, mode="bilinear", padding_mode="border" if pad_with_border else "zeros",
                         align_corners=False)


def paste_mask(crop_mask: np.ndarray, window: CropWindow, image_shape: tuple[int, int]) -> np.ndarray:
    """A crop's binary mask (SxS) resampled into an HxW bool image mask (False outside the crop)."""
    height, width = image_shape
    out = np.zeros((height, width), bool)
    x0, y0 = window.origin
    ix0, iy0 = max(math.floor(x0), 0), max(math.floor(y0), 0)
    ix1, iy1 = min(math.ceil(x0 + window.side), width), min(math.ceil(y0 + window.side), height)
    if ix0 >= ix1 or iy0 >= iy1 or not crop_mask.any():
        return out
    s = 1 / window.scale  # destination pixel index -> source pixel index (inverse map)
    matrix = np.array([[s, 0, (ix0 + 0.5 - x0) * s - 0.5], [0, s, (iy0 + 0.5 - y0) * s - 0.5]])
    warped = cv2.warpAffine(crop_mask.astype(np.uint8) * 255, matrix, (ix1 - ix0, iy1 - iy0),
                            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderValue=0)
    out[iy0:iy1, ix0:ix1] = warped >= 128
    return out


def box_mask(box: Box, window: CropWindow) -> torch.Tensor:
    """The crop-sized float mask (SxS) of an image box: 1 for crop pixels whose centre lies inside it."""
    x, y, w, h = window.box_to_crop(box)
    centres = torch.arange(window.size, dtype=torch.float32) + 0.5
    inside_x = (centres >= x) & (centres < x + w)
    inside_y = (centres >= y) & (centres < y + h)
    return (inside_y[:, None] & inside_x[None, :]).float()


def distance_map(size: int) -> torch.Tensor:
    """Euclidean distance in pixels of every crop pixel centre from the crop centre (SxS)."""
    centres = torch.arange(size, dtype=torch.float32) + 0.5 - size / 2
    return torch.sqrt(centres[:, None] ** 2 + centres[None, :] ** 2)


@dataclass(frozen=True)
class MaskFit:
    """The target found in a crop's foreground mask, in crop coordinates."""

    mask: np.ndarray  # SxS uint8 0/1: the largest contour, filled
    rotated_box: RotatedBox  # minAreaRect of that contour
    polygon: np.ndarray  # 4x2 corners: the axis-aligned box or the rotated box, by the area-ratio rule
    box: Box  # axis-aligned bounding box of the polygon
    second_contour_large: bool  # a segmentation hard negative: another blob > ratio x the target

    @property
    def polygon_area(self) -> float:
        return float(abs(cv2.contourArea(self.polygon.astype(np.float32))))

    @property
    def centre(self) -> tuple[float, float]:
        x, y = self.polygon.mean(axis=0)
        return float(x), float(y)


def fit_mask(foreground: np.ndarray, min_area: float, second_ratio: float,
             aa_ratio_range: tuple[float, float]) -> MaskFit | None:
    """Largest external contour of a binary mask (None when none exceeds ``min_area``), its rotated box and the
    polygon the tracker uses: the mask's axis-aligned bounding box replaces the minAreaRect when
    area(aa) / area(rotated) lies inside ``aa_ratio_range``."""
    contours, _ = cv2.findContours(foreground.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    areas = np.array([cv2.contourArea(c) for c in contours])
    order = np.argsort(-areas)
    largest = contours[order[0]]
    if areas[order[0]] <= min_area:
        return None
    second_large = len(contours) > 1 and areas[order[1]] > second_ratio * areas[order[0]]
    filled = np.zeros(foreground.shape, np.uint8)
    cv2.drawContours(filled, [largest], -1, 1, thickness=cv2.FILLED)
    (cx, cy), (w, h), angle = cv2.minAreaRect(largest)
    # contour points are pixel indices (centres at +0.5); the pixels themselves reach half a pixel further
    rotated = (cx + 0.5, cy + 0.5, w + 1.0, h + 1.0, angle)
    x, y, bw, bh = cv2.boundingRect(largest)
    ratio = (bw * bh) / max(rotated[2] * rotated[3], 1e-6)
    low, high = aa_ratio_range
    if low < ratio < high:
        polygon = np.array([[x, y], [x + bw, y], [x + bw, y + bh], [x, y + bh]], np.float64)
    else:
        polygon = cv2.boxPoints(((rotated[0], rotated[1]), (rotated[2], rotated[3]), angle)).astype(np.float64)
    px0, py0 = polygon.min(axis=0)
    px1, py1 = polygon.max(axis=0)
    return MaskFit(mask=filled, rotated_box=rotated, polygon=polygon,
                   box=(float(px0), float(py0), float(px1 - px0), float(py1 - py0)),
                   second_contour_large=bool(second_large))


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes; 0 when either is empty."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0
