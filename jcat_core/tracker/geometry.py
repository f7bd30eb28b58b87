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
    """The square image region [cx - side/2, cx + side/2)^2, resampled to size x size crop pixels; ``aligned``
    windows cover whole image pixels and stay so when moved."""

    cx: float
    cy: float
    side: float
    size: int
    aligned: bool = False

    @classmethod
    def around(cls, cx: float, cy: float, target_w: float, target_h: float, area_scale: float, size: int
               ) -> CropWindow:
        """The crop of side area_scale * sqrt(target area) centred on (cx, cy)."""
        return cls(cx, cy, area_scale * math.sqrt(max(target_w * target_h, 1e-6)), size)

    @classmethod
    def pixel_aligned(cls, cx: float, cy: float, target_w: float, target_h: float, area_scale: float, size: int
                ) -> CropWindow:
        """The published segmentation crop: a whole number of image pixels, side ceil(area_scale * sqrt(target
        area)), its top-left pixel the rounded (cx - side/2, cy - side/2)."""
        side = math.ceil(area_scale * math.sqrt(max(target_w * target_h, 1e-6)))
        return cls(cx, cy, side, size, aligned=True).moved_to(cx, cy)

    def moved_to(self, cx: float, cy: float) -> CropWindow:
        """The same window centred on (cx, cy), or for an aligned one on the nearest whole-pixel origin."""
        if self.aligned:
            half = self.side / 2
            return CropWindow(round(cx - half) + half, round(cy - half) + half, self.side, self.size, True)
        return CropWindow(cx, cy, self.side, self.size)

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

    def index_to_image(self, points: np.ndarray) -> np.ndarray:
        """Nx2 crop pixel indices (x, y), as OpenCV's contours give them -> image pixel indices (pixel centres)."""
        return self.to_image(np.asarray(points, np.float64) + 0.5) - 0.5

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


def crop(frame: torch.Tensor, window: CropWindow, pad_with_border: bool = True, antialias: bool = False
         ) -> torch.Tensor:
    """Resample a window of an HxWxC (uint8 or float) frame into a 1xCxSxS float crop, bilinearly (each crop pixel
    centre reads the image at its own position, as OpenCV's resize does).

    Outside the image the border is replicated (images) or zeros are used (masks, ``pad_with_border=False``).
    ``antialias``: large downscales first subsample and average-pool (not in the published tracker, which samples
    bilinearly at any scale).
    """
    return _resample(frame, window.origin, window, window, pad_with_border, antialias)


def crop_moved(frame: torch.Tensor, window: CropWindow, centre: torch.Tensor, reach: float, antialias: bool = False
               ) -> torch.Tensor:
    """``crop`` of ``window.moved_to`` a device-side ``centre`` (x, y), which must lie within ``reach`` px (per
    axis) of the window's own centre: the image region read is bounded on the host, so no read-back is needed."""
    bounds = CropWindow(window.cx, window.cy, window.side + 2 * reach + 2, window.size)
    origin = centre.float() - window.side / 2
    if window.aligned:
        origin = torch.round(origin)
    return _resample(frame, (origin[0], origin[1]), window, bounds, True, antialias)


def _resample(frame: torch.Tensor, origin: tuple[float | torch.Tensor, float | torch.Tensor], window: CropWindow,
              bounds: CropWindow, pad_with_border: bool, antialias: bool) -> torch.Tensor:
    """The crop of ``window``'s side and size with its top-left at ``origin``, reading only ``bounds``."""
    height, width = frame.shape[:2]
    bx0, by0 = bounds.origin
    ix0 = min(max(math.floor(bx0), 0), width - 1)
    iy0 = min(max(math.floor(by0), 0), height - 1)
    ix1 = max(min(math.ceil(bx0 + bounds.side), width), ix0 + 1)
    iy1 = max(min(math.ceil(by0 + bounds.side), height), iy0 + 1)
    step = max(1, math.floor(window.scale / 4)) if antialias else 1  # cheap subsampling: averaging follows
    region = frame[iy0:iy1:step, ix0:ix1:step].permute(2, 0, 1).unsqueeze(0).float()
    pool = max(1, math.floor(window.scale / step)) if antialias else 1
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


