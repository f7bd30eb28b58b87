"""Procedural tracking sequences with exact ground truth (box, rotated box, mask, visibility).

Coordinates are 0-based pixels: pixel (r, c) covers [c, c+1) x [r, r+1). Boxes are (x, y, w, h) with x, y the
top-left corner; rotated boxes are (cx, cy, w, h, angle) with the angle in degrees as OpenCV's minAreaRect and
boxPoints use it (clockwise on screen, since y points down).

A sequence is a textured target of some shape following a smooth path over a textured background, with optional
scaling, rotation, an exit from the frame and re-entry, occluding panels, a similar-looking distractor, camera shake
and illumination change. Everything is a function of the ``SequenceSpec`` (seed included) and the frame index, so
frames are rendered lazily and identically on every call. With a ``TextureBank`` (textures.py), the background and
the objects are cut from photographs instead of procedural noise and stripes. ``box`` is the target's full (amodal)
extent clipped to the image; ``mask`` holds exactly the pixels where the target is drawn in the image.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from jcat_core.data.textures import TextureBank

SHAPES = ("ellipse", "rectangle", "star", "triangle", "blob")
_CANVAS = 128  # side of the square canvas on which every object texture and silhouette is defined
_PALETTE = np.array(  # saturated target colours (RGB); backgrounds use muted greens, browns and greys
    [[220, 40, 40], [240, 140, 20], [40, 70, 220], [200, 40, 200], [235, 220, 30], [30, 200, 220]], np.float32
)


@dataclass(frozen=True)
class Occlusion:
    """A panel covering ``coverage`` (0-1] of the target's width, from frame ``start`` to ``end`` (exclusive)."""

    start: int
    end: int
    coverage: float = 1.0


@dataclass(frozen=True)
class SequenceSpec:
    """Everything that defines one synthetic sequence; equal specs render identical frames."""

    name: str
    num_frames: int = 60
    height: int = 240
    width: int = 320
    seed: int = 0
    shape: str = "ellipse"
    size: float = 0.2  # target's longer side, as a fraction of min(height, width)
    aspect: float = 0.7  # target's shorter side / longer side
    speed: float = 0.008  # mean motion per frame, as a fraction of min(height, width)
    scale_range: tuple[float, float] = (1.0, 1.0)  # the target's scale oscillates between these factors
    rotation_speed: float = 0.0  # degrees per frame
    exit_window: tuple[int, int] | None = None  # frames during which the target leaves the image and comes back
    occlusions: tuple[Occlusion, ...] = ()
    distractor: bool = False  # a second object with the target's colours and shape, kept apart from it
    shake: float = 0.0  # standard deviation of the per-frame camera jitter, pixels
    illumination: float = 0.0  # amplitude of the global gain change (0.4 = gain from 0.6 to 1.4)

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(f"shape must be one of {SHAPES}, got {self.shape!r}")
        if self.num_frames < 1 or self.height < 16 or self.width < 16:
            raise ValueError("a sequence needs at least one frame of at least 16x16 pixels")


@dataclass(frozen=True)
class Frame:
    """One rendered frame and its ground truth."""

    image: np.ndarray  # HxWx3 uint8 RGB
    box: tuple[float, float, float, float]  # amodal extent clipped to the image; zeros when outside the image
    rotated_box: tuple[float, float, float, float, float]  # amodal (cx, cy, w, h, angle), not clipped
    mask: np.ndarray  # HxW bool: the pixels showing the target
    visible_fraction: float  # shown target pixels / the target's full silhouette pixels

    @property
    def visible(self) -> bool:
        """True when at least one target pixel is shown."""
        return bool(self.mask.any())


@dataclass(frozen=True)
class _Pose:
    cx: float
    cy: float
    scale: float
    angle: float


@dataclass(frozen=True)
class _Sprite:
    """An object drawn from the canonical canvas: its texture, silhouette and canonical size."""

    texture: np.ndarray  # canvas x canvas x 3 float32
    silhouette: np.ndarray  # canvas x canvas uint8 (0/1)
    width: float  # extent of the shape on the canvas along x, pixels
    height: float


