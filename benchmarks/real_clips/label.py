"""How benchmarks/real_clips/<clip>/groundtruth.txt were made; rerun it to check them or to redo them.

Semi-automatic. Each frame gets a mask of candidate pixels (box: saturated yellow/orange print; cup: dark pixels that
are not skin; people in vtest.avi: MOG2 background subtraction on the static camera, shadows left out); the
connected components near the previous box are kept and the tight box of their union is the label. A box whose
width or height jumps by more than ``Follow.max_change`` from the previous one is flagged and replaced by the
predicted box. Then the corrections in <clip>/keyframes.json, found by eye on the contact sheets this script draws:
``keyframes`` (clip frame index -> x,y,w,h) replace the automatic box and re-seed it; ``manual`` spans [a, b] (both
keyframes) are labelled by linear interpolation between the keyframes inside them (people overlapping); ``absent``
spans [a, b] have the target fully out of view or hidden (NaN in groundtruth.txt, 1 in absence.label).

    python benchmarks/real_clips/label.py --doc-root X/usr/share/doc/opencv-doc [--clips box,cup] [--write]
        [--sheets /tmp/sheets --step 15]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import cv2
import numpy as np
from source import Clip, load_catalogue, video_frames

Mask = np.ndarray  # HxW uint8, non-zero = candidate target pixel


@dataclass(frozen=True)
class Follow:
    """How the components of a frame's mask are tied to the previous box."""

    margin: float = 0.2  # the predicted box grown by this fraction of its width/height on each side
    inside: float = 0.6  # a component is the target's when this share of its bounding box is in the grown box
    min_area: int = 40  # smaller components are noise (pixels)
    max_change: float = 1.5  # a larger factor between consecutive widths or heights flags the frame


@dataclass(frozen=True)
class Corrections:
    """The manual part of a clip's labels (keyframes.json)."""

    keyframes: dict[int, np.ndarray] = field(default_factory=dict)
    manual: list[tuple[int, int]] = field(default_factory=list)
    absent: list[tuple[int, int]] = field(default_factory=list)

    def is_absent(self, index: int) -> bool:
        return any(a <= index <= b for a, b in self.absent)

    def in_manual(self, index: int) -> bool:
        return any(a <= index <= b for a, b in self.manual)

    def interpolated(self, index: int) -> np.ndarray:
        """The box linearly interpolated between the keyframes around ``index``."""
        before = max(k for k in self.keyframes if k <= index)
        after = min(k for k in self.keyframes if k >= index)
        if before == after:
            return self.keyframes[before]
        weight = (index - before) / (after - before)
        return (1 - weight) * self.keyframes[before] + weight * self.keyframes[after]


def load_corrections(clip: Clip) -> Corrections:
    """<clip>/keyframes.json, or no corrections when the file is not there."""
    path = clip.labels / "keyframes.json"
    if not path.is_file():
        return Corrections()
    data = json.loads(path.read_text())
    keyframes = {int(k): np.array(v, float) for k, v in data.get("keyframes", {}).items()}
    spans = {key: [tuple(span) for span in data.get(key, [])] for key in ("manual", "absent")}
    return Corrections(keyframes, spans["manual"], spans["absent"])


def yellow_print(frame: np.ndarray) -> Mask:
    """The box's saturated yellow/orange print (the hand and the table are far less saturated)."""
    hsv = cv2.cvtColor(frame, cv2.COLOR_BGR2HSV)
    hue, sat, val = cv2.split(hsv)
    mask = ((hue >= 12) & (hue <= 32) & (sat >= 110) & (val >= 110)).astype(np.uint8)
    return cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((15, 15), np.uint8))


def dark_not_skin(frame: np.ndarray) -> Mask:
    """The dark bottle on the white wall, without the shadowed underside of the arm (dark but saturated skin hue)."""
    hsv = cv2.cvtColor(frame, cv2.COLOR_BGR2HSV)
    hue, sat, val = (c.astype(np.int16) for c in cv2.split(hsv))
    skin = (hue >= 2) & (hue <= 25) & (sat >= 70)
    mask = ((val < 100) & ~skin).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    return cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))


class MovingPixels:
    """MOG2 foreground of a static camera (shadows, marked 127, left out), closed vertically to join legs and
    torso. Fed every frame from the start of the video, so the background is learnt before a clip begins."""

    def __init__(self) -> None:
        self._model = cv2.createBackgroundSubtractorMOG2(history=300, varThreshold=16, detectShadows=True)

    def __call__(self, frame: np.ndarray) -> Mask:
        mask = (self._model.apply(frame) == 255).astype(np.uint8)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        return cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((9, 3), np.uint8))


