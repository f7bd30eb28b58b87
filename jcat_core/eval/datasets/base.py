"""What every dataset loader returns: sequences with lazily read frames and masks, ground truth in the project's
convention (0-based pixels, (x, y, w, h) with (x, y) the top-left corner; NaN where unknown or absent), and the
problems found while loading, so one bad sequence never stops a run."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from jcat_core.eval.metrics import valid_boxes

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


class LayoutError(FileNotFoundError):
    """The folder is not in the layout the loader expects; the message shows that layout."""

    def __init__(self, family: str, root: Path, problem: str, layout: str) -> None:
        super().__init__(f"{family} dataset at {root}: {problem}. Expected layout:\n{layout}")


class SequenceError(ValueError):
    """A sequence that cannot be run (the loader records it as skipped and goes on)."""


class FrameError(OSError):
    """A frame that cannot be read while running a sequence."""


@dataclass(frozen=True)
class Problem:
    """Something found in the data: a skipped sequence (skipped=True) or a note on one that still runs."""

    sequence: str
    message: str
    skipped: bool = True


@dataclass(frozen=True)
class PngMasks:
    """Masks from one PNG per frame (None = no annotation on that frame): the object's palette index when
    ``object_id`` is given (DAVIS, YouTube-VOS), else any non-zero pixel."""

    paths: tuple[Path | None, ...]
    object_id: int | None = None

    def __call__(self, index: int) -> np.ndarray | None:
        path = self.paths[index]
        if path is None:
            return None
        labels = read_label_png(path)
        return labels == self.object_id if self.object_id is not None else labels > 0


@dataclass(frozen=True)
class RleMasks:
    """Masks from VOT2020-style run-length strings ("m<x>,<y>,<w>,<h>,<runs...>"), pasted into an HxW image."""

    codes: tuple[str | None, ...]
    shape: tuple[int, int]

    def __call__(self, index: int) -> np.ndarray | None:
        code = self.codes[index]
        return None if code is None else decode_rle(code, self.shape)


MaskSource = Callable[[int], "np.ndarray | None"]


@dataclass
class Sequence:
    """One target in one video. ``boxes[i]`` is the ground truth of frame i (NaN where unknown); frames and masks
    are read on access. ``start`` is the frame the tracker is initialised on; ``scored`` is False where the
    benchmark withholds the ground truth after that frame (test splits: results go to its server)."""

    name: str
    frames: tuple[Path, ...]
    boxes: np.ndarray
    visible: np.ndarray | None = None  # (N,) bool; None when the dataset has no visibility labels
    polygons: np.ndarray | None = None  # (N, 8) rotated/polygon ground truth (VOT), 0-based
    masks: MaskSource | None = None
    attributes: dict[str, np.ndarray] = field(default_factory=dict)  # per-frame flags, e.g. VOT's occlusion.tag
    tags: dict[str, str] = field(default_factory=dict)  # sequence-level labels, e.g. LaSOT's category
    object_id: int | None = None
    start: int = 0
    scored: bool = True

    def __len__(self) -> int:
        return len(self.frames)

    def image(self, index: int) -> np.ndarray:
        """Frame ``index`` as HxWx3 uint8 RGB."""
        return read_rgb(self.frames[index])

    def frame_size(self) -> tuple[int, int]:
        """(width, height) of the start frame, read from its header alone (GOT-10k bounds boxes by it)."""
        with Image.open(self.frames[self.start]) as image:
            return image.size

    def mask(self, index: int) -> np.ndarray | None:
        """The target's HxW bool mask on frame ``index``; None when the dataset has none for that frame."""
        return None if self.masks is None else self.masks(index)

    @property
    def init_box(self) -> np.ndarray:
        return self.boxes[self.start]


@dataclass
class Dataset:
    """A loaded benchmark: its sequences, what was skipped or noted, and the result format its server reads."""

    name: str
    family: str
    root: Path
    sequences: list[Sequence]
    problems: list[Problem] = field(default_factory=list)
    result_format: str = "got10k"
    masks: bool = False  # a mask benchmark (scored with J&F; results as label PNGs)

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, name: str) -> Sequence:
        for sequence in self.sequences:
            if sequence.name == name:
                return sequence
        raise KeyError(f"no sequence {name!r} in {self.name}")


