"""Frames from a synthetic sequence, a video file, an image folder or a GOT-10k sequence folder, one interface.

Used wherever frames enter the product from outside a camera: the ROS camera node, bag making and demos.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from jcat_core.data.synthetic import Got10kSequence, SyntheticSequence, synthetic_suite

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")


@dataclass(frozen=True)
class SourceFrame:
    """An RGB frame and its ground truth, when the source has one."""

    image: np.ndarray  # HxWx3 uint8 RGB
    box: tuple[float, float, float, float] | None = None  # (x, y, w, h), top-left corner; None when unknown
    mask: np.ndarray | None = None  # HxW bool
    visible: bool | None = None  # None when unknown


def open_source(spec: str, *, width: int = 640, height: int = 480, num_frames: int = 120, seed: int = 0
                ) -> Iterator[SourceFrame]:
    """Frames of `spec`: "synthetic:<name>" (a sequence of jcat_core.data.synthetic's suite, at the given size),
    a GOT-10k sequence folder (has groundtruth.txt), a folder of images (sorted by name) or a video file."""
    if spec.startswith("synthetic"):
        name = spec.partition(":")[2] or "clean"
        suite = synthetic_suite(height=height, width=width, num_frames=num_frames, seed=seed)
        if name not in suite:
            raise ValueError(f"unknown synthetic sequence '{name}'; choose one of: {', '.join(suite)}")
        return (SourceFrame(f.image, f.box, f.mask, f.visible) for f in SyntheticSequence(suite[name]))
    path = Path(spec).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"frame source '{spec}' does not exist: give synthetic:<name>, an image folder, a GOT-10k sequence "
            "folder or a video file"
        )
    if path.is_dir() and (path / "groundtruth.txt").is_file():
        return (SourceFrame(f.image, f.box, f.mask, not f.absent) for f in Got10kSequence(path))
    if path.is_dir():
        return _image_folder(path)
    return _video(path)


def _image_folder(folder: Path) -> Iterator[SourceFrame]:
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")

    def frames() -> Iterator[SourceFrame]:
        for path in images:
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                raise OSError(f"could not read image {path}")
            yield SourceFrame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))

    return frames()


def _video(path: Path) -> Iterator[SourceFrame]:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ValueError(f"could not open {path} as a video (OpenCV has no decoder for it, or it is not a video)")

    def frames() -> Iterator[SourceFrame]:
        try:
            while True:
                ok, bgr = capture.read()
                if not ok:
                    return
                yield SourceFrame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        finally:
            capture.release()

    return frames()
