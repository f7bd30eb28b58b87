"""``jcat-train``: train JCAT from a YAML config (config/train/*.yaml); under torchrun, one process per device.

Examples::

    jcat-train --config config/train/jcat_published.yaml
    jcat-train --config config/train/demo_efficientnet_lite0.yaml --resume runs/train/demo_efficientnet_lite0
    jcat-train --config config/train/demo_efficientnet_lite0.yaml --show-samples 8   # PNG grid, no training
    torchrun --nproc_per_node 4 -m jcat_core.cli.train --config config/train/jcat_published.yaml  # 4 x 8 per step
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def _override(text: str) -> tuple[str, Any]:
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--set expects KEY=VALUE, got {text!r}")
    return key, yaml.safe_load(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jcat-train", description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, help="YAML training config (see config/train/)")
    parser.add_argument("--output-dir", help="run folder (default: the config's output_dir)")
    parser.add_argument("--resume", help="continue from a run folder or an epoch_NNNN checkpoint")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--set", dest="overrides", type=_override, action="append", default=[],
                        metavar="KEY=VALUE", help="override a top-level config key (YAML value), e.g. epochs=2")
    parser.add_argument("--show-samples", type=int, metavar="N",
                        help="write N training pairs as a PNG grid (crops, masks, distance maps) and exit")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    args = parser.parse_args(argv)

    from jcat_core.train.config import load_config

    overrides = dict(args.overrides)
    if args.output_dir:
        overrides["output_dir"] = args.output_dir
    try:
        config = load_config(args.config, overrides)
    except (OSError, ValueError) as exc:
        print(f"jcat-train: {exc}", file=sys.stderr)
        return 2
    if args.show_samples:
        from jcat_core.train.processing import PairDataset
        from jcat_core.train.samples import write_sample_grid
        from jcat_core.train.trainer import build_mix

        dataset = PairDataset(build_mix(config.train_sources), config.processing, config.seed)
        path = write_sample_grid(dataset, args.show_samples, Path(config.output_dir) / "samples.png")
        print(f"jcat-train: {args.show_samples} training pairs in {path}")
        return 0
    from jcat_core.train.trainer import Trainer

    result = Trainer(config, device=args.device, progress=not args.no_progress).run(resume=args.resume)
    print(f"jcat-train: {result.epochs_done} epochs, {result.steps} steps in {result.seconds:.0f} s; best validation "
          f"IoU {result.best_val_iou}; {result.skipped_frames} unreadable frames skipped; checkpoints in "
          f"{result.checkpoint_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