def read_rgb(path: Path) -> np.ndarray:
    """An image file as HxWx3 uint8 RGB, or a FrameError naming the file."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FrameError(f"cannot read frame {path} ({'missing' if not Path(path).is_file() else 'not an image'})")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_label_png(path: Path) -> np.ndarray:
    """HxW integer labels from a PNG: palette indices for palette images, else the grey value."""
    with Image.open(path) as image:
        if image.mode not in ("P", "L", "1", "I", "I;16"):
            image = image.convert("L")
        return np.asarray(image).astype(np.int32)


def decode_rle(code: str, shape: tuple[int, int]) -> np.ndarray:
    """An HxW bool mask from "m<x>,<y>,<w>,<h>,<runs>": runs alternate background/foreground, row by row,
    starting with background, over the w x h region whose top-left pixel is (x, y)."""
    values = [int(v) for v in code.strip().lstrip("m").split(",")]
    x, y, width, height, runs = *values[:4], values[4:]
    flat = np.repeat(np.arange(len(runs)) % 2 == 1, runs)
    region = np.zeros(width * height, bool)
    region[:min(len(flat), region.size)] = flat[:region.size]
    mask = np.zeros(shape, bool)
    part = region.reshape(height, width)[:max(0, shape[0] - y), :max(0, shape[1] - x)]
    mask[y:y + part.shape[0], x:x + part.shape[1]] = part
    return mask


def encode_rle(mask: np.ndarray) -> str:
    """The inverse of ``decode_rle``, over the mask's bounding box (a 1x1 empty region for an empty mask)."""
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return "m0,0,1,1,1"
    y0, y1, x0, x1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    flat = np.asarray(mask[y0:y1, x0:x1], bool).ravel()
    edges = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
    runs = np.diff(np.concatenate([[0], edges, [flat.size]]))
    if flat[0]:
        runs = np.concatenate([[0], runs])
    return f"m{x0},{y0},{x1 - x0},{y1 - y0}," + ",".join(str(int(r)) for r in runs)


def rle_box(code: str) -> np.ndarray:
    """The tight box of a run-length mask string, without knowing the image size."""
    x, y, w, h = (int(v) for v in code.strip().lstrip("m").split(",")[:4])
    return mask_to_box(decode_rle(code, (y + h, x + w)))


def mask_to_box(mask: np.ndarray | None) -> np.ndarray:
    """The tight (x, y, w, h) box of a mask; NaN for None or an empty mask."""
    if mask is None or not mask.any():
        return np.full(4, np.nan)
    rows, cols = np.nonzero(mask)
    return np.array([cols.min(), rows.min(), cols.max() + 1 - cols.min(), rows.max() + 1 - rows.min()], float)


