"""Result files in each benchmark's official format, written so they upload to its server unchanged, and read back
(ours or published raw results) for scoring. Boxes in memory are always 0-based (x, y, w, h); OTB and LaSOT files
are 1-based, as their ground truth, so 1 is added to x and y on writing and removed on reading.

Layouts under one tracker's folder:
- got10k: <seq>/<seq>_001.txt and <seq>/<seq>_time.txt (what the GOT-10k server takes: the <seq> folders zipped)
- otb, lasot, trackingnet: <seq>.txt, with times in times/<seq>_time.txt (TrackingNet's server takes the <seq>.txt)
- vot: <seq>/<seq>_001.txt with "1" on initialisation, "2" on failure, "0" while waiting, else the region
- davis: <video>/<frame>.png; youtube-vos: Annotations/<video>/<frame>.png (palette PNGs, index = object id);
  every mask run also keeps each object's masks as masks/<seq>/<frame>.png (0/255).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image

from jcat_core.eval.datasets.base import (
    box_to_mask,
    decode_rle,
    polygon_to_box,
    read_label_png,
    read_numbers,
    rle_box,
)
from jcat_core.eval.datasets.vot import parse_region

BOX_FORMATS = ("got10k", "otb", "lasot", "trackingnet", "vot")
MASK_FORMATS = ("davis", "youtube-vos")
ONE_BASED = frozenset({"otb", "lasot"})
VOT_INIT, VOT_FAILURE, VOT_SKIP = "1", "2", "0"


def box_file(folder: Path, fmt: str, name: str) -> Path:
    """Where a sequence's boxes go in a format."""
    if fmt in ("got10k", "vot"):
        return Path(folder) / name / f"{name}_001.txt"
    if fmt in ("otb", "lasot", "trackingnet"):
        return Path(folder) / f"{name}.txt"
    raise ValueError(f"unknown box result format {fmt!r}; choose one of: {', '.join(BOX_FORMATS)}")


def time_file(folder: Path, fmt: str, name: str) -> Path:
    """Where a sequence's per-frame seconds go."""
    if fmt in ("got10k", "vot"):
        return Path(folder) / name / f"{name}_time.txt"
    return Path(folder) / "times" / f"{name}_time.txt"


def write_boxes(folder: Path, fmt: str, name: str, boxes: np.ndarray, times: np.ndarray) -> Path:
    """Write one sequence's boxes (N, 4, 0-based) and per-frame seconds; returns the box file."""
    boxes = np.asarray(boxes, float).reshape(-1, 4).copy()
    if fmt in ONE_BASED:
        boxes[:, :2] += 1
    path = box_file(folder, fmt, name)
    _write_lines(path, [",".join(_number(v) for v in row) for row in boxes])
    _write_lines(time_file(folder, fmt, name), [f"{t:.6f}" for t in np.asarray(times, float)])
    return path


def write_vot(folder: Path, name: str, entries: list[str], times: np.ndarray) -> Path:
    """Write a VOT supervised run: one entry per frame, a code ("1", "2", "0") or a region string."""
    path = box_file(folder, "vot", name)
    _write_lines(path, entries)
    _write_lines(time_file(folder, "vot", name), [f"{t:.6f}" for t in np.asarray(times, float)])
    return path


def vot_region(box: np.ndarray) -> str:
    """A box as a VOT rectangle entry."""
    return ",".join(_number(v) for v in box)


def find_result(folder: Path, fmt: str, name: str) -> Path | None:
    """A sequence's box file in a result folder, also where published results put it: <seq>/<seq>_001.txt,
    <seq>_001.txt or <seq>.txt, with the sequence name matched case-insensitively as a last resort."""
    folder = Path(folder)
    candidates = [box_file(folder, fmt, name), folder / name / f"{name}_001.txt", folder / f"{name}_001.txt",
                  folder / f"{name}.txt"]
    for path in candidates:
        if path.is_file():
            return path
    wanted = {p.name.lower() for p in candidates}
    found = [p for p in folder.iterdir() if p.name.lower() in wanted] if folder.is_dir() else []
    return found[0] if found else None


def read_boxes(folder: Path, fmt: str, name: str) -> np.ndarray:
    """(N, 4) 0-based boxes of one sequence from a result folder; NaN on VOT's code lines (init/failure/skip)."""
    path = find_result(folder, fmt, name)
    if path is None:
        raise FileNotFoundError(f"no result for {name} in {folder} (expected {box_file(folder, fmt, name)})")
    if fmt == "vot":
        return np.array([_vot_box(line) for line in read_vot(path)]).reshape(-1, 4)
    boxes = read_numbers(path, 4)
    if fmt in ONE_BASED:
        boxes[:, :2] -= 1
    return boxes


