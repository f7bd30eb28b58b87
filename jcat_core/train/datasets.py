"""Video object segmentation sources for training: YouTube-VOS 2018, DAVIS-2017, same-layout folders, synthetic.

A source is a list of (video, object) sequences; ``frame(seq, i)`` loads one frame as (HxWx3 uint8 RGB, HxW bool
mask of that object). Annotation PNGs are palette images whose pixel values are object ids (0 = background).
Sequences too short or too rarely visible for the spec's sampler (≥ ``min_frames`` frames, > 4 visible) are left
out when the source is opened. A frame that cannot be read raises ``CorruptFrameError``; the sampler skips, counts it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from jcat_core.data.synthetic import SHAPES, Occlusion, SequenceSpec, SyntheticSequence
from jcat_core.data.textures import TextureBank

YOUTUBE_VOS_LAYOUT = "ROOT/JPEGImages/<video>/<frame>.jpg, ROOT/Annotations/<video>/<frame>.png, ROOT/meta.json"
DAVIS_LAYOUT = ("ROOT/JPEGImages/480p/<sequence>/<frame>.jpg, ROOT/Annotations/480p/<sequence>/<frame>.png, "
                "ROOT/ImageSets/2017/<split>.txt")
FOLDER_LAYOUT = "ROOT/JPEGImages/<video>/<frame>.jpg and ROOT/Annotations/<video>/<frame>.png (object ids)"


class CorruptFrameError(Exception):
    """An image or annotation file that could not be decoded."""


class DatasetLayoutError(FileNotFoundError):
    """A dataset path that does not have the expected layout."""


@dataclass(frozen=True)
class VosSequence:
    """One object of one video: its frame files (image, annotation) and the frames where it is visible."""

    video: str
    object_id: int
    images: tuple[Path, ...]
    annotations: tuple[Path, ...]
    visible: tuple[bool, ...]


class VideoSource:
    """Base of every source: ``sequences`` (length, visibility) and ``frame``."""

    name = "source"

    def __len__(self) -> int:
        raise NotImplementedError

    def num_frames(self, seq: int) -> int:
        raise NotImplementedError

    def visible(self, seq: int) -> Sequence[bool] | None:
        """Per-frame visibility when the annotation says so cheaply; None = find out by loading."""
        return None

    def frame(self, seq: int, index: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


def read_image(path: Path) -> np.ndarray:
    """HxWx3 uint8 RGB, or CorruptFrameError."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise CorruptFrameError(str(path))
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_ids(path: Path) -> np.ndarray:
    """Object-id map of a palette (or grey) annotation PNG, or CorruptFrameError."""
    try:
        with Image.open(path) as png:  # a palette image reads as its indices, i.e. the object ids
            ids = np.array(png)
    except (OSError, ValueError, SyntaxError):
        raise CorruptFrameError(str(path)) from None
    if ids.ndim == 3:  # an RGB annotation: any non-black colour is object 1
        ids = (ids[..., :3].max(axis=2) > 0).astype(np.uint8)
    return ids


