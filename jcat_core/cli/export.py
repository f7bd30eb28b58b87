"""``jcat-export``: write the JCAT network as two ONNX graphs (backbone, head) and check them with onnxruntime."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from jcat_core.models.backbone import RESNET_SPECS
from jcat_core.models.checkpoint import CheckpointError, default_weights_path, load_network
from jcat_core.models.export import DEFAULT_TOLERANCE, ExportResult, export_onnx
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
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                        help="fail (exit 1) when an output's max |onnxruntime - torch| exceeds this fraction of its "
                             f"max |torch| (default {DEFAULT_TOLERANCE:g})")
    args = parser.parse_args(argv)
    if args.crop_size is not None and (args.crop_size <= 0 or args.crop_size % 16):
        parser.error(f"--crop-size must be a positive multiple of 16, got {args.crop_size}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Console script ``jcat-export``; returns the exit status."""
    args = parse_args(argv)
    try:
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
    return report_differences(result, args.tolerance)


def report_differences(result: ExportResult, tolerance: float) -> int:
    """Print both differences of every output; 1 when one exceeds ``tolerance`` relative to its scale."""
    for name, diff in result.differences.items():
        print(f"  {name:>7}: max |onnxruntime - torch| {diff.max_abs:.3e}, relative {diff.relative:.1e}")
    failed = result.failures(tolerance)
    for name in failed:
        print(f"jcat-export: error: {name} differs by {result.differences[name].relative:.1e} of its scale, "
              f"over --tolerance {tolerance:g}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