def probability_mask(contour_mask: np.ndarray, probability: np.ndarray, window: CropWindow,
                     image_shape: tuple[int, int], dilation: int = 7, threshold: float = 0.5) -> np.ndarray:
    """The published VOT2020 mask tracker's output mask (their ``resize_mask``): the filled contour (SxS 0/1)
    dilated once by a ``dilation``-px square, times the foreground probability (SxS), resized bilinearly
    (OpenCV) to the window's side in image pixels, above ``threshold``, placed at the window's top-left pixel
    (an aligned window's whole-pixel origin) and clipped to the HxW image."""
    kernel = np.ones((dilation, dilation), np.uint8)
    weighted = cv2.dilate(contour_mask.astype(np.uint8), kernel) * probability.astype(np.float32)  # SxS
    side = round(window.side)
    resized = cv2.resize(weighted, (side, side), interpolation=cv2.INTER_LINEAR) > threshold  # side x side
    x0, y0 = (round(v) for v in window.origin)
    return _placed(resized, x0, y0, image_shape)


def _placed(patch: np.ndarray, x0: int, y0: int, image_shape: tuple[int, int]) -> np.ndarray:
    """An HxW bool image holding ``patch`` with its top-left pixel at (x0, y0), clipped; False elsewhere."""
    height, width = image_shape
    out = np.zeros((height, width), bool)
    ix0, iy0 = max(x0, 0), max(y0, 0)
    ix1, iy1 = min(x0 + patch.shape[1], width), min(y0 + patch.shape[0], height)
    if ix0 < ix1 and iy0 < iy1:
        out[iy0:iy1, ix0:ix1] = patch[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0]
    return out


def filled_box_mask(box: Box, image_shape: tuple[int, int]) -> np.ndarray:
    """HxW bool of a box (x, y, w, h) as the published VOT2020 mask tracker reports its DCF box: the corners
    truncated towards zero to whole pixels and filled with their edge pixels (cv2.fillConvexPoly), i.e. columns
    int(x) to int(x + w) and rows int(y) to int(y + h), both inclusive, clipped to the image."""
    x, y, w, h = box
    height, width = image_shape
    x0, x1 = max(int(x), 0), min(int(x + w), width - 1)
    y0, y1 = max(int(y), 0), min(int(y + h), height - 1)
    out = np.zeros((height, width), bool)
    if x0 <= x1 and y0 <= y1:
        out[y0:y1 + 1, x0:x1 + 1] = True
    return out


def box_mask(box: Box, window: CropWindow, image_shape: tuple[int, int]) -> torch.Tensor:
    """The crop-sized float mask (SxS) of an image box, as the published tracker makes it: the image's pixels from
    int(x) to int(x + w - 1) (and likewise in y) set to 1, cropped bilinearly with zero padding, so crop pixels on
    the box's edge get fractional values."""
    x, y, w, h = box
    canvas = torch.zeros(*image_shape, 1)
    canvas[max(int(y), 0):max(int(y + h - 1) + 1, 0), max(int(x), 0):max(int(x + w - 1) + 1, 0)] = 1.0
    return crop(canvas, window, pad_with_border=False)[0, 0]


def polygon_mask(corners: np.ndarray, window: CropWindow, image_shape: tuple[int, int]) -> torch.Tensor:
    """``box_mask`` for a VOT polygon region, as the published VOT tracker draws it: the convex polygon of the
    corners truncated to whole pixels, filled with its edge pixels (cv2.fillConvexPoly), then cropped."""
    canvas = np.zeros(image_shape, np.uint8)
    cv2.fillConvexPoly(canvas, np.asarray(corners, np.float64).astype(np.int32), 1)
    return crop(torch.from_numpy(canvas.astype(np.float32))[:, :, None], window, pad_with_border=False)[0, 0]