class VosFolder(VideoSource):
    """JPEGImages/<video>/ + Annotations/<video>/ folders (YouTube-VOS, DAVIS and any folder in that layout).

    Only frames with an annotation are used (YouTube-VOS annotates every 5th frame). Without ``meta`` the
    object ids and their visibility come from reading every annotation once.
    """

    def __init__(self, root: str | Path, image_dir: str = "JPEGImages", annotation_dir: str = "Annotations",
                 videos: Sequence[str] | None = None, meta: dict | None = None, min_frames: int = 20,
                 min_visible: int = 5, layout: str = FOLDER_LAYOUT, name: str = "folder") -> None:
        self.root = Path(root).expanduser()
        self.name = name
        images_root, annotations_root = self.root / image_dir, self.root / annotation_dir
        for folder in (self.root, images_root, annotations_root):
            if not folder.is_dir():
                raise DatasetLayoutError(f"{name} dataset: {folder} is not a folder; expected {layout}")
        names = sorted(p.name for p in annotations_root.iterdir() if p.is_dir()) if videos is None else list(videos)
        self.sequences: list[VosSequence] = []
        self.dropped: dict[str, str] = {}  # video -> why it is not used
        for video in names:
            found = self._video_sequences(images_root / video, annotations_root / video, video, meta)
            if isinstance(found, str):
                self.dropped[video] = found
                continue
            for seq in found:
                if len(seq.images) < min_frames or sum(seq.visible) < min_visible:
                    self.dropped[f"{video}/{seq.object_id}"] = (
                        f"{len(seq.images)} frames, {sum(seq.visible)} visible (need {min_frames}, {min_visible})")
                else:
                    self.sequences.append(seq)
        if not self.sequences:
            reasons = "; ".join(f"{k}: {v}" for k, v in list(self.dropped.items())[:5]) or "no videos"
            raise DatasetLayoutError(f"{name} dataset at {self.root} has no usable sequence ({reasons}); "
                                     f"expected {layout}")

    @staticmethod
    def _video_sequences(image_dir: Path, annotation_dir: Path, video: str,
                         meta: dict | None) -> list[VosSequence] | str:
        annotations = sorted(annotation_dir.glob("*.png")) if annotation_dir.is_dir() else []
        if not annotations:
            return "empty annotation folder"
        pairs = [(image_dir / f"{a.stem}.jpg", a) for a in annotations if (image_dir / f"{a.stem}.jpg").is_file()]
        if not pairs:
            return f"no image in {image_dir} matches its annotations"
        images, annos = (tuple(p) for p in zip(*pairs, strict=True))
        stems = [a.stem for a in annos]
        if meta is not None:
            objects = meta.get("videos", {}).get(video, {}).get("objects", {})
            if not objects:
                return "no objects in meta.json"
            found = []
            for obj, info in sorted(objects.items(), key=lambda kv: int(kv[0])):
                shown = set(info.get("frames", []))
                found.append(VosSequence(video, int(obj), images, annos, tuple(s in shown for s in stems)))
            return found
        visibility: dict[int, list[bool]] = {}
        for i, path in enumerate(annos):
            try:
                ids = np.unique(read_ids(path))
            except CorruptFrameError:
                continue  # counted when the sampler meets it
            for obj in ids[ids > 0]:
                visibility.setdefault(int(obj), [False] * len(annos))[i] = True
        if not visibility:
            return "annotations hold no object"
        return [VosSequence(video, obj, images, annos, tuple(v)) for obj, v in sorted(visibility.items())]

    def __len__(self) -> int:
        return len(self.sequences)

    def num_frames(self, seq: int) -> int:
        return len(self.sequences[seq].images)

    def visible(self, seq: int) -> Sequence[bool]:
        return self.sequences[seq].visible

    def frame(self, seq: int, index: int) -> tuple[np.ndarray, np.ndarray]:
        s = self.sequences[seq]
        image, ids = read_image(s.images[index]), read_ids(s.annotations[index])
        if ids.shape[:2] != image.shape[:2]:
            raise CorruptFrameError(f"{s.annotations[index]} is {ids.shape[:2]}, its image {image.shape[:2]}")
        return image, ids == s.object_id


def youtube_vos(root: str | Path, min_frames: int = 20, min_visible: int = 5) -> VosFolder:
    """YouTube-VOS 2018 (one split folder, e.g. .../train): meta.json names each video's objects and frames."""
    root = Path(root).expanduser()
    meta_path = root / "meta.json"
    if not meta_path.is_file():
        raise DatasetLayoutError(f"YouTube-VOS dataset: {meta_path} not found; expected {YOUTUBE_VOS_LAYOUT}")
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:
        raise DatasetLayoutError(f"YouTube-VOS dataset: {meta_path} is not valid JSON ({exc})") from None
    return VosFolder(root, videos=sorted(meta.get("videos", {})), meta=meta, min_frames=min_frames,
                     min_visible=min_visible, layout=YOUTUBE_VOS_LAYOUT, name="YouTube-VOS")


