"""VOT short-term sequences: VOT2016/2018/2019 (rectangles or rotated polygons) and VOT2020/2022 (RLE masks).
Regions are used as written (0-based, as the Python VOT toolkit reads them)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from jcat_core.eval.datasets.base import (
    Dataset,
    LayoutError,
    RleMasks,
    Sequence,
    SequenceError,
    collect,
    image_files,
    listed_sequences,
    polygon_to_box,
    read_flags,
    rle_box,
)

LAYOUT = """  ROOT/list.txt                           (the sequence names, one per line)
  ROOT/<sequence>/color/00000001.jpg ...  (VOT2019+; VOT2016/2018: ROOT/<sequence>/00000001.jpg)
  ROOT/<sequence>/groundtruth.txt         (per frame: x,y,w,h | x1,y1,...,x4,y4 | m<x>,<y>,<w>,<h>,<runs> mask)
  ROOT/<sequence>/*.tag                   (optional per-frame 0/1 attributes, e.g. occlusion.tag)"""


def load_vot(root: Path) -> Dataset:
    """The sequences named in ROOT/list.txt (or every folder with a groundtruth.txt)."""
    root = Path(root)
    names = listed_sequences(root)
    if not names:
        raise LayoutError("VOT", root, "no list.txt and no <sequence>/groundtruth.txt", LAYOUT)
    sequences, problems = collect((name, _builder(root / name)) for name in names)
    has_masks = any(s.masks is not None for s in sequences)
    return Dataset(f"VOT ({root.name})", "vot", root, sequences, problems, result_format="vot", masks=has_masks)


def parse_region(line: str) -> tuple[str, np.ndarray | str]:
    """One VOT region line -> ("rectangle", (4,)), ("polygon", (8,) or longer) or ("mask", the RLE string)."""
    line = line.strip()
    if line.startswith("m"):
        return "mask", line
    values = np.array([float(v) for v in line.split(",")]) if line else np.zeros(0)
    if len(values) == 4:
        return "rectangle", values
    if len(values) >= 6 and len(values) % 2 == 0:
        return "polygon", values
    return "rectangle", np.full(4, np.nan)  # "0" or an empty line: no region (target absent)


def _builder(folder: Path):
    def build() -> Sequence:
        if not (folder / "groundtruth.txt").is_file():
            raise SequenceError(f"no groundtruth.txt in {folder}")
        frames = tuple(image_files(folder / "color") or image_files(folder))
        lines = [line for line in (folder / "groundtruth.txt").read_text().splitlines() if line.strip()]
        try:
            regions = [parse_region(line) for line in lines]
        except ValueError as error:
            raise SequenceError(f"{folder / 'groundtruth.txt'}: {error}") from error
        kinds = {kind for kind, _ in regions}
        boxes = np.full((len(regions), 4), np.nan)
        polygons = masks = None
        if "mask" in kinds:
            codes = tuple(r if k == "mask" else None for k, r in regions)
            for i, code in enumerate(codes):
                if code is not None:
                    boxes[i] = rle_box(code)
            if frames:
                with Image.open(frames[0]) as image:
                    masks = RleMasks(codes, (image.height, image.width))
        else:
            polygons = np.array([_as_polygon(r) for _, r in regions]).reshape(-1, 8)
            boxes = polygon_to_box(polygons)
        attributes = {}
        for tag in sorted(folder.glob("*.tag")) + sorted(folder.glob("*.label")):
            flags = read_flags(tag)
            if len(flags) == len(frames):
                attributes[tag.stem] = flags
        return Sequence(folder.name, frames, boxes, polygons=polygons, masks=masks, attributes=attributes)
    return build


def _as_polygon(region: np.ndarray) -> np.ndarray:
    """A rectangle as its 4 corners, or a polygon reduced to 4 corners by its bounding rotated rectangle."""
    if len(region) == 4:
        x, y, w, h = region
        return np.array([x, y, x + w, y, x + w, y + h, x, y + h])
    if len(region) == 8:
        return region
    corners = cv2.boxPoints(cv2.minAreaRect(region.reshape(-1, 2).astype(np.float32)))
    return corners.reshape(-1).astype(float)
