"""LaSOT (Fan et al. 2019). Ground truth is 1-based (MATLAB toolkit): x and y are reduced by 1 here."""

from __future__ import annotations

from pathlib import Path

from jcat_core.eval.datasets.base import Dataset, LayoutError, Sequence, collect, image_files, read_flags, read_numbers

LAYOUT = """  ROOT/<category>/<category>-<n>/img/00000001.jpg ...
  ROOT/<category>/<category>-<n>/groundtruth.txt    (x,y,w,h per frame, 1-based, comma separated)
  ROOT/<category>/<category>-<n>/full_occlusion.txt, out_of_view.txt   (0/1 per frame, optional)
  ROOT/testing_set.txt   (optional: the sequence names to evaluate, one per line)"""


def load_lasot(root: Path) -> Dataset:
    """Every <category>/<category>-<n> folder (or those in testing_set.txt)."""
    root = Path(root)
    folders = sorted(p for p in root.glob("*/*") if p.is_dir() and (p / "groundtruth.txt").is_file()) \
        if root.is_dir() else []
    listing = root / "testing_set.txt"
    if listing.is_file():
        wanted = {line.strip() for line in listing.read_text().splitlines() if line.strip()}
        folders = [p for p in folders if p.name in wanted]
    if not folders:
        raise LayoutError("LaSOT", root, "no <category>/<sequence>/groundtruth.txt", LAYOUT)
    sequences, problems = collect((p.name, _builder(p)) for p in folders)
    return Dataset("LaSOT", "lasot", root, sequences, problems, result_format="lasot")


def _builder(folder: Path):
    def build() -> Sequence:
        boxes = read_numbers(folder / "groundtruth.txt", 4)
        boxes[:, :2] -= 1
        frames = tuple(image_files(folder / "img"))
        hidden = [read_flags(folder / name) for name in ("full_occlusion.txt", "out_of_view.txt")
                  if (folder / name).is_file()]
        visible = None
        if hidden and all(len(h) == len(frames) for h in hidden):
            visible = ~hidden[0] if len(hidden) == 1 else ~(hidden[0] | hidden[1])
        return Sequence(folder.name, frames, boxes, visible=visible, tags={"category": folder.parent.name})
    return build