def box_to_mask(box: tuple[float, float, float, float] | np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """An HxW bool mask filling a box (rounded to whole pixels, clipped to the image)."""
    x, y, w, h = (float(v) for v in box)
    mask = np.zeros(shape, bool)
    mask[max(0, round(y)):max(0, round(y + h)), max(0, round(x)):max(0, round(x + w))] = True
    return mask


def polygon_to_box(polygons: np.ndarray) -> np.ndarray:
    """(N, 8) polygons (x1, y1, ... x4, y4) -> (N, 4) axis-aligned boxes around them."""
    xs, ys = polygons[:, 0::2], polygons[:, 1::2]
    return np.column_stack([xs.min(1), ys.min(1), xs.max(1) - xs.min(1), ys.max(1) - ys.min(1)])


def read_numbers(path: Path, columns: int | None = None) -> np.ndarray:
    """A text table of numbers separated by commas, tabs or spaces (as the benchmarks' files vary); "NaN" allowed.
    Returns (N, columns) floats, raising SequenceError on a malformed line."""
    rows = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values = [float(v) for v in re.split(r"[,\s]+", line.strip())]
        except ValueError as error:
            raise SequenceError(f"{path}, line {number}: not numbers: {line.strip()!r}") from error
        if columns is not None and len(values) != columns:
            raise SequenceError(f"{path}, line {number}: {len(values)} values, expected {columns}")
        rows.append(values)
    return np.array(rows, float).reshape(-1, columns or (len(rows[0]) if rows else 0))


def read_flags(path: Path) -> np.ndarray:
    """Per-frame 0/1 labels, one per line or comma-separated on one line."""
    return read_numbers(path).ravel() != 0


def listed_sequences(root: Path) -> list[str]:
    """The names in ROOT/list.txt, else every ROOT/<name>/ with a groundtruth.txt (sorted); [] without ROOT."""
    listing = root / "list.txt"
    if listing.is_file():
        return [line.strip() for line in listing.read_text().splitlines() if line.strip()]
    return sorted(p.name for p in root.iterdir() if (p / "groundtruth.txt").is_file()) if root.is_dir() else []


def image_files(folder: Path) -> list[Path]:
    """The images of a folder in frame order (numeric names compared as numbers: TrackingNet's 0.jpg, 1.jpg...)."""
    files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES] if folder.is_dir() else []
    return sorted(files, key=lambda p: (int(p.stem), "") if p.stem.isdigit() else (-1, p.stem))


def missing_numbers(frames: Iterable[Path]) -> list[int]:
    """Frame numbers absent from a numerically named run of frames (e.g. 3 when 2.jpg and 4.jpg exist), on the run's
    own step (YouTube-VOS numbers every 5th frame)."""
    numbers = sorted(int(p.stem) for p in frames if p.stem.isdigit())
    if len(numbers) < 2:
        return []
    step = math.gcd(*np.diff(numbers).tolist()) or 1
    return sorted(set(range(numbers[0], numbers[-1] + 1, step)) - set(numbers))


def checked_sequence(sequence: Sequence, notes: list[Problem]) -> Sequence:
    """Check frames against the ground truth: a SequenceError for what cannot run (no frames, missing frames, ground
    truth shorter than the frames, no usable first box); a note for NaN boxes further on (scored as absent).
    One box for many frames is a test split (``scored`` False)."""
    n, boxes, name = len(sequence.frames), sequence.boxes, sequence.name
    if n == 0:
        raise SequenceError("no frames")
    gaps = missing_numbers(sequence.frames)
    if gaps:
        shown = ", ".join(str(g) for g in gaps[:5]) + (" ..." if len(gaps) > 5 else "")
        raise SequenceError(f"missing frames: number(s) {shown} absent between {sequence.frames[0].name} and "
                            f"{sequence.frames[-1].name}")
    if len(boxes) == 1 and n > 1 and sequence.start == 0:
        sequence.boxes = np.vstack([boxes, np.full((n - 1, 4), np.nan)])
        sequence.scored = False
    elif len(boxes) < n:
        raise SequenceError(f"ground truth has {len(boxes)} boxes for {n} frames")
    elif len(boxes) > n:
        raise SequenceError(f"missing frames: {n} frames for {len(boxes)} ground-truth boxes")
    first = sequence.boxes[sequence.start]
    if not valid_boxes(first[None])[0]:
        raise SequenceError(f"no usable first-frame box to initialise on: {first.tolist()}")
    if sequence.scored:
        bad = int(np.isnan(sequence.boxes).any(axis=1).sum())
        if bad:
            notes.append(Problem(name, f"{bad} frame(s) with NaN ground truth, scored as target absent (OTB/LaSOT: "
                                       "as their toolkits score such rows)", False))
    return sequence


def collect(candidates: Iterable[tuple[str, Callable[[], Sequence]]]) -> tuple[list[Sequence], list[Problem]]:
    """Build each sequence, keeping the ones that load and a Problem for each one that does not."""
    sequences: list[Sequence] = []
    problems: list[Problem] = []
    for name, build in candidates:
        try:
            sequences.append(checked_sequence(build(), problems))
        except (SequenceError, OSError) as error:
            problems.append(Problem(name, str(error)))
    return sequences, problems
