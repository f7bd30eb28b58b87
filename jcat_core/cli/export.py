"""``jcat-export``: write the JCAT network as two ONNX graphs (backbone, head) and check them with onnxruntime."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from jcat_core.models.backbone import RESNET_SPECS
from jcat_core.models.checkpoint import CheckpointError, default_weights_path, load_network
from jcat_core.models.jcat_net import JcatConfig, build_jcat_net


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="jcat-export",
        description="Export JCAT as backbone.onnx + head.onnx (the head without memory bank) and compare "
                    "onnxruntime with PyTorch on CPU.",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--weights", help="JcatNet.pth.tar (authors' checkpoint) or *.safetensors (ours); "
                                          f"default {default_weights_path()}")
    source.add_argument("--random-init", action="store_true",
                        help="export freshly initialised weights (checks the export path without weight files)")
    parser.add_argument("--variant", choices=sorted(RESNET_SPECS), default="resnet50",
                        help="backbone with --random-init (default resnet50)")
    parser.add_argument("--out", default="onnx", help="output directory (default ./onnx)")
    parser.add_argument("--crop-size", type=int, default=None, help="input side, multiple of 16 (default: config, 384)")
    parser.add_argument("--opset", type=int, default=18, help="ONNX opset (default 18)")
    parser.add_argument("--no-verify", action="store_true", help="skip the onnxruntime comparison")
    parser.add_argument("--tolerance", type=float, default=1e-3,
                        help="fail (exit 1) when an output differs from PyTorch by more than this (default 1e-3)")
    args = parser.parse_args(argv)
    if args.crop_size is not None and (args.crop_size <= 0 or args.crop_size % 16):
        parser.error(f"--crop-size must be a positive multiple of 16, got {args.crop_size}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Console script ``jcat-export``; returns the exit status."""
    args = parse_args(argv)
    try:
        from jcat_core.models.export import export_onnx

        net = build_jcat_net(JcatConfig(backbone=args.variant)) if args.random_init else load_network(args.weights)
        result = export_onnx(net, args.out, crop_size=args.crop_size, opset=args.opset, verify=not args.no_verify)
    except CheckpointError as exc:
        print(f"jcat-export: error: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        print(f"jcat-export: error: {exc.name or exc} is missing; install the export extras: "
              "pip install 'jcat_ros[export]' (onnx, onnxscript, onnxruntime)", file=sys.stderr)
        return 2
    print(f"wrote {result.backbone_path} and {result.head_path}")
    for name, diff in result.max_abs_diff.items():
        print(f"  max |onnxruntime - torch| {name:>7}: {diff:.3e}")
    worst = max(result.max_abs_diff.values(), default=0.0)
    if worst > args.tolerance:
        print(f"jcat-export: error: difference {worst:.3e} exceeds --tolerance {args.tolerance:g}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