SEGMENTERS: dict[str, Callable[[], Callable[[np.ndarray], Mask]]] = {
    "box": lambda: yellow_print, "cup": lambda: dark_not_skin, "vtest": MovingPixels}


def segmenter(clip: Clip) -> Callable[[np.ndarray], Mask]:
    """The candidate-mask function for a clip (by the prefix of its name)."""
    return SEGMENTERS[clip.name.split("_")[0]]()


def grown(box: np.ndarray, margin: float) -> np.ndarray:
    """(x0, y0, x1, y1) of the box grown by ``margin`` of its size on each side."""
    x, y, w, h = box
    return np.array([x - margin * w, y - margin * h, x + w + margin * w, y + h + margin * h])


def near_components(mask: Mask, predicted: np.ndarray, follow: Follow) -> np.ndarray | None:
    """The tight box of the components lying mostly (``follow.inside``) in the grown predicted box; None when
    there is none. A neighbour that only touches the box is left out."""
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask)
    x0, y0, x1, y1 = grown(predicted, follow.margin)
    left, top, width, height, area = (stats[1:, c].astype(float) for c in range(5))
    overlap = (np.clip(np.minimum(left + width, x1) - np.maximum(left, x0), 0, None)
               * np.clip(np.minimum(top + height, y1) - np.maximum(top, y0), 0, None))
    chosen = np.flatnonzero((area >= follow.min_area) & (overlap >= follow.inside * width * height))
    if not chosen.size:
        return None
    right, bottom = (left + width)[chosen].max(), (top + height)[chosen].max()
    return np.array([left[chosen].min(), top[chosen].min(), right - left[chosen].min(), bottom - top[chosen].min()])


def largest_component(mask: Mask) -> np.ndarray:
    """The tight box of the mask's largest component (a clip's first box when no keyframe gives it)."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask)
    if count < 2:
        raise ValueError("nothing to start from on the first frame; add a keyframe")
    k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return stats[k, :4].astype(float)


def plausible(box: np.ndarray | None, previous: np.ndarray, shape: tuple[int, ...], follow: Follow) -> bool:
    """The box exists and its width and height are within ``max_change`` of the previous box's, except a side
    cut by the image border (a target leaving the view shrinks fast)."""
    if box is None:
        return False
    ratios = box[2:] / previous[2:]
    cut = np.array([box[0] <= 0 or box[0] + box[2] >= shape[1], box[1] <= 0 or box[1] + box[3] >= shape[0]])
    return bool(np.all(cut | ((ratios <= follow.max_change) & (ratios >= 1 / follow.max_change))))


@dataclass
class Labels:
    """A clip's labels and how each frame got its box."""

    boxes: np.ndarray  # (N, 4), NaN where absent
    absent: np.ndarray  # (N,) bool
    origin: list[str]  # per frame: "auto", "flagged" (predicted box kept), "key", "interp" or "absent"


def clip_masks(clip: Clip, doc_root: Path) -> Iterator[Mask]:
    """The candidate mask of each frame of the clip; a background model sees the video from its first frame."""
    segment = segmenter(clip)
    warm_up = isinstance(segment, MovingPixels)
    for index, frame in enumerate(islice(video_frames(doc_root / clip.video), clip.start + clip.frames)):
        if index >= clip.start or warm_up:
            mask = segment(frame)
            if index >= clip.start:
                yield mask


def follow_target(masks: Iterator[Mask], corrections: Corrections, follow: Follow = Follow()) -> Labels:
    """Label each frame from its mask: keyframes, interpolated spans and absent spans first, else the components
    near the box predicted from the last two boxes."""
    boxes, absent, origin = [], [], []
    previous = velocity = None
    for index, mask in enumerate(masks):
        box, how = _frame_box(index, mask, previous, velocity, corrections, follow)
        if box is not None and previous is not None and how in ("auto", "flagged"):
            velocity = box[:2] - previous[:2]
        elif box is None or how == "key":
            velocity = None
        previous = box if box is not None else previous
        boxes.append(box if box is not None else np.full(4, np.nan))
        absent.append(box is None)
        origin.append(how)
    return Labels(np.array(boxes), np.array(absent), origin)


def _frame_box(index: int, mask: Mask, previous: np.ndarray | None, velocity: np.ndarray | None,
               corrections: Corrections, follow: Follow) -> tuple[np.ndarray | None, str]:
    if corrections.is_absent(index):
        return None, "absent"
    if index in corrections.keyframes:
        return corrections.keyframes[index].copy(), "key"
    if corrections.in_manual(index):
        return corrections.interpolated(index), "interp"
    if previous is None:
        return largest_component(mask), "auto"
    predicted = previous.copy()
    if velocity is not None:
        predicted[:2] += velocity
    found = near_components(mask, predicted, follow)
    return (found, "auto") if plausible(found, previous, mask.shape, follow) else (predicted, "flagged")


