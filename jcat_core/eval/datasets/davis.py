"""DAVIS-2017 and YouTube-VOS (video object segmentation): one sequence per (video, object), initialised from the
object's mask on the first frame where it is annotated. Label PNGs hold palette indices, one per object."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from jcat_core.eval.datasets.base import (
    Dataset,
    LayoutError,
    PngMasks,
    Sequence,
    SequenceError,
    collect,
    image_files,
    mask_to_box,
    read_label_png,
)

DAVIS_LAYOUT = """  ROOT/JPEGImages/480p/<video>/00000.jpg ...
  ROOT/Annotations/480p/<video>/00000.png ...   (palette PNG, index k = object k; test-dev: first frame only)
  ROOT/ImageSets/2017/val.txt                   (optional: the videos of a split, one per line)"""

YTVOS_LAYOUT = """  ROOT/valid/JPEGImages/<video>/00000.jpg 00005.jpg ...
  ROOT/valid/Annotations/<video>/00000.png ...   (palette PNG, on the frames where an object first appears)
  ROOT/valid/meta.json                           ({"videos": {<video>: {"objects": {"1": {"frames": [...]}}}}})
  (ROOT may also be the split folder itself)"""


def load_davis(root: Path, split: str = "val", resolution: str = "480p") -> Dataset:
    """The videos of ImageSets/2017/<split>.txt (or every annotated video), one sequence per object."""
    root = Path(root)
    images, labels = root / "JPEGImages" / resolution, root / "Annotations" / resolution
    listing = root / "ImageSets" / "2017" / f"{split}.txt"
    if listing.is_file():
        videos = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
    else:
        videos = sorted(p.name for p in labels.iterdir() if p.is_dir()) if labels.is_dir() else []
    if not videos or not images.is_dir():
        raise LayoutError("DAVIS-2017", root, f"no videos under JPEGImages/{resolution} and Annotations/{resolution}",
                          DAVIS_LAYOUT)
    candidates = []
    for video in videos:
        frames = tuple(image_files(images / video))
        annotations = tuple(_label_path(labels / video, f) for f in frames)
        for object_id in _objects(annotations, video):
            candidates.append((f"{video}_{object_id}", _builder(video, object_id, frames, annotations)))
    sequences, problems = collect(candidates)
    return Dataset("DAVIS-2017", "davis", root, sequences, problems, result_format="davis", masks=True)


def load_youtube_vos(root: Path, split: str = "valid") -> Dataset:
    """The videos of <split>/meta.json, one sequence per object, started on the object's first annotated frame."""
    root = Path(root)
    base = root if (root / "meta.json").is_file() else root / split
    if not (base / "meta.json").is_file() or not (base / "JPEGImages").is_dir():
        raise LayoutError("YouTube-VOS", root, f"no {split}/meta.json with {split}/JPEGImages", YTVOS_LAYOUT)
    videos = json.loads((base / "meta.json").read_text()).get("videos", {})
    if not videos:
        raise LayoutError("YouTube-VOS", root, "meta.json lists no videos", YTVOS_LAYOUT)
    candidates = []
    for video, info in sorted(videos.items()):
        frames = tuple(image_files(base / "JPEGImages" / video))
        annotations = tuple(_label_path(base / "Annotations" / video, f) for f in frames)
        for key, obj in sorted(info.get("objects", {}).items(), key=lambda kv: int(kv[0])):
            names = [f.stem for f in frames]
            first = obj.get("frames", [None])[0]
            start = names.index(first) if first in names else -1
            candidates.append((f"{video}_{key}", _builder(video, int(key), frames, annotations, start)))
    sequences, problems = collect(candidates)
    return Dataset("YouTube-VOS", "youtube-vos", base, sequences, problems, result_format="youtube-vos", masks=True)


def _label_path(folder: Path, frame: Path) -> Path | None:
    path = folder / f"{frame.stem}.png"
    return path if path.is_file() else None


def _objects(annotations: tuple[Path | None, ...], video: str) -> list[int]:
    """Object ids in the video's first annotation (DAVIS: every object is present on frame 0)."""
    first = next((a for a in annotations if a is not None), None)
    if first is None:
        return [0]  # reported as skipped by the builder
    return [int(v) for v in np.unique(read_label_png(first)) if 0 < v < 255]


def _builder(video: str, object_id: int, frames: tuple[Path, ...], annotations: tuple[Path | None, ...],
             start: int = 0):
    def build() -> Sequence:
        if not frames:
            raise SequenceError(f"no frames for video {video}")
        if start < 0 or annotations[start] is None:
            raise SequenceError(f"no annotation of object {object_id} on its first frame")
        masks = PngMasks(annotations, object_id)
        boxes = np.full((len(frames), 4), np.nan)
        boxes[start] = mask_to_box(masks(start))
        scored = all(a is not None for a in annotations[start:])
        return Sequence(f"{video}_{object_id}", frames, boxes, masks=masks, object_id=object_id, start=start,
                        scored=scored, tags={"video": video})
    return build
