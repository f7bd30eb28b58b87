"""The tracker as a TraX server, for the VOT toolkit (`vot test`, `vot evaluate`, `vot analysis`):
``python -m jcat_core.eval.trax_tracker --tracker jcat --region box|rotated|mask [--weights FILE]``.

JCAT and the stand-in run the authors' tracker for the region's stacks unless ``--profile`` says otherwise: their
VOT2016-2019 tracker (profile ``vot``) for boxes, their VOT2020 mask tracker (``vot2020``) for ``--region mask``.

The toolkit starts this command (see config/vot/trackers.ini), sends the first frame with the target region
(rectangle, polygon or mask) and then one frame at a time; each reply is the tracker's box (rectangle), rotated
box (4-point polygon) or mask, with its score as the "confidence" property. Frames arrive as file paths (or in
memory). Nothing else may write to stdout, which may carry the protocol: logs go to stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import cv2
import numpy as np
import trax

from jcat_core.eval.datasets.base import box_to_mask, mask_to_box, read_rgb
from jcat_core.eval.trackers import JCAT_NAMES, TrackerSpec, known_trackers, parse_params
from jcat_core.eval.vot import REGIONS, box_polygon
from jcat_core.tracker import AUTO, PROFILES


def region_to_target(region: object, shape: tuple[int, int], as_polygon: bool = False) -> dict:
    """A TraX region as initialize() keywords: mask= for masks; box=(x, y, w, h) for rectangles and for polygons
    (their bounds), or with ``as_polygon`` polygon= for both (a rectangle as its four corners), which is how the
    published VOT tracker receives its region."""
    if region.type == trax.Region.RECTANGLE:  # type: ignore[attr-defined]
        x, y, w, h = (float(v) for v in region.bounds())  # type: ignore[attr-defined]
        if as_polygon:
            return {"polygon": box_polygon(np.array([x, y, w, h]))}
        return {"box": (x, y, w, h)}
    if region.type == trax.Region.POLYGON:  # type: ignore[attr-defined]
        points = np.array([region.get(i) for i in range(region.size())], float)  # type: ignore[attr-defined]
        if as_polygon:
            return {"polygon": points}
        low, high = points.min(axis=0), points.max(axis=0)
        return {"box": (low[0], low[1], high[0] - low[0], high[1] - low[1])}
    if region.type == trax.Region.MASK:  # type: ignore[attr-defined]
        x, y = region.offset()  # type: ignore[attr-defined]
        part = region.array() > 0  # type: ignore[attr-defined]
        mask = np.zeros(shape, bool)
        part = part[:max(0, shape[0] - y), :max(0, shape[1] - x)]
        mask[y:y + part.shape[0], x:x + part.shape[1]] = part
        if not mask.any():
            raise ValueError("the initial mask is empty")
        return {"mask": mask}
    raise ValueError(f"unsupported TraX region {region}")


def output_region(output: object, region: str) -> object:
    """The tracker's output as the TraX region of the chosen mode."""
    if region == "mask":
        return trax.Mask.create(np.asarray(output.mask, np.uint8))  # type: ignore[attr-defined]
    if region == "rotated":
        cx, cy, w, h, angle = output.rotated_box  # type: ignore[attr-defined]
        corners = cv2.boxPoints(((cx, cy), (w, h), angle))
        return trax.Polygon.create([(float(x), float(y)) for x, y in corners])
    x, y, w, h = output.box  # type: ignore[attr-defined]
    return trax.Rectangle.create(float(x), float(y), float(w), float(h))


def _initial_reply(target: dict, region: str, shape: tuple[int, int]) -> object:
    """The reply to the initialisation: the given region in the mode's format (a box filled for mask mode)."""
    if region == "mask":
        if "polygon" in target:
            mask = np.zeros(shape, np.uint8)
            cv2.fillPoly(mask, [np.round(target["polygon"]).astype(np.int32)], 1)
        else:
            mask = target["mask"] if "mask" in target else box_to_mask(target["box"], shape)
        return trax.Mask.create(mask.astype(np.uint8))
    if "polygon" in target:
        return trax.Polygon.create([(float(x), float(y)) for x, y in target["polygon"]])
    box = target["box"] if "box" in target else tuple(mask_to_box(target["mask"]).tolist())
    return trax.Rectangle.create(*(float(v) for v in box))


def frame_image(images: dict) -> np.ndarray:
    """The colour frame of a TraX request as HxWx3 RGB."""
    image = images["color"]
    if hasattr(image, "path"):
        return read_rgb(image.path())
    return np.ascontiguousarray(image.array()[..., ::-1])  # memory images are BGR, as OpenCV's


def profile_for_region(region: str) -> str:
    """The authors' tracker for the stacks of a region mode: ``vot2020`` (VOT2020+, masks) for "mask", else
    ``vot`` (VOT2016-2019, polygons)."""
    return "vot2020" if region == "mask" else "vot"


def serve(spec: TrackerSpec, region: str) -> None:
    """Answer TraX requests until the client quits."""
    formats = [trax.Region.RECTANGLE, trax.Region.POLYGON] + ([trax.Region.MASK] if region == "mask" else [])
    tracker = spec.build()
    with trax.Server(formats, [trax.Image.PATH, trax.Image.MEMORY], tracker_name=f"jcat_ros {spec.name}",
                     tracker_family="jcat_ros") as server:
        while True:
            request = server.wait()
            if request.type == trax.TraxStatus.QUIT:
                break
            image = frame_image(request.image)
            if request.type == trax.TraxStatus.INITIALIZE:
                target = region_to_target(request.objects[0][0], image.shape[:2], spec.takes_polygons)
                tracker.initialize(image, **target)  # type: ignore[attr-defined]
                server.status([(_initial_reply(target, region, image.shape[:2]), {"confidence": 1.0})])
            else:
                output = tracker.track(image)  # type: ignore[attr-defined]
                server.status([(output_region(output, region), {"confidence": float(output.score)})])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jcat_core.eval.trax_tracker", description=__doc__.split("\n")[0])
    parser.add_argument("--tracker", default="jcat", choices=known_trackers())
    parser.add_argument("--region", default="box", choices=REGIONS, help="what to report (default box)")
    parser.add_argument("--weights", help="JcatNet weights for 'jcat' (default: build_tracker's default)")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto (default auto)")
    parser.add_argument("--profile", choices=(AUTO, *PROFILES),
                        help="tracker parameters (default: vot2020 with --region mask, else vot)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a TrackerParams override for jcat/standin (repeatable)")
    args = parser.parse_args(argv)
    params = parse_params(args.param) if args.tracker in JCAT_NAMES else ()
    profile = args.profile or profile_for_region(args.region)
    serve(TrackerSpec(args.tracker, args.weights, args.device, profile, params), args.region)
    return 0


if __name__ == "__main__":
    sys.exit(main())