def davis(root: str | Path, split: str = "train", min_frames: int = 20, min_visible: int = 5) -> VosFolder:
    """DAVIS-2017 at 480p, the sequences of ImageSets/2017/<split>.txt."""
    root = Path(root).expanduser()
    listing = root / "ImageSets" / "2017" / f"{split}.txt"
    if not listing.is_file():
        raise DatasetLayoutError(f"DAVIS dataset: {listing} not found; expected {DAVIS_LAYOUT}")
    videos = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
    return VosFolder(root, "JPEGImages/480p", "Annotations/480p", videos, min_frames=min_frames,
                     min_visible=min_visible, layout=DAVIS_LAYOUT, name="DAVIS")


class SyntheticVideos(VideoSource):
    """Procedural sequences (optionally textured with photos): sequence i is random but fixed by (seed, i)."""

    name = "synthetic"

    def __init__(self, num_sequences: int = 1000, seed: int = 0, textures: TextureBank | None = None,
                 num_frames: int = 60, height: int = 240, width: int = 320) -> None:
        self.count, self.seed, self.textures = num_sequences, seed, textures
        self.base = SequenceSpec(name="", num_frames=num_frames, height=height, width=width)
        self._cache: tuple[int, SyntheticSequence] | None = None

    def spec(self, seq: int) -> SequenceSpec:
        """The random challenge mix of sequence ``seq``: shape, size, motion, scale, rotation, occluders, ..."""
        rng = np.random.default_rng([self.seed, seq])
        n = self.base.num_frames
        occlusions = ()
        if rng.random() < 0.3:
            start = int(rng.integers(n))
            occlusions = (Occlusion(start, start + int(rng.integers(3, 12)), float(rng.uniform(0.3, 1.0))),)
        return replace(
            self.base, name=f"synthetic{seq}", seed=int(rng.integers(2**31)) + 10**6,
            shape=SHAPES[int(rng.integers(len(SHAPES)))], size=float(rng.uniform(0.12, 0.4)),
            aspect=float(rng.uniform(0.4, 1.0)), speed=float(rng.uniform(0.002, 0.02)),
            scale_range=(float(rng.uniform(0.6, 1.0)), float(rng.uniform(1.0, 1.5))),
            rotation_speed=float(rng.choice([0.0, rng.uniform(-4, 4)])), occlusions=occlusions,
            distractor=bool(rng.random() < 0.4), shake=float(rng.choice([0.0, rng.uniform(0, 3)])),
            illumination=float(rng.choice([0.0, rng.uniform(0, 0.4)])),
        )

    def sequence(self, seq: int) -> SyntheticSequence:
        if self._cache is None or self._cache[0] != seq:
            self._cache = (seq, SyntheticSequence(self.spec(seq), self.textures))
        return self._cache[1]

    def __len__(self) -> int:
        return self.count

    def num_frames(self, seq: int) -> int:
        return self.base.num_frames

    def frame(self, seq: int, index: int) -> tuple[np.ndarray, np.ndarray]:
        rendered = self.sequence(seq)[index]
        return rendered.image, rendered.mask


@dataclass(frozen=True)
class Mix:
    """A weighted mix of sources: a sample picks source i with probability weights[i] / sum(weights)."""

    sources: tuple[VideoSource, ...]
    weights: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.sources or len(self.sources) != len(self.weights) or min(self.weights) < 0 \
                or not math.isfinite(sum(self.weights)) or sum(self.weights) <= 0:
            raise ValueError(f"a mix needs one non-negative weight per source (sum > 0), got {self.weights}")

    def pick(self, rng: np.random.Generator) -> VideoSource:
        p = np.asarray(self.weights, float) / sum(self.weights)
        return self.sources[int(rng.choice(len(self.sources), p=p))]
