"""TrackingNet (Müller et al. 2018). Boxes are used as written (0-based, as its Python toolkit)."""

from __future__ import annotations

from pathlib import Path

from jcat_core.eval.datasets.base import Dataset, LayoutError, Sequence, collect, image_files, read_numbers

LAYOUT = """  ROOT/TEST/frames/<sequence>/0.jpg 1.jpg ...     (or TRAIN_0 ... TRAIN_11 instead of TEST)
  ROOT/TEST/anno/<sequence>.txt                   (x,y,w,h, comma separated; the first frame only in TEST)
  (ROOT may also be the split folder itself, holding frames/ and anno/)"""


def load_trackingnet(root: Path, split: str = "TEST") -> Dataset:
    """The sequences of one split (TEST by default)."""
    root = Path(root)
    base = root if (root / "anno").is_dir() else root / split
    annotations = sorted((base / "anno").glob("*.txt")) if (base / "anno").is_dir() else []
    if not annotations:
        raise LayoutError("TrackingNet", root, f"no {split}/anno/<sequence>.txt", LAYOUT)
    sequences, problems = collect((a.stem, _builder(base, a)) for a in annotations)
    return Dataset("TrackingNet", "trackingnet", root, sequences, problems, result_format="trackingnet")


def _builder(base: Path, annotation: Path):
    def build() -> Sequence:
        return Sequence(annotation.stem, tuple(image_files(base / "frames" / annotation.stem)),
                        read_numbers(annotation, 4))
    return build
