"""Photographs as textures for synthetic sequences, so a network trained on them sees natural image statistics.

A ``TextureBank`` holds every readable image under some folders (or given arrays), downscaled once; it hands out
random crops. Unreadable files are skipped and counted, never fatal, so a damaged cache folder still works.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
DEFAULT_TEXTURE_DIR = Path(os.environ.get("JCAT_TEXTURE_DIR") or Path.home() / ".cache" / "jcat" / "textures")


class TextureBank:
    """Photos (HxWx3 uint8 RGB, longer side at most ``max_side``) that random texture crops are cut from."""

    def __init__(self, images: Sequence[np.ndarray], names: Sequence[str] = (), skipped: Sequence[str] = ()) -> None:
        if not images:
            raise ValueError("a TextureBank needs at least one image")
        self.images = list(images)
        self.names = list(names) or [f"image{i}" for i in range(len(images))]
        self.skipped = list(skipped)  # files that could not be read

    @classmethod
    def from_folders(cls, folders: Iterable[str | os.PathLike[str]], max_side: int = 640) -> TextureBank:
        """Every image file below ``folders`` (recursively, sorted); unreadable ones are skipped and listed."""
        images, names, skipped = [], [], []
        for folder in folders:
            root = Path(folder).expanduser()
            if not root.is_dir():
                raise FileNotFoundError(f"texture folder not found: {root} (scripts/fetch_textures.sh fills "
                                        f"{DEFAULT_TEXTURE_DIR})")
            for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
                image = cv2.imread(str(path), cv2.IMREAD_COLOR)
                if image is None or min(image.shape[:2]) < 16:
                    skipped.append(str(path))
                    continue
                images.append(_shrink(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), max_side))
                names.append(str(path))
        if not images:
            raise ValueError(f"no readable images in {[str(f) for f in folders]} ({len(skipped)} unreadable)")
        return cls(images, names, skipped)

    def __len__(self) -> int:
        return len(self.images)

    def crop(self, rng: np.random.Generator, height: int, width: int, index: int | None = None) -> np.ndarray:
        """A random crop of one photo (``index`` or a random one), 0.3-1.0 of its side, resized to height x width."""
        image = self.images[int(rng.integers(len(self.images))) if index is None else index]
        h, w = image.shape[:2]
        aspect = width / height
        side = rng.uniform(0.3, 1.0) * min(h, w * 1 / aspect)
        ch, cw = max(int(side), 8), max(int(side * aspect), 8)
        ch, cw = min(ch, h), min(cw, w)
        y0, x0 = int(rng.integers(h - ch + 1)), int(rng.integers(w - cw + 1))
        patch = image[y0:y0 + ch, x0:x0 + cw]
        if rng.random() < 0.5:
            patch = patch[:, ::-1]
        return cv2.resize(np.ascontiguousarray(patch), (width, height), interpolation=cv2.INTER_AREA)


def _shrink(image: np.ndarray, max_side: int) -> np.ndarray:
    scale = max_side / max(image.shape[:2])
    if scale >= 1:
        return image
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def skimage_textures(max_side: int = 640) -> TextureBank:
    """The colour photos bundled with scikit-image (BSD-3-Clause), always available where it is installed."""
    from skimage import data

    names = ("astronaut", "chelsea", "coffee", "rocket", "coins", "camera", "retina", "hubble_deep_field",
             "immunohistochemistry", "motorcycle_left", "colorwheel", "logo", "page", "text")
    images, used = [], []
    for name in names:
        loader = getattr(data, name, None)
        if loader is None:
            continue
        try:
            image = loader()
        except Exception:  # some samples download on first use; offline they simply are not there
            continue
        if isinstance(image, tuple):
            image = image[0]
        image = np.asarray(image)
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        images.append(_shrink(np.ascontiguousarray(image[..., :3]).astype(np.uint8), max_side))
        used.append(f"skimage.data.{name}")
    return TextureBank(images, used)