def polygon_box(corners: np.ndarray) -> Box:
    """The published tracker's axis-aligned box for a polygon: centred on the corners' mean, the corners' extent
    scaled to the area of the first two edges' rectangle, plus one pixel per side (its corners are inclusive pixel
    indices). VOT's rectangle (x, y, w, h), given as its four corners, becomes (x - 0.5, y - 0.5, w + 1, h + 1)."""
    points = np.asarray(corners, np.float64).reshape(-1, 2)
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    edges = np.linalg.norm(points[1] - points[0]) * np.linalg.norm(points[2] - points[1])
    s = math.sqrt(edges / ((x1 - x0) * (y1 - y0)))
    w, h = s * (x1 - x0) + 1, s * (y1 - y0) + 1
    cx, cy = points.mean(axis=0)
    return (float(cx - w / 2), float(cy - h / 2), float(w), float(h))


def distance_map(size: int) -> torch.Tensor:
    """Distance in pixels of every crop pixel from the crop centre (SxS), as the published tracker computes it:
    pixel index i lies at i + 1 - size/2 (half a pixel from the pixel centre)."""
    offsets = torch.arange(size, dtype=torch.float32) + 1 - size / 2
    return torch.sqrt(offsets[:, None] ** 2 + offsets[None, :] ** 2)


@dataclass(frozen=True)
class MaskFit:
    """The target found in a crop's foreground, in crop pixel indices (the coordinates of OpenCV's contour points,
    which the published tracker maps to the image as they are)."""

    mask: np.ndarray  # SxS uint8 0/1: the largest contour, filled
    area: float  # that contour's area, crop px (the tracker's area bookkeeping)
    rect: np.ndarray  # 4x2 corners of its minAreaRect: scale and position come from it
    fitted: np.ndarray | None  # 4x2 corners of the fitted box, None when its area / the rect's is out of range
    second_contour_large: bool | None  # another blob > ratio x the target; None when there is no other blob
    min_area_rect: tuple[tuple[float, float], tuple[float, float], float]  # OpenCV's (centre, size, angle)

    @property
    def output_corners(self) -> np.ndarray:
        """The corners the output box is taken from: the fitted box when accepted, else the minAreaRect."""
        return self.rect if self.fitted is None else self.fitted

    @property
    def rotated_box(self) -> RotatedBox:
        """The minAreaRect as (cx, cy, w, h, angle) in continuous crop coordinates, covering its pixels."""
        (cx, cy), (w, h), angle = self.min_area_rect
        return (cx + 0.5, cy + 0.5, w + 1.0, h + 1.0, angle)