def write_labels(clip: Clip, labels: Labels) -> None:
    """groundtruth.txt (x,y,w,h per frame; NaN where absent) and, when the target is ever absent, absence.label."""
    lines = ["NaN,NaN,NaN,NaN" if gone else ",".join(f"{round(v, 1):g}" for v in box)
             for box, gone in zip(labels.boxes, labels.absent, strict=True)]
    clip.labels.mkdir(exist_ok=True)
    (clip.labels / "groundtruth.txt").write_text("\n".join(lines) + "\n")
    if labels.absent.any():
        (clip.labels / "absence.label").write_text("\n".join(str(int(a)) for a in labels.absent) + "\n")


COLOURS = {"auto": (0, 255, 0), "flagged": (0, 0, 255), "key": (255, 0, 0), "interp": (255, 255, 0)}


def tile(frame: np.ndarray, box: np.ndarray, how: str, caption: str, size: int = 240) -> np.ndarray:
    """A square crop around the box (1.5 times its size, at least 96 px) with the box drawn; the whole frame
    when the target is absent."""
    if how == "absent":
        view = cv2.resize(frame, (size, size * frame.shape[0] // frame.shape[1]))
        view = cv2.copyMakeBorder(view, 0, size - view.shape[0], 0, 0, cv2.BORDER_CONSTANT)
    else:
        x, y, w, h = box
        side = max(1.5 * max(w, h), 96)
        cx, cy = x + w / 2, y + h / 2
        scale = size / side
        shift = np.array([[scale, 0, size / 2 - scale * cx], [0, scale, size / 2 - scale * cy]])
        view = cv2.warpAffine(frame, shift, (size, size), flags=cv2.INTER_AREA)
        corner = (round(size / 2 - scale * w / 2), round(size / 2 - scale * h / 2))
        cv2.rectangle(view, corner, (round(size / 2 + scale * w / 2), round(size / 2 + scale * h / 2)),
                      COLOURS[how], 1)
    cv2.putText(view, caption, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 255), 1)
    return view


def contact_sheets(clip: Clip, doc_root: Path, labels: Labels, folder: Path, step: int, per_sheet: int = 30,
                   columns: int = 6) -> list[Path]:
    """PNG sheets of every ``step``-th frame (and the last), each a crop around its label, to check by eye."""
    chosen = set(range(0, clip.frames, step)) | {clip.frames - 1}
    frames = islice(video_frames(doc_root / clip.video), clip.start, clip.start + clip.frames)
    tiles = [tile(frame, labels.boxes[i], labels.origin[i], f"{i} ({clip.start + i}) {labels.origin[i]}")
             for i, frame in enumerate(frames) if i in chosen]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, first in enumerate(range(0, len(tiles), per_sheet)):
        group = tiles[first:first + per_sheet]
        group += [np.zeros_like(group[0])] * (-len(group) % columns)
        rows = [np.concatenate(group[r:r + columns], axis=1) for r in range(0, len(group), columns)]
        paths.append(folder / f"{clip.name}_{number}.png")
        cv2.imwrite(str(paths[-1]), np.concatenate(rows, axis=0))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--doc-root", required=True, type=Path, help="the unpacked usr/share/doc/opencv-doc")
    parser.add_argument("--clips", help="comma-separated clip names (default: all)")
    parser.add_argument("--write", action="store_true", help="write groundtruth.txt / absence.label")
    parser.add_argument("--sheets", type=Path, help="folder for contact sheets")
    parser.add_argument("--step", type=int, default=15)
    args = parser.parse_args()
    catalogue = load_catalogue()
    names = args.clips.split(",") if args.clips else list(catalogue.clips)
    for name in names:
        clip = catalogue.clips[name]
        labels = follow_target(clip_masks(clip, args.doc_root), load_corrections(clip))
        flagged = [i for i, how in enumerate(labels.origin) if how == "flagged"]
        print(f"{name}: {clip.frames} frames, {int(labels.absent.sum())} absent, flagged: {flagged or 'none'}")
        if args.write:
            write_labels(clip, labels)
        if args.sheets:
            print("  sheets: " + " ".join(str(p) for p in contact_sheets(clip, args.doc_root, labels, args.sheets,
                                                                          args.step)))


if __name__ == "__main__":
    main()
