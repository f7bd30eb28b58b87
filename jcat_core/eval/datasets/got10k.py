"""GOT-10k (val/test) and the synthetic sequences written in its layout. Boxes are used as written (0-based, the
convention of jcat_core.data.synthetic.write_got10k); results are compared in the same convention."""

from __future__ import annotations

import configparser
from pathlib import Path

from jcat_core.data.synthetic import SyntheticSequence, synthetic_suite, write_got10k
from jcat_core.eval.datasets.base import (
    Dataset,
    LayoutError,
    PngMasks,
    Sequence,
    checked_sequence,
    collect,
    image_files,
    listed_sequences,
    read_flags,
    read_numbers,
)

LAYOUT = """  ROOT/list.txt                          (optional: the sequence names, one per line)
  ROOT/<sequence>/00000001.jpg ...       (or <sequence>/img/00000001.jpg, as the synthetic writer does)
  ROOT/<sequence>/groundtruth.txt        (x,y,w,h per frame; one line only in the test split)
  ROOT/<sequence>/absence.label, cover.label, meta_info.ini, mask/00000001.png   (optional)"""


def load_got10k(root: Path, family: str = "got10k") -> Dataset:
    """ROOT is a split folder (val/, test/) or a folder of synthetic sequences."""
    root = Path(root)
    names = listed_sequences(root)
    if not names:
        raise LayoutError("GOT-10k", root, "no sequence folder with a groundtruth.txt", LAYOUT)
    sequences, problems = collect((name, _builder(root / name)) for name in names)
    masks = family == "synthetic" or any(s.masks is not None for s in sequences)  # scored with J&F where present
    return Dataset("GOT-10k" if family == "got10k" else "synthetic", family, root, sequences, problems,
                   result_format="got10k", masks=masks)


def load_got10k_sequence(folder: Path) -> Sequence:
    """One sequence folder in the GOT-10k layout, read and checked as load_got10k reads each of its sequences (so
    `jcat-bag make` takes every layout jcat-eval does); SequenceError or OSError says why it cannot be used."""
    return checked_sequence(_builder(Path(folder))(), [])


def _builder(folder: Path):
    def build() -> Sequence:
        boxes = read_numbers(folder / "groundtruth.txt", 4)
        frames = image_files(folder / "img") or image_files(folder)
        visible = None
        if (folder / "absence.label").is_file():
            visible = ~read_flags(folder / "absence.label")
        if (folder / "cover.label").is_file():
            covered = read_numbers(folder / "cover.label").ravel() > 0
            visible = covered if visible is None else visible & covered
        sequence = Sequence(folder.name, tuple(frames), boxes, visible=visible, masks=_masks(folder, frames),
                            tags=_meta(folder))
        if visible is not None and len(visible) != len(frames):
            sequence.visible = None  # a label file of the wrong length is ignored rather than misaligned
        return sequence
    return build


def _masks(folder: Path, frames: list[Path]) -> PngMasks | None:
    """mask/<frame>.png (any non-zero pixel is the target) for the frames that have one; None without mask/."""
    if not (folder / "mask").is_dir():
        return None
    paths = ((folder / "mask" / f"{frame.stem}.png") for frame in frames)
    return PngMasks(tuple(path if path.is_file() else None for path in paths))


def _meta(folder: Path) -> dict[str, str]:
    """GOT-10k's meta_info.ini: object_class, motion_class, ... (used for attribute breakdowns)."""
    path = folder / "meta_info.ini"
    if not path.is_file():
        return {}
    parser = configparser.ConfigParser()
    parser.read_string("[meta]\n" + "\n".join(line for line in path.read_text().splitlines()
                                                if not line.startswith("[")))
    meta = parser["meta"]
    return {key: meta[key] for key in ("object_class", "motion_class", "major_class") if key in meta}


def write_synthetic(root: Path, names: tuple[str, ...] | None = None, height: int = 240, width: int = 320,
                    num_frames: int = 60, seed: int = 0) -> Path:
    """Write sequences of the synthetic suite (all, or ``names``) in the GOT-10k layout, with list.txt."""
    suite = synthetic_suite(height=height, width=width, num_frames=num_frames, seed=seed)
    chosen = names or tuple(suite)
    unknown = set(chosen) - set(suite)
    if unknown:
        raise ValueError(f"unknown synthetic sequence(s) {sorted(unknown)}; choose from {', '.join(suite)}")
    root = Path(root)
    for name in chosen:
        write_got10k(SyntheticSequence(suite[name]), root / name)
    (root / "list.txt").write_text("\n".join(chosen) + "\n")
    return root


def load_synthetic(root: Path) -> Dataset:
    """Synthetic sequences in the GOT-10k layout (``write_synthetic`` makes them), scored with masks too."""
    return load_got10k(root, family="synthetic")

