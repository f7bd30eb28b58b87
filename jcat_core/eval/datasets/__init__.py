"""Benchmark loaders by family name: ``load_dataset("got10k", root)``. Frames and masks are read lazily; each
loader raises a LayoutError showing its expected layout when the folder does not match."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from jcat_core.eval.datasets.base import Dataset, FrameError, LayoutError, Problem, Sequence, SequenceError
from jcat_core.eval.datasets.davis import load_davis, load_youtube_vos
from jcat_core.eval.datasets.got10k import load_got10k, load_synthetic, write_synthetic
from jcat_core.eval.datasets.lasot import load_lasot
from jcat_core.eval.datasets.otb import load_otb
from jcat_core.eval.datasets.trackingnet import load_trackingnet
from jcat_core.eval.datasets.vot import load_vot

LOADERS: dict[str, Callable[..., Dataset]] = {
    "otb": load_otb,
    "vot": load_vot,
    "got10k": load_got10k,
    "lasot": load_lasot,
    "trackingnet": load_trackingnet,
    "davis": load_davis,
    "youtube-vos": load_youtube_vos,
    "synthetic": load_synthetic,
}

__all__ = ["LOADERS", "Dataset", "FrameError", "LayoutError", "Problem", "Sequence", "SequenceError",
           "load_dataset", "write_synthetic"]


def load_dataset(family: str, root: str | Path, **options: str) -> Dataset:
    """Load a benchmark by family (see LOADERS); ``options`` go to its loader (e.g. split="test")."""
    if family not in LOADERS:
        raise ValueError(f"unknown dataset {family!r}; choose one of: {', '.join(LOADERS)}")
    return LOADERS[family](Path(root).expanduser(), **options)
