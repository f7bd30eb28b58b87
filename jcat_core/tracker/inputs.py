"""Checking what users hand the tracker: images, boxes, polygons and masks, with a ValueError that says what is wrong.

Accepted images (numpy arrays): HxWx3 uint8 RGB as is; HxW or HxWx1 grayscale (replicated to RGB); HxWx4 RGBA
(alpha dropped); uint16 of those layouts (scaled to 0..255 by /257). Refused: other dtypes (float, bool, int32 ...),
other channel counts, empty images.
"""

from __future__ import annotations

import math

import numpy as np

from jcat_core.tracker.geometry import Box

MIN_BOX_SIDE_PX = 2.0  # a smaller box has no features to learn from: the filter and the mask would be noise
MAX_BOX_TO_IMAGE = 4.0  # a side longer than this many image sides is a mistake (1e154 overflows the crop maths)

def as_rgb_uint8(image: object) -> np.ndarray:
    """The image as a contiguous HxWx3 uint8 RGB array (see the module docstring for what converts)."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"image must be a numpy array (HxWx3 uint8 RGB), got {type(image).__name__}")
    if image.dtype == np.uint16:
        image = (image // 257).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ValueError(f"image dtype must be uint8 (or uint16, scaled down), got {image.dtype}")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ValueError(f"image must be HxW, HxWx1, HxWx3 (RGB) or HxWx4 (RGBA), got shape {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image is empty (shape {image.shape})")
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    elif image.shape[2] == 4:
        image = image[:, :, :3]
    return np.ascontiguousarray(image)


def checked_box(box: object, image_shape: tuple[int, int]) -> Box:
    """A finite (x, y, w, h) box that overlaps the image, its sides between MIN_BOX_SIDE_PX and MAX_BOX_TO_IMAGE
    image sides."""
    try:
        values = tuple(float(v) for v in box)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(f"box must be four numbers (x, y, w, h), got {box!r}") from None
    if len(values) != 4:
        raise ValueError(f"box must be four numbers (x, y, w, h), got {len(values)}")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"box has a non-finite value: {values}")
    x, y, w, h = values
    if w <= 0 or h <= 0:
        raise ValueError(f"degenerate box: width and height must be positive, got w={w}, h={h}")
    height, width = image_shape
    if w < min(MIN_BOX_SIDE_PX, width) or h < min(MIN_BOX_SIDE_PX, height):  # a whole 1-px image is fine
        raise ValueError(f"box {w:g}x{h:g} px is too small: both sides must be at least {MIN_BOX_SIDE_PX:g} px")
    if w > MAX_BOX_TO_IMAGE * width or h > MAX_BOX_TO_IMAGE * height:
        raise ValueError(f"box {w:.4g}x{h:.4g} px is far larger than the {width}x{height} image (at most "
                         f"{MAX_BOX_TO_IMAGE:g}x its width and height)")
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise ValueError(f"box {values} lies outside the {width}x{height} image")
    return values  # type: ignore[return-value]


def checked_polygon(polygon: object) -> np.ndarray:
    """A finite polygon of at least 3 (x, y) corners (Nx2, or a flat x1, y1, x2, y2, ... list) with an area."""
    try:
        corners = np.asarray(polygon, np.float64).reshape(-1, 2)
    except (TypeError, ValueError):
        raise ValueError(f"polygon must be (x, y) corners (Nx2 or a flat x1, y1, x2, y2, ... list), got {polygon!r}"
                         ) from None
    if len(corners) < 3:
        raise ValueError(f"polygon needs at least 3 corners, got {len(corners)}")
    if not np.isfinite(corners).all():
        raise ValueError("polygon has a non-finite corner")
    extent = corners.max(axis=0) - corners.min(axis=0)
    if extent[0] <= 0 or extent[1] <= 0 or np.linalg.norm(corners[1] - corners[0]) * np.linalg.norm(
            corners[2] - corners[1]) <= 0:
        raise ValueError(f"degenerate polygon: its corners {corners.tolist()} enclose no area")
    return corners


def checked_mask(mask: object, image_shape: tuple[int, int], threshold: float) -> np.ndarray:
    """An HxW mask (bool or numeric, foreground where > threshold) of the image's size, not empty."""
    if not isinstance(mask, np.ndarray) or mask.ndim != 2:
        raise ValueError("mask must be a 2-D numpy array of the image's height and width")
    if mask.shape != image_shape:
        raise ValueError(f"mask shape {mask.shape} differs from the image's {image_shape}")
    values = mask.astype(np.float32)
    if not np.isfinite(values).all():
        raise ValueError("mask has non-finite values")
    foreground = values > threshold
    if not foreground.any():
        raise ValueError(f"mask has no foreground pixel (> {threshold})")
    return foreground


def mask_box(mask: np.ndarray) -> Box:
    """Bounding box (x, y, w, h) of a non-empty bool mask."""
    rows, cols = np.nonzero(mask)
    return (float(cols.min()), float(rows.min()), float(cols.max() + 1 - cols.min()),
            float(rows.max() + 1 - rows.min()))