def read_vot(path: Path) -> list[str]:
    """The entries of a VOT result file, one per frame."""
    return [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]


def read_vot_mask(folder: Path, name: str, index: int, shape: tuple[int, int]) -> np.ndarray | None:
    """Frame ``index`` of a VOT result as an HxW mask (RLE decoded, a region filled); None for code entries."""
    path = find_result(folder, "vot", name)
    entries = _vot_entries(path, path.stat().st_mtime_ns) if path is not None else ()
    if index >= len(entries) or entries[index] in (VOT_INIT, VOT_FAILURE, VOT_SKIP):
        return None
    kind, region = parse_region(entries[index])
    if kind == "mask":
        return decode_rle(str(region), shape)
    return box_to_mask(_region_box(kind, region), shape)


@functools.lru_cache(maxsize=8)
def _vot_entries(path: Path, mtime_ns: int) -> tuple[str, ...]:
    """A VOT result file's entries, parsed once per version of the file (scoring reads it frame by frame)."""
    return tuple(read_vot(path))


def read_times(folder: Path, fmt: str, name: str) -> np.ndarray | None:
    """Per-frame seconds, when the result folder has them."""
    for path in (time_file(folder, fmt, name), Path(folder) / f"{name}_time.txt"):
        if path.is_file():
            return read_numbers(path).ravel()
    return None


def mask_file(folder: Path, name: str, frame: str) -> Path:
    """Where one object's mask on one frame goes (0/255 PNG)."""
    return Path(folder) / "masks" / name / f"{frame}.png"


def write_mask(path: Path, mask: np.ndarray) -> None:
    """An HxW bool mask as a 0/255 grey PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(mask, bool).astype(np.uint8) * 255).save(path)


def read_mask(path: Path) -> np.ndarray | None:
    """A mask PNG (any non-zero pixel is foreground), None when the file does not exist."""
    return read_label_png(path) > 0 if Path(path).is_file() else None


def label_folder(folder: Path, fmt: str) -> Path:
    """Where a mask benchmark's merged label PNGs go."""
    if fmt == "davis":
        return Path(folder)
    if fmt == "youtube-vos":
        return Path(folder) / "Annotations"
    raise ValueError(f"unknown mask result format {fmt!r}; choose one of: {', '.join(MASK_FORMATS)}")


def write_labels(path: Path, labels: np.ndarray) -> None:
    """HxW object ids as a palette PNG (DAVIS's colours), as the DAVIS and YouTube-VOS servers read them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(np.asarray(labels, np.uint8), mode="P")
    image.putpalette(label_palette())
    image.save(path)


def merge_labels(masks: dict[int, np.ndarray | None], shape: tuple[int, int]) -> np.ndarray:
    """One label image from per-object masks; where objects overlap the higher id wins."""
    labels = np.zeros(shape, np.uint8)
    for object_id in sorted(masks):
        mask = masks[object_id]
        if mask is not None:
            labels[mask] = object_id
    return labels


def read_object_mask(folder: Path, fmt: str, video: str, frame: str, object_id: int) -> np.ndarray | None:
    """One object's mask from a merged label PNG (ours or published); None when that frame has no file."""
    path = label_folder(folder, fmt) / video / f"{frame}.png"
    return read_label_png(path) == object_id if path.is_file() else None


def label_palette() -> list[int]:
    """The 256-colour palette of DAVIS/PASCAL label images: colour k spreads the bits of k over R, G and B."""
    palette = []
    for k in range(256):
        r = g = b = 0
        value = k
        for shift in range(7, -1, -1):
            r |= (value & 1) << shift
            g |= ((value >> 1) & 1) << shift
            b |= ((value >> 2) & 1) << shift
            value >>= 3
        palette += [r, g, b]
    return palette


def _vot_box(entry: str) -> np.ndarray:
    if entry in (VOT_INIT, VOT_FAILURE, VOT_SKIP):
        return np.full(4, np.nan)
    kind, region = parse_region(entry)
    if kind == "mask":
        return rle_box(str(region))
    return _region_box(kind, region)


def _region_box(kind: str, region) -> np.ndarray:
    """The (x, y, w, h) box of a parsed VOT rectangle or polygon region."""
    return polygon_to_box(np.asarray(region)[None])[0] if kind == "polygon" else np.asarray(region)


def _number(value: float) -> str:
    return "nan" if not np.isfinite(value) else f"{value:.4f}".rstrip("0").rstrip(".")


def _write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