class SyntheticSequence(Sequence[Frame]):
    """A lazily rendered sequence: ``seq[i]`` renders frame i; ``len(seq)`` frames."""

    def __init__(self, spec: SequenceSpec, textures: TextureBank | None = None) -> None:
        self.spec = spec
        rng = np.random.default_rng(spec.seed)
        self._unit = float(min(spec.height, spec.width))
        self._margin = math.ceil(4 * spec.shake) + 1
        self._background = _background(rng, spec.height + 2 * self._margin, spec.width + 2 * self._margin)
        colours = _PALETTE[rng.permutation(len(_PALETTE))[:2]]
        self._target = _sprite(rng, spec.shape, spec.aspect, colours)
        # the distractor draws from its own stream, so switching it on leaves the rest of the scene unchanged
        distractor_rng = np.random.default_rng([spec.seed, 1])
        self._distractor = _sprite(distractor_rng, spec.shape, spec.aspect, colours) if spec.distractor else None
        if textures is not None:  # photographs replace the procedural textures; shapes and motion stay the same
            self._texture_from_photos(textures, np.random.default_rng([spec.seed, 2]))
        self._distractor_phase = distractor_rng.uniform(0, 2 * math.pi)
        self._panel = _panel_texture(rng)
        self._poses = self._target_poses(rng)
        self._shake = rng.normal(0.0, spec.shake, size=(spec.num_frames, 2)) if spec.shake > 0 else None

    def _texture_from_photos(self, textures: TextureBank, rng: np.random.Generator) -> None:
        """Background from one photo, target from another; the distractor is cut from the target's photo."""
        height, width = self._background.shape[:2]
        photo = int(rng.integers(len(textures)))
        self._background = textures.crop(rng, height, width, photo)
        target_photo = (photo + 1 + int(rng.integers(max(len(textures) - 1, 1)))) % len(textures)
        self._target = replace(self._target, texture=textures.crop(rng, _CANVAS, _CANVAS, target_photo).astype(
            np.float32))
        if self._distractor is not None:
            self._distractor = replace(self._distractor, texture=textures.crop(
                rng, _CANVAS, _CANVAS, target_photo).astype(np.float32))

    def __len__(self) -> int:
        return self.spec.num_frames

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"frame {index} outside a sequence of {len(self)} frames")
        return self._render(index)

    def __iter__(self) -> Iterator[Frame]:
        return (self._render(i) for i in range(len(self)))

    @property
    def name(self) -> str:
        return self.spec.name

    def _target_poses(self, rng: np.random.Generator) -> list[_Pose]:
        spec, unit = self.spec, self._unit
        n = spec.num_frames
        half = 0.5 * spec.size * unit * max(spec.scale_range) * 1.2
        lo = np.array([half, half]) + 2
        hi = np.array([spec.width - half, spec.height - half]) - 2
        hi = np.maximum(hi, lo)
        position = rng.uniform(lo, hi)
        heading = rng.uniform(0, 2 * math.pi)
        walk = np.zeros((n, 2))
        for t in range(n):  # a walk with a slowly turning heading that bounces off the image borders
            walk[t] = position
            heading += rng.normal(0.0, 0.15)
            position = position + spec.speed * unit * np.array([math.cos(heading), math.sin(heading)])
            if not lo[0] <= position[0] <= hi[0]:
                heading = math.pi - heading
            if not lo[1] <= position[1] <= hi[1]:
                heading = -heading
            position = np.clip(position, lo, hi)
        centres = walk if spec.exit_window is None else self._with_exit(walk, half)
        low, high = spec.scale_range
        phase = rng.uniform(0, 2 * math.pi)
        scales = low + (high - low) * 0.5 * (1 + np.sin(2 * math.pi * np.arange(n) / max(n, 2) * 1.5 + phase))
        angle0 = rng.uniform(-20, 20)
        return [_Pose(float(c[0]), float(c[1]), float(s), angle0 + spec.rotation_speed * t)
                for t, (c, s) in enumerate(zip(centres, scales, strict=True))]

    def _with_exit(self, walk: np.ndarray, half: float) -> np.ndarray:
        """Pause the walk during the exit window and drive the target straight out through the nearest border
        and back along the same line."""
        start, end = self.spec.exit_window  # type: ignore[misc]
        n = len(walk)
        start, end = min(max(0, start), n - 1), min(max(start, end), n - 1)
        anchor = walk[start]
        distances = [anchor[0], self.spec.width - anchor[0], anchor[1], self.spec.height - anchor[1]]
        side = int(np.argmin(distances))
        outside = anchor.copy()
        limit = (self.spec.width, self.spec.height)[side // 2]
        outside[side // 2] = -2.5 * half if side % 2 == 0 else limit + 2.5 * half
        middle = (start + end) / 2
        centres = np.empty_like(walk)
        for t in range(n):
            if t < start:
                centres[t] = walk[t]
            elif t <= end:
                weight = 1 - abs(t - middle) / max(middle - start, 1)
                centres[t] = (1 - weight) * anchor + weight * outside
            else:
                centres[t] = walk[t - (end - start)]
        return centres

    def _distractor_pose(self, index: int, target: _Pose) -> _Pose:
        """The distractor circles the target at 1.8 to 3 target sizes, so it enters the search region but never
        touches the target."""
        spec = self.spec
        size = spec.size * self._unit * target.scale
        radius = size * (2.4 + 0.6 * math.sin(0.11 * index + self._distractor_phase))
        angle = self._distractor_phase + 0.05 * index
        return _Pose(target.cx + radius * math.cos(angle), target.cy + radius * math.sin(angle),
                     0.9 * target.scale, -target.angle)

    def _render(self, index: int) -> Frame:
        spec = self.spec
        dx, dy = (0.0, 0.0) if self._shake is None else tuple(self._shake[index])
        ox = round(self._margin - dx)
        oy = round(self._margin - dy)
        shift_x, shift_y = self._margin - ox, self._margin - oy  # the integer camera shift applied to the scene
        image = self._background[oy:oy + spec.height, ox:ox + spec.width].copy()
        pose = self._poses[index]
        pose = _Pose(pose.cx + shift_x, pose.cy + shift_y, pose.scale, pose.angle)
        if self._distractor is not None:
            d_pose = self._distractor_pose(index, pose)
            _paste(image, None, *self._place(self._distractor, d_pose))
        mask = np.zeros((spec.height, spec.width), bool)
        patch, silhouette, x0, y0 = self._place(self._target, pose)
        full_pixels = int(silhouette.sum())
        _paste(image, mask, patch, silhouette, x0, y0)
        self._occlude(index, image, mask, silhouette, x0, y0)
        image = self._lighting(index, image)
        visible_fraction = float(mask.sum()) / full_pixels if full_pixels else 0.0
        return Frame(
            image=image,
            box=_clipped_box(silhouette, x0, y0, spec.width, spec.height),
            rotated_box=self._rotated_box(pose),
            mask=mask,
            visible_fraction=visible_fraction,
        )

    def _size(self, sprite: _Sprite, pose: _Pose) -> float:
        """Image pixels per canvas pixel for this sprite at this pose."""
        return self.spec.size * self._unit * pose.scale / max(sprite.width, sprite.height)

    def _place(self, sprite: _Sprite, pose: _Pose) -> tuple[np.ndarray, np.ndarray, int, int]:
        """Warp a sprite into a local patch around its pose: (texture, silhouette, patch x0, patch y0)."""
        zoom = self._size(sprite, pose)
        extent = math.ceil(_CANVAS * math.sqrt(2) * zoom) + 2
        x0 = math.floor(pose.cx - extent / 2)
        y0 = math.floor(pose.cy - extent / 2)
        rotation = cv2.getRotationMatrix2D((_CANVAS / 2, _CANVAS / 2), pose.angle, zoom)
        rotation[:, 2] += np.array([pose.cx - x0, pose.cy - y0]) - _CANVAS / 2
        # OpenCV maps pixel centres; shift by half a pixel each way so the continuous geometry is exact.
        rotation[:, 2] += rotation[:, :2] @ np.array([0.5, 0.5]) - 0.5
        texture = cv2.warpAffine(sprite.texture, rotation, (extent, extent), flags=cv2.INTER_LINEAR,
                                 borderMode=cv2.BORDER_REFLECT)
        silhouette = cv2.warpAffine(sprite.silhouette, rotation, (extent, extent), flags=cv2.INTER_NEAREST,
                                    borderValue=0).astype(bool)
        return texture, silhouette, x0, y0

    def _rotated_box(self, pose: _Pose) -> tuple[float, float, float, float, float]:
        zoom = self._size(self._target, pose)
        return (pose.cx, pose.cy, self._target.width * zoom, self._target.height * zoom, -pose.angle)

    def _occlude(self, index: int, image: np.ndarray, mask: np.ndarray, silhouette: np.ndarray,
                 x0: int, y0: int) -> None:
        """Draw occluding panels over the target's bounding box and remove the covered pixels from the mask."""
        rows, cols = np.nonzero(silhouette)
        if rows.size == 0:
            return
        for occlusion in self.spec.occlusions:
            if not occlusion.start <= index < occlusion.end:
                continue
            left, right = x0 + cols.min() - 3, x0 + cols.max() + 4
            top, bottom = y0 + rows.min() - 3, y0 + rows.max() + 4
            right = left + math.ceil((right - left) * occlusion.coverage)
            left, right = max(left, 0), min(right, image.shape[1])
            top, bottom = max(top, 0), min(bottom, image.shape[0])
            if left >= right or top >= bottom:
                continue
            tile = np.resize(self._panel, (bottom - top, right - left, 3))
            image[top:bottom, left:right] = tile
            mask[top:bottom, left:right] = False

    def _lighting(self, index: int, image: np.ndarray) -> np.ndarray:
        amplitude = self.spec.illumination
        if amplitude == 0:
            return image
        t = index / max(self.spec.num_frames - 1, 1)
        gain = 1.0 + amplitude * math.sin(2 * math.pi * t)
        ramp = np.linspace(-0.5, 0.5, image.shape[1], dtype=np.float32)[None, :, None]
        lit = image.astype(np.float32) * (gain + 0.5 * amplitude * math.cos(2 * math.pi * t) * ramp)
        return np.clip(lit, 0, 255).astype(np.uint8)


def _paste(image: np.ndarray, mask: np.ndarray | None, texture: np.ndarray, silhouette: np.ndarray,
           x0: int, y0: int) -> None:
    """Draw a warped sprite into the image (and its pixels into the mask), clipping at the borders."""
    height, width = image.shape[:2]
    ix0, iy0 = max(x0, 0), max(y0, 0)
    ix1, iy1 = min(x0 + silhouette.shape[1], width), min(y0 + silhouette.shape[0], height)
    if ix0 >= ix1 or iy0 >= iy1:
        return
    local = silhouette[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0]
    region = image[iy0:iy1, ix0:ix1]
    region[local] = np.clip(texture[iy0 - y0:iy1 - y0, ix0 - x0:ix1 - x0][local], 0, 255).astype(np.uint8)
    if mask is not None:
        mask[iy0:iy1, ix0:ix1] |= local


def _clipped_box(silhouette: np.ndarray, x0: int, y0: int, width: int, height: int
                 ) -> tuple[float, float, float, float]:
    rows, cols = np.nonzero(silhouette)
    if rows.size == 0:
        return (0.0, 0.0, 0.0, 0.0)
    left, right = max(x0 + cols.min(), 0), min(x0 + cols.max() + 1, width)
    top, bottom = max(y0 + rows.min(), 0), min(y0 + rows.max() + 1, height)
    if left >= right or top >= bottom:
        return (0.0, 0.0, 0.0, 0.0)
    return (float(left), float(top), float(right - left), float(bottom - top))


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """Band-limited noise in [0, 1]: random values on a coarse grid, upsampled with bicubic interpolation."""
    coarse = rng.random((cells, max(2, cells * width // max(height, 1)))).astype(np.float32)
    fine = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(fine, 0, 1)


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A muted natural-looking texture: two noise octaves blended between three greens, browns and greys."""
    base = np.array([[70, 95, 60], [115, 100, 80], [120, 125, 120], [60, 80, 90]], np.float32)
    chosen = base[rng.permutation(len(base))[:3]]
    low = _smooth_noise(rng, height, width, 4)[..., None]
    mid = _smooth_noise(rng, height, width, 16)[..., None]
    image = chosen[0] * (1 - low) + chosen[1] * low
    image = image * (1 - 0.4 * mid) + chosen[2] * 0.4 * mid
    image += rng.normal(0, 6, size=image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def _shape_polygon(rng: np.random.Generator, shape: str, aspect: float) -> np.ndarray:
    """The outline of a shape on the canvas (Nx2 points, x then y), its longer side along x."""
    centre, radius = _CANVAS / 2, _CANVAS * 0.45
    t = np.linspace(0, 2 * math.pi, 120, endpoint=False)
    if shape == "ellipse":
        points = np.stack([np.cos(t), aspect * np.sin(t)], 1)
    elif shape == "rectangle":
        points = np.array([[-1, -aspect], [1, -aspect], [1, aspect], [-1, aspect]], float)
    elif shape == "star":
        radii = np.where(np.arange(10) % 2 == 0, 1.0, 0.5)
        a = np.linspace(0, 2 * math.pi, 10, endpoint=False)
        points = np.stack([radii * np.cos(a), aspect * radii * np.sin(a)], 1)
    elif shape == "triangle":
        points = np.array([[-1, aspect], [1, aspect], [0.2, -aspect]], float)
    else:  # blob: a smooth random radius
        wobble = 1 + 0.25 * sum(rng.uniform(-1, 1) * np.sin(k * t + rng.uniform(0, 6)) for k in (2, 3, 5))
        points = np.stack([wobble * np.cos(t), aspect * wobble * np.sin(t)], 1)
        points /= np.abs(points[:, 0]).max()
    return centre + radius * points


def _sprite(rng: np.random.Generator, shape: str, aspect: float, colours: np.ndarray) -> _Sprite:
    """A textured object: stripes of two palette colours at a random angle plus fine noise."""
    silhouette = np.zeros((_CANVAS, _CANVAS), np.uint8)
    polygon = _shape_polygon(rng, shape, aspect)
    cv2.fillPoly(silhouette, [np.round(polygon * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    rows, cols = np.nonzero(silhouette)
    yy, xx = np.mgrid[0:_CANVAS, 0:_CANVAS].astype(np.float32)
    theta = rng.uniform(0, math.pi)
    period = rng.uniform(14, 26)
    stripes = (np.sin((xx * math.cos(theta) + yy * math.sin(theta)) * 2 * math.pi / period) > 0)[..., None]
    texture = np.where(stripes, colours[0], colours[1]).astype(np.float32)
    texture += rng.normal(0, 8, size=texture.shape).astype(np.float32)
    return _Sprite(texture=texture, silhouette=silhouette, width=float(cols.max() - cols.min() + 1),
                   height=float(rows.max() - rows.min() + 1))


def _panel_texture(rng: np.random.Generator) -> np.ndarray:
    """A grey, finely checked occluder texture, tiled over whatever area it covers."""
    yy, xx = np.mgrid[0:64, 0:64]
    checks = (((yy // 8) + (xx // 8)) % 2).astype(np.float32)[..., None]
    panel = 90 + 40 * checks + rng.normal(0, 5, size=(64, 64, 3))
    return np.clip(panel, 0, 255).astype(np.uint8)


def synthetic_suite(height: int = 240, width: int = 320, num_frames: int = 60, seed: int = 0
                    ) -> dict[str, SequenceSpec]:
    """The named test suite: one sequence per challenge, same resolution and length, deterministic by seed."""
    base = SequenceSpec(name="", num_frames=num_frames, height=height, width=width)
    n = num_frames
    variants = {
        "clean": dict(shape="ellipse"),
        "scale": dict(shape="rectangle", scale_range=(0.6, 1.4)),
        "rotation": dict(shape="star", rotation_speed=3.0, aspect=0.9),
        "occlusion": dict(shape="blob", occlusions=(Occlusion(n // 4, n // 4 + n // 6, 0.5),
                                                   Occlusion(n // 2, n // 2 + n // 6, 1.0))),
        "distractor": dict(shape="ellipse", distractor=True),
        "exit_reentry": dict(shape="triangle", exit_window=(n // 3, n // 3 + n // 4), aspect=0.8),
        "shake": dict(shape="rectangle", shake=3.0),
        "illumination": dict(shape="blob", illumination=0.4),
    }
    return {name: replace(base, name=name, seed=seed * 1000 + i, **kwargs)  # type: ignore[arg-type]
            for i, (name, kwargs) in enumerate(variants.items())}


def write_got10k(sequence: Sequence[Frame], folder: str | Path) -> Path:
    """Write a sequence in the GOT-10k layout: img/00000001.jpg, groundtruth.txt (x,y,w,h per line),
    absence.label (1 = target not visible), plus mask/00000001.png (0/255) and rotated_groundtruth.txt."""
    folder = Path(folder)
    (folder / "img").mkdir(parents=True, exist_ok=True)
    (folder / "mask").mkdir(exist_ok=True)
    boxes, rotated, absence = [], [], []
    for i, frame in enumerate(sequence, start=1):
        bgr = cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR)
        if not cv2.imwrite(str(folder / "img" / f"{i:08d}.jpg"), bgr, [cv2.IMWRITE_JPEG_QUALITY, 95]):
            raise OSError(f"could not write {folder / 'img' / f'{i:08d}.jpg'}")
        cv2.imwrite(str(folder / "mask" / f"{i:08d}.png"), frame.mask.astype(np.uint8) * 255)
        boxes.append(",".join(f"{v:.4f}" for v in frame.box))
        rotated.append(",".join(f"{v:.4f}" for v in frame.rotated_box))
        absence.append("0" if frame.visible else "1")
    (folder / "groundtruth.txt").write_text("\n".join(boxes) + "\n")
    (folder / "rotated_groundtruth.txt").write_text("\n".join(rotated) + "\n")
    (folder / "absence.label").write_text("\n".join(absence) + "\n")
    return folder


@dataclass(frozen=True)
class Got10kFrame:
    """One frame read back from a GOT-10k folder (image decoded on access)."""

    image: np.ndarray
    box: tuple[float, float, float, float] | None  # None where groundtruth.txt says NaN (unknown)
    mask: np.ndarray | None
    absent: bool


FRAME_SUFFIXES = (".jpg", ".jpeg", ".png")


def _frame_files(folder: Path) -> list[Path]:
    """A sequence's frame images in a folder (JPEG or PNG), in name order; none when the folder is not there."""
    return sorted(p for p in folder.glob("*") if p.suffix.lower() in FRAME_SUFFIXES) if folder.is_dir() else []


class Got10kSequence(Sequence[Got10kFrame]):
    """A GOT-10k sequence folder read lazily: boxes and labels at once, images and masks per access."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        truth = self.folder / "groundtruth.txt"
        if not truth.is_file():
            raise FileNotFoundError(f"no groundtruth.txt in {self.folder}")
        self.boxes = np.loadtxt(truth, delimiter=",", ndmin=2)
        self.images = _frame_files(self.folder / "img") or _frame_files(self.folder)  # as GOT-10k ships, or flat
        if len(self.images) != len(self.boxes):
            raise ValueError(f"{self.folder}: {len(self.images)} images but {len(self.boxes)} boxes")
        absence = self.folder / "absence.label"
        self.absent = (np.loadtxt(absence, ndmin=1).astype(bool) if absence.is_file()
                       else np.zeros(len(self.boxes), bool))
        rotated = self.folder / "rotated_groundtruth.txt"
        self.rotated_boxes = np.loadtxt(rotated, delimiter=",", ndmin=2) if rotated.is_file() else None

    def __len__(self) -> int:
        return len(self.boxes)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        path = self.images[index]
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise OSError(f"could not read {path}")
        mask_path = self.folder / "mask" / (path.stem + ".png")
        mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE) if mask_path.is_file() else None
        box = self.boxes[index]
        return Got10kFrame(image=cv2.cvtColor(image, cv2.COLOR_BGR2RGB),
                           box=tuple(float(v) for v in box) if np.isfinite(box).all() else None,  # NaN: unknown
                           mask=None if mask is None else mask > 127, absent=bool(self.absent[index]))
