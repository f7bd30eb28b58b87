"""OTB100 (Wu, Lim, Yang 2015). Ground truth is 1-based (MATLAB): x and y are reduced by 1 here."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jcat_core.eval.datasets.base import (
    Dataset,
    LayoutError,
    Sequence,
    SequenceError,
    collect,
    image_files,
    read_numbers,
)

LAYOUT = """  ROOT/<Sequence>/img/0001.jpg ...
  ROOT/<Sequence>/groundtruth_rect.txt      (x,y,w,h per frame, 1-based; comma, tab or space separated)
  ROOT/Jogging/groundtruth_rect.1.txt, .2.txt  (two targets -> Jogging-1, Jogging-2; likewise Skating2)"""

# Sequences whose annotated frames are a sub-range of img/ (first, last frame number), from the benchmark's list.
FRAME_RANGES = {"David": (300, 770), "BlurCar1": (247, 988), "BlurCar3": (3, 359), "BlurCar4": (18, 397),
                "Football1": (1, 74), "Freeman3": (1, 460), "Freeman4": (1, 283), "Diving": (1, 215),
                "Tiger1": (6, 354)}


def load_otb(root: Path) -> Dataset:
    """Every sequence folder under ROOT with an img/ folder and a groundtruth_rect*.txt."""
    root = Path(root)
    folders = sorted(p for p in root.iterdir() if (p / "img").is_dir()) if root.is_dir() else []
    if not folders:
        raise LayoutError("OTB", root, "no sequence folder with an img/ subfolder", LAYOUT)
    candidates = []
    for folder in folders:
        truths = sorted(folder.glob("groundtruth_rect*.txt"))
        if not truths:
            candidates.append((folder.name, _missing(folder)))
        for truth in truths:
            suffix = truth.name.removeprefix("groundtruth_rect").removesuffix(".txt").strip(".")
            name = f"{folder.name}-{suffix}" if suffix and len(truths) > 1 else folder.name
            candidates.append((name, _builder(name, folder, truth)))
    sequences, problems = collect(candidates)
    return Dataset("OTB100", "otb", root, sequences, problems, result_format="otb")


def _missing(folder: Path):
    def fail() -> Sequence:
        raise SequenceError(f"no groundtruth_rect.txt in {folder}")
    return fail


def _builder(name: str, folder: Path, truth: Path):
    def build() -> Sequence:
        boxes = read_numbers(truth, 4)
        boxes[:, :2] -= 1
        frames = image_files(folder / "img")
        if folder.name in FRAME_RANGES and len(frames) != len(boxes):
            first, last = FRAME_RANGES[folder.name]
            frames = [p for p in frames if p.stem.isdigit() and first <= int(p.stem) <= last]
        return Sequence(name, tuple(frames), np.asarray(boxes))
    return build