def fit_mask(foreground: np.ndarray, min_area: float, second_ratio: float, fit_ratio_range: tuple[float, float],
             rotated_fit: bool = False) -> MaskFit | None:
    """Largest external contour of a binary mask (None when none exceeds ``min_area``), its minAreaRect and the
    box fitted to it: its axis-aligned extent, or with ``rotated_fit`` the published VOT tracker's rotated box
    (``fit_rotated_box``); the fit is kept when area(fit) / area(minAreaRect) lies inside ``fit_ratio_range``."""
    contours, _ = cv2.findContours(foreground.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    areas = np.array([cv2.contourArea(c) for c in contours])
    order = np.argsort(-areas, kind="stable")
    if areas[order[0]] <= min_area:
        return None
    largest = contours[order[0]]
    second_large = bool(areas[order[1]] / areas[order[0]] > second_ratio) if len(contours) > 1 else None
    filled = np.zeros(foreground.shape, np.uint8)
    cv2.drawContours(filled, [largest], -1, 1, thickness=cv2.FILLED)
    min_area_rect = cv2.minAreaRect(largest)
    rect = cv2.boxPoints(min_area_rect).astype(np.float64)
    if rotated_fit:
        fitted = fit_rotated_box(filled, largest)
    else:
        points = largest.reshape(-1, 2)
        (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
        fitted = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)
    low, high = fit_ratio_range
    rect_area = quad_area(rect)
    if not (rect_area > 0 and low < quad_area(fitted) / rect_area < high):
        fitted = None
    return MaskFit(mask=filled, area=float(areas[order[0]]), rect=rect, fitted=fitted,
                   second_contour_large=second_large, min_area_rect=min_area_rect)


def quad_area(corners: np.ndarray) -> float:
    """|c0 - c1| x |c1 - c2|: the area of a rectangle given by its corners in order."""
    return float(np.linalg.norm(corners[0] - corners[1]) * np.linalg.norm(corners[1] - corners[2]))


def fit_rotated_box(filled: np.ndarray, contour: np.ndarray, min_inside: float = 0.7, outside_cost: float = 0.5
                    ) -> np.ndarray:
    """The published VOT tracker's rotated box for a filled mask: the mask is turned by the angle of an ellipse
    fitted to its contour (of its minAreaRect when the ellipse is implausibly large), the axis-aligned box there
    shrinks one side at a time while its overlap score grows (mask pixels inside / (``outside_cost`` x box pixels
    outside the mask + all mask pixels), keeping ``min_inside`` of them), and its corners are turned back."""
    points = contour.reshape(-1, 2)
    (cx, cy), axes, angle = cv2.fitEllipse(points)
    if axes[0] > filled.shape[0] * 0.6 or axes[1] > filled.shape[1] * 0.6:
        (cx, cy), _, angle = cv2.minAreaRect(points)
    turn = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
    turned = cv2.warpAffine(filled, turn, (filled.shape[1], filled.shape[0]))
    x0, y0, x1, y1 = _shrunk_box(turned, min_inside, outside_cost)
    corners = np.array([[x0, y0, 1], [x1, y0, 1], [x1, y1, 1], [x0, y1, 1]], np.float64)
    return corners @ cv2.invertAffineTransform(turn).T


def _shrunk_box(mask: np.ndarray, min_inside: float, outside_cost: float) -> tuple[int, int, int, int]:
    """Inclusive pixel box (x0, y0, x1, y1) of the largest blob, shrunk greedily as ``fit_rotated_box`` says."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    points = max(contours, key=cv2.contourArea).reshape(-1, 2)
    height, width = mask.shape
    x0, y0 = max(int(points[:, 0].min()), 0), max(int(points[:, 1].min()), 0)
    x1, y1 = min(int(points[:, 0].max()), width - 1), min(int(points[:, 1].max()), height - 1)
    integral = cv2.integral(mask)
    total = float(mask.sum())

    def score(bx0: int, by0: int, bx1: int, by1: int) -> float:
        if not (by0 < height and bx0 < width and by1 >= 0 and bx1 >= 0):
            return -1.0
        inside = float(integral[by1 + 1, bx1 + 1] - integral[by1 + 1, bx0] - integral[by0, bx1 + 1]
                       + integral[by0, bx0])
        if inside / total < min_inside:
            return -1.0
        union = outside_cost * ((by1 - by0 + 1) * (bx1 - bx0 + 1) - inside) + total
        return inside / union if union >= 1e-3 else -1.0

    box = [x0, y0, x1, y1]
    best = -1.0
    changed = True
    while changed:
        changed = False
        for side, step in ((1, 1), (0, 1), (3, -1), (2, -1)):  # top, left, bottom, right, in the published order
            candidate = list(box)
            candidate[side] += step
            value = score(*candidate)
            if value > best:
                box, best, changed = candidate, value, True
    return box[0], box[1], box[2], box[3]


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes; 0 when either is empty."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0
