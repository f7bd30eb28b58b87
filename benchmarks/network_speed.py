"""Per-call time of JcatNet.extract_features and JcatNet.segment at 384x384, by precision, ratios vs fp32.

CPU: fp32 and bf16 autocast (on CPUs without bf16 units bf16 is tens of times slower: ``--skip-cpu-bf16``
or ``--cpu-bf16-repeats 1`` keep the run short). CUDA (when available): fp32, fp16, bf16 and fp16 with
torch.compile. Random weights: speed does not depend on them. One batch-1 crop per call, distance map on,
empty memory bank. ``--precisions`` and ``--compiled`` choose other rows (``none`` for no compiled row), and
``--json FILE`` writes the rows for scripts (scripts/gpu_check.sh).

    python benchmarks/network_speed.py [--variant resnet50|resnet18] [--repeats 5] [--device auto|cpu|cuda]
    python benchmarks/network_speed.py --device cuda --precisions fp32 --compiled fp32,fp16,bf16 --json rows.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from jcat_core.models.jcat_net import JcatConfig, JcatNet
from jcat_core.models.precision import Precision, inference, resolve_device


@dataclass
class Row:
    """Median per-call milliseconds of one configuration."""

    name: str
    extract_ms: float
    segment_ms: float
    precision: str = "fp32"
    compiled: bool = False

    @property
    def total_ms(self) -> float:
        return self.extract_ms + self.segment_ms


def median_ms(fn: Callable[[], object], device: torch.device, warmup: int, repeats: int) -> float:
    """Median wall time of ``fn`` in ms, synchronising CUDA around each call."""
    times = []
    for i in range(warmup + repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def measure(net: JcatNet, device: torch.device, precision: Precision, crop: int, warmup: int, repeats: int,
            compiled: bool = False, name: str | None = None) -> Row:
    """Time extract_features and segment (test crop vs itself as reference) under one precision."""
    image = torch.randn(1, 3, crop, crop, device=device)
    mask = torch.zeros(1, 1, crop, crop, device=device)
    mask[..., crop // 3: 2 * crop // 3, crop // 3: 2 * crop // 3] = 1
    dist = torch.rand(1, 1, crop, crop, device=device) * crop
    extract, segment = net.extract_features, net.segment
    if compiled:
        extract, segment = torch.compile(extract), torch.compile(segment)
    with inference(device, precision):
        feats = extract(image)
        extract_ms = median_ms(lambda: extract(image), device, warmup, repeats)
        segment_ms = median_ms(lambda: segment(feats, feats, mask, dist), device, warmup, repeats)
    return Row(name or precision, extract_ms, segment_ms, precision, compiled)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.is_file() else []
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")),
                 platform.processor())
    return f"{model} ({torch.get_num_threads()} threads)"


def print_table(rows: list[Row], title: str) -> None:
    base = rows[0]  # the ratios are against the first row (fp32 unless --precisions says otherwise)
    print(f"\n{title}")
    print(f"| {'precision':<14} | {'extract_features ms':>19} | {'segment ms':>10} | {'total ms':>9} | {'fps':>7} "
          f"| {f'x {base.name} (extract)':>16} | {f'x {base.name} (segment)':>16} |")
    print(f"|{'-' * 16}|{'-' * 21}:|{'-' * 12}:|{'-' * 11}:|{'-' * 9}:|{'-' * 18}:|{'-' * 18}:|")
    for row in rows:
        print(f"| {row.name:<14} | {row.extract_ms:>19.1f} | {row.segment_ms:>10.1f} | {row.total_ms:>9.1f} "
              f"| {1e3 / row.total_ms:>7.1f} | {row.extract_ms / base.extract_ms:>16.2f} "
              f"| {row.segment_ms / base.segment_ms:>16.2f} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", choices=("resnet50", "resnet18"), default="resnet50")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available, else CPU), cpu or cuda")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per measurement (median reported)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls first")
    parser.add_argument("--crop-size", type=int, default=384)
    parser.add_argument("--skip-cpu-bf16", action="store_true", help="leave out CPU bf16 (very slow without AMX)")
    parser.add_argument("--cpu-bf16-repeats", type=int, default=1, help="timed calls for CPU bf16 (default 1)")
    parser.add_argument("--precisions", type=precision_list, default=None,
                        help="comma-separated rows without torch.compile, e.g. fp32,bf16 (default: fp32,bf16 on the "
                             "CPU, fp32,fp16,bf16 on CUDA); the first row is the base of the ratios")
    parser.add_argument("--compiled", type=precision_list, default=None,
                        help="comma-separated precisions to time under torch.compile too, or 'none' (default: fp16 "
                             "on CUDA, none on the CPU)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows to this JSON file")
    args = parser.parse_args(argv)

    device = resolve_device(args.device)
    torch.manual_seed(0)
    net = JcatNet(JcatConfig(backbone=args.variant, crop_size=args.crop_size)).eval().to(device)
    print(f"JcatNet {args.variant}, {args.crop_size}x{args.crop_size}, batch 1; torch {torch.__version__}; "
          f"{device.type}: {device_name(device)}")
    if device.type == "cpu":
        eager = ["fp32"] if args.skip_cpu_bf16 else ["fp32", "bf16"]
        compiled: list[Precision] = []
        title = "CPU (median ms per call; fps = 1000 / total)"
    else:
        eager, compiled = ["fp32", "fp16", "bf16"], ["fp16"]
        title = "CUDA (median ms per call; fps = 1000 / total)"
    eager = eager if args.precisions is None else args.precisions
    compiled = compiled if args.compiled is None else args.compiled
    if not eager and not compiled:
        parser.error("--precisions and --compiled leave no row to time")
    rows = []
    for precision in eager:
        slow_cpu_bf16 = device.type == "cpu" and precision == "bf16"  # a short run: see --cpu-bf16-repeats
        warmup = min(args.warmup, 1) if slow_cpu_bf16 else args.warmup
        repeats = args.cpu_bf16_repeats if slow_cpu_bf16 else args.repeats
        rows.append(measure(net, device, precision, args.crop_size, warmup, repeats))
    for precision in compiled:  # a few more untimed calls: the first ones compile
        rows.append(measure(net, device, precision, args.crop_size, max(args.warmup, 3), args.repeats, compiled=True,
                            name=f"{precision} compiled"))
    print_table(rows, title)
    if args.json is not None:
        args.json.write_text(json.dumps({
            "benchmark": "network_speed", "device": device_name(device), "device_type": device.type,
            "torch": torch.__version__, "variant": args.variant, "crop_size": args.crop_size,
            "repeats": args.repeats, "weights": "random init (speed does not depend on the values)",
            "rows": [{"name": row.name, "precision": row.precision, "compiled": row.compiled,
                      "extract_ms": row.extract_ms, "segment_ms": row.segment_ms, "total_ms": row.total_ms,
                      "fps": 1e3 / row.total_ms} for row in rows],
        }, indent=2) + "\n")


def precision_list(text: str) -> list[Precision]:
    """``fp32,fp16`` -> ["fp32", "fp16"]; ``none`` or empty -> []."""
    names = [] if text.strip().lower() in ("", "none") else [name.strip() for name in text.split(",")]
    unknown = [name for name in names if name not in ("fp32", "fp16", "bf16")]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown precision(s) {', '.join(unknown)}: choose from fp32, fp16, bf16")
    return names  # type: ignore[return-value]


if __name__ == "__main__":
    main()
